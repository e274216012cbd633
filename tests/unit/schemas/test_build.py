"""Key properties (tap_loop.schemas.build): declared non-null and required."""

from __future__ import annotations

import logging

import pytest

from tap_loop.schemas.build import build_schema, with_keys
from tap_loop.schemas.inference import infer_schema
from tap_loop.schemas.row_check import SchemaGuard


def test_keys_are_declared_non_null_and_required() -> None:
    schema = build_schema(infer_schema([{"id": "a", "n": 1}, {"id": "b", "n": None}]), None)
    schema, keys = with_keys(schema, ["id"])
    assert keys == ["id"]
    assert schema["properties"]["id"] == {"type": "string"}
    assert schema["properties"]["n"] == {"type": ["integer", "null"]}
    assert schema["required"] == ["id"]


def test_a_key_the_sample_never_showed_is_a_required_string() -> None:
    schema, _ = with_keys(build_schema(None, None), ["ref"])
    assert schema["properties"]["ref"] == {"type": "string"}
    assert schema["required"] == ["ref"]


def test_a_key_only_ever_null_is_a_string_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    schema = build_schema(infer_schema([{"ref": None}]), None)
    with caplog.at_level(logging.WARNING):
        schema, _ = with_keys(schema, ["ref"])
    assert schema["properties"]["ref"] == {"type": "string"}
    assert "'ref' was null in every row" in caplog.text


def test_no_keys_no_required() -> None:
    schema, keys = with_keys(build_schema(infer_schema([{"a": 1}]), None), [])
    assert keys == []
    assert "required" not in schema


@pytest.mark.parametrize("row", [{"n": 1}, {"id": None, "n": 1}])
def test_a_row_without_its_key_does_not_fit(row: dict[str, object]) -> None:
    schema, _ = with_keys(build_schema(infer_schema([{"id": 1, "n": 1}]), None), ["id"])
    guard = SchemaGuard(schema)
    assert guard.check({"id": 2, "n": 3})
    assert not guard.check(row)
    typed = guard.typed
    assert typed is not None
    assert typed.decode(b'[{"id": 2, "n": 3}]') is not None
    assert typed.decode(b'[{"n": 3}]') is None
    assert typed.decode(b'[{"id": null, "n": 3}]') is None
