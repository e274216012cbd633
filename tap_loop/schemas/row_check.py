"""Row checking: rows against the announced schema, and widening it on drift.

:class:`SchemaGuard` checks every emitted row (``check``, the per-row hot path) and,
when a row does not fit, widens the schema just enough (``widen``) and says what
changed (``changes``). There is one reference fit check, :func:`fits`, and one fast
implementation of it: Python source generated per schema and compiled once
(:func:`_generated_checker`); tests compare the two on random schemas and rows.
Anything the generator does not inline (nodes nested deeper than ``_INLINE_DEPTH``,
rows that are not exactly ``dict``, values of unexpected types) goes to :func:`fits`.

A schema node without ``"type"`` accepts anything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from tap_loop.schemas.inference import (
    _DATE_TIME_FAST,
    _DATES,
    _FORMAT_CHECKS,
    _HEADS,
    _JSON_TO_PY,
    _MIN_SEC,
    _PY_TO_JSON,
    _ZONES,
    INT64,
    Folded,
    _holds_arrays,
    _is_any,
    _json_type_slow,
    _NoneType,
    _types_of,
    big_integer_schema,
    holds_digits,
    is_big_integer_field,
    is_date,
    is_date_time,
    json_type,
    merge_schemas,
    required_fields,
    value_schema,
)
from tap_loop.schemas.typed_rows import TypedRows, typed_rows

__all__ = ["SchemaGuard", "describe_changes", "fits"]

# ------------------------------------------------------------ generic fit and widen


def fits(node: Any, value: Any) -> bool:
    """Reference (uncompiled) check: does the value fit the schema node?"""
    if _is_any(node):
        return True
    names = _types_of(node) or []
    t = _PY_TO_JSON.get(type(value)) or _json_type_slow(value)
    if t is None or (t not in names and not (t == "integer" and "number" in names)):
        return False
    if t == "string":
        check = _FORMAT_CHECKS.get(node.get("format"))
        return check is None or check(value)
    if t == "object":
        required = required_fields(node)
        if required and not all(k in value for k in required):
            return False
        props = node.get("properties")
        return props is None or all(k in props and fits(props[k], v) for k, v in value.items())
    if t == "array":
        items = node.get("items")
        return items is None or all(fits(items, v) for v in value)
    return True


class _Widening:
    """Widens schema nodes just enough to accept values, within the bounds of
    :mod:`~tap_loop.schemas.inference`: a nested object (not the row) whose properties
    would pass ``max_keys`` becomes a free-form object, as does what lies deeper than
    ``MAX_DEPTH``; ``folded`` lists each such place. Recursion follows the schema, never
    deeper than the value's free-form places."""

    def __init__(self, max_keys: int | None) -> None:
        self.max_keys = max_keys
        self.folded: list[Folded] = []

    def node(self, node: Any, value: Any, depth: int, path: str) -> Any:
        """``node`` (``depth`` levels below the row) widened to accept ``value``
        (``node`` itself if it fits)."""
        if _is_any(node):
            return node
        names = _types_of(node) or []
        t = json_type(value)
        if t not in names and not (t == "integer" and "number" in names):
            new = value_schema(value, False, depth, self.max_keys, path, self.folded)
            return merge_schemas(node, new)
        if t == "string":
            check = _FORMAT_CHECKS.get(node.get("format"))
            if check is None or check(value):
                return node
            return {k: v for k, v in node.items() if k != "format"}
        if t == "object":
            props = node.get("properties")
            if props is None:
                return node
            new_props = self.props(props, value, depth + 1, path)
            if new_props is props:
                return node
            if self.max_keys is not None and len(new_props) > self.max_keys:
                self.folded.append(Folded(path, len(new_props)))
                return {k: v for k, v in node.items() if k != "properties"}
            return {**node, "properties": new_props}
        if t == "array":
            items = node.get("items")
            if items is None:
                return node
            new_items = items
            for element in value:
                new_items = self.node(new_items, element, depth + 1, f"{path}[]")
            if new_items is items:
                return node
            if _holds_arrays(new_items):  # an array of arrays: free-form
                return {k: v for k, v in node.items() if k != "items"}
            return {**node, "items": new_items}
        return node

    def props(self, props: Mapping[str, Any], obj: Mapping[str, Any], depth: int, path: str) -> Any:
        """``props`` (of an object ``depth - 1`` levels below the row) widened to accept
        the object ``obj`` (``props`` itself if it fits)."""
        new: dict[str, Any] | None = None
        for key, value in obj.items():
            sub = props.get(key)
            sub_path = f"{path}.{key}" if path else key
            if sub is None:
                widened = value_schema(value, True, depth, self.max_keys, sub_path, self.folded)
            else:
                widened = self.node(sub, value, depth, sub_path)
            if widened is not sub:
                if new is None:
                    new = dict(props)
                new[key] = widened
        return props if new is None else new


