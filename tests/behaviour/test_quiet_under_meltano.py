"""What a Meltano user sees of the tap is the tap's own lines: no ResourceWarning about
the `--state` file after a failed mode, and no "Skipping parse of env var settings..."
INFO line in every run (it is logged at DEBUG). Meltano runs plugins with
``PYTHONWARNINGS=once`` and ``--state`` before the mode flag, so the tap runs that way."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import tap_command, tap_env

ENV_SKIP_LINE = "Skipping parse of env var settings..."  # singer-sdk's INFO line
MELTANO_ENV = {"PYTHONWARNINGS": "once"}  # as meltano.core.plugin_invoker sets it
STATE: dict[str, dict] = {"bookmarks": {}}
MODES = {
    "discover": ("--discover",),
    "test": ("--test",),
    "diagnose": ("--diagnose",),
    "sync": (),
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("outcome", ["fails", "succeeds"])
def test_no_unclosed_state_file_and_no_env_skip_line(sandbox, config, mode, outcome):
    used = {**config, "end_date": config["start_date"][:10] + "T06:00:00Z"}
    if outcome == "fails":
        used["api_token"] = "wrong-token-quiet-01"
    run = subprocess.run(
        tap_command(used, state=STATE, extra=MODES[mode]),
        capture_output=True,
        text=True,
        timeout=120,
        env=tap_env(MELTANO_ENV),
        check=False,
    )
    assert run.returncode == (1 if outcome == "fails" else 0), run.stderr[-3000:]
    assert "ResourceWarning" not in run.stderr, run.stderr[-3000:]
    assert ENV_SKIP_LINE not in run.stderr
