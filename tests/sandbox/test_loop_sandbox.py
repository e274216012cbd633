"""Tests of the Loop API sandbox itself (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from loop_sandbox import Sandbox, generate_rows
from loop_sandbox.rows import count_rows
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY0 = 1_693_526_400  # 2023-09-01T00:00:00Z
CREATE = "/api/v1/report/export"
POLL = "/api/v1/report/exports/"


@pytest.fixture
def sb():
    with Sandbox(token=TOKEN, processing_seconds=0.05) as sandbox:
        yield sandbox


def create(sb: Sandbox, body: dict[str, Any], headers: dict[str, str] | None = None):
    return requests.post(
        sb.api_url + CREATE, json=body, headers={**AUTH, **(headers or {})}, timeout=10
    )


def poll(sb: Sandbox, export_id: str, **kw: Any) -> requests.Response:
    return requests.get(sb.api_url + POLL + export_id, headers=AUTH, timeout=10, **kw)


def wait_done(sb: Sandbox, export_id: str, timeout: float = 10) -> dict[str, Any]:
    """The export's status once it is no longer Processing (fails after ``timeout``)."""
    return wait_until(
        lambda: (r := poll(sb, export_id).json())["status"] != "Processing" and r,
        f"export {export_id} to finish processing",
        timeout,
    )


def export_url(sb: Sandbox, body: dict[str, Any]) -> str:
    resp = create(sb, body)
    assert resp.status_code == 200, resp.text
    result = wait_done(sb, resp.json()["id"])
    assert result["status"] == "Completed"
    return result["url"]


