"""Throughput benchmark: one export of N rows, three ways, alternating, medians.

    .venv/bin/python benchmarks/throughput.py [--rows 1000000] [--repeat 3] [--no-stock]

1. raw limit: download + orjson parse (whole) + orjson RECORD lines, one process;
2. stock singer-sdk: response.json() and singer-sdk's defaults;
3. tap-loop end to end (records to /dev/null).
Prints rows/s, tap/limit and tap/stock ratios, and each one's peak RSS (from wait4).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, START, TOKEN, iso, median, run_measured, write_json

from loop_sandbox import Sandbox
from loop_sandbox.rows import count_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-stock", action="store_true", help="skip the (slow) stock tap")
    args = parser.parse_args()

    per_second = max(1, math.ceil(args.rows / 86400))
    rows_per_day = per_second * 86400
    length = max(1, args.rows // per_second)
    end = START + length - 1
    rows = count_rows(START, end, rows_per_day=rows_per_day)
    python = sys.executable
    folder = Path(tempfile.mkdtemp(prefix="tap-loop-bench-"))
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
                    f"  run {attempt + 1}: {name:18} {measured.seconds:7.2f} s "
                    f"{rows / measured.seconds:10,.0f} rows/s  "
                    f"peak RSS {measured.max_rss_mb:6.0f} MB"
                )
    speed = {name: rows / median([m.seconds for m in runs]) for name, runs in results.items()}
    rss = {name: max(m.max_rss_mb for m in runs) for name, runs in results.items()}
    print(f"\n{rows:,} rows, median of {args.repeat} alternating runs")
    for name in results:
        print(f"  {name:18} {speed[name]:10,.0f} rows/s   peak RSS {rss[name]:6.0f} MB")
    print(f"  tap-loop / raw limit: {speed['tap-loop'] / speed['raw limit']:.2f}")
    print(f"  tap-loop / streaming limit: {speed['tap-loop'] / speed['streaming limit']:.2f}")
    if "stock singer-sdk" in speed:
        print(f"  tap-loop / stock:     {speed['tap-loop'] / speed['stock singer-sdk']:.2f}")


if __name__ == "__main__":
    main()
