"""Helpers for the end-to-end tests: a Meltano runner, sandbox and warehouse queries."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loop_sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token-3c9a"
ROWS_PER_DAY = 96
SEED = 0
IMPERSONATED = "boss@loop-demo.example"
DAY = 86400
#: 2024-03-04T00:00:00Z: the e2e tests' data starts here.
START = int(dt.datetime(2024, 3, 4, tzinfo=dt.UTC).timestamp())


def iso(epoch: float) -> str:
    """Epoch seconds as an ISO 8601 UTC string."""
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class MeltanoResult:
    """One finished Meltano command."""

    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def check(self) -> MeltanoResult:
        """Raise with Meltano's output when the command failed."""
        if self.returncode != 0:
            raise AssertionError(
                f"meltano {' '.join(self.args)} exited {self.returncode} "
                f"after {self.seconds:.1f} s\n--- stdout ---\n{self.stdout[-4000:]}"
                f"\n--- stderr ---\n{self.stderr[-12000:]}"
            )
        return self


@dataclass
class Meltano:
    """Runs the project's Meltano with an isolated system database and output folder."""

    root: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    project: Path | None = None  # the Meltano project folder; default root

    @property
    def cwd(self) -> Path:
        """Folder Meltano runs in (its project)."""
        return self.project or self.root

    @property
    def executable(self) -> Path:
        """The meltano executable in .venv-meltano."""
        return self.root / ".venv-meltano" / "bin" / "meltano"

    def full_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Process environment: ours minus stray plugin settings, plus the test's."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_LOOP_", "TARGET_", "MELTANO_"))
        }
        return {**base, **self.env, **(extra or {})}

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start meltano without waiting (for parallel runs)."""
        return subprocess.Popen(
            [str(self.executable), *args],
            cwd=self.cwd,
            env=self.full_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
        input: str | None = None,
    ) -> MeltanoResult:
        """Run meltano to completion; raise with its output on failure when check."""
        began = time.monotonic()
        proc = subprocess.run(
            [str(self.executable), *args],
            cwd=self.cwd,
            env=self.full_env(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = MeltanoResult(
            args, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began
        )
        log = self.workdir / "meltano.log"
        with log.open("a") as fh:
            fh.write(f"\n$ meltano {' '.join(args)}  # {result.seconds:.1f} s\n{proc.stderr}")
        return result.check() if check else result

    def state(self, state_id: str) -> dict[str, Any]:
        """`meltano state get STATE_ID` as a dict ({} when there is none)."""
        out = self("state", "get", state_id).stdout.strip()
        return json.loads(out) if out else {}


def bookmark(state: dict[str, Any]) -> str | None:
    """The report stream's bookmark in a Singer state, or None."""
    singer_state = state.get("singer_state", state)
    entry = singer_state.get("bookmarks", {}).get("report", {}) or {}
    return entry.get("replication_key_value")


def expected_rows(
    sandbox: Sandbox, start: int, end: int, team_ids: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The sandbox's rows of [start, end] (both inclusive) by id."""
    rows = sandbox.expected_rows(start, end, team_ids=team_ids)
    by_id = {row["id"]: row for row in rows}
    assert len(by_id) == len(rows), "sandbox ids are not unique"
    return by_id


def duckdb_python(root: Path) -> Path:
    """The Python of target-duckdb's venv (has the pinned duckdb package)."""
    return root / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"


def duckdb_query(root: Path, path: Path, sql: str) -> list[dict[str, Any]]:
    """Run one query on a DuckDB file with target-duckdb's duckdb; rows as dicts."""
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "cur = con.execute(sys.argv[2])\n"
        "cols = [d[0] for d in cur.description]\n"
        "print(json.dumps([dict(zip(cols, r)) for r in cur.fetchall()], default=str))\n"
    )
    out = subprocess.run(
        [str(duckdb_python(root)), "-c", script, str(path), sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


TAP_FIELDS = ("_loop_window_start", "_loop_window_end", "_loop_export_id")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records target-jsonl wrote, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def source_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A loaded record without the fields the tap adds."""
    return {k: v for k, v in record.items() if k not in TAP_FIELDS}


def epoch(text: str | None) -> int:
    """ISO 8601 text (Z or offset) as whole epoch seconds (None, e.g. no bookmark: fails)."""
    assert text is not None, "no date-time"
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def assert_only_boundary_duplicates(records: list[dict[str, Any]]) -> None:
    """At-least-once delivery: an id may repeat only for a row on a window boundary."""
    seen: dict[str, int] = {}
    for record in records:
        seen[record["id"]] = seen.get(record["id"], 0) + 1
    bounds = {epoch(r[f]) for r in records for f in ("_loop_window_start", "_loop_window_end")}
    for record in records:
        if seen[record["id"]] > 1:
            assert epoch(record["createdAt"]) in bounds, (
                f"{record['id']} delivered {seen[record['id']]} times but is not on a "
                "window boundary"
            )