def fetch_rows(sb: Sandbox, body: dict[str, Any]) -> list[dict[str, Any]]:
    resp = requests.get(export_url(sb, body), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


# --- rows -------------------------------------------------------------------------------


def test_rows_are_deterministic_and_boundaries_inclusive():
    rows = list(generate_rows(DAY0, DAY0 + 86400))
    assert len(rows) == 97 == count_rows(DAY0, DAY0 + 86400)
    assert rows[0]["createdAt"] == "2023-09-01T00:00:00Z"
    assert rows[-1]["createdAt"] == "2023-09-02T00:00:00Z"
    assert rows == list(generate_rows(DAY0, DAY0 + 86400))
    assert len({r["id"] for r in rows}) == 97
    assert rows != list(generate_rows(DAY0, DAY0 + 86400, seed=1))
    # a boundary second shared by adjacent inclusive windows is in both
    first = list(generate_rows(DAY0, DAY0 + 3600))
    second = list(generate_rows(DAY0 + 3600, DAY0 + 7200))
    assert first[-1] == second[0]
    assert first[-1]["createdAt"] == "2023-09-01T01:00:00Z"
    # a row only depends on (seed, k): sub-windows agree with the big one
    assert list(generate_rows(DAY0 + 1, DAY0 + 1799)) == rows[1:2]
    assert list(generate_rows(DAY0 + 1, DAY0 + 899)) == []


def test_rows_shape_and_many_per_second():
    row = next(generate_rows(DAY0, DAY0))
    for key in ("id", "messageId", "conversationId", "createdAt", "localDate", "localHour",
                "teamId", "teamName", "direction", "subject", "assignee", "customer", "tags",
                "participants", "firstResponseSeconds", "handleTimeMinutes", "isResolved",
                "sla", "attachments"):  # fmt: skip
        assert key in row
    assert isinstance(row["sla"]["targets"], dict)
    assert "sentimentScore" not in row
    rows = list(generate_rows(DAY0, DAY0 + 1, rows_per_day=1_036_800))
    assert len(rows) == 24 and len({r["id"] for r in rows}) == 24
    big = list(generate_rows(DAY0, DAY0 + 86400 * 3))
    assert any(not r["teamName"].isascii() for r in big)
    assert any(not r["subject"].isascii() for r in big)
    assert any(r["assignee"] is None for r in big) and any(r["tags"] == [] for r in big)
    assert any(r["firstResponseSeconds"] is None for r in big)


def test_local_time_matches_zoneinfo_across_dst():
    for tz in ("Europe/Ljubljana", "Asia/Kathmandu", "America/St_Johns"):
        zone = ZoneInfo(tz)
        rows = generate_rows(1_679_702_400, 1_679_702_400 + 3 * 86400, timezone=tz)
        for r in rows:
            utc = dt.datetime.fromisoformat(r["createdAt"].replace("Z", "+00:00"))
            local = utc.astimezone(zone)
            assert (r["localDate"], r["localHour"]) == (local.date().isoformat(), local.hour)


def test_drift_after_adds_field():
    rows = list(generate_rows(DAY0, DAY0 + 86400, drift_after=DAY0 + 43200))
    assert ["sentimentScore" in r for r in rows] == [i >= 48 for i in range(97)]


def test_warehouse_shapes_are_served_with_every_digit(sb):
    """``warehouse_shapes``: long decimals go out with all their digits (as the file's
    text, not a float's), integers beyond 64 bits, arrays of arrays, ...; countA is a
    number only inside ``numbers_between``."""
    sb.configure(warehouse_shapes=True, numbers_between=[DAY0 + 3600, DAY0 + 7200])
    body = {"start": DAY0, "end": DAY0 + 3 * 3600}
    text = requests.get(export_url(sb, body), timeout=10).text
    for digits in (
        "9007199254740993.0",
        "12345678901234567890.5",
        "3.14159265358979323846264338327950288",
    ):
        assert f'"longDecimal":{digits},' in text
    assert f'"hugeInteger":{2**127},' in text and f'"hugeInteger":{-(10**40)},' in text
    rows = json.loads(text, parse_float=Decimal)
    expected = sb.expected_rows(DAY0, DAY0 + 3 * 3600)
    assert [r["longDecimal"] for r in rows] == [r["longDecimal"] for r in expected]
    floats = json.loads(text)  # the other fields as expected_rows gives them
    assert [{**r, "longDecimal": None} for r in floats] == [
        {**r, "longDecimal": None} for r in expected
    ]
    kinds = [(slot_t(r), type(r["countA"])) for r in expected]
    assert all((DAY0 + 3600 <= t < DAY0 + 7200) == (kind is float) for t, kind in kinds)
    assert {type(r["countA"]) for r in expected} == {int, float}
    assert any(r["matrix"] == [[r["matrix"][0][0], 2], [3], []] for r in rows)
    assert {r["emptyText"] for r in rows} >= {""}
    assert all("𝄞" in r["unicodeText"] for r in rows)
    assert {r["seenAt"][-6:] for r in rows} >= {"+02:00", "-05:30"}


def slot_t(row: dict[str, Any]) -> int:
    return int(dt.datetime.fromisoformat(row["createdAt"].replace("Z", "+00:00")).timestamp())


# --- lifecycle --------------------------------------------------------------------------


def test_lifecycle_create_poll_download(sb):
    sb.configure(processing_seconds=0.3)
    resp = create(sb, {"start": DAY0, "end": DAY0 + 86400})
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "Processing" and body["url"] is None
    assert poll(sb, body["id"]).json()["status"] == "Processing"
    result = wait_done(sb, body["id"])
    assert result["status"] == "Completed"
    url = result["url"]
    assert url.startswith(sb.download_url_base + f"/RF_{body['id']}?Expires=")
    assert "Signature=" in url and "Key-Pair-Id=" in url
    assert poll(sb, body["id"]).json()["url"] == url  # stable until it expires
    download = requests.get(url, timeout=10)
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/json"
    assert int(download.headers["Content-Length"]) == len(download.content)
    assert download.json() == sb.expected_rows(DAY0, DAY0 + 86400)
    record = sb.exports[body["id"]]
    assert (record["start"], record["end"], record["status"]) == (DAY0, DAY0 + 86400, "Completed")
    assert record["created_at"] <= time.time()
    servers = [(r["server"], r["method"], r["status"]) for r in sb.requests]
    assert servers[0] == ("api", "POST", 200) and servers[-1] == ("download", "GET", 200)
    first = sb.requests[0]
    assert first["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(first["body"]) == {"start": DAY0, "end": DAY0 + 86400}


def test_adjacent_windows_over_http_share_boundary_row(sb):
    a = fetch_rows(sb, {"start": DAY0, "end": DAY0 + 3600})
    b = fetch_rows(sb, {"start": DAY0 + 3600, "end": DAY0 + 7200})
    assert len(a) == len(b) == 5
    assert a[-1] == b[0]


def test_range_request(sb):
    url = export_url(sb, {"start": DAY0, "end": DAY0 + 3600})
    full = requests.get(url, timeout=10).content
    part = requests.get(url, headers={"Range": "bytes=10-"}, timeout=10)
    assert part.status_code == 206 and part.content == full[10:]
    assert part.headers["Content-Range"] == f"bytes 10-{len(full) - 1}/{len(full)}"


@pytest.mark.parametrize(
    ("body_filters", "kw", "check"),
    [
        ({"teamIds": ["team_sales"]}, {"team_ids": ["team_sales"]},
         lambda r: r["teamId"] == "team_sales"),
        ({"tagIds": ["tag_vip", "tag_bug"]}, {"tag_ids": ["tag_vip", "tag_bug"]},
         lambda r: {t["id"] for t in r["tags"]} & {"tag_vip", "tag_bug"}),
        ({"teammateIds": ["ana.novak@loop-demo.example"]},
         {"teammate_ids": ["ana.novak@loop-demo.example"]},
         lambda r: r["assignee"] and r["assignee"]["email"] == "ana.novak@loop-demo.example"),
        ({"customerIds": ["jana@stranka.si", "zoe@startup.io"]},
         {"customer_ids": ["jana@stranka.si", "zoe@startup.io"]},
         lambda r: r["customer"]["email"] in ("jana@stranka.si", "zoe@startup.io")),
    ],
)  # fmt: skip
def test_filters(sb, body_filters, kw, check):
    window = {"start": DAY0, "end": DAY0 + 7 * 86400}
    rows = fetch_rows(sb, {**window, **body_filters})
    everything = sb.expected_rows(DAY0, DAY0 + 7 * 86400)
    assert rows == sb.expected_rows(DAY0, DAY0 + 7 * 86400, **kw)
    assert rows and all(check(r) for r in rows)
    assert rows == [r for r in everything if check(r)]


def test_empty_filters_mean_no_filter(sb):
    body = {"start": DAY0, "end": DAY0 + 86400, "tagIds": [], "teamIds": None}
    assert fetch_rows(sb, body) == sb.expected_rows(DAY0, DAY0 + 86400)


def test_timezone_changes_local_date(sb):
    utc = fetch_rows(sb, {"start": DAY0, "end": DAY0 + 86400})
    nz = fetch_rows(sb, {"start": DAY0, "end": DAY0 + 86400, "timezone": "Pacific/Auckland"})
    assert [r["id"] for r in utc] == [r["id"] for r in nz]
    assert nz[-1]["localDate"] == "2023-09-02" and nz[-1]["localHour"] == 12
    assert utc[-1]["localHour"] == 0
    assert nz == sb.expected_rows(DAY0, DAY0 + 86400, timezone="Pacific/Auckland")


# --- errors -----------------------------------------------------------------------------


def test_auth(sb):
    url = sb.api_url + CREATE
    body = {"start": DAY0, "end": DAY0}
    missing = requests.post(url, json=body, timeout=5)
    wrong = requests.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=5)
    for resp in (missing, wrong):
        assert resp.status_code == 401
        assert set(resp.json()) == {"message", "code"}
    export_id = create(sb, body).json()["id"]
    new = sb.revoke_token()
    assert new != TOKEN
    assert poll(sb, export_id).status_code == 401
    assert create(sb, body).status_code == 401


def test_impersonation(sb):
    body = {"start": DAY0, "end": DAY0}
    assert create(sb, body, {"X-Impersonate-User": "boss@example.com"}).status_code == 200
    resp = create(sb, body, {"X-Impersonate-User": "intruder@example.com"})
    assert resp.status_code == 403 and resp.json()["code"] == "ImpersonationNotAllowed"
    assert [e["impersonate"] for e in sb.exports.values()] == ["boss@example.com"]


def test_account_modes(sb):
    body = {"start": DAY0, "end": DAY0}
    sb.configure(account_verified=False)
    assert create(sb, body).status_code == 451
    sb.configure(account_verified=True, forbidden=True)
    assert create(sb, body).status_code == 403
    sb.configure(forbidden=False)
    assert create(sb, body).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"start": DAY0 + 10, "end": DAY0}, "InvalidTimeRange"),
        ({"end": DAY0}, "MissingField"),
        ({"start": "1693526400", "end": DAY0}, "InvalidField"),
        ({"start": 1.5, "end": DAY0}, "InvalidField"),
        ({"start": DAY0, "end": DAY0, "timezone": "Mars/Olympus"}, "InvalidTimezone"),
        ({"start": DAY0, "end": DAY0, "resultFormat": "Csv"}, "InvalidResultFormat"),
        ({"start": DAY0, "end": DAY0, "tagIds": "tag_vip"}, "InvalidField"),
        ([DAY0, DAY0], "InvalidBody"),
    ],
)
def test_bad_bodies(sb, body, code):
    resp = create(sb, body)
    assert resp.status_code == 400
    assert resp.json()["code"] == code and resp.json()["message"]


