"""Statuses, export ids and result URLs are data (issue 17): a status the tap cannot act on
fails the run within one ``export_timeout_seconds`` without splitting; an id goes into the
poll URL as one percent-encoded path segment and never into a file name; a result URL
that is not http(s) with a valid host (or redirects in a loop or off http(s)) stops the
run with one line naming its host, never its query; a 201 without a body is named as
such. Each case runs the tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    discover_run,
    error_lines,
    iso,
    row_ids,
    run_tap,
)

START = EPOCH_2026_11_01
POLL_PREFIX = "/api/v1/report/exports/"
SECRET = "s3cr3t-query-value"


def one_day(config, **more):
    return {**config, "end_date": iso(START + DAY), **more}


def creates(sandbox):
    return [r for r in sandbox.requests if r["method"] == "POST" and "/api/" in r["path"]]


def polls(sandbox):
    return [r for r in sandbox.requests if r["path"].startswith(POLL_PREFIX)]


def the_one_error(run) -> str:
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = error_lines(run.stderr)
    assert len(lines) == 1, lines
    assert run.records == [] and run.bookmark() is None
    return lines[0]


# -- statuses the tap cannot act on ----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "shown"),
    [(2, "status 2 "), ({"state": "Done"}, 'status {"state": "Done"} ')],
    ids=["number", "object"],
)
def test_a_status_that_is_not_a_string_fails_without_splitting(
    sandbox, config, catalog, value, shown
):
    sandbox.add_fault({"target": "poll", "kind": "status_literal", "value": value, "times": -1})
    run = run_tap(one_day(config, export_timeout_seconds=1), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert shown in line and "not a string" in line and "'export_timeout_seconds'" in line
    assert "Splitting window" not in run.stderr
    assert len(creates(sandbox)) == 1


def test_discovery_stops_on_a_status_it_cannot_act_on_instead_of_another_sample(sandbox, config):
    sandbox.add_fault({"target": "poll", "kind": "status_literal", "value": 2, "times": -1})
    # a 1-day window under the 7-day sample: discovery would try a second sample export
    done = discover_run({**config, "export_timeout_seconds": 1, "window_days": 1})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = error_lines(done.stderr)
    assert "status 2 (a JSON number, not a string)" in line
    assert len(creates(sandbox)) == 1


def test_completed_without_a_url_fails_without_splitting(sandbox, config, catalog):
    sandbox.add_fault(
        {"target": "poll", "kind": "status_literal", "value": "Completed", "times": -1}
    )
    run = run_tap(one_day(config, export_timeout_seconds=1), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert "Completed" in line and "no download url" in line
    assert "Splitting window" not in run.stderr
    assert len(creates(sandbox)) == 1


def test_completed_with_a_url_that_is_not_a_string_fails_without_splitting(
    sandbox, config, catalog
):
    sandbox.add_fault({"target": "poll", "kind": "url_literal", "value": 5, "times": -1})
    run = run_tap(one_day(config, export_timeout_seconds=1), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert "Completed" in line and "url 5 (a JSON number, not a string)" in line
    assert "Splitting window" not in run.stderr
    assert len(creates(sandbox)) == 1


def test_an_unknown_string_status_fails_at_the_timeout_without_splitting(sandbox, config, catalog):
    sandbox.add_fault({"target": "poll", "kind": "status_literal", "value": "Queued", "times": -1})
    run = run_tap(one_day(config, export_timeout_seconds=1), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert '"Queued"' in line and "unknown to the tap" in line
    assert "Splitting window" not in run.stderr
    assert len(creates(sandbox)) == 1


def test_pending_or_expired_still_splits_like_processing(sandbox, config, catalog):
    sandbox.add_fault(
        {"target": "poll", "kind": "status_literal", "value": "PendingOrExpired", "times": -1}
    )
    strict = one_day(config, export_timeout_seconds=0.5, min_window_minutes=720)
    run = run_tap(strict, catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert "Splitting window" in run.stderr and "'min_window_minutes'" in line
    assert len(creates(sandbox)) == 2


# -- export ids ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "export_id",
    ["a/b", "x" * 300, "../../../x", "x?y=1#z", "ü é%2F\\.."],
    ids=["slash", "300-chars", "dot-segments", "query-and-fragment", "unicode-percent"],
)
def test_an_export_id_is_one_encoded_path_segment_and_no_file_name(
    sandbox, config, catalog, export_id
):
    sandbox.add_fault({"target": "create", "kind": "id_literal", "value": export_id})
    run = run_tap(one_day(config), catalog=catalog, timeout=60)
    assert run.returncode == 0, run.stderr
    expected = {r["id"] for r in sandbox.expected_rows(START, START + DAY)}
    assert set(row_ids(run.records)) == expected
    assert len(creates(sandbox)) == 1
    assert {r["path"] for r in polls(sandbox)} == {POLL_PREFIX + quote(export_id, safe="")}
    assert all(r["raw_query"] == "" for r in polls(sandbox))
    assert all(r["status"] == 200 for r in polls(sandbox))
    assert {r["_loop_export_id"] for r in run.records} == {export_id}


@pytest.mark.parametrize(
    ("value", "shown"), [(5, "5 (a JSON number)"), ({"a": 1}, '{"a": 1}'), ("", '""')]
)
def test_an_export_id_that_is_not_a_non_empty_string_stops_with_one_line(
    sandbox, config, catalog, value, shown
):
    sandbox.add_fault({"target": "create", "kind": "id_literal", "value": value})
    run = run_tap(one_day(config), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert "export id" in line and shown in line and "HTTP 200" in line
    assert len(creates(sandbox)) == 1 and polls(sandbox) == []


# -- result URLs -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"/RF_abc?Expires=1&Signature={SECRET}", "no host"),
        ("file:///etc/passwd", "scheme 'file'"),
        (f"ftp://files.example/RF_x?Signature={SECRET}", "host 'files.example'"),
        (f"http://bad host.example/RF_x?Signature={SECRET}", "host 'bad host.example'"),
        (f"https://[::1/RF_x?Signature={SECRET}", "not a valid URL"),
        (f"https://:443/RF_x?Signature={SECRET}", "no host"),
    ],
    ids=["relative", "file", "ftp", "space-in-host", "broken-ipv6", "empty-host"],
)
def test_a_result_url_that_is_not_http_with_a_host_stops_with_one_line(
    sandbox, config, catalog, url, shown
):
    sandbox.add_fault({"target": "poll", "kind": "url_literal", "value": url, "times": -1})
    run = run_tap(one_day(config), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert shown in line and "http(s)" in line and "What to do" in line
    assert SECRET not in run.stderr and SECRET not in run.stdout
    assert [r for r in sandbox.requests if r["server"] == "download"] == []


@pytest.mark.parametrize(
    ("location", "shown"),
    [("", "redirect"), ("file:///etc/passwd", "scheme 'file'")],
    ids=["loop", "to-file"],
)
def test_a_download_that_redirects_in_a_loop_or_off_http_stops_with_one_line(
    sandbox, config, catalog, location, shown
):
    sandbox.add_fault({"target": "download", "kind": "redirect", "location": location, "times": -1})
    run = run_tap(one_day(config), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert shown in line and "http(s)" in line and "127.0.0.1" in line
    assert "Signature" not in line and "Expires" not in line
    hops = [r for r in sandbox.requests if r["server"] == "download"]
    assert hops and all("authorization" not in r["headers"] for r in hops)


def test_a_download_redirected_once_arrives_without_credentials(sandbox, config, catalog):
    sandbox.add_fault({"target": "download", "kind": "redirect", "times": 1})
    run = run_tap(one_day(config, impersonate_user="boss@example.com"), catalog=catalog)
    assert run.returncode == 0, run.stderr
    hops = [r for r in sandbox.requests if r["server"] == "download"]
    assert [r["status"] for r in hops] == [302, 200]
    for hop in hops:
        assert "authorization" not in hop["headers"]
        assert "x-impersonate-user" not in hop["headers"]


# -- a 201 without a body ----------------------------------------------------------------------
def test_a_201_without_a_body_or_location_is_named_as_201(sandbox, config, catalog):
    sandbox.add_fault({"target": "create", "kind": "empty_created"})
    run = run_tap(one_day(config), catalog=catalog, timeout=60)
    line = the_one_error(run)
    assert "HTTP 201" in line and "HTTP 200" not in line and "no export id" in line


def test_a_201_without_a_body_takes_the_id_from_location(sandbox, config, catalog):
    sandbox.add_fault({"target": "create", "kind": "empty_created", "location": True})
    run = run_tap(one_day(config), catalog=catalog, timeout=60)
    assert run.returncode == 0, run.stderr
    expected = {r["id"] for r in sandbox.expected_rows(START, START + DAY)}
    assert set(row_ids(run.records)) == expected
    assert len(creates(sandbox)) == 1
