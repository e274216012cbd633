"""Every network wait ends in time (issue 17), the tap as a process against the sandbox:

- ``request_timeout_seconds`` bounds a whole API call, so an answer that trickles one
  byte a second (headers or body) is cut and retried like any timeout;
- SIGTERM ends the run (exit 143) within 2 s with the last STATE written, even while every
  export in flight hangs on a poll or a download;
- an ``api_url`` nobody answers at (refused, unknown host) fails within about 30 s with
  one line naming the setting and the host.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    TapRun,
    api_calls,
    error_lines,
    expected_ids,
    iso,
    parse_messages,
    run_tap,
    tap_command,
    tap_env,
    wait_until,
)

START = EPOCH_2026_11_01


# -- 1. a whole API call has a deadline ---------------------------------------------------
@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickled_api_answer_is_cut_at_request_timeout_and_retried(
    sandbox, config, catalog, part
):
    """1 byte a second: the status line and headers (about 150 bytes) or the body (about
    60) would hold the call for minutes; requests' timeout only bounds each socket read."""
    one_day = {**config, "end_date": iso(START + DAY), "request_timeout_seconds": 3}
    sandbox.add_fault(
        {"target": "poll", "kind": "trickle", "bytes_per_second": 1, "headers": part == "headers"}
    )
    began = time.monotonic()
    run = run_tap(one_day, catalog=catalog, timeout=45)
    took = time.monotonic() - began
    assert run.returncode == 0, run.stderr
    assert took < 15, took  # cut after about 3 s, then one quick retry
    retries = [line for line in run.stderr.splitlines() if "Retrying GET" in line]
    assert len(retries) == 1, run.stderr
    assert "no complete answer within 3 s ('request_timeout_seconds')" in retries[0]
    assert [r["id"] for r in run.records] == expected_ids(sandbox, START, START + DAY)


def test_an_api_that_always_trickles_fails_with_the_usual_message(sandbox, config, catalog):
    one_day = {
        **config,
        "end_date": iso(START + DAY),
        "request_timeout_seconds": 2,
        "max_request_retries": 1,
    }
    sandbox.add_fault({"target": "create", "kind": "trickle", "bytes_per_second": 1, "times": -1})
    began = time.monotonic()
    run = run_tap(one_day, catalog=catalog, timeout=45)
    assert run.returncode == 1
    assert time.monotonic() - began < 15
    (line,) = error_lines(run.stderr)
    assert "POST /api/v1/report/export still failing after 1 retries" in line
    assert "no complete answer within 2 s ('request_timeout_seconds')" in line
    assert "Traceback" not in run.stderr and run.records == []


# -- 2. SIGTERM ends the run in seconds, whatever the network does -------------------------
def _in_flight(message: dict) -> dict:
    if message["type"] != "STATE":
        return {}
    return message["value"]["bookmarks"].get("report", {}).get("exports_in_flight") or {}


@pytest.mark.parametrize("hang", ["poll", "download"])
def test_sigterm_ends_the_run_within_2_s_while_every_export_hangs(sandbox, config, catalog, hang):
    """Four exports in flight, each stuck in a call that would last a minute (a poll that
    never answers, or a download that stalls mid-body), request_timeout_seconds 30."""
    four = {
        **config,
        "end_date": iso(START + 4 * DAY),
        "max_concurrent_exports": 4,
        "request_timeout_seconds": 30,
    }
    if hang == "poll":
        sandbox.add_fault({"target": "poll", "kind": "delay", "seconds": 60, "times": -1})
    else:
        sandbox.add_fault(
            {
                "target": "download",
                "kind": "delay",
                "seconds": 60,
                "after_fraction": 0.5,
                "times": -1,
            }
        )
    process = subprocess.Popen(
        tap_command(four, catalog=catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tap_env(),
        text=True,
    )
    try:
        assert process.stdout is not None
        before = []
        for line in process.stdout:  # until all four exports are saved in flight
            before.append(json.loads(line))
            if len(_in_flight(before[-1])) == 4:
                break
        wait_until(
            lambda: (
                sum(
                    r["server"] == ("api" if hang == "poll" else "download")
                    and r["method"] == "GET"
                    for r in sandbox.requests
                )
                >= 4
            ),
            "every export's call hanging",
        )
        time.sleep(0.3)  # the calls are in the sandbox's hands
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, err
    assert took < 2.0, f"{took:.1f} s from SIGTERM to exit"
    stopped = [line for line in err.splitlines() if "Stopped by SIGTERM" in line]
    assert len(stopped) == 1, err
    assert "Traceback" not in err
    messages = before + parse_messages(out)
    last = TapRun(0, "", "", messages).last_state
    assert last is not None
    saved = last["bookmarks"]["report"]["exports_in_flight"]
    assert len(saved) == 4  # every export in flight kept for the next run
    # the next run resumes from that STATE: nothing lost, no export created again
    sandbox.clear_faults()
    sandbox.clear_requests()
    after = run_tap(four, state=last, catalog=catalog)
    assert after.returncode == 0, after.stderr
    assert not [r for r in api_calls(sandbox) if r["method"] == "POST"]
    got = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    got |= {r["id"] for r in after.records}
    assert got == {r["id"] for r in sandbox.expected_rows(START, START + 4 * DAY)}


# -- 3. an api_url nobody answers at --------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "host", "why"),
    [
        ("http://127.0.0.1:{port}", "127.0.0.1:{port}", "connection refused"),
        ("https://loop-api.invalid", "loop-api.invalid", "unknown host"),
    ],
    ids=["refused", "unknown-host"],
)
def test_an_unreachable_api_url_fails_within_30_s_with_one_line(config, url, host, why):
    port = _closed_port()
    unreachable = {
        **config,
        "api_url": url.format(port=port),
        "poll_interval_seconds": 5,  # retry waits as in production (backoff from 1 s)
    }
    began = time.monotonic()
    run = run_tap(unreachable, timeout=60)
    took = time.monotonic() - began
    assert run.returncode == 1, run.stderr
    assert took < 35, f"{took:.0f} s"
    (line,) = error_lines(run.stderr)
    assert "'api_url'" in line and host.format(port=port) in line and why in line, line
    assert line.rstrip().endswith("nothing is lost."), line  # whole, not cut mid-word
    assert "Traceback" not in run.stderr
