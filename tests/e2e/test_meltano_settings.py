"""tap-loop's settings through Meltano: meltano.yml declares every setting of the tap
with a fitting kind, `--about` works through `meltano invoke`, and every setting can be
given from meltano.yml and from TAP_LOOP_* variables (fractional numbers included,
which Meltano's `kind: decimal` could not do) and reaches the tap in a real run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from loop_sandbox import Sandbox
from tests.e2e.support import (
    DAY,
    IMPERSONATED,
    START,
    TOKEN,
    Meltano,
    iso,
    read_jsonl,
    source_fields,
)

pytestmark = pytest.mark.e2e

END = START + 2 * DAY
TEAMS = ["team_support", "team_sales"]
TAGS = ["tag_urgent", "tag_vip", "tag_bug", "tag_refund"]
TEAMMATES = [
    "ana.novak@loop-demo.example",
    "luka.kovacic@loop-demo.example",
    "emilie.tremblay@loop-demo.example",
    "juergen.gross@loop-demo.example",
    "sofia.rossi@loop-demo.example",
]
CUSTOMERS = [
    "jana@stranka.si",
    "marko@stranka.si",
    "pierre@client-montreal.ca",
    "ops@acme.example",
    "ceo@globex.example",
    "hans@kunde.de",
    "sato@shop.jp",
    "maria@tienda.es",
    "anna@firma.pl",
    "zoe@startup.io",
    "li.wei@partner.cn",
    "it@globex.example",
]
TIMEZONE = "Europe/Ljubljana"
STREAM_MAPS = {"report": {"teamName": "__NULL__"}}


def _meltano_yml() -> dict[str, Any]:
    return _load_yaml(Path(__file__).resolve().parents[2] / "meltano.yml")


def _load_yaml(path: Path) -> dict[str, Any]:
    """meltano.yml through Meltano's own YAML library (ruamel) in .venv-meltano."""
    import subprocess

    python = Path(__file__).resolve().parents[2] / ".venv-meltano" / "bin" / "python"
    code = (
        "import json, sys\nfrom ruamel.yaml import YAML\n"
        "print(json.dumps(YAML(typ='safe').load(open(sys.argv[1])), default=str))"
    )
    out = subprocess.run([str(python), "-c", code, str(path)], check=True, capture_output=True)
    return json.loads(out.stdout)


def _tap_definition() -> dict[str, Any]:
    (tap,) = [p for p in _meltano_yml()["plugins"]["extractors"] if p["name"] == "tap-loop"]
    return tap


def _about(meltano: Meltano) -> dict[str, Any]:
    out = meltano("invoke", "tap-loop", "--about", "--format=json").stdout
    return json.loads(out)


def test_meltano_yml_declares_every_tap_setting(meltano: Meltano) -> None:
    """Every property of the tap's config schema is a Meltano setting of a fitting kind
    (never `decimal`), and the capabilities are the tap's."""
    about = _about(meltano)
    properties: dict[str, Any] = about["settings"]["properties"]
    tap = _tap_definition()
    settings = {s["name"]: s for s in tap["settings"]}
    assert set(properties) - set(settings) == set(), "settings missing from meltano.yml"
    assert set(settings) - set(properties) == set(), "meltano.yml settings the tap lacks"
    for name, prop in properties.items():
        setting = settings[name]
        assert setting.get("kind") != "decimal", name
        assert setting.get("label"), name
        assert setting.get("description"), name
        types = prop.get("type", [])
        types = {types} if isinstance(types, str) else set(types)
        if prop.get("format") == "date-time":
            assert setting["kind"] == "date_iso8601", name
        elif "number" in types:
            assert setting["kind"] == "string", f"{name}: fractional numbers need kind string"
        elif "integer" in types:
            assert setting["kind"] == "integer", name
        elif "array" in types:
            assert setting["kind"] == "array", name
        elif "object" in types:
            assert setting["kind"] == "object", name
        elif "boolean" in types:
            assert setting["kind"] == "boolean", name
        elif prop.get("enum"):
            assert setting["kind"] == "options", name
            assert {o["value"] for o in setting["options"]} == set(prop["enum"]), name
        else:
            assert setting["kind"] in {"string", "options"}, name
        if prop.get("secret") or prop.get("writeOnly"):
            assert setting.get("sensitive") is True, name
    assert settings["api_token"].get("sensitive") is True
    assert set(tap["capabilities"]) == set(about["capabilities"])
    required = set(about["settings"].get("required", []))
    assert required <= set(tap["settings_group_validation"][0])


