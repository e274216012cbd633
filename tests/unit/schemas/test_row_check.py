"""The drift guard (tap_loop.schemas.row_check): accepts what fits, widens on drift, and
its generated check equals the reference check."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from tap_loop.schemas.inference import (
    _DATE_TIME_FAST,
    infer_schema,
    is_date_time,
    merge_schemas,
)
from tap_loop.schemas.row_check import SchemaGuard, describe_changes
from tap_loop.schemas.row_check import fits as _fits
from tests.schema_helpers import (
    _DATE_TIMES,
    _KEYS,
    _Dict,
    _random_fitting,
    _random_node,
    _random_row,
    assert_valid,
    new_fields,
    nullable,
    obj,
    widened,
)

BASE_ROWS = [
    {
        "id": 1,
        "score": 1.5,
        "flag": True,
        "name": "a",
        "at": "2026-11-01T12:00:00Z",
        "day": "2026-11-01",
        "tags": ["x"],
        "meta": {"src": "web", "ids": [1, 2]},
        "people": [{"email": "p@example.com"}],
        "gone": None,
    },
    {"id": 2, "score": Decimal("2.5"), "name": None, "tags": [], "meta": {"src": None}},
]


def guard() -> SchemaGuard:
    return SchemaGuard(infer_schema(BASE_ROWS))


def test_check_accepts_inferred_rows_and_common_variants() -> None:
    g = guard()
    assert all(g.check(r) for r in BASE_ROWS)
    assert g.check({})
    assert g.check({"score": 3})  # an int is a number
    assert g.check({"meta": {}, "people": [], "tags": ["y", "z"]})
    assert g.check({"at": "2026-11-01T12:00:00.25+01:00", "day": None})
    assert g.check({"meta": None, "people": None, "gone": None})


@pytest.mark.parametrize(
    "row",
    [
        {"new": 1},
        {"meta": {"src": "web", "other": 1}},
        {"people": [{"email": "p@example.com", "cc": True}]},
        {"id": "one"},
        {"id": True},  # bool is not integer
        {"id": 1.0},  # a float is not an integer
        {"flag": 1},
        {"score": "1.5"},
        {"name": 5},
        {"tags": [1]},
        {"tags": [None]},  # items are not nullable unless seen null
        {"tags": "x"},
        {"meta": []},
        {"meta": {"ids": [1.5]}},
        {"at": "2026-11-01"},
        {"at": "yesterday"},
        {"day": "2026-11-01T12:00:00Z"},
        {"gone": 0},
        {"id": dt.datetime(2026, 1, 1)},  # not JSON: never fits
    ],
)
def test_check_rejects_drift(row: dict[str, Any]) -> None:
    g = guard()
    assert g.check(row) is False
    assert _fits(g.schema, row) is False


def test_check_subclasses_go_the_slow_way() -> None:
    class MyStr(str):
        pass

    class MyDict(dict):
        pass

    g = guard()
    assert g.check({"name": MyStr("a"), "meta": MyDict(src="s")})
    assert not g.check({"meta": MyDict(bad=1)})


def test_widen_new_top_level_field() -> None:
    g = guard()
    before = g.schema
    row = {"id": 3, "sentiment": {"score": 0.5}}
    assert new_fields(g, row) == ["sentiment"]
    new = g.widen(row)
    assert new["properties"]["sentiment"] == nullable(
        "object", properties={"score": nullable("number")}
    )
    assert list(new["properties"])[-1] == "sentiment"
    assert {k: v for k, v in new["properties"].items() if k != "sentiment"} == before["properties"]
    assert g.check(row)
    assert g.schema == new


def test_widen_new_nested_fields() -> None:
    g = guard()
    row = {"meta": {"src": "x", "thread": {"depth": 2}}, "people": [{"email": "a", "cc": True}]}
    assert new_fields(g, row) == ["meta.thread", "people[].cc"]
    new = g.widen(row)
    assert new["properties"]["meta"]["properties"]["thread"] == nullable(
        "object", properties={"depth": nullable("integer")}
    )
    assert new["properties"]["people"]["items"]["properties"]["cc"] == nullable("boolean")
    assert new["properties"]["meta"]["properties"]["ids"] == nullable(
        "array", items={"type": "integer"}
    )  # untouched by the empty/missing parts of the row
    assert g.check(row)


def test_widen_int_to_string_keeps_integer() -> None:
    g = guard()
    new = g.widen({"id": "msg-3"})
    assert new["properties"]["id"] == nullable("string", "integer")
    assert g.check({"id": 4}) and g.check({"id": "msg-5"})


def test_widen_null_where_non_null() -> None:
    g = SchemaGuard({"type": "object", "properties": {"n": {"type": "integer"}}})
    assert g.check({"n": 1}) and not g.check({"n": None})
    assert g.widen({"n": None}) == obj(n=nullable("integer"))


def test_widen_array_item_type_change_and_null_items() -> None:
    g = guard()
    new = g.widen({"tags": ["y", 2, None]})
    assert new["properties"]["tags"] == nullable(
        "array", items={"type": ["string", "integer", "null"]}
    )
    new = g.widen({"meta": {"ids": [2.5]}})
    assert new["properties"]["meta"]["properties"]["ids"]["items"] == {"type": "number"}


def test_widen_format_violation_drops_format() -> None:
    g = guard()
    new = g.widen({"at": "soon", "day": "2026-11-01T12:00:00Z"})
    assert new["properties"]["at"] == nullable("string")
    assert new["properties"]["day"] == nullable("string")


def test_widen_type_change_to_object_and_array() -> None:
    g = guard()
    new = g.widen({"name": {"first": "A"}, "flag": [1]})
    assert new["properties"]["name"] == nullable(
        "string", "object", properties={"first": nullable("string")}
    )
    assert new["properties"]["flag"] == nullable("array", "boolean", items={"type": "integer"})


def test_widen_of_fitting_row_changes_nothing() -> None:
    g = guard()
    before = g.schema
    assert g.widen(BASE_ROWS[0]) == before
    assert g.changes(BASE_ROWS[0]) == [] and new_fields(g, BASE_ROWS[0]) == []


def test_widen_refuses_non_json_and_keeps_guard() -> None:
    g = guard()
    before = g.schema
    with pytest.raises(TypeError):
        g.widen({"new": object()})
    assert g.schema == before


def test_changes_describe_what_widening_does() -> None:
    g = guard()
    row = {"id": "x", "at": "later", "n": 1, "meta": {"deep": [1]}}
    assert g.changes(row) == [
        "'id': integer|null -> string|integer|null",
        "'at': string|null (date-time) -> string|null",
        "new field 'meta.deep': array|null",
        "new field 'n': integer|null",
    ]
    assert describe_changes(g.schema, widened(g, row)) == g.changes(row)
    assert g.check(BASE_ROWS[0])  # widened() left the guard alone


def test_pinned_mode_unknown_fields_and_drop() -> None:
    g = SchemaGuard(obj(a=nullable("integer"), b=nullable("string")))
    row = {"z": 1, "a": 1, "c": {"d": 1}}
    assert set(g.schema["properties"]) == {"a", "b"}
    assert g.unknown_fields(row) == ["z", "c"]
    kept = {k: v for k, v in row.items() if k not in g.unknown_fields(row)}
    assert kept == {"a": 1} and g.check(kept)
    assert row == {"z": 1, "a": 1, "c": {"d": 1}}


def test_guard_owns_its_schema() -> None:
    schema = infer_schema(BASE_ROWS)
    g = SchemaGuard(schema)
    schema["properties"].clear()
    assert g.check(BASE_ROWS[0])
    out = g.schema
    out["properties"].clear()
    assert g.check(BASE_ROWS[0]) and g.schema["properties"]
    widened = g.widen({"q": 1})
    widened["properties"].clear()
    assert g.check({"q": 2})


def test_user_schema_forms() -> None:
    g = SchemaGuard(
        {
            "type": "object",
            "properties": {
                "free": {"type": "object"},  # free-form object: any keys
                "anything": {},
                "any_of": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                "list": {"type": "array"},  # no items: any items
                "email": {"type": "string", "format": "email"},  # not enforced
                "bool_schema": True,
            },
        }
    )
    row = {
        "free": {"x": [1, {"y": None}]},
        "anything": [1],
        "any_of": {"k": 1},
        "list": [1, "a", None],
        "email": "not an email",
        "bool_schema": 3,
    }
    assert g.check(row)
    assert g.widen(row) == g.schema
    assert not g.check({"other": 1})
    assert SchemaGuard({"type": "object"}).check({"x": 1})
    assert SchemaGuard({"type": "object"}).unknown_fields({"x": 1}) == []


def test_root_without_type_still_widens() -> None:
    g = SchemaGuard({"properties": {"a": {"type": "integer"}}})
    assert not g.check({"a": "s"})
    g.widen({"a": "s"})
    assert g.check({"a": "s"}) and g.check({"a": 1})


@pytest.mark.parametrize("seed", range(30))
def test_random_streams_widen_soundly(seed: int) -> None:
    """Streaming random rows: after each widen the row fits, and so does every earlier row."""
    rng = random.Random(seed)
    rows = [_random_row(rng) for _ in range(rng.randint(1, 8))]
    g = SchemaGuard(infer_schema(rows[: rng.randint(0, len(rows))]))
    seen: list[dict[str, Any]] = []
    for row in rows + [_random_row(rng) for _ in range(8)]:
        schema = g.schema
        fits = g.check(row)
        assert fits is _fits(schema, row)  # compiled check == reference check
        if not fits:
            new = g.widen(row)
            assert g.check(row)
            assert all(g.check(old) for old in seen)
            assert_valid(new, [*seen, row], check_schema=False)
            assert_valid(merge_schemas(schema, new), [*seen, row], check_schema=False)
        seen.append(row)
    assert_valid(g.schema, seen)


def test_decimal_validates_as_number_in_jsonschema() -> None:
    assert_valid(obj(x=nullable("number")), [{"x": Decimal("1.25")}, {"x": 3}])


@pytest.mark.parametrize("seed", range(60))
def test_generated_check_equals_reference_on_random_schemas(seed: int) -> None:
    rng = random.Random(seed)
    props = {k: _random_node(rng, 1) for k in rng.sample(_KEYS, rng.randint(0, len(_KEYS)))}
    schema = {"type": "object", "properties": props}
    g = SchemaGuard(schema)
    assert hasattr(g.check, "source")  # really the generated checker
    fits = 0
    for _ in range(300):
        row = _random_fitting(rng, schema)
        if not isinstance(row, dict):
            row = {}
        expected = _fits(schema, row)
        assert g.check(row) is expected, (g.check.source, row)
        fits += expected
    assert fits > 0 or not props


@pytest.mark.parametrize("seed", range(20))
def test_generated_check_equals_reference_on_inferred_schemas(seed: int) -> None:
    rng = random.Random(1000 + seed)
    rows = [_random_row(rng) for _ in range(rng.randint(1, 10))]
    schema = infer_schema(rows)
    g = SchemaGuard(schema)
    assert hasattr(g.check, "source")
    more = [_random_fitting(rng, schema) for _ in range(100)]
    for row in rows + [_random_row(rng) for _ in range(100)] + [r for r in more if type(r) is dict]:
        assert g.check(row) is _fits(schema, row), row
    assert all(g.check(row) for row in rows)


def test_generated_check_deep_nesting_and_odd_schemas() -> None:
    inner: dict[str, Any] = {"type": ["string", "null"], "format": "date"}
    for _ in range(12):  # deeper than the generator inlines
        inner = {"type": ["object", "array", "null"], "properties": {"k": inner}, "items": inner}
    schema = {"type": "object", "properties": {"deep": inner, "req": {"type": "integer"}}}
    g = SchemaGuard(schema)
    assert hasattr(g.check, "source")
    good: Any = "2026-11-01"
    bad: Any = "2026-11-31"
    for depth in range(12):
        good, bad = ({"k": good} if depth % 2 else [good]), ({"k": bad} if depth % 2 else [bad])
    for row in [{"deep": good}, {"deep": bad}, {"req": 1}, {"req": None}, {"req": True}, {}]:
        assert g.check(row) is _fits(schema, row), row
    assert g.check({"deep": good, "req": 3}) and not g.check({"deep": bad})
    assert not g.check({"req": None})  # not nullable, but a missing key fits
    assert g.check(_Dict(req=1)) and not g.check(_Dict(other=1))  # not a dict: general path
    empty = SchemaGuard(obj(o=nullable("object", properties={})))
    assert empty.check({"o": {}}) and not empty.check({"o": {"x": None}})
    assert SchemaGuard(obj()).check({}) and not SchemaGuard(obj()).check({"x": 1})


def test_non_string_property_names_use_the_general_check() -> None:
    g = SchemaGuard({"type": "object", "properties": {1: {"type": "integer"}, "a": {}}})
    assert not hasattr(g.check, "source")
    # Non-string property names are the point of the test.
    assert g.check({1: 2, "a": object()}) and not g.check({1: "x"})  # type: ignore[dict-item]


def test_date_time_fast_pattern_implies_is_date_time() -> None:
    rng = random.Random(7)
    alphabet = "0123456789-:.TtZz+ \u0661"
    samples = list(_DATE_TIMES)
    for _ in range(20000):
        s = list(rng.choice(_DATE_TIMES))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(s))
            roll = rng.random()
            if roll < 0.6:
                s[i] = rng.choice(alphabet)
            elif roll < 0.8:
                del s[i]
            else:
                s.insert(i, rng.choice(alphabet))
        samples.append("".join(s))
    samples += [f"2024-{m:02d}-{d:02d}T00:00:00Z" for m in range(13) for d in range(33)]
    matched = 0
    g = SchemaGuard(obj(at=nullable("string", format="date-time")))
    for text in samples:
        if _DATE_TIME_FAST.fullmatch(text):
            matched += 1
            assert is_date_time(text), text
        row = {"at": text}
        assert g.check(row) is is_date_time(text) is _fits(g.schema, row), text
    assert matched > 500


def test_a_nested_object_past_max_object_keys_widens_to_a_free_form_object() -> None:
    g = SchemaGuard(infer_schema([{"custom": {"a": 1}}]), max_object_keys=3)
    row = {"custom": {"b": 1, "c": "x", "d": None}}
    assert g.changes(row)[0].startswith("'custom': an object with 4 distinct keys")
    assert g.widen(row)["properties"]["custom"] == {"type": ["object", "null"]}
    assert g.check({"custom": {"any": {"deep": [1]}}}) and g.check(row)
    top = SchemaGuard(infer_schema([{"a": 1}]), max_object_keys=1)  # the row: never folded
    assert "properties" in top.widen({"b": 1, "c": 2})


def test_values_deeper_than_the_schema_bound_fit_a_free_form_node() -> None:
    deep: dict = {"k": 1}
    for _ in range(999):
        deep = {"level": deep}
    g = SchemaGuard(infer_schema([{"deep": deep}]))
    assert g.check({"deep": deep}) and g.typed is not None
