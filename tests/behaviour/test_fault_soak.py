"""Fault soak: 32 windows with faults drawn from a fixed seed; the rows must equal a
fault-free run's, the bookmark must reach the end, and every retry must stay in bounds.
Prints the fault matrix (the README's Reliability section quotes a run of it)."""

from __future__ import annotations

import collections
import re

from tests.helpers import DAY, EPOCH_2026_11_01, iso, run_tap

START = EPOCH_2026_11_01
END = START + 8 * DAY

FAULTS = [
    {"kind": "http_status", "status": 429, "retry_after": "1"},
    {"kind": "http_status", "status": 429, "retry_after": "30"},  # capped by the tap
    {"kind": "http_status", "status": 429, "retry_after": "http-date", "retry_after_seconds": 1},
    {"kind": "http_status", "status": 500},
    {"kind": "http_status", "status": 502},
    {"kind": "http_status", "status": 503},
    {"kind": "http_status", "status": 504},
    {"kind": "reset"},
    {"kind": "delay", "seconds": 2.5},  # longer than request_timeout_seconds: read timeout
    {"target": "download", "kind": "truncate"},
    {"target": "download", "kind": "invalid_json"},
    {"target": "download", "kind": "expire_url", "then": "fresh"},
    {"target": "poll", "kind": "failed"},
    {"target": "poll", "kind": "expired"},
    {"target": "poll", "kind": "status_literal", "value": "PendingOrExpired"},
    {"target": "create", "kind": "slow", "seconds": 1},
]


def test_fault_soak(sandbox, config, catalog, capsys):
    config = {
        **config,
        "end_date": iso(END),
        "window_days": 0.25,
        "max_concurrent_exports": 4,
        "request_timeout_seconds": 1,
        "max_retry_wait_seconds": 2,
        "max_request_retries": 8,
        "poll_interval_seconds": 0.1,
    }
    sandbox.set_random_faults({"seed": 20261127, "rate": 0.3, "kinds": FAULTS})
    run = run_tap(config, catalog=catalog, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]

    expected = {r["id"]: r for r in sandbox.expected_rows(START, END)}
    got: dict[str, dict] = {}
    for record in run.records:
        row = {k: v for k, v in record.items() if not k.startswith("_loop_")}
        got.setdefault(row["id"], row)
        assert row == expected[row["id"]]
    assert set(got) == set(expected)
    assert run.bookmark() == iso(END)

    retries = re.findall(r"Retrying .*? in ([0-9.]+) s \(retry (\d+) of (\d+)\): (.*)", run.stderr)
    assert retries
    for wait, number, bound, _reason in retries:
        assert float(wait) <= 2.0 and int(number) <= int(bound) == 8

    matrix = collections.Counter(
        (r["server"], r["fault"] + (f" {r['status']}" if r["fault"] == "http_status" else ""))
        for r in sandbox.requests
        if r.get("fault")
    )
    windows = len({(r["_loop_window_start"], r["_loop_window_end"]) for r in run.records})
    with capsys.disabled():
        print(
            f"\nsoak: {len(run.records)} records, {windows} windows with rows, "
            f"{len(sandbox.requests)} requests, {sum(matrix.values())} faults, "
            f"{len(retries)} retries logged"
        )
        for (server, kind), count in sorted(matrix.items()):
            print(f"  {server:8} {kind:16} {count}")
    assert sum(matrix.values()) >= 30
    assert len(matrix) >= 10
