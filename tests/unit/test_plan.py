"""``--plan`` (tap_loop.plan): the estimate's arithmetic, and each stream's plan computed
from a tap built in this process, reading its state only. No process, no HTTP: the API
URL is a closed port, so any call would fail the test."""

from __future__ import annotations

import copy
import datetime as dt
import json
import typing as t

import pytest

from tap_loop.config.settings import load_settings
from tap_loop.core.errors import LoopTapError
from tap_loop.first_schema import FirstSchema
from tap_loop.loop_api.inflight import request_fingerprint
from tap_loop.loop_api.windows import WindowPlan, plan_windows, to_iso
from tap_loop.plan import (
    PROCESSING_SECONDS,
    Assumptions,
    Calls,
    StreamPlan,
    _duration,
    plan_stream,
    planning,
    processing_seconds,
    render,
)
from tap_loop.tap import TapLoop

if t.TYPE_CHECKING:
    from tap_loop.stream import ReportStream

DAY = 86400
T0 = 1_793_491_200  # 2026-11-01T00:00:00Z
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
CONFIG: dict[str, t.Any] = {
    "api_token": "plan-token-0001",
    "api_url": "http://127.0.0.1:9",
    "start_date": to_iso(T0),
    "end_date": to_iso(T0 + 10 * DAY),
}


# -- the estimate ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("processing", "interval", "checks"),
    [(25, 10, 3), (20, 10, 2), (0, 10, 1), (5, 10, 1), (0.3, 0.1, 3), (1.1, 0.1, 11)],
)
def test_a_created_export_is_seen_done_at_the_check_after_its_processing(
    processing, interval, checks
):
    a = Assumptions(processing, interval, 4)
    assert a.checks == checks
    assert a.export_seconds == pytest.approx(checks * interval)


def test_wall_time_is_waves_of_max_concurrent_exports_times_one_exports_latency():
    a = Assumptions(25, 10, 4)  # 30 s an export
    assert a.seconds_for(0) == 0
    assert a.seconds_for(1) == 30
    assert a.seconds_for(4) == 30
    assert a.seconds_for(5) == 60
    assert a.seconds_for(365) == 92 * 30
    assert Assumptions(25, 10, 1).seconds_for(365) == 365 * 30


def test_api_calls_count_creates_status_checks_and_downloads():
    a = Assumptions(25, 10, 4)
    calls = Calls.of(created=10, resumed=2, assumptions=a)
    assert (calls.creates, calls.polls, calls.downloads) == (10, 32, 12)
    assert calls.total == 54
    assert (calls + Calls(1, 2, 3)).total == 60


@pytest.mark.parametrize(("value", "seconds"), [("-", PROCESSING_SECONDS), ("60", 60), ("0", 0)])
def test_plan_option_gives_the_processing_time(value, seconds):
    assert processing_seconds(value) == seconds


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", ""])
def test_a_bad_processing_time_is_one_line_naming_the_option(value):
    with pytest.raises(LoopTapError, match=r"^Option --plan=.* is invalid: expected the seconds"):
        processing_seconds(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.6, "0.6 s"), (45, "45 s"), (90, "2 min"), (5400, "1 h 30 min"), (93 * 3600, "3 d 21 h")],
)
def test_durations_read_well(seconds, text):
    assert _duration(seconds) == text


def test_the_text_has_each_stream_in_order_and_the_run_total():
    a = Assumptions(25, 10, 2)
    plans = [
        StreamPlan("support", plan_windows(T0, T0 + 3 * DAY, DAY), DAY, T0, 1, 0, "Look out."),
        StreamPlan("sales", plan_windows(T0, T0 + 3 * DAY, DAY), DAY, None, 0, 2, None),
        StreamPlan("done", plan_windows(T0, T0, DAY), DAY, T0, 0, 0, None),
    ]
    text = render(plans, a, ["skipped"], NOW)
    support, sales, done = (text.index(f"Stream {n}:") for n in ("support", "sales", "done"))
    assert support < sales < done
    assert "  range: 2026-11-01T00:00:00+00:00 .. 2026-11-04T00:00:00+00:00" in text
    assert "  exports created: 2\n" in text[support:sales]
    assert "  rows all out about 30 s into the run" in text[support:sales]  # 2 exports, 2 slots
    assert "2 saved not reusable" in text[sales:done]
    assert "  rows all out about 1.5 min" not in text
    assert "  rows all out about 2 min into the run" in text[sales:done]  # 5 exports: 3 waves
    assert "  nothing to export" in text[done:]
    assert "  WARNING: Look out." in text[support:sales]
    assert "Not selected in the catalog: skipped" in text
    assert text.rstrip().endswith(
        "Run: 3 stream(s), 6 window(s), 1 export(s) resumed, 5 created; API calls: 27 "
        "(5 creates, 16 status checks, 6 downloads); wall time about 2 min."
    )


