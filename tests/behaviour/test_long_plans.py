"""A long range cut into tiny windows (ten years at ``window_days: 0.001``, 3.65 million
windows): planning takes no memory and no time, so the first export starts at once. The
tap runs as a real process against the sandbox over HTTP, under a 1.5 GiB address-space
cap (a plan held in memory would need gigabytes), and is stopped after its first window."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import time

from tests.helpers import DAY, EPOCH_2026_11_01, api_calls, iso, tap_command, tap_env

START = EPOCH_2026_11_01
CAP_BYTES = 3 << 29  # 1.5 GiB of address space


def capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def test_millions_of_windows_start_exporting_promptly(sandbox, config, catalog):
    config = {
        **config,
        "start_date": iso(START - 3650 * DAY),
        "end_date": iso(START),
        "window_days": 0.001,
        "min_window_minutes": 1,
    }
    began = time.monotonic()
    process = subprocess.Popen(
        tap_command(config, None, catalog),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tap_env(),
        text=True,
        preexec_fn=capped,
    )
    assert process.stdout is not None and process.stderr is not None
    bookmark = None
    for line in process.stdout:
        message = json.loads(line)
        if message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"]["report"].get("replication_key_value")
            if bookmark:
                break
    first_window = time.monotonic() - began
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert bookmark == iso(START - 3650 * DAY + 86), err[-2000:]
    assert first_window < 20, f"first window done after {first_window:.1f} s"
    assert process.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "MemoryError" not in err and "Traceback" not in err
    assert "in 3666977 window(s)" in err
    assert api_calls(sandbox)  # it did export