def test_about_markdown_through_meltano(meltano: Meltano) -> None:
    """`meltano invoke tap-loop --about --format=markdown` prints the settings table and
    the Tap class's docstring as the description."""
    out = meltano("invoke", "tap-loop", "--about", "--format=markdown").stdout
    assert "None" not in out.split("## Capabilities")[0], out[:500]
    assert "## Settings" in out
    about = _about(meltano)
    for name in about["settings"]["properties"]:
        assert f"| {name} " in out or f"| `{name}`" in out, f"{name} not in the settings table"


def _values(sandbox_url: str, *, yaml_numbers: bool, result_format: str) -> dict[str, Any]:
    """One value for every setting; fractional ones as numbers (YAML) or strings (env)."""

    def num(value: float) -> Any:
        return value if yaml_numbers else str(value)

    return {
        "api_token": TOKEN,
        "api_url": sandbox_url,
        "start_date": iso(START),
        "end_date": iso(END),
        "timezone": TIMEZONE,
        "tag_ids": TAGS,
        "team_ids": TEAMS,
        "teammate_ids": TEAMMATES,
        "customer_ids": CUSTOMERS,
        "impersonate_user": IMPERSONATED,
        # One report named like the default stream, setting a filter of its own (the
        # same teams): the run's output is the same; several: test_meltano_reports.py.
        "reports": [{"name": "report", "team_ids": TEAMS}],
        "window_days": num(0.5),
        "lookback_days": num(0.25),
        "poll_interval_seconds": num(0.1),
        "export_timeout_seconds": num(120.5),
        "primary_keys": ["id"],
        "schema_sample_days": num(1.5),
        "schema_sample_rows": 300,
        "schema_overrides": {"handleTimeMinutes": {"type": ["number", "null"]}},
        "result_format": result_format,
        "min_window_minutes": 30,
        "max_concurrent_exports": 2,
        "request_timeout_seconds": num(30.5),
        "download_timeout_seconds": num(600.5),
        "max_request_retries": 3,
        "max_retry_wait_seconds": num(5.5),
        "max_export_attempts": 2,
        "settle_minutes": num(2.5),
        "max_object_keys": 50,
        "big_integers": "number",  # no field here holds one: the output is the same
        "stream_maps": STREAM_MAPS,
        "stream_map_config": {"unused": 1},
        "faker_config": {"seed": 7, "locale": "sl_SI"},
        "flattening_enabled": False,
        "flattening_max_depth": 1,
        "flattening_max_key_length": 63,
        "flattening_separator": "__",
    }


def _check_all_settings_used(
    meltano: Meltano, sandbox: Sandbox, values: dict[str, Any], env: dict[str, str]
) -> None:
    """The config Meltano writes for the tap holds every value; a run with it exports
    exactly the sandbox's rows for those filters, time zone and stream map."""
    declared = {s["name"] for s in _tap_definition()["settings"]}
    assert set(values) == declared, "the test must set every declared setting"
    dumped = json.loads(meltano("invoke", "--dump=config", "tap-loop", env=env).stdout)
    for name, value in values.items():
        assert dumped.get(name) == value, f"{name}: {dumped.get(name)!r} != {value!r}"

    since = len(sandbox.requests)
    meltano("el", "tap-loop", "target-jsonl", "--state-id", "settings-e2e", env=env)
    records = read_jsonl(Path(env["TARGET_JSONL_DESTINATION_PATH"]) / "report.jsonl")
    want = sandbox_filtered(sandbox)
    assert want, "the filters leave no rows: pick wider test values"
    assert {r["id"] for r in records} == set(want)
    for record in records:
        # The stream map drops teamName.
        expected = {k: v for k, v in want[record["id"]].items() if k != "teamName"}
        assert source_fields(record) == expected, record["id"]
    # The exports the sandbox created carried the filters, time zone and impersonation.
    creates = [
        r
        for r in sandbox.requests[since:]
        if r["method"] == "POST" and r["path"].endswith("/report/export")
    ]
    assert creates, "no export reached the sandbox"
    for request in creates:
        body = json.loads(request["body"])
        assert body["timezone"] == TIMEZONE
        assert sorted(body["teamIds"]) == sorted(TEAMS)
        assert sorted(body["tagIds"]) == sorted(TAGS)
        assert sorted(body["teammateIds"]) == sorted(TEAMMATES)
        assert sorted(body["customerIds"]) == sorted(CUSTOMERS)
        assert request["headers"].get("x-impersonate-user") == IMPERSONATED