# -- a stream's plan, from a tap built here -------------------------------------------------
def _streams(config: dict[str, t.Any], state: dict[str, t.Any] | None) -> list[ReportStream]:
    """The tap's streams in sync order (singer-sdk's: by name)."""
    with FirstSchema.deferred(), planning():
        tap = TapLoop(config=config, state=state, validate_config=True, setup_mapper=False)
        return [t.cast("ReportStream", s) for s in tap.streams.values()]


def _fingerprint(config: dict[str, t.Any], name: str) -> str:
    (settings,) = [s for s in load_settings(config).streams() if s.stream == name]
    return request_fingerprint(settings)


REPORTS = {
    **CONFIG,
    "reports": [
        {"name": "support", "team_ids": ["team_support", "team_sales"]},
        {"name": "sales", "team_ids": ["team_sales"]},
    ],
}


def test_saved_exports_are_resumed_by_the_syncs_rule_and_the_state_is_only_read():
    fp = _fingerprint(REPORTS, "support")
    saved = {
        f"{T0 + 5 * DAY}/{T0 + 6 * DAY}/{fp}": "e-kept",
        f"{T0 + 6 * DAY}/{T0 + 7 * DAY}/{fp}": "e-kept-too",
        f"{T0 + 7 * DAY}/{T0 + 8 * DAY}/otherrequest": "e-other-request",
        f"{T0 + 3 * DAY}/{T0 + 4 * DAY}/{fp}": "e-behind-the-bookmark",
        f"{T0 + 6 * DAY}/{T0 + 8 * DAY}/{fp}": "e-not-a-planned-window",
    }
    state = {
        "bookmarks": {
            "support": {
                "replication_key": "_loop_window_end",
                "replication_key_value": to_iso(T0 + 4 * DAY),
                "bookmark_filters": json.dumps({"teamIds": ["team_support"]}),
                "exports_in_flight": saved,
            }
        }
    }
    before = copy.deepcopy(state)
    sales, support = _streams(REPORTS, state)
    states_before = copy.deepcopy(support.loop_tap.state)
    plan = plan_stream(support, NOW)
    assert (len(plan.windows), plan.resumed, plan.dropped, plan.created) == (6, 2, 3, 4)
    assert plan.windows[0].start == T0 + 4 * DAY and plan.windows[-1].end == T0 + 10 * DAY
    assert plan.warning is not None and "team_ids: added team_sales" in plan.warning
    assert plan.warning == support.filter_warning()  # the sync's own check, not a copy
    other = plan_stream(sales, NOW)  # a report added later: from start_date
    assert (other.bookmark, len(other.windows), other.resumed, other.created) == (None, 10, 0, 10)
    assert other.windows[0].start == T0 and other.warning is None
    assert state == before
    assert support.loop_tap.state["bookmarks"]["support"] == states_before["bookmarks"]["support"]
    assert support.book.filters is None and not support.book.dirty


def test_a_ten_year_backfill_of_one_minute_windows_is_counted_never_listed(monkeypatch):
    config = {**CONFIG, "start_date": "2016-11-01T00:00:00Z", "window_days": 1 / 1440}
    (stream,) = _streams(config, None)

    def listed(self: WindowPlan) -> t.NoReturn:
        raise AssertionError("the plan listed its windows")

    monkeypatch.setattr(WindowPlan, "__iter__", listed)
    plan = plan_stream(stream, NOW)
    assert plan.created == len(plan.windows) == (T0 + 10 * DAY - 1_477_958_400) // 60
    text = render([plan], Assumptions(25, 10, 4), [], NOW)
    assert f"  windows: {len(plan.windows)} of 1 min" in text


def test_the_sync_logs_the_same_warning_the_plan_shows(caplog):
    state = {
        "bookmarks": {
            "support": {
                "replication_key_value": to_iso(T0 + 4 * DAY),
                "bookmark_filters": json.dumps({"teamIds": ["team_support"]}),
            }
        }
    }
    _, support = _streams(REPORTS, state)
    shown = support.filter_warning()
    assert shown is not None
    with caplog.at_level("WARNING", logger="tap_loop.stream"):
        support._check_filters()
    assert [r.getMessage() for r in caplog.records] == [f"Report support: {shown}"]
