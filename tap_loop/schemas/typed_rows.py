"""Typed rows: the JSON text of a chunk of rows decoded and checked in one C pass.

The reader hands over each chunk of the export as one JSON array (``[row, row, ...]``).
:class:`TypedRows` translates the announced schema into msgspec types (an object with
properties becomes a ``Struct`` that forbids unknown fields, ``integer`` an ``int``
that refuses ``true`` and ``1.0``, ``number`` an ``int`` or ``float`` as written, ...)
and decodes the chunk with them: parsing and checking every value's type happen in C,
and the Structs are cheaper to make, and to write out, than dicts. Strings with a
``date-time`` or ``date`` format are then gathered from the Structs, column by column,
and each distinct one is checked (msgspec's own datetime type accepts forms the tap
does not, such as a space for ``T``, and its pattern constraint costs microseconds a
value).

The answer is *sound*: rows only if every row fits the schema as
:func:`tap_loop.schemas.row_check.fits` defines it, every number as the other readers
have it (:mod:`tap_loop.results.numbers`). None may also mean "not sure" (text that
msgspec refuses, a number beyond a float's range, text that may hold a number of 16 or
more digits where the schema says ``number``): the caller then parses that chunk
into dicts and checks it row by row, which also finds where a wider schema must be
announced. A schema the translation cannot express (a type name JSON Schema does not
have, a property name that is not a string) gets no typed rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from functools import partial
from operator import attrgetter
from typing import Annotated, Any, Union

import msgspec

from tap_loop.results.numbers import exact_number, lossy_hint
from tap_loop.schemas.inference import (
    _DATE_TIME_FAST,
    INT64,
    _from_iterable,
    _is_any,
    _of_type,
    _types_of,
    is_date,
    is_date_time,
    is_decimal_text,
    required_fields,
)

__all__ = ["TypedRows", "to_builtins", "typed_rows"]

_SCALARS: dict[str, tuple[Any, ...]] = {
    "null": (None,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),  # each number as written: 3 stays an int, 3.0 a float
}
#: A probe checks the formatted strings at and below one place of the schema, given
#: the decoded values found there (a column: one per row, list element or object).
Probe = Callable[[list[Any]], bool]
_date_time_fast = _DATE_TIME_FAST.fullmatch


def _date_times(strings: set[str]) -> bool:
    """One regular expression a distinct string (a match surely exists), the exact check
    only if one does not match."""
    return all(map(_date_time_fast, strings)) or all(map(is_date_time, strings))


def _dates(strings: set[str]) -> bool:
    return all(map(is_date, strings))


def _decimal_texts(strings: set[str]) -> bool:
    return all(map(is_decimal_text, strings))


_FORMATS: dict[str, Callable[[set[str]], bool]] = {
    "date-time": _date_times,
    "date": _dates,
    "x-singer.decimal": _decimal_texts,
}


# The probes of one place of the schema (bound with functools.partial), given its values:
def _strings_probe(check: Callable[[set[str]], bool], values: list[Any]) -> bool:
    """The distinct strings among ``values`` pass ``check`` (a format)."""
    return check(set(_of_type(values, str)))


def _kind_probe(kind: type, probe: Probe, values: list[Any]) -> bool:
    """The values of type ``kind`` (the Structs of one object) pass ``probe``."""
    return probe(_of_type(values, kind))


def _items_probe(probe: Probe, values: list[Any]) -> bool:
    """The elements of the lists among ``values``, together, pass ``probe``."""
    return probe([*_from_iterable(_of_type(values, list))])


def _field_probe(get: Callable[[Any], Any], probe: Probe, objects: list[Any]) -> bool:
    """One field of every Struct, ``get(obj)``, passes ``probe``."""
    return probe(list(map(get, objects)))


class _Untranslatable(Exception):
    """The schema holds something msgspec's types cannot say exactly."""


