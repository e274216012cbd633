"""JSON Schema inference: a schema guessed from sample rows of a Loop export.

Loop does not document the fields of its raw analytics export, so discovery infers
a schema from a sample (and :mod:`tap_loop.schemas.row_check` checks every emitted row
against it, widening it with :func:`merge_schemas`). Rules (see docs/schema.md for
the user-facing version):

* Types observed in one place are united. ``integer`` + ``number`` gives ``number``;
  ``bool`` is never ``integer``; every other mix (``string`` included) gives a type
  list in the fixed order of ``TYPE_ORDER``, so a schema always accepts every value
  it was inferred from or widened with.
* Object properties (top level and nested) are always nullable; array items are
  nullable only when a null element was seen. A field only ever null is
  ``{"type": "null"}``; an array only ever empty has ``"items": {}`` (any).
* Strings that are all RFC 3339 date-times get ``"format": "date-time"``, all
  ``YYYY-MM-DD`` dates get ``"format": "date"``; any other mix drops the format.
* ``"type"`` is a plain string when it names one type and a list otherwise;
  properties keep their first-seen order; output is deterministic.
* Bounded schemas, values kept whole: objects and arrays nested more than
  ``MAX_DEPTH`` levels below the row get a free-form node (an object without
  ``properties``, an array with ``"items": {}``), whatever lies below, so schema work
  never recurses deeper than that; a nested object (not the row) with more distinct keys
  than ``max_object_keys`` is a free-form object too (see :meth:`SchemaInferrer.schema`).
  A free-form object accepts any object (targets store it as JSON).
* A top-level field of integers that holds one beyond 64 bits (outside what a bigint
  holds) is declared as the ``big_integers`` setting says (:func:`big_integer_schema`):
  a string of digits (``"format": "x-singer.decimal"``; its integers go out as strings)
  or a number. Only with that setting given (:meth:`SchemaInferrer.schema`).
* An array whose elements may be arrays (``[[1, 2], [3]]``) is a free-form array (no
  ``items``): targets store it as JSON (target-postgres ``jsonb``, not ``jsonb[]``).

A schema node without ``"type"`` (``{}``, or only ``anyOf``/``$ref``/... ) accepts
anything.
"""

from __future__ import annotations

import copy
import operator
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from itertools import chain, compress, repeat
from typing import Any, NamedTuple

__all__ = [
    "DIGITS",
    "INT64",
    "MAX_DEPTH",
    "TYPE_ORDER",
    "Folded",
    "SchemaInferrer",
    "allow_deep_values",
    "big_integer_schema",
    "infer_schema",
    "is_date",
    "is_date_time",
    "json_type",
    "merge_schemas",
    "value_schema",
]


#: Order of the names in a ``"type"`` list. ``string`` first: a consumer that only
#: reads the first non-null type then picks the one type every value can be cast to.
TYPE_ORDER: tuple[str, ...] = (
    "string",
    "object",
    "array",
    "number",
    "integer",
    "boolean",
    "null",
)
_RANK = {name: i for i, name in enumerate(TYPE_ORDER)}

#: Levels of objects and arrays below the row that get a schema of their own; deeper
#: ones are free-form (any value). 32 is far beyond any real report's shape (Loop's rows
#: nest 3 levels) and far from Python's recursion limit, which every schema walk
#: (copies, checks, typed rows, singer-sdk's) must stay under.
MAX_DEPTH = 32


#: What a 64-bit signed integer (a target's bigint) holds.
INT64 = (-(2**63), 2**63 - 1)
#: The format of a field whose integers go out as strings of their digits (singer-sdk's
#: decimal string: target-postgres makes it ``numeric``; target-duckdb ``VARCHAR``).
DIGITS = "x-singer.decimal"