def sandbox_filtered(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """The sandbox's rows for the test's range with every filter and the time zone."""
    rows = sandbox.expected_rows(
        START,
        END,
        timezone=TIMEZONE,
        tag_ids=TAGS,
        team_ids=TEAMS,
        teammate_ids=TEAMMATES,
        customer_ids=CUSTOMERS,
    )
    return {row["id"]: row for row in rows}


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def test_every_setting_from_environment_variables(meltano: Meltano, e2e_sandbox: Sandbox) -> None:
    """TAP_LOOP_<SETTING> for every setting, e.g. TAP_LOOP_WINDOW_DAYS=0.5; exports as
    xlsx (meltano.yml installs the tap with its xlsx extra)."""
    values = _values(e2e_sandbox.api_url, yaml_numbers=False, result_format="xlsx")
    env = {f"TAP_LOOP_{name.upper()}": _env_value(value) for name, value in values.items()}
    env["TARGET_JSONL_DESTINATION_PATH"] = str(meltano.workdir / "env-jsonl")
    _check_all_settings_used(meltano, e2e_sandbox, values, env)


def _yaml_scalar(value: Any) -> str:
    """A value as YAML: JSON is valid YAML flow style (numbers stay numbers)."""
    return json.dumps(value)


def test_every_setting_from_meltano_yml(
    meltano: Meltano, e2e_sandbox: Sandbox, tmp_path: Path
) -> None:
    """Every setting in meltano.yml's `config:` (fractional numbers as plain YAML
    numbers, window_days: 0.5), in a copy of the project sharing its plugin venvs."""
    values = _values(e2e_sandbox.api_url, yaml_numbers=True, result_format="json")
    project = tmp_path / "project"
    (project / ".meltano").mkdir(parents=True)
    for kind in ("extractors", "loaders"):
        os.symlink(meltano.root / ".meltano" / kind, project / ".meltano" / kind)
    shutil.copy(meltano.root / "pyproject.toml", project / "pyproject.toml")
    text = (meltano.root / "meltano.yml").read_text()
    anchor = "    executable: tap-loop\n"
    assert text.count(anchor) == 1
    block = "    config:\n" + "".join(
        f"      {name}: {_yaml_scalar(value)}\n" for name, value in values.items()
    )
    (project / "meltano.yml").write_text(text.replace(anchor, anchor + block))

    env = {
        k: v for k, v in meltano.env.items() if not k.startswith("TAP_LOOP_")
    }  # nothing from the environment: meltano.yml only
    env["MELTANO_PROJECT_ROOT"] = str(project)
    env["TARGET_JSONL_DESTINATION_PATH"] = str(tmp_path / "yml-jsonl")
    copy = Meltano(root=meltano.root, workdir=tmp_path, env=env, project=project)
    listed = copy("config", "list", "tap-loop").stdout
    for name in values:
        assert f"{name} [env: TAP_LOOP_{name.upper()}]" in listed, name
    assert "from `meltano.yml`" in listed
    _check_all_settings_used(copy, e2e_sandbox, values, env)
