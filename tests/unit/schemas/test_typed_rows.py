"""Typed rows (tap_loop.schemas.typed_rows): msgspec decoding accepts a chunk exactly when
every row fits the schema, and reads values as orjson does."""

from __future__ import annotations

import json
import math
import random
import struct
import sys
from decimal import Decimal
from typing import Any

import orjson
import pytest

from tap_loop.core.output import dumps
from tap_loop.results.json_rows import _parse_array
from tap_loop.results.numbers import lossy_hint
from tap_loop.schemas.inference import (
    infer_schema,
)
from tap_loop.schemas.row_check import SchemaGuard
from tap_loop.schemas.row_check import fits as _fits
from tap_loop.schemas.typed_rows import to_builtins
from tests.schema_helpers import (
    _KEYS,
    _json_text,
    _random_fitting,
    _random_node,
    _random_row,
    nullable,
    obj,
)

_EDGES = [
    b'[{"a":"\xff"}]', b'[{"a":"\xc0\xaf"}]', b'[{"a":"\xed\xa0\x80"}]', b'[{"a":"a\x00b"}]',
    b'[{"a":"a\x1fb"}]', b'[{"a":01}]', b'[{"a":1.}]', b'[{"a":.5}]', b'[{"a":-}]',
    b'[{"a":+1}]', b'[{"a":1e}]', b'[{"a":NaN}]', b'[{"a":Infinity}]', b'[{"a":1},]',
    b'[{"a":1,}]', b'[{"a":1}/*c*/]', b'[{"a":"\\ud800"}]', b'[{"a":"\\udc00"}]',
    b'[{"a":tru}]', b'[{"a":"\\x41"}]', b'[{"a":1e400}]',
    b'[{"a":1,"a":2}]', b'[{"a":"\\ud800\\udc00"}]', b'[{"a":-0}]', b'[{"a":1E+2}]',
    b'[{"a":"\x7f"}]', b'[ {"a":1} ]\n', b'[{"a":"\\u0000"}]', b'[{"a":"\\/"}]',
    b'[{"a":-0.0}]', b'[{"a":5e-324}]', b'[{"a":1.7976931348623157e308}]',
]  # fmt: skip


@pytest.mark.parametrize("text", _EDGES)
def test_typed_rows_accept_exactly_what_orjson_accepts_and_read_the_same(text: bytes) -> None:
    """At JSON's edges (bad UTF-8, surrogates, control characters, number forms,
    duplicate keys), typed decoding accepts a chunk only where orjson does, with the
    same values: a chunk it refuses is parsed by orjson, whose error the reader reports."""
    typed = SchemaGuard(
        {"type": "object", "properties": {"a": {"type": ["string", "number", "null"]}}}
    ).typed
    assert typed is not None
    decoded = typed.decode(text)
    try:
        expected = orjson.loads(text)
    except orjson.JSONDecodeError:
        assert decoded is None
        return
    if decoded is not None:
        got = [to_builtins(row) for row in decoded]
        assert got == expected and [type(r["a"]) for r in got] == [type(r["a"]) for r in expected]
        assert [dumps(row) for row in decoded] == [dumps(row) for row in expected]
    else:  # beyond a float (orjson's inf, refused by msgspec), or 17 digits: not sure
        assert text == b'[{"a":1e400}]' or lossy_hint(text)


def test_typed_rows_read_every_float_as_orjson_does() -> None:
    rng = random.Random(5)
    values: list[float] = []
    for _ in range(20000):
        bits = rng.getrandbits(64)
        value = struct.unpack("d", struct.pack("Q", bits))[0]
        if math.isfinite(value):
            values.append(value)
        values.append(round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)))
    texts = [repr(v) for v in values] + [f"{v:.17e}" for v in values[:2000]]
    texts += [f"{rng.randint(0, 10**20)}.{rng.randint(0, 10**25)}e{rng.randint(-280, 280)}"
              for _ in range(2000)]  # fmt: skip
    typed = SchemaGuard({"type": "object", "properties": {"a": {"type": "number"}}}).typed
    assert typed is not None
    short = [t for t in texts if not lossy_hint(t.encode())]
    assert len(short) > len(texts) // 3
    text = ("[" + ",".join('{"a":' + t + "}" for t in short) + "]").encode()
    decoded = typed.decode(text)
    assert decoded is not None
    parsed = orjson.loads(text)
    assert [to_builtins(row)["a"] for row in decoded] == [row["a"] for row in parsed]
    assert [dumps(row) for row in decoded] == [dumps(row) for row in parsed]
    # Text that may hold a number a float changes is left to the reader, which keeps it.
    longer = ("[" + ",".join('{"a":' + t + "}" for t in texts) + "]").encode()
    assert typed.decode(longer) is None
    exact = _parse_array(longer)
    normal = [(row["a"], t) for row, t in zip(exact, texts, strict=True) if _normal(t)]
    assert len(normal) > len(texts) * 0.9
    assert all(Decimal(str(value)) == Decimal(t) for value, t in normal)
    assert any(type(value) is Decimal for value, _ in normal)


def _normal(text: str) -> bool:
    """Not a number a float makes subnormal or zero (kept as that float)."""
    return not 0 < abs(float(text)) < sys.float_info.min


