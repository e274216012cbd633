"""Shared fixtures: a Loop sandbox on 127.0.0.1 per test, and tap configs pointing at it."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from typing_extensions import override

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # loop_sandbox lives at the repo's top, outside the wheel
    sys.path.insert(0, str(ROOT))

from loop_sandbox import Sandbox  # noqa: E402
from tests.helpers import DAY, EPOCH_2026_11_01, SCRATCH, SETUP_TIMES, TOKEN, iso  # noqa: E402


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadgroup`` (scripts/test): every test under tests/e2e on one worker,
    as they share .venv-meltano, the project's .meltano/ and one PostgreSQL cluster that
    worker sets up once; any other test goes to whichever worker is free. (xdist's own
    ``xdist_group`` marks do not group under pytest 9.2, so the scope is set here.)"""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class E2eOnOneWorker(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
        @override
        def _split_scope(self, nodeid: str) -> str:
            return "tests/e2e" if nodeid.startswith("tests/e2e/") else nodeid

    return E2eOnOneWorker(config, log)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SETUP_TIMES] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the set-up times to the controller (pytest_testnodedown)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["tap_loop_setup_times"] = session.config.stash[SETUP_TIMES]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    node.config.stash[SETUP_TIMES] += [
        tuple(t) for t in node.workeroutput.get("tap_loop_setup_times", [])
    ]


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Print how long the e2e set-up steps took."""
    if config.stash[SETUP_TIMES]:
        terminalreporter.write_sep("-", "tap-loop e2e set-up times")
        for name, seconds in config.stash[SETUP_TIMES]:
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")


@pytest.fixture(autouse=True)
def _scratch_folder():
    """Each test's temp folder for tap configs and the taps' TMPDIR; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tap-loop-test-"))
    SCRATCH.folder = folder
    try:
        yield folder
    finally:
        SCRATCH.folder = None
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def sandbox():
    """A fresh sandbox: quick exports (0.2 s processing), 48 rows a day."""
    box = Sandbox(
        token=TOKEN,
        processing_seconds=0.2,
        rows_per_day=48,
        seed=7,
        allowed_impersonation={"boss@example.com"},
    )
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def config(sandbox):
    """A tap config for three one-day windows against the sandbox, polling fast."""
    return {
        "api_token": TOKEN,
        "api_url": sandbox.api_url,
        "start_date": iso(EPOCH_2026_11_01),
        "end_date": iso(EPOCH_2026_11_01 + 3 * DAY),
        "poll_interval_seconds": 0.1,
        "request_timeout_seconds": 5,
        "max_concurrent_exports": 2,
        "primary_keys": ["id"],
    }


@pytest.fixture
def catalog(sandbox, config):
    """The catalog `tap-loop --discover` writes for ``config`` (as Meltano would run it);
    the sandbox's request log is cleared afterwards so tests see only the sync."""
    from tests.helpers import discover

    result = discover(config)
    sandbox.clear_requests()
    return result
