"""JSON Schema inference for Loop export rows, and a cheap per-row drift guard.

Loop does not document the fields of its raw analytics export, so the tap infers a
schema from the rows and then checks every emitted row against it. Rules (see
docs/schema.md for the user-facing version):

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

A schema node without ``"type"`` (``{}``, or only ``anyOf``/``$ref``/... ) accepts
anything as far as :class:`SchemaGuard` is concerned.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "TYPE_ORDER",
    "SchemaGuard",
    "SchemaInferrer",
    "describe_changes",
    "infer_schema",
    "is_date",
    "is_date_time",
    "json_type",
    "merge_schemas",
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


#: Formats that the guard enforces and inference produces.
_FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": is_date_time,
    "date": is_date,
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


def _is_any(node: Any) -> bool:
    return not isinstance(node, Mapping) or "type" not in node


# ------------------------------------------------------------------------- inference


class _Acc:
    """What was observed at one place of the rows (a property, or array items)."""

    __slots__ = ("fmt", "items", "props", "types")

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.fmt: str | bool | None = True  # True: no string seen yet; None: no format
        self.props: dict[str, _Acc] | None = None
        self.items: _Acc | None = None

    def add(self, value: Any) -> None:
        name = _PY_TO_JSON.get(type(value)) or json_type(value)
        self.types.add(name)
        if name == "string":
            fmt = self.fmt
            if fmt is not None:
                seen = _string_format(value)
                self.fmt = seen if (fmt is True or fmt == seen) else None
        elif name == "object":
            self.add_object(value)
        elif name == "array":
            items = self.items
            if items is None and value:
                items = self.items = _Acc()
            for element in value:
                items.add(element)  # type: ignore[union-attr]

    def add_object(self, obj: Mapping[str, Any]) -> None:
        props = self.props
        if props is None:
            props = self.props = {}
        for key, value in obj.items():
            acc = props.get(key)
            if acc is None:
                acc = props[key] = _Acc()
            acc.add(value)

    def to_schema(self, nullable: bool) -> dict[str, Any]:
        names = set(self.types)
        if nullable:
            names.add("null")
        if not names:
            return {}
        schema: dict[str, Any] = {"type": _type_value(_sorted_types(names))}
        if "string" in names and isinstance(self.fmt, str):
            schema["format"] = self.fmt
        if "object" in names:
            schema["properties"] = _props_schema(self.props or {})
        if "array" in names:
            schema["items"] = {} if self.items is None else self.items.to_schema(False)
        return schema


def _props_schema(props: Mapping[str, _Acc]) -> dict[str, Any]:
    return {key: acc.to_schema(True) for key, acc in props.items()}


class SchemaInferrer:
    """Incremental schema inference: ``add`` rows one by one, then ask for ``schema()``."""

    def __init__(self) -> None:
        self._root = _Acc()
        self._root.props = {}
        self.rows = 0

    def add(self, row: Mapping[str, Any]) -> None:
        """Take one row (a JSON object) into account."""
        if not isinstance(row, Mapping):
            raise TypeError(f"a row must be a JSON object, not {type(row).__name__}")
        self._root.add_object(row)
        self.rows += 1

    def schema(self) -> dict[str, Any]:
        """The schema of the rows added so far (a new dict each call)."""
        return {"type": "object", "properties": _props_schema(self._root.props or {})}


def infer_schema(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Infer ``{"type": "object", "properties": {...}}`` from rows (see the module doc)."""
    inferrer = SchemaInferrer()
    for row in rows:
        inferrer.add(row)
    return inferrer.schema()


def _value_schema(value: Any, nullable: bool) -> dict[str, Any]:
    acc = _Acc()
    acc.add(value)
    return acc.to_schema(nullable)


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
        ia = a.get("items", {}) if "array" in ta else None
        ib = b.get("items", {}) if "array" in tb else None
        if ia is not None and ib is not None:
            out["items"] = merge_schemas(ia, ib)
        else:
            out["items"] = copy.deepcopy(ia if ia is not None else ib)
    return out


# ------------------------------------------------------------ generic fit and widen


def _fits(node: Any, value: Any) -> bool:
    """Reference (uncompiled) check: does the value fit the schema node?"""
    if _is_any(node):
        return True
    names = _types_of(node) or []
    t = _PY_TO_JSON.get(type(value)) or _json_type_slow(value)
    if t is None or (t not in names and not (t == "integer" and "number" in names)):
        return False
    if t == "string":
        check = _FORMAT_CHECKS.get(node.get("format"))  # type: ignore[arg-type]
        return check is None or check(value)
    if t == "object":
        props = node.get("properties")
        return props is None or all(k in props and _fits(props[k], v) for k, v in value.items())
    if t == "array":
        items = node.get("items")
        return items is None or all(_fits(items, v) for v in value)
    return True


