"""Several reports in one `meltano run`: each report's stream loads into its own table
(DuckDB and PostgreSQL) with exactly the sandbox's rows for its filters, a later
end_date adds only the new rows, `meltano state get` shows one bookmark per stream, and
`meltano select` picks reports (only their tables load, only their windows are
exported). The `reports` setting comes from meltano.yml and from TAP_LOOP_REPORTS."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from loop_sandbox import Sandbox
from tests.e2e.pg_cluster import PgCluster
from tests.e2e.support import DAY, START, Meltano, duckdb_query, epoch, iso

pytestmark = pytest.mark.e2e

END_1 = START + 4 * DAY
END_2 = END_1 + 2 * DAY
REPORTS: list[dict[str, Any]] = [
    {"name": "support", "team_ids": ["team_support"]},
    {"name": "sales", "team_ids": ["team_sales"]},
    {"name": "urgent", "tag_ids": ["tag_urgent"]},
]
NAMES = [r["name"] for r in REPORTS]
FIELDS = {"team_ids": "teamIds", "tag_ids": "tagIds"}


def _project(meltano: Meltano, tmp_path: Path, config: dict[str, Any]) -> Meltano:
    """A copy of the project (sharing its plugin venvs) with ``config`` in tap-loop's
    `config:` block of meltano.yml, so `meltano select` edits the copy."""
    project = tmp_path / "project"
    (project / ".meltano").mkdir(parents=True)
    for kind in ("extractors", "loaders"):
        os.symlink(meltano.root / ".meltano" / kind, project / ".meltano" / kind)
    shutil.copy(meltano.root / "pyproject.toml", project / "pyproject.toml")
    text = (meltano.root / "meltano.yml").read_text()
    anchor = "    executable: tap-loop\n"
    assert text.count(anchor) == 1
    block = "".join(f"      {k}: {json.dumps(v)}\n" for k, v in config.items())
    if block:
        text = text.replace(anchor, anchor + "    config:\n" + block)
    (project / "meltano.yml").write_text(text)
    env = {**meltano.env, "MELTANO_PROJECT_ROOT": str(project)}
    return Meltano(root=meltano.root, workdir=tmp_path, env=env, project=project)


def _want(sandbox: Sandbox, report: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """The sandbox's rows of ``report``'s filters in [start, end], by id."""
    rows = sandbox.expected_rows(
        start, end, team_ids=report.get("team_ids"), tag_ids=report.get("tag_ids")
    )
    return {row["id"]: row for row in rows}


def _window_exports(sandbox: Sandbox, since: int) -> dict[str, list[tuple[int, int]]]:
    """The exports created since request ``since``, by report name: their windows."""
    by_filters = {
        json.dumps({FIELDS[k]: v for k, v in r.items() if k in FIELDS}, sort_keys=True): r["name"]
        for r in REPORTS
    }
    out: dict[str, list[tuple[int, int]]] = {name: [] for name in NAMES}
    for request in sandbox.requests[since:]:
        if request["method"] == "POST" and request["path"].endswith("/report/export"):
            body = json.loads(request["body"])
            filters = {f: body[f] for f in FIELDS.values() if body.get(f)}
            out[by_filters[json.dumps(filters, sort_keys=True)]].append(
                (body["start"], body["end"])
            )
    return out


def _bookmarks(meltano: Meltano, state_id: str) -> dict[str, int]:
    """Each stream's replication_key_value in the state Meltano keeps, as epoch seconds."""
    state = meltano.state(state_id)["singer_state"]["bookmarks"]
    return {name: epoch(entry["replication_key_value"]) for name, entry in state.items()}


def _check_table(rows: list[dict[str, Any]], want: dict[str, Any]) -> None:
    """Each sandbox row once, with its values."""
    assert sorted(r["id"] for r in rows) == sorted(want)
    for row in rows:
        expected = want[row["id"]]
        assert row["teamid"] == expected["teamId"]
        assert row["createdat"].replace(" ", "T")[:19] + "Z" == expected["createdAt"]
        assert row["localdate"] == expected["localDate"]
        tags = row["tags"] if isinstance(row["tags"], list) else json.loads(row["tags"])
        assert tags == expected["tags"]


def _duckdb_tables(meltano: Meltano, path: Path) -> set[str]:
    rows = duckdb_query(
        meltano.root,
        path,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'loop'",
    )
    return {r["table_name"] for r in rows}


