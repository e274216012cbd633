"""`meltano run tap-loop target-postgres` into a private PostgreSQL server: rows and
column types match the sandbox's rows, a lookback re-run leaves no duplicate keys, and
parallel per-inbox jobs (scale-out) together load every row once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from loop_sandbox import Sandbox
from tests.e2e.pg_cluster import PgCluster
from tests.e2e.support import (
    DAY,
    START,
    TAP_FIELDS,
    Meltano,
    bookmark,
    epoch,
    expected_rows,
    iso,
)

pytestmark = pytest.mark.e2e

TEXT = {"text", "character varying"}
TIMESTAMPS = {"timestamp without time zone", "timestamp with time zone"}
INTEGERS = {"bigint", "integer", "smallint", "numeric"}
NUMBERS = {"numeric", "double precision", "real"}
JSON = {"jsonb", "json"}


def _pg_env(pg: PgCluster, schema: str) -> dict[str, str]:
    """target-postgres settings from environment variables (host/port/user/... group)."""
    return {
        "TARGET_POSTGRES_HOST": pg.host,
        "TARGET_POSTGRES_PORT": str(pg.port),
        "TARGET_POSTGRES_USER": pg.user,
        "TARGET_POSTGRES_PASSWORD": pg.password,
        "TARGET_POSTGRES_DATABASE": pg.database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


def _is_datetime(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _allowed_types(values: list[Any]) -> set[str]:
    """PostgreSQL types that may hold a sandbox field with these (non-null) values."""
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return {"boolean"}
    if kinds == {int}:
        return INTEGERS
    if kinds <= {int, float} and kinds:
        return NUMBERS
    if kinds == {dict}:
        return JSON
    if kinds == {list}:
        return JSON | {"ARRAY"}
    if kinds == {str}:
        allowed = set(TEXT)
        if all(_is_datetime(v) for v in values if v is not None):
            allowed |= TIMESTAMPS
        if all(_is_date(v) for v in values if v is not None):
            allowed |= {"date"}
        return allowed
    return TEXT | JSON  # mixed or always null: anything that keeps it


def _same(value: Any, want: Any, pg_type: str) -> bool:
    """Compare a value read back from PostgreSQL (as JSON) with the sandbox's."""
    if want is None or value is None:
        return value is None and want is None
    if pg_type in TIMESTAMPS:
        text = value if value.endswith("Z") or "+" in value[10:] else value + "+00:00"
        return epoch(text) == epoch(want)
    if isinstance(want, float) or pg_type in NUMBERS:
        return abs(float(value) - float(want)) < 1e-9
    return value == want


def _check_table(pg: PgCluster, schema: str, want: dict[str, dict[str, Any]]) -> None:
    """Every expected row once, each field with a fitting type and the same value."""
    columns = {
        c["column_name"]: c["data_type"]
        for c in pg.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = 'report'"
        )
    }
    fields = sorted({k for row in want.values() for k in row})
    missing = [f for f in fields if f not in columns]
    assert not missing, f"columns missing in {schema}.report: {missing}"
    for tap_field in TAP_FIELDS:
        assert tap_field in columns
    for name in fields:
        allowed = _allowed_types([row.get(name) for row in want.values()])
        assert columns[name] in allowed, f"{name}: {columns[name]} not in {sorted(allowed)}"

    count = pg.query(f"SELECT count(*) AS n, count(DISTINCT id) AS ids FROM {schema}.report")[0]
    assert count == {"n": len(want), "ids": len(want)}
    rows = pg.query(f"SELECT * FROM {schema}.report")
    assert {r["id"] for r in rows} == set(want)
    for row in rows:
        expected = want[row["id"]]
        for name in fields:
            assert _same(row[name], expected.get(name), columns[name]), (
                f"{row['id']}.{name}: {row[name]!r} != {expected.get(name)!r}"
            )


def test_postgres_rows_types_and_lookback(
    meltano: Meltano, e2e_sandbox: Sandbox, pg: PgCluster
) -> None:
    """Load a week, check every row and type; re-run with a 1.5-day lookback over an
    overlapping range: the overlap is exported again and merged, no duplicate keys."""
    schema = "loop_lookback"
    end_1, end_2 = START + 7 * DAY, START + 9 * DAY
    env = _pg_env(pg, schema)
    meltano("run", "tap-loop", "target-postgres", env={**env, "TAP_LOOP_END_DATE": iso(end_1)})
    _check_table(pg, schema, expected_rows(e2e_sandbox, START, end_1))
    exports_1 = {r["id"]: r["_loop_export_id"] for r in pg.query(f"SELECT * FROM {schema}.report")}
    assert epoch(bookmark(meltano.state("dev:tap-loop-to-target-postgres"))) == end_1

    lookback = int(1.5 * DAY)
    meltano(
        "run",
        "tap-loop",
        "target-postgres",
        env={**env, "TAP_LOOP_END_DATE": iso(end_2), "TAP_LOOP_LOOKBACK_DAYS": "1.5"},
    )
    _check_table(pg, schema, expected_rows(e2e_sandbox, START, end_2))
    rows = pg.query(f'SELECT id, "createdAt", _loop_export_id FROM {schema}.report')
    for row in rows:
        created = epoch(row["createdAt"] + ("" if row["createdAt"].endswith("Z") else "Z"))
        if created < end_1 - lookback:
            assert row["_loop_export_id"] == exports_1[row["id"]], row["id"]
        elif created <= end_1:
            assert row["_loop_export_id"] != exports_1[row["id"]], (
                f"{row['id']} in the lookback range was not exported again"
            )
    assert epoch(bookmark(meltano.state("dev:tap-loop-to-target-postgres"))) == end_2


def test_scale_out_parallel_jobs_per_inbox(
    meltano: Meltano, e2e_sandbox: Sandbox, pg: PgCluster
) -> None:
    """One Meltano job per shared inbox, in parallel, each with its own state id
    (`meltano el --state-id`), into one table: together every row once.

    As docs/meltano.md says: the first time, one job runs alone (here over one day) so
    that it creates the schema and table; two targets creating the same table at the
    same moment can fail on PostgreSQL's catalog (duplicate key in pg_type). `meltano
    el` gives each run its own folder under .meltano/run/elt/, while parallel `meltano
    run` of one extractor share .meltano/run/tap-loop/ (catalog and state files)."""
    schema = "loop_scale_out"
    end = START + 6 * DAY
    teams = ["team_support", "team_sales"]
    base = _pg_env(pg, schema)

    def job(team: str, until: int) -> tuple[list[str], dict[str, str]]:
        args = ["el", "tap-loop", "target-postgres", "--state-id", f"loop-{team}"]
        env = {**base, "TAP_LOOP_TEAM_IDS": f'["{team}"]', "TAP_LOOP_END_DATE": iso(until)}
        return args, env

    first_args, first_env = job(teams[0], START + DAY)
    meltano(*first_args, env=first_env)  # creates the system database, schema and table
    procs = [meltano.popen(*args, env=env) for args, env in (job(team, end) for team in teams)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-8000:]

    want = expected_rows(e2e_sandbox, START, end, team_ids=teams)
    assert {row["teamId"] for row in want.values()} == set(teams)
    _check_table(pg, schema, want)
    for team in teams:
        assert epoch(bookmark(meltano.state(f"loop-{team}"))) == end