def _widen(node: Any, value: Any) -> Any:
    """The node widened just enough to accept the value (``node`` itself if it fits)."""
    if _is_any(node):
        return node
    names = _types_of(node) or []
    t = json_type(value)
    if t not in names and not (t == "integer" and "number" in names):
        return merge_schemas(node, _value_schema(value, False))
    if t == "string":
        check = _FORMAT_CHECKS.get(node.get("format"))
        if check is None or check(value):
            return node
        return {k: v for k, v in node.items() if k != "format"}
    if t == "object":
        props = node.get("properties")
        if props is None:
            return node
        new_props = _widen_props(props, value)
        return node if new_props is props else {**node, "properties": new_props}
    if t == "array":
        items = node.get("items")
        if items is None:
            return node
        new_items = items
        for element in value:
            new_items = _widen(new_items, element)
        return node if new_items is items else {**node, "items": new_items}
    return node


def _widen_props(props: Mapping[str, Any], obj: Mapping[str, Any]) -> Any:
    new: dict[str, Any] | None = None
    for key, value in obj.items():
        sub = props.get(key)
        widened = _value_schema(value, True) if sub is None else _widen(sub, value)
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


# ------------------------------------------------------------------------- the guard

_Spec = tuple[frozenset, dict, Any]  # (types that fit outright, per-type deep checks, node)


def _compile(node: Any) -> _Spec:
    """Precompile a node: exact Python types that fit outright, and deeper checks."""
    if _is_any(node):
        return _ALL_PY, {}, node
    names = _types_of(node) or []
    fast: set[type] = set()
    for name in names:
        fast.update(_JSON_TO_PY.get(name, ()))
    deep: dict[type, Callable[[Any], bool]] = {}
    if "string" in names:
        check = _FORMAT_CHECKS.get(node.get("format"))
        if check is not None:
            fast.discard(str)
            deep[str] = check
    if "object" in names and node.get("properties") is not None:
        fast.discard(dict)
        deep[dict] = _object_checker(node["properties"])
    if "array" in names and not _is_any(node.get("items")):
        fast.difference_update((list, tuple))
        deep[list] = deep[tuple] = _array_checker(node["items"])
    return frozenset(fast), deep, node


def _object_checker(props: Mapping[str, Any]) -> Callable[[Any], bool]:
    specs = {key: _compile(sub) for key, sub in props.items()}
    fast_get = {key: spec[0] for key, spec in specs.items()}.get
    deep_get = {key: spec[1] for key, spec in specs.items()}.get
    no_types: frozenset[type] = frozenset()
    no_checks: dict[type, Callable[[Any], bool]] = {}

    def check_object(obj: Any) -> bool:
        for key, value in obj.items():
            if type(value) in fast_get(key, no_types):
                continue
            deep = deep_get(key, no_checks).get(type(value))
            if deep is None:
                if key not in specs or not _fits(specs[key][2], value):
                    return False
            elif not deep(value):
                return False
        return True

    return check_object


def _array_checker(items: Any) -> Callable[[Any], bool]:
    fast, deep_checks, node = _compile(items)

    def check_array(values: Any) -> bool:
        for value in values:
            if type(value) in fast:
                continue
            deep = deep_checks.get(type(value))
            if deep is None:
                if not _fits(node, value):
                    return False
            elif not deep(value):
                return False
        return True

    return check_array


# ------------------------------------------------------------ generated fast check

