"""The declared floors of tap-loop's direct dependencies, read from pyproject.toml.

pyproject.toml is the one source of truth: every entry of ``[project] dependencies`` and of
the ``xlsx`` extra must name a floor (``>=X`` or ``~=X``, or an exact ``==X``), and this script
turns each into ``name==X`` for pip's ``--constraint`` (scripts/test-lowest installs the
package with them and runs the tests, so a floor that does not work fails CI).

    python3 scripts/floors.py                 # constraints, one `name==floor` a line
    python3 scripts/floors.py --python        # the oldest Python allowed, e.g. `3.10`
    python3 scripts/floors.py --pythons       # the Pythons the classifiers name, e.g. `3.10 3.11`
    python3 scripts/floors.py --test-tools    # the dev extra's test runners, as declared

Standard library only, so it runs before any virtual environment exists (the command
needs Python 3.11+ for tomllib; the functions take the parsed ``[project]`` table and run
on 3.10 too, as tests/unit/test_floors.py does under scripts/test-lowest).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
EXTRAS = ("xlsx",)  # the optional runtime extras whose floors are tested too
# What tests/unit needs besides the package; taken from the dev extra with their declared
# specifiers (not pinned: these are tools, not the package's dependencies).
TEST_TOOLS = ("pytest", "pytest-timeout", "pytest-xdist", "responses", "jsonschema", "yamllint")

_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;]*?)\s*(?:;.*)?$"
)
_FLOOR = re.compile(r"(?:>=|~=|==)\s*(?P<version>[0-9][0-9A-Za-z.+!-]*)")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, str]:
    """``(normalised name, version specifier)`` of one PEP 508 requirement string."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read requirement {requirement!r} in pyproject.toml")
    return _normalise(match["name"]), match["spec"]


def floors(project: dict[str, Any]) -> dict[str, str]:
    """``{name: floor}`` for every direct dependency and every entry of the runtime extras.

    Raises ValueError for a dependency with no floor (the lowest-version run could not
    test it) or two different floors for one name.
    """
    deps = list(project.get("dependencies", []))
    extras = project.get("optional-dependencies", {})
    for extra in EXTRAS:
        deps += extras.get(extra, [])
    found: dict[str, str] = {}
    for requirement in deps:
        name, spec = _split(requirement)
        match = _FLOOR.search(spec)
        if match is None:
            raise ValueError(
                f"{requirement!r} in pyproject.toml has no floor (>=, ~= or ==): "
                "declare the lowest version that works"
            )
        if found.setdefault(name, match["version"]) != match["version"]:
            raise ValueError(f"{name} has two floors in pyproject.toml")
    return found


def oldest_python(project: dict[str, Any]) -> str:
    """``3.N`` from ``requires-python = ">=3.N"``."""
    match = re.search(r">=\s*(3\.\d+)", str(project.get("requires-python", "")))
    if match is None:
        raise ValueError("requires-python in pyproject.toml has no `>=3.N` floor")
    return match[1]


def classified_pythons(project: dict[str, Any]) -> list[str]:
    """``3.N`` for each ``Programming Language :: Python :: 3.N`` classifier."""
    prefix = "Programming Language :: Python :: "
    found = [
        c.removeprefix(prefix)
        for c in project.get("classifiers", [])
        if re.fullmatch(re.escape(prefix) + r"3\.\d+", c)
    ]
    if not found:
        raise ValueError("the classifiers in pyproject.toml name no Python 3.N")
    return found


def test_tools(project: dict[str, Any]) -> list[str]:
    """The dev extra's entries for TEST_TOOLS, as declared (first one of each name)."""
    extras = project.get("optional-dependencies", {})
    chosen: dict[str, str] = {}
    for requirement in extras.get("dev", []):
        name, _ = _split(requirement)
        if name in TEST_TOOLS:
            chosen.setdefault(name, requirement)
    missing = sorted(set(TEST_TOOLS) - set(chosen))
    if missing:
        raise ValueError(f"the dev extra in pyproject.toml has no {', '.join(missing)}")
    return list(chosen.values())


def main(argv: list[str]) -> int:
    import tomllib  # Python 3.11+

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    try:
        if argv == ["--python"]:
            print(oldest_python(project))
        elif argv == ["--pythons"]:
            print(" ".join(classified_pythons(project)))
        elif argv == ["--test-tools"]:
            print("\n".join(test_tools(project)))
        elif not argv:
            print("\n".join(f"{name}=={version}" for name, version in floors(project).items()))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ValueError as exc:
        print(f"scripts/floors.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
