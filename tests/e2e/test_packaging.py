"""The wheel holds only the tap_loop package, although meltano.yml, .meltano/, output/,
loop_sandbox/ and the venvs live at the top of the repository too."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.support import ROOT

pytestmark = pytest.mark.e2e


def test_wheel_contains_only_tap_loop(tmp_path: Path) -> None:
    """Build the wheel as pip would and list its top-level entries."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("tap_loop-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"tap_loop"}, sorted(tops)
    assert "tap_loop/tap.py" in names
    assert not [n for n in names if n.endswith(("meltano.yml", ".duckdb")) or "/tests/" in n]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "tap-loop = tap_loop.tap:TapLoop.cli" in archive.read(entry_points).decode()
