"""meltano.yml's job and hourly schedule (issue 19): Meltano lists them, `meltano run
<job>` loads every sandbox row into DuckDB under the state id of `meltano run tap-loop
target-duckdb`, and `meltano schedule run <schedule>` (what cron or an orchestrator
calls every hour) continues incrementally from that state. The tap's noise is gone from
those logs, a failed discovery's included (docs/meltano.md, "What the log shows")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loop_sandbox import Sandbox
from tests.e2e.support import DAY, START, Meltano, bookmark, duckdb_query, epoch, expected_rows, iso

pytestmark = pytest.mark.e2e

JOB = "loop-to-duckdb"
SCHEDULE = "loop-to-duckdb-hourly"
STATE_ID = "dev:tap-loop-to-target-duckdb"


def _json(text: str) -> dict:
    return json.loads(text[text.index("{") :])


def test_meltano_lists_the_job_and_its_hourly_schedule(meltano: Meltano) -> None:
    jobs = _json(meltano("job", "list", "--format", "json").stdout)["jobs"]
    assert {"job_name": JOB, "tasks": ["tap-loop target-duckdb"]} in jobs
    schedules = _json(meltano("schedule", "list", "--format", "json").stdout)["schedules"]
    (schedule,) = [s for s in schedules["job"] if s["name"] == SCHEDULE]
    assert schedule["interval"] == "@hourly" and schedule["cron_interval"] == "0 * * * *"
    assert schedule["job"]["name"] == JOB
    text = meltano("schedule", "list").stdout
    assert f"[@hourly] job {SCHEDULE}: {JOB}" in text


def test_run_the_job_then_the_schedule_incrementally(
    meltano: Meltano, e2e_sandbox: Sandbox
) -> None:
    db = Path(meltano.env["TARGET_DUCKDB_PATH"])
    end_1, end_2 = START + 2 * DAY, START + 3 * DAY
    meltano("run", JOB, env={"TAP_LOOP_END_DATE": iso(end_1)})
    assert epoch(bookmark(meltano.state(STATE_ID))) == end_1
    ids = {r["id"] for r in duckdb_query(meltano.root, db, "SELECT id FROM loop.report")}
    assert ids == set(expected_rows(e2e_sandbox, START, end_1))

    e2e_sandbox.clear_requests()
    second = meltano(
        "--environment=dev", "schedule", "run", SCHEDULE, env={"TAP_LOOP_END_DATE": iso(end_2)}
    )
    _assert_quiet(second.stdout + second.stderr)
    assert epoch(bookmark(meltano.state(STATE_ID))) == end_2
    creates = [r for r in e2e_sandbox.requests if r["method"] == "POST" and "/export" in r["path"]]
    # Discovery's sample (which ends at end_date), then only the new window.
    windows = {(body["start"], body["end"]) for body in (json.loads(r["body"]) for r in creates)}
    assert (end_1, end_2) in windows and not [w for w in windows if w[0] < end_1], windows
    rows = duckdb_query(
        meltano.root, db, "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM loop.report"
    )[0]
    assert rows["n"] == rows["ids"] == len(expected_rows(e2e_sandbox, START, end_2))

    # Meltano passes --state to discovery too; a failed discovery used to leave that file
    # open (Python's ResourceWarning at exit, logged twice by Meltano).
    failed = meltano("run", JOB, env={"TAP_LOOP_API_TOKEN": "wrong-token-e2e-0019"}, check=False)
    assert failed.returncode != 0 and "Catalog discovery failed" in failed.stderr
    assert "--state" in failed.stderr  # in the discovery command Meltano quotes
    _assert_quiet(failed.stdout + failed.stderr)
    assert epoch(bookmark(meltano.state(STATE_ID))) == end_2


def _assert_quiet(log: str) -> None:
    """No line of the tap's that is noise (docs/meltano.md, "What the log shows")."""
    assert "ResourceWarning" not in log, log[-4000:]
    assert "Skipping parse of env var settings" not in log, log[-4000:]
