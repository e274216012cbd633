"""A bad setting, a fatal status, a dead target or a full disk: the tap stops before
or at the failure with one clear line naming the setting or status, and a non-zero exit.
Each case runs the tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

import resource
import signal
import subprocess

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    api_calls,
    error_lines,
    iso,
    parse_messages,
    run_tap,
    tap_command,
    tap_env,
)


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


START = EPOCH_2026_11_01


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "'timezone'"),
        ({"end_date": iso(START - DAY)}, "'start_date'"),
        ({"window_days": 0}, "'window_days'"),
        ({"window_days": "-2"}, "'window_days'"),
        ({"start_date": "not a date"}, "start_date"),
        ({"api_token": None}, "api_token"),
    ],
)
def test_bad_config_fails_before_any_api_call(sandbox, config, catalog, change, needle):
    bad = {k: v for k, v in {**config, **change}.items() if v is not None}
    run = run_tap(bad, catalog=catalog)
    assert run.returncode != 0
    assert needle in run.stderr
    assert run.records == [] and api_calls(sandbox) == []


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (400, "check the request settings"),
        (401, "check 'api_token'"),
        (403, "check 'impersonate_user'"),
        (451, "must be verified"),
    ],
)
def test_fatal_status_stops_with_one_clear_line(sandbox, config, catalog, status, advice):
    sandbox.add_fault({"target": "create", "kind": "http_status", "status": status, "times": 99})
    run = run_tap(config, catalog=catalog)
    assert run.returncode != 0
    assert run.records == []
    line = next(line for line in run.stderr.splitlines() if f"HTTP {status}" in line)
    assert "POST /api/v1/report/export" in line and advice in line


# -- errors read the same in every mode -------------------------------------------------
MODES = {
    "discover": ("--discover",),
    "test": ("--test",),
    "sync without catalog": (),
}


@pytest.mark.parametrize("mode", [*MODES, "sync with catalog"])
def test_a_wrong_token_is_one_line_in_every_mode(sandbox, config, catalog, mode):
    bad = {**config, "api_token": "not-the-token-0001"}
    if mode == "sync with catalog":
        run = run_tap(bad, catalog=catalog)
    else:
        run = run_tap(bad, extra=MODES[mode])
    assert run.returncode == 1
    (line,) = error_lines(run.stderr)
    assert "HTTP 401" in line and "check 'api_token'" in line
    assert "Traceback" not in run.stderr and "not-the-token-0001" not in run.stderr


@pytest.mark.parametrize("mode", [*MODES, "sync with catalog"])
def test_an_invalid_setting_is_one_line_in_every_mode(sandbox, config, catalog, mode):
    bad = {**config, "timezone": "Mars/Olympus"}
    run = (
        run_tap(bad, catalog=catalog)
        if mode == "sync with catalog"
        else run_tap(bad, extra=MODES[mode])
    )
    assert run.returncode == 1
    (line,) = error_lines(run.stderr)
    assert line.rsplit("| ", 1)[1].startswith("Setting 'timezone' is invalid")
    assert run.stdout.strip() == "" or "streams" not in run.stdout
    assert "Traceback" not in run.stderr
    assert [r for r in sandbox.requests if "/api/" in r["path"]] == []


def test_the_window_days_pattern_error_reads_like_the_others(sandbox, config, catalog):
    run = run_tap({**config, "window_days": "abc"}, catalog=catalog)
    assert run.returncode == 1
    (line,) = error_lines(run.stderr)
    assert "Setting 'window_days' is invalid ('abc'): expected a number" in line
    assert "does not match" not in run.stderr


def test_an_unknown_setting_warns_with_the_closest_known_one(sandbox, config, catalog):
    run = run_tap({**config, "windows_days": 2, "api_key": "x"}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert "Setting 'windows_days' is not a tap-loop setting" in run.stderr
    assert "did you mean 'window_days'?" in run.stderr
    assert "did you mean 'api_token'?" in run.stderr
