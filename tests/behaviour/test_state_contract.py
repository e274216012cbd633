"""The STATE contract, the tap as a real process against the sandbox over real HTTP: a STATE
after every window and never ahead of the rows, runs start at the bookmark (lookback
included), an end_date in the future never moves it past the run, periodic and per-row SDK
STATEs cannot move it (meltano/sdk#1165), SIGTERM/SIGINT keep the last STATE, and exports
saved in flight are reused only for the same request (issue 9)."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    PATHS,
    TapRun,
    assert_no_state_ahead_of_rows,
    discover,
    expected_ids,
    iso,
    parse_messages,
    read_until,
    row_ids,
    run_tap,
    start_tap,
)

START = EPOCH_2026_11_01


def kill_when_in_flight(config: dict, catalog: dict | None = None) -> dict:
    """Run until a STATE holds an export in flight, SIGKILL; return that STATE."""
    process = start_tap(config, catalog=catalog)
    try:
        messages = read_until(
            process,
            lambda m: (
                m["type"] == "STATE"
                and m["value"]["bookmarks"].get("report", {}).get("exports_in_flight")
            ),
        )
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -9  # really killed, not a finished run
    return messages[-1]["value"]


# exports in flight across runs and Meltano's deep merge --------------------------------
def meltano_merge(src: dict, dest: dict) -> dict:
    """Meltano's state merge (meltano.core.utils.merge): ``src`` deep-merged into ``dest``;
    a key ``src`` lacks keeps ``dest``'s value, so a removed entry comes back."""
    for key, value in src.items():
        if isinstance(value, dict):
            merge_into = dest.setdefault(key, {})
            meltano_merge(value, merge_into)
        else:
            dest[key] = value
    return dest