def big_integer_schema(node: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """The schema of a top-level integer field ``node`` that holds integers beyond 64
    bits, declared as ``mode`` (the ``big_integers`` setting) says: ``"string"``, a
    string of digits (:data:`DIGITS`); ``"number"``, a number. ``null`` kept if it had it."""
    null = ["null"] if "null" in (_types_of(node) or ()) else []
    out = {k: v for k, v in node.items() if k not in ("type", "format")}
    if mode == "number":
        return {**out, "type": _type_value(["number", *null])}
    return {**out, "type": _type_value(["string", *null]), "format": DIGITS}


def big_integer_note(name: str, mode: str) -> str:
    """The one-time warning for a field declared by the ``big_integers`` setting."""
    how = (
        "as a number (target-postgres numeric, exact; target-duckdb DOUBLE, rounded)"
        if mode == "number"
        else f"as a string of their digits (format {DIGITS}; target-postgres numeric, "
        "target-duckdb VARCHAR, both exact; its integers go out as strings)"
    )
    return (
        f"Field {name!r} holds integers beyond 64 bits (more than a bigint holds): "
        f"declared {how}. The setting big_integers chooses how (string or number)."
    )


def is_big_integer_field(node: Any) -> bool:
    """Whether a top-level field's schema says integer (and maybe null), nothing else."""
    names = _types_of(node) if isinstance(node, Mapping) else None
    if not names:
        return False
    return set(names) <= {"integer", "null"} and "integer" in names


def holds_digits(node: Any) -> bool:
    """Whether a top-level field's schema is a string of digits (:data:`DIGITS`), whose
    integers go out as strings."""
    return (
        isinstance(node, Mapping)
        and node.get("format") == DIGITS
        and "string" in (_types_of(node) or ())
    )


#: Nesting the reader's parser (orjson) accepts in an export's text; the rows' values
#: may be this deep.
VALUE_DEPTH = 1024
#: Python's recursion limit while rows are read and written: msgspec's and the stdlib's
#: JSON coders, and singer-sdk's walks over a record (field selection), take a level of it
#: per level of a value, and Python's default (1000) is less than ``VALUE_DEPTH``.
RECURSION_LIMIT = 10 * VALUE_DEPTH


def allow_deep_values() -> None:
    """Raise Python's recursion limit to ``RECURSION_LIMIT`` (never lower it), so a
    value ``VALUE_DEPTH`` levels deep can be decoded, walked and written."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


class Folded(NamedTuple):
    """A place of the schema made free-form: its path (``a.b``, ``[]`` for array items)
    and why: ``keys`` distinct keys over ``max_object_keys``, or (``keys`` 0) nested
    deeper than ``MAX_DEPTH``."""

    path: str
    keys: int

    def describe(self, max_object_keys: int | None) -> str:
        """The fold in words, for a log line."""
        if self.keys:
            return (
                f"{self.path!r}: an object with {self.keys} distinct keys, more than "
                f"max_object_keys ({max_object_keys}): announced as a free-form object "
                "(stored as JSON), its values kept exactly"
            )
        return (
            f"{self.path!r}: nested deeper than {MAX_DEPTH} levels: announced as free-form "
            "(stored as JSON), its values kept exactly"
        )


# --------------------------------------------------------------------------- formats

_DATE_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_HEAD_RE = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt](?:[01][0-9]|2[0-3])"
)
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: ``:MM:SS`` and the zone designators of RFC 3339 (``Z`` or ``+HH:MM``), as sets: a
#: set lookup costs far less than a regex match in CPython.
_MIN_SEC = frozenset(f":{m:02d}:{sec:02d}" for m in range(60) for sec in range(60))
_ZONES = frozenset(
    ["Z", "z"] + [f"{sign}{h:02d}:{m:02d}" for sign in "+-" for h in range(24) for m in range(60)]
)
_DIGITS = "0123456789"
#: Bounded caches of checked prefixes: ``YYYY-MM-DDTHH`` heads and whole dates.
_CACHE_LIMIT = 8192
_HEADS: dict[str, bool] = {}
_DATES: dict[str, bool] = {}

#: Date-times that surely exist: every day but February 29 (those go the slow way).
#: A match implies ``is_date_time`` (tested); no match means: ask ``is_date_time``.
_DATE_TIME_FAST = re.compile(
    r"[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


def _day_exists(year: str, month: str, day: str) -> bool:
    """Whether the (regex-checked) day exists in that month and year."""
    d = int(day)
    if d <= 28:
        return True
    m = int(month)
    if d > _MONTH_DAYS[m]:
        return False
    if m != 2 or d != 29:
        return True
    y = int(year)
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _remember(cache: dict[str, bool], key: str, pattern: re.Pattern[str]) -> bool:
    m = pattern.fullmatch(key)
    ok = m is not None and _day_exists(*m.group(1, 2, 3))
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = ok
    return ok


def is_date_time(s: str) -> bool:
    """True for an RFC 3339 date-time: ``2026-11-01T12:00:00Z``, with fraction or offset.

    The offset is required (``Z`` or ``+HH:MM``): a naive timestamp has no known zone.
    Leap seconds (``:60``) are refused, as Python's datetime refuses them.
    """
    if len(s) < 20:
        return False
    head = s[:13]
    ok = _HEADS.get(head)
    if ok is None:
        ok = _remember(_HEADS, head, _HEAD_RE)
    if not ok or s[13:19] not in _MIN_SEC:
        return False
    tail = s[19:]
    if tail in _ZONES:
        return True
    if tail[0] != ".":
        return False
    zone = tail[1:].lstrip(_DIGITS)
    return zone in _ZONES and len(zone) < len(tail) - 1


def is_date(s: str) -> bool:
    """True for a full date ``YYYY-MM-DD`` that exists in the calendar."""
    ok = _DATES.get(s)
    if ok is None:
        if len(s) != 10 or s[4] != "-":
            return False
        ok = _remember(_DATES, s, _DATE_RE)
    return ok


_DECIMAL_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def is_decimal_text(s: str) -> bool:
    """True for a JSON number's text (``-12``, ``1.5e3``): a string of :data:`DIGITS`."""
    return _DECIMAL_TEXT.fullmatch(s) is not None


#: Formats that the guard enforces (inference produces the date ones).
_FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": is_date_time,
    "date": is_date,
    "x-singer.decimal": is_decimal_text,
}


