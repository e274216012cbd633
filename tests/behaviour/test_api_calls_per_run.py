"""What a run costs: no sample export in a sync without a catalog, discovery reading only
the start of its sample, and the progress a long run reports (log lines, METRIC messages)."""

from __future__ import annotations

import collections
import json
import re

from tests.helpers import DAY, EPOCH_2026_11_01, discover_run, iso, run_tap

EXPORT = "/api/v1/report/export"


def _created(sandbox) -> list[tuple[int, int]]:
    """(start, end) of every export the tap asked Loop to create."""
    return [
        (body["start"], body["end"])
        for body in (
            json.loads(r["body"])
            for r in sandbox.requests
            if r["method"] == "POST" and r["path"] == EXPORT
        )
    ]


def _metrics(stderr: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r"METRIC: (\{.*\})$", stderr, re.MULTILINE)]


def test_sync_without_catalog_exports_only_its_windows(sandbox, config):
    """A plain `tap-loop --config c.json` creates one export per window and nothing else
    (no sample export), and its first SCHEMA, before the first RECORD, covers the rows
    and has the key inferred from them."""
    config = {k: v for k, v in config.items() if k != "primary_keys"}
    run = run_tap(config)
    assert run.returncode == 0, run.stderr[-2000:]
    windows = [(EPOCH_2026_11_01 + d * DAY, EPOCH_2026_11_01 + (d + 1) * DAY) for d in range(3)]
    assert sorted(_created(sandbox)) == windows
    kinds = [m["type"] for m in run.messages]
    first_record = kinds.index("RECORD")
    assert "SCHEMA" in kinds[:first_record]
    schema = next(m for m in run.messages[:first_record] if m["type"] == "SCHEMA")
    assert schema["key_properties"] == ["id"]
    fields = set(schema["schema"]["properties"])
    assert all(set(record) <= fields for record in run.records)
    assert len(run.schemas) == 1  # the first window's rows showed every field
    expected = sum(len(sandbox.expected_rows(start, end)) for start, end in windows)
    assert len(run.records) == expected > 0


def test_sync_without_catalog_and_without_rows_still_announces_the_stream(sandbox, config):
    """Nothing to export: one SCHEMA (the tap's own fields) and no export at all."""
    end = config["end_date"]
    state = {
        "bookmarks": {
            "report": {"replication_key": "_loop_window_end", "replication_key_value": end}
        }
    }
    run = run_tap(config, state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _created(sandbox) == []
    assert len(run.schemas) == 1 and not run.records
    assert {"_loop_window_end", "id"} <= set(run.schemas[0]["schema"]["properties"])


def test_discovery_stops_the_sample_download_once_it_has_enough_rows(sandbox, config):
    sandbox.configure(rows_per_day=8000)
    done = discover_run({**config, "schema_sample_days": 1, "schema_sample_rows": 100})
    assert done.returncode == 0, done.stderr[-2000:]
    catalog = json.loads(done.stdout)
    assert "conversationId" in catalog["streams"][0]["schema"]["properties"]
    read = re.search(r"read (\d+) row\(s\) from the first (\d+) byte\(s\)", done.stderr)
    assert read is not None, done.stderr[-2000:]
    (export,) = sandbox.exports.values()
    assert int(read[1]) == 100
    assert int(read[2]) * 3 < export["size"], (read[0], export["size"])


def test_metrics_time_each_request_and_each_export_phase(sandbox, config, catalog):
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    points = _metrics(run.stderr)
    requests = [p for p in points if p["metric"] == "http_request_duration"]
    endpoints = collections.Counter(p["tags"]["endpoint"] for p in requests)
    assert endpoints[EXPORT] == 3 and endpoints["download"] == 3
    assert endpoints["/api/v1/report/exports/{id}"] >= 3
    assert set(endpoints) == {EXPORT, "download", "/api/v1/report/exports/{id}"}
    assert all(p["type"] == "timer" and p["value"] >= 0 for p in requests)
    assert all(p["tags"]["http_status_code"] == 200 for p in requests)
    assert "Signature" not in json.dumps(points)
    phases = collections.defaultdict(list)
    for point in points:
        if point["metric"] == "export_phase_duration":
            phases[point["tags"]["export_id"]].append(point["tags"]["phase"])
            assert point["value"] >= 0
    assert len(phases) == 3
    assert all(
        order == ["created", "completed", "downloaded", "emitted"] for order in phases.values()
    )
    assert {iso(EPOCH_2026_11_01)} <= {
        p["tags"]["window_start"] for p in points if p["metric"] == "export_phase_duration"
    }
