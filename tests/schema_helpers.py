"""Test-only views of a SchemaGuard: what a row would change, without widening the guard."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import jsonschema

from tap_loop.schemas.row_check import SchemaGuard, _changes

NULL = "null"


def widened(guard: SchemaGuard, row: Mapping[str, Any]) -> dict[str, Any]:
    """The guard's schema widened to fit the row; the guard is left unchanged."""
    return copy.deepcopy(guard._widened(row))


def new_fields(guard: SchemaGuard, row: Mapping[str, Any]) -> list[str]:
    """Paths (``a.b``, ``list[].c``) of the row's fields unknown to the schema, any depth."""
    if guard.check(row):
        return []
    out: list[tuple[str, str, str]] = []
    _changes(guard.schema, guard._widened(row), "", out)
    return [path for kind, path, _ in out if kind == "added"]


def nullable(*types: str, **extra: Any) -> dict[str, Any]:
    """A property schema: the types plus null."""
    return {"type": [*types, NULL], **extra}


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def _is_rfc3339(value: Any) -> bool:
    """Independent date-time oracle for jsonschema: fromisoformat with a required zone."""
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if len(value) < 20 or value[10] not in "Tt":
        return False
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _is_plain_date(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    if len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())

FORMATS.checks("date-time")(_is_rfc3339)

FORMATS.checks("date")(_is_plain_date)


def assert_valid(
    schema: dict[str, Any], rows: list[dict[str, Any]], check_schema: bool = True
) -> None:
    """Every row validates against the schema (Draft 2020-12, with the two formats)."""
    if check_schema:  # the meta-schema check is slow: once per test is plenty
        jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    for row in rows:
        errors = list(validator.iter_errors(row))
        assert not errors, (row, [e.message for e in errors])


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "dec", "str", "dt", "date"]
    if depth < 3:
        kinds += ["obj", "arr"]
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-5, 5)
    if kind == "float":
        return rng.choice([0.5, -1.25, 3.0])
    if kind == "dec":
        return Decimal("1.5")
    if kind == "str":
        return rng.choice(["", "a", "ü", "2026-11-01T10:00:00"])
    if kind == "dt":
        return rng.choice(["2026-11-01T10:00:00Z", "2026-11-01T10:00:00.5+01:00"])
    if kind == "date":
        return "2026-11-0" + str(rng.randint(1, 9))
    if kind == "obj":
        return {rng.choice("abcd"): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(1, 3))]


def _random_row(rng: random.Random) -> dict[str, Any]:
    return {rng.choice("pqrstu"): _random_value(rng) for _ in range(rng.randint(0, 5))}


_KEYS = ["a", "b", "c", "d", "it's", 'q"uote', "é 🎉"]


_DATE_TIMES = [
    "2026-11-01T12:00:00Z",
    "2026-11-01t12:00:00z",
    "2026-11-01T12:00:00.123+01:00",
    "2026-11-01T12:00:00-23:59",
    "2024-02-29T23:59:59Z",
    "2026-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-11-01T12:00:00",
    "2026-11-01T12:00:60Z",
    "2026-11-01T12:00:00.Z",
    "2026-11-01T24:00:00Z",
    "2026-11-01T12:00:00+24:00",
    "\u0662\u0660\u0662\u0666-11-01T12:00:00Z",
    "2026-11-01T12:00:00.\u0661Z",
    "x" * 20,
]


_DATES = ["2026-11-01", "2024-02-29", "2026-02-29", "2026-11-31", "2026-11-1", "2026/11/01", ""]


class _Str(str):
    pass


class _Dict(dict):
    pass


class _Int(int):
    pass


def _random_node(rng: random.Random, depth: int) -> Any:
    """A random schema node, including the forms users write by hand."""
    roll = rng.random()
    if roll < 0.06:
        return rng.choice([{}, True, {"anyOf": [{"type": "integer"}]}, {"description": "x"}])
    names = rng.sample(["string", "object", "array", "number", "integer", "boolean"], 2)
    names = names[: rng.choice([1, 1, 2])]
    if rng.random() < 0.6:
        names.append("null")
    node: dict[str, Any] = {"type": names[0] if len(names) == 1 else names}
    if "string" in names and rng.random() < 0.6:
        node["format"] = rng.choice(["date-time", "date", "date-time", "email"])
    if "object" in names and rng.random() < 0.9:
        keys = rng.sample(_KEYS, rng.randint(0, 4 if depth < 9 else 1))
        node["properties"] = {k: _random_node(rng, depth + 1) for k in keys}
    if "array" in names:
        roll = rng.random()
        if roll < 0.8:
            node["items"] = _random_node(rng, depth + 1)
        elif roll < 0.9:
            node["items"] = {}
    return node


def _random_fitting(rng: random.Random, node: Any, depth: int = 0) -> Any:
    """A value that probably fits the node, with random drift now and then."""
    if rng.random() < 0.08 or not isinstance(node, dict) or "type" not in node:
        return _random_edge_value(rng, depth)
    names = [node["type"]] if isinstance(node["type"], str) else node["type"]
    name = rng.choice(names)
    if name == "string":
        fmt = node.get("format")
        if fmt == "date-time":
            return rng.choice(_DATE_TIMES[:5] * 3 + _DATE_TIMES)
        if fmt == "date":
            return rng.choice(_DATES[:2] * 3 + _DATES)
        return rng.choice(["", "s", _Str("sub"), "2026-11-01"])
    if name == "object":
        props = node.get("properties")
        if props is None:
            return {k: _random_edge_value(rng, depth + 1) for k in rng.sample(_KEYS, 2)}
        out = {k: _random_fitting(rng, v, depth + 1) for k, v in props.items()}
        for key in list(out):
            if rng.random() < 0.2:
                del out[key]
        if rng.random() < 0.1:
            out[rng.choice([*_KEYS, "zz"])] = None
        if out and rng.random() < 0.05:  # as many keys as properties, one unknown
            del out[rng.choice(list(out))]
            out["unknown"] = 1
        return _Dict(out) if rng.random() < 0.05 else out
    if name == "array":
        items = node.get("items", {})
        values = [_random_fitting(rng, items, depth + 1) for _ in range(rng.randint(0, 3))]
        return tuple(values) if rng.random() < 0.1 else values
    if name == "number":
        return rng.choice([1, 2.5, Decimal("1.5"), float("nan")])
    if name == "integer":
        return rng.choice([0, 7, -3, _Int(5), 10**30])
    if name == "boolean":
        return rng.random() < 0.5
    return None


def _random_edge_value(rng: random.Random, depth: int) -> Any:
    values: list[Any] = [
        None, True, False, 0, 1, 1.0, Decimal("2"), "", "x", _Str("2026-11-01"),
        "2026-11-01", "2026-11-01T12:00:00Z", _Int(1), dt.datetime(2026, 1, 1), object(), b"x",
        {1, 2},
    ]  # fmt: skip
    if depth < 4:
        values += [
            {},
            {"a": 1},
            _Dict(a=None),
            [],
            [1, "x"],
            (None,),
            [{"b": "2026-11-01"}],
        ]
    return rng.choice(values)


def _json_text(rows: list[Any]) -> bytes | None:
    """The rows as a JSON array (None if a value is not JSON)."""
    try:
        return json.dumps(rows, allow_nan=False, default=_not_json).encode()
    except (TypeError, ValueError):
        return None


def _not_json(value: Any) -> Any:
    if isinstance(value, (tuple, Decimal)):
        return list(value) if isinstance(value, tuple) else float(value)
    raise TypeError
