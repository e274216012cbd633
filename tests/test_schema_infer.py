"""Schema inference and merging (tap_loop.schemas.inference), and the drift guard
(tap_loop.schemas.row_check)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from tap_loop.core.output import dumps
from tap_loop.schemas.inference import (
    _DATE_TIME_FAST,
    SchemaInferrer,
    infer_schema,
    is_date,
    is_date_time,
    json_type,
    merge_schemas,
)
from tap_loop.schemas.row_check import SchemaGuard, describe_changes
from tap_loop.schemas.row_check import fits as _fits
from tap_loop.schemas.typed_rows import to_builtins
from tests.schema_helpers import new_fields, widened

NULL = "null"


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


# ----------------------------------------------------------------------------- inference


def test_scalars_each_type_and_every_property_nullable() -> None:
    rows = [{"s": "a", "i": 1, "f": 1.5, "d": Decimal("2.25"), "b": True, "n": None}]
    assert infer_schema(rows) == obj(
        s=nullable("string"),
        i=nullable("integer"),
        f=nullable("number"),
        d=nullable("number"),
        b=nullable("boolean"),
        n={"type": "null"},
    )


def test_no_rows_gives_empty_properties() -> None:
    assert infer_schema([]) == {"type": "object", "properties": {}}


def test_nested_objects_recursive_and_nullable() -> None:
    rows: list[dict[str, Any]] = [
        {"meta": {"src": "web", "inner": {"depth": 1}}},
        {"meta": {"src": None, "extra": True}},
        {"meta": None},
    ]
    assert infer_schema(rows) == obj(
        meta=nullable(
            "object",
            properties={
                "src": nullable("string"),
                "inner": nullable("object", properties={"depth": nullable("integer")}),
                "extra": nullable("boolean"),
            },
        )
    )


def test_empty_object_has_empty_properties() -> None:
    assert infer_schema([{"o": {}}]) == obj(o=nullable("object", properties={}))


def test_arrays_of_scalars_objects_empty_and_nested() -> None:
    rows: list[dict[str, Any]] = [
        {
            "tags": ["a", "b"],
            "people": [{"email": "x@example.com"}, {"email": "y@example.com", "cc": True}],
            "empty": [],
            "grid": [[1, 2], [3.5]],
            "mixed_items": [1, None],
        },
        {"tags": [], "people": [], "empty": [], "grid": [[]], "mixed_items": []},
    ]
    assert infer_schema(rows) == obj(
        tags=nullable("array", items={"type": "string"}),
        people=nullable(
            "array",
            items={
                "type": "object",
                "properties": {"email": nullable("string"), "cc": nullable("boolean")},
            },
        ),
        empty=nullable("array", items={}),
        grid=nullable("array", items={"type": "array", "items": {"type": "number"}}),
        mixed_items=nullable("array", items={"type": ["integer", "null"]}),
    )


def test_empty_array_items_refined_by_later_rows() -> None:
    assert infer_schema([{"a": []}, {"a": [1]}]) == obj(
        a=nullable("array", items={"type": "integer"})
    )


def test_null_or_missing_makes_nullable_null_only_field() -> None:
    rows: list[dict[str, Any]] = [{"a": 1, "b": None}, {"b": None}, {"a": None, "c": "x"}]
    assert infer_schema(rows) == obj(
        a=nullable("integer"), b={"type": "null"}, c=nullable("string")
    )


def test_integer_and_number_widen_to_number() -> None:
    rows: list[dict[str, Any]] = [{"x": 1}, {"x": 2.5}, {"x": Decimal("3.1")}]
    assert infer_schema(rows) == obj(x=nullable("number"))
    assert infer_schema([{"x": [1, 2.0]}]) == obj(x=nullable("array", items={"type": "number"}))


def test_bool_is_not_integer() -> None:
    assert infer_schema([{"x": True}, {"x": False}]) == obj(x=nullable("boolean"))
    assert infer_schema([{"x": True}, {"x": 1}]) == obj(x=nullable("integer", "boolean"))
    assert infer_schema([{"x": 1.5}, {"x": False}]) == obj(x=nullable("number", "boolean"))


def test_string_mixes_are_type_lists_string_first() -> None:
    rows = [{"a": 1, "b": "x", "c": {"k": 1}, "d": [1]}, {"a": "1", "b": 2.5, "c": "s", "d": "s"}]
    assert infer_schema(rows) == obj(
        a=nullable("string", "integer"),
        b=nullable("string", "number"),
        c=nullable("string", "object", properties={"k": nullable("integer")}),
        d=nullable("string", "array", items={"type": "integer"}),
    )


def test_other_mixes_are_type_lists() -> None:
    rows: list[dict[str, Any]] = [{"a": {"k": 1}}, {"a": 7}, {"a": [True]}, {"a": False}]
    assert infer_schema(rows) == obj(
        a=nullable(
            "object",
            "array",
            "integer",
            "boolean",
            properties={"k": nullable("integer")},
            items={"type": "boolean"},
        )
    )


def test_date_time_and_date_formats() -> None:
    rows: list[dict[str, Any]] = [
        {
            "ts": "2026-11-01T12:00:00Z",
            "day": "2026-11-01",
            "naive": "2026-11-01T12:00:00",
            "spaced": "2026-11-01 12:00:00Z",
        },
        {
            "ts": "2026-11-01T12:00:00.123456+02:00",
            "day": "2024-02-29",
            "naive": "2026-11-01T13:00:00",
            "spaced": None,
        },
        {"ts": "2026-11-01t12:00:00.5-05:30", "day": None},
    ]
    assert infer_schema(rows) == obj(
        ts=nullable("string", format="date-time"),
        day=nullable("string", format="date"),
        naive=nullable("string"),
        spaced=nullable("string"),
    )


@pytest.mark.parametrize(
    "values",
    [
        ["2026-11-01T12:00:00Z", "not a date"],
        ["2026-11-01T12:00:00Z", "2026-11-01"],
        ["2026-11-01", "2026-11-01T12:00:00Z"],
        ["2026-11-01", ""],
        ["2026-02-30", "2026-11-01"],
    ],
)
def test_mixed_formats_drop_the_format(values: list[str]) -> None:
    assert infer_schema([{"v": v} for v in values]) == obj(v=nullable("string"))


def test_format_kept_beside_other_types_and_in_items() -> None:
    rows: list[dict[str, Any]] = [
        {"v": "2026-11-01T12:00:00Z", "l": ["2026-11-01"]},
        {"v": 5, "l": ["2026-11-02"]},
    ]
    assert infer_schema(rows) == obj(
        v=nullable("string", "integer", format="date-time"),
        l=nullable("array", items={"type": "string", "format": "date"}),
    )


def test_field_names_kept_exactly_and_first_seen_order() -> None:
    rows: list[dict[str, Any]] = [
        {"Zeta": 1, "émoji 🎉": "x", "with space": None},
        {"alpha": 2, "Zeta": 3, "ZETA": 4, "nested": {"b": 1}},
        {"nested": {"a": 2, "b": 3}, "émoji 🎉": "y"},
    ]
    schema = infer_schema(rows)
    assert list(schema["properties"]) == [
        "Zeta",
        "émoji 🎉",
        "with space",
        "alpha",
        "ZETA",
        "nested",
    ]
    assert list(schema["properties"]["nested"]["properties"]) == ["b", "a"]


def test_deterministic_and_type_order_independent_of_value_order() -> None:
    rows = [{"a": 1, "b": {"x": "s"}}, {"a": "s", "b": 3}]
    first = json.dumps(infer_schema(rows))
    assert json.dumps(infer_schema(copy.deepcopy(rows))) == first
    assert infer_schema(rows[::-1])["properties"]["a"] == infer_schema(rows)["properties"]["a"]


def test_incremental_inferrer_matches_and_counts() -> None:
    rows: list[dict[str, Any]] = [{"a": 1}, {"b": [1.5]}, {"a": "x"}]
    inferrer = SchemaInferrer()
    for row in rows:
        inferrer.add(row)
    assert inferrer.rows == 3
    assert inferrer.schema() == infer_schema(rows)
    first = inferrer.schema()
    first["properties"]["a"]["type"].append("boolean")  # a new dict each call
    assert inferrer.schema() == infer_schema(rows)


def test_non_json_values_and_rows_are_refused() -> None:
    with pytest.raises(TypeError, match="not a JSON value: datetime"):
        infer_schema([{"a": dt.datetime(2026, 1, 1)}])
    with pytest.raises(TypeError, match="must be a JSON object"):
        SchemaInferrer().add([1, 2])  # type: ignore[arg-type]  # the wrong type on purpose


def test_json_type() -> None:
    values: tuple[Any, ...] = (None, True, 1, 1.0, Decimal("1"), "", {}, [], ())
    assert [json_type(v) for v in values] == [
        "null", "boolean", "integer", "number", "number", "string", "object", "array", "array",
    ]  # fmt: skip

    class Sub(int):
        pass

    assert json_type(Sub(3)) == "integer"
    with pytest.raises(TypeError):
        json_type(object())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01T12:00:00Z", True),
        ("2026-11-01t12:00:00z", True),
        ("2026-11-01T12:00:00+02:00", True),
        ("2026-11-01T12:00:00-23:59", True),
        ("2026-11-01T12:00:00.1Z", True),
        ("2026-11-01T12:00:00.123456789+05:30", True),
        ("2024-02-29T23:59:59Z", True),
        ("2000-02-29T00:00:00Z", True),
        ("2026-11-01T12:00:00", False),  # naive: zone unknown
        ("2026-11-01 12:00:00Z", False),
        ("2026-11-01T12:00Z", False),
        ("2026-11-01T24:00:00Z", False),
        ("2026-11-01T12:60:00Z", False),
        ("2026-11-01T12:00:60Z", False),  # leap second: Python cannot parse it
        ("2026-11-01T12:00:00.Z", False),
        ("2026-11-01T12:00:00+24:00", False),
        ("2026-11-01T12:00:00+0100", False),
        ("2026-11-01T12:00:00ZZ", False),
        ("2026-02-29T00:00:00Z", False),
        ("1900-02-29T00:00:00Z", False),
        ("2026-04-31T00:00:00Z", False),
        ("2026-13-01T00:00:00Z", False),
        ("\u0662\u0660\u0662\u0666-11-01T12:00:00Z", False),  # non-ASCII digits
        ("2026-11-01T12:00:00.\u0661Z", False),  # ARABIC-INDIC DIGIT ONE
        ("20261101T120000Z", False),
        ("", False),
        ("x" * 25, False),
    ],
)
def test_is_date_time(text: str, expected: bool) -> None:
    assert is_date_time(text) is expected
    assert is_date_time(text) is expected  # second call answers from the cache


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", True),
        ("2024-02-29", True),
        ("2026-12-31", True),
        ("2026-02-29", False),
        ("2026-11-31", False),
        ("2026-00-10", False),
        ("2026-11-1", False),
        ("2026/11/01", False),
        ("2026-11-01T", False),
        ("26-11-01", False),
        ("", False),
    ],
)
def test_is_date(text: str, expected: bool) -> None:
    assert is_date(text) is expected
    assert is_date(text) is expected


def test_inferred_schema_validates_its_rows() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1, "b": "2026-11-01T12:00:00Z", "c": [{"x": 1}, None], "d": Decimal("1.5")},
        {"a": "x", "b": None, "c": [], "d": 2, "e": {"f": [True, 1]}},
    ]
    assert_valid(infer_schema(rows), rows)


# ------------------------------------------------------------------------------- merging


def test_merge_types_widen() -> None:
    assert merge_schemas({"type": "integer"}, {"type": ["number", "null"]}) == nullable("number")
    assert merge_schemas({"type": "boolean"}, {"type": "integer"}) == {
        "type": ["integer", "boolean"]
    }
    assert merge_schemas({"type": "integer"}, {"type": "string"}) == {"type": ["string", "integer"]}
    assert merge_schemas({"type": ["string"]}, {"type": ["string"]}) == {"type": "string"}


def test_merge_formats() -> None:
    dt_s = {"type": "string", "format": "date-time"}
    assert merge_schemas(dt_s, dt_s) == dt_s
    assert merge_schemas(dt_s, {"type": "string", "format": "date"}) == {"type": "string"}
    assert merge_schemas(dt_s, {"type": "string"}) == {"type": "string"}
    assert merge_schemas(dt_s, {"type": "null"}) == nullable("string", format="date-time")
    assert merge_schemas({"type": "integer"}, dt_s) == {
        "type": ["string", "integer"],
        "format": "date-time",
    }


def test_merge_properties_union_in_order() -> None:
    a = obj(x=nullable("integer"), y=nullable("string"))
    b = obj(z=nullable("boolean"), x=nullable("number"))
    assert merge_schemas(a, b) == obj(
        x=nullable("number"), y=nullable("string"), z=nullable("boolean")
    )


def test_merge_free_form_object_and_any_absorb() -> None:
    typed = nullable("object", properties={"k": nullable("integer")})
    assert merge_schemas(typed, {"type": "object"}) == nullable("object")
    assert merge_schemas({"type": "integer"}, {}) == {}
    assert merge_schemas({"description": "anything"}, {"type": "integer"}) == {
        "description": "anything"
    }
    assert merge_schemas(
        nullable("array", items={"type": "integer"}), {"type": "array", "items": {}}
    ) == nullable("array", items={})


def test_merge_items_and_one_sided_parts() -> None:
    a = nullable("array", items={"type": "integer"})
    b = {"type": "array", "items": {"type": ["string", "null"]}}
    assert merge_schemas(a, b) == nullable("array", items={"type": ["string", "integer", "null"]})
    c = {"type": "object", "properties": {"k": {"type": "string"}}}
    assert merge_schemas({"type": "integer"}, c) == {
        "type": ["object", "integer"],
        "properties": {"k": {"type": "string"}},
    }


def test_merge_keywords_and_required_and_no_aliasing() -> None:
    a: dict[str, Any] = {
        "type": "object",
        "properties": {"k": {"type": "string"}},
        "required": ["k", "j"],
    }
    b = {"type": "object", "properties": {}, "required": ["j"], "description": "B"}
    merged = merge_schemas(a, b)
    assert merged == {
        "description": "B",
        "required": ["j"],
        "type": "object",
        "properties": {"k": {"type": "string"}},
    }
    merged["properties"]["k"]["type"] = "integer"
    assert a["properties"]["k"] == {"type": "string"}


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


@pytest.mark.parametrize("seed", range(30))
def test_merge_of_inferred_halves_equals_inference_of_all(seed: int) -> None:
    rng = random.Random(seed)
    rows = [_random_row(rng) for _ in range(rng.randint(1, 12))]
    cut = rng.randint(0, len(rows))
    merged = merge_schemas(infer_schema(rows[:cut]), infer_schema(rows[cut:]))
    assert_valid(merged, rows)
    # Equal except where an array was seen only empty on one side (its items: any).
    assert json.dumps(merged, sort_keys=True) == json.dumps(
        infer_schema(rows), sort_keys=True
    ) or '"items": {}' in json.dumps(merged)


# --------------------------------------------------------------------------------- guard

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


# ------------------------------------------------- generated check == reference check

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


# -------------------------------------------------- typed rows == reference check

_EXACT = (type(None), bool, int, float, str, dict, list)


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


def _assert_typed_agrees(g: SchemaGuard, rows: list[Any]) -> bool:
    """Typed decoding accepts a JSON array exactly when every row (as parsed) fits, and
    then gives the same values, in the schema's order, written as the dicts would be."""
    text = _json_text(rows)
    if text is None:
        return False
    parsed = json.loads(text)
    assert g.typed is not None
    typed = g.typed.decode(text)
    expected = all(_fits(g.schema, row) for row in parsed)
    assert (typed is not None) is expected, (g.schema, parsed)
    if typed is None:
        return False
    order = list(g.schema["properties"])
    for struct, row in zip(typed, parsed, strict=True):
        as_dict = to_builtins(struct)
        assert _same(as_dict, row)  # types too: 3 stays 3, not 3.0
        assert list(as_dict) == [key for key in order if key in row]  # the schema's order
        assert dumps(struct) == dumps(as_dict)
        assert json.loads(dumps(struct)) == row
    return True


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
    good = {"events": [{"at": "2026-11-01T12:00:00Z", "n": 10**30, "x": 3, "by": {"e": "x"}}]}
    leap = {"events": [{"at": "2024-02-29T00:00:00Z", "x": 2.5}], "day": "2024-02-29"}
    rows = [good, {}, {"events": None}, {"events": []}, leap, {"day": "2026-11-01"}]
    decoded = typed.decode(orjson_like(rows))
    assert decoded is not None and [to_builtins(row) for row in decoded] == rows
    assert (
        dumps(decoded[0])
        == b'{"events":[{"at":"2026-11-01T12:00:00Z","n":%d,"x":3,' % (10**30)
        + b'"by":{"e":"x"}}]}'
    )  # 3 stays an integer, 10**30 exact
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
    set_origin(decoded)
    assert to_builtins(decoded[1]) == {"day": "2026-11-02"}


