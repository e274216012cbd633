"""A ``start_date`` without a zone is read as UTC even when ``timezone`` names another
zone (``timezone`` only tells Loop how to compute the export); the run says so once. The
tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

import json

from tests.helpers import DAY, EPOCH_2026_11_01, api_calls, iso, run_tap

START = EPOCH_2026_11_01


def test_a_start_date_without_zone_is_utc_and_the_run_says_so_once(sandbox, config, catalog):
    config = {
        **config,
        "start_date": "2026-11-01T00:00:00",
        "end_date": iso(START + DAY),
        "timezone": "Europe/Ljubljana",
    }
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stderr.splitlines() if "has no zone: read as UTC" in line]
    assert len(notes) == 1, run.stderr
    assert "Setting 'start_date'" in notes[0] and "'timezone' (Europe/Ljubljana)" in notes[0]
    creates = [r for r in api_calls(sandbox) if r["method"] == "POST"]
    assert json.loads(creates[0]["body"])["start"] == START  # midnight UTC, not Ljubljana's
    assert run.bookmark() == iso(START + DAY)
