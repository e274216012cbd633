"""A hand-edited or corrupt state (``--state`` file): an unusable shape or bookmark stops
the run before any API call with one line naming the state and what to do, exit 1, no
traceback; an unusable saved export is dropped with a log line saying why and its window
exported anew. The tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

import pytest

from tests.helpers import DAY, EPOCH_2026_11_01, api_calls, error_lines, iso, run_tap

START = EPOCH_2026_11_01


@pytest.mark.parametrize(
    ("state", "needle"),
    [
        ({"bookmarks": "report"}, "The state's bookmarks is a string"),
        ({"bookmarks": {"report": "2026-11-02"}}, "The state's bookmarks.report is a string"),
        ({"bookmarks": {"report": [1, 2]}}, "The state's bookmarks.report is a list"),
        ([{"bookmarks": {}}], "The state is a list"),
        (
            {"bookmarks": {"report": {"replication_key_value": "0001-01-01T00:00:00+14:00"}}},
            "is out of range",
        ),
        (
            {"bookmarks": {"report": {"replication_key_value": "last tuesday"}}},
            "is not an ISO 8601 date-time",
        ),
    ],
)
def test_an_unusable_state_stops_with_one_line(sandbox, config, catalog, state, needle):
    run = run_tap(config, state=state, catalog=catalog)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = error_lines(run.stderr)
    assert len(errors) == 1, run.stderr
    assert needle in errors[0] and "meltano state clear" in errors[0]
    assert run.records == [] and api_calls(sandbox) == []


def test_a_start_date_utc_cannot_hold_stops_with_one_line(sandbox, config, catalog):
    config = {**config, "start_date": "9999-12-31T23:59:59-01:00"}
    config.pop("end_date")
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = error_lines(run.stderr)
    assert len(errors) == 1, run.stderr
    assert "Setting 'start_date'" in errors[0] and "year 9999" in errors[0]


@pytest.mark.parametrize(
    ("saved", "why"),
    [
        ({f"{START * 1000}/{(START + DAY) * 1000}/abc": "e1"}, "not two ascending epoch seconds"),
        ({f"-99999999999999/{START + DAY}/abc": "e1"}, "not two ascending epoch seconds"),
        ({f"{START}/{START + DAY}/abc": 17}, "is not a string"),
        ("not an object", "expected an object"),
        (["a", "list"], "expected an object"),
    ],
)
def test_an_unusable_saved_export_is_dropped_with_a_reason(sandbox, config, catalog, saved, why):
    config = {**config, "end_date": iso(START + DAY)}
    state = {"bookmarks": {"report": {"exports_in_flight": saved}}}
    run = run_tap(config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert why in run.stderr
    assert {r["id"] for r in run.records} == {
        r["id"] for r in sandbox.expected_rows(START, START + DAY)
    }
    assert run.last_state is not None
    assert "exports_in_flight" not in run.last_state["bookmarks"]["report"]
    assert run.bookmark() == iso(START + DAY)