def test_no_typed_rows_for_schemas_msgspec_cannot_say() -> None:
    assert SchemaGuard({"type": "object", "properties": {1: {"type": "integer"}}}).typed is None
    assert SchemaGuard(obj(a={"type": "email"})).typed is None
    assert SchemaGuard(obj(a={"type": []})).typed is None
    assert SchemaGuard({"type": "object"}).typed is None  # every row fits: no check at all
    assert SchemaGuard(obj(**{'q"uote': {"type": "integer"}})).typed is None  # msgspec: no


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


# ------------------------------------------------ column-wise inference == row by row


@pytest.mark.parametrize("seed", range(40))
def test_inference_by_columns_equals_row_by_row(seed: int) -> None:
    """``add_rows`` (a batch at a time, column by column) infers exactly what ``add``
    row by row does: the same schema, property order included, and the same key
    candidates (fields never null)."""
    from tap_loop.schemas.sample import Sample

    rng = random.Random(3000 + seed)
    if seed % 2:
        schema = infer_schema([_random_row(rng) for _ in range(5)])
        rows = [_random_fitting(rng, schema) for _ in range(rng.randint(1, 60))]
        rows = [row for row in rows if isinstance(row, dict) and _json_text([row])]
    else:
        rows = [_random_row(rng) for _ in range(rng.randint(1, 60))]
    one_by_one, by_columns = SchemaInferrer(), SchemaInferrer()
    sample_rows, sample_columns = Sample(), Sample()
    for row in rows:
        one_by_one.add(row)
        sample_rows.add(row)
    at = 0
    while at < len(rows):
        size = rng.choice([1, 2, 7, 100])
        by_columns.add_rows(rows[at : at + size])
        sample_columns.add_rows(rows[at : at + size])
        at += size
    assert json.dumps(by_columns.schema()) == json.dumps(one_by_one.schema())
    assert by_columns.rows == one_by_one.rows == len(rows)
    assert sample_columns.never_null == sample_rows.never_null
    assert json.dumps(sample_columns.inferrer.schema()) == json.dumps(one_by_one.schema())
