"""Work folders: locked while their run lives; a sweep removes only the unlocked ones."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tap_loop.core.workdir import LOCK, UNLOCKED_STALE_SECONDS, WorkDir, sweep


def test_a_live_folder_is_kept_and_a_dead_ones_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    # a folder whose run died: made by a child process that exits without cleaning up
    code = "from tap_loop.core.workdir import WorkDir; print(WorkDir.create().path)"
    dead = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert os.path.exists(os.path.join(dead, LOCK))
    live = WorkDir.create()  # its creation sweeps the dead one
    assert not os.path.exists(dead)
    assert sweep(tmp_path) == [] and live.path.exists()
    live.remove()
    assert not live.path.exists()


def test_folders_without_a_lock_go_only_when_old_and_others_never(tmp_path):
    fresh = tmp_path / "tap-loop-abcd1234"
    old = tmp_path / "tap-loop-discovery-old_1234"
    other = tmp_path / "tap-loop-test-abcd1234"
    for folder in (fresh, old, other):
        folder.mkdir()
    long_ago = time.time() - UNLOCKED_STALE_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    os.utime(other, (long_ago, long_ago))
    assert sweep(tmp_path) == [old]
    assert fresh.exists() and other.exists()
