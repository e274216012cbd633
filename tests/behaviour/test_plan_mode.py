"""`--plan`: what a run would do, per stream, and what it would cost, printed as text; the
tap as a real process against the sandbox over HTTP, which must see no request at all."""

from __future__ import annotations

import json
import subprocess

import pytest

from tap_loop.config.settings import load_settings
from tap_loop.loop_api.inflight import request_fingerprint
from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    discover,
    error_lines,
    iso,
    tap_command,
    tap_env,
)

START = EPOCH_2026_11_01


def run_plan(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=tap_env(), check=False
    )


def plan(config, state=None, catalog=None, flag="--plan"):
    return run_plan(tap_command(config, state, catalog, [flag]))


def section(text: str, name: str) -> str:
    """The lines of stream ``name``'s part of the plan."""
    part = text.split(f"\nStream {name}:\n", 1)[1]
    return part.split("\n\n", 1)[0]


def assert_nothing_asked_or_written(sandbox, done):
    assert done.returncode == 0, done.stderr
    assert sandbox.requests == []  # no API call: no export, no discovery sample
    assert not any(line.startswith("{") for line in done.stdout.splitlines())  # no message


def test_plan_of_one_stream_says_range_windows_exports_and_costs(sandbox, config):
    done = plan(config, flag="--plan=0.25")  # 0.25 s processing, polled every 0.1 s
    assert_nothing_asked_or_written(sandbox, done)
    report = section(done.stdout, "report")
    assert "  bookmark: none (starts at start_date)" in report
    assert "  range: 2026-11-01T00:00:00+00:00 .. 2026-11-04T00:00:00+00:00" in report
    assert "  windows: 3 of 1 day(s)" in report
    assert "  exports resumed from the state: 0\n  exports created: 3" in report
    # 3 status checks an export (0.1, 0.2, 0.3 s); 2 in flight: 2 waves of 0.3 s
    assert "  API calls: 15 (3 creates, 9 status checks, 3 downloads)" in report
    assert "Loop processes one export in 0.25 s" in done.stdout
    assert "poll_interval_seconds 0.1: a created export is seen done at status check 3" in (
        done.stdout
    )
    assert "max_concurrent_exports 2: one budget for all streams" in done.stdout
    assert done.stdout.rstrip().endswith("wall time about 0.6 s.")


def _reports_config(config):
    return {
        **config,
        "reports": [
            {"name": "support", "team_ids": ["team_support", "team_sales"]},
            {"name": "sales", "team_ids": ["team_sales"]},
        ],
    }


def _support_state(config):
    """support: bookmarked after day 1 with team_support only, day 2's export in flight
    (and one saved for a request this run does not make)."""
    (settings,) = [s for s in load_settings(config).streams() if s.stream == "support"]
    fingerprint = request_fingerprint(settings)
    return {
        "bookmarks": {
            "support": {
                "replication_key": "_loop_window_end",
                "replication_key_value": iso(START + DAY),
                "bookmark_filters": json.dumps({"teamIds": ["team_support"]}),
                "exports_in_flight": {
                    f"{START + DAY}/{START + 2 * DAY}/{fingerprint}": "saved-export-1",
                    f"{START + 2 * DAY}/{START + 3 * DAY}/0123456789ab": "other-request",
                },
            }
        }
    }


def test_plan_of_several_reports_resumes_saved_exports_and_starts_a_new_one_at_start_date(
    sandbox, config
):
    config = _reports_config(config)
    done = plan(config, _support_state(config))
    assert_nothing_asked_or_written(sandbox, done)
    assert done.stdout.index("Stream sales:") < done.stdout.index("Stream support:")  # sync order
    support = section(done.stdout, "support")
    assert "  bookmark: 2026-11-02T00:00:00+00:00" in support
    assert "  range: 2026-11-02T00:00:00+00:00 .. 2026-11-04T00:00:00+00:00" in support
    assert "  windows: 2 of 1 day(s)" in support
    assert "  exports resumed from the state: 1 (1 saved not reusable" in support
    assert "  exports created: 1" in support
    sales = section(done.stdout, "sales")  # added later: its own bookmark, from start_date
    assert "  bookmark: none (starts at start_date)" in sales
    assert "  range: 2026-11-01T00:00:00+00:00 .. 2026-11-04T00:00:00+00:00" in sales
    assert "  exports resumed from the state: 0\n  exports created: 3" in sales
    assert "Run: 2 stream(s), 5 window(s), 1 export(s) resumed, 4 created;" in done.stdout
    assert "Not reusing export other-request" in done.stderr  # the sync's reason, logged


