"""The Meltano Hub plugin definition hub/extractors/tap-loop/tap-loop.yml: written from the
declaration (tap_loop/config/declared.py), in step with meltano.yml, and accepted by the
Hub's own checks, its JSON Schema and its yamllint rules (copies in tests/data/hub/)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from yamllint import linter
from yamllint.config import YamlLintConfig

from tap_loop.config.declared import (
    HUB_FILE,
    PLUGIN,
    hub_definition,
    hub_yaml,
    main,
    plugin_settings,
)

ROOT = Path(__file__).resolve().parents[3]
HUB = ROOT / "tests" / "data" / "hub"
WRITE = f"run `python -m tap_loop.config.declared --write meltano.yml --hub {HUB_FILE}`"


def _validator() -> Draft7Validator:
    """The Hub's extractor schema with its ``$ref``s resolved by ``$id`` to the local
    copies, as the Hub's plugin_schema_validate.py does."""
    resources = []
    for path in sorted((HUB / "schemas").rglob("*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema, DRAFT7)))
    registry: Registry[Any] = Registry().with_resources(resources)
    top = HUB / "schemas" / "plugin_definitions" / "extractors.schema.json"
    return Draft7Validator(json.loads(top.read_text()), registry=registry)


def _schema_errors(text: str) -> list[str]:
    return [error.message for error in _validator().iter_errors(yaml.safe_load(text))]


def _lint(text: str) -> list[str]:
    """The Hub's yamllint problems (errors and warnings) in ``text``."""
    config = YamlLintConfig(file=str(HUB / ".yamllint.yaml"))
    return [f"{p.line}: {p.message}" for p in linter.run(text, config)]


def _extractor() -> dict[str, Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-loop"]
    return tap


def test_hub_file_is_as_written_by_the_declaration():
    assert (ROOT / HUB_FILE).read_text() == hub_yaml(), WRITE


def test_hub_file_reads_back_as_the_definition():
    assert yaml.safe_load((ROOT / HUB_FILE).read_text()) == hub_definition()


def test_hub_file_passes_the_hubs_schema():
    assert _schema_errors((ROOT / HUB_FILE).read_text()) == []


def test_hub_file_passes_the_hubs_yamllint_rules():
    assert _lint((ROOT / HUB_FILE).read_text()) == []


def test_hub_checks_reject_a_missing_quality_and_a_key_out_of_order():
    """The checks above can fail: the Hub's schema requires ``quality`` (and ``variant``),
    its yamllint config requires every mapping's keys in alphabetical order."""
    text = (ROOT / HUB_FILE).read_text()
    assert "\nquality: unknown\n" in text and "\nvariant: tap-loop\n" in text
    assert _schema_errors(text.replace("\nquality: unknown\n", "\n")) == [
        "'quality' is a required property"
    ]
    assert _schema_errors(text.replace("\nvariant: tap-loop\n", "\n")) == [
        "'variant' is a required property"
    ]
    keys = "  kind: string\n  label: API token\n"
    assert keys in text
    problems = _lint(text.replace(keys, "  label: API token\n  kind: string\n", 1))
    line = _line(text, keys) + 1
    assert problems == [f'{line}: wrong ordering of key "kind" in mapping (key-ordering)']


def _line(text: str, part: str) -> int:
    """The line number (from 1) on which ``part`` starts in ``text``."""
    return text[: text.index(part)].count("\n") + 1


def test_hub_file_is_where_the_hub_keeps_it():
    """The Hub's layout, _data/meltano/extractors/<name>/<variant>.yml, and its name check
    (yaml_check_names.py: ``name`` is the folder's name)."""
    definition = hub_definition()
    path = Path(HUB_FILE)
    assert path.parts[:2] == ("hub", "extractors")
    assert path.parent.name == definition["name"]
    assert path.name == f"{definition['variant']}.yml"


def test_hub_file_is_as_the_hubs_formatter_leaves_it():
    """hub-utils sorts settings by name, capabilities and each settings group."""
    definition = hub_definition()
    names = [entry["name"] for entry in definition["settings"]]
    assert names == sorted(names)
    assert definition["capabilities"] == sorted(definition["capabilities"])
    for group in definition["settings_group_validation"]:
        assert group == sorted(group)


def test_hub_definition_says_what_meltano_yml_says():
    """The shared fields and every setting, field by field; only the order differs
    (and pip_url: meltano.yml installs this folder, the Hub the repository)."""
    tap = _extractor()
    definition = hub_definition()
    for key in ("name", "namespace", "label", "description", "docs", "repo", "executable"):
        assert tap[key] == PLUGIN[key] == definition[key], key
    assert sorted(tap["capabilities"]) == definition["capabilities"]
    assert [sorted(g) for g in tap["settings_group_validation"]] == (
        definition["settings_group_validation"]
    )
    assert tap["settings"] == plugin_settings(), WRITE
    by_name = {entry["name"]: entry for entry in tap["settings"]}
    assert len(by_name) == len(tap["settings"])
    assert definition["settings"] == [by_name[name] for name in sorted(by_name)]


def test_every_hub_setting_has_kind_label_description_and_its_default():
    for entry in hub_definition()["settings"]:
        assert {"name", "kind", "label", "description"} <= set(entry), entry["name"]
    settings = {entry["name"]: entry for entry in hub_definition()["settings"]}
    assert settings["api_url"]["value"] == "https://api.intheloop.io"
    assert settings["window_days"]["value"] == "1"
    assert settings["max_request_retries"]["value"] == 8
    assert settings["api_token"]["sensitive"] is True and "value" not in settings["api_token"]
    assert [o["value"] for o in settings["result_format"]["options"]] == ["json", "xlsx"]


def test_hub_maintenance_status_is_the_packages_development_status():
    pyproject = (ROOT / "pyproject.toml").read_text()
    (status,) = re.findall(r'"Development Status :: ([^"]+)"', pyproject)
    statuses = {"3 - Alpha": "development", "4 - Beta": "beta", "5 - Production/Stable": "active"}
    assert hub_definition()["maintenance_status"] == statuses[status]


def test_hub_pip_url_is_one_requirement_with_the_xlsx_extra():
    """Meltano splits pip_url like a shell: the quotes keep the direct reference whole."""
    (requirement,) = shlex.split(hub_definition()["pip_url"])
    assert requirement == f"tap-loop[xlsx] @ git+{PLUGIN['repo']}.git"


def test_write_with_hub_writes_both_files(tmp_path: Path):
    meltano_yml = tmp_path / "meltano.yml"
    meltano_yml.write_text((ROOT / "meltano.yml").read_text())
    hub_file = tmp_path / "tap-loop.yml"
    assert main(["--write", str(meltano_yml), "--hub", str(hub_file)]) == 0
    assert meltano_yml.read_text() == (ROOT / "meltano.yml").read_text()
    assert hub_file.read_text() == hub_yaml()


@pytest.mark.parametrize("argv", [["--hub", "x.yml"], ["--write", "m.yml", "--hb", "x.yml"]])
def test_write_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]):
    assert main(argv) == 2
    assert "--hub" in capsys.readouterr().err