# -------------------------------------------------------------------- change report


def _fmt_types(node: Any) -> str:
    if _is_any(node):
        return "any"
    names = _types_of(node) or []
    text = "|".join(names)
    return f"{text} ({node['format']})" if "format" in node else text


def _changes(old: Any, new: Any, path: str, out: list[tuple[str, str, str]]) -> None:
    if old is new or old == new:
        return
    if _fmt_types(old) != _fmt_types(new):
        out.append(("changed", path, f"{_fmt_types(old)} -> {_fmt_types(new)}"))
    if _is_any(old) or _is_any(new):
        return
    old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
    for key, sub in new_props.items():
        sub_path = f"{path}.{key}" if path else key
        if key in old_props:
            _changes(old_props[key], sub, sub_path, out)
        else:
            out.append(("added", sub_path, _fmt_types(sub)))
    if "items" in old and "items" in new:
        _changes(old["items"], new["items"], f"{path}[]", out)


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Readable differences between a schema and its widened form, for a log line.

    Paths join property names with ``.`` and mark array items with ``[]``.
    """
    out: list[tuple[str, str, str]] = []
    _changes(old, new, "", out)
    return [
        f"new field {path!r}: {detail}" if kind == "added" else f"{path or '<row>'!r}: {detail}"
        for kind, path, detail in out
    ]


# ------------------------------------------------------------ generated fast check

#: Nesting depth (objects and arrays) that the generated checker inlines; deeper
#: nodes are checked by :func:`fits` (keeps the source small and far
#: from Python's limits on indentation and nested loops).
_INLINE_DEPTH = 6
_TYPE_NAMES: dict[type, str] = {
    _NoneType: "_NoneType",
    bool: "bool",
    int: "int",
    float: "float",
    Decimal: "_Decimal",
    str: "str",
    dict: "dict",
    list: "list",
    tuple: "tuple",
}
#: Order in which the generated code tests exact types (most common first).
_TYPE_TEST_ORDER = (str, _NoneType, int, float, bool, dict, list, Decimal, tuple)
_MISSING = object()


class _CheckSource:
    """Writes the source of a checker specialised to one object schema.

    The code gives the answers of :func:`fits`: values of an exact Python type that fits
    outright pass, ``str``/``dict``/``list``/``tuple`` with a format, properties or items
    are checked inline, and any other type (wrong types, subclasses, non-JSON values)
    goes to :func:`fits`.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "_NoneType": _NoneType,
            "_Decimal": Decimal,
            "fits": fits,
            "_MISSING": _MISSING,
            "_is_date_time": is_date_time,
            "_is_date": is_date,
            "_heads_get": _HEADS.get,
            "_dates_get": _DATES.get,
            "_MIN_SEC": _MIN_SEC,
            "_ZONES": _ZONES,
            "_date_time_fast": _DATE_TIME_FAST.fullmatch,
        }
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, value: Any, prefix: str) -> str:
        name = self.name(prefix)
        self.ns[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def obj(
        self,
        props: Mapping[str, Any],
        var: str,
        indent: int,
        depth: int,
        required: Any = (),
    ) -> None:
        """Code returning False unless the dict ``var`` fits the properties (and has the
        ``required`` keys)."""
        if not all(type(key) is str for key in props):
            raise TypeError("non-string property names")  # caller falls back
        for key in required or ():
            self.emit(indent, f"if {key!r} not in {var}:")
            self.emit(indent + 1, "return False")
        known = self.const(frozenset(props), "_KNOWN")
        size = len(props)
        if not props:
            self.emit(indent, f"if {var}:")
            self.emit(indent + 1, "return False")
            return
        values = {key: self.name("v") for key in props}
        # As many keys as properties: all of them there, or some key is unknown.
        self.emit(indent, f"if len({var}) == {size}:")
        self.emit(indent + 1, "try:")
        for key, value in values.items():
            self.emit(indent + 2, f"{value} = {var}[{key!r}]")
        self.emit(indent + 1, "except KeyError:")
        self.emit(indent + 2, "return False")
        # Fewer keys: they must all be known; a missing one fits.
        self.emit(indent, f"elif {var}.keys() <= {known}:")
        get = self.name("get")
        self.emit(indent + 1, f"{get} = {var}.get")
        for key, sub in props.items():
            if _is_any(sub):
                continue
            if "null" in (_types_of(sub) or ()):  # missing reads as None, which fits
                self.emit(indent + 1, f"{values[key]} = {get}({key!r})")
            else:
                self.emit(indent + 1, f"{values[key]} = {get}({key!r}, _MISSING)")
        self.emit(indent, "else:")
        self.emit(indent + 1, "return False")
        for key, sub in props.items():
            if _is_any(sub):
                continue
            value = values[key]
            if "null" in (_types_of(sub) or ()):
                self.value(sub, value, indent, depth)
            else:
                self.emit(indent, f"if {value} is not _MISSING:")
                self.value(sub, value, indent + 1, depth)

    def value(self, node: Any, var: str, indent: int, depth: int) -> None:
        """Code returning False unless ``var`` fits the (typed) node."""
        names = _types_of(node) or []
        fast: set[type] = set()
        for type_name in names:
            fast.update(_JSON_TO_PY.get(type_name, ()))
        fmt_check = None
        if "string" in names:
            fmt_check = _FORMAT_CHECKS.get(node.get("format"))
            if fmt_check is not None:
                fast.discard(str)
        props = None
        if "object" in names and required_fields(node):
            node_name = self.const(node, "_NODE")  # rare below the row: the reference check
            self.emit(indent, f"if not fits({node_name}, {var}):")
            self.emit(indent + 1, "return False")
            return
        if "object" in names and node.get("properties") is not None:
            fast.discard(dict)
            props = node["properties"]
        items = None
        if "array" in names and not _is_any(node.get("items")):
            fast.difference_update((list, tuple))
            items = node["items"]
        if depth >= _INLINE_DEPTH and (props is not None or items is not None):
            node_name = self.const(node, "_NODE")
            self.emit(indent, f"if not fits({node_name}, {var}):")
            self.emit(indent + 1, "return False")
            return
        node_name = self.const(node, "_NODE")
        fast_types = [t for t in _TYPE_TEST_ORDER if t in fast]
        if fmt_check is None and props is None and items is None:
            if fast_types == [_NoneType]:
                cond = f"{var} is not None"
            else:
                cond = " and ".join(f"t is not {_TYPE_NAMES[t]}" for t in fast_types)
                self.emit(indent, f"t = type({var})")
            self.emit(indent, f"if {cond} and not fits({node_name}, {var}):")
            self.emit(indent + 1, "return False")
            return
        self.emit(indent, f"t = type({var})")
        branches: list[tuple[str, Callable[[int], None]]] = []
        for t in _TYPE_TEST_ORDER:
            if t in fast:
                branches.append((f"t is {_TYPE_NAMES[t]}", lambda _i: None))
            elif t is str and fmt_check is not None:
                branches.append(("t is str", lambda i: self.fmt(fmt_check, var, i)))
            elif t is dict and props is not None:
                branches.append(("t is dict", lambda i: self.obj(props, var, i, depth + 1)))
            elif t is list and items is not None:
                branches.append(
                    ("t is list or t is tuple", lambda i: self.arr(items, var, i, depth + 1))
                )
        keyword = "if"
        for cond, body in branches:
            self.emit(indent, f"{keyword} {cond}:")
            before = len(self.lines)
            body(indent + 1)
            if len(self.lines) == before:
                self.emit(indent + 1, "pass")
            keyword = "elif"
        self.emit(indent, f"elif not fits({node_name}, {var}):")
        self.emit(indent + 1, "return False")

    def fmt(self, check: Callable[[str], bool], var: str, indent: int) -> None:
        """Code returning False unless the str ``var`` has the format (cache inlined)."""
        if check is is_date_time:  # ``...THH:MM:SSZ`` by the caches, others by a regex
            self.emit(
                indent,
                f"if not ((len({var}) == 20 and _heads_get({var}[:13]) is True"
                f" and {var}[13:19] in _MIN_SEC and {var}[19] in _ZONES)"
                f" or _date_time_fast({var}) is not None or _is_date_time({var})):",
            )
        elif check is is_date:
            self.emit(indent, f"if _dates_get({var}) is not True and not _is_date({var}):")
        else:
            name = self.const(check, "_format")
            self.emit(indent, f"if not {name}({var}):")
        self.emit(indent + 1, "return False")

    def arr(self, items: Any, var: str, indent: int, depth: int) -> None:
        """Code returning False unless every element of ``var`` fits the items node."""
        element = self.name("x")
        self.emit(indent, f"for {element} in {var}:")
        self.value(items, element, indent + 1, depth)


def _generated_checker(
    props: Mapping[str, Any], required: Any = ()
) -> Callable[[Mapping[str, Any]], bool]:
    """``check(row)`` specialised to the properties: generated Python source, exec'd once.

    Same answers as :func:`fits` on the object schema (tests compare both on random
    schemas and rows); a row that is not exactly a ``dict`` goes to :func:`fits`. If the
    schema holds something the generator does not handle, :func:`fits` is used instead.
    """
    root: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        root["required"] = required

    def general(row: Mapping[str, Any]) -> bool:
        return fits(root, row)

    source = _CheckSource()
    source.ns["_general"] = general
    try:
        source.emit(0, "def check(row):")
        source.emit(1, "if type(row) is not dict:")
        source.emit(2, "return _general(row)")
        source.obj(props, "row", 1, 0, required)
        source.emit(1, "return True")
        code = compile("\n".join(source.lines), "<SchemaGuard.check>", "exec")
    except (TypeError, ValueError, SyntaxError, RecursionError, MemoryError):
        return general
    exec(code, source.ns)  # our own source, built from the schema's structure
    check: Callable[[Mapping[str, Any]], bool] = source.ns["check"]
    check.source = "\n".join(source.lines)  # type: ignore[attr-defined]  # the generated code, for debugging
    return check


class SchemaGuard:
    """Checks rows against an announced schema and widens it on drift.

    ``check`` is the per-row fast path. A row fits when every key (at any depth) is
    a known property and every value's type is allowed, ``date-time``/``date``
    formats included; a missing key always fits; a value that is not JSON never
    fits. After ``widen(row)``, ``check(row)`` is True and every row the old schema
    accepted still fits. The guard keeps its own copy of the schema and returns
    copies: mutating them has no effect on it.
    """

    #: ``check(row) -> bool``: True when the row fits the current schema. The per-row
    #: hot path: a precompiled function, replaced when the schema widens (so look it up
    #: on the guard each time rather than keeping it).
    check: Callable[[Mapping[str, Any]], bool]
    #: Decodes JSON text into rows that fit the schema (:mod:`tap_loop.schemas.typed_rows`);
    #: None if msgspec's types cannot express the schema.
    typed: TypedRows | None

    def __init__(
        self,
        schema: Mapping[str, Any],
        max_object_keys: int | None = None,
        big_integers: str | None = None,
    ) -> None:
        """Guard rows against ``schema``: an object schema with ``properties``.

        Without ``properties`` every row fits and nothing is ever widened. Widening
        makes a nested object whose properties would pass ``max_object_keys`` (None: no
        bound) a free-form object (see :mod:`~tap_loop.schemas.inference`). With
        ``big_integers`` (the setting), :meth:`declare` finds the integer fields that
        meet an integer beyond 64 bits, and :meth:`redeclare` declares them so.
        """
        self._max_keys = max_object_keys
        self._big = big_integers
        self._set(copy.deepcopy(dict(schema)))

    def _set(self, schema: dict[str, Any]) -> None:
        self._schema = schema
        props = schema.get("properties")
        self._props: Mapping[str, Any] | None = props if isinstance(props, Mapping) else None
        props = self._props or {}
        #: Top-level fields whose integers go out as strings of digits.
        self._digits = [key for key, node in props.items() if holds_digits(node)]
        #: Top-level integer fields that re-declare on an integer beyond 64 bits.
        self._int64 = [
            key for key, node in props.items() if self._big and is_big_integer_field(node)
        ]
        #: Whether :meth:`declare` has anything to do.
        self.declares = bool(self._digits or self._int64)
        if self._props is None:
            self.check, self.typed = _accept_all, None
        else:
            required = required_fields(schema)
            self.check = _generated_checker(self._props, required)
            self.typed = typed_rows(self._props, required, self._int64, self._digits)

    @property
    def schema(self) -> dict[str, Any]:
        """A copy of the current schema."""
        return copy.deepcopy(self._schema)

    def _widened(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The schema widened for ``row``."""
        return self._widening(row)[0]

    def _widening(self, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Folded]]:
        """The schema widened for ``row``, and the places that became free-form."""
        props = self._props
        if props is None:
            return self._schema, []
        widening = _Widening(self._max_keys)
        new_props = widening.props(props, row, 1, "")
        if new_props is props:
            return self._schema, []
        return {**self._schema, "properties": new_props}, widening.folded

    def widen(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Widen the schema to fit the row, update the guard, and return the new schema.

        Raises:
            TypeError: the row holds a value that is not JSON (the guard is unchanged).
        """
        new = self._widened(row)
        if new is not self._schema:
            self._set(new)
        return self.schema

    def declare(self, row: dict[str, Any]) -> list[str]:
        """Make the row's values as the schema declares them: an integer in a string of
        digits field (``"format": "x-singer.decimal"``) becomes the string of its digits
        (in place). Returns the integer fields holding an integer beyond 64 bits (with
        ``big_integers`` set), which :meth:`redeclare` must declare first."""
        for name in self._digits:
            value = row.get(name)
            if type(value) is int:
                row[name] = str(value)
        low, high = INT64
        return [
            name
            for name in self._int64
            if type(value := row.get(name)) is int and not low <= value <= high
        ]

    def redeclare(self, names: list[str]) -> dict[str, Any]:
        """Declare these integer fields as ``big_integers`` says (a string of digits, or a
        number), update the guard, and return the new schema."""
        props = dict(self._props or {})
        for name in names:
            props[name] = big_integer_schema(props[name], self._big or "string")
        self._set({**self._schema, "properties": props})
        return self.schema

    def changes(self, row: Mapping[str, Any]) -> list[str]:
        """What ``widen(row)`` would change, as readable lines (empty if the row fits)."""
        if self.check(row):
            return []
        new, folded = self._widening(row)
        return [
            *(place.describe(self._max_keys) for place in folded),
            *describe_changes(self._schema, new),
        ]

    def unknown_fields(self, row: Mapping[str, Any]) -> list[str]:
        """Top-level keys of the row that the schema lacks, in row order.

        For a catalog pinned to selected fields: drop these instead of widening.
        """
        props = self._props
        if props is None:
            return []
        return [key for key in row if key not in props]


def _accept_all(row: Mapping[str, Any]) -> bool:
    return True