def test_bad_json_and_content_type(sb):
    url = sb.api_url + CREATE
    raw = requests.post(url, data=b"{nope", headers={**AUTH, "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["code"] == "InvalidJson"
    form = requests.post(url, data={"start": DAY0}, headers=AUTH, timeout=5)
    assert form.status_code == 415 and form.json()["message"]
    sb.configure(bad_content_type_status=400)
    assert requests.post(url, data={"start": DAY0}, headers=AUTH, timeout=5).status_code == 400


def test_max_range_days(sb):
    sb.configure(max_range_days=1)
    assert create(sb, {"start": DAY0, "end": DAY0 + 86400}).status_code == 200
    resp = create(sb, {"start": DAY0, "end": DAY0 + 86401})
    assert resp.status_code == 400
    assert resp.json() == {"message": "Requested time range is too large", "code": "RangeTooLarge"}


def test_unknown_export(sb):
    assert poll(sb, "does-not-exist").status_code == 404
    sb.configure(unknown_export_status=400)
    assert poll(sb, "does-not-exist").status_code == 400


def test_authorization_on_download_host_is_rejected_and_recorded(sb):
    url = export_url(sb, {"start": DAY0, "end": DAY0 + 3600})
    resp = requests.get(url, headers=AUTH, timeout=5)
    assert resp.status_code == 400 and resp.json()["code"] == "InvalidArgument"
    last = sb.requests[-1]
    assert last["server"] == "download" and last["status"] == 400
    assert last["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert last["note"]


def test_bad_signature(sb):
    url = export_url(sb, {"start": DAY0, "end": DAY0 + 3600})
    assert requests.get(url.replace("Signature=", "Signature=0"), timeout=5).status_code == 403
    assert requests.get(url.split("?")[0], timeout=5).status_code == 403


def test_url_expiry(sb):
    sb.configure(url_ttl_seconds=0)
    export_id = create(sb, {"start": DAY0, "end": DAY0 + 3600}).json()["id"]
    url = wait_done(sb, export_id)["url"]
    wait_until(lambda: requests.get(url, timeout=5).status_code != 200, "the URL to expire", 5)
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 403 and resp.json()["code"] == "Expired"
    assert poll(sb, export_id).json() == {"id": export_id, "status": "Expired", "url": None}


def test_url_expiry_with_reissue(sb):
    sb.configure(url_ttl_seconds=0, reissue_expired_urls=True)
    export_id = create(sb, {"start": DAY0, "end": DAY0 + 3600}).json()["id"]
    url = wait_done(sb, export_id)["url"]
    result = wait_until(
        lambda: (r := poll(sb, export_id).json())["url"] != url and r, "a reissued URL", 5
    )
    assert result["status"] == "Completed" and result["url"] != url
    assert requests.get(url, timeout=5).status_code == 403
    sb.configure(url_ttl_seconds=600)
    fresh = poll(sb, export_id).json()["url"]
    assert requests.get(fresh, timeout=5).status_code == 200


# --- faults -----------------------------------------------------------------------------


def test_fault_http_status_retry_after(sb):
    sb.add_fault({"target": "create", "kind": "http_status", "status": 429, "retry_after": "1"})
    sb.add_fault(
        {"target": "create", "kind": "http_status", "status": 429, "retry_after": "http-date",
         "retry_after_seconds": 30}
    )  # fmt: skip
    body = {"start": DAY0, "end": DAY0}
    first = create(sb, body)
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert set(first.json()) == {"message", "code"}
    second = create(sb, body)
    when = email.utils.parsedate_to_datetime(second.headers["Retry-After"])
    assert 20 < when.timestamp() - time.time() < 40
    assert create(sb, body).status_code == 200
    assert [r["fault"] for r in sb.requests] == ["http_status", "http_status", None]


def test_fault_skip_times_and_targets(sb):
    sb.add_fault({"target": "poll", "kind": "http_status", "status": 503, "skip": 1, "times": 2})
    export_id = create(sb, {"start": DAY0, "end": DAY0}).json()["id"]
    codes = [poll(sb, export_id).status_code for _ in range(5)]
    assert codes == [200, 503, 503, 200, 200]
    sb.add_fault({"target": "any", "kind": "http_status", "status": 500, "times": -1})
    assert create(sb, {"start": DAY0, "end": DAY0}).status_code == 500
    assert poll(sb, export_id).status_code == 500
    sb.clear_faults()
    assert poll(sb, export_id).status_code == 200


def test_fault_reset(sb):
    sb.add_fault({"target": "create", "kind": "reset"})
    with pytest.raises(requests.ConnectionError):
        create(sb, {"start": DAY0, "end": DAY0})
    assert create(sb, {"start": DAY0, "end": DAY0}).status_code == 200


def test_fault_delay_triggers_read_timeout(sb):
    sb.add_fault({"target": "poll", "kind": "delay", "seconds": 0.6})
    export_id = create(sb, {"start": DAY0, "end": DAY0}).json()["id"]
    with pytest.raises(requests.ReadTimeout):
        requests.get(sb.api_url + POLL + export_id, headers=AUTH, timeout=0.2)
    assert poll(sb, export_id).status_code == 200


@pytest.mark.parametrize("headers", [True, False])
def test_fault_trickle_on_an_api_answer(sb, headers):
    export_id = create(sb, {"start": DAY0, "end": DAY0}).json()["id"]
    sb.add_fault({"target": "poll", "kind": "trickle", "bytes_per_second": 200, "headers": headers})
    began = time.monotonic()
    response = requests.get(sb.api_url + POLL + export_id, headers=AUTH, timeout=5, stream=True)
    to_headers = time.monotonic() - began
    assert response.json()["id"] == export_id  # the whole answer, slowly
    took = time.monotonic() - began
    size = len(response.content)
    assert took >= size / 200 * 0.5
    if headers:
        assert to_headers >= 0.3  # about 150 bytes of status line and headers at 200 B/s
    else:
        assert to_headers < 0.2
    with pytest.raises(requests.ReadTimeout):  # one byte a second: a read timeout per byte
        sb.add_fault({"target": "poll", "kind": "trickle", "bytes_per_second": 0.5})
        requests.get(sb.api_url + POLL + export_id, headers=AUTH, timeout=1)


def test_fault_truncate(sb):
    url = export_url(sb, {"start": DAY0, "end": DAY0 + 86400})
    sb.add_fault({"target": "download", "kind": "truncate", "fraction": 0.3})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=5).content  # noqa: B018
    assert requests.get(url, timeout=5).json() == sb.expected_rows(DAY0, DAY0 + 86400)


def test_fault_delay_mid_body(sb):
    url = export_url(sb, {"start": DAY0, "end": DAY0 + 86400})
    sb.add_fault({"target": "download", "kind": "delay", "seconds": 0.6, "after_fraction": 0.5})
    with pytest.raises(requests.ConnectionError):  # read timeout while streaming the body
        requests.get(url, timeout=0.2).content  # noqa: B018
    head = requests.head(url, timeout=5)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) > 0


def test_fault_invalid_json(sb):
    url = export_url(sb, {"start": DAY0, "end": DAY0 + 86400})
    sb.add_fault({"target": "download", "kind": "invalid_json"})
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 200
    assert int(resp.headers["Content-Length"]) == len(resp.content)
    with pytest.raises(ValueError):
        json.loads(resp.content)


def test_fault_html_page(sb):
    url = export_url(sb, {"start": DAY0, "end": DAY0 + 86400})
    sb.add_fault({"target": "download", "kind": "html_page"})
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert resp.content.startswith(b"<!DOCTYPE html>")
    assert requests.get(url, timeout=5).json() == sb.expected_rows(DAY0, DAY0 + 86400)


def test_fault_failed_expired_status_literal(sb):
    sb.add_fault({"target": "poll", "kind": "status_literal", "value": "PendingOrExpired"})
    a = create(sb, {"start": DAY0, "end": DAY0}).json()["id"]
    assert poll(sb, a).json() == {"id": a, "status": "PendingOrExpired", "url": None}
    assert wait_done(sb, a)["status"] == "Completed"
    sb.add_fault({"target": "poll", "kind": "failed"})
    assert poll(sb, a).json()["status"] == "Failed"
    assert poll(sb, a).json() == {"id": a, "status": "Failed", "url": None}
    b = create(sb, {"start": DAY0, "end": DAY0}).json()["id"]
    url = wait_done(sb, b)["url"]
    sb.add_fault({"target": "poll", "kind": "expired"})
    assert poll(sb, b).json() == {"id": b, "status": "Expired", "url": None}
    assert poll(sb, b).json()["status"] == "Expired"
    assert requests.get(url, timeout=5).status_code == 403


def test_fault_slow(sb):
    sb.add_fault({"target": "create", "kind": "slow", "seconds": 0.5})
    started = time.monotonic()
    export_id = create(sb, {"start": DAY0, "end": DAY0}).json()["id"]
    assert poll(sb, export_id).json()["status"] == "Processing"
    assert wait_done(sb, export_id)["status"] == "Completed"
    assert time.monotonic() - started >= 0.5  # 0.05 s of processing plus the 0.5 s fault


def test_fault_expire_url_fresh_then_expired(sb):
    export_id = create(sb, {"start": DAY0, "end": DAY0 + 3600}).json()["id"]
    url = wait_done(sb, export_id)["url"]
    sb.add_fault({"target": "download", "kind": "expire_url"})  # then="fresh" (default)
    assert requests.get(url, timeout=5).status_code == 403
    assert requests.get(url, timeout=5).status_code == 403  # that URL is dead for good
    result = poll(sb, export_id).json()
    assert result["status"] == "Completed" and result["url"] != url
    assert requests.get(result["url"], timeout=5).status_code == 200
    sb.add_fault({"target": "download", "kind": "expire_url", "then": "expired"})
    assert requests.get(result["url"], timeout=5).status_code == 403
    assert poll(sb, export_id).json()["status"] == "Expired"


def test_credential_query_adds_cloud_credentials_and_refusals_quote_them(sb):
    sb.configure(credential_query=True)
    export_id = create(sb, {"start": DAY0, "end": DAY0 + 3600}).json()["id"]
    url = wait_done(sb, export_id)["url"]
    query = urlsplit(url).query
    names = [pair.split("=")[0] for pair in query.split("&")]
    assert names == [
        "Expires",
        "Signature",
        "Key-Pair-Id",
        "sig",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "token",
    ]
    assert "%2F%2B" in query  # values hold "/+", percent-encoded in the URL
    assert requests.get(url, timeout=5).status_code == 200  # extra parameters are ignored
    sb.add_fault({"target": "download", "kind": "expire_url"})
    refused = requests.get(url, timeout=5)
    assert refused.status_code == 403 and query in refused.json()["message"]
    fresh = poll(sb, export_id).json()["url"]
    assert urlsplit(fresh).query.split("&")[3] != query.split("&")[3]


def test_random_faults_are_deterministic():
    def run() -> list[Any]:
        with Sandbox(token=TOKEN, processing_seconds=0) as s:
            s.set_random_faults(
                {"seed": 7, "rate": 0.5, "kinds": [
                    {"kind": "http_status", "status": 503},
                    {"target": "poll", "kind": "status_literal", "value": "Queued"},
                ]}
            )  # fmt: skip
            export_id = None
            out = []
            for _ in range(12):
                if export_id is None:
                    resp = create(s, {"start": DAY0, "end": DAY0})
                    if resp.status_code == 200:
                        export_id = resp.json()["id"]
                    out.append(resp.status_code)
                else:
                    resp = poll(s, export_id)
                    out.append((resp.status_code, resp.json().get("status") == "Queued"))
            return out

    first, second = run(), run()
    assert first == second
    assert 503 in first or (503, False) in first
    assert (200, True) in first and (200, False) in first


def test_bad_fault_rules_are_refused(sb):
    with pytest.raises(ValueError):
        sb.add_fault({"kind": "explode"})
    with pytest.raises(ValueError):
        sb.add_fault({"target": "create", "kind": "truncate"})


# --- formats, control, CLI --------------------------------------------------------------


def test_xlsx(sb):
    openpyxl = pytest.importorskip("openpyxl")
    sb.configure(drift_after=DAY0 + 43200)
    body = {"start": DAY0, "end": DAY0 + 86400, "resultFormat": "Xlsx"}
    resp = requests.get(export_url(sb, body), timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content), read_only=True).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    expected = sb.expected_rows(DAY0, DAY0 + 86400)
    header = list(table[0])
    assert header[:3] == ["id", "messageId", "conversationId"]
    assert header[-1] == "sentimentScore"
    assert len(table) == 1 + len(expected)
    for line, row in zip(table[1:], expected, strict=True):
        cells = dict(zip(header, line, strict=False))  # read-only drops trailing empty cells
        assert cells["id"] == row["id"] and cells["createdAt"] == row["createdAt"]
        assert cells["localHour"] == row["localHour"] and cells["isResolved"] is row["isResolved"]
        assert json.loads(cells["sla"]) == row["sla"]
        assert json.loads(cells["tags"]) == row["tags"]
        assert cells.get("sentimentScore") == row.get("sentimentScore")
        if row["assignee"] is None:
            assert cells["assignee"] is None
    assert sum("sentimentScore" in r for r in expected) == 49


