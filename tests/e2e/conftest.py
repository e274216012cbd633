"""End-to-end fixtures: Meltano (own venv, plugins installed once), the Loop sandbox,
and a private PostgreSQL cluster, all on 127.0.0.1 and stopped afterwards.

Every test gets its own Meltano system database (so its own state) and output folder;
the plugins' venvs in the project's .meltano/ are shared. Set TAP_LOOP_SKIP_E2E=1 to
skip these tests.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loop_sandbox import Sandbox
from tests.e2e.pg_cluster import PgCluster
from tests.e2e.support import (
    IMPERSONATED,
    ROOT,
    ROWS_PER_DAY,
    SEED,
    START,
    TOKEN,
    Meltano,
    iso,
)
from tests.helpers import SETUP_TIMES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as e2e (and slow)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _skip_e2e_when_asked() -> None:
    if os.environ.get("TAP_LOOP_SKIP_E2E"):
        pytest.skip("TAP_LOOP_SKIP_E2E is set")


def run_setup_script(script: str, label: str, timeout: float, pytestconfig: pytest.Config) -> None:
    """``scripts/<script> --setup`` once; its time goes into the session's set-up times."""
    began = time.monotonic()
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), "--setup"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/{script} --setup failed:\n{proc.stdout}\n{proc.stderr}")
    pytestconfig.stash[SETUP_TIMES].append((label, time.monotonic() - began))


@pytest.fixture(scope="session")
def meltano_setup(pytestconfig: pytest.Config) -> Path:
    """.venv-meltano with Meltano and the project's plugins, installed once per session."""
    run_setup_script("meltano", "Meltano venv + meltano install", 1200, pytestconfig)
    return ROOT


@pytest.fixture(scope="session")
def e2e_sandbox() -> Iterator[Sandbox]:
    """One Loop sandbox for the session: 96 rows a day, exports ready after 0.2 s."""
    box = Sandbox(
        token=TOKEN,
        processing_seconds=0.2,
        rows_per_day=ROWS_PER_DAY,
        seed=SEED,
        allowed_impersonation={IMPERSONATED},
    )
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="session")
def pg(pytestconfig: pytest.Config) -> Iterator[PgCluster]:
    """A private PostgreSQL server on 127.0.0.1 (installed with apt-get if missing)."""
    began = time.monotonic()
    cluster = PgCluster(database="loop_e2e", user="loop_e2e", password="e2e-pass-7d1")
    cluster.start()
    pytestconfig.stash[SETUP_TIMES].append(
        ("PostgreSQL install check + initdb + start", time.monotonic() - began)
    )
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def meltano(meltano_setup: Path, e2e_sandbox: Sandbox, tmp_path: Path) -> Meltano:
    """A Meltano runner for one test: own system database (state) and output folders,
    tap-loop pointed at the sandbox with fast polling, loaders writing under tmp_path."""
    out = tmp_path / "out"
    out.mkdir()
    scratch = tmp_path / "tmp"  # the tap's work folders, even when a test kills it
    scratch.mkdir()
    env = {
        "TMPDIR": str(scratch),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_PROJECT_ROOT": str(meltano_setup),
        "TAP_LOOP_API_URL": e2e_sandbox.api_url,
        "TAP_LOOP_API_TOKEN": TOKEN,
        "TAP_LOOP_START_DATE": iso(START),
        "TAP_LOOP_POLL_INTERVAL_SECONDS": "0.1",
        "TAP_LOOP_REQUEST_TIMEOUT_SECONDS": "10",
        "TAP_LOOP_SCHEMA_SAMPLE_DAYS": "1",
        "TARGET_JSONL_DESTINATION_PATH": str(out / "jsonl"),
        "TARGET_DUCKDB_PATH": str(out / "warehouse.duckdb"),
    }
    return Meltano(root=meltano_setup, workdir=tmp_path, env=env)
