"""Throughput benchmark: one export of N rows, several ways, alternating, medians.

    .venv/bin/python benchmarks/throughput.py [--rows 1000000] [--repeat 3] [--no-stock]
        [--shape plain|nested] [--events 60]

1. raw limit: download + orjson parse (whole) + orjson RECORD lines, one process;
2. stock singer-sdk: response.json() and singer-sdk's defaults;
3. tap-loop end to end with a catalog (records to /dev/null);
4. tap-loop without a catalog (a plain `--config` run: the first SCHEMA is inferred from
   the first window's rows, no sample export).
``--shape nested`` adds to every row a list of ``--events`` nested event objects (about
7 KB a row with 60), served by the same sandbox. Prints rows/s and MB/s, the ratios, each
one's peak RSS (from wait4), and how much of the sample discovery downloaded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, START, TOKEN, iso, median, run_measured, write_json

from loop_sandbox import Sandbox, render
from loop_sandbox.rows import count_rows

KINDS = ("message", "note", "assign", "tag", "reply", "close")


def nest_rows(events: int) -> None:
    """Make the sandbox's rows carry ``events`` nested event objects each (in-process)."""
    plain = render.generate_rows

    def generate(*args, **kwargs):
        for row in plain(*args, **kwargs):
            seed = int(row["id"][4:])
            row["events"] = [
                {
                    "type": KINDS[(seed + j) % 6],
                    "at": row["createdAt"],
                    "by": {"email": f"agent{(seed + j) % 17}@loop.example", "name": "Agent"},
                    "direction": "inbound" if j % 2 else "outbound",
                    "chars": (seed * 31 + j) % 5000,
                    "tags": ["vip", "[EXT] {billing}"][: j % 3],
                }
                for j in range(events)
            ]
            yield row

    render.generate_rows = generate


def main() -> None:
    try:
        run()
    finally:
        for folder in Path(tempfile.gettempdir()).glob(f"tap-loop-bench-{os.getpid()}-*"):
            shutil.rmtree(folder, ignore_errors=True)


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-stock", action="store_true", help="skip the (slow) stock tap")
    parser.add_argument("--shape", choices=["plain", "nested"], default="plain")
    parser.add_argument("--events", type=int, default=60, help="events per row (nested)")
    args = parser.parse_args()
    if args.shape == "nested":
        nest_rows(args.events)

    per_second = max(1, math.ceil(args.rows / 86400))
    rows_per_day = per_second * 86400
    length = max(1, args.rows // per_second)
    end = START + length - 1
    rows = count_rows(START, end, rows_per_day=rows_per_day)
    python = sys.executable
    folder = Path(tempfile.mkdtemp(prefix=f"tap-loop-bench-{os.getpid()}-"))
    with Sandbox(token=TOKEN, processing_seconds=0.05, rows_per_day=rows_per_day) as box:
        config = {
            "api_token": TOKEN,
            "api_url": box.api_url,
            "start_date": iso(START),
            "end_date": iso(end),
            "window_days": 1,
            "poll_interval_seconds": 0.05,
            "schema_sample_days": (end - START) / 86400,
            "schema_sample_rows": 5000,
            "request_timeout_seconds": 300,
        }
        config_path = write_json(folder, "config.json", config)
        began = time.perf_counter()
        discovery = run_measured(
            [python, "-m", "tap_loop", "--config", config_path, "--discover"],
            stdout_path=str(folder / "catalog.json"),
        )
        if discovery.returncode:
            sys.exit(discovery.stderr)
        print(
            f"export of {rows:,} rows rendered and sampled in {time.perf_counter() - began:.1f} s"
        )
        size = max(export["size"] for export in box.exports.values())
        sampled = re.search(r"from the first (\d+) byte\(s\)", discovery.stderr)
        print(
            f"export size {size / 1e6:.1f} MB; discovery downloaded "
            + (f"{int(sampled[1]) / 1e6:.1f} MB of it" if sampled else "all of it")
            + f" (discovery's peak RSS {discovery.max_rss_mb:.0f} MB)"
        )
        catalog = json.loads((folder / "catalog.json").read_text())
        schema_path = write_json(folder, "schema.json", catalog["streams"][0]["schema"])
        stock_config = write_json(
            folder,
            "stock.json",
            {"api_token": TOKEN, "api_url": box.api_url, "start": START, "end": end},
        )
        commands = {
            "raw limit": [
                python,
                str(ROOT / "benchmarks/raw_limit.py"),
                box.api_url,
                TOKEN,
                str(START),
                str(end),
            ],
            "streaming limit": [
                python,
                str(ROOT / "benchmarks/raw_stream_limit.py"),
                box.api_url,
                TOKEN,
                str(START),
                str(end),
            ],
            "stock singer-sdk": [
                python,
                str(ROOT / "benchmarks/stock_tap.py"),
                "--config",
                stock_config,
                schema_path,
            ],
            "tap-loop": [
                python,
                "-m",
                "tap_loop",
                "--config",
                config_path,
                "--catalog",
                str(folder / "catalog.json"),
            ],
            "tap-loop no catalog": [python, "-m", "tap_loop", "--config", config_path],
        }
        if args.no_stock:
            del commands["stock singer-sdk"]
        results: dict[str, list] = {name: [] for name in commands}
        for attempt in range(args.repeat):
            for name, command in commands.items():
                measured = run_measured(command)
                if measured.returncode:
                    sys.exit(f"{name} failed:\n{measured.stderr[-2000:]}")
                results[name].append(measured)
                print(
                    f"  run {attempt + 1}: {name:19} {measured.seconds:7.2f} s "
                    f"{rows / measured.seconds:10,.0f} rows/s  "
                    f"peak RSS {measured.max_rss_mb:6.0f} MB"
                )
    speed = {name: rows / median([m.seconds for m in runs]) for name, runs in results.items()}
    rss = {name: max(m.max_rss_mb for m in runs) for name, runs in results.items()}
    print(f"\n{rows:,} rows ({size / 1e6:.1f} MB), median of {args.repeat} alternating runs")
    for name in results:
        print(
            f"  {name:19} {speed[name]:10,.0f} rows/s {speed[name] * size / rows / 1e6:6.1f} MB/s"
            f"   peak RSS {rss[name]:6.0f} MB"
        )
    print(f"  tap-loop / raw limit: {speed['tap-loop'] / speed['raw limit']:.2f}")
    print(
        "  tap-loop no catalog / raw limit: "
        f"{speed['tap-loop no catalog'] / speed['raw limit']:.2f}"
    )
    print(f"  tap-loop / streaming limit: {speed['tap-loop'] / speed['streaming limit']:.2f}")
    if "stock singer-sdk" in speed:
        print(f"  tap-loop / stock:     {speed['tap-loop'] / speed['stock singer-sdk']:.2f}")


if __name__ == "__main__":
    main()
