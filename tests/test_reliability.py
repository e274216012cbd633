"""Reliability under faults (issue: reliability): resume an in-flight export, split a
window that keeps failing, crash points, dead target, full disk, secrets at DEBUG."""

from __future__ import annotations

import json
import resource
import signal
import subprocess

import pytest

from tap_loop.config.settings import load_settings
from tap_loop.loop_api.inflight import request_fingerprint
from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    TOKEN,
    iso,
    parse_messages,
    row_ids,
    run_tap,
    tap_command,
    tap_env,
    wait_until,
)
from tests.test_crash import assert_no_state_ahead_of_rows

START = EPOCH_2026_11_01


def in_flight(state):
    return (state or {}).get("bookmarks", {}).get("report", {}).get("exports_in_flight") or {}


def kill_when(config, catalog, predicate, state=None):
    """Run the tap and SIGKILL it at the first message for which ``predicate`` is true."""
    process = subprocess.Popen(
        tap_command(config, state, catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=tap_env(),
        text=True,
    )
    messages = []
    assert process.stdout is not None
    for line in process.stdout:
        messages.append(json.loads(line))
        if predicate(messages):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    return messages


def last_state(messages):
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else None


def test_a_saved_in_flight_export_is_polled_not_created_again(sandbox, config, catalog):
    sandbox.configure(processing_seconds=3)
    config = {**config, "max_concurrent_exports": 1}
    before = kill_when(config, catalog, lambda ms: bool(in_flight(last_state(ms))))
    state = last_state(before)
    ((key, export_id),) = in_flight(state).items()
    assert key.startswith(f"{START}/{START + DAY}/")  # window, then the request's hash
    sandbox.clear_requests()
    sandbox.configure(processing_seconds=0.2)
    after = run_tap(config, state=state, catalog=catalog)
    assert after.returncode == 0, after.stderr
    api = [r for r in sandbox.requests if "/api/" in r["path"]]
    assert api[0]["method"] == "GET" and api[0]["path"].endswith(export_id)
    creates = [json.loads(r["body"])["start"] for r in api if r["method"] == "POST"]
    assert START not in creates and len(creates) == 2
    assert row_ids(after.records) == [
        r["id"]
        for w in range(3)
        for r in sandbox.expected_rows(START + w * DAY, START + (w + 1) * DAY)
    ]
    assert after.last_state is not None
    assert "exports_in_flight" not in after.last_state["bookmarks"]["report"]


@pytest.mark.parametrize("gone", ["unknown", "expired", "failed"])
def test_a_saved_export_that_is_gone_is_created_again(sandbox, config, catalog, gone):
    config = {**config, "max_concurrent_exports": 1}
    export_id = "does-not-exist"
    if gone != "unknown":
        first = run_tap({**config, "end_date": iso(START + DAY)}, catalog=catalog)
        export_id = first.records[0]["_loop_export_id"]
        sandbox.add_fault({"target": "poll", "kind": gone, "times": 1})
    key = f"{START}/{START + DAY}/{request_fingerprint(load_settings(config))}"
    state = {"bookmarks": {"report": {"exports_in_flight": {key: export_id}}}}
    sandbox.clear_requests()
    run = run_tap(config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    api = [r for r in sandbox.requests if "/api/" in r["path"]]
    assert api[0]["method"] == "GET" and api[0]["path"].endswith(export_id)
    assert run.records[0]["_loop_export_id"] != export_id
    assert run.bookmark() == iso(START + 3 * DAY)


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


CRASH_POINTS = {
    "during a poll": lambda ms: (
        bool(in_flight(last_state(ms))) and not any(m["type"] == "RECORD" for m in ms)
    ),
    "mid-emission": lambda ms: sum(m["type"] == "RECORD" for m in ms) == 70,
    "right after a STATE": lambda ms: (
        ms[-1]["type"] == "STATE" and any(m["type"] == "RECORD" for m in ms)
    ),
    "after the second window": lambda ms: sum(m["type"] == "RECORD" for m in ms) == 98,
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_killed_anywhere_resumes_without_loss(sandbox, config, catalog, point):
    sandbox.configure(processing_seconds=0.5)
    before = kill_when(config, catalog, CRASH_POINTS[point])
    state = last_state(before)
    after = run_tap(config, state=state, catalog=catalog)
    assert after.returncode == 0, after.stderr
    first = [m["record"]["id"] for m in before if m["type"] == "RECORD"]
    second = row_ids(after.records)
    assert set(first) | set(second) == {
        r["id"] for r in sandbox.expected_rows(START, START + 3 * DAY)
    }
    assert after.bookmark() == iso(START + 3 * DAY)


def test_killed_mid_download_resumes_without_loss(sandbox, config, catalog):
    sandbox.add_fault(
        {"target": "download", "kind": "delay", "seconds": 30, "after_fraction": 0.5, "skip": 1}
    )
    process = subprocess.Popen(
        tap_command({**config, "max_concurrent_exports": 1}, None, catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=tap_env(),
    )
    # The second download is the stalled one: wait until its answer has begun.
    wait_until(
        lambda: (
            len([r for r in sandbox.requests if r["server"] == "download" and r["status"]]) >= 2
        ),
        "the stalled download to start answering",
    )
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    before = parse_messages(out.decode())
    sandbox.clear_faults()
    after = run_tap(config, state=last_state(before), catalog=catalog)
    assert after.returncode == 0, after.stderr
    first = [m["record"]["id"] for m in before if m["type"] == "RECORD"]
    assert set(first) | set(row_ids(after.records)) == {
        r["id"] for r in sandbox.expected_rows(START, START + 3 * DAY)
    }


def test_dead_target_exits_nonzero_with_a_clear_message(sandbox, config, catalog):
    process = subprocess.Popen(
        tap_command(config, None, catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tap_env(),
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # the target died
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert b"The target stopped reading" in err


def test_full_disk_exits_nonzero_with_a_clear_message(sandbox, config, catalog):
    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    done = subprocess.run(
        tap_command(config, None, catalog),
        capture_output=True,
        text=True,
        env=tap_env(),
        preexec_fn=small_files,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Could not write the export" in done.stderr and "free disk space" in done.stderr
    states = [m["value"] for m in parse_messages(done.stdout) if m["type"] == "STATE"]
    assert all(not (s["bookmarks"].get("report", {}).get("replication_key_value")) for s in states)


def test_no_secret_in_any_output_at_debug_with_faults(sandbox, config, catalog):
    sandbox.add_fault(
        [
            {"target": "create", "kind": "http_status", "status": 429, "retry_after": "1"},
            {"target": "poll", "kind": "http_status", "status": 503},
            {"target": "download", "kind": "truncate"},
            {"target": "download", "kind": "expire_url", "then": "fresh"},
            {"target": "download", "kind": "reset"},
        ]
    )
    run = run_tap(
        config, catalog=catalog, extra=[], env={"TAP_LOOP_LOG_LEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}
    )
    assert run.returncode == 0, run.stderr
    assert "DEBUG" in run.stderr
    signatures = set()
    for request in sandbox.requests:
        signatures.update(request["query"].get("Signature", []))
    assert signatures
    for text in (run.stdout, run.stderr):
        assert TOKEN not in text
        for signature in signatures:
            assert signature not in text
