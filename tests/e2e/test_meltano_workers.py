"""Workers that share nothing but Meltano's state backend (issue 19, item 2).

Each worker is its own Meltano project folder (a "machine": own meltano.yml copy, own
`.meltano/` with its run folders and system database, own TMPDIR); they share only the
state backend (`MELTANO_STATE_BACKEND_URI`, here a local `file://` folder) and, as
workers in production do, the warehouse they load. The installed plugins are linked in
read-only from the repository's `.meltano/`, as a container image would carry them, and
the runs use `--no-install`.

Meltano 4.4 writes every STATE line the target emits to the backend at once
(meltano.core.plugin.singer.target.BookmarkWriter -> StateService.add_state), so a worker
killed mid-run leaves the state of the target's last STATE; the next worker resumes there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from loop_sandbox import Sandbox
from tests.e2e.pg_cluster import PgCluster
from tests.e2e.support import (
    DAY,
    ROOT,
    START,
    TOKEN,
    Meltano,
    bookmark,
    duckdb_query,
    epoch,
    expected_rows,
    iso,
)
from tests.e2e.test_meltano_postgres import _check_table, _pg_env

pytestmark = pytest.mark.e2e

RUN_ID = "dev:tap-loop-to-target-duckdb"  # `meltano run`'s state id in environment dev
CREATE = "/api/v1/report/export"
PLUGINS = [("extractors", "tap-loop"), ("loaders", "target-duckdb"), ("loaders", "target-postgres")]


def worker(meltano: Meltano, tmp_path: Path, name: str, backend: Path) -> Meltano:
    """A Meltano project folder of its own ("machine" ``name``): meltano.yml, `.meltano/`
    (installed plugins linked in, read-only), system database and TMPDIR; the state
    backend is the shared folder ``backend``."""
    project = tmp_path / name
    scratch = project / "tmp"
    scratch.mkdir(parents=True)
    shutil.copy(ROOT / "meltano.yml", project / "meltano.yml")
    for kind, plugin in PLUGINS:
        venv = project / ".meltano" / kind / plugin / "venv"
        venv.parent.mkdir(parents=True)
        venv.symlink_to(ROOT / ".meltano" / kind / plugin / "venv", target_is_directory=True)
    env = {
        **meltano.env,
        "TMPDIR": str(scratch),
        "MELTANO_PROJECT_ROOT": str(project),
        "MELTANO_DATABASE_URI": f"sqlite:///{project / '.meltano' / 'meltano.db'}",
        "MELTANO_STATE_BACKEND_URI": backend.as_uri(),
        # The discovery sample (half a day ending at end_date) is never a sync window.
        "TAP_LOOP_SCHEMA_SAMPLE_DAYS": "0.5",
    }
    return Meltano(root=meltano.root, workdir=project, env=env, project=project)


def backend_state(backend: Path, state_id: str) -> dict[str, Any]:
    """The Singer state a next run gets from the file backend: Meltano's partial state
    merged onto its completed one ({} when none, or while a write is half done)."""
    try:
        stored = json.loads((backend / state_id / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    merged = {**(stored.get("completed") or {}), **(stored.get("partial") or {})}
    return merged.get("singer_state") or {}


def in_flight(state: dict[str, Any]) -> dict[str, str]:
    """``exports_in_flight`` of the report stream: "<start>/<end>/<request>" -> export id."""
    return state.get("bookmarks", {}).get("report", {}).get("exports_in_flight") or {}


def window_of(key: str) -> tuple[int, int]:
    start, end, _request = key.split("/", 2)
    return int(start), int(end)


def creates(box: Sandbox) -> list[tuple[int, int]]:
    """(start, end) of every export the sandbox was asked to create, in order."""
    return [
        (body["start"], body["end"])
        for r in box.requests
        if r["method"] == "POST" and r["path"] == CREATE
        for body in [json.loads(r["body"])]
    ]


def test_worker_killed_then_another_worker_resumes_from_the_shared_backend(
    meltano: Meltano, tmp_path: Path
) -> None:
    """Worker A (meltano, tap and target) is SIGKILLed with windows done and exports in
    flight; worker B, another project folder, runs the same job to the end: it polls A's
    saved exports instead of creating them again, creates only the windows A left, skips
    none, and the warehouse has every row at least once."""
    end = START + 6 * DAY
    windows = [(START + i * DAY, START + (i + 1) * DAY) for i in range(6)]
    backend = tmp_path / "state-backend"
    a = worker(meltano, tmp_path, "worker-a", backend)
    b = worker(meltano, tmp_path, "worker-b", backend)
    box = Sandbox(token=TOKEN, processing_seconds=3, rows_per_day=96, seed=0)
    box.start()
    env = {
        "TAP_LOOP_API_URL": box.api_url,
        "TAP_LOOP_END_DATE": iso(end),
        "TAP_LOOP_MAX_CONCURRENT_EXPORTS": "2",
        "TARGET_DUCKDB_BATCH_SIZE_ROWS": "1",  # the target passes every STATE on at once
    }
    run = ("run", "--no-install", "tap-loop", "target-duckdb")
    try:
        # Worker A: killed once a window is done and a later window's export is in flight.
        with (a.workdir / "meltano.log").open("w") as log:
            process = subprocess.Popen(
                [str(a.executable), *run],
                cwd=a.cwd,
                env=a.full_env(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300

        def ready(state: dict[str, Any]) -> bool:
            mark = bookmark(state)
            return mark is not None and any(
                window_of(k)[0] >= epoch(mark) for k in in_flight(state)
            )

        while not ready(backend_state(backend, RUN_ID)):
            assert process.poll() is None, "worker A ended before it was killed"
            assert time.monotonic() < deadline, "no window done with another in flight"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -9  # really killed
        saved = backend_state(backend, RUN_ID)
        mark = epoch(bookmark(saved))
        pending = {window_of(k): v for k, v in in_flight(saved).items() if window_of(k)[0] >= mark}
        assert START < mark < end and pending, saved
        a_created = creates(box)
        assert set(pending) <= set(a_created)

        # Worker B: its own folder, no .meltano/ or temp files of A; the same job to the end.
        box.configure(processing_seconds=0.2)
        box.clear_requests()
        assert not (b.workdir / ".meltano" / "run").exists()
        b(*run, env={**env, "TARGET_DUCKDB_BATCH_SIZE_ROWS": "500"})

        b_windows = [w for w in creates(box) if w in windows]
        left = [w for w in windows if w[0] >= mark and w not in pending]
        assert b_windows == left, f"B created {b_windows}, A left {left} (in flight {pending})"
        for export_id in pending.values():  # resumed: polled by id, not created again
            assert any(
                r["method"] == "GET" and r["path"].endswith("/" + quote(export_id, safe=""))
                for r in box.requests
            ), f"worker B never polled A's export {export_id}"
        final = backend_state(backend, RUN_ID)
        assert epoch(bookmark(final)) == end
        assert not in_flight(final), final
        assert b.state(RUN_ID)["singer_state"] == final  # what `meltano state get` shows

        loaded = duckdb_query(
            meltano.root,
            Path(meltano.env["TARGET_DUCKDB_PATH"]),
            "SELECT DISTINCT id FROM loop.report",
        )
        assert {r["id"] for r in loaded} == set(expected_rows(box, START, end))
    finally:
        box.stop()


def test_parallel_workers_each_on_its_inbox_into_one_postgres(
    meltano: Meltano, e2e_sandbox: Sandbox, pg: PgCluster, tmp_path: Path
) -> None:
    """Two worker folders at once, each on its own shared inbox (TAP_LOOP_TEAM_IDS) with
    its own state id, one state backend, one PostgreSQL table: both complete, every row
    of both inboxes once, two separate states.

    As docs/meltano.md says, one job runs alone first (one day) to create the table."""
    schema = "loop_workers"
    end = START + 5 * DAY
    teams = {"worker-a": "team_support", "worker-b": "team_sales"}
    backend = tmp_path / "state-backend"
    workers = {name: worker(meltano, tmp_path, name, backend) for name in teams}

    def job(name: str, until: int) -> tuple[list[str], dict[str, str]]:
        args = [
            "el",
            "--no-install",
            "tap-loop",
            "target-postgres",
            "--state-id",
            f"loop-{teams[name]}",
        ]
        env = {
            **_pg_env(pg, schema),
            "TAP_LOOP_TEAM_IDS": json.dumps([teams[name]]),
            "TAP_LOOP_END_DATE": iso(until),
        }
        return args, env

    args, env = job("worker-a", START + DAY)
    workers["worker-a"](*args, env=env)
    procs = {name: workers[name].popen(*job(name, end)[0], env=job(name, end)[1]) for name in teams}
    for name, proc in procs.items():
        _out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name}:\n{err[-8000:]}"

    want = expected_rows(e2e_sandbox, START, end, team_ids=list(teams.values()))
    assert {row["teamId"] for row in want.values()} == set(teams.values())
    _check_table(pg, schema, want)
    ids = sorted(p.name for p in backend.iterdir() if (p / "state.json").exists())
    assert ids == sorted(f"loop-{team}" for team in teams.values())
    for name, team in teams.items():
        state = backend_state(backend, f"loop-{team}")
        assert epoch(bookmark(state)) == end
        assert not in_flight(state)
        other = workers["worker-b" if name == "worker-a" else "worker-a"]
        assert other.state(f"loop-{team}")["singer_state"] == state  # one backend for both
