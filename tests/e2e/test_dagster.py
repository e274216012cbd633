"""orchestration/: the Dagster definitions load, and their jobs, executed in process
(``execute_in_process``) in .venv-dagster, run ``meltano el`` per inbox against the
sandbox: each inbox's rows arrive in DuckDB under its own schema, each under its own
Meltano state id, and a failed first attempt is retried by the RetryPolicy."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from loop_sandbox import Sandbox
from tests.e2e.conftest import run_setup_script
from tests.e2e.support import (
    DAY,
    ROOT,
    ROWS_PER_DAY,
    SEED,
    START,
    TOKEN,
    Meltano,
    bookmark,
    duckdb_query,
    epoch,
    expected_rows,
    iso,
)

pytestmark = pytest.mark.e2e

END = START + 3 * DAY
INBOXES = {"support": ["team_support"], "sales": ["team_sales", "team_billing"]}

#: Runs in .venv-dagster: loads `defs`, executes the named jobs one after another on a
#: Dagster instance of DAGSTER_HOME, and prints what the test checks as JSON.
SCRIPT = r"""
import json, sys
import dagster as dg
from tap_loop_dagster.definitions import defs

out = {"schedules": {}, "jobs": {}}
for schedule in defs.schedules:
    out["schedules"][schedule.name] = {
        "cron": schedule.cron_schedule,
        "timezone": schedule.execution_timezone,
        "job": schedule.job_name,
    }
instance = dg.DagsterInstance.get()
for name in sys.argv[1:]:
    job = defs.resolve_job_def(name)
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    (node,) = [n.name for n in job.graph.nodes]
    materialized = result.asset_materializations_for_node(node)
    out["jobs"][name] = {
        "success": result.success,
        "retries": [e.event_type_value for e in result.all_events].count("STEP_UP_FOR_RETRY"),
        "max_retries": job.graph.node_dict[node].definition.retry_policy.max_retries,
        "metadata": {k: v.value for m in materialized for k, v in m.metadata.items()},
    }
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="session")
def dagster_python(meltano_setup: Path, pytestconfig: pytest.Config) -> Path:
    """.venv-dagster (orchestration/requirements.txt) by scripts/dagster, once a session."""
    run_setup_script("dagster", "Dagster venv", 900, pytestconfig)
    return ROOT / ".venv-dagster" / "bin" / "python"


@pytest.fixture
def box() -> Iterator[Sandbox]:
    """A sandbox of this test's own (it gets a fault the other tests must not meet)."""
    with Sandbox(
        token=TOKEN, processing_seconds=0.2, rows_per_day=ROWS_PER_DAY, seed=SEED
    ) as sandbox:
        yield sandbox


def _run_jobs(
    python: Path, meltano: Meltano, inboxes_file: Path, jobs: list[str]
) -> dict[str, Any]:
    home = meltano.workdir / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "orchestration" / "dagster.yaml").read_text())
    env = meltano.full_env(
        {
            "PYTHONPATH": str(ROOT / "orchestration"),
            "DAGSTER_HOME": str(home),
            "LOOP_DAGSTER_INBOXES": str(inboxes_file),
            "LOOP_DAGSTER_MELTANO": str(meltano.executable),
            "LOOP_DAGSTER_RETRY_DELAY_SECONDS": "0.5",
        }
    )
    proc = subprocess.run(
        [str(python), "-c", SCRIPT, *jobs],
        cwd=meltano.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (meltano.workdir / "dagster.log").write_text(proc.stderr)
    assert proc.returncode == 0, proc.stderr[-8000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_dagster_job_per_inbox_loads_duckdb(
    meltano: Meltano, dagster_python: Path, box: Sandbox, tmp_path: Path
) -> None:
    """One job per inbox, each `meltano el --state-id` of its own: every row of each inbox
    in its own DuckDB schema, its own bookmark at end_date; the first job's first attempt
    fails (401 on its first request) and the RetryPolicy's second attempt loads it."""
    meltano.env.update({"TAP_LOOP_API_URL": box.api_url, "TAP_LOOP_END_DATE": iso(END)})
    doc = {
        "defaults": {"loader": "target-duckdb"},
        "inboxes": [
            {
                "name": name,
                "tap_config": {"team_ids": teams},
                "loader_config": {"default_target_schema": f"loop_{name}"},
            }
            for name, teams in INBOXES.items()
        ],
    }
    inboxes_file = tmp_path / "inboxes.yml"
    inboxes_file.write_text(yaml.safe_dump(doc))
    box.add_fault({"target": "any", "kind": "http_status", "status": 401, "times": 1})

    out = _run_jobs(dagster_python, meltano, inboxes_file, [f"tap_loop_{n}" for n in INBOXES])

    assert out["schedules"] == {
        f"tap_loop_{n}_schedule": {"cron": "0 * * * *", "timezone": "UTC", "job": f"tap_loop_{n}"}
        for n in INBOXES
    }
    support, sales = out["jobs"]["tap_loop_support"], out["jobs"]["tap_loop_sales"]
    assert support["success"] and sales["success"], out
    assert (support["retries"], sales["retries"]) == (1, 0), out
    assert support["max_retries"] == sales["max_retries"] == 3
    db = Path(meltano.env["TARGET_DUCKDB_PATH"])
    for name, teams in INBOXES.items():
        state_id = f"dagster:tap-loop-to-target-duckdb:{name}"
        assert out["jobs"][f"tap_loop_{name}"]["metadata"]["state_id"] == state_id
        assert epoch(out["jobs"][f"tap_loop_{name}"]["metadata"]["bookmark"]) == END
        assert epoch(bookmark(meltano.state(state_id))) == END
        want = expected_rows(box, START, END, team_ids=teams)
        rows = duckdb_query(meltano.root, db, f"SELECT id, teamid AS team FROM loop_{name}.report")
        assert len(rows) == len({r["id"] for r in rows}) == len(want), name
        assert {r["id"] for r in rows} == set(want), name
        assert {r["team"] for r in rows} == set(teams), name
