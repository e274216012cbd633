"""The README's installation with Meltano, as a team follows it (issue 19, item 5): in a
Meltano project of its own, outside the repository, the ``tap-loop`` block of this
repository's ``meltano.yml`` with the README's git ``pip_url`` line installs the tap
from a git URL and runs it.

The git URL is ``git+file://`` of a git repository the test makes from this working
tree (what a clone holds, with uncommitted changes), so no network is needed for the
tap itself; its dependencies come from the package index (or the installer's cache) as
for every other plugin. Meltano's default installer (uv) does the install. Adds about
10 s to the e2e tests with warm caches.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from loop_sandbox import Sandbox
from tests.e2e.support import DAY, ROOT, START, TOKEN, Meltano, expected_rows, iso
from tests.helpers import copy_of_working_tree

pytestmark = pytest.mark.e2e

#: The README's template: the line of step 2 of "Installation".
README_LINE = re.compile(r"^\s*pip_url: (tap-loop\[xlsx\]@git\+\S+@<ref>)$", re.M)
README_REPOSITORY = "https://github.com/tap-loop/tap-loop.git"


def readme_pip_url() -> str:
    """The one git ``pip_url`` the README tells a team to write."""
    found = README_LINE.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(found) == 1, f"README must show one git pip_url line, found {found}"
    assert " " not in found[0]
    return str(found[0])


def tap_loop_block() -> list[str]:
    """The ``- name: tap-loop`` block of meltano.yml's extractors, down to its last
    setting (README, "Installation", step 1)."""
    lines = (ROOT / "meltano.yml").read_text(encoding="utf-8").splitlines()
    first = lines.index("  - name: tap-loop")
    block = [lines[first]]
    for line in lines[first + 1 :]:
        if re.match(r"^ {0,2}\S", line):  # the next plugin, `loaders:`, or the top level
            break
        block.append(line)
    while block[-1].strip().startswith("#") or not block[-1].strip():
        block.pop()  # a comment above the next entry belongs to it
    return block


def repository_of_working_tree(dest: Path) -> str:
    """A git repository at ``dest`` with the working tree's files in one commit (see
    :func:`copy_of_working_tree`); returns the commit id."""
    copy_of_working_tree(dest)
    ident = ["-c", "user.name=tap-loop tests", "-c", "user.email=tests@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def outside_project(meltano_setup: Path, tmp_path: Path) -> tuple[Meltano, Path, str]:
    """A Meltano project in a temp folder: the README's block and pip_url line."""
    repo = tmp_path / "tap-loop-clone"
    repo.mkdir()
    commit = repository_of_working_tree(repo)
    pip_url = readme_pip_url().replace(README_REPOSITORY, f"file://{repo}")
    pip_url = pip_url.replace("<ref>", commit)
    block = tap_loop_block()
    (pip_line,) = [i for i, line in enumerate(block) if line.strip().startswith("pip_url:")]
    block[pip_line] = f"    pip_url: {pip_url}"
    project = tmp_path / "project"
    project.mkdir()
    header = [
        "requires_meltano: '>=4.4,<5'",
        "project_id: tap-loop-git-install-test",
        "send_anonymous_usage_stats: false",
        "default_environment: dev",
        "environments:",
        "- name: dev",
        "plugins:",
        "  extractors:",
    ]
    (project / "meltano.yml").write_text("\n".join([*header, *block, ""]), encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "TMPDIR": str(scratch)}
    runner = Meltano(root=meltano_setup, workdir=tmp_path, env=env, project=project)
    return runner, project, commit


def test_the_readme_git_pip_url_installs_and_runs_in_another_project(
    outside_project: tuple[Meltano, Path, str], e2e_sandbox: Sandbox
) -> None:
    meltano, project, commit = outside_project
    meltano("install", "extractor", "tap-loop", timeout=900)
    venv = project / ".meltano" / "extractors" / "tap-loop" / "venv"
    (direct_url,) = venv.glob("lib/python*/site-packages/tap_loop-*.dist-info/direct_url.json")
    origin = json.loads(direct_url.read_text())
    assert origin["vcs_info"]["commit_id"] == commit, origin  # from git, not this folder
    assert origin["url"].startswith("file://") and "dir_info" not in origin
    assert list(venv.glob("lib/python*/site-packages/openpyxl")), "the [xlsx] extra is missing"

    for name, value in [
        ("api_token", TOKEN),
        ("start_date", iso(START)),
        ("api_url", e2e_sandbox.api_url),
        ("end_date", iso(START + DAY)),
        ("poll_interval_seconds", "0.1"),
        ("schema_sample_days", "1"),
    ]:
        meltano("config", "set", "tap-loop", name, value)

    about = meltano("invoke", "tap-loop", "--about", "--format=json")
    assert json.loads(about.stdout)["name"] == "tap-loop"

    synced = meltano("invoke", "tap-loop", timeout=300)
    messages = [json.loads(line) for line in synced.stdout.splitlines() if line.startswith("{")]
    ids = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    assert ids == set(expected_rows(e2e_sandbox, START, START + DAY))
    assert any(m["type"] == "STATE" for m in messages)