class _Types:
    """msgspec types for schema nodes (one Struct per object with properties), and the
    probes that check their formatted strings."""

    def __init__(self) -> None:
        self.count = itertools.count()
        self.floats = False  # a node says "number": decoded as a float

    def node(self, node: Any) -> tuple[Any, Probe | None]:
        """The type of the values that fit ``node``, and a probe if it holds formats."""
        if _is_any(node):
            return Any, None
        names = _types_of(node) or []
        if not names:
            raise _Untranslatable("a node without any type")
        members: list[Any] = []
        probes: list[Probe] = []
        for name in dict.fromkeys(names):
            if name in _SCALARS:
                members.extend(_SCALARS[name])
                self.floats = self.floats or name == "number"
            elif name == "string":
                members.append(str)
                strings = _FORMATS.get(node.get("format"))
                if strings is not None:
                    probes.append(partial(_strings_probe, strings))
            elif name == "object":
                props = node.get("properties")
                if props is None:
                    if required_fields(node):
                        raise _Untranslatable("a free-form object with required keys")
                    members.append(dict)
                    continue
                struct, probe = self.struct(props, required_fields(node))
                members.append(struct)
                if probe is not None:
                    probes.append(partial(_kind_probe, struct, probe))
            elif name == "array":
                items = node.get("items")
                if _is_any(items):
                    members.append(list)
                    continue
                item_type, probe = self.node(items)
                members.append(list[item_type])  # type: ignore[valid-type]  # a type made at run time
                if probe is not None:
                    probes.append(partial(_items_probe, probe))
            else:
                raise _Untranslatable(f"type {name!r}")
        members = list(dict.fromkeys(members))  # "integer" and "number": one int
        kind = Union[tuple(members)] if len(members) > 1 else members[0]  # noqa: UP007
        return kind, _all(probes)

    def struct(
        self,
        props: Mapping[str, Any],
        required: Any = (),
        int64: Any = (),
        digits: Any = (),
    ) -> tuple[type[msgspec.Struct], Probe | None]:
        """A Struct for an object with these properties (only the ``required`` ones
        required, no other field), and a probe for the formats among them, given a list
        of such Structs. Fields in ``int64`` (integer fields) take only integers a bigint
        holds; fields in ``digits`` (strings of digits) take integers too."""
        if not all(key in props for key in required):
            raise _Untranslatable("a required key that is not a property")
        fields: list[Any] = []
        rename: dict[str, str] = {}
        probes: list[Probe] = []
        for index, (key, sub) in enumerate(props.items()):
            if type(key) is not str:
                raise _Untranslatable("a property name that is not a string")
            field = f"f{index}"
            rename[field] = key
            kind, probe = self.node(sub)
            if key in int64:
                kind = _INT64 if kind is int else Union[_INT64, None]  # noqa: UP007
            elif key in digits:
                kind = Union[kind, int]  # noqa: UP007
            if key in required:
                fields.append((field, kind))
            else:
                fields.append((field, Union[kind, msgspec.UnsetType], msgspec.UNSET))  # noqa: UP007
            if probe is not None:
                get = attrgetter(field)
                probes.append(partial(_field_probe, get, probe))
        struct = msgspec.defstruct(
            f"Object{next(self.count)}",
            fields,
            rename=rename,
            forbid_unknown_fields=True,
            kw_only=True,  # required fields anywhere, in the schema's order
            gc=False,
        )
        return struct, _all(probes)


_INT64 = Annotated[int, msgspec.Meta(ge=INT64[0], le=INT64[1])]


def _all(probes: list[Probe]) -> Probe | None:
    if not probes:
        return None
    if len(probes) == 1:
        return probes[0]
    return lambda values: all(probe(values) for probe in probes)


class TypedRows:
    """Rows of one schema, decoded from their JSON text straight into msgspec Structs.

    ``decode(text)`` gives the rows of a JSON array as Structs when every one fits the
    schema (types in C, formats by the probes), else None. A Struct lists the fields in
    the schema's order and leaves out those a row does not have; ``output.dumps`` writes
    it, ``to_builtins`` makes it a dict (for singer-sdk's general path). Values are
    exactly what the text says (integers of any size, numbers as int or float as
    written, strings, nested objects).
    """

    def __init__(
        self,
        props: Mapping[str, Any],
        required: Any = (),
        int64: Any = (),
        digits: Any = (),
    ) -> None:
        """Raises _Untranslatable (or TypeError...) when msgspec cannot say the schema.
        ``int64`` and ``digits``: see :meth:`SchemaGuard.declare
        <tap_loop.schemas.row_check.SchemaGuard.declare>`."""
        types = _Types()
        struct, self._probe = types.struct(props, required, int64, digits)
        self._digits = [f"f{index}" for index, key in enumerate(props) if key in digits]
        #: Floats in free-form places (``Any``) are exact through the hook; a "number"
        #: node's are msgspec's floats, so text that may hold a long one is not decoded.
        self._floats = types.floats
        self._decode = msgspec.json.Decoder(list[struct], float_hook=exact_number).decode  # type: ignore[valid-type]  # a Struct made at run time
        self.fields = {key: f"f{index}" for index, key in enumerate(props)}

    def decode(self, text: bytes | bytearray) -> list[Any] | None:
        """The rows of the JSON array ``text`` as Structs if all fit, else None (also when
        a "number" node may meet a number a float would change:
        :func:`~tap_loop.results.numbers.lossy_hint`)."""
        if self._floats and lossy_hint(text):
            return None
        try:
            rows = self._decode(text)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        probe = self._probe
        if probe is not None and not probe(rows):
            return None
        for name in self._digits:  # integers of a string-of-digits field: their digits
            for row in rows:
                value = getattr(row, name)
                if type(value) is int:
                    setattr(row, name, str(value))
        return rows

    def setter(self, values: Mapping[str, Any]) -> Callable[[list[Any]], bool] | None:
        """Sets these fields on each Struct of a list, if no Struct has any of them yet
        (else changes nothing and answers False); None if one is not in the schema."""
        try:
            names = [(self.fields[key], value) for key, value in values.items()]
        except KeyError:
            return None
        unset: Any = msgspec.UNSET if len(names) == 1 else (msgspec.UNSET,) * len(names)
        present: Callable[[Any], Any] | None = (
            attrgetter(*(name for name, _ in names)) if names else None
        )

        def set_all(rows: list[Any]) -> bool:
            if present is not None and [*map(present, rows)].count(unset) != len(rows):
                return False
            for row in rows:
                for name, value in names:
                    setattr(row, name, value)
            return True

        return set_all


def typed_rows(
    props: Mapping[str, Any], required: Any = (), int64: Any = (), digits: Any = ()
) -> TypedRows | None:
    """Typed rows for the object schema with these properties (and ``required`` keys,
    ``int64`` and ``digits`` fields); None when msgspec's types cannot express it exactly."""
    try:
        return TypedRows(props, required, int64, digits)
    except (_Untranslatable, TypeError, ValueError, RecursionError):
        return None


to_builtins = msgspec.to_builtins