def _string_format(s: str) -> str | None:
    if is_date_time(s):
        return "date-time"
    if is_date(s):
        return "date"
    return None


# ------------------------------------------------------------------------ JSON types

_NoneType = type(None)
_PY_TO_JSON: dict[type, str] = {
    _NoneType: "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    Decimal: "number",
    str: "string",
    dict: "object",
    list: "array",
    tuple: "array",
}
#: Exact Python types accepted for each JSON type (``bool`` is not ``int``).
_JSON_TO_PY: dict[str, tuple[type, ...]] = {
    "null": (_NoneType,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float, Decimal),
    "string": (str,),
    "object": (dict,),
    "array": (list, tuple),
}
_ALL_PY = frozenset(_PY_TO_JSON)


def json_type(value: Any) -> str:
    """The JSON type name of a parsed value (``bool`` is ``boolean``, ``Decimal`` is ``number``).

    Raises:
        TypeError: the value is not one a JSON parser produces.
    """
    name = _PY_TO_JSON.get(type(value)) or _json_type_slow(value)
    if name is None:
        raise TypeError(f"not a JSON value: {type(value).__name__}")
    return name


def _json_type_slow(value: Any) -> str | None:
    """JSON type of an instance of a subclass of a JSON type; None for anything else."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return None


def _sorted_types(names: Iterable[str]) -> list[str]:
    """Canonical type list: ``integer`` folded into ``number``, in ``TYPE_ORDER``."""
    found = set(names)
    if "number" in found:
        found.discard("integer")
    return sorted(found, key=_RANK.__getitem__)


def _type_value(names: list[str]) -> str | list[str]:
    return names[0] if len(names) == 1 else names


def _types_of(node: Mapping[str, Any]) -> list[str] | None:
    """The node's type names, or None when it has no ``type`` (accepts anything)."""
    t = node.get("type")
    if t is None:
        return None
    return [t] if isinstance(t, str) else list(t)