# 3. a setting changed while an export was in flight ---------------------------------------
def test_export_in_flight_for_other_filters_is_not_reused(sandbox, config, catalog):
    sandbox.configure(processing_seconds=60)  # run 1 is killed while its export waits
    first = {**config, "team_ids": ["team_support"], "max_concurrent_exports": 1}
    state = kill_when_in_flight(first, catalog)
    sandbox.configure(processing_seconds=0.2)
    second = {**config, "team_ids": ["team_sales"]}
    run = run_tap(second, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    want = sandbox.expected_rows(START, START + 3 * DAY, team_ids=["team_sales"])
    assert {r["id"] for r in run.records} == {r["id"] for r in want}
    assert {r["teamId"] for r in run.records} == {"team_sales"}
    assert "created for another request" in run.stderr
    assert run.bookmark() == iso(START + 3 * DAY)


def test_result_format_switched_with_an_export_in_flight(sandbox, config, catalog):
    pytest.importorskip("openpyxl")
    sandbox.configure(processing_seconds=60)
    state = kill_when_in_flight({**config, "max_concurrent_exports": 1}, catalog)
    sandbox.configure(processing_seconds=0.2)
    run = run_tap({**config, "result_format": "xlsx"}, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    want = sandbox.expected_rows(START, START + 3 * DAY)
    assert {r["id"] for r in run.records} == {r["id"] for r in want}
    assert run.bookmark() == iso(START + 3 * DAY)


# 4. end_date in the future ----------------------------------------------------------------
def test_future_end_date_never_moves_the_bookmark_past_the_run(sandbox, config):
    now = int(time.time())
    start = now - now % 3600 - DAY
    settings = {
        **config,
        "start_date": iso(start),
        "end_date": iso(now + 2 * DAY),
        "schema_sample_days": 0.1,
    }
    before = time.time()
    first = run_tap(settings)
    after = time.time()
    assert first.returncode == 0, first.stderr
    assert "'end_date'" in first.stderr and "later runs" in first.stderr
    first_end = first.bookmark()
    assert first_end is not None
    bookmark = dt.datetime.fromisoformat(first_end).timestamp()
    settle = 600  # settle_minutes' default
    assert before - settle - 1 <= bookmark <= after - settle
    ids = {r["id"] for r in first.records}
    assert ids == {r["id"] for r in sandbox.expected_rows(start, int(bookmark))}

    sandbox.clear_requests()
    second = run_tap({**settings, "settle_minutes": 0}, state=first.last_state)
    assert second.returncode == 0, second.stderr
    creates = [
        json.loads(r["body"])
        for r in sandbox.requests
        if r["method"] == "POST" and r["path"].endswith("/report/export")
    ]
    sync_starts = sorted(c["start"] for c in creates if c["start"] >= int(bookmark))
    assert sync_starts and sync_starts[0] == int(bookmark)  # resumes where run 1 stopped
    second_end = second.bookmark()
    assert second_end is not None
    end = dt.datetime.fromisoformat(second_end).timestamp()
    assert bookmark + settle - 5 <= end <= time.time()
    got = ids | {r["id"] for r in second.records}
    assert got == {r["id"] for r in sandbox.expected_rows(start, int(end))}


# 5. SIGTERM / SIGINT ----------------------------------------------------------------------
@pytest.mark.parametrize("maps", [None, {"report": {"__alias__": "report"}}], ids=["fast", "sdk"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_keeps_the_last_state_and_exits_non_zero(
    sandbox, config, catalog, signum, maps
):
    sandbox.configure(processing_seconds=2.0)
    config = {**config, "max_concurrent_exports": 1, **({"stream_maps": maps} if maps else {})}
    process = start_tap(config, catalog=catalog)
    try:
        # Signal once window 1 is done: window 2's export is then processing (2 s) and,
        # one export in flight at a time, window 3's can only be created after it.
        before = read_until(
            process,
            lambda m: (
                m["type"] == "STATE"
                and m["value"]["bookmarks"]["report"].get("replication_key_value")
                == iso(START + DAY)
            ),
        )
        process.send_signal(signum)
        out = process.stdout.read()  # (same buffer as above)
        err = process.stderr.read()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signum
    messages = before + parse_messages(out)
    stopped = [line for line in err.splitlines() if "Stopped by" in line]
    assert len(stopped) == 1 and signal.Signals(signum).name in stopped[0], err
    assert "Traceback" not in err
    # the last STATE is valid: no bookmark ahead of its rows
    bookmark = None
    for message in messages:
        if message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"]["report"].get("replication_key_value")
        elif message["type"] == "RECORD" and bookmark is not None:
            assert message["record"]["_loop_window_end"] > bookmark
    assert any(m["type"] == "RECORD" for m in messages)
    # no export created after the signal: none for window 3
    assert not [e for e in sandbox.exports.values() if e["start"] >= START + 2 * DAY]
    last = TapRun(0, "", "", messages).last_state
    assert last is not None
    assert last["bookmarks"]["report"].get("replication_key_value") != iso(START + 3 * DAY)
    sandbox.configure(processing_seconds=0.2)
    after = run_tap(config, state=last, catalog=catalog)
    assert after.returncode == 0, after.stderr
    got = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    got |= {r["id"] for r in after.records}
    assert got == {r["id"] for r in sandbox.expected_rows(START, START + 3 * DAY)}


def test_discover_fixture_is_a_real_catalog(config):
    """The catalog tests above sync with carries the replication key (INCREMENTAL)."""
    catalog = discover(config)
    (entry,) = catalog["streams"]
    assert entry.get("replication_key") == "_loop_window_end" or any(
        m["breadcrumb"] == [] and m["metadata"].get("replication-key") == "_loop_window_end"
        for m in entry["metadata"]
    )


def test_an_entry_brought_back_by_a_state_merge_is_never_reused(sandbox, config, catalog):
    """Run 1 is killed with window 1's export in flight; run 2 finishes (and drops the
    entry); Meltano merging run 2's state into run 1's brings the entry back. Run 3 looks
    back over window 1 after late rows arrived: it must export it anew, not reuse the
    old export (which lacks the late rows)."""
    sandbox.configure(processing_seconds=1)
    first = kill_when_in_flight({**config, "max_concurrent_exports": 1}, catalog)
    (entry,) = first["bookmarks"]["report"]["exports_in_flight"]
    assert entry.startswith(f"{START}/{START + DAY}/")
    sandbox.configure(processing_seconds=0.2)
    second = run_tap(config, state=first, catalog=catalog)
    assert second.returncode == 0, second.stderr
    assert second.last_state is not None
    assert "exports_in_flight" not in second.last_state["bookmarks"]["report"]
    merged = meltano_merge(second.last_state, json.loads(json.dumps(first)))
    assert entry in merged["bookmarks"]["report"]["exports_in_flight"]  # it came back

    sandbox.configure(rows_per_day=96)  # late rows: Loop now holds more for every window
    third = run_tap({**config, "lookback_days": 3}, state=merged, catalog=catalog)
    assert third.returncode == 0, third.stderr
    want = sandbox.expected_rows(START, START + 3 * DAY)
    assert {r["id"] for r in third.records} == {r["id"] for r in want}
    assert "already passed" in third.stderr


def test_entries_from_older_state_are_exported_anew(sandbox, config, catalog):
    """State written before entries carried their request: the window is exported anew."""
    state = {
        "bookmarks": {
            "report": {
                "replication_key": "_loop_window_end",
                "replication_key_value": iso(START + DAY),
                "exports_in_flight": {f"{START + DAY}/{START + 2 * DAY}": "old-export-1"},
            }
        }
    }
    run = run_tap(config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert "older tap-loop state" in run.stderr
    want = sandbox.expected_rows(START + DAY, START + 3 * DAY)
    assert {r["id"] for r in run.records} == {r["id"] for r in want}
    assert not [r for r in sandbox.requests if "old-export-1" in r["path"]]


WINDOW_ENDS = [iso(START + DAY), iso(START + 2 * DAY), iso(START + 3 * DAY)]


def test_a_state_after_every_window_and_never_ahead_of_rows(sandbox, config, catalog):
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    emitted_through = None  # window end of the last record seen so far
    complete = set()
    bookmarks = []
    last_end = None
    for message in run.messages:
        if message["type"] == "RECORD":
            end = message["record"]["_loop_window_end"]
            if last_end is not None and end != last_end:
                complete.add(last_end)
            last_end = emitted_through = end
        elif message["type"] == "STATE":
            bookmark = run.bookmark(message["value"])
            if bookmark is not None and bookmark != iso(START):
                # a bookmark may only name a window whose rows were all emitted before it
                assert bookmark == emitted_through or bookmark in complete, bookmark
                complete.add(bookmark)
            bookmarks.append(bookmark)
    assert [b for b in dict.fromkeys(bookmarks) if b] == WINDOW_ENDS
    assert run.last_state is not None
    state = run.last_state["bookmarks"]["report"]
    assert state["replication_key"] == "_loop_window_end"
    assert state["replication_key_value"] == WINDOW_ENDS[-1]
    assert "exports_in_flight" not in state


def test_incremental_run_starts_at_the_bookmark(sandbox, config, catalog):
    first = run_tap(config, catalog=catalog)
    later = {**config, "end_date": iso(START + 5 * DAY)}
    second = run_tap(later, state=first.last_state, catalog=catalog)
    assert second.returncode == 0, second.stderr
    assert row_ids(second.records) == expected_ids(sandbox, START + 3 * DAY, START + 5 * DAY)
    assert second.bookmark() == iso(START + 5 * DAY)
    creates = [
        r for r in sandbox.requests if r["method"] == "POST" and r["path"].endswith("/export")
    ]
    assert sorted(json.loads(c["body"])["start"] for c in creates[-2:]) == [
        START + 3 * DAY,
        START + 4 * DAY,
    ]


def test_lookback_rereads_before_the_bookmark(sandbox, config, catalog):
    state = {
        "bookmarks": {
            "report": {
                "replication_key": "_loop_window_end",
                "replication_key_value": iso(START + 2 * DAY),
            }
        }
    }
    run = run_tap({**config, "lookback_days": 0.5}, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    ids = row_ids(run.records)
    assert ids == expected_ids(sandbox, START + 2 * DAY - DAY // 2, START + 3 * DAY)
    assert run.bookmark() == iso(START + 3 * DAY)


def test_no_work_when_bookmark_is_at_end(sandbox, config, catalog):
    state = {"bookmarks": {"report": {"replication_key_value": iso(START + 3 * DAY)}}}
    run = run_tap(config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records == [] and run.bookmark() == iso(START + 3 * DAY)
    assert not [r for r in sandbox.requests if r["server"] == "api" and "/api/" in r["path"]]


def test_empty_windows_still_advance_the_bookmark(sandbox, config, catalog):
    run = run_tap({**config, "team_ids": ["team_that_does_not_exist"]}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records == []
    bookmarks = [run.bookmark(s) for s in run.states]
    for end in WINDOW_ENDS:
        assert end in bookmarks


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
