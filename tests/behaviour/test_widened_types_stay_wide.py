"""A type widened in one run is never announced narrower in the next (issue: what lands
in the warehouse equals what Loop sent): the stream's state entry keeps what it announced,
and two runs chained by state, each with a fresh discovery, show it."""

from __future__ import annotations

import json

from tests.helpers import DAY, EPOCH_2026_11_01, discover, iso, run_tap

START = EPOCH_2026_11_01
KEY = "announced_schema"


def count_type(schema_message: dict) -> list[str]:
    return schema_message["schema"]["properties"]["countA"]["type"]


def stored_type(state: dict | None) -> list[str] | None:
    assert state is not None
    text = state["bookmarks"]["report"].get(KEY)
    return None if text is None else json.loads(text)["countA"]["type"]


def test_a_widened_type_survives_fresh_discovery_through_the_state(sandbox, config):
    # countA is an integer, except on most of the second day (a number with a fraction).
    sandbox.configure(warehouse_shapes=True, numbers_between=[START + DAY + 3600, START + 2 * DAY])
    first = {**config, "end_date": iso(START + 2 * DAY), "schema_sample_days": 1}
    catalog_1 = discover({**first, "end_date": iso(START + DAY)})
    run_1 = run_tap(first, catalog=catalog_1)
    assert run_1.returncode == 0, run_1.stderr
    assert [count_type(m) for m in run_1.schemas] == [["integer", "null"], ["number", "null"]]
    # Every STATE carrying the wider type comes after the SCHEMA that announced it.
    wide_at = next(
        i
        for i, m in enumerate(run_1.messages)
        if m["type"] == "SCHEMA" and "number" in count_type(m)
    )
    for index, message in enumerate(run_1.messages):
        if message["type"] == "STATE" and stored_type(message["value"]) == ["number", "null"]:
            assert index > wide_at
    assert stored_type(run_1.last_state) == ["number", "null"]

    # Run 2: discovery samples the third day (integers only) and says integer again.
    second = {**config, "end_date": iso(START + 3 * DAY), "schema_sample_days": 1}
    catalog_2 = discover(second)
    entry = next(s for s in catalog_2["streams"] if s["tap_stream_id"] == "report")
    assert entry["schema"]["properties"]["countA"]["type"] == ["integer", "null"]
    run_2 = run_tap(second, state=run_1.last_state, catalog=catalog_2)
    assert run_2.returncode == 0, run_2.stderr
    assert [count_type(m) for m in run_2.schemas] == [["number", "null"]]
    assert f"as an earlier run announced (state bookmarks.report.{KEY})" in run_2.stderr
    assert stored_type(run_2.last_state) == ["number", "null"]
    assert run_2.records and all(isinstance(r["countA"], int) for r in run_2.records)

    # Without the state the same run announces integer: the state is what kept it wide.
    fresh = run_tap({**second, "start_date": iso(START + 2 * DAY)}, catalog=catalog_2)
    assert [count_type(m) for m in fresh.schemas] == [["integer", "null"]]


def test_without_a_catalog_the_first_schema_is_widened_by_the_state(sandbox, config):
    sandbox.configure(warehouse_shapes=True, numbers_between=[START, START + DAY])
    run_1 = run_tap({**config, "end_date": iso(START + DAY)})
    assert run_1.returncode == 0, run_1.stderr
    assert stored_type(run_1.last_state) == ["number", "null"]
    run_2 = run_tap({**config, "end_date": iso(START + 2 * DAY)}, state=run_1.last_state)
    assert run_2.returncode == 0, run_2.stderr
    assert [count_type(m) for m in run_2.schemas] == [["number", "null"]]


def test_a_numeric_field_widened_to_string_is_named_with_what_to_do(sandbox, config):
    """A field announced as a number that then holds strings: the targets cannot load it
    (docs/schema.md), so the run says which field and what to do, once."""
    catalog = discover({**config, "end_date": iso(START + DAY), "schema_sample_days": 1})
    entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == "report")
    entry["schema"]["properties"]["subject"] = {"type": ["number", "null"]}
    run = run_tap({**config, "end_date": iso(START + DAY)}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "now holds a string" in line]
    assert len(warnings) == 1, run.stderr
    assert "'subject' of stream 'report'" in warnings[0]
    assert "str(subject) if subject is not None else None" in warnings[0]
    assert run.schemas[-1]["schema"]["properties"]["subject"]["type"] == [
        "string",
        "number",
        "null",
    ]
