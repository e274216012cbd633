"""Crash safety: SIGKILL the tap mid-window, resume from the last STATE it printed, and
check nothing is lost and only the re-read window repeats; periodic SDK STATEs
(every 10,000 rows) never run ahead of emitted rows (meltano/sdk#1165).

Every test runs on both record paths: the fast path (no stream map) and singer-sdk's
general path (a stream map that changes nothing: an alias to the same name)."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.helpers import DAY, EPOCH_2026_11_01, iso, parse_messages, run_tap, tap_command, tap_env

START = EPOCH_2026_11_01
#: Extra settings that put the tap on each record path.
PATHS = {"fast": {}, "general": {"stream_maps": {"report": {"__alias__": "report"}}}}


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


def assert_no_state_ahead_of_rows(messages):
    """Every row printed after a STATE belongs to a window ending after its bookmark."""
    bookmark = None
    for message in messages:
        if message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"]["report"].get("replication_key_value")
        elif message["type"] == "RECORD" and bookmark is not None:
            assert message["record"]["_loop_window_end"] > bookmark, (bookmark, message)


@pytest.mark.parametrize("path", list(PATHS))
def test_periodic_sdk_state_never_passes_unemitted_rows(sandbox, config, path):
    sandbox.configure(rows_per_day=28800)  # 14,400 rows per half-day window
    run = run_tap(
        {
            **config,
            **PATHS[path],
            "end_date": iso(START + DAY),
            "window_days": 0.5,
            "max_concurrent_exports": 1,
        }
    )
    assert run.returncode == 0, run.stderr
    messages = parse_messages(run.stdout)
    assert len(run.records) > 20000
    # singer-sdk asks for a STATE at rows 10,000 and 20,000 (mid-window) on both paths;
    # the per-row bookmark update is off, so those carry the previous window's end at most:
    assert_no_state_ahead_of_rows(messages)


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


def test_sdk_per_row_increment_cannot_move_the_bookmark(sandbox, config, catalog):
    """The SDK's own per-row state update (the cause of meltano/sdk#1165) is a no-op, on
    the stream as a real catalog configures it (INCREMENTAL, so singer-sdk would call it)."""
    from tap_loop.tap import TapLoop

    state = {
        "bookmarks": {
            "report": {"replication_key": "_loop_window_end", "replication_key_value": iso(START)}
        }
    }
    tap = TapLoop(config={**config, "primary_keys": ["id"]}, state=state, catalog=catalog)
    stream = tap.streams["report"]
    assert stream.replication_method == "INCREMENTAL"
    assert stream.replication_key == "_loop_window_end"
    stream._increment_stream_state({"_loop_window_end": iso(START + 9 * DAY)})
    assert stream.stream_state["replication_key_value"] == iso(START)
    assert "progress_markers" not in stream.stream_state
