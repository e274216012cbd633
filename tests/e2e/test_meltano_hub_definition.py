"""The Hub definition hub/extractors/tap-loop/tap-loop.yml used as the README says: a new
Meltano project outside the repository adds it with ``meltano add --from-ref`` and gets
the extractor with every setting and default of the declaration. No install (its
pip_url is the placeholder repository); about 3 s."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tap_loop.config.declared import HUB_FILE, SETTINGS, hub_definition
from tests.e2e.support import Meltano

PROJECT = """\
requires_meltano: ">=4.4,<5"
project_id: hub-definition-test
send_anonymous_usage_stats: false
default_environment: dev
environments:
- name: dev
"""


def test_meltano_adds_the_extractor_from_the_hub_definition(
    meltano_setup: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "meltano.yml").write_text(PROJECT)
    meltano = Meltano(
        root=meltano_setup,
        workdir=tmp_path,
        env={
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        project=project,
    )
    definition = hub_definition()
    source = str(meltano_setup / HUB_FILE)
    meltano("add", "--plugin-type", "extractor", "tap-loop", "--from-ref", source, "--no-install")

    added = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]
    assert list(added) == ["extractors"]
    (tap,) = added["extractors"]
    for key in ("name", "variant", "namespace", "pip_url", "executable", "repo", "docs"):
        assert tap[key] == definition[key], key
    assert tap["settings"] == definition["settings"]
    assert tap["settings_group_validation"] == definition["settings_group_validation"]

    env = {"TAP_LOOP_API_TOKEN": "hub-t0ken", "TAP_LOOP_START_DATE": "2026-01-01T00:00:00Z"}
    config = json.loads(meltano("config", "--unsafe", "print", "tap-loop", env=env).stdout)
    defaults = {s.name: s.meltano()["value"] for s in SETTINGS if s.default is not None}
    assert config == {
        **defaults,
        "api_token": "hub-t0ken",
        "start_date": "2026-01-01T00:00:00Z",
    }