def _assert_typed_agrees(g: SchemaGuard, rows: list[Any]) -> bool:
    """Typed decoding accepts a JSON array exactly when every row (as parsed) fits, and
    then gives the same values, in the schema's order, written as the dicts would be."""
    text = _json_text(rows)
    if text is None:
        return False
    parsed = json.loads(text)
    assert g.typed is not None
    typed = g.typed.decode(text)
    if typed is None and lossy_hint(text):
        return False  # not sure: the reader parses and checks these rows one by one
    expected = all(_fits(g.schema, row) for row in parsed)
    assert (typed is not None) is expected, (g.schema, parsed)
    if typed is None:
        return False
    order = list(g.schema["properties"])
    for decoded, row in zip(typed, parsed, strict=True):
        as_dict = to_builtins(decoded)
        assert _same(as_dict, row)  # types too: 3 stays 3, not 3.0
        assert list(as_dict) == [key for key in order if key in row]  # the schema's order
        assert dumps(decoded) == dumps(as_dict)
        assert json.loads(dumps(decoded)) == row
    return True


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (``3 != 3.0`` here)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b or (a != a and b != b)


def _names(node: Any) -> Any:
    """Every property name in the schema, at any depth."""
    if isinstance(node, dict):
        for key, sub in (node.get("properties") or {}).items():
            yield key
            yield from _names(sub)
        yield from _names(node.get("items"))


def orjson_like(rows: list[Any]) -> bytes:
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("seed", range(60))
def test_typed_rows_agree_with_reference_on_random_schemas(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):  # msgspec refuses names with '"' or '\\': no typed rows for those
        props = {k: _random_node(rng, 1) for k in rng.sample(_KEYS, rng.randint(0, len(_KEYS)))}
        schema = {"type": "object", "properties": props}
        g = SchemaGuard(schema)
        if g.typed is not None:
            break
        assert '"' in json.dumps(list(_names(schema)))
    accepted = 0
    for _ in range(150):
        rows = [_random_fitting(rng, schema) for _ in range(rng.choice([1, 1, 2, 5, 30]))]
        accepted += _assert_typed_agrees(g, [row if isinstance(row, dict) else {} for row in rows])
    assert accepted > 0


@pytest.mark.parametrize("seed", range(20))
def test_typed_rows_agree_with_reference_on_inferred_schemas(seed: int) -> None:
    rng = random.Random(2000 + seed)
    rows = [_random_row(rng) for _ in range(rng.randint(1, 10))]
    g = SchemaGuard(infer_schema(rows))
    assert _assert_typed_agrees(g, rows)
    for _ in range(60):
        _assert_typed_agrees(g, [_random_row(rng) for _ in range(rng.randint(1, 6))])


def test_typed_rows_nested_lists_dates_numbers_and_missing_keys() -> None:
    event = {
        "at": nullable("string", format="date-time"),
        "n": nullable("integer"),
        "x": nullable("number"),
        "by": {"type": "object", "properties": {"e": {"type": "string"}}},
    }
    schema = obj(
        events=nullable("array", items=nullable("object", properties=event)),
        day={"type": "string", "format": "date"},
    )
    g = SchemaGuard(schema)
    typed = g.typed
    assert typed is not None
    good = {"events": [{"at": "2026-11-01T12:00:00Z", "n": 2**50, "x": 3, "by": {"e": "x"}}]}
    leap = {"events": [{"at": "2024-02-29T00:00:00Z", "x": 2.5}], "day": "2024-02-29"}
    rows = [good, {}, {"events": None}, {"events": []}, leap, {"day": "2026-11-01"}]
    decoded = typed.decode(orjson_like(rows))
    assert decoded is not None and [to_builtins(row) for row in decoded] == rows
    assert (
        dumps(decoded[0])
        == b'{"events":[{"at":"2026-11-01T12:00:00Z","n":%d,"x":3,' % (2**50) + b'"by":{"e":"x"}}]}'
    )  # 3 stays an integer
    # 17 digits or more where the schema says "number" somewhere: left to the reader
    assert typed.decode(orjson_like([{"events": [{"n": 10**30}]}])) is None
    for bad in [
        {"events": [{"at": "2026-02-29T00:00:00Z"}]},  # no such day
        {"events": [{"at": "2026-11-01 12:00:00Z"}]},  # msgspec's datetime would take it
        {"events": [{"n": True}]},  # bool is not integer
        {"events": [{"n": 1.0}]},  # nor is 1.0
        {"events": [{"by": {"e": None}}]},  # e is not nullable
        {"events": [{"by": None}]},  # by is not nullable
        {"events": [{"new": 1}]},  # a new nested field
        {"day": None},
        {"day": "2026-11-31"},
        {"other": 1},
    ]:
        assert typed.decode(orjson_like([good, bad, good])) is None, bad
        assert not _fits(g.schema, bad)
    assert typed.decode(b"[{]") is None  # not JSON: the reader's own parser says why
    set_origin = typed.setter({"day": "2026-11-02"})
    assert set_origin is not None and typed.setter({"unknown": "x"}) is None
    # rows that have the field already (a field of Loop's named like it): left alone
    assert set_origin(decoded) is False
    assert [to_builtins(row) for row in decoded] == rows
    without_day = typed.decode(orjson_like(rows[:4]))
    assert without_day is not None and set_origin(without_day) is True
    assert to_builtins(without_day[1]) == {"day": "2026-11-02"}


def test_no_typed_rows_for_schemas_msgspec_cannot_say() -> None:
    assert SchemaGuard({"type": "object", "properties": {1: {"type": "integer"}}}).typed is None
    assert SchemaGuard(obj(a={"type": "email"})).typed is None
    assert SchemaGuard(obj(a={"type": []})).typed is None
    assert SchemaGuard({"type": "object"}).typed is None  # every row fits: no check at all
    assert SchemaGuard(obj(**{'q"uote': {"type": "integer"}})).typed is None  # msgspec: no
