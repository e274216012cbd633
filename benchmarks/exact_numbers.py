"""What exact numbers cost: the sync's read-check-write loop over one JSON export, plain or
full of long decimals.

    .venv/bin/python benchmarks/exact_numbers.py [--shape plain|long] [--rows 200000] [--repeat 3]

The export is the sandbox's rows (1,000 of them, repeated to ``--rows``) plus two fields:
``reading``, a number, and ``nested``, ``{"v": [number]}``. With ``--shape plain`` they hold
numbers a float holds (``1.5``, ``2.25``...); with ``--shape long`` one row in two holds a
number of 17 to 36 digits (``9007199254740993.0``, a 36-digit pi...), which the tap keeps
as a ``Decimal`` (tap_loop/results/numbers.py). The loop is what a sync does per chunk:
``iter_json_batches`` with the announced schema's typed decoder, ``SchemaGuard.check`` for
rows that are not typed, ``dumps`` of each row (a RECORD's record). It prints rows/s (best
of ``--repeat``) and the share of rows decoded as typed rows. ``tap_loop`` is imported from
``PYTHONPATH`` first, so the same command measures another checkout of the package:

    PYTHONPATH=/path/to/other/checkout .venv/bin/python benchmarks/exact_numbers.py
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after PYTHONPATH: the package measured may be another checkout

import orjson  # noqa: E402

from loop_sandbox import generate_rows  # noqa: E402
from tap_loop.core.output import dumps  # noqa: E402
from tap_loop.results.json_rows import iter_json_batches, iter_json_rows  # noqa: E402
from tap_loop.schemas.inference import infer_schema  # noqa: E402
from tap_loop.schemas.row_check import SchemaGuard  # noqa: E402

START = 1_793_491_200  # 2026-11-01T00:00:00Z
PLAIN = ["1.5", "2.25", "-0.125", "1234.5678", "0.001", "99.99"]
LONG = [
    "9007199254740993.0",
    "2.5",
    "12345678901234567890.5",
    "-0.75",
    "3.14159265358979323846264338327950288",
    "42.125",
]


def export_text(shape: str, rows: int) -> bytes:
    """The export: 1,000 sandbox rows with ``reading`` and ``nested``, repeated."""
    texts = LONG if shape == "long" else PLAIN
    base = list(generate_rows(START, START + 10 * 86400, rows_per_day=100))[:1000]
    for k, row in enumerate(base):
        text = texts[k % len(texts)]
        row["reading"] = orjson.Fragment(text)
        row["nested"] = orjson.Fragment(b'{"v":[' + text.encode() + b"]}")
    body = orjson.dumps(base)[1:-1]
    copies = max(rows // len(base), 1)
    return b"[" + b",\n".join([body] * copies) + b"]"


def run_once(text: bytes, guard: SchemaGuard) -> tuple[int, int, float]:
    """Rows read, rows typed, seconds: the sync's loop over the export."""
    typed = guard.typed.decode if guard.typed is not None else None
    count = typed_count = 0
    sink = io.BytesIO()
    began = time.perf_counter()
    for batch in iter_json_batches(io.BytesIO(text), typed):
        if batch.typed:
            typed_count += len(batch.rows)
        else:
            for row in batch.rows:
                if not guard.check(row):
                    raise SystemExit(f"a row does not fit the schema: {row}")
        for row in batch.rows:
            sink.write(dumps(row))
        count += len(batch.rows)
        sink.seek(0)
        sink.truncate()
    return count, typed_count, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["plain", "long"], default="plain")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    text = export_text(args.shape, args.rows)
    sample = list(iter_json_rows(io.BytesIO(export_text(args.shape, 1000))))
    guard = SchemaGuard(infer_schema(sample))
    best = None
    for _ in range(args.repeat):
        count, typed_count, seconds = run_once(text, guard)
        best = seconds if best is None else min(best, seconds)
    assert best is not None
    print(
        f"{args.shape}: {count:,} rows, {len(text) / 1e6:.0f} MB, {count / best:,.0f} rows/s "
        f"(best of {args.repeat}), {typed_count / count:.0%} typed"
    )


if __name__ == "__main__":
    main()
