"""Config checks: every error names its setting; numbers may arrive as strings or Decimal."""

from __future__ import annotations

import decimal

import pytest

from tap_loop.config.settings import SettingsError, load_settings

BASE = {"api_token": "t0ken-value", "start_date": "2026-11-01T00:00:00Z"}


def settings(**extra):
    return load_settings({**BASE, **extra})


def errors(**extra) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, **extra})
    return " | ".join(caught.value.errors)


def test_defaults():
    s = settings()
    assert s.api_url == "https://api.intheloop.io"
    assert s.timezone == "UTC"
    assert s.window_seconds == 86400
    assert s.lookback_seconds == 0
    assert s.poll_interval_seconds == 10
    assert s.export_timeout_seconds == 3600
    assert s.max_concurrent_exports == 4
    assert s.result_format == "json"
    assert s.min_window_seconds == 3600
    assert s.end_date is None
    assert s.filters == {}


@pytest.mark.parametrize("value", [0.25, "0.25", decimal.Decimal("0.25"), " 0.25 "])
def test_fractional_window_from_number_string_or_decimal(value):
    assert settings(window_days=value).window_seconds == 6 * 3600


def test_decimal_poll_interval_becomes_float():
    s = settings(poll_interval_seconds=decimal.Decimal("0.5"))
    assert isinstance(s.poll_interval_seconds, float)


def test_filters_map_to_api_fields_and_export_body():
    s = settings(
        team_ids=["team_a"], tag_ids=["t1", "t2"], teammate_ids=[], timezone="Europe/Ljubljana"
    )
    assert s.filters == {"teamIds": ["team_a"], "tagIds": ["t1", "t2"]}
    body = s.export_body(10, 20)
    assert body == {
        "start": 10,
        "end": 20,
        "timezone": "Europe/Ljubljana",
        "resultFormat": "Json",
        "teamIds": ["team_a"],
        "tagIds": ["t1", "t2"],
    }


def test_comma_separated_ids_are_accepted():
    assert settings(customer_ids="a@x.com, b@x.com").customer_ids == ["a@x.com", "b@x.com"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "'timezone'"),
        ({"window_days": 0}, "'window_days'"),
        ({"window_days": -1}, "'window_days'"),
        ({"window_days": "abc"}, "'window_days'"),
        ({"lookback_days": -0.5}, "'lookback_days'"),
        ({"poll_interval_seconds": 0}, "'poll_interval_seconds'"),
        ({"export_timeout_seconds": "0"}, "'export_timeout_seconds'"),
        ({"start_date": "yesterday"}, "'start_date'"),
        ({"end_date": "2026-13-45"}, "'end_date'"),
        ({"end_date": "2026-10-01T00:00:00Z"}, "'start_date'"),
        ({"end_date": "2026-11-01T00:00:00Z"}, "must be before"),
        ({"api_token": ""}, "'api_token'"),
        ({"api_url": "ftp://x"}, "'api_url'"),
        ({"max_concurrent_exports": 0}, "'max_concurrent_exports'"),
        ({"result_format": "csv"}, "'result_format'"),
        ({"schema_overrides": {"a": 1}}, "'schema_overrides'"),
        ({"schema": {"a": 1}}, "'schema'"),
    ],
)
def test_bad_settings_name_the_setting(extra, needle):
    assert needle in errors(**extra)


def test_all_errors_reported_at_once():
    text = errors(timezone="Nope/Nope", window_days=0)
    assert "'timezone'" in text and "'window_days'" in text


def test_missing_token_allowed_for_discovery():
    s = load_settings({"start_date": "2026-11-01"}, require_token=False)
    assert s.api_token == ""


OVERRIDE = {"score": {"type": ["number", "null"]}}


def test_schema_overrides_setting(caplog):
    with caplog.at_level("WARNING", logger="tap_loop.settings"):
        assert settings(schema_overrides=OVERRIDE).schema_overrides == OVERRIDE
    assert not caplog.records


def test_old_schema_setting_still_works_with_a_deprecation_warning(caplog):
    with caplog.at_level("WARNING", logger="tap_loop.settings"):
        assert settings(schema=OVERRIDE).schema_overrides == OVERRIDE
    (record,) = caplog.records
    assert "'schema' is deprecated" in record.getMessage()
    assert "'schema_overrides'" in record.getMessage()


