"""Reader benchmark: the tap's incremental JSON reader against a whole-file parse, on rows
holding long lists of nested objects, each in its own process (peak RSS from wait4).

    .venv/bin/python benchmarks/reader.py [--mb 60] [--events 60 200] [--repeat 3]

raw: read the file whole, ``orjson.loads`` it, write a RECORD line per row (orjson);
reader: ``tap_loop.results.json_rows.iter_json_rows`` over the open file, the same RECORD lines.
Both write to /dev/null. The rows are the sandbox's rows plus ``--events`` nested event
objects each (the shape of ``throughput.py --shape nested``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import orjson
from _common import START, median, run_measured
from throughput import nest_rows

from loop_sandbox import render

RAW = """
import sys, orjson
rows = orjson.loads(open(sys.argv[1], "rb").read())
out = open("/dev/null", "wb")
for row in rows:
    out.write(b'{"type":"RECORD","stream":"report","record":' + orjson.dumps(row) + b"}\\n")
"""
READER = """
import sys, orjson
from tap_loop.results.json_rows import iter_json_rows
out = open("/dev/null", "wb")
with open(sys.argv[1], "rb") as handle:
    for row in iter_json_rows(handle):
        out.write(b'{"type":"RECORD","stream":"report","record":' + orjson.dumps(row) + b"}\\n")
"""


def write_export(path: Path, megabytes: float, events: int) -> tuple[int, int]:
    """A JSON export of about ``megabytes`` of nested rows; (rows, bytes)."""
    nest_rows(events)
    rows = size = 0
    with path.open("wb") as out:
        out.write(b"[")
        for row in render.generate_rows(START, START + 10**7, rows_per_day=86400):
            data = orjson.dumps(row)
            out.write(data if not rows else b",\n" + data)
            rows, size = rows + 1, size + len(data) + 2
            if size >= megabytes * 1e6:
                break
        out.write(b"]")
    return rows, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=60)
    parser.add_argument("--events", type=int, nargs="+", default=[60, 200])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tap-loop-reader-") as folder:
        path = Path(folder) / "export.json"
        for events in args.events:
            rows, size = write_export(path, args.mb, events)
            runs: dict[str, list] = {"raw": [], "reader": []}
            for _ in range(args.repeat):
                for name, code in (("raw", RAW), ("reader", READER)):
                    measured = run_measured([sys.executable, "-c", code, str(path)])
                    if measured.returncode:
                        sys.exit(measured.stderr[-2000:])
                    runs[name].append(measured)
            speed = {n: size / 1e6 / median([m.seconds for m in r]) for n, r in runs.items()}
            rss = {n: max(m.max_rss_mb for m in r) for n, r in runs.items()}
            print(
                f"{events} events a row: {rows:,} rows, {size / 1e6:.1f} MB "
                f"({size / rows / 1e3:.1f} KB a row), median of {args.repeat}"
            )
            for name in runs:
                print(f"  {name:7} {speed[name]:6.1f} MB/s   peak RSS {rss[name]:5.0f} MB")
            print(f"  reader / raw: {speed['reader'] / speed['raw']:.2f}")


if __name__ == "__main__":
    main()