#: Nesting depth (objects and arrays) that the generated checker inlines; deeper
#: nodes are checked by the closures of ``_compile`` (keeps the source small and far
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
#: Date-times that surely exist: every day but February 29 (those go the slow way).
#: A match implies ``is_date_time`` (tested); no match means: ask ``is_date_time``.
_DATE_TIME_FAST = re.compile(
    r"[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


def _value_checker(node: Any) -> Callable[[Any], bool]:
    """One value against a node, the ``_compile`` way (for nodes nested too deep)."""
    fast, deep_checks, node = _compile(node)

    def check_value(value: Any) -> bool:
        t = type(value)
        if t in fast:
            return True
        deep = deep_checks.get(t)
        return _fits(node, value) if deep is None else deep(value)

    return check_value


class _CheckSource:
    """Writes the source of a checker specialised to one object schema.

    The code does exactly what the ``_compile`` closures do (which is what ``_fits``
    does): values of an exact Python type that fits outright pass, ``str``/``dict``/
    ``list``/``tuple`` with a format, properties or items are checked inline, and any
    other type (wrong types, subclasses, non-JSON values) goes to ``_fits``.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "_NoneType": _NoneType,
            "_Decimal": Decimal,
            "_fits": _fits,
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

    def obj(self, props: Mapping[str, Any], var: str, indent: int, depth: int) -> None:
        """Code returning False unless the dict ``var`` fits the properties."""
        if not all(type(key) is str for key in props):
            raise TypeError("non-string property names")  # caller falls back
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
        if "object" in names and node.get("properties") is not None:
            fast.discard(dict)
            props = node["properties"]
        items = None
        if "array" in names and not _is_any(node.get("items")):
            fast.difference_update((list, tuple))
            items = node["items"]
        if depth >= _INLINE_DEPTH and (props is not None or items is not None):
            check = self.const(_value_checker(node), "_check")
            self.emit(indent, f"if not {check}({var}):")
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
            self.emit(indent, f"if {cond} and not _fits({node_name}, {var}):")
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
        self.emit(indent, f"elif not _fits({node_name}, {var}):")
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


def _generated_checker(props: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """``check(row)`` specialised to the properties: generated Python source, exec'd once.

    Same answers as ``_object_checker(props)`` (tests compare both with ``_fits``);
    a row that is not exactly a ``dict`` goes to that checker. If the schema holds
    something the generator does not handle, that checker is returned instead.
    """
    general = _object_checker(props)
    source = _CheckSource()
    source.ns["_general"] = general
    try:
        source.emit(0, "def check(row):")
        source.emit(1, "if type(row) is not dict:")
        source.emit(2, "return _general(row)")
        source.obj(props, "row", 1, 0)
        source.emit(1, "return True")
        code = compile("\n".join(source.lines), "<SchemaGuard.check>", "exec")
    except (TypeError, ValueError, SyntaxError, RecursionError, MemoryError):
        return general
    exec(code, source.ns)  # our own source, built from the schema's structure
    check: Callable[[Mapping[str, Any]], bool] = source.ns["check"]
    check.source = "\n".join(source.lines)  # type: ignore[attr-defined]
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

    def __init__(self, schema: Mapping[str, Any]) -> None:
        """Guard rows against ``schema``: an object schema with ``properties``.

        Without ``properties`` every row fits and nothing is ever widened.
        """
        self._set(copy.deepcopy(dict(schema)))

    def _set(self, schema: dict[str, Any]) -> None:
        self._schema = schema
        props = schema.get("properties")
        self._props: Mapping[str, Any] | None = props if isinstance(props, Mapping) else None
        self.check = _generated_checker(props) if self._props is not None else _accept_all

    @property
    def schema(self) -> dict[str, Any]:
        """A copy of the current schema."""
        return copy.deepcopy(self._schema)

    @property
    def known_fields(self) -> frozenset[str]:
        """Top-level property names of the current schema."""
        return frozenset(self._props or ())

    def _widened(self, row: Mapping[str, Any]) -> dict[str, Any]:
        props = self._props
        if props is None:
            return self._schema
        new_props = _widen_props(props, row)
        return self._schema if new_props is props else {**self._schema, "properties": new_props}

    def widened(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The schema widened to fit the row, without updating the guard."""
        return copy.deepcopy(self._widened(row))

    def widen(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Widen the schema to fit the row, update the guard, and return the new schema.

        Raises:
            TypeError: the row holds a value that is not JSON (the guard is unchanged).
        """
        new = self._widened(row)
        if new is not self._schema:
            self._set(new)
        return self.schema

    def changes(self, row: Mapping[str, Any]) -> list[str]:
        """What ``widen(row)`` would change, as readable lines (empty if the row fits)."""
        if self.check(row):
            return []
        return describe_changes(self._schema, self._widened(row))

    def new_fields(self, row: Mapping[str, Any]) -> list[str]:
        """Paths (``a.b``, ``list[].c``) of the row's fields unknown to the schema, any depth."""
        if self.check(row):
            return []
        out: list[tuple[str, str, str]] = []
        _changes(self._schema, self._widened(row), "", out)
        return [path for kind, path, _ in out if kind == "added"]

    def unknown_fields(self, row: Mapping[str, Any]) -> list[str]:
        """Top-level keys of the row that the schema lacks, in row order.

        For a catalog pinned to selected fields: drop these instead of widening.
        """
        props = self._props
        if props is None:
            return []
        return [key for key in row if key not in props]

    def drop_unknown(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the row without its unknown top-level keys."""
        props = self._props
        if props is None:
            return dict(row)
        return {key: value for key, value in row.items() if key in props}


def _accept_all(row: Mapping[str, Any]) -> bool:
    return True
