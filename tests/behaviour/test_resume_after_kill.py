"""Crash safety: SIGKILL the tap anywhere (mid-window, mid-download, with an export in
flight), resume from the last STATE it printed, and check nothing is lost and only the
re-read window repeats; a saved export is polled, not created again, unless Loop lost it.

The SIGKILL-mid-window tests run on both record paths: the fast path (no stream map) and
singer-sdk's general path (a stream map that changes nothing: an alias to the same name)."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tap_loop.config.settings import load_settings
from tap_loop.loop_api.inflight import request_fingerprint
from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    PATHS,
    SCRATCH,
    iso,
    parse_messages,
    row_ids,
    run_tap,
    tap_command,
    tap_env,
    wait_until,
)

START = EPOCH_2026_11_01


def run_until(config, stop_after_records, state=None):
    """Run the tap, SIGKILL it once it printed ``stop_after_records`` records."""
    process = subprocess.Popen(
        tap_command(config, state),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=tap_env(),
        text=True,
    )
    messages, records = [], 0
    assert process.stdout is not None
    for line in process.stdout:
        message = json.loads(line)
        messages.append(message)
        if message["type"] == "RECORD":
            records += 1
            if records >= stop_after_records:
                process.send_signal(signal.SIGKILL)
                break
    process.wait(timeout=60)
    assert process.returncode == -9  # really killed: never a plain, finished run
    return messages


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("kill_at", [1, 30, 49, 50, 75, 120])
def test_sigkill_mid_window_then_resume_loses_nothing(sandbox, config, kill_at, path):
    config = {**config, **PATHS[path], "max_concurrent_exports": 2}
    before = run_until(config, kill_at)
    states = [m["value"] for m in before if m["type"] == "STATE"]
    last_state = states[-1] if states else None
    after = run_tap(config, state=last_state)
    assert after.returncode == 0, after.stderr
    first_ids = [m["record"]["id"] for m in before if m["type"] == "RECORD"]
    second_ids = [r["id"] for r in after.records]
    expected = {r["id"] for r in sandbox.expected_rows(START, START + 3 * DAY)}
    assert set(first_ids) | set(second_ids) == expected
    # duplicates only come from the window re-read after the last STATE (or a boundary)
    bookmark = (
        (last_state or {}).get("bookmarks", {}).get("report", {}).get("replication_key_value")
    )
    resume_from = (
        START
        if bookmark is None
        else int(__import__("datetime").datetime.fromisoformat(bookmark).timestamp())
    )
    reread = {r["id"] for r in sandbox.expected_rows(resume_from, resume_from + DAY)}
    assert set(first_ids) & set(second_ids) <= reread
    assert after.bookmark() == iso(START + 3 * DAY)


@pytest.mark.parametrize("path", list(PATHS))
def test_sigkill_after_a_periodic_state_loses_nothing(sandbox, config, path):
    """Killed at row 12,000 of a 14,400-row window, i.e. after singer-sdk's periodic STATE
    at row 10,000: resuming from the last STATE printed still gives every row."""
    sandbox.configure(rows_per_day=28800)
    config = {
        **config,
        **PATHS[path],
        "end_date": iso(START + DAY),
        "window_days": 0.5,
        "max_concurrent_exports": 1,
    }
    before = run_until(config, 12000)
    states = [m["value"] for m in before if m["type"] == "STATE"]
    after = run_tap(config, state=states[-1] if states else None)
    assert after.returncode == 0, after.stderr
    got = {m["record"]["id"] for m in before if m["type"] == "RECORD"}
    got |= {r["id"] for r in after.records}
    assert got == {r["id"] for r in sandbox.expected_rows(START, START + DAY)}


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


def test_a_saved_in_flight_export_is_polled_not_created_again(sandbox, config, catalog):
    sandbox.configure(processing_seconds=1)  # still processing when run 1 is killed
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
    assert SCRATCH.folder is not None
    output = SCRATCH.folder / "killed-stdout.jsonl"  # a file: a pipe would fill and block
    with output.open("wb") as out_file:
        process = subprocess.Popen(
            tap_command({**config, "max_concurrent_exports": 1}, None, catalog),
            stdout=out_file,
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
    process.wait(timeout=30)
    assert process.returncode == -9  # really killed
    before = parse_messages(output.read_text())
    sandbox.clear_faults()
    after = run_tap(config, state=last_state(before), catalog=catalog)
    assert after.returncode == 0, after.stderr
    first = [m["record"]["id"] for m in before if m["type"] == "RECORD"]
    assert set(first) | set(row_ids(after.records)) == {
        r["id"] for r in sandbox.expected_rows(START, START + 3 * DAY)
    }
