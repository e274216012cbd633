"""Exports in flight (issue: throughput): rows stay in window order, the bookmark never
passes an unfinished window, 429 lowers the number in flight and it recovers."""

from __future__ import annotations

import json

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    assert_no_state_ahead_of_rows,
    expected_ids,
    iso,
    row_ids,
    run_tap,
)

START = EPOCH_2026_11_01


def test_rows_in_window_order_when_later_windows_finish_first(sandbox, config, catalog):
    sandbox.add_fault({"target": "create", "kind": "slow", "seconds": 1.5, "times": 1})
    config = {**config, "end_date": iso(START + 6 * DAY), "max_concurrent_exports": 4}
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert row_ids(run.records) == expected_ids(sandbox, START, START + 6 * DAY)
    ends = [end for s in run.states if (end := run.bookmark(s))]
    assert ends == sorted(ends) and ends[-1] == iso(START + 6 * DAY)
    assert_no_state_ahead_of_rows(run.messages)
    creates = sorted(
        (r["time"], json.loads(r["body"])["start"])
        for r in sandbox.requests
        if r["method"] == "POST"
    )
    first_four = {start for _, start in creates[:4]}
    assert first_four == {START + i * DAY for i in range(4)}  # four created up front


def test_in_flight_exports_are_saved_in_state_as_they_are_created(sandbox, config, catalog):
    config = {**config, "max_concurrent_exports": 3}
    run = run_tap(config, catalog=catalog)
    saved = set()
    for state in run.states:
        saved |= set(state["bookmarks"]["report"].get("exports_in_flight") or {})
    windows = {key.rsplit("/", 1)[0] for key in saved}  # "<start>/<end>/<request>"
    assert windows == {f"{START + i * DAY}/{START + (i + 1) * DAY}" for i in range(3)}


def test_429_lowers_exports_in_flight_and_output_is_unchanged(sandbox, config, catalog):
    sandbox.add_fault(
        {"target": "poll", "kind": "http_status", "status": 429, "retry_after": "0", "times": 6}
    )
    config = {**config, "end_date": iso(START + 6 * DAY), "max_concurrent_exports": 4}
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert "exports in flight lowered 4 -> 2" in run.stderr
    assert row_ids(run.records) == expected_ids(sandbox, START, START + 6 * DAY)
