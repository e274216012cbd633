"""Work folders (``$TMPDIR/tap-loop-*``): a run SIGKILLed mid-download leaves its folder
behind; the next run removes it, and never touches the folder of a run still alive. The
tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.helpers import SCRATCH, run_tap, tap_command, tap_env, wait_until


def work_folders() -> set[Path]:
    assert SCRATCH.folder is not None
    tmp = SCRATCH.folder / "tmp"
    return {path for path in tmp.glob("tap-loop-*") if path.is_dir()} if tmp.exists() else set()


def downloading(config, catalog, known: set[Path]) -> tuple[subprocess.Popen, Path]:
    """Start a run whose first download stalls; return it and its work folder once the
    download has begun (its result file exists)."""
    process = subprocess.Popen(
        tap_command(config, None, catalog),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=tap_env(),
    )

    def started() -> Path | None:
        for folder in work_folders() - known:
            if any(folder.rglob("loop-*")):  # in its stream-<n> folder
                return folder
        return None

    return process, wait_until(started, "a download to begin")


def test_the_next_run_removes_a_killed_runs_folder_but_not_a_live_ones(sandbox, config, catalog):
    stall = {"target": "download", "kind": "delay", "seconds": 60, "after_fraction": 0.5}
    sandbox.add_fault(stall)
    dead, dead_folder = downloading(config, catalog, set())
    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=30)
    assert dead.returncode == -9  # really killed: it could not clean up
    assert dead_folder.exists()

    sandbox.add_fault(stall)
    live_config = {**config, "request_timeout_seconds": 120, "max_concurrent_exports": 1}
    live, live_folder = downloading(live_config, catalog, {dead_folder})
    try:
        live_files = sorted(live_folder.iterdir())
        run = run_tap(config, catalog=catalog)
        assert run.returncode == 0, run.stderr
        assert not dead_folder.exists()
        assert live.poll() is None  # still running, still downloading
        assert sorted(live_folder.iterdir()) == live_files
        assert work_folders() == {live_folder}
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(timeout=60)
    assert work_folders() == set()  # the live run removed its own on the way out