def required_fields(node: Mapping[str, Any]) -> tuple[str, ...]:
    """The names an object node requires (``required``; ignored unless a list of names)."""
    names = node.get("required")
    if type(names) is not list or not all(type(name) is str for name in names):
        return ()
    return tuple(names)


def _is_any(node: Any) -> bool:
    return not isinstance(node, Mapping) or "type" not in node


# ------------------------------------------------------------------------- inference


_COLUMN_TYPES = frozenset((_NoneType, bool, int, float, str, dict, list))
_from_iterable = chain.from_iterable
_dict_get = dict.get


def _of_type(values: list[Any], kind: type, kinds: set[type] | None = None) -> list[Any]:
    """The values of exact type ``kind`` (C loops); all of them when ``kinds``, the
    values' types, is that one type."""
    if kinds is not None and len(kinds) == 1:
        return values
    return list(compress(values, map(operator.is_, map(type, values), repeat(kind))))


class _Acc:
    """What was observed at one place of the rows (a property, or array items)."""

    __slots__ = ("big", "depth", "fmt", "items", "props", "types")

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth  # levels of objects and arrays above (0: the row)
        self.big = False  # a row's field (depth 1) held an integer beyond 64 bits
        self.types: set[str] = set()
        self.fmt: str | bool | None = True  # True: no string seen yet; None: no format
        self.props: dict[str, _Acc] | None = None
        self.items: _Acc | None = None

    def add(self, value: Any) -> None:
        name = _PY_TO_JSON.get(type(value)) or json_type(value)
        self.types.add(name)
        if name == "integer" and self.depth == 1 and not INT64[0] <= value <= INT64[1]:
            self.big = True
        if name == "string":
            fmt = self.fmt
            if fmt is not None:
                seen = _string_format(value)
                self.fmt = seen if (fmt is True or fmt == seen) else None
        elif self.depth >= MAX_DEPTH:
            pass  # free-form below: values are not looked into
        elif name == "object":
            self.add_object(value)
        elif name == "array" and value:
            items = self.items
            if items is None:
                items = self.items = _Acc(self.depth + 1)
            for element in value:
                items.add(element)

    def add_many(self, values: list[Any]) -> None:
        """``add`` each value in turn, with the same result, a column at a time: C loops
        over the values, Python work per distinct string and per place in the schema."""
        kinds = set(map(type, values))
        if not kinds <= _COLUMN_TYPES:  # subclasses, Decimal, tuples, non-JSON: one by one
            for value in values:
                self.add(value)
            return
        self.types.update(_PY_TO_JSON[kind] for kind in kinds)
        if int in kinds and self.depth == 1 and not self.big:
            ints = _of_type(values, int, kinds)
            self.big = max(ints) > INT64[1] or min(ints) < INT64[0]
        if str in kinds and self.fmt is not None:
            formats = set(map(_string_format, set(_of_type(values, str, kinds))))
            fmt = self.fmt
            if len(formats) == 1:
                (seen,) = formats
                self.fmt = seen if (fmt is True or fmt == seen) else None
            else:
                self.fmt = None
        if self.depth >= MAX_DEPTH:
            return  # free-form below: values are not looked into
        if dict in kinds:
            self.add_objects(_of_type(values, dict, kinds))
        if list in kinds:
            elements = [*_from_iterable(_of_type(values, list, kinds))]
            if elements:
                if self.items is None:
                    self.items = _Acc(self.depth + 1)
                self.items.add_many(elements)

    def add_objects(self, objects: list[dict[str, Any]]) -> None:
        """``add_object`` each in turn (same result): property by property."""
        props = self.props
        if props is None:
            props = self.props = {}
        count = len(objects)
        for key in dict.fromkeys(_from_iterable(objects)):  # first-seen order
            acc = props.get(key)
            if acc is None:
                acc = props[key] = _Acc(self.depth + 1)
            # A missing key reads as None: the same schema, since properties are nullable.
            acc.add_many(list(map(_dict_get, objects, repeat(key, count))))

    def add_object(self, obj: Mapping[str, Any]) -> None:
        props = self.props
        if props is None:
            props = self.props = {}
        for key, value in obj.items():
            acc = props.get(key)
            if acc is None:
                acc = props[key] = _Acc(self.depth + 1)
            acc.add(value)

    def to_schema(
        self,
        nullable: bool,
        max_keys: int | None = None,
        path: str = "",
        folded: list[Folded] | None = None,
    ) -> dict[str, Any]:
        """The schema of what was seen here; nested objects with more than ``max_keys``
        distinct keys, and places deeper than ``MAX_DEPTH``, are free-form (each such
        place added to ``folded``)."""
        names = set(self.types)
        if nullable:
            names.add("null")
        if not names:
            return {}
        schema: dict[str, Any] = {"type": _type_value(_sorted_types(names))}
        if "string" in names and isinstance(self.fmt, str):
            schema["format"] = self.fmt
        deep = self.depth >= MAX_DEPTH
        if deep and ("object" in names or "array" in names) and folded is not None:
            folded.append(Folded(path, 0))
        if "object" in names and not deep:
            props = self.props or {}
            if max_keys is not None and len(props) > max_keys:
                if folded is not None:
                    folded.append(Folded(path, len(props)))
            else:
                schema["properties"] = _props_schema(props, max_keys, path, folded)
        if "array" in names:
            items = self.items
            if items is None:
                schema["items"] = {}
            elif "array" not in items.types:
                schema["items"] = items.to_schema(False, max_keys, f"{path}[]", folded)
            # else an array of arrays: free-form (no items), stored as JSON (jsonb): a
            # target-postgres array of arrays column (jsonb[]) refuses [[1, 2], [3]]
        return schema


