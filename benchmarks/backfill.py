"""Backfill benchmark: a year of daily windows on the sandbox at Loop's poll cadence.

    .venv/bin/python benchmarks/backfill.py [--days 365] [--processing 25] [--poll 10]
        [--time-scale 1] [--rows-per-day 2000] [--in-flight 1 4]

Each export stays ``--processing`` seconds in Processing; the tap polls every ``--poll``
seconds (Loop documents 10 s), so one export takes about ceil(processing / poll) x poll
plus its download. ``--time-scale S`` divides both by S (S = 60 runs a year in minutes
instead of hours; every wall time is then multiplied back by S in the report, so the
figures are in real-cadence seconds). For each number of exports in flight it prints the
wall time of the whole backfill, one export's latency (median of the ``created`` +
``completed`` + ``downloaded`` phases from the tap's METRIC messages) and the lower bound
``windows / in flight x latency``.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import json
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import START, TOKEN, empty_catalog, iso, run_measured, write_json

from loop_sandbox import Sandbox

DAY = 86400
LATENCY_PHASES = ("created", "completed", "downloaded")


def export_latencies(stderr: str) -> list[float]:
    """Seconds from POST to downloaded file for every export, from METRIC lines."""
    totals: dict[str, float] = collections.defaultdict(float)
    for text in re.findall(r"METRIC: (\{.*\})$", stderr, re.MULTILINE):
        point = json.loads(text)
        if point["metric"] == "export_phase_duration" and point["tags"]["phase"] in (
            LATENCY_PHASES
        ):
            totals[point["tags"]["export_id"]] += point["value"]
    return list(totals.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--processing", type=float, default=25.0)
    parser.add_argument("--poll", type=float, default=10.0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    scale = args.time_scale
    folder = Path(tempfile.mkdtemp(prefix="tap-loop-backfill-"))
    atexit.register(shutil.rmtree, folder, True)  # removed at exit, also after an error
    catalog = empty_catalog()
    catalog_path = write_json(folder, "catalog.json", catalog)
    print(
        f"{args.days} daily windows, {args.rows_per_day} rows a day, {args.processing:g} s "
        f"processing, {args.poll:g} s poll, time scale {scale:g} (figures in real seconds)"
    )
    with Sandbox(
        token=TOKEN, processing_seconds=args.processing / scale, rows_per_day=args.rows_per_day
    ) as box:
        for in_flight in args.in_flight:
            config = write_json(
                folder,
                f"c{in_flight}.json",
                {
                    "api_token": TOKEN,
                    "api_url": box.api_url,
                    "start_date": iso(START - args.days * DAY),
                    "end_date": iso(START),
                    "window_days": 1,
                    "poll_interval_seconds": args.poll / scale,
                    "primary_keys": ["id"],
                    "max_concurrent_exports": in_flight,
                },
            )
            command = [sys.executable, "-m", "tap_loop", "--config", config]
            measured = run_measured([*command, "--catalog", catalog_path])
            if measured.returncode:
                sys.exit(measured.stderr[-2000:])
            latencies = export_latencies(measured.stderr)
            latency = statistics.median(latencies) * scale
            wall = measured.seconds * scale
            bound = args.days / in_flight * latency
            print(
                f"  {in_flight} in flight: wall {wall:8.0f} s ({wall / 3600:.2f} h), "
                f"one export {latency:5.1f} s (median of {len(latencies)}), lower bound "
                f"{bound:8.0f} s, wall / bound {wall / bound:.2f}, "
                f"peak RSS {measured.max_rss_mb:.0f} MB"
            )
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
