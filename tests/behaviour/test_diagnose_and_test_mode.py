"""`--test` and `--diagnose`: what they print, write and exit with, the tap as a real
process against the sandbox over HTTP."""

from __future__ import annotations

import json

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    error_lines,
    run_diagnose,
    run_tap,
)


def test_connection_test_flag(sandbox, config):
    run = run_tap(config, extra=["--test"])
    assert run.returncode == 0, run.stderr
    assert any(m["type"] == "RECORD" for m in run.messages)


START = EPOCH_2026_11_01


# -- --diagnose -------------------------------------------------------------------------
def test_test_mode_ends_with_a_success_line_and_no_error(sandbox, config):
    run = run_tap(config, extra=["--test"])
    assert run.returncode == 0, run.stderr
    assert error_lines(run.stderr) == []
    last = [line for line in run.stderr.splitlines() if line.strip()][-1]
    assert "Connection test passed" in last and "first row arrived" in last
    assert len(run.records) == 1
    assert '"status":"failed"' not in run.stderr


def test_diagnose_reports_what_it_saw_and_writes_a_redacted_file(sandbox, config, tmp_path):
    out = tmp_path / "report.json"
    run = run_diagnose(config, out)
    assert run.returncode == 0, run.stderr
    assert '"Processing" (str) read as Processing' in run.stdout
    assert "JSON array" in run.stdout and "key: ['id']" in run.stdout
    assert "field createdAt: string|null (date-time)" in run.stdout
    text = out.read_text()
    report = json.loads(text)
    assert report["result"]["bom"] is False and report["result"]["rows"] > 0
    assert {c["status"] for c in report["http"]} == {200}
    assert config["api_token"] not in text
    assert "Signature=" not in text and "Signature" in json.dumps(report["http"])
    some_row = sandbox.expected_rows(START + 2 * DAY, START + 3 * DAY)[0]
    for value in (some_row["id"], some_row["subject"], some_row["customer"]["email"]):
        assert value not in text


def test_diagnose_shows_what_it_tolerated(sandbox, config, tmp_path):
    sandbox.configure(json_bom=True, big_integers=True)
    sandbox.add_fault(
        [
            {"target": "poll", "kind": "status_literal", "value": 3},
            {"target": "poll", "kind": "http_status", "status": 503},
        ]
    )
    out = tmp_path / "report.json"
    run = run_diagnose(config, out)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["result"]["bom"] is True
    assert report["result"]["integers_beyond_64_bits"] == ["bigCounter"]
    assert any(s["value"] == 3 and not s["known"] for s in report["statuses"])
    assert 503 in {c["status"] for c in report["http"]}
    assert "<- unknown to the tap" in run.stdout and "Tolerated:" in run.stdout


def test_diagnose_with_a_wrong_token_reports_the_401_and_exits_1(sandbox, config, tmp_path):
    out = tmp_path / "report.json"
    run = run_diagnose({**config, "api_token": "nope-nope-0002"}, out)
    assert run.returncode == 1
    assert "-> 401" in run.stdout
    (line,) = error_lines(run.stderr)
    assert "HTTP 401" in line
    assert "nope-nope-0002" not in out.read_text()
