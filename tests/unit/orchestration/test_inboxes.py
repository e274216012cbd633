"""orchestration/tap_loop_dagster/inboxes.py: the inboxes file and LOOP_DAGSTER_* settings
become checked Meltano pipelines; every mistake is one message naming file, entry, key."""

from __future__ import annotations

from pathlib import Path

import pytest
from tap_loop_dagster.inboxes import (
    DEFAULT_INBOXES_FILE,
    Inbox,
    OrchestrationError,
    load_inboxes,
    load_settings,
    parse_inboxes,
)


def _one(**entry: object) -> dict:
    return {"inboxes": [{"name": "support", **entry}]}


def test_entry_becomes_meltano_el_with_its_own_state_id_and_env() -> None:
    (inbox,) = parse_inboxes(
        _one(
            tap_config={"team_ids": ["team_support"], "window_days": 0.5, "x": True},
            loader_config={"default_target_schema": "loop_support"},
        ),
        "f.yml",
    )
    assert inbox.state_id == "dagster:tap-loop-to-target-duckdb:support"
    assert inbox.command("meltano") == [
        "meltano", "el", "tap-loop", "target-duckdb",
        "--state-id", "dagster:tap-loop-to-target-duckdb:support",
    ]  # fmt: skip
    assert inbox.env() == {
        "TAP_LOOP_TEAM_IDS": '["team_support"]',
        "TAP_LOOP_WINDOW_DAYS": "0.5",
        "TAP_LOOP_X": "true",
        "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": "loop_support",
    }


def test_defaults_apply_and_an_entry_overrides_them() -> None:
    doc = {
        "defaults": {"loader": "target-postgres", "timeout_minutes": 30},
        "inboxes": [
            {"name": "a"},
            {"name": "b", "loader": "target-jsonl", "state_id": "mine", "extractor": "tap-loop--b"},
        ],
    }
    a, b = parse_inboxes(doc, "f.yml")
    assert (a.loader, a.timeout_minutes, a.state_id) == (
        "target-postgres",
        30,
        "dagster:tap-loop-to-target-postgres:a",
    )
    assert (b.loader, b.state_id, b.env()) == ("target-jsonl", "mine", {})
    assert b.command("m")[2] == "tap-loop--b"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "needs a list `inboxes:`"),
        ({"inboxes": []}, "`inboxes:` is empty"),
        ({"inboxes": ["support"]}, "inboxes[0]: must be a mapping"),
        (_one(teams=["x"]), "inboxes[0]: unknown key 'teams'"),
        ({"inboxes": [{"name": "Support-1"}]}, "name 'Support-1' must be lower-case"),
        ({"inboxes": [{"name": "a"}, {"name": "a"}]}, "inboxes[1]: name 'a' twice"),
        (
            {"inboxes": [{"name": "a", "state_id": "s"}, {"name": "b", "state_id": "s"}]},
            "inboxes[1] (b): state_id 's' is also a's; each inbox needs its own state id",
        ),
        (_one(tap_config={"api_token": "t"}), "tap_config: api_token is a credential"),
        (_one(loader_config={"password": "p"}), "loader_config: password is a credential"),
        (_one(tap_config=["team_ids"]), "tap_config: must be a mapping"),
        (_one(timeout_minutes=0), "timeout_minutes 0 must be a number > 0"),
        (_one(loader=""), "(support): loader must be a non-empty string"),
        ({"defaults": {"tap_config": {}}, "inboxes": [{"name": "a"}]}, "defaults: unknown key"),
    ],
)
def test_a_mistake_is_one_message_naming_where(doc: dict, message: str) -> None:
    with pytest.raises(OrchestrationError) as caught:
        parse_inboxes(doc, "f.yml")
    assert str(caught.value).startswith("f.yml: ")
    assert message in str(caught.value)


def test_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(OrchestrationError, match=r"cannot read it .*LOOP_DAGSTER_INBOXES"):
        load_inboxes(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("inboxes: [\n")
    with pytest.raises(OrchestrationError, match=r"bad\.yml: not valid YAML"):
        load_inboxes(bad)


def test_shipped_inboxes_file_loads() -> None:
    inboxes = load_inboxes(DEFAULT_INBOXES_FILE)
    assert [i.name for i in inboxes] == ["support", "sales"]
    assert all(isinstance(i, Inbox) and i.tap_config.get("team_ids") for i in inboxes)


def test_settings_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings({"MELTANO_PROJECT_ROOT": str(tmp_path)})
    assert (settings.project, settings.meltano) == (tmp_path, "meltano")
    assert (settings.cron, settings.timezone, settings.retries) == ("0 * * * *", "UTC", 3)
    assert settings.inboxes_file == DEFAULT_INBOXES_FILE
    local = tmp_path / ".venv-meltano" / "bin" / "meltano"
    local.parent.mkdir(parents=True)
    local.touch()
    env = {
        "MELTANO_PROJECT_ROOT": str(tmp_path),
        "LOOP_DAGSTER_CRON": "*/15 * * * *",
        "LOOP_DAGSTER_RETRIES": "0",
        "LOOP_DAGSTER_RETRY_DELAY_SECONDS": "2.5",
    }
    settings = load_settings(env)
    assert settings.meltano == str(local)
    assert (settings.cron, settings.retries, settings.retry_delay_seconds) == (
        "*/15 * * * *",
        0,
        2.5,
    )
    with pytest.raises(OrchestrationError, match=r"LOOP_DAGSTER_RETRIES='x' is not a whole"):
        load_settings({"LOOP_DAGSTER_RETRIES": "x"})
    with pytest.raises(OrchestrationError, match=r"LOOP_DAGSTER_RETRY_DELAY_SECONDS=.-1. is neg"):
        load_settings({"LOOP_DAGSTER_RETRY_DELAY_SECONDS": "-1"})