def _props_schema(
    props: Mapping[str, _Acc],
    max_keys: int | None = None,
    path: str = "",
    folded: list[Folded] | None = None,
) -> dict[str, Any]:
    return {
        key: acc.to_schema(True, max_keys, f"{path}.{key}" if path else key, folded)
        for key, acc in props.items()
    }


class SchemaInferrer:
    """Incremental schema inference: ``add`` rows one by one, then ask for ``schema()``."""

    def __init__(self) -> None:
        self._root = _Acc()
        self._root.props = {}
        self.rows = 0
        self.folded: list[Folded] = []
        #: The fields :meth:`schema` declared by ``big_integers``.
        self.big_fields: list[str] = []

    def add(self, row: Mapping[str, Any]) -> None:
        """Take one row (a JSON object) into account."""
        if not isinstance(row, Mapping):
            raise TypeError(f"a row must be a JSON object, not {type(row).__name__}")
        self._root.add_object(row)
        self.rows += 1

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        """``add`` each row in turn (the same schema), a column at a time."""
        if not all(type(row) is dict for row in rows):
            for row in rows:
                self.add(row)
            return
        self._root.add_objects(rows)
        self.rows += len(rows)

    def schema(
        self, max_object_keys: int | None = None, big_integers: str | None = None
    ) -> dict[str, Any]:
        """The schema of the rows added so far (a new dict each call).

        A nested object (not the row) with more than ``max_object_keys`` distinct keys
        over all rows is a free-form object; ``folded`` then lists it (and any place
        deeper than ``MAX_DEPTH``). With ``big_integers`` (the setting), a field of
        integers that held one beyond 64 bits is declared so (:func:`big_integer_schema`);
        ``big_fields`` lists them."""
        self.folded = []
        self.big_fields = []
        accs = self._root.props or {}
        props = _props_schema(accs, max_object_keys, "", self.folded)
        if big_integers is not None:
            for key, acc in accs.items():
                if acc.big and is_big_integer_field(props[key]):
                    props[key] = big_integer_schema(props[key], big_integers)
                    self.big_fields.append(key)
        return {"type": "object", "properties": props}


