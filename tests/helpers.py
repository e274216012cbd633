"""Test helpers: run tap-loop as a real process and read its Singer output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tap_loop.loop_api.windows import to_iso as iso  # noqa: F401 (re-exported for the tests)

TOKEN = "sandbox-token-5f1e"
#: Durations of the e2e set-up steps (name, seconds), printed at the end of the run
#: (tests/conftest.py); xdist workers hand theirs to the controller.
SETUP_TIMES = pytest.StashKey[list[tuple[str, float]]]()
#: Seconds a test waits for a condition before it fails (``wait_until``).
WAIT_SECONDS = 30.0
DAY = 86400
EPOCH_2026_11_01 = 1_793_491_200  # 2026-11-01T00:00:00Z


@dataclass
class TapRun:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict] = field(default_factory=list)

    @property
    def records(self) -> list[dict]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def schemas(self) -> list[dict]:
        return [m for m in self.messages if m["type"] == "SCHEMA"]

    @property
    def last_state(self) -> dict | None:
        return self.states[-1] if self.states else None

    def bookmark(self, state: dict | None = None, stream: str = "report") -> str | None:
        state = state if state is not None else self.last_state
        return ((state or {}).get("bookmarks", {}).get(stream, {}) or {}).get(
            "replication_key_value"
        )


class _Scratch:
    """The running test's temp folder (set and removed by the autouse fixture in conftest)."""

    folder: Path | None = None


SCRATCH = _Scratch()


def scratch_dir() -> Path:
    """The running test's temp folder; outside a test, a new folder the caller owns."""
    if SCRATCH.folder is None:
        return Path(tempfile.mkdtemp(prefix="tap-loop-test-"))
    return SCRATCH.folder


def wait_until(
    condition: t.Callable[[], t.Any], what: str, timeout: float = WAIT_SECONDS, every: float = 0.02
) -> t.Any:
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def parse_messages(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def tap_command(
    config: dict,
    state: dict | None = None,
    catalog: dict | None = None,
    extra: t.Sequence[str] = (),
) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=scratch_dir()))
    (folder / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "tap_loop", "--config", str(folder / "config.json")]
    if state is not None:
        (folder / "state.json").write_text(json.dumps(state))
        command += ["--state", str(folder / "state.json")]
    if catalog is not None:
        (folder / "catalog.json").write_text(json.dumps(catalog))
        command += ["--catalog", str(folder / "catalog.json")]
    return command + list(extra)


def tap_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_LOOP_")}
    env["PYTHONUNBUFFERED"] = "1"
    if SCRATCH.folder is not None:
        # The tap's work folders (tap-loop-*, discovery's) go to the test's own temp
        # folder, removed after the test even when the tap was killed before cleaning up.
        tmp = SCRATCH.folder / "tmp"
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
    env.update(extra or {})
    return env


def run_diagnose(config: dict, out: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``tap-loop --diagnose`` (``--diagnose=out`` with ``out``): its stdout is the text
    report, not Singer messages."""
    flag = "--diagnose" if out is None else f"--diagnose={out}"
    return subprocess.run(
        tap_command(config, extra=[flag]),
        capture_output=True,
        text=True,
        timeout=120,
        env=tap_env(),
        check=False,
    )


def run_tap(
    config: dict,
    state: dict | None = None,
    catalog: dict | None = None,
    extra: t.Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> TapRun:
    """Run the tap to completion and parse what it printed."""
    done = subprocess.run(
        tap_command(config, state, catalog, extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=tap_env(env),
        check=False,
    )
    messages = parse_messages(done.stdout) if "--about" not in extra else []
    return TapRun(done.returncode, done.stdout, done.stderr, messages)


def row_ids(records: t.Iterable[dict]) -> list[str]:
    return [r["id"] for r in records]


def discover_run(config: dict, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``tap-loop --discover``; the finished process (stdout: the catalog)."""
    return subprocess.run(
        tap_command(config, extra=["--discover"]),
        capture_output=True,
        text=True,
        timeout=300,
        env=tap_env(env),
        check=False,
    )


def discover(config: dict, env: dict[str, str] | None = None) -> dict:
    """Run ``tap-loop --discover`` and return the catalog it printed."""
    done = discover_run(config, env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_no_state_ahead_of_rows(messages):
    """Every row printed after a STATE belongs to a window ending after its own stream's
    bookmark in that STATE."""
    bookmarks: dict[str, str | None] = {}
    for message in messages:
        if message["type"] == "STATE":
            bookmarks = {
                name: entry.get("replication_key_value")
                for name, entry in message["value"].get("bookmarks", {}).items()
            }
        elif message["type"] == "RECORD":
            bookmark = bookmarks.get(message["stream"])
            if bookmark is not None:
                assert message["record"]["_loop_window_end"] > bookmark, (bookmark, message)


def expected_ids(sandbox, start, end, window=DAY, **filters):
    """Ids in window order; a boundary row belongs to both windows that include it."""
    ids = []
    cursor = start
    while cursor < end:
        upper = min(cursor + window, end)
        ids += [r["id"] for r in sandbox.expected_rows(cursor, upper, **filters)]
        cursor = upper
    return ids


def assert_records_fit_their_schema(messages: list[dict]) -> None:
    """Every RECORD goes to a stream announced before it, with only announced fields."""
    schemas: dict[str, dict] = {}
    for message in messages:
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
        elif message["type"] == "RECORD":
            schema = schemas.get(message["stream"])
            assert schema is not None, f"RECORD for unannounced stream {message['stream']}"
            extra = set(message["record"]) - set(schema["properties"])
            # singer-sdk's flattening keeps a null object under its own name: nothing lost
            assert all(message["record"][k] is None for k in extra), (message["stream"], extra)


def latest_schemas(messages: list[dict]) -> dict[str, dict]:
    return {m["stream"]: m["schema"] for m in messages if m["type"] == "SCHEMA"}


#: Extra settings that put the tap on each record path.
PATHS = {"fast": {}, "general": {"stream_maps": {"report": {"__alias__": "report"}}}}


def api_calls(sandbox):
    return [r for r in sandbox.requests if "/api/" in r["path"]]


def error_lines(stderr):
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def copy_of_working_tree(dest: Path) -> Path:
    """Copy this working tree's files (tracked, and new ones git does not ignore) to
    ``dest``: what a fresh clone holds, with uncommitted changes, and none of the venvs,
    caches or outputs. Skips the test without git or a git checkout."""
    import shutil

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def start_tap(config: dict, state: dict | None = None, catalog: dict | None = None):
    """The tap as a process, its stdout and stderr piped (text)."""
    return subprocess.Popen(
        tap_command(config, state, catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tap_env(),
        text=True,
    )


def read_until(process: subprocess.Popen, predicate, deadline_s: float = 60) -> list[dict]:
    """Messages the tap printed up to (and including) the first one matching predicate."""
    messages: list[dict] = []
    deadline = time.monotonic() + deadline_s
    assert process.stdout is not None
    for line in process.stdout:
        messages.append(json.loads(line))
        if predicate(messages[-1]):
            return messages
        assert time.monotonic() < deadline, "the tap never reached the expected point"
    raise AssertionError(f"the tap ended before the expected point: {process.wait()}")
