"""Concurrency benchmark: 12 one-day windows, each 2 s in Processing on the sandbox,
synced with 1 export in flight and with 4; alternating runs, medians, identical output.

    .venv/bin/python benchmarks/concurrency.py [--windows 12] [--processing 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _common import START, TOKEN, empty_catalog, iso, median, run_measured, write_json

from loop_sandbox import Sandbox

DAY = 86400


def records(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            message["record"].pop("_loop_export_id")
            out.append(message["record"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--processing", type=float, default=2.0)
    parser.add_argument("--poll", type=float, default=0.25)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tap-loop-conc-"))
    atexit.register(shutil.rmtree, folder, True)  # removed at exit, also after an error
    with Sandbox(token=TOKEN, processing_seconds=args.processing, rows_per_day=288) as box:
        base = {
            "api_token": TOKEN,
            "api_url": box.api_url,
            "start_date": iso(START),
            "end_date": iso(START + args.windows * DAY),
            "window_days": 1,
            "poll_interval_seconds": args.poll,
            "primary_keys": ["id"],
        }
        catalog = empty_catalog()
        catalog_path = write_json(folder, "catalog.json", catalog)
        times: dict[int, list[float]] = {1: [], 4: []}
        outputs: dict[int, list[dict]] = {}
        for attempt in range(args.repeat):
            for in_flight in (1, 4):
                config = write_json(
                    folder, f"c{in_flight}.json", {**base, "max_concurrent_exports": in_flight}
                )
                out = folder / f"out{in_flight}.jsonl"
                measured = run_measured(
                    [
                        sys.executable,
                        "-m",
                        "tap_loop",
                        "--config",
                        config,
                        "--catalog",
                        catalog_path,
                    ],
                    stdout_path=str(out),
                )
                if measured.returncode:
                    sys.exit(measured.stderr[-2000:])
                times[in_flight].append(measured.seconds)
                outputs[in_flight] = records(out)
                print(
                    f"  run {attempt + 1}: {in_flight} in flight: {measured.seconds:6.2f} s, "
                    f"{len(outputs[in_flight])} rows"
                )
    same = outputs[1] == outputs[4]
    one, four = median(times[1]), median(times[4])
    print(f"\n{args.windows} windows x {args.processing:g} s processing, median of {args.repeat}:")
    print(
        f"  1 in flight: {one:.2f} s   4 in flight: {four:.2f} s   ratio {four / one:.2f}"
        f"   identical output: {same}"
    )
    if not same:
        sys.exit("outputs differ")


if __name__ == "__main__":
    main()
