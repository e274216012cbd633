"""`result_format: xlsx` on an install without openpyxl (the tap without its `xlsx` extra):
every mode stops before its first request with one line naming the setting and what to
do, instead of creating an export and failing when the workbook arrives.

The tap runs as a real process whose Python cannot import openpyxl: a sitecustomize on
PYTHONPATH puts a finder first on sys.meta_path that refuses it, as on an install
without the extra."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import api_calls, error_lines, run_diagnose, run_tap, scratch_dir, tap_env

BLOCK_OPENPYXL = '''
import sys

class _NoOpenpyxl:
    """openpyxl is not installed (for this test's tap process)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "openpyxl" or name.startswith("openpyxl."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoOpenpyxl())
'''


@pytest.fixture
def no_openpyxl() -> dict[str, str]:
    """Environment of a tap process that cannot import openpyxl."""
    folder = scratch_dir() / "no-openpyxl"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCK_OPENPYXL)
    return {"PYTHONPATH": str(folder)}


MODES = {
    "sync without catalog": (),
    "discover": ("--discover",),
    "test": ("--test",),
}


def _assert_one_clear_line(returncode: int, stderr: str) -> None:
    assert returncode == 1, stderr[-3000:]
    (line,) = error_lines(stderr)
    assert "Setting 'result_format'" in line and "openpyxl" in line
    assert "tap-loop[xlsx]" in line and "result_format to json" in line
    assert "Traceback" not in stderr


@pytest.mark.parametrize("mode", [*MODES, "sync with catalog"])
def test_xlsx_without_openpyxl_fails_before_any_api_call(
    sandbox, config, catalog, no_openpyxl, mode
):
    xlsx = {**config, "result_format": "xlsx"}
    if mode == "sync with catalog":
        run = run_tap(xlsx, catalog=catalog, env=no_openpyxl)
    else:
        run = run_tap(xlsx, extra=MODES[mode], env=no_openpyxl)
    _assert_one_clear_line(run.returncode, run.stderr)
    assert run.records == []
    assert api_calls(sandbox) == [], "a request reached Loop before the setting was checked"


def test_diagnose_xlsx_without_openpyxl_fails_before_any_api_call(
    sandbox, config, no_openpyxl, monkeypatch
):
    # run_diagnose builds its environment from os.environ (tap_env): set PYTHONPATH there.
    monkeypatch.setenv("PYTHONPATH", no_openpyxl["PYTHONPATH"])
    done = run_diagnose({**config, "result_format": "xlsx"})
    _assert_one_clear_line(done.returncode, done.stderr)
    assert api_calls(sandbox) == []


def test_the_block_refuses_openpyxl_only(no_openpyxl):
    """The test's process really cannot import openpyxl, and the tap still starts."""
    env = tap_env(no_openpyxl)
    probe = subprocess.run(
        [sys.executable, "-c", "import openpyxl"], env=env, capture_output=True, text=True
    )
    assert probe.returncode == 1 and "No module named 'openpyxl'" in probe.stderr
    run = run_tap({}, extra=("--about", "--format=json"), env=no_openpyxl)
    assert run.returncode == 0, run.stderr
