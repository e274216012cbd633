"""Several reports in one run (the ``reports`` setting): one stream per report, each with
its own filters, bookmark and exports in flight, all exported together; the tap as a real
process against the sandbox over HTTP."""

from __future__ import annotations

import collections
import json
import signal
import typing as t

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    PATHS,
    assert_no_state_ahead_of_rows,
    assert_records_fit_their_schema,
    error_lines,
    expected_ids,
    iso,
    read_until,
    run_tap,
    start_tap,
)

START = EPOCH_2026_11_01
EXPORT = "/api/v1/report/export"
REPORTS: list[dict[str, t.Any]] = [
    {"name": "support", "team_ids": ["team_support"]},
    {"name": "sales", "team_ids": ["team_sales"]},
    {"name": "urgent", "tag_ids": ["tag_urgent"]},
]
FILTERS = {
    "support": {"team_ids": ["team_support"]},
    "sales": {"team_ids": ["team_sales"]},
    "urgent": {"tag_ids": ["tag_urgent"]},
}


def _creates(sandbox) -> list[dict]:
    return [
        json.loads(r["body"])
        for r in sandbox.requests
        if r["method"] == "POST" and r["path"] == EXPORT
    ]


def _ids_by_stream(messages) -> dict[str, list[str]]:
    out: dict[str, list[str]] = collections.defaultdict(list)
    for message in messages:
        if message["type"] == "RECORD":
            out[message["stream"]].append(message["record"]["id"])
    return dict(out)


@pytest.mark.parametrize("path", list(PATHS))
def test_each_report_is_a_stream_with_its_own_rows_and_bookmark(sandbox, config, path):
    extra = (
        {"stream_maps": {name: {"__alias__": name} for name in FILTERS}}
        if path == "general"
        else {}
    )
    run = run_tap({**config, "reports": REPORTS, **extra})
    assert run.returncode == 0, run.stderr[-3000:]
    assert error_lines(run.stderr) == []
    assert sorted(m["stream"] for m in run.messages if m["type"] == "SCHEMA")[:3] == sorted(FILTERS)
    got = _ids_by_stream(run.messages)
    for name, filters in FILTERS.items():
        assert got[name] == expected_ids(sandbox, START, START + 3 * DAY, **filters), name
        assert run.bookmark(stream=name) == iso(START + 3 * DAY)
    state = run.last_state
    assert state is not None and "report" not in state["bookmarks"]
    assert_no_state_ahead_of_rows(run.messages)
    assert_records_fit_their_schema(run.messages)
    # each report's exports carry its own filters, and only them
    bodies = _creates(sandbox)
    assert len(bodies) == 9
    assert sum(body.get("teamIds") == ["team_support"] for body in bodies) == 3
    assert (
        sum(body.get("tagIds") == ["tag_urgent"] and "teamIds" not in body for body in bodies) == 3
    )


def test_top_level_filters_are_each_reports_defaults(sandbox, config):
    """A key a report leaves out takes the top-level value; an empty list: no filter."""
    reports = [
        {"name": "urgent_support", "tag_ids": ["tag_urgent"]},
        {"name": "all", "team_ids": []},
    ]
    run = run_tap({**config, "team_ids": ["team_support"], "reports": reports})
    assert run.returncode == 0, run.stderr[-3000:]
    got = _ids_by_stream(run.messages)
    both = {"team_ids": ["team_support"], "tag_ids": ["tag_urgent"]}
    assert got["urgent_support"] == expected_ids(sandbox, START, START + 3 * DAY, **both)
    assert got["all"] == expected_ids(sandbox, START, START + 3 * DAY)


def test_the_next_reports_exports_are_in_flight_while_the_first_is_emitted(sandbox, config):
    """One budget for the run: the slots the first stream does not need (all its windows
    are started) create the next stream's exports at once, and a STATE carries them
    before the first stream's rows are all out (singer-sdk syncs streams one after
    another, by name; the exports do not wait)."""
    sandbox.configure(processing_seconds=1.0)
    reports = REPORTS[:2]
    run = run_tap({**config, "reports": reports, "max_concurrent_exports": 4})
    assert run.returncode == 0, run.stderr[-3000:]
    log = [
        ("create", tuple(json.loads(r["body"]).get("teamIds")))
        if r["method"] == "POST" and r["path"] == EXPORT
        else ("download", ())
        for r in sandbox.requests
        if (r["method"] == "POST" and r["path"] == EXPORT) or "/api/" not in r["path"]
    ]
    # synced first: "sales" (by name); its three windows and support's first, at once
    # (each from its own thread: in any order), before any download
    assert sorted(log[:4]) == [("create", ("team_sales",))] * 3 + [("create", ("team_support",))]
    kinds = [(m["type"], m.get("stream")) for m in run.messages]
    last_sales_row = len(kinds) - 1 - kinds[::-1].index(("RECORD", "sales"))
    first_support_row = kinds.index(("RECORD", "support"))
    assert last_sales_row < first_support_row  # streams one after another
    saved = next(
        i
        for i, m in enumerate(run.messages)
        if m["type"] == "STATE"
        and m["value"]["bookmarks"].get("support", {}).get("exports_in_flight")
    )
    assert saved < last_sales_row
    got = _ids_by_stream(run.messages)
    for report in reports:
        name = report["name"]
        assert got[name] == expected_ids(sandbox, START, START + 3 * DAY, **FILTERS[name])
    assert_no_state_ahead_of_rows(run.messages)


