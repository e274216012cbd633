"""What lands in the warehouse equals what Loop sent: one export holding every hard shape
(long decimals, integers beyond 64 bits, arrays of arrays, a type widened mid-run and kept
in the next run, unicode beyond the BMP, empty strings, date-times with offsets and
nanoseconds), loaded by `meltano run` twice into target-postgres and target-duckdb; every
loaded value is compared with the sandbox's, as far as that target can store it (README,
"Schema"; docs/schema.md, "What each target stores")."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from loop_sandbox import Sandbox
from tests.e2e.pg_cluster import PgCluster
from tests.e2e.support import (
    DAY,
    ROWS_PER_DAY,
    SEED,
    START,
    TAP_FIELDS,
    TOKEN,
    Meltano,
    duckdb_query,
    expected_rows,
    iso,
)
from tests.e2e.test_meltano_postgres import _pg_env

pytestmark = pytest.mark.e2e

#: countA is a number (k + 0.25) on the middle of the first day, an integer elsewhere:
#: discovery samples the last day of each run (integers), so it widens mid-run 1.
NUMBERS = (START + 6 * 3600, START + DAY - 6 * 3600)
END_1, END_2 = START + 2 * DAY, START + 3 * DAY


@pytest.fixture
def shapes() -> Iterator[Sandbox]:
    box = Sandbox(
        token=TOKEN,
        processing_seconds=0.2,
        rows_per_day=ROWS_PER_DAY,
        seed=SEED,
        warehouse_shapes=True,
        numbers_between=NUMBERS,
    )
    box.start()
    try:
        yield box
    finally:
        box.stop()


def _instant(text: str) -> dt.datetime:
    """A Loop date-time as the naive UTC wall time both targets store (microseconds kept,
    nanoseconds cut)."""
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _is_datetime(value: Any) -> bool:
    return isinstance(value, str) and "T" in value and value[:4].isdigit()


def _json(value: Any) -> Any:
    """A value as JSON text parses back (decimals exact)."""
    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


def _same(column_type: str, text: str | None, want: Any, *, duckdb: bool) -> bool:
    """Does the loaded value (as the warehouse's text) equal Loop's, as the column's type
    can hold it?"""
    if want == "" and duckdb:
        return text is None  # target-duckdb stores an empty string as NULL
    kind = column_type.lower()
    if want is None and text == "null" and kind in ("json", "jsonb", "array") and not duckdb:
        return True  # target-postgres stores a null object or array as JSON null
    if want is None or text is None:
        return want is None and text is None
    if kind.startswith("timestamp"):
        return dt.datetime.fromisoformat(text) == _instant(want)
    if kind in ("double", "double precision", "real", "float"):
        return float(text) == float(want)  # a double: Loop's value rounded to 53 bits
    if kind in ("numeric", "bigint", "integer", "hugeint", "smallint") or kind.startswith(
        "decimal"
    ):
        return Decimal(text) == Decimal(str(want))  # exact
    if kind in ("json", "jsonb", "array"):
        return _json(json.loads(text, parse_float=Decimal)) == _json(want)
    if kind == "boolean":
        return text.lower() == str(want).lower()
    if kind == "date":
        return text == want
    if isinstance(want, (dict, list)):
        return _json(json.loads(text, parse_float=Decimal)) == _json(want)
    return text == str(want)  # text: exactly Loop's (unicode beyond the BMP included)


def _check(
    columns: dict[str, str],
    rows: list[dict[str, Any]],
    want: dict[str, dict[str, Any]],
    duckdb: bool,
) -> None:
    """Every row once; every field of every row equal to Loop's. Names: DuckDB lowercases
    them, PostgreSQL keeps them (quoted). countA: the rows loaded before the mid-run
    widening are in DuckDB's renamed column (countA_<date>_<time>); target-postgres keeps
    its bigint column and rounds the fractions (half away from zero)."""
    assert sorted(r["id"] for r in rows) == sorted(want)
    renamed = [c for c in columns if c.startswith("counta_")]
    if duckdb:
        assert len(renamed) == 1, f"countA renamed more than once (or never): {renamed}"
    for row in rows:
        expected = want[row["id"]]
        for name, value in expected.items():
            column = name.lower() if duckdb else name
            got = row[column]
            if name == "countA" and duckdb and got is None:
                column = renamed[0]
                got = row[column]
            if name == "countA" and not duckdb and isinstance(value, float):
                value = int(Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP))
            assert _same(columns[column], got, value, duckdb=duckdb), (
                f"{row['id']}.{name} ({columns[column]}): loaded {got!r}, Loop sent {value!r}"
            )


def _duckdb_table(meltano: Meltano) -> tuple[dict[str, str], list[dict[str, Any]]]:
    path = meltano.workdir / "out" / "warehouse.duckdb"
    info = duckdb_query(
        meltano.root,
        path,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'loop' AND table_name = 'report'",
    )
    columns = {c["column_name"]: c["data_type"] for c in info}
    select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in columns)
    return columns, duckdb_query(meltano.root, path, f"SELECT {select} FROM loop.report")


def _pg_table(pg: PgCluster, schema: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    info = pg.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = 'report'"
    )
    columns = {c["column_name"]: c["data_type"] for c in info}
    select = ", ".join(
        f'array_to_json("{c}")::text AS "{c}"' if t == "ARRAY" else f'"{c}"::text AS "{c}"'
        for c, t in columns.items()
    )
    return columns, pg.query(f"SELECT {select} FROM {schema}.report")


def _sent(sandbox: Sandbox, end: int) -> dict[str, dict[str, Any]]:
    rows = expected_rows(sandbox, START, end)
    return {i: {k: v for k, v in r.items() if k not in TAP_FIELDS} for i, r in rows.items()}


def _two_runs(meltano: Meltano, target: str, env: dict[str, str], check) -> None:
    run_1 = meltano("run", "tap-loop", target, env={**env, "TAP_LOOP_END_DATE": iso(END_1)})
    assert "Schema drift: 'countA': integer|null -> number|null" in run_1.stderr
    check(END_1)
    run_2 = meltano("run", "tap-loop", target, env={**env, "TAP_LOOP_END_DATE": iso(END_2)})
    assert "as an earlier run announced" in run_2.stderr
    check(END_2)


def test_duckdb_stores_what_loop_sent(meltano: Meltano, shapes: Sandbox) -> None:
    env = {"TAP_LOOP_API_URL": shapes.api_url}

    def check(end: int) -> None:
        columns, rows = _duckdb_table(meltano)
        assert columns["counta"] == "DOUBLE" and columns["longdecimal"] == "DOUBLE"
        assert columns["hugeinteger"] == "VARCHAR" and columns["matrix"] == "JSON"
        assert columns["seenat"] == "TIMESTAMP"
        _check(columns, rows, _sent(shapes, end), duckdb=True)

    _two_runs(meltano, "target-duckdb", env, check)


def test_postgres_stores_what_loop_sent(meltano: Meltano, shapes: Sandbox, pg: PgCluster) -> None:
    schema = "loop_values"
    env = {"TAP_LOOP_API_URL": shapes.api_url, **_pg_env(pg, schema)}

    def check(end: int) -> None:
        columns, rows = _pg_table(pg, schema)
        assert columns["countA"] == "bigint"  # created before the widening; never altered
        assert columns["longDecimal"] == "numeric" and columns["hugeInteger"] == "numeric"
        assert columns["matrix"] == "jsonb" and columns["tags"] == "ARRAY"  # jsonb[]
        assert columns["seenAt"] == "timestamp without time zone"
        _check(columns, rows, _sent(shapes, end), duckdb=False)

    _two_runs(meltano, "target-postgres", env, check)