def test_new_schema_setting_wins_over_the_old_one(caplog):
    other = {"other": {"type": "string"}}
    with caplog.at_level("WARNING", logger="tap_loop.settings"):
        assert settings(schema=other, schema_overrides=OVERRIDE).schema_overrides == OVERRIDE
    assert "ignored" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("token", "needle"),
    [
        ("tok-1234\nSECONDHALF99", "a line break"),
        ("tok-1234\r\nSECONDHALF99", "a line break"),
        ("\ufefftok-1234SECONDHALF99", "a byte order mark"),
        ("tok-1234 SECONDHALF99", "a space or tab"),
        ("tok-1234\x00SECONDHALF99", "a control character"),
        ("tok-1234\u00a0SECONDHALF99", "a character beyond ASCII"),
        ("Bearer tok-1234SECONDHALF99", "starts with 'Bearer '"),
    ],
)
def test_a_token_no_header_can_carry_is_refused_without_quoting_it(token, needle):
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, "api_token": token})
    (error,) = caught.value.errors
    assert error.startswith("Setting 'api_token' is invalid: ") and needle in error
    assert "tok-1234" not in error and "SECONDHALF99" not in error


def test_a_token_is_trimmed_and_kept_exactly():
    settings = load_settings({**BASE, "api_token": "  A.b_c~d+e/f=\n"})
    assert settings.api_token == "A.b_c~d+e/f="


@pytest.mark.parametrize("user", ["jürgen.čapek@example.com", "a b@example.com", "x\n@y.z"])
def test_an_impersonate_user_no_header_can_carry_is_refused(user):
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, "impersonate_user": user})
    (error,) = caught.value.errors
    assert error.startswith("Setting 'impersonate_user' is invalid") and "ASCII" in error


def test_an_ascii_impersonate_user_is_kept():
    settings = load_settings({**BASE, "impersonate_user": " boss+x@xn--apek-ppa.example "})
    assert settings.impersonate_user == "boss+x@xn--apek-ppa.example"


# -- reports -------------------------------------------------------------------------------
REPORTS_BASE = {"api_token": "t", "start_date": "2026-01-01", "team_ids": ["t1"]}


def test_without_reports_there_is_one_stream_named_report():
    settings = load_settings(REPORTS_BASE)
    assert [s.stream for s in settings.streams()] == ["report"]
    assert settings.streams()[0] is settings


def test_a_report_inherits_what_it_leaves_out_and_an_empty_list_clears_a_filter():
    reports = [
        {"name": "urgent", "tag_ids": ["tag_urgent"]},
        {"name": "everything", "team_ids": []},
        {"name": "local", "timezone": "Europe/Ljubljana", "impersonate_user": "a@b.c"},
    ]
    streams = {s.stream: s for s in load_settings({**REPORTS_BASE, "reports": reports}).streams()}
    assert list(streams) == ["urgent", "everything", "local"]
    assert streams["urgent"].filters == {"tagIds": ["tag_urgent"], "teamIds": ["t1"]}
    assert streams["everything"].filters == {}
    assert streams["local"].filters == {"teamIds": ["t1"]}
    assert streams["local"].timezone == "Europe/Ljubljana"
    assert streams["local"].impersonate_user == "a@b.c"
    assert streams["urgent"].timezone == "UTC" and streams["urgent"].impersonate_user is None
    assert all(s.reports == () for s in streams.values())
    body = streams["urgent"].export_body(0, 1)
    assert body["tagIds"] == ["tag_urgent"] and body["teamIds"] == ["t1"]


def test_reports_from_a_json_string_as_an_environment_variable_gives_it():
    text = '[{"name": "support", "team_ids": ["team_support"]}]'
    settings = load_settings({**REPORTS_BASE, "reports": text})
    assert [s.stream for s in settings.streams()] == ["support"]


@pytest.mark.parametrize(
    ("reports", "said"),
    [
        ([{"name": "9lives"}], "entry 1 has the name '9lives'"),
        ([{"name": "a-b"}], "entry 1 has the name 'a-b'"),
        ([{"name": "x" * 64}], "1 to 63 letters"),
        ([{"name": "Sales"}, {"name": "sales"}], "names must differ in more than case"),
        ([{"name": "a", "window_days": 1}], "has the key(s) 'window_days'"),
        ([{"name": "a", "team_ids": [1]}], "invalid 'team_ids'"),
        (["support"], "entry 1 is not an object"),
        ({"name": "a"}, "expected a list of objects"),
        ("[oops", "expected a JSON list of objects"),
    ],
)
def test_an_invalid_report_names_the_entry_and_what_is_wrong(reports, said):
    with pytest.raises(SettingsError) as caught:
        load_settings({**REPORTS_BASE, "reports": reports})
    assert any(said in error and "'reports'" in error for error in caught.value.errors), (
        caught.value.errors
    )
