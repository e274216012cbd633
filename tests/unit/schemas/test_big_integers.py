"""Integers beyond 64 bits (the big_integers setting): inference, the guard's declare and
redeclare, and typed rows agree."""

from __future__ import annotations

from typing import Any

import pytest

from tap_loop.core.output import dumps
from tap_loop.schemas.inference import DIGITS, SchemaInferrer
from tap_loop.schemas.row_check import SchemaGuard
from tap_loop.schemas.typed_rows import to_builtins

ROWS: list[dict[str, Any]] = [
    {"big": 2**127, "small": 5, "mixed": 1.5},
    {"big": -(10**40), "small": None, "mixed": 2**70},
]


@pytest.mark.parametrize(
    ("mode", "declared"),
    [
        ("string", {"type": ["string", "null"], "format": DIGITS}),
        ("number", {"type": ["number", "null"]}),
        (None, {"type": ["integer", "null"]}),
    ],
)
def test_inference_declares_a_field_of_big_integers_as_the_setting_says(mode, declared) -> None:
    for add in ("add", "add_rows"):
        inferrer = SchemaInferrer()
        if add == "add":
            for row in ROWS:
                inferrer.add(row)
        else:
            inferrer.add_rows(ROWS)
        props = inferrer.schema(None, mode)["properties"]
        assert props["big"] == declared
        assert props["small"] == {"type": ["integer", "null"]}
        assert props["mixed"] == {"type": ["number", "null"]}  # a number already
        assert inferrer.big_fields == ([] if mode is None else ["big"])


def test_nested_big_integers_stay_integers() -> None:
    inferrer = SchemaInferrer()
    inferrer.add({"o": {"n": 2**70}, "a": [2**70]})
    props = inferrer.schema(None, "string")["properties"]
    assert props["o"]["properties"]["n"] == {"type": ["integer", "null"]}
    assert inferrer.big_fields == []


def test_the_guard_redeclares_an_integer_field_on_a_big_integer() -> None:
    schema = {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}
    guard = SchemaGuard(schema, None, "string")
    row: dict[str, Any] = {"n": 7}
    assert guard.declare(row) == [] and row == {"n": 7}
    row = {"n": 2**70}
    assert guard.check(row)  # JSON Schema's integer takes it: declare() is what tells
    assert guard.declare(row) == ["n"]
    new = guard.redeclare(["n"])
    assert new["properties"]["n"] == {"type": ["string", "null"], "format": DIGITS}
    assert guard.declare(row) == [] and row == {"n": str(2**70)}
    assert guard.check(row) and guard.check({"n": None})
    small: dict[str, Any] = {"n": 3}
    guard.declare(small)
    assert small == {"n": "3"}
    assert not guard.check({"n": "abc"})  # not digits: the format is enforced
    assert SchemaGuard(schema, None, "number").redeclare(["n"])["properties"]["n"] == {
        "type": ["number", "null"]
    }


def test_without_the_setting_nothing_is_redeclared() -> None:
    guard = SchemaGuard({"type": "object", "properties": {"n": {"type": "integer"}}})
    assert guard.declare({"n": 2**70}) == []


def test_typed_rows_refuse_big_integers_in_integer_fields_and_write_digits_as_strings() -> None:
    props = {
        "n": {"type": ["integer", "null"]},
        "d": {"type": ["string", "null"], "format": DIGITS},
    }
    guard = SchemaGuard({"type": "object", "properties": props}, None, "string")
    typed = guard.typed
    assert typed is not None
    assert typed.decode(b'[{"n":9223372036854775807}]') is not None
    assert typed.decode(b'[{"n":9223372036854775808}]') is None
    assert typed.decode(b'[{"n":-9223372036854775809}]') is None
    rows = typed.decode(b'[{"n":1,"d":170141183460469231731687303715884105728},{"d":"12"}]')
    assert rows is not None
    assert [to_builtins(row) for row in rows] == [
        {"n": 1, "d": "170141183460469231731687303715884105728"},
        {"d": "12"},
    ]
    assert dumps(rows[0]) == b'{"n":1,"d":"170141183460469231731687303715884105728"}'
    assert typed.decode(b'[{"d":"twelve"}]') is None
