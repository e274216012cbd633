"""A full sync end to end against the sandbox over real HTTP: every row in window order
with its origin fields, the export body (filters, timezone, impersonation), one progress
line per window, settings from TAP_LOOP_* variables (issue: report stream)."""

from __future__ import annotations

import collections
import itertools
import json
import re

from tests.helpers import DAY, EPOCH_2026_11_01, TOKEN, expected_ids, iso, row_ids, run_tap

START = EPOCH_2026_11_01


WINDOW_ENDS = [iso(START + DAY), iso(START + 2 * DAY), iso(START + 3 * DAY)]


def test_full_sync_emits_every_row_in_window_order_with_origin_fields(sandbox, config, catalog):
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert row_ids(run.records) == expected_ids(sandbox, START, START + 3 * DAY)
    expected = {r["id"]: r for r in sandbox.expected_rows(START, START + 3 * DAY)}
    for record in (dict(r) for r in run.records):
        origin = {
            k: record.pop(k) for k in ("_loop_window_start", "_loop_window_end", "_loop_export_id")
        }
        assert record == expected[record["id"]]  # every field, as Loop sent it
        assert origin["_loop_window_end"] in WINDOW_ENDS and origin["_loop_export_id"]
    # the rows of one window all carry that window and its export id
    by_window = collections.defaultdict(set)
    for message in run.messages:
        if message["type"] == "RECORD":
            by_window[message["record"]["_loop_window_end"]].add(
                message["record"]["_loop_export_id"]
            )
    assert all(len(ids) == 1 for ids in by_window.values())


def test_export_body_filters_timezone_and_impersonation(sandbox, config, catalog):
    team = sandbox.expected_rows(START, START + DAY)[0]["teamId"]
    run = run_tap(
        {
            **config,
            "end_date": iso(START + DAY),
            "team_ids": [team],
            "tag_ids": ["tag_vip"],
            "timezone": "Europe/Ljubljana",
            "impersonate_user": "boss@example.com",
        },
        catalog=catalog,
    )
    assert run.returncode == 0, run.stderr
    create = next(r for r in sandbox.requests if r["method"] == "POST")
    assert json.loads(create["body"]) == {
        "start": START,
        "end": START + DAY,
        "timezone": "Europe/Ljubljana",
        "resultFormat": "Json",
        "teamIds": [team],
        "tagIds": ["tag_vip"],
    }
    api_calls = [r for r in sandbox.requests if r["server"] == "api" and "/api/" in r["path"]]
    assert api_calls and all(
        r["headers"].get("x-impersonate-user") == "boss@example.com" for r in api_calls
    )
    assert all(r["headers"].get("authorization") == f"Bearer {TOKEN}" for r in api_calls)
    expected = expected_ids(
        sandbox,
        START,
        START + DAY,
        team_ids=[team],
        tag_ids=["tag_vip"],
        timezone="Europe/Ljubljana",
    )
    assert row_ids(run.records) == expected


def test_one_progress_line_per_window(sandbox, config, catalog):
    run = run_tap(config, catalog=catalog)
    lines = [line for line in run.stderr.splitlines() if "Window " in line and " done in " in line]
    assert len(lines) == 3
    assert all(" rows" in line and "export " in line for line in lines)
    # k/N windows, rows so far (cumulative, matching the records) and an ETA
    found = [
        re.search(r"Window (\d+)/(\d+) .* (\d+) rows \((\d+) so far\).* ETA (.+)$", line)
        for line in lines
    ]
    progress = [m for m in found if m is not None]
    assert len(progress) == len(lines)
    assert [(m[1], m[2]) for m in progress] == [("1", "3"), ("2", "3"), ("3", "3")]
    so_far = [int(m[4]) for m in progress]
    assert so_far == list(itertools.accumulate(int(m[3]) for m in progress))
    assert so_far[-1] == len(run.records) > 0
    assert progress[-1][5] == "0 s" and all(re.fullmatch(r"[\d hmins]+", m[5]) for m in progress)


def test_settings_from_tap_loop_environment_variables(sandbox, config, catalog, tmp_path):
    """`--config ENV`: every value from TAP_LOOP_* variables, fractions and lists included."""
    import subprocess

    from tests.helpers import parse_messages, tap_env

    env = tap_env(
        {
            "TAP_LOOP_API_TOKEN": TOKEN,
            "TAP_LOOP_API_URL": sandbox.api_url,
            "TAP_LOOP_START_DATE": iso(START),
            "TAP_LOOP_END_DATE": iso(START + DAY),
            "TAP_LOOP_WINDOW_DAYS": "0.5",
            "TAP_LOOP_POLL_INTERVAL_SECONDS": "0.1",
            "TAP_LOOP_TEAM_IDS": '["team_sales"]',
            "TAP_LOOP_MAX_CONCURRENT_EXPORTS": "2",
            "TAP_LOOP_PRIMARY_KEYS": '["id"]',
        }
    )
    catalog_path = f"{tmp_path}/catalog.json"
    with open(catalog_path, "w") as handle:
        json.dump(catalog, handle)
    done = subprocess.run(
        [
            __import__("sys").executable,
            "-m",
            "tap_loop",
            "--config",
            "ENV",
            "--catalog",
            catalog_path,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = [m["record"] for m in parse_messages(done.stdout) if m["type"] == "RECORD"]
    assert row_ids(records) == expected_ids(
        sandbox, START, START + DAY, window=DAY // 2, team_ids=["team_sales"]
    )
    bodies = [json.loads(r["body"]) for r in sandbox.requests if r["method"] == "POST"]
    assert sorted(b["end"] - b["start"] for b in bodies) == [DAY // 2, DAY // 2]
