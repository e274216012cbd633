"""The wheel holds only the tap_loop package, although meltano.yml, .meltano/, output/,
loop_sandbox/ and the venvs live at the top of the repository too; its metadata is
ready for an index (SPDX license, LICENSE file, version from tap_loop/__init__.py)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tap_loop import __version__
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
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(wheel) as archive:
        meta = archive.read(metadata).decode()
        assert (
            "Apache License"
            in archive.read(next(n for n in names if n.endswith("/licenses/LICENSE"))).decode()
        )
    headers = [line for line in meta.split("\n\n", 1)[0].splitlines()]
    assert f"Version: {__version__}" in headers
    assert "License-Expression: Apache-2.0" in headers and "License-File: LICENSE" in headers
    assert any(h.startswith("Project-URL: Repository, https://") for h in headers)
    assert any(h.startswith("Classifier: Programming Language :: Python :: 3.1") for h in headers)
    requires = [h for h in headers if h.startswith("Requires-Dist:")]
    assert "Requires-Dist: singer-sdk~=0.54.9" in requires  # no unused [msgspec] extra
    assert any(h.startswith("Requires-Dist: python-backoff") for h in requires)
    assert not any(h.startswith("Requires-Dist: backoff") for h in requires)
