"""`meltano run` / `meltano el` of tap-loop into target-jsonl and target-duckdb, against
the sandbox: every row arrives, a later end_date adds exactly the new rows, and Meltano
keeps the state between runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loop_sandbox import Sandbox
from tests.e2e.support import (
    DAY,
    START,
    Meltano,
    assert_only_boundary_duplicates,
    bookmark,
    duckdb_query,
    epoch,
    expected_rows,
    iso,
    read_jsonl,
    source_fields,
)

pytestmark = pytest.mark.e2e

END_1 = START + 14 * DAY  # two weeks first
END_2 = END_1 + 5 * DAY  # then five more days


def _jsonl_path(meltano: Meltano) -> Path:
    return Path(meltano.env["TARGET_JSONL_DESTINATION_PATH"]) / "report.jsonl"


def test_jsonl_every_row_then_only_new_rows(meltano: Meltano, e2e_sandbox: Sandbox) -> None:
    """`meltano run tap-loop target-jsonl` twice: all rows, then only the new windows."""
    path = _jsonl_path(meltano)
    meltano("run", "tap-loop", "target-jsonl", env={"TAP_LOOP_END_DATE": iso(END_1)})
    first = read_jsonl(path)
    want_1 = expected_rows(e2e_sandbox, START, END_1)
    assert {r["id"] for r in first} == set(want_1)
    for record in first:
        assert source_fields(record) == want_1[record["id"]], record["id"]
        assert record["_loop_export_id"]
    assert_only_boundary_duplicates(first)

    state = meltano.state("dev:tap-loop-to-target-jsonl")
    assert bookmark(state) is not None and epoch(bookmark(state)) == END_1

    meltano("run", "tap-loop", "target-jsonl", env={"TAP_LOOP_END_DATE": iso(END_2)})
    second = read_jsonl(path)[len(first) :]
    want_new = expected_rows(e2e_sandbox, END_1 + 1, END_2)
    old_ids = {r["id"] for r in first}
    # Only the new windows were exported: from the bookmark (whose boundary row may come
    # again, at-least-once) to the new end_date.
    assert min(epoch(r["_loop_window_start"]) for r in second) == END_1
    assert {r["id"] for r in second} - old_ids == set(want_new)
    assert {r["id"] for r in second} <= set(want_new) | set(
        expected_rows(e2e_sandbox, END_1, END_1)
    )
    for record in second:
        assert source_fields(record) == (want_new | want_1)[record["id"]]
    assert epoch(bookmark(meltano.state("dev:tap-loop-to-target-jsonl"))) == END_2


def _duckdb_counts(meltano: Meltano, path: Path) -> tuple[int, int]:
    row = duckdb_query(
        meltano.root, path, "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM loop.report"
    )[0]
    return row["n"], row["ids"]


def test_duckdb_every_row_once_then_only_new_rows(meltano: Meltano, e2e_sandbox: Sandbox) -> None:
    """`meltano run tap-loop target-duckdb`: each sandbox row once per key, row for row;
    a later end_date adds exactly the new rows. Windows of half a day (a fractional
    setting from an environment variable) give many batches' worth of boundaries."""
    db = Path(meltano.env["TARGET_DUCKDB_PATH"])
    env = {"TAP_LOOP_WINDOW_DAYS": "0.5", "TARGET_DUCKDB_BATCH_SIZE_ROWS": "200"}
    meltano("run", "tap-loop", "target-duckdb", env={**env, "TAP_LOOP_END_DATE": iso(END_1)})
    want_1 = expected_rows(e2e_sandbox, START, END_1)
    # Counting rows is the guard against target-duckdb losing the first row of each
    # batch (DuckDB >= 1.3 guesses a header in its COPY): batches of 200 rows here.
    assert _duckdb_counts(meltano, db) == (len(want_1), len(want_1))
    rows = duckdb_query(
        meltano.root,
        db,
        'SELECT id, teamid, "createdat", localdate, localhour, handletimeminutes, '
        "isresolved, assignee, tags FROM loop.report",
    )
    for row in rows:
        want = want_1[row["id"]]
        assert row["teamid"] == want["teamId"]
        assert row["localdate"] == want["localDate"]
        assert row["localhour"] == want["localHour"]
        assert row["isresolved"] == want["isResolved"]
        assert row["handletimeminutes"] == pytest.approx(want["handleTimeMinutes"])
        assert row["createdat"].replace(" ", "T") + "Z" == want["createdAt"]
        assert (json.loads(row["assignee"]) if row["assignee"] else None) == want["assignee"]
        assert json.loads(row["tags"]) == want["tags"]

    state = meltano.state("dev:tap-loop-to-target-duckdb")
    assert epoch(bookmark(state)) == END_1

    meltano("run", "tap-loop", "target-duckdb", env={**env, "TAP_LOOP_END_DATE": iso(END_2)})
    want_2 = expected_rows(e2e_sandbox, START, END_2)
    assert _duckdb_counts(meltano, db) == (len(want_2), len(want_2))
    assert len(want_2) - len(want_1) == len(expected_rows(e2e_sandbox, END_1 + 1, END_2))
    added = duckdb_query(
        meltano.root,
        db,
        f"SELECT min(_loop_window_start) AS first FROM loop.report "
        f"WHERE _loop_window_end > TIMESTAMP '{iso(END_1)[:-1].replace('T', ' ')}'",
    )[0]
    assert added["first"].replace(" ", "T") + "Z" == iso(END_1)
    assert epoch(bookmark(meltano.state("dev:tap-loop-to-target-duckdb"))) == END_2


