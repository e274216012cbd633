"""The README's cron recipe for the plain CLI, run as written (bash) against the sandbox:
twice, the second run incremental from the state the target printed, every row loaded;
a run that fails before its first window keeps the state as it was; nothing half-written
is left behind. tap-loop comes from the test's Python, target-jsonl from Meltano's venv."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loop_sandbox import Sandbox
from tests.e2e.support import (
    DAY,
    ROOT,
    START,
    TOKEN,
    assert_only_boundary_duplicates,
    epoch,
    expected_rows,
    iso,
    read_jsonl,
)

pytestmark = pytest.mark.e2e

MARKER = "<!-- cron recipe: tests/e2e/test_cron_recipe.py runs this block as written -->"


def recipe() -> str:
    """The bash block that follows the marker in the README."""
    text = (ROOT / "README.md").read_text()
    found = re.search(re.escape(MARKER) + r"\n```bash\n(.*?)\n```\n", text, re.S)
    assert found, "the README's cron recipe block is missing"
    return found.group(1)


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    script = folder / "loop-sync.sh"
    script.write_text(recipe())
    bins = [
        str(Path(sys.executable).parent),  # tap-loop
        str(ROOT / ".meltano" / "loaders" / "target-jsonl" / "venv" / "bin"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_LOOP_")}
    env.update(
        LOOP_DIR=str(folder),
        PATH=os.pathsep.join([*bins, env.get("PATH", "/usr/bin:/bin")]),
        TMPDIR=str(folder / "tmp"),
    )
    return subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=300
    )


def _configure(folder: Path, sandbox: Sandbox, end: int, **change: str) -> None:
    config = {
        "api_token": TOKEN,
        "api_url": sandbox.api_url,
        "start_date": iso(START),
        "end_date": iso(end),
        "poll_interval_seconds": 0.1,
        "request_timeout_seconds": 10,
        "schema_sample_days": 1,
        **change,
    }
    (folder / "config.json").write_text(json.dumps(config))


def _windows(sandbox: Sandbox) -> set[tuple[int, int]]:
    creates = [r for r in sandbox.requests if r["method"] == "POST" and "/export" in r["path"]]
    return {(b["start"], b["end"]) for b in (json.loads(r["body"]) for r in creates)}


def _bookmark(folder: Path) -> int:
    state = json.loads((folder / "state.json").read_text())
    return epoch(state["bookmarks"]["report"]["replication_key_value"])


def test_cron_recipe_twice_is_incremental_and_loses_nothing(
    meltano_setup: Path, e2e_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "loop"
    (folder / "tmp").mkdir(parents=True)
    out = folder / "jsonl"
    (folder / "target.json").write_text(
        json.dumps({"destination_path": str(out), "do_timestamp_file": False})
    )
    end_1, end_2 = START + 2 * DAY, START + 4 * DAY

    _configure(folder, e2e_sandbox, end_1)
    e2e_sandbox.clear_requests()
    first = _run(folder)
    assert first.returncode == 0, first.stderr[-4000:]
    assert _bookmark(folder) == end_1
    assert {r["id"] for r in read_jsonl(out / "report.jsonl")} == set(
        expected_rows(e2e_sandbox, START, end_1)
    )
    assert (START, START + DAY) in _windows(e2e_sandbox)

    # The hour after: a later end, and the run starts from the state the target printed.
    _configure(folder, e2e_sandbox, end_2)
    e2e_sandbox.clear_requests()
    second = _run(folder)
    assert second.returncode == 0, second.stderr[-4000:]
    windows = _windows(e2e_sandbox)
    assert {(end_1, end_1 + DAY), (end_1 + DAY, end_2)} <= windows
    assert not [w for w in windows if w[0] < end_1], windows  # nothing exported again
    records = read_jsonl(out / "report.jsonl")
    assert {r["id"] for r in records} == set(expected_rows(e2e_sandbox, START, end_2))
    assert_only_boundary_duplicates(records)
    assert _bookmark(folder) == end_2

    # Runs that fail before their first window keep the state byte for byte, and leave
    # no state.json.new: a revoked token (the target prints the incoming state again) and
    # an invalid setting (the tap prints nothing, so the target prints nothing).
    before = (folder / "state.json").read_bytes()
    for change, said in [
        ({"api_token": "revoked-token-cron-01"}, "HTTP 401"),
        ({"timezone": "Mars/Olympus"}, "Setting 'timezone'"),
    ]:
        _configure(folder, e2e_sandbox, end_2 + DAY, **change)
        failed = _run(folder)
        assert failed.returncode != 0 and said in failed.stderr, failed.stderr[-3000:]
        assert (folder / "state.json").read_bytes() == before
        assert not (folder / "state.json.new").exists()