def test_plan_shows_the_filter_change_warning_of_the_stream(sandbox, config):
    config = _reports_config(config)
    done = plan(config, _support_state(config))
    assert_nothing_asked_or_written(sandbox, done)
    support = section(done.stdout, "support")
    assert (
        "  WARNING: The filters of the report 'support' (setting 'reports') now admit rows "
        "the bookmark (2026-11-02T00:00:00+00:00) has already passed (team_ids: added "
        "team_sales)"
    ) in support
    assert "WARNING" not in section(done.stdout, "sales")


def test_plan_sees_the_state_whichever_side_of_it_the_option_stands(sandbox, config):
    config = _reports_config(config)
    after = tap_command(config, _support_state(config), extra=["--plan"])
    before = [*after[:3], "--plan", *after[3:-1]]
    assert before.index("--plan") < before.index("--state") and after[-1] == "--plan"
    outputs = [run_plan(command) for command in (before, after)]
    for done in outputs:
        assert_nothing_asked_or_written(sandbox, done)
        assert "  exports resumed from the state: 1" in section(done.stdout, "support")
    first, second = (done.stdout.split("\n", 1)[1] for done in outputs)  # after the clock
    assert first == second


def test_plan_with_a_catalog_lists_the_selected_streams_and_samples_none(sandbox, config):
    config = _reports_config(config)
    catalog = discover(config)
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "sales":
            root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
            root["metadata"]["selected"] = False
    sandbox.clear_requests()
    done = plan(config, _support_state(config), catalog)
    assert_nothing_asked_or_written(sandbox, done)
    assert "Stream support:" in done.stdout and "Stream sales:" not in done.stdout
    assert "Not selected in the catalog: sales" in done.stdout
    assert "Run: 1 stream(s), 2 window(s), 1 export(s) resumed, 1 created;" in done.stdout


def test_plan_makes_no_discovery_sample_for_a_stream_the_catalog_lacks(sandbox, config):
    config = _reports_config(config)
    catalog = discover(config)
    catalog["streams"] = [e for e in catalog["streams"] if e["tap_stream_id"] == "support"]
    sandbox.clear_requests()
    done = plan(config, None, catalog)
    assert_nothing_asked_or_written(sandbox, done)
    assert "Stream support:" in done.stdout


@pytest.mark.parametrize(
    ("change", "state", "flag", "needle"),
    [
        ({"start_date": "yesterday"}, None, "--plan", "Setting 'start_date'"),
        ({"window_days": 0}, None, "--plan", "Setting 'window_days'"),
        ({}, {"bookmarks": []}, "--plan", "The state's bookmarks is a list"),
        ({}, {"bookmarks": {"report": {"replication_key_value": "soon"}}}, "--plan", "soon"),
        ({}, None, "--plan=abc", "Option --plan=abc is invalid"),
    ],
)
def test_plan_with_a_bad_config_state_or_value_is_one_line(
    sandbox, config, change, state, flag, needle
):
    done = plan({**config, **change}, state, flag=flag)
    assert done.returncode == 1
    (line,) = error_lines(done.stderr)
    assert needle in line
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert sandbox.requests == []


def test_plan_with_a_state_file_that_is_not_json_is_one_line(sandbox, config):
    command = tap_command(config, {}, extra=["--plan"])
    state_file = command[command.index("--state") + 1]
    with open(state_file, "w") as handle:
        handle.write("{not json")
    done = run_plan(command)
    assert done.returncode == 1
    (line,) = error_lines(done.stderr)
    assert "--state file" in line and "is not readable JSON" in line


def test_plan_of_a_ten_year_backfill_of_six_minute_windows_is_quick(sandbox, config):
    config = {**config, "start_date": "2016-11-01T00:00:00Z", "window_days": 0.1 / 24}
    done = plan(config)
    assert_nothing_asked_or_written(sandbox, done)
    windows = (START + 3 * DAY - 1_477_958_400) // 360
    assert f"  windows: {windows} of 6 min" in done.stdout
