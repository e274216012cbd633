"""Faults Loop may produce, the tap as a real process against the sandbox over HTTP: failed,
expired, undocumented, timed-out and truncated exports and transient HTTP faults are
retried or created again without duplicates; a window that keeps failing is split; a 401
mid-run keeps a valid last STATE (issue: report stream, 'Errors and bad input')."""

from __future__ import annotations

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    api_calls,
    assert_no_state_ahead_of_rows,
    iso,
    row_ids,
    run_tap,
)

START = EPOCH_2026_11_01


def test_a_window_that_keeps_failing_is_split_in_halves(sandbox, config, catalog):
    sandbox.add_fault({"target": "poll", "kind": "failed", "times": 3})
    run = run_tap(
        {**config, "end_date": iso(START + DAY), "max_concurrent_exports": 1}, catalog=catalog
    )
    assert run.returncode == 0, run.stderr
    assert "Splitting window" in run.stderr
    half = START + DAY // 2
    bookmarks = [run.bookmark(s) for s in run.states]
    assert iso(half) in bookmarks and bookmarks[-1] == iso(START + DAY)
    expected = [r["id"] for r in sandbox.expected_rows(START, half)] + [
        r["id"] for r in sandbox.expected_rows(half, START + DAY)
    ]
    assert row_ids(run.records) == expected
    assert_no_state_ahead_of_rows(run.messages)


def test_range_too_large_is_split_too(sandbox, config, catalog):
    sandbox.configure(max_range_days=0.3)
    run = run_tap({**config, "end_date": iso(START + DAY)}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    windows = sorted({(r["_loop_window_start"], r["_loop_window_end"]) for r in run.records})
    assert len(windows) == 4  # 24 h -> 12 h -> 6 h
    assert {r["id"] for r in run.records} == {
        r["id"] for r in sandbox.expected_rows(START, START + DAY)
    }


def test_splitting_stops_at_min_window_with_the_smallest_window_named(sandbox, config, catalog):
    sandbox.add_fault({"target": "poll", "kind": "failed", "times": 999})
    run = run_tap(
        {
            **config,
            "end_date": iso(START + DAY),
            "max_concurrent_exports": 1,
            "min_window_minutes": 360,
        },
        catalog=catalog,
    )
    assert run.returncode != 0
    line = next(line for line in run.stderr.splitlines() if "Giving up on window" in line)
    assert f"[{iso(START)} .. {iso(START + 6 * 3600)}]" in line
    assert "min_window_minutes" in line


def test_401_mid_run_keeps_the_last_state_and_resume_loses_nothing(sandbox, config, catalog):
    config = {**config, "max_concurrent_exports": 1}
    sandbox.add_fault(
        {"target": "create", "kind": "http_status", "status": 401, "skip": 1, "times": 99}
    )
    first = run_tap(config, catalog=catalog)
    assert first.returncode != 0 and "HTTP 401" in first.stderr
    assert first.bookmark() == iso(START + DAY)
    sandbox.clear_faults()
    second = run_tap(config, state=first.last_state, catalog=catalog)
    assert second.returncode == 0, second.stderr
    expected = {r["id"] for r in sandbox.expected_rows(START, START + 3 * DAY)}
    assert set(row_ids(first.records)) | set(row_ids(second.records)) == expected
    assert second.bookmark() == iso(START + 3 * DAY)


def test_failed_export_is_created_again(sandbox, config, catalog):
    sandbox.add_fault({"target": "poll", "kind": "failed", "times": 2})
    run = run_tap({**config, "max_concurrent_exports": 1}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    creates = [r for r in api_calls(sandbox) if r["method"] == "POST"]
    assert len(creates) == 5
    assert len(set(row_ids(run.records))) == len(
        {r["id"] for r in sandbox.expected_rows(START, START + 3 * DAY)}
    )


def test_failed_three_times_stops_with_clear_error(sandbox, config, catalog):
    sandbox.add_fault({"target": "poll", "kind": "failed", "times": 99})
    run = run_tap(
        {**config, "max_concurrent_exports": 1, "min_window_minutes": 1440}, catalog=catalog
    )
    assert run.returncode != 0
    assert "did not complete after 3 attempts" in run.stderr
    creates = [r for r in api_calls(sandbox) if r["method"] == "POST"]
    assert len(creates) == 3
    assert run.bookmark() in (None, iso(START))


def test_expired_before_download_is_created_again(sandbox, config, catalog):
    sandbox.add_fault({"target": "poll", "kind": "expired", "times": 1})
    run = run_tap({**config, "max_concurrent_exports": 1}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.bookmark() == iso(START + 3 * DAY)


@pytest.mark.parametrize("kind", ["truncate", "invalid_json"])
def test_bad_download_is_fetched_again_without_duplicates(sandbox, config, catalog, kind):
    sandbox.add_fault({"target": "download", "kind": kind, "times": 1})
    run = run_tap({**config, "max_concurrent_exports": 1}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    from tests.helpers import expected_ids

    assert row_ids(run.records) == expected_ids(sandbox, START, START + 3 * DAY)
    assert len([r for r in sandbox.requests if r["server"] == "download"]) == 4


def test_undocumented_status_counts_as_not_ready(sandbox, config, catalog):
    sandbox.add_fault(
        {"target": "poll", "kind": "status_literal", "status": "PendingOrExpired", "times": 3}
    )
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert "treated as not ready" in run.stderr


def test_export_timeout_stops_with_clear_error(sandbox, config, catalog):
    sandbox.add_fault({"target": "create", "kind": "slow", "seconds": 30, "times": 99})
    run = run_tap(
        {
            **config,
            "export_timeout_seconds": 1,
            "min_window_minutes": 1440,
            "max_concurrent_exports": 1,
        },
        catalog=catalog,
    )
    assert run.returncode != 0
    assert "export_timeout_seconds" in run.stderr
    assert run.records == []


@pytest.mark.parametrize(
    "fault",
    [
        {"target": "create", "kind": "http_status", "status": 429, "retry_after": "1"},
        {
            "target": "poll",
            "kind": "http_status",
            "status": 429,
            "retry_after": "http-date",
            "retry_after_seconds": 1,
        },
        {"target": "poll", "kind": "http_status", "status": 503},
        {"target": "create", "kind": "http_status", "status": 500},
        {"target": "download", "kind": "http_status", "status": 502},
        {"target": "poll", "kind": "reset"},
    ],
)
def test_transient_faults_are_retried_and_logged(sandbox, config, catalog, fault):
    sandbox.add_fault({**fault, "times": 2})
    run = run_tap({**config, "max_concurrent_exports": 1}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    from tests.helpers import expected_ids

    assert row_ids(run.records) == expected_ids(sandbox, START, START + 3 * DAY)
    assert "Retrying" in run.stderr
