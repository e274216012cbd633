"""Errors under `meltano run` read as in a plain run (issue 10): a wrong token, met first
by Meltano's discovery, is one clear line, no traceback, and the run fails.

When discovery fails, Meltano quotes the tap's whole stderr in its own error message
(its "Catalog discovery failed: ..." line, the tap's lines as JSON), so the line
appears once from the tap and once inside Meltano's quote; the output stays short."""

from __future__ import annotations

import pytest

from tests.e2e.support import Meltano

pytestmark = pytest.mark.e2e


def test_a_wrong_token_under_meltano_run_is_one_line(meltano: Meltano) -> None:
    result = meltano(
        "run",
        "tap-loop",
        "target-jsonl",
        env={"TAP_LOOP_API_TOKEN": "wrong-token-e2e-0003"},
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "wrong-token-e2e-0003" not in output
    lines = [line for line in output.splitlines() if "answered HTTP 401" in line]
    own = [line for line in lines if "] tap-loop" in line]
    assert len(own) == 1, output[-6000:]
    assert "check 'api_token'" in own[0]
    assert len(output.splitlines()) < 40, output[-6000:]


def test_an_invalid_setting_under_meltano_run_is_one_line(meltano: Meltano) -> None:
    result = meltano(
        "run", "tap-loop", "target-jsonl", env={"TAP_LOOP_TIMEZONE": "Mars/Olympus"}, check=False
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "Setting 'timezone' is invalid" in line]
    own = [line for line in lines if "] tap-loop" in line]
    assert len(own) == 1, output[-6000:]
    assert len(output.splitlines()) < 40, output[-6000:]
