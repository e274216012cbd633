"""orchestration/tap_loop_dagster/runner.py: a command's output is copied and its tail
kept; at the deadline, or on an interruption, its whole process group is stopped."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tap_loop_dagster.runner import run_command

#: A parent that starts a child (both ignore nothing) and prints the child's pid.
FAMILY = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_output_copied_tail_kept_and_exit_code(tmp_path: Path) -> None:
    echo = io.StringIO()
    script = "import sys\nfor i in range(50): print(i)\nprint('bad', file=sys.stderr)\nsys.exit(3)"
    result = run_command(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=dict(os.environ),
        timeout_seconds=30,
        echo=echo,
        tail_lines=5,
    )
    assert (result.returncode, result.timed_out) == (3, False)
    assert result.tail[-1] == "bad" and len(result.tail) == 5
    assert echo.getvalue().splitlines()[0] == "0"


def test_deadline_stops_the_whole_group(tmp_path: Path) -> None:
    echo = io.StringIO()
    began = time.monotonic()
    result = run_command(
        [sys.executable, "-c", FAMILY],
        cwd=tmp_path,
        env=dict(os.environ),
        timeout_seconds=1.5,
        echo=echo,
        grace_seconds=5,
    )
    assert result.timed_out and result.returncode == -signal.SIGTERM
    assert time.monotonic() - began < 10
    child = int(echo.getvalue().split()[0])
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child), "the grandchild outlived the deadline"


def test_sigterm_ignored_then_sigkill_after_grace(tmp_path: Path) -> None:
    script = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\ntime.sleep(60)\n"
    )
    began = time.monotonic()
    result = run_command(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=dict(os.environ),
        timeout_seconds=1.5,
        grace_seconds=1,
    )
    assert result.timed_out and result.returncode == -signal.SIGKILL
    assert time.monotonic() - began < 10


class Interrupted(BaseException):
    """Stands for Dagster's interruption of a step (raised in the waiting thread)."""


def test_interruption_stops_the_group_and_is_raised_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_wait = subprocess.Popen.wait

    def wait(self: subprocess.Popen[str], timeout: float | None = None) -> int:
        if timeout == 60:  # run_command's wait for the end: interrupted after a second
            time.sleep(1)
            raise Interrupted
        return real_wait(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", wait)
    echo = io.StringIO()
    began = time.monotonic()
    with pytest.raises(Interrupted):
        run_command(
            [sys.executable, "-c", FAMILY],
            cwd=tmp_path,
            env=dict(os.environ),
            timeout_seconds=60,
            echo=echo,
        )
    assert time.monotonic() - began < 10
    child = int(echo.getvalue().split()[0])
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