def test_meltano_el_with_state_id(meltano: Meltano, e2e_sandbox: Sandbox) -> None:
    """`meltano el tap-loop target-jsonl --state-id ID` keeps its state under that id."""
    path = _jsonl_path(meltano)
    end_1, end_2 = START + 3 * DAY, START + 5 * DAY
    args = ("el", "tap-loop", "target-jsonl", "--state-id", "loop-el-e2e")
    meltano(*args, env={"TAP_LOOP_END_DATE": iso(end_1)})
    first = read_jsonl(path)
    assert {r["id"] for r in first} == set(expected_rows(e2e_sandbox, START, end_1))
    assert epoch(bookmark(meltano.state("loop-el-e2e"))) == end_1

    meltano(*args, env={"TAP_LOOP_END_DATE": iso(end_2)})
    second = read_jsonl(path)[len(first) :]
    assert min(epoch(r["_loop_window_start"]) for r in second) == end_1
    assert {r["id"] for r in second} - {r["id"] for r in first} == set(
        expected_rows(e2e_sandbox, end_1 + 1, end_2)
    )
    assert epoch(bookmark(meltano.state("loop-el-e2e"))) == end_2
    listed = meltano("state", "list").stdout
    assert "loop-el-e2e" in listed


def _singer_lines(count: int) -> str:
    """Hand-written Singer messages: one schema, ``count`` records, one state."""
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "teamId": {"type": ["string", "null"]},
            "createdAt": {"type": ["string", "null"], "format": "date-time"},
            "n": {"type": ["integer", "null"]},
            "meta": {"type": ["object", "null"]},
        },
    }
    lines = [{"type": "SCHEMA", "stream": "report", "schema": schema, "key_properties": ["id"]}]
    lines += [
        {
            "type": "RECORD",
            "stream": "report",
            "record": {
                "id": f"r{i:03d}",
                "teamId": "team_support",
                "createdAt": f"2024-03-04T00:{i:02d}:00Z",
                "n": i,
                "meta": {"i": i},
            },
        }
        for i in range(count)
    ]
    lines.append({"type": "STATE", "value": {"bookmarks": {"report": {"n": count}}}})
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_target_duckdb_keeps_the_first_row_of_every_batch(meltano: Meltano) -> None:
    """The pinned DuckDB loads every row: 25 records in batches of 10 give 25 rows
    (target-duckdb 0.8.0 with DuckDB 1.3 or newer gives 22)."""
    db = Path(meltano.env["TARGET_DUCKDB_PATH"])
    meltano(
        "invoke",
        "target-duckdb",
        env={"TARGET_DUCKDB_BATCH_SIZE_ROWS": "10"},
        input=_singer_lines(25),
    )
    assert _duckdb_counts(meltano, db) == (25, 25)
    ids = [r["id"] for r in duckdb_query(meltano.root, db, "SELECT id FROM loop.report")]
    assert sorted(ids) == [f"r{i:03d}" for i in range(25)]
