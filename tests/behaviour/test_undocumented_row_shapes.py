"""Rows whose shape Loop does not document (issue 17): objects whose keys differ from row
to row, nesting 1,000 levels deep, and Loop fields named like the tap's own. Each case
runs the tap as a real process against the sandbox over HTTP; every value must leave the
tap exactly as the sandbox sent it."""

from __future__ import annotations

import sys
import time

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    PATHS,
    assert_records_fit_their_schema,
    discover,
    iso,
    run_tap,
)

START = EPOCH_2026_11_01
END = START + 3 * DAY


def sent_rows(sandbox) -> dict[str, dict]:
    """The rows of the three one-day windows by id (a boundary row is in two windows)."""
    rows: dict[str, dict] = {}
    for day in range(3):
        for row in sandbox.expected_rows(START + day * DAY, START + (day + 1) * DAY):
            rows[row["id"]] = row
    return rows


# -- objects keyed by name or id ----------------------------------------------------------
@pytest.mark.parametrize("with_catalog", [True, False], ids=["drift", "no catalog"])
def test_custom_fields_keyed_by_id_become_one_free_form_object(
    sandbox, config, catalog, with_catalog
):
    """6,000 rows, each with 3 custom field keys no other row has: a few seconds, a
    bounded number of SCHEMA messages (the catalog, discovered before the field existed,
    widens until the object passes max_object_keys; without a catalog, the first window's
    rows show it at once), every value as sent."""
    sandbox.configure(rows_per_day=2000, custom_fields=3)
    began = time.monotonic()
    run = run_tap(config, catalog=catalog if with_catalog else None, timeout=120)
    seconds = time.monotonic() - began
    assert run.returncode == 0, run.stderr[-3000:]
    assert seconds < 60, seconds  # was not done after 120 s
    sent = sent_rows(sandbox)
    assert len(sent) >= 6000
    got = {r["id"]: r for r in run.records}
    assert got.keys() == sent.keys()
    assert all(got[key]["customFields"] == row["customFields"] for key, row in sent.items())
    big = [v for r in got.values() for v in r["customFields"].values() if type(v) is int]
    assert any(value > 2**64 for value in big)  # beyond 64 bits, exact
    schemas = run.schemas
    assert len(schemas) <= (1 + 100 // 3 + 1 if with_catalog else 1), len(schemas)
    field = schemas[-1]["schema"]["properties"]["customFields"]
    assert field == {"type": ["object", "null"]}  # free-form: targets store it as JSON
    assert run.stderr.count("'customFields': an object with") == 1
    assert "more than max_object_keys (100)" in run.stderr
    assert_records_fit_their_schema(run.messages)


def test_discovery_announces_many_keyed_objects_free_form(sandbox, config):
    sandbox.configure(custom_fields=3)
    schema = discover({**config, "max_object_keys": 50})["streams"][0]["schema"]
    assert schema["properties"]["customFields"] == {"type": ["object", "null"]}
    assert "properties" in schema["properties"]["customer"]  # ordinary objects keep theirs


# -- nesting 1,000 levels deep -------------------------------------------------------------
def depth(value: dict) -> int:
    levels = 0
    while isinstance(value, dict) and "level" in value:
        value, levels = value["level"], levels + 1
    return levels + 1


@pytest.fixture
def deep_json():
    """The test's own json.loads (parse_messages) reads 1,000 levels too."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    yield
    sys.setrecursionlimit(limit)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("with_catalog", [True, False], ids=["discovered", "no catalog"])
def test_rows_nested_1000_levels_deep_go_out_exactly(
    sandbox, config, deep_json, path, with_catalog
):
    sandbox.configure(deep_nesting=1000)
    settings = {**config, **PATHS[path]}
    catalog = discover(settings) if with_catalog else None  # was a RecursionError traceback
    run = run_tap(settings, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    sent = sent_rows(sandbox)
    got = {r["id"]: r for r in run.records}
    assert got.keys() == sent.keys()
    assert all(got[key]["deep"] == row["deep"] for key, row in sent.items())
    assert {depth(r["deep"]) for r in got.values()} == {1000}
    assert_records_fit_their_schema(run.messages)
    # the schema stops at a bounded depth: below it, any JSON
    node, levels = run.schemas[-1]["schema"]["properties"]["deep"], 0
    while "properties" in node:
        node, levels = node["properties"]["level"], levels + 1
    assert node == {"type": ["object", "null"]} and 0 < levels < 40
    if not with_catalog:  # (else discovery said it)
        assert "nested deeper than 32 levels" in run.stderr


# -- Loop fields named like the tap's --------------------------------------------------------
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("with_catalog", [True, False], ids=["discovered", "no catalog"])
def test_a_loop_field_named_like_the_taps_is_kept_under_its_source_name(
    sandbox, config, path, with_catalog
):
    sandbox.configure(tap_named_fields=True)
    settings = {**config, **PATHS[path]}
    catalog = discover(settings) if with_catalog else None
    run = run_tap(settings, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    sent = sent_rows(sandbox)
    assert {r["id"] for r in run.records} == sent.keys()
    for record in run.records:
        loop = sent[record["id"]]
        for name in ("_loop_window_start", "_loop_window_end", "_loop_export_id"):
            assert record[f"_loop_source_{name}"] == loop[name]  # Loop's value, kept
        # the tap's own: the window and export the row came from
        assert record["_loop_window_end"] in {iso(START + d * DAY) for d in (1, 2, 3)}
        assert not record["_loop_export_id"].startswith("loop-")
    properties = run.schemas[-1]["schema"]["properties"]
    assert properties["_loop_source__loop_window_end"]["type"] == ["string", "null"]
    assert properties["_loop_window_end"]["type"] == ["string"]
    if with_catalog:  # discovery named them already: no drift
        assert len(run.schemas) == 1
    assert_records_fit_their_schema(run.messages)
