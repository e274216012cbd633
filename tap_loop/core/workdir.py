"""Work folders for result files: ``$TMPDIR/tap-loop-*``, one per run of a sync,
discovery or ``--diagnose``.

Contract:

- A folder holds ``.lock``, locked (``flock``, exclusive) by its run for as long as the
  run lives; the kernel releases the lock when the process ends, however it ends (SIGKILL
  included). The lock file is locked before it gets its name, so no other run ever sees
  a folder's ``.lock`` unlocked while its run lives.
- Making a folder first removes every folder a tap-loop run made (``tap-loop-XXXXXXXX``,
  ``tap-loop-discovery-…``, ``tap-loop-diagnose-…``) whose lock it can take: left by a
  run that died before cleaning up. A folder whose lock is held is never touched. A
  folder without ``.lock`` (made by an older tap-loop, or by a run in the instant between
  creating it and naming its lock) is removed only when nothing in it changed for
  :data:`UNLOCKED_STALE_SECONDS`.
- :meth:`WorkDir.remove` deletes the folder and releases the lock (the run's normal end).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

LOGGER = logging.getLogger("tap_loop.workdir")
LOCK = ".lock"
#: A folder without a lock file is left alone unless unchanged for this long.
UNLOCKED_STALE_SECONDS = 86400.0
#: The names :func:`tempfile.mkdtemp` gives the tap's prefixes (8 random characters).
_NAME = re.compile(r"tap-loop-(?:discovery-|diagnose-)?[a-z0-9_]{8}")


class WorkDir:
    """One run's work folder, locked while the run lives."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd

    @classmethod
    def create(cls, prefix: str = "tap-loop-") -> WorkDir:
        """Remove what dead runs left in the temp folder, then make and lock a new folder."""
        root = Path(tempfile.gettempdir())
        sweep(root)
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        pending = path / (LOCK + ".new")
        fd = os.open(pending, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: never contended
        os.write(fd, f"{os.getpid()}\n".encode())
        os.rename(pending, path / LOCK)
        return cls(path, fd)

    def remove(self) -> None:
        """Delete the folder and everything in it, then release its lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def sweep(root: Path, now: float | None = None) -> list[Path]:
    """Remove the work folders under ``root`` no live run owns; return them."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not _NAME.fullmatch(entry.name):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if _remove_if_dead(Path(entry.path), time.time() if now is None else now):
                removed.append(Path(entry.path))
        except OSError:
            continue  # another user's folder, or removed meanwhile: not ours to judge
    if removed:
        LOGGER.info(
            "Removed %d work folder(s) left in %s by tap-loop runs that ended without "
            "cleaning up: %s",
            len(removed),
            root,
            ", ".join(path.name for path in removed),
        )
    return removed


def _remove_if_dead(folder: Path, now: float) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        if now - folder.stat().st_mtime < UNLOCKED_STALE_SECONDS:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its run is alive
        shutil.rmtree(folder, ignore_errors=True)
        return True
    finally:
        os.close(fd)