def test_a_report_added_later_starts_at_start_date_while_the_others_continue(sandbox, config):
    first = run_tap({**config, "reports": REPORTS[:1], "end_date": iso(START + 2 * DAY)})
    assert first.returncode == 0, first.stderr[-3000:]
    sandbox.clear_requests()
    run = run_tap({**config, "reports": REPORTS[:2]}, state=first.last_state)
    assert run.returncode == 0, run.stderr[-3000:]
    got = _ids_by_stream(run.messages)
    assert got["support"] == expected_ids(
        sandbox, START + 2 * DAY, START + 3 * DAY, **FILTERS["support"]
    )
    assert got["sales"] == expected_ids(sandbox, START, START + 3 * DAY, **FILTERS["sales"])
    starts = sorted((tuple(b["teamIds"]), b["start"]) for b in _creates(sandbox))
    assert starts[0] == (("team_sales",), START)
    assert [s for team, s in starts if team == ("team_support",)] == [START + 2 * DAY]
    for name in ("support", "sales"):
        assert run.bookmark(stream=name) == iso(START + 3 * DAY)
    assert "filters of" not in run.stderr


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        (
            {"team_ids": ["team_support"]},
            {"team_ids": ["team_support", "team_sales"]},
            "team_ids: added team_sales",
        ),
        ({"team_ids": ["team_support"]}, {}, "team_ids: removed"),
        ({"tag_ids": ["tag_urgent"]}, {"tag_ids": ["tag_vip"]}, "tag_ids: added tag_vip"),
    ],
)
def test_filters_that_admit_rows_the_bookmark_passed_are_warned_about(
    sandbox, config, before, after, said
):
    """The issue's case: a state written with team_ids [team_support], reused with
    [team_support, team_sales], no longer says only "Nothing to export"."""
    first = run_tap({**config, **before})
    assert first.returncode == 0, first.stderr[-3000:]
    run = run_tap({**config, **after}, state=first.last_state)
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "admit rows the bookmark" in line]
    assert len(warnings) == 1, run.stderr[-3000:]
    assert "WARNING" in warnings[0] and said in warnings[0]
    assert "reset this stream's state" in warnings[0] and "bookmarks.report" in warnings[0]


def test_narrower_filters_are_not_warned_about(sandbox, config):
    both = {**config, "team_ids": ["team_support", "team_sales"], "end_date": iso(START + DAY)}
    first = run_tap(both)
    run = run_tap({**config, "team_ids": ["team_support"]}, state=first.last_state)
    assert run.returncode == 0
    assert "admit rows the bookmark" not in run.stderr
    state = run.last_state
    assert state is not None
    assert json.loads(state["bookmarks"]["report"]["bookmark_filters"]) == {
        "teamIds": ["team_support"]
    }
    # widening again later is told: the rows of team_sales since then were not exported
    again = run_tap(
        {**config, "team_ids": ["team_support", "team_sales"], "end_date": iso(START + 4 * DAY)},
        state=state,
    )
    assert "team_ids: added team_sales" in again.stderr


def test_a_report_filter_change_names_the_report(sandbox, config):
    first = run_tap({**config, "reports": REPORTS[:1]})
    reports = [{"name": "support", "team_ids": ["team_support", "team_billing"]}]
    run = run_tap({**config, "reports": reports}, state=first.last_state)
    line = next(line for line in run.stderr.splitlines() if "admit rows" in line)
    assert "Report support:" in line and "'support'" in line and "bookmarks.support" in line


def _both_in_flight(message: dict) -> bool:
    """A STATE holding exports in flight of both streams."""
    bookmarks = message["value"].get("bookmarks", {}) if message["type"] == "STATE" else {}
    return all(bookmarks.get(n, {}).get("exports_in_flight") for n in ("support", "sales"))


