"""The wheel holds only the tap_loop package, although meltano.yml, .meltano/, output/,
loop_sandbox/ and the venvs live at the top of the repository too; its metadata is
ready for an index (SPDX license, LICENSE file, version from tap_loop/__init__.py), and
its long description (docs/PYPI.md) reads right there: absolute links only, no command
that exists only in a clone."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tap_loop import __version__
from tests.e2e.support import ROOT

pytestmark = pytest.mark.e2e


def _build_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(folder), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = folder.glob("tap_loop-*.whl")
    return wheel


def test_wheel_contains_only_tap_loop(tmp_path: Path) -> None:
    """Build the wheel as pip would and list its top-level entries."""
    wheel = _build_wheel(tmp_path)
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


#: A Markdown link or image target, or an HTML href/src.
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|(?:href|src)=[\"']([^\"']+)")
#: Commands and paths that exist only in a clone of the repository.
_CLONE_ONLY = ("scripts/", ".venv/bin", "-e .", "python -m loop_sandbox", ".ci/")


def test_long_description_has_absolute_links_only(tmp_path: Path) -> None:
    """The description a package index shows: the built wheel's METADATA body."""
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        meta = archive.read(next(n for n in archive.namelist() if n.endswith("/METADATA")))
    head, body = meta.decode().split("\n\n", 1)
    assert "Description-Content-Type: text/markdown" in head.splitlines()
    assert body.strip() == (ROOT / "docs" / "PYPI.md").read_text().strip()
    targets = [a or b for a, b in _LINK.findall(body)]
    assert targets, "no links found: the pattern is broken"
    relative = [t for t in targets if not t.startswith(("https://", "mailto:"))]
    assert relative == [], f"relative or non-https links in the long description: {relative}"
    assert not [c for c in _CLONE_ONLY if c in body], "commands that need a clone"
    assert len(body) < 8000, "the package page should be a summary, not the README"
    # The sdist carries the file, so a wheel built from the sdist has the same description.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    readme = project["project"]["readme"]
    assert readme in project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
