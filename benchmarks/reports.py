"""Several-reports benchmark: 4 reports (by team and by tag) of 30 one-day windows each,
every export 1 s in Processing on the sandbox, synced in one run with 1 export in flight
and with 4; each against the bound exports / in flight x one export's latency, with the
rows of each stream equal between the two, and the gap at each stream boundary (the next
stream's exports are already in flight while one stream's rows are emitted).

    .venv/bin/python benchmarks/reports.py [--windows 30] [--processing 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
import typing as t
from collections import Counter
from pathlib import Path

from _common import ROOT, START, TOKEN, iso, median, write_json

from loop_sandbox import Sandbox

DAY = 86400
REPORTS: list[dict[str, t.Any]] = [
    {"name": "support", "team_ids": ["team_support"]},
    {"name": "sales", "team_ids": ["team_sales"]},
    {"name": "urgent", "tag_ids": ["tag_urgent"]},
    {"name": "vip", "tag_ids": ["tag_vip"]},
]


def catalog() -> dict[str, t.Any]:
    """Every report's stream with no Loop fields yet (drift adds them)."""
    return {
        "streams": [
            {
                "tap_stream_id": report["name"],
                "stream": report["name"],
                "key_properties": ["id"],
                "metadata": [],
                "schema": {"type": "object", "properties": {}},
            }
            for report in REPORTS
        ]
    }


def run(command: list[str]) -> tuple[float, dict[str, list[str]], dict[str, tuple[float, float]]]:
    """Run the tap; wall seconds, each stream's row ids in order and the (wall clock)
    times of its first and last RECORD."""
    ids: dict[str, list[str]] = {}
    seen: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        assert process.stdout is not None
        for line in process.stdout:
            if not line.startswith(b'{"type":"RECORD"'):
                continue
            now = time.time()
            message = json.loads(line)
            stream = message["stream"]
            ids.setdefault(stream, []).append(message["record"]["id"])
            seen[stream] = (seen.get(stream, (now, now))[0], now)
        returncode = process.wait()
        seconds = time.perf_counter() - began
        if returncode:
            err.seek(0)
            sys.exit(err.read().decode(errors="replace")[-2000:])
    return seconds, ids, seen


def boundaries(
    box: Sandbox, since: float, seen: dict[str, tuple[float, float]]
) -> list[tuple[str, int, float]]:
    """At each stream boundary: the next stream's exports created before this stream's
    last row left, and the seconds from that row to the next stream's first row."""
    by_filters = {json.dumps(_filters(r), sort_keys=True): r["name"] for r in REPORTS}
    created: dict[str, list[float]] = {}
    for export in box.exports.values():
        if export["created_at"] >= since:
            filters = {k: v for k, v in export["filters"].items() if v}
            name = by_filters[json.dumps(filters, sort_keys=True)]
            created.setdefault(name, []).append(export["created_at"])
    order = sorted(seen, key=lambda name: seen[name][0])  # the order streams were synced
    out = []
    for this, after in itertools.pairwise(order):
        last = seen[this][1]
        early = sum(1 for at in created[after] if at < last)
        out.append((f"{this}->{after}", early, seen[after][0] - last))
    return out


def _filters(report: dict[str, t.Any]) -> dict[str, t.Any]:
    fields = {"team_ids": "teamIds", "tag_ids": "tagIds"}
    return {fields[k]: v for k, v in report.items() if k in fields}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=30)
    parser.add_argument("--processing", type=float, default=1.0)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    exports = len(REPORTS) * args.windows
    with (
        tempfile.TemporaryDirectory(prefix="tap-loop-reports-") as tmp,
        Sandbox(token=TOKEN, processing_seconds=args.processing, rows_per_day=288) as box,
    ):
        folder = Path(tmp)
        base = {
            "api_token": TOKEN,
            "api_url": box.api_url,
            "start_date": iso(START),
            "end_date": iso(START + args.windows * DAY),
            "window_days": 1,
            "poll_interval_seconds": args.poll,
            "primary_keys": ["id"],
            "reports": REPORTS,
        }
        catalog_path = write_json(folder, "catalog.json", catalog())
        times: dict[int, list[float]] = {1: [], 4: []}
        outputs: dict[int, dict[str, list[str]]] = {}
        for attempt in range(args.repeat):
            for in_flight in (1, 4):
                config = write_json(
                    folder, f"c{in_flight}.json", {**base, "max_concurrent_exports": in_flight}
                )
                since = time.time()
                command = [sys.executable, "-m", "tap_loop", "--config", config]
                seconds, ids, seen = run([*command, "--catalog", catalog_path])
                times[in_flight].append(seconds)
                outputs[in_flight] = ids
                counts = ", ".join(f"{name} {len(rows)}" for name, rows in ids.items())
                print(f"  run {attempt + 1}: {in_flight} in flight: {seconds:6.2f} s ({counts})")
                for edge, early, gap in boundaries(box, since, seen):
                    print(
                        f"      {edge}: {early} of the next stream's exports created before "
                        f"the last row; next row {gap:5.2f} s later"
                    )
        expected = {
            r["name"]: len(
                box.expected_rows(
                    START,
                    START + args.windows * DAY,
                    team_ids=r.get("team_ids"),
                    tag_ids=r.get("tag_ids"),
                )
            )
            for r in REPORTS
        }
    same = {k: Counter(v) for k, v in outputs[1].items()} == {
        k: Counter(v) for k, v in outputs[4].items()
    }
    got = {k: len(set(v)) for k, v in outputs[4].items()}
    print(
        f"\n{len(REPORTS)} reports x {args.windows} windows = {exports} exports, "
        f"{args.processing:g} s processing, median of {args.repeat}:"
    )
    for in_flight in (1, 4):
        bound = exports / in_flight * args.processing
        took = median(times[in_flight])
        print(
            f"  {in_flight} in flight: {took:7.2f} s   bound {bound:6.1f} s   "
            f"ratio {took / bound:.2f}"
        )
    print(f"  rows per stream equal in both runs: {same}; distinct ids {got}, sandbox {expected}")
    if not same or got != expected:
        sys.exit("outputs differ")


if __name__ == "__main__":
    main()