def test_sigkill_resumes_every_stream_without_loss_or_new_exports(sandbox, config):
    """Both streams' exports in flight are in the STATE before either stream's rows are
    all out; the next run polls them instead of creating them again."""
    sandbox.configure(processing_seconds=2.0)
    cfg = {**config, "reports": REPORTS[:2], "max_concurrent_exports": 4, "window_days": 1.5}
    process = start_tap(cfg)
    try:
        messages = read_until(process, _both_in_flight)
        process.send_signal(signal.SIGKILL)
    finally:
        process.communicate(timeout=60)
    assert process.returncode == -9  # really killed
    state = messages[-1]["value"]
    assert state is not None
    saved = {
        name: set(state["bookmarks"][name]["exports_in_flight"].values())
        for name in ("support", "sales")
    }
    sandbox.configure(processing_seconds=0.2)
    sandbox.clear_requests()
    run = run_tap(cfg, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    polled = {
        r["path"].rsplit("/", 1)[1] for r in sandbox.requests if "/report/exports/" in r["path"]
    }
    for name, ids in saved.items():
        assert ids <= polled, name
    assert len(_creates(sandbox)) == 4 - sum(len(ids) for ids in saved.values())
    got = _ids_by_stream(messages + run.messages)
    for name in ("support", "sales"):
        want = expected_ids(sandbox, START, START + 3 * DAY, window=int(1.5 * DAY), **FILTERS[name])
        assert set(got[name]) == set(want), name
        assert run.bookmark(stream=name) == iso(START + 3 * DAY)


def test_sigterm_mid_run_keeps_every_streams_exports_and_resumes(sandbox, config):
    sandbox.configure(processing_seconds=3.0)
    cfg = {**config, "reports": REPORTS[:2], "max_concurrent_exports": 4, "window_days": 1.5}
    process = start_tap(cfg)
    lines = read_until(process, _both_in_flight)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, err[-2000:]
    lines += [json.loads(line) for line in out.splitlines() if line.strip()]
    state = [m["value"] for m in lines if m["type"] == "STATE"][-1]
    for name in ("support", "sales"):
        assert state["bookmarks"][name]["exports_in_flight"], name
    sandbox.configure(processing_seconds=0.2)
    run = run_tap(cfg, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    got = _ids_by_stream(lines + run.messages)
    for name in ("support", "sales"):
        want = expected_ids(sandbox, START, START + 3 * DAY, window=int(1.5 * DAY), **FILTERS[name])
        assert set(got[name]) == set(want), name


@pytest.mark.parametrize(
    ("reports", "said"),
    [
        ([{"name": "1st"}], "Setting 'reports' entry 1 has the name '1st'"),
        ([{"name": "a"}, {"name": "A"}], "names must differ in more than case"),
        ([{"team_ids": ["x"]}], "Setting 'reports'"),
        ([{"name": "a", "window_days": 2}], "Setting 'reports'"),
        ([{"name": "a", "timezone": "Mars/Olympus"}], "'timezone'"),
        ("not json", "Setting 'reports'"),
    ],
)
def test_an_invalid_report_is_one_line_before_any_call(sandbox, config, reports, said):
    run = run_tap({**config, "reports": reports})
    assert run.returncode == 1
    assert said in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert [r for r in sandbox.requests if "/api/" in r["path"]] == []


def test_discovery_samples_once_per_report_and_catalogs_every_stream(sandbox, config):
    from tests.helpers import discover

    catalog = discover({**config, "reports": REPORTS})
    assert sorted(entry["tap_stream_id"] for entry in catalog["streams"]) == sorted(FILTERS)
    assert all(entry["key_properties"] == ["id"] for entry in catalog["streams"])
    bodies = _creates(sandbox)
    assert len(bodies) == 3
    assert [b.get("teamIds") or b.get("tagIds") for b in bodies] == [
        ["team_support"],
        ["team_sales"],
        ["tag_urgent"],
    ]


def test_a_catalog_selects_which_reports_run(sandbox, config):
    from tests.helpers import discover

    cfg = {**config, "reports": REPORTS}
    catalog = discover(cfg)
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] == "sales"
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected
    sandbox.clear_requests()
    run = run_tap(cfg, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(_ids_by_stream(run.messages)) == {"sales"}
    assert {tuple(b["teamIds"]) for b in _creates(sandbox)} == {("team_sales",)}
    state = run.last_state
    assert state is not None
    assert set(state["bookmarks"]) == {"sales"}


def test_test_mode_costs_one_export_of_one_short_window(sandbox, config):
    run = run_tap({**config, "reports": REPORTS}, extra=["--test"])
    assert run.returncode == 0, run.stderr[-3000:]
    bodies = _creates(sandbox)
    assert len(bodies) == 1, bodies
    assert bodies[0]["end"] - bodies[0]["start"] <= DAY
    assert bodies[0]["teamIds"] == ["team_support"]  # the first report
    last = [line for line in run.stderr.splitlines() if line.strip()][-1]
    assert "Connection test passed" in last and "first row arrived" in last
