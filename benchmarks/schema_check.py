"""Micro-benchmark of the drift check; prints µs/row.

Run: ``.venv/bin/python benchmarks/schema_check.py [--rows N] [--repeat R]``.
The typical row has 20 fields: scalars, three date/date-time strings, a list of
strings, a nested object holding a list, and a list of objects. Times the typed
decoding the sync uses for a chunk of rows (parse and check in one msgspec pass, then
writing each row), against parsing with orjson, checking each row with the generated
checker (``SchemaGuard.check``, what rows that are not typed get) and writing it; and,
alone, the per-row checker, the uncompiled reference check and, when installed,
jsonschema.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from tap_loop.core.output import dumps
from tap_loop.schemas.inference import infer_schema
from tap_loop.schemas.row_check import SchemaGuard, fits


def make_row(i: int) -> dict[str, Any]:
    """A Loop-like analytics row with 20 fields, 3 of them nested."""
    return {
        "id": 100_000 + i,
        "conversationId": f"c-{i:08d}",
        "subject": f"Re: invoice {i}",
        "teamId": f"team-{i % 7}",
        "teamName": "Support",
        "teammate": f"mate{i % 13}@example.com",
        "customer": f"cust{i % 1000}@example.org",
        "createdAt": "2026-11-01T12:00:00Z",
        "closedAt": "2026-11-01T15:30:00.123+01:00" if i % 4 else None,
        "day": "2026-11-01",
        "firstReplySeconds": 842 + i % 50,
        "replyCount": i % 9,
        "rating": 4.5 if i % 2 else 3,
        "isSpam": i % 11 == 0,
        "isShared": True,
        "tags": ["billing", "vip"][: i % 3],
        "meta": {"source": "email", "thread": {"depth": 2}, "ids": [1, 2, 3]},
        "participants": [
            {"email": "a@example.com", "role": "to"},
            {"email": "b@example.com", "role": "cc"},
        ],
        "score": 0.87,
        "note": None if i % 3 else "a note",
    }


def time_per_row(check: Callable[[dict[str, Any]], bool], rows: list[dict], repeat: int) -> float:
    """µs per row for ``check``: the fastest of ``repeat`` short rounds over ``rows``.

    Short rounds and the minimum filter out the time other processes take the CPU.
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for row in rows:
            if not check(row):
                raise AssertionError("benchmark row does not fit")
        best = min(best, time.perf_counter() - t0)
    return best / len(rows) * 1e6


def time_per_chunk(work: Callable[[bytes], int], text: bytes, rows: int, repeat: int) -> float:
    """µs per row for ``work`` on one chunk's JSON text (fastest of ``repeat`` rounds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        if work(text) != rows:
            raise AssertionError("benchmark rows do not fit")
        best = min(best, time.perf_counter() - t0)
    return best / rows * 1e6


def chunk_timings(guard: SchemaGuard, rows: list[dict[str, Any]], repeat: int) -> None:
    """A chunk's JSON text to RECORD payloads: typed rows against orjson + check."""
    text = orjson.dumps(rows)
    typed = guard.typed
    assert typed is not None

    def typed_rows(data: bytes) -> int:
        decoded = typed.decode(data)
        return len([dumps(row) for row in decoded]) if decoded is not None else -1

    def dict_rows(data: bytes) -> int:
        check = guard.check
        return len([dumps(row) for row in orjson.loads(data) if check(row)])

    fast = time_per_chunk(typed_rows, text, len(rows), repeat)
    slow = time_per_chunk(dict_rows, text, len(rows), repeat)
    print(f"chunk -> rows, typed (msgspec decode+check, write): {fast:6.2f} µs/row")
    print(f"chunk -> rows, orjson parse + check + write:        {slow:6.2f} µs/row")


def main() -> None:
    """Print µs/row for the guard's check and for reference checkers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000, help="rows per round")
    parser.add_argument("--repeat", type=int, default=50, help="rounds (the fastest counts)")
    args = parser.parse_args()

    rows = [make_row(i) for i in range(args.rows)]
    schema = infer_schema(rows)
    guard = SchemaGuard(schema)
    flat = [{k: v for k, v in r.items() if k not in ("meta", "participants", "tags")} for r in rows]
    flat_guard = SchemaGuard(infer_schema(flat))

    print(f"python {sys.version.split()[0]}, rounds of {len(rows)} rows, best of {args.repeat}")
    chunk_timings(guard, rows, args.repeat)
    nested = time_per_row(guard.check, rows, args.repeat)
    print(f"SchemaGuard.check, 20 fields, 3 nested:    {nested:6.2f} µs/row")
    flat_time = time_per_row(flat_guard.check, flat, args.repeat)
    print(f"SchemaGuard.check, 17 flat fields:         {flat_time:6.2f} µs/row")
    ref = time_per_row(lambda r: fits(schema, r), rows, max(3, args.repeat // 10))
    print(f"uncompiled reference check (fits):         {ref:6.2f} µs/row")
    try:
        import jsonschema
    except ImportError:
        return
    checker = jsonschema.Draft7Validator.TYPE_CHECKER.redefine(
        "number", lambda _, v: isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
    )
    validator_cls = jsonschema.validators.extend(jsonschema.Draft7Validator, type_checker=checker)
    validator = validator_cls(schema)
    few = rows[: max(1, len(rows) // 10)]
    slow = time_per_row(validator.is_valid, few, 3)
    print(f"jsonschema Draft7Validator.is_valid:       {slow:6.2f} µs/row")


if __name__ == "__main__":
    main()