def _duckdb_rows(meltano: Meltano, path: Path, table: str) -> list[dict[str, Any]]:
    return duckdb_query(
        meltano.root,
        path,
        f'SELECT id, teamid, CAST("createdat" AS VARCHAR) AS createdat, localdate, tags '
        f"FROM loop.{table}",
    )


def test_duckdb_reports_from_meltano_yml(
    meltano: Meltano, e2e_sandbox: Sandbox, tmp_path: Path
) -> None:
    """3 reports in meltano.yml, one `meltano run tap-loop target-duckdb`: a table per
    report, its rows exactly; a later end_date adds only new rows; a bookmark each."""
    copy = _project(meltano, tmp_path, {"reports": REPORTS})
    db = Path(copy.env["TARGET_DUCKDB_PATH"])
    state_id = "dev:tap-loop-to-target-duckdb"
    for end in (END_1, END_2):
        since = len(e2e_sandbox.requests)
        copy("run", "tap-loop", "target-duckdb", env={"TAP_LOOP_END_DATE": iso(end)})
        assert {"support", "sales", "urgent"} <= _duckdb_tables(copy, db)
        for report in REPORTS:
            want = _want(e2e_sandbox, report, START, end)
            assert want, report
            _check_table(_duckdb_rows(copy, db, report["name"]), want)
        assert _bookmarks(copy, state_id) == dict.fromkeys(NAMES, end)
        exports = _window_exports(e2e_sandbox, since)
        if end == END_2:  # incremental: only from the bookmark on (discovery's sample too)
            for name in NAMES:
                assert exports[name] and min(s for s, _ in exports[name]) >= END_1, name


def test_meltano_select_some_reports(
    meltano: Meltano, e2e_sandbox: Sandbox, tmp_path: Path
) -> None:
    """`meltano select tap-loop <report> '*'` for two of three reports: only their
    tables load, the third's windows are not exported, and it gets no bookmark."""
    copy = _project(meltano, tmp_path, {"reports": REPORTS})
    copy("select", "tap-loop", "support", "*")
    copy("select", "tap-loop", "urgent", "*")
    db = Path(copy.env["TARGET_DUCKDB_PATH"])
    since = len(e2e_sandbox.requests)
    copy("run", "tap-loop", "target-duckdb", env={"TAP_LOOP_END_DATE": iso(END_1)})
    assert _duckdb_tables(copy, db) == {"support", "urgent"}
    for report in (REPORTS[0], REPORTS[2]):
        _check_table(
            _duckdb_rows(copy, db, report["name"]), _want(e2e_sandbox, report, START, END_1)
        )
    exports = _window_exports(e2e_sandbox, since)
    days = (END_1 - START) // DAY
    assert len(exports["support"]) >= days and len(exports["urgent"]) >= days
    assert len(exports["sales"]) <= 1, "only discovery's sample export of a deselected report"
    assert _bookmarks(copy, "dev:tap-loop-to-target-duckdb") == {
        "support": END_1,
        "urgent": END_1,
    }


def test_postgres_reports_from_environment(
    meltano: Meltano, e2e_sandbox: Sandbox, pg: PgCluster
) -> None:
    """TAP_LOOP_REPORTS as JSON, `meltano run tap-loop target-postgres` twice: a table
    per report with its rows once per key, then only the new rows; a bookmark each."""
    schema = "loop_reports_e2e"
    env = {
        "TAP_LOOP_REPORTS": json.dumps(REPORTS),
        "TARGET_POSTGRES_HOST": pg.host,
        "TARGET_POSTGRES_PORT": str(pg.port),
        "TARGET_POSTGRES_USER": pg.user,
        "TARGET_POSTGRES_PASSWORD": pg.password,
        "TARGET_POSTGRES_DATABASE": pg.database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }
    dumped = json.loads(meltano("invoke", "--dump=config", "tap-loop", env=env).stdout)
    assert dumped["reports"] == REPORTS
    for end in (END_1, END_2):
        meltano("run", "tap-loop", "target-postgres", env={**env, "TAP_LOOP_END_DATE": iso(end)})
        tables = pg.query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'"
        )
        assert {r["table_name"] for r in tables} == set(NAMES)
        for report in REPORTS:
            rows = pg.query(
                'SELECT id, "teamId" AS teamid, "createdAt"::text AS createdat, '
                f'"localDate"::text AS localdate, tags FROM {schema}.{report["name"]}'
            )
            _check_table(rows, _want(e2e_sandbox, report, START, end))
        assert _bookmarks(meltano, "dev:tap-loop-to-target-postgres") == dict.fromkeys(NAMES, end)
