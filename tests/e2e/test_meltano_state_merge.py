"""A real `meltano run` killed mid-sync, then run again, with Meltano merging states
(`--state-strategy merge`, as `--full-refresh` also does): an `exports_in_flight` entry
a run removed comes back through Meltano's deep merge, and tap-loop must not reuse it
(issue 9)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from loop_sandbox import Sandbox
from tests.e2e.support import DAY, START, TOKEN, Meltano, duckdb_query, epoch, iso

pytestmark = pytest.mark.e2e

END = START + 3 * DAY
STATE_ID = "dev:tap-loop-to-target-duckdb"  # `meltano run`'s id in this test's own database
RUN = ("run", "--state-strategy", "merge", "--force", "tap-loop", "target-duckdb")
W1 = f"{START}/{START + DAY}/"


def stored_state(db: Path) -> dict:
    """Meltano's stored state for STATE_ID, partial merged onto completed, as Meltano
    hands it to the tap ({} when none)."""
    if not db.exists():
        return {}
    with sqlite3.connect(db) as con:
        try:
            row = con.execute(
                "SELECT partial_state, completed_state FROM state WHERE state_id = ?",
                (STATE_ID,),
            ).fetchone()
        except sqlite3.OperationalError:  # tables not created yet
            return {}
    if row is None:
        return {}
    partial, completed = (json.loads(x) if x else {} for x in row)
    return merge(partial, completed).get("singer_state") or {}


def merge(src: dict, dest: dict) -> dict:
    """Meltano's deep merge (meltano.core.utils.merge): src's keys into dest, in place."""
    for key, value in src.items():
        if isinstance(value, dict):
            merge(value, dest.setdefault(key, {}))
        else:
            dest[key] = value
    return dest


def in_flight(state: dict) -> dict:
    return state.get("bookmarks", {}).get("report", {}).get("exports_in_flight") or {}


def test_killed_meltano_run_then_again_never_reuses_a_resurrected_export(
    meltano: Meltano, tmp_path: Path
) -> None:
    box = Sandbox(token=TOKEN, processing_seconds=2, rows_per_day=96, seed=0)
    box.start()
    db = tmp_path / "meltano.db"
    env = {
        "TAP_LOOP_API_URL": box.api_url,
        "TAP_LOOP_END_DATE": iso(END),
        "TAP_LOOP_MAX_CONCURRENT_EXPORTS": "1",
        "TARGET_DUCKDB_BATCH_SIZE_ROWS": "1",  # the target passes every STATE on at once
    }
    try:
        # Run 1: killed (Meltano, tap and target) while window 1's export is in flight.
        process = subprocess.Popen(
            [str(meltano.executable), *RUN],
            cwd=meltano.cwd,
            env=meltano.full_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while not any(k.startswith(W1) for k in in_flight(stored_state(db))):
            assert process.poll() is None, "meltano ended before window 1 was in flight"
            assert time.monotonic() < deadline, "window 1's export never reached the state"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -9  # really killed
        (entry,) = [k for k in in_flight(stored_state(db)) if k.startswith(W1)]

        # Run 2: resumes that export, finishes every window, and drops the entry...
        box.configure(processing_seconds=0.2)
        # (a batch of 1 row would make target-duckdb end on the state before the last row)
        meltano(*RUN, env={**env, "TARGET_DUCKDB_BATCH_SIZE_ROWS": "500"})
        state = meltano.state(STATE_ID)
        assert epoch(state["singer_state"]["bookmarks"]["report"]["replication_key_value"]) == END
        # ...which Meltano's merge of run 2's state into run 1's brings back:
        assert entry in in_flight(state["singer_state"]), state

        # Run 3 looks back over window 1 after late rows arrived: a fresh export, not
        # the resurrected one (which lacks them).
        box.configure(rows_per_day=192)
        box.clear_requests()
        late = {**env, "TAP_LOOP_LOOKBACK_DAYS": "3", "TARGET_DUCKDB_BATCH_SIZE_ROWS": "500"}
        meltano(*RUN, env=late)
        loaded = duckdb_query(
            meltano.root,
            Path(meltano.env["TARGET_DUCKDB_PATH"]),
            "SELECT DISTINCT id FROM loop.report",
        )
        want = {r["id"] for r in box.expected_rows(START, END)}
        assert want <= {r["id"] for r in loaded}
        resumed = in_flight(state["singer_state"])[entry]
        assert not [r for r in box.requests if resumed in r["path"]]
    finally:
        box.stop()
