"""Whatever Loop's real service sends (issue 10): a byte order mark, 0-byte and
short bodies, integers beyond 64 bits, forgotten export ids, corrupt or trickling downloads,
unknown statuses: tolerated where it is safe, one clear line where it is not. Each case
runs the tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

import json
import re
import time

import pytest

from tap_loop.config.settings import load_settings
from tap_loop.loop_api.inflight import request_fingerprint
from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    error_lines,
    iso,
    row_ids,
    run_tap,
)

START = EPOCH_2026_11_01


def expected_ids(sandbox, end=START + 3 * DAY, **filters):
    return {r["id"] for r in sandbox.expected_rows(START, end, **filters)}


def creates(sandbox):
    return [r for r in sandbox.requests if r["method"] == "POST" and "/api/" in r["path"]]


def downloads(sandbox):
    return [r for r in sandbox.requests if r["server"] == "download"]


# -- result bodies ----------------------------------------------------------------------
def test_a_byte_order_mark_is_ignored(sandbox, config, catalog):
    sandbox.configure(json_bom=True)
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert set(row_ids(run.records)) == expected_ids(sandbox)
    assert "byte order mark" in run.stderr


def test_a_0_byte_export_is_a_window_without_rows(sandbox, config, catalog):
    sandbox.configure(empty_as_zero_bytes=True)
    nobody = {**config, "customer_ids": ["nobody@example.com"]}
    run = run_tap(nobody, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records == []
    assert run.bookmark() == iso(START + 3 * DAY)
    assert "The export file is empty (0 bytes)" in run.stderr
    assert {r["status"] for r in downloads(sandbox)} == {200}
    assert all(r["fault"] is None for r in downloads(sandbox))


def test_a_body_shorter_than_its_content_length_is_still_an_error(sandbox, config, catalog):
    sandbox.add_fault({"target": "download", "kind": "truncate", "fraction": 0.0})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert "Retrying download" in run.stderr
    assert set(row_ids(run.records)) == expected_ids(sandbox)


def test_integers_beyond_64_bits_leave_the_tap_exactly(sandbox, config, catalog):
    """A new field (not in the catalog) of integers beyond 64 bits: declared a string of
    digits by default (big_integers), its values the strings of Loop's exact digits."""
    sandbox.configure(big_integers=True)
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    sent = {r["id"]: r["bigCounter"] for r in sandbox.expected_rows(START, START + 3 * DAY)}
    got = {r["id"]: r["bigCounter"] for r in run.records}
    assert got == {key: str(value) for key, value in sent.items()}
    assert {v >= 2**64 for v in sent.values()} == {True, False}  # both sides of 2**64
    assert any(v < -(2**63) for v in sent.values())
    for value in sent.values():  # the digits, byte for byte, not a float's
        assert re.search(rf'"bigCounter":"{value}"[,}}]', run.stdout), value
    schemas = [m for m in run.messages if m["type"] == "SCHEMA"]
    assert schemas[-1]["schema"]["properties"]["bigCounter"] == {
        "type": ["string", "null"],
        "format": "x-singer.decimal",
    }
    notes = [line for line in run.stderr.splitlines() if "beyond 64 bits" in line]
    assert len(notes) == 1 and "'bigCounter'" in notes[0] and "big_integers" in notes[0]


