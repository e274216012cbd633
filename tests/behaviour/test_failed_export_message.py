"""An export Loop cannot produce answers ``Failed`` with a ``message``, and the tap shows
it (issue 19, item 7): a sandbox whose Python has no openpyxl answers every Xlsx export
``Failed`` with a message saying so (no longer visible only as ``render_error`` in
``/_sandbox/exports``), and the tap's error line quotes it. The message is untrusted
data: the token and URL query values masked, control and invisible characters escaped,
cut to a bounded length, on one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loop_sandbox import Sandbox
from tap_loop.loop_api.status import MESSAGE_LIMIT
from tests.helpers import DAY, EPOCH_2026_11_01, TOKEN, error_lines, iso, run_tap

ROOT = Path(__file__).resolve().parents[2]
START = EPOCH_2026_11_01
#: The sandbox's own command line, with ``import openpyxl`` blocked in its process.
WITHOUT_OPENPYXL = (
    "import sys; sys.modules['openpyxl'] = None; "
    "from loop_sandbox.cli import main; sys.exit(main())"
)


@pytest.fixture
def sandbox_without_openpyxl() -> Iterator[str]:
    """A sandbox process that cannot import openpyxl; yields its API URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WITHOUT_OPENPYXL, "--port", "0", "--download-port", "0",
         "--token", TOKEN, "--processing-seconds", "0.1", "--quiet"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert line, proc.communicate(timeout=10)[1]
        yield json.loads(line)["api_url"]
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_a_sandbox_without_openpyxl_answers_failed_and_the_tap_shows_why(
    sandbox_without_openpyxl: str,
) -> None:
    api_url = sandbox_without_openpyxl
    auth = {"Authorization": f"Bearer {TOKEN}"}
    export = requests.post(
        api_url + "/api/v1/report/export",
        json={"start": START, "end": START + 3600, "resultFormat": "Xlsx"},
        headers=auth,
        timeout=5,
    ).json()
    deadline = time.monotonic() + 30
    while True:
        answer = requests.get(
            api_url + f"/api/v1/report/exports/{export['id']}", headers=auth, timeout=5
        ).json()
        if answer["status"] != "Processing" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer["status"] == "Failed" and answer["url"] is None, answer
    assert "openpyxl" in answer["message"] and "scripts/sandbox" in answer["message"]
    snapshot = requests.get(api_url + "/_sandbox/exports", timeout=5).json()[export["id"]]
    assert "openpyxl" in snapshot["render_error"]

    run = run_tap(
        {
            "api_token": TOKEN,
            "api_url": api_url,
            "start_date": iso(START),
            "end_date": iso(START + DAY),
            "result_format": "xlsx",
            "poll_interval_seconds": 0.1,
            "min_window_minutes": 1440,
            "max_export_attempts": 2,
        }
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = error_lines(run.stderr)
    assert "did not complete after 2 attempts" in line
    assert 'Loop said: "The export could not be rendered (RuntimeError: Xlsx results need ' in line
    assert "No module named 'openpyxl'" in line or "import of openpyxl halted" in line
    assert "What to do: see Loop's message" in line
    assert run.records == []


def test_loop_s_message_on_a_failed_export_is_untrusted_data(
    sandbox: Sandbox, config: dict
) -> None:
    signed = "https://reports.example/RF_1?Expires=1&Signature=sig-value-77&Key-Pair-Id=kp-9"
    message = (
        f"render failed for Bearer {TOKEN} at {signed}\n"
        "2026-11-01 | ERROR | a forged log line\u202e\x1b[31m " + "x" * 2000
    )
    sandbox.add_fault({"target": "poll", "kind": "failed", "times": -1, "message": message})
    run = run_tap(
        {
            **config,
            "end_date": iso(START + DAY),
            "min_window_minutes": 1440,
            "max_concurrent_exports": 1,
        }
    )
    assert run.returncode == 1
    (line,) = [ln for ln in run.stderr.splitlines() if ln[23:].startswith(" | ERROR ")]
    assert 'Loop said: "render failed for Bearer ***' in line
    assert TOKEN not in run.stderr
    assert "sig-value-77" not in run.stderr and "kp-9" not in run.stderr
    assert "https://reports.example/RF_1?Expires=***" in line
    assert "\\n2026-11-01 | ERROR | a forged log line\\u202e\\x1b[31m" in line
    said = line.split('Loop said: "', 1)[1].split('". What to do:', 1)[0]
    assert len(said) == MESSAGE_LIMIT and said.endswith("xxx…")  # 2,000 x cut short
    assert not [ln for ln in run.stderr.splitlines() if ln.startswith("2026-11-01 |")]
    retried = [ln for ln in run.stderr.splitlines() if "creating it again" in ln]
    assert retried and all('is Failed ("render failed for Bearer ***' in ln for ln in retried)


def test_a_failed_export_without_a_message_reads_as_before(sandbox: Sandbox, config: dict) -> None:
    sandbox.add_fault({"target": "poll", "kind": "failed", "times": -1})
    run = run_tap({**config, "end_date": iso(START + DAY), "min_window_minutes": 1440})
    assert run.returncode == 1
    (line,) = error_lines(run.stderr)
    assert "did not complete after 3 attempts" in line and "Loop said" not in line
    assert "What to do: retry later, or lower window_days" in line
