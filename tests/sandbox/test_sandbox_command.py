"""The sandbox's one documented command, ``scripts/sandbox`` (docs/sandbox.md; issue 19,
item 7), works from a fresh copy of the repository, run from another folder, with the
virtual environment it creates itself (.venv-sandbox: orjson, openpyxl): its JSON line,
a health call, an Xlsx export rendered and Completed, SIGTERM stops it.

Creating the venv takes about 12 s with a warm pip cache: the one slow test here.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import copy_of_working_tree

pytestmark = pytest.mark.slow

DAY0 = 1_693_526_400  # 2023-09-01T00:00:00Z
TOKEN = "fresh-copy-token"


def first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line of ``proc`` within ``timeout`` seconds ("" if it ended)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no line from the sandbox within {timeout:g} s")
    return proc.stdout.readline()


def test_scripts_sandbox_starts_from_a_fresh_copy_anywhere(tmp_path: Path) -> None:
    copy = copy_of_working_tree(tmp_path / "clone")
    assert not (copy / ".venv-sandbox").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")
    }
    proc = subprocess.Popen(
        [str(copy / "scripts" / "sandbox"), "--port", "0", "--download-port", "0",
         "--token", TOKEN, "--processing-seconds", "0", "--quiet"],
        cwd=elsewhere, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = first_line(proc, timeout=300)
        assert line, proc.communicate(timeout=10)[1][-3000:]
        info = json.loads(line)
        assert info["api_url"].startswith("http://127.0.0.1:")
        assert info["download_url_base"].startswith("http://127.0.0.1:")
        assert info["token"] == TOKEN
        health = requests.get(info["api_url"] + "/_sandbox/health", timeout=5).json()
        assert health == {"ok": True, **{k: info[k] for k in ("api_url", "download_url_base")}}

        auth = {"Authorization": f"Bearer {TOKEN}"}
        created = requests.post(
            info["api_url"] + "/api/v1/report/export",
            json={"start": DAY0, "end": DAY0 + 3600, "resultFormat": "Xlsx"},
            headers=auth,
            timeout=5,
        ).json()
        deadline = time.monotonic() + 30
        while True:  # its own venv has openpyxl: the Xlsx result renders
            answer = requests.get(
                info["api_url"] + f"/api/v1/report/exports/{created['id']}",
                headers=auth,
                timeout=5,
            ).json()
            if answer["status"] != "Processing" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert answer["status"] == "Completed", answer
        assert requests.get(answer["url"], timeout=10).content[:2] == b"PK"  # a zip: .xlsx

        assert (copy / ".venv-sandbox" / "bin" / "python").exists()
        assert not (elsewhere / ".venv-sandbox").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
