"""meltano.yml's tap-loop extractor is a complete, copyable plugin definition (Hub style)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tap_loop.tap import TapLoop

ROOT = Path(__file__).resolve().parents[2]


def _extractor() -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-loop"]
    return tap


def test_extractor_is_a_hub_style_definition():
    tap = _extractor()
    for key in ("namespace", "label", "description", "docs", "repo", "pip_url", "executable"):
        assert str(tap.get(key) or "").strip(), key
    assert tap["docs"].startswith("https://") and tap["repo"].startswith("https://")
    assert {"catalog", "discover", "state", "about"} <= set(tap["capabilities"])


def test_every_setting_has_kind_label_description_and_no_decimal():
    settings = _extractor()["settings"]
    for setting in settings:
        for key in ("kind", "label", "description"):
            assert str(setting.get(key) or "").strip(), (setting["name"], key)
        assert setting["kind"] != "decimal", setting["name"]  # Meltano 4.4 crashes on it
    names = {s["name"] for s in settings}
    assert set(TapLoop.config_jsonschema["properties"]) <= names
    assert "schema" not in names  # Meltano's own `schema` extra; the setting is schema_overrides
