"""Schema and keys from the export: discovery, overrides, drift (also under an
alias and with flattening), pinned selection (issue: schema and keys that match the export)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    assert_records_fit_their_schema,
    discover,
    discover_run,
    iso,
    latest_schemas,
    run_tap,
)

START = EPOCH_2026_11_01
TAP_FIELDS = {"_loop_window_start", "_loop_window_end", "_loop_export_id"}


def stream_entry(catalog):
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == "report")


def validator(schema):
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def test_discovery_infers_a_schema_that_validates_every_record(sandbox, config):
    discovery_config = {k: v for k, v in config.items() if k != "primary_keys"}
    catalog = discover(discovery_config)
    entry = stream_entry(catalog)
    assert entry["key_properties"] == ["id"]
    assert entry["replication_key"] == "_loop_window_end"
    properties = entry["schema"]["properties"]
    for field in (
        "id",
        "createdAt",
        "assignee",
        "tags",
        "sla",
        "_loop_window_start",
        "_loop_window_end",
        "_loop_export_id",
    ):
        assert field in properties, field
    assert properties["createdAt"]["format"] == "date-time"
    assert properties["localDate"]["format"] == "date"
    assert "null" in properties["assignee"]["type"]  # unassigned rows
    run = run_tap(discovery_config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    check = validator(run.schemas[-1]["schema"])
    for record in run.records:
        check.validate(record)
        assert set(record) <= set(properties)


def test_discovery_samples_with_filters_and_sample_settings(sandbox, config):
    discover(
        {
            **config,
            "team_ids": ["team_sales"],
            "schema_sample_days": 2,
            "schema_sample_rows": 10,
            "timezone": "Europe/Ljubljana",
            "impersonate_user": "boss@example.com",
        }
    )
    import json

    create = next(r for r in sandbox.requests if r["method"] == "POST")
    body = json.loads(create["body"])
    end = START + 3 * DAY
    assert body["end"] == end and body["start"] == end - 2 * DAY
    assert body["teamIds"] == ["team_sales"] and body["timezone"] == "Europe/Ljubljana"
    assert create["headers"]["x-impersonate-user"] == "boss@example.com"


@pytest.mark.parametrize("setting", ["schema_overrides", "schema"])  # "schema": deprecated
def test_schema_overrides_replace_and_add_fields(sandbox, config, setting):
    override = {
        "attachments": {"type": ["string", "null"]},
        "futureField": {"type": ["number", "null"]},
    }
    done = discover_run({**config, setting: override})
    assert done.returncode == 0, done.stderr
    entry = stream_entry(json.loads(done.stdout))
    assert entry["schema"]["properties"]["attachments"] == override["attachments"]
    assert entry["schema"]["properties"]["futureField"] == override["futureField"]
    assert ("'schema' is deprecated" in done.stderr) == (setting == "schema")
    assert "is not a tap-loop setting" not in done.stderr  # the old name is known


def test_discovery_without_token_still_succeeds(sandbox, config):
    no_token = {k: v for k, v in config.items() if k != "api_token"}
    done = discover_run(no_token)
    assert done.returncode == 0, done.stderr
    entry = stream_entry(json.loads(done.stdout))
    assert set(entry["schema"]["properties"]) == TAP_FIELDS | {"id"}  # id: primary_keys
    assert "No api_token" in done.stderr
    assert not sandbox.requests


def test_empty_sample_gives_tap_fields_and_a_warning(sandbox, config):
    config = {k: v for k, v in config.items() if k != "primary_keys"}
    done = discover_run({**config, "team_ids": ["no_such_inbox"]})
    assert done.returncode == 0, done.stderr
    entry = stream_entry(json.loads(done.stdout))
    assert set(entry["schema"]["properties"]) == TAP_FIELDS
    assert entry["key_properties"] == []
    assert "sample export had no rows" in done.stderr
    assert "No key property" in done.stderr


def test_drift_announces_a_wider_schema_before_the_first_row_with_a_new_field(sandbox, config):
    sandbox.configure(drift_after=START + DAY + DAY // 2)
    catalog = discover({**config, "end_date": iso(START + DAY), "schema_sample_days": 1})
    assert "sentimentScore" not in stream_entry(catalog)["schema"]["properties"]
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    current: dict | None = None
    first_with_field = None
    schemas_seen = 0
    for index, message in enumerate(run.messages):
        if message["type"] == "SCHEMA":
            current = message["schema"]
            schemas_seen += 1
        elif message["type"] == "RECORD":
            record = message["record"]
            assert current is not None  # a SCHEMA comes first
            validator(current).validate(record)  # every row conforms to the schema announced
            if "sentimentScore" in record and first_with_field is None:
                first_with_field = index
                assert "sentimentScore" in current["properties"]
    assert first_with_field is not None and schemas_seen == 2
    expected = {r["id"]: r for r in sandbox.expected_rows(START, START + 3 * DAY)}
    for record in run.records:
        row = {k: v for k, v in record.items() if not k.startswith("_loop_")}
        assert row == expected[record["id"]]  # no field lost
    assert run.stderr.count("sentimentScore") == 1  # logged once


def test_pinned_selection_leaves_out_unselected_and_new_fields(sandbox, config):
    sandbox.configure(drift_after=START + DAY + DAY // 2)
    catalog = discover({**config, "end_date": iso(START + DAY), "schema_sample_days": 1})
    entry = stream_entry(catalog)
    for item in entry["metadata"]:
        if item["breadcrumb"] == ["properties", "subject"]:
            item["metadata"]["selected"] = False
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records
    assert all("subject" not in r and "sentimentScore" not in r for r in run.records)
    assert run.stderr.count("'sentimentScore' is not in the catalog") == 1


def test_json_and_xlsx_give_the_same_records(sandbox, config):
    """Xlsx cells carry numbers, booleans and strings; nested values arrive as JSON text and
    are parsed back; null stays null. After that normalisation both formats agree."""
    json_run = run_tap(config)
    xlsx_run = run_tap({**config, "result_format": "xlsx"})
    assert json_run.returncode == 0, json_run.stderr
    assert xlsx_run.returncode == 0, xlsx_run.stderr

    def comparable(records):
        return [{k: v for k, v in r.items() if k != "_loop_export_id"} for r in records]

    assert comparable(xlsx_run.records) == comparable(json_run.records)
    formats = [
        json.loads(r["body"])["resultFormat"] for r in sandbox.requests if r["method"] == "POST"
    ]
    assert "Xlsx" in formats and "Json" in formats


def test_xlsx_discovery_infers_the_same_schema(sandbox, config):
    json_entry = stream_entry(discover(config))
    xlsx_entry = stream_entry(discover({**config, "result_format": "xlsx"}))
    assert xlsx_entry["schema"] == json_entry["schema"]
    assert xlsx_entry["key_properties"] == ["id"]


def test_types_edited_in_the_catalog_are_honoured(sandbox, config):
    catalog = discover(config)
    properties = stream_entry(catalog)["schema"]["properties"]
    assert properties["firstResponseSeconds"]["type"] == ["integer", "null"]
    properties["firstResponseSeconds"] = {"type": ["number", "null"]}
    properties["localDate"] = {"type": ["string", "null"]}  # no date format
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert len(run.schemas) == 1  # the edits fit the data: no widening
    announced = run.schemas[0]["schema"]["properties"]
    assert announced["firstResponseSeconds"] == {"type": ["number", "null"]}
    assert announced["localDate"] == {"type": ["string", "null"]}


# 1. flattening -------------------------------------------------------------------------
def test_flattened_schema_and_flattened_records(sandbox, config, catalog):
    run = run_tap(
        {**config, "flattening_enabled": True, "flattening_max_depth": 3}, catalog=catalog
    )
    assert run.returncode == 0, run.stderr
    schema = latest_schemas(run.messages)["report"]
    assert "customer__email" in schema["properties"] and "customer" not in schema["properties"]
    assert_records_fit_their_schema(run.messages)
    expected = {r["id"]: r for r in sandbox.expected_rows(START, START + 3 * DAY)}
    assert {r["id"] for r in run.records} == set(expected)
    for record in run.records:
        assert record["customer__email"] == expected[record["id"]]["customer"]["email"]
        assert "customer" not in record


# 2. stream maps and drift ----------------------------------------------------------------
def test_alias_gets_every_drift_announcement(sandbox, config, catalog):
    sandbox.configure(drift_after=START + DAY + DAY // 2)  # a new field mid-sync
    maps = {"report": {"__alias__": "loop_report"}}
    run = run_tap({**config, "stream_maps": maps}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    streams = {m["stream"] for m in run.messages if m["type"] in ("SCHEMA", "RECORD")}
    assert streams == {"loop_report"}  # no stray `report` stream
    assert "sentimentScore" in latest_schemas(run.messages)["loop_report"]["properties"]
    assert_records_fit_their_schema(run.messages)
    assert any("sentimentScore" in r for r in run.records)


@pytest.mark.parametrize("catalog_first", [True, False], ids=["catalog", "no-catalog"])
def test_key_properties_are_non_null_and_a_row_without_its_key_stops_the_run(
    sandbox, config, catalog_first
):
    """Keys are declared non-null and required (both targets make them the primary key);
    a row whose key is null stops the run with one line naming the field, no traceback,
    and the bookmark stays before the window that holds it (issue 20)."""
    chosen = discover({k: v for k, v in config.items() if k != "primary_keys"})
    schema = stream_entry(chosen)["schema"]
    assert schema["properties"]["id"] == {"type": "string"}
    assert schema["required"] == ["id"]
    refs = ['"r1"'] * 40 + ["null"]  # a null in row 40 of every 41: on the second day
    sandbox.configure(given_values={"ref": refs})
    config = {**config, "primary_keys": ["ref"], "schema_sample_rows": 20}
    found = discover_run(config)
    assert found.returncode == 0, found.stderr
    catalog = json.loads(found.stdout)
    assert stream_entry(catalog)["schema"]["properties"]["ref"] == {"type": "string"}
    run = run_tap(config, catalog=catalog if catalog_first else None)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "key property 'ref'" in line]
    assert len(errors) == 1, run.stderr
    assert "(null)" in errors[0] and "primary_keys" in errors[0]
    assert all(r["ref"] == "r1" for r in run.records)
    assert run.bookmark() in (None, iso(START + DAY))  # never past the row's window