def infer_schema(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Infer ``{"type": "object", "properties": {...}}`` from rows (see the module doc)."""
    inferrer = SchemaInferrer()
    for row in rows:
        inferrer.add(row)
    return inferrer.schema()


def value_schema(
    value: Any,
    nullable: bool,
    depth: int = 1,
    max_keys: int | None = None,
    path: str = "",
    folded: list[Folded] | None = None,
) -> dict[str, Any]:
    """The schema of one value found ``depth`` levels below the row (1: a row's field),
    with the bounds of :meth:`_Acc.to_schema`."""
    acc = _Acc(depth)
    acc.add(value)
    return acc.to_schema(nullable, max_keys, path, folded)


# ----------------------------------------------------------------------------- merge


def merge_schemas(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """The widening union of two schemas: it accepts every value either accepts.

    Types unite (``integer`` folds into ``number``), properties and items merge
    recursively (properties in ``a``'s order, then ``b``'s new ones), a string format
    survives only if both sides agree, ``required`` keeps the names both require. A
    node without ``type`` accepts anything, so the union with it is that node. Other
    keywords (``description``, ``enum``...) are copied from ``a``, else ``b``, unmerged.
    """
    if _is_any(a):
        return copy.deepcopy(dict(a)) if isinstance(a, Mapping) else {}
    if _is_any(b):
        return copy.deepcopy(dict(b)) if isinstance(b, Mapping) else {}
    ta, tb = _types_of(a) or [], _types_of(b) or []
    names = _sorted_types([*ta, *tb])
    out: dict[str, Any] = {}
    for key, value in [*a.items(), *((k, v) for k, v in b.items() if k not in a)]:
        if key not in ("type", "format", "properties", "items", "required"):
            out[key] = copy.deepcopy(value)
    required = [k for k in a.get("required") or () if k in (b.get("required") or ())]
    if required:
        out["required"] = required
    out["type"] = _type_value(names)
    if "string" in names:
        fa = a.get("format") if "string" in ta else None
        fb = b.get("format") if "string" in tb else None
        fmt = (fa if fa == fb else None) if "string" in ta and "string" in tb else fa or fb
        if fmt is not None:
            out["format"] = fmt
    if "object" in names:
        pa = a.get("properties") if "object" in ta else None
        pb = b.get("properties") if "object" in tb else None
        both = "object" in ta and "object" in tb
        if both and (pa is None or pb is None):
            pass  # one side is a free-form object: so is the union
        elif pa is not None and pb is not None:
            props = {
                k: merge_schemas(v, pb[k]) if k in pb else copy.deepcopy(v) for k, v in pa.items()
            }
            props.update((k, copy.deepcopy(v)) for k, v in pb.items() if k not in pa)
            out["properties"] = props
        elif pa is not None or pb is not None:
            out["properties"] = copy.deepcopy(pa if pa is not None else pb)
    if "array" in names:
        ia = a.get("items", _FREE) if "array" in ta else None
        ib = b.get("items", _FREE) if "array" in tb else None
        if ia is _FREE or ib is _FREE:
            pass  # one side is a free-form array (no items): so is the union
        elif ia is not None and ib is not None:
            out["items"] = merge_schemas(ia, ib)
        else:
            out["items"] = copy.deepcopy(ia if ia is not None else ib)
        if "items" in out and _holds_arrays(out["items"]):
            del out["items"]  # an array of arrays: free-form
    return out


#: An array node's absent ``items`` (a free-form array).
_FREE: Any = object()


def _holds_arrays(items: Any) -> bool:
    """Whether an array's ``items`` node admits arrays by its type (an array of arrays)."""
    return isinstance(items, Mapping) and "array" in (_types_of(items) or ())