# -- unknown export ids -----------------------------------------------------------------
@pytest.mark.parametrize("status", [404, 410, 400])
def test_an_export_id_loop_no_longer_knows_is_created_again(sandbox, config, catalog, status):
    sandbox.configure(unknown_export_status=status)
    key = f"{START}/{START + DAY}/{request_fingerprint(load_settings(config))}"
    state = {"bookmarks": {"report": {"exports_in_flight": {key: "forgotten0001"}}}}
    run = run_tap(config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert set(row_ids(run.records)) == expected_ids(sandbox)
    assert "Export forgotten0001 for window" in run.stderr
    assert f"is unknown to Loop (HTTP {status}, saved by an earlier run)" in run.stderr
    bodies = [json.loads(r["body"]) for r in creates(sandbox)]
    assert (START, START + DAY) in {(b["start"], b["end"]) for b in bodies}
    assert run.bookmark() == iso(START + 3 * DAY)


def test_an_export_loop_forgets_mid_run_is_created_again(sandbox, config, catalog):
    sandbox.configure(unknown_export_status=400)
    sandbox.add_fault({"target": "poll", "kind": "forget", "times": 1})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert set(row_ids(run.records)) == expected_ids(sandbox)
    assert "is unknown to Loop" in run.stderr
    assert len(creates(sandbox)) == 4


# -- xlsx and discovery ---------------------------------------------------------------
def test_a_corrupt_xlsx_download_is_downloaded_again(sandbox, config):
    pytest.importorskip("openpyxl")
    one_day = {**config, "result_format": "xlsx", "end_date": iso(START + DAY)}
    sandbox.add_fault({"target": "download", "kind": "corrupt", "times": 1})
    run = run_tap(one_day)  # no catalog: no sample export, the window's download is corrupt
    assert run.returncode == 0, run.stderr
    assert "unreadable" in run.stderr and "Xlsx" in run.stderr
    assert set(row_ids(run.records)) == expected_ids(sandbox, START + DAY)
    assert "Traceback" not in run.stderr


def test_discovery_downloads_an_unreadable_sample_again(sandbox, config):
    from tests.helpers import discover_run

    sandbox.add_fault({"target": "download", "kind": "invalid_json"})
    done = discover_run(config)
    assert done.returncode == 0, done.stderr
    assert "Sample export" in done.stderr and "downloading it again" in done.stderr
    catalog = json.loads(done.stdout)
    assert "createdAt" in catalog["streams"][0]["schema"]["properties"]


# -- a host that trickles bytes ---------------------------------------------------------
def test_a_trickling_download_is_cut_at_its_deadline_then_tried_again(sandbox, config, catalog):
    one_day = {**config, "end_date": iso(START + DAY), "download_timeout_seconds": 1}
    sandbox.add_fault({"target": "download", "kind": "trickle", "bytes_per_second": 2000})
    began = time.monotonic()
    run = run_tap(one_day, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - began < 30  # the trickle alone would take ~20 s more
    assert "download_timeout_seconds" in run.stderr and "once more" in run.stderr
    assert set(row_ids(run.records)) == expected_ids(sandbox, START + DAY)


def test_a_download_that_trickles_twice_stops_with_one_line(sandbox, config, catalog):
    one_day = {**config, "end_date": iso(START + DAY), "download_timeout_seconds": 1}
    sandbox.add_fault(
        {"target": "download", "kind": "trickle", "bytes_per_second": 2000, "times": -1}
    )
    run = run_tap(one_day, catalog=catalog, timeout=60)
    assert run.returncode == 1
    (line,) = error_lines(run.stderr)
    assert "'download_timeout_seconds'" in line and "twice" in line
    assert "Traceback" not in run.stderr and run.records == []
    assert run.bookmark() is None


# -- status values ----------------------------------------------------------------------
def test_unknown_status_values_are_logged_once_and_read_as_not_ready(sandbox, config, catalog):
    sandbox.add_fault(
        [
            {"target": "poll", "kind": "status_literal", "value": 3, "times": 3},
            {"target": "poll", "kind": "status_literal", "value": "Queued", "times": 3},
        ]
    )
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert set(row_ids(run.records)) == expected_ids(sandbox)
    assert run.stderr.count("reports status 3 (int), a value unknown to the tap") == 1
    assert run.stderr.count('reports status "Queued" (str), a value unknown') == 1


def test_timeout_on_an_unknown_status_names_the_raw_value(sandbox, config, catalog):
    sandbox.add_fault({"target": "poll", "kind": "status_literal", "value": "Queued", "times": -1})
    strict = {
        **config,
        "end_date": iso(START + DAY),
        "export_timeout_seconds": 0.5,
        "max_export_attempts": 1,
        "min_window_minutes": 1440,
    }
    run = run_tap(strict, catalog=catalog)
    assert run.returncode == 1
    lines = error_lines(run.stderr)
    assert len(lines) == 1
    assert '"Queued"' in lines[0] and "unknown to the tap" in lines[0]
    assert "Traceback" not in run.stderr
