"""Schema inference and merging (tap_loop.schemas.inference), row by row and by columns."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from tap_loop.schemas.inference import (
    SchemaInferrer,
    infer_schema,
    is_date,
    is_date_time,
    json_type,
    merge_schemas,
)
from tests.schema_helpers import (
    _json_text,
    _random_fitting,
    _random_row,
    assert_valid,
    nullable,
    obj,
)

_EXACT = (type(None), bool, int, float, str, dict, list)


def test_scalars_each_type_and_every_property_nullable() -> None:
    rows: list[dict[str, Any]] = [
        {"s": "a", "i": 1, "f": 1.5, "d": Decimal("2.25"), "b": True, "n": None}
    ]
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
        grid=nullable("array"),  # an array of arrays: free-form, stored as JSON
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
    rows: list[dict[str, Any]] = [
        {"a": 1, "b": "x", "c": {"k": 1}, "d": [1]},
        {"a": "1", "b": 2.5, "c": "s", "d": "s"},
    ]
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
    rows: list[dict[str, Any]] = [{"a": 1, "b": {"x": "s"}}, {"a": "s", "b": 3}]
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
        SchemaInferrer().add([1, 2])  # type: ignore[arg-type]


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


@pytest.mark.parametrize("seed", range(30))
def test_merge_of_inferred_halves_equals_inference_of_all(seed: int) -> None:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = [_random_row(rng) for _ in range(rng.randint(1, 12))]
    cut = rng.randint(0, len(rows))
    merged = merge_schemas(infer_schema(rows[:cut]), infer_schema(rows[cut:]))
    assert_valid(merged, rows)
    # Equal except where an array was seen only empty on one side (its items: any).
    assert json.dumps(merged, sort_keys=True) == json.dumps(
        infer_schema(rows), sort_keys=True
    ) or '"items": {}' in json.dumps(merged)


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
