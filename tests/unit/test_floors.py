"""scripts/floors.py: every direct dependency's floor, as scripts/test-lowest pins it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("floors", ROOT / "scripts" / "floors.py")
assert _spec is not None and _spec.loader is not None
floors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(floors)


def _project() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; test-lowest runs on 3.10
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_every_direct_dependency_and_the_xlsx_extra_has_a_floor_above_the_broken_ones():
    project = _project()
    found = floors.floors(project)
    declared = project["dependencies"] + project["optional-dependencies"]["xlsx"]
    assert len(found) == len(declared)
    assert "backoff" not in found  # the module comes from the python-backoff distribution
    # The versions known to fail this package's tests (issue 19) are below the floors.
    assert Version(found["msgspec"]) >= Version("0.23")  # UnicodeDecodeError on bad UTF-8
    assert Version(found["openpyxl"]) >= Version("3.1.3")  # a time cell read as text
    assert Version(found["typing-extensions"]) >= Version("4.5")  # singer-sdk 0.54's floor
    assert floors.oldest_python(project) == min(floors.classified_pythons(project), key=Version)
    assert len(floors.test_tools(project)) == len(floors.TEST_TOOLS)


def test_floors_read_each_specifier_form_and_refuse_a_dependency_without_one():
    project = {
        "dependencies": ["Singer_SDK~=0.54.9", "a[x]>=1.2,<2", "b==3; python_version < '3.11'"],
        "optional-dependencies": {"xlsx": ["c >= 4.0.1"], "dev": ["d"]},
    }
    assert floors.floors(project) == {"singer-sdk": "0.54.9", "a": "1.2", "b": "3", "c": "4.0.1"}
    for bad in (["requests"], ["requests<3"], ["a>=1", "a>=2"]):
        with pytest.raises(ValueError):
            floors.floors({"dependencies": bad})


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the command needs tomllib")
def test_the_command_prints_one_pip_constraint_a_line():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "floors.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == [f"{name}=={version}" for name, version in floors.floors(_project()).items()]
