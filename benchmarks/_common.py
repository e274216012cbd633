"""Shared helpers for the benchmarks: a sandbox, child processes with their peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tap_loop.loop_api.windows import to_iso as iso  # noqa: E402, F401 (re-exported)

TOKEN = "bench-token"
START = 1_793_491_200  # 2026-11-01T00:00:00Z


@dataclass
class Measured:
    seconds: float
    max_rss_mb: float
    returncode: int
    stderr: str


# The measured command is started by this small wrapper, not by the benchmark itself: a
# child forked from a big process (the benchmark holds an in-process sandbox) inherits
# the parent's resident size in its ru_maxrss, which then reports the parent, not it.
_WRAPPER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_measured(
    command: list[str], *, stdout_path: str = os.devnull, env: dict[str, str] | None = None
) -> Measured:
    """Run ``command``; wall time and the command's own peak RSS (wait4, via a wrapper)."""
    with (
        open(stdout_path, "wb") as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
    ):
        began = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-c", _WRAPPER, rss.name, *command],
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            check=False,
        )
        seconds = time.perf_counter() - began
        err.seek(0)
        max_rss_kb = int(rss.read() or 0)
        return Measured(
            seconds, max_rss_kb / 1024, process.returncode, err.read().decode(errors="replace")
        )


def empty_catalog() -> dict:
    """A catalog of the ``report`` stream with no Loop fields yet (drift adds them)."""
    return {
        "streams": [
            {
                "tap_stream_id": "report",
                "stream": "report",
                "key_properties": ["id"],
                "metadata": [],
                "schema": {"type": "object", "properties": {}},
            }
        ]
    }


def write_json(folder: Path, name: str, data: dict) -> str:
    path = folder / name
    path.write_text(json.dumps(data))
    return str(path)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def completed_export_url(api_url: str, token: str, start: int, end: int) -> str:
    """Create a JSON export of ``[start, end]`` and poll it; its result URL."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    body = {"start": start, "end": end, "resultFormat": "Json"}
    export = session.post(f"{api_url}/api/v1/report/export", json=body).json()
    while True:
        time.sleep(0.05)
        status = session.get(f"{api_url}/api/v1/report/exports/{export['id']}").json()
        if status["status"] == "Completed":
            return status["url"]
