"""Settings declared once (tap_loop/config/declared.py): the tap's JSON Schema, the
bounds load_settings checks, meltano.yml's extractor settings and the settings tables
of README.md and docs/meltano.md all say what the declaration says."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tap_loop.config.declared import (
    DECLARED,
    SETTINGS,
    Setting,
    config_jsonschema,
    meltano_settings,
    with_meltano_settings,
)
from tap_loop.config.settings import SettingsError, load_settings
from tap_loop.tap import TapLoop

ROOT = Path(__file__).resolve().parents[3]
BASE = {"api_token": "t0ken-value", "start_date": "2026-11-01T00:00:00Z"}
# singer-sdk's own settings (stream maps, flattening) follow the declared ones.
SDK_SETTINGS = [
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
]


def _extractor_settings() -> list[dict]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-loop"]
    return tap["settings"]


def test_tap_schema_is_the_declared_one():
    """singer-sdk appends its own settings to the class's schema when it validates a
    config (done here, so the test sees the same schema in any order of tests)."""
    TapLoop.append_builtin_config(TapLoop.config_jsonschema)
    schema, declared = TapLoop.config_jsonschema, config_jsonschema()
    names = [s.name for s in SETTINGS]
    assert list(schema["properties"])[: len(names)] == names
    assert set(schema["properties"]) - set(names) <= set(SDK_SETTINGS)
    assert {name: schema["properties"][name] for name in names} == declared["properties"]
    assert {k: v for k, v in schema.items() if k != "properties"} == {
        k: v for k, v in declared.items() if k != "properties"
    }


def test_meltano_yml_settings_are_the_declared_ones_field_by_field():
    """name, label, kind, options, value (the default), sensitive and description."""
    written = _extractor_settings()
    declared = meltano_settings()
    assert [s["name"] for s in written] == [s["name"] for s in declared] + SDK_SETTINGS
    for entry, want in zip(written[: len(declared)], declared, strict=True):
        assert entry == want, f"meltano.yml differs for {want['name']}: run " + (
            "`python -m tap_loop.config.declared --write meltano.yml`"
        )


def test_meltano_yml_block_is_as_written_by_the_declaration():
    text = (ROOT / "meltano.yml").read_text()
    assert with_meltano_settings(text) == text, (
        "run `python -m tap_loop.config.declared --write meltano.yml`"
    )


def test_meltano_entry_of_each_kind():
    assert DECLARED["window_days"].meltano() == {
        "name": "window_days",
        "label": "Window (days)",
        "kind": "string",  # never decimal: Meltano 4.4 crashes writing it
        "value": "1",
        "description": DECLARED["window_days"].description,
    }
    token = DECLARED["api_token"].meltano()
    assert token["sensitive"] is True and "value" not in token
    assert DECLARED["max_request_retries"].meltano()["value"] == 8
    result_format = DECLARED["result_format"].meltano()
    assert result_format["kind"] == "options" and result_format["value"] == "json"
    assert [o["value"] for o in result_format["options"]] == ["json", "xlsx"]
    assert DECLARED["start_date"].meltano()["kind"] == "date_iso8601"


def _out_of_bound(setting: Setting) -> int:
    assert setting.bound is not None
    return setting.bound.limit if setting.bound.exclusive else setting.bound.limit - 1


BOUNDED = [s for s in SETTINGS if s.bound is not None]


@pytest.mark.parametrize("setting", BOUNDED, ids=[s.name for s in BOUNDED])
def test_bound_is_checked_by_the_schema_and_by_load_settings(setting: Setting):
    assert setting.bound is not None
    bad = _out_of_bound(setting)
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, setting.name: bad})
    assert caught.value.errors == [
        f"Setting '{setting.name}' must be {setting.bound.rule} (got {bad!r})."
    ]
    schema = config_jsonschema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**BASE, setting.name: bad}, schema)
    good = bad + 1
    load_settings({**BASE, setting.name: good})
    jsonschema.validate({**BASE, setting.name: good}, schema)


def test_declared_defaults_are_the_loaded_ones():
    s = load_settings(BASE)
    d = {name: DECLARED[name].default for name in DECLARED}
    assert s.api_url == d["api_url"] and s.timezone == d["timezone"]
    assert s.window_seconds == d["window_days"] * 86400
    assert s.lookback_seconds == d["lookback_days"] * 86400
    assert s.schema_sample_seconds == d["schema_sample_days"] * 86400
    assert s.min_window_seconds == d["min_window_minutes"] * 60
    assert s.settle_seconds == d["settle_minutes"] * 60
    for name in (
        "poll_interval_seconds",
        "export_timeout_seconds",
        "schema_sample_rows",
        "result_format",
        "max_concurrent_exports",
        "request_timeout_seconds",
        "download_timeout_seconds",
        "max_request_retries",
        "max_retry_wait_seconds",
        "max_export_attempts",
    ):
        assert getattr(s, name) == d[name], name


def _table(path: Path, header: str) -> dict[str, list[str]]:
    """The rows of the Markdown table under ``header``, by their first cell."""
    lines = path.read_text().splitlines()
    start = lines.index(header) + 2
    rows: dict[str, list[str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_readme_settings_table_is_the_declaration():
    rows = _table(ROOT / "README.md", "| Setting | Required | Default | Description |")
    assert list(rows) == [s.name for s in SETTINGS]
    for setting in SETTINGS:
        default = "None" if setting.default is None else str(setting.default)
        want = [str(setting.required), default, setting.description]
        assert rows[setting.name] == want, setting.name


def test_docs_meltano_settings_table_has_the_declared_kinds_and_defaults():
    header = "| Setting | Meltano kind | Environment variable | Default | Description |"
    rows = _table(ROOT / "docs" / "meltano.md", header)
    assert [name for name in rows if name in DECLARED] == [s.name for s in SETTINGS]
    for setting in SETTINGS:
        kind, env, default, _ = rows[setting.name]
        want_kind = setting.meltano()["kind"]
        want_kind += " (number)" if setting.kind == "number" else ""
        want_kind += ", sensitive" if setting.secret else ""
        assert kind == want_kind, setting.name
        assert env == f"`TAP_LOOP_{setting.name.upper()}`", setting.name
        if setting.required:
            assert default == "required", setting.name
        elif setting.default is not None:
            assert default == f"`{setting.default}`", setting.name
        else:
            assert not re.fullmatch(r"`[^`]*`", default), f"{setting.name}: no default"