def test_http_control_endpoints(sb):
    base = sb.api_url + "/_sandbox/"
    rule = {"target": "create", "kind": "http_status", "status": 502}
    assert requests.post(base + "faults", json=rule, timeout=5).status_code == 200
    assert requests.get(base + "faults", timeout=5).json()["rules"][0]["status"] == 502
    assert create(sb, {"start": DAY0, "end": DAY0}).status_code == 502
    bad = requests.post(base + "faults", json={"kind": "nope"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["message"]
    requests.post(base + "faults", json=rule, timeout=5)
    assert requests.delete(base + "faults", timeout=5).json()["rules"] == []
    assert create(sb, {"start": DAY0, "end": DAY0}).status_code == 200
    cfg = requests.post(base + "config", json={"token": "other", "seed": 3}, timeout=5).json()
    assert cfg["token"] == "other" and sb.config.seed == 3
    assert create(sb, {"start": DAY0, "end": DAY0}).status_code == 401
    assert requests.post(base + "config", json={"bogus": 1}, timeout=5).status_code == 400
    logged = requests.get(base + "requests", timeout=5).json()
    assert [r["status"] for r in logged] == [502, 200, 401]
    assert requests.get(base + "requests?server=download", timeout=5).json() == []
    exports = requests.get(base + "exports", timeout=5).json()
    assert len(exports) == 1 and next(iter(exports.values()))["start"] == DAY0
    window = {"start": DAY0, "end": DAY0 + 3600}
    rows = requests.post(base + "expected-rows", json=window, timeout=5).json()
    assert rows == sb.expected_rows(DAY0, DAY0 + 3600)
    token = requests.post(base + "revoke-token", json={"token": "t2"}, timeout=5).json()["token"]
    assert token == "t2" == sb.config.token
    requests.delete(base + "requests", timeout=5)
    assert sb.requests == []


def test_cli_prints_json_line_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "loop_sandbox", "--port", "0", "--download-port", "0",
         "--token", "demo-token", "--processing-seconds", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        info = json.loads(proc.stdout.readline())
        assert info["api_url"].startswith("http://127.0.0.1:")
        assert info["download_url_base"].startswith("http://127.0.0.1:")
        resp = requests.post(
            info["api_url"] + CREATE, json={"start": DAY0, "end": DAY0},
            headers={"Authorization": "Bearer demo-token"}, timeout=5,
        )  # fmt: skip
        assert resp.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "POST" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_every_cli_option_has_a_help_text(monkeypatch):
    """`python -m loop_sandbox --help` explains every option (new ones included)."""
    import argparse

    from loop_sandbox import cli

    parsers = []

    def capture(self, args=None, namespace=None):
        parsers.append(self)
        return argparse.Namespace()

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    cli.parse_args([])
    (parser,) = parsers
    options = [a for a in parser._actions if a.option_strings]
    assert len(options) > 10
    assert [a.option_strings for a in options if not (a.help or "").strip()] == []


def test_faults_for_untrusted_ids_statuses_urls_and_redirects(sb):
    from urllib.parse import quote

    sb.add_fault({"target": "create", "kind": "id_literal", "value": "a/b?c#d"})
    given = create(sb, {"start": DAY0, "end": DAY0}).json()["id"]
    assert given == "a/b?c#d"
    done = wait_done(sb, quote(given, safe=""))
    assert done["id"] == given and done["status"] == "Completed"
    sb.add_fault({"target": "poll", "kind": "status_literal", "value": {"state": "Done"}})
    assert poll(sb, quote(given, safe="")).json()["status"] == {"state": "Done"}
    sb.add_fault({"target": "poll", "kind": "url_literal", "value": 5})
    assert poll(sb, quote(given, safe="")).json()["url"] == 5
    url = poll(sb, quote(given, safe="")).json()["url"]
    sb.add_fault({"target": "download", "kind": "redirect"})
    hop = requests.get(url, timeout=5, allow_redirects=False)
    assert hop.status_code == 302 and sb.download_url_base + hop.headers["Location"] == url
    sb.add_fault({"target": "download", "kind": "redirect", "location": "file:///etc/passwd"})
    assert requests.get(url, timeout=5, allow_redirects=False).headers["Location"] == (
        "file:///etc/passwd"
    )
    sb.add_fault({"target": "create", "kind": "empty_created", "location": True})
    made = create(sb, {"start": DAY0, "end": DAY0})
    assert made.status_code == 201 and made.content == b""
    assert poll(sb, made.headers["Location"].rsplit("/", 1)[1]).status_code == 200
    with pytest.raises(ValueError, match="value is required"):
        sb.add_fault({"target": "poll", "kind": "url_literal"})
