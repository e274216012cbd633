"""The announced schema kept in a stream's state entry: widens, never narrows."""

from __future__ import annotations

import json
import logging

import pytest

from tap_loop.schemas.announced import STATE_KEY, remember, stored, widened

INT = {"type": ["integer", "null"]}
NUM = {"type": ["number", "null"]}
TAP = {"_loop_window_end": {"type": ["string"], "format": "date-time"}}


def schema(**props):
    return {"type": "object", "properties": {**props, **TAP}}


def entry_of(**props):
    entry: dict = {}
    remember(entry, schema(**props))
    return entry


def test_remember_stores_one_json_string_without_the_tap_fields():
    entry = entry_of(countA=NUM, name={"type": ["string", "null"]})
    assert isinstance(entry[STATE_KEY], str)
    assert json.loads(entry[STATE_KEY]) == {"countA": NUM, "name": {"type": ["string", "null"]}}
    assert list(json.loads(entry[STATE_KEY])) == ["countA", "name"]  # column order kept


def test_a_type_widened_before_is_not_announced_narrower():
    new, changes = widened(schema(countA=INT), entry_of(countA=NUM), "report")
    assert new["properties"]["countA"] == NUM
    assert changes == ["'countA': integer|null -> number|null"]


def test_nothing_changes_when_the_catalog_is_as_wide():
    catalog = schema(countA=NUM)
    new, changes = widened(catalog, entry_of(countA=INT), "report")
    assert new == catalog and changes == []
    assert widened(catalog, {}, "report") == (catalog, [])


def test_widening_unites_types_it_never_takes_one_side():
    new, _ = widened(schema(v={"type": ["string", "null"]}), entry_of(v=NUM), "report")
    assert new["properties"]["v"] == {"type": ["string", "number", "null"]}


def test_nested_fields_widen_too():
    old = {"type": ["object", "null"], "properties": {"n": INT}}
    wide = {"type": ["object", "null"], "properties": {"n": NUM, "m": INT}}
    new, _ = widened(schema(sla=old), entry_of(sla=wide), "report")
    assert new["properties"]["sla"]["properties"] == {"n": NUM, "m": INT}


def test_a_field_the_catalog_lacks_is_added_unless_fields_are_pinned():
    entry = entry_of(countA=NUM, gone=INT)
    new, changes = widened(schema(countA=NUM), entry, "report")
    assert new["properties"]["gone"] == INT and changes == ["new field 'gone': integer|null"]
    pinned, changes = widened(schema(countA=NUM), entry, "report", pinned=True)
    assert "gone" not in pinned["properties"] and changes == []


def test_schema_overrides_keep_precedence():
    pin = {"type": ["string", "null"]}
    new, changes = widened(schema(price=pin), entry_of(price=NUM), "report", overrides={"price"})
    assert new["properties"]["price"] == pin and changes == []


def test_tap_fields_are_never_taken_from_the_state():
    entry = {STATE_KEY: json.dumps({"_loop_window_end": {"type": ["integer"]}})}
    assert widened(schema(), entry, "report")[1] == []


@pytest.mark.parametrize("value", ["{not json", "[1]", '{"a": 1}', 5, {"countA": NUM}])
def test_an_unreadable_value_is_ignored_with_a_warning(value, caplog):
    caplog.set_level(logging.WARNING)
    catalog = schema(countA=INT)
    assert widened(catalog, {STATE_KEY: value}, "sales") == (catalog, [])
    assert "bookmarks.sales.announced_schema" in caplog.text
    assert stored({STATE_KEY: value}, "sales") is None


def _deep_merge(base: dict, update: dict) -> dict:
    """Meltano's ``--state-strategy merge``: objects merge key by key, other values replace."""
    out = dict(base)
    for key, value in update.items():
        out[key] = (
            _deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def test_a_deep_merge_of_two_runs_states_keeps_one_runs_value_whole():
    older = {"bookmarks": {"report": entry_of(countA=NUM, a=INT)}}
    newer = {"bookmarks": {"report": entry_of(countA=NUM, b=INT)}}
    merged = _deep_merge(older, newer)["bookmarks"]["report"][STATE_KEY]
    assert merged == newer["bookmarks"]["report"][STATE_KEY]


def test_a_numeric_or_boolean_field_widened_to_string_is_named(caplog):
    from tap_loop.schemas.unloadable import to_string, warn

    old = schema(price=NUM, flag={"type": ["boolean", "null"]}, note={"type": ["string", "null"]})
    new = schema(
        price={"type": ["string", "number", "null"]},
        flag={"type": ["boolean", "string", "null"]},
        note={"type": ["string", "number", "null"]},
        fresh={"type": ["string", "null"]},
    )
    assert to_string(old, new) == ["price", "flag"]
    assert to_string(old, schema(price=NUM)) == []
    caplog.set_level(logging.WARNING)
    warn("price", "report")
    assert "'price' of stream 'report'" in caplog.text
    assert "str(price) if price is not None else None" in caplog.text
