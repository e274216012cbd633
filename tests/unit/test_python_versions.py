"""The Python versions the package names are exactly the ones it is tested on (issue 19):
requires-python's floor, the version classifiers, ruff's and mypy's targets, and the
interpreter this suite runs on (CI: the machine's python3) agree."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
#: What CI runs the whole suite on (.ci/run -> scripts/test, with the machine's python3).
TESTED = ["3.11"]


def _classified() -> list[str]:
    pattern = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")
    found = (pattern.match(c) for c in PYPROJECT["project"]["classifiers"])
    return [m.group(1) for m in found if m]


def test_classifiers_name_exactly_the_tested_versions():
    assert _classified() == TESTED


def test_requires_python_starts_at_the_oldest_tested_version():
    assert PYPROJECT["project"]["requires-python"] == f">={TESTED[0]}"


def test_linters_target_the_oldest_supported_version():
    assert PYPROJECT["tool"]["mypy"]["python_version"] == TESTED[0]
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + TESTED[0].replace(".", "")


def test_the_suite_runs_on_a_version_the_package_names():
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running in TESTED, (
        f"this suite runs on Python {running}, which the classifiers do not name: add it "
        "to TESTED and the classifiers once CI runs on it"
    )
