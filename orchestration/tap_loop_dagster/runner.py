"""One Meltano command as a child process with a deadline and a way out (no Dagster import).

Contract of ``run_command``: the command runs in its own process group (Meltano, the tap
and the target together), its output (stdout and stderr, merged) is copied line by line to
``echo`` and its last lines kept for the error message. At the deadline, or when the
caller is interrupted (Dagster terminating the run raises in the step), the whole group
gets SIGTERM (the tap stops within seconds, the bookmark never passes unemitted rows),
then SIGKILL after ``grace_seconds``; an interruption is raised again. POSIX only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class CommandResult:
    """How a command ended."""

    returncode: int
    tail: tuple[str, ...]
    seconds: float
    timed_out: bool


def run_command(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_seconds: float,
    echo: TextIO | None = None,
    grace_seconds: float = 30.0,
    tail_lines: int = 40,
) -> CommandResult:
    """Run ``command`` to its end, or stop it at ``timeout_seconds`` (see the module)."""
    began = time.monotonic()
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=tail_lines)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            if echo is not None:
                echo.write(line)
                echo.flush()

    reader = threading.Thread(target=pump, name="meltano-output", daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop_group(proc, grace_seconds)
    except BaseException:
        stop_group(proc, grace_seconds)
        raise
    finally:
        reader.join(timeout=5)
    return CommandResult(proc.returncode, tuple(tail), time.monotonic() - began, timed_out)


def stop_group(proc: subprocess.Popen[str], grace_seconds: float) -> None:
    """SIGTERM to the command's process group; SIGKILL to what is left of it after
    ``grace_seconds``. Returns with the leader reaped and the group gone (or killed)."""
    deadline = time.monotonic() + grace_seconds
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader, so only live members keep the group
            os.killpg(proc.pid, 0)  # ProcessLookupError: the whole group has ended
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
