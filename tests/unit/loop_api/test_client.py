"""The HTTP client offline (responses): retries, Retry-After, clear errors, no credentials
to the download host, no redirects carrying the token."""

from __future__ import annotations

import email.utils
import io
import threading
import time

import pytest
import requests
import responses

from tap_loop.core.errors import (
    Cancelled,
    ExportNotFound,
    LoopApiError,
    RangeTooLarge,
    RetriesExhausted,
    UnusableUrl,
    UrlExpired,
)
from tap_loop.loop_api.client import Downloader, LoopApi, RetryPolicy, check_download_url
from tap_loop.loop_api.retry import parse_retry_after

API = "https://api.example.test"
CREATE = f"{API}/api/v1/report/export"
TOKEN = "secret-token-123"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def api(sleeps: Sleeps, **kw) -> LoopApi:
    policy = RetryPolicy(
        max_retries=kw.pop("max_retries", 4),
        max_wait_seconds=kw.pop("cap", 30),
        backoff_base_seconds=1,
        sleep=sleeps,
    )
    return LoopApi(API, TOKEN, retry=policy, **kw)


@responses.activate
def test_create_sends_bearer_impersonation_and_json():
    responses.post(CREATE, json={"id": "e1", "status": "Processing", "url": None})
    answer = api(Sleeps(), impersonate_user="boss@x.com").create_export({"start": 1, "end": 2})
    assert answer["id"] == "e1"
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["X-Impersonate-User"] == "boss@x.com"
    assert sent.headers["Content-Type"] == "application/json"


@responses.activate
def test_429_waits_retry_after_seconds_then_succeeds():
    responses.post(CREATE, status=429, headers={"Retry-After": "7"}, json={"message": "slow"})
    responses.post(CREATE, json={"id": "e1"})
    sleeps = Sleeps()
    limited = []
    client = api(sleeps, on_rate_limited=lambda: limited.append(1))
    assert client.create_export({})["id"] == "e1"
    assert sleeps == [7.0] and limited == [1]


@responses.activate
def test_429_with_http_date_and_cap():
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    responses.post(CREATE, status=429, headers={"Retry-After": when})
    responses.post(CREATE, json={"id": "e1"})
    sleeps = Sleeps()
    api(sleeps, cap=30).create_export({})
    assert sleeps == [30]  # capped by max_wait_seconds


def test_parse_retry_after_forms():
    assert parse_retry_after("3") == 3
    assert parse_retry_after("garbage") is None
    future = email.utils.formatdate(time.time() + 60, usegmt=True)
    wait = parse_retry_after(future)
    assert wait is not None and 55 < wait <= 61


@responses.activate
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_backs_off_with_jitter_and_is_bounded(status):
    for _ in range(5):
        responses.get(f"{API}/api/v1/report/exports/x", status=status)
    sleeps = Sleeps()
    with pytest.raises(RetriesExhausted, match="after 4 retries"):
        api(sleeps).get_export("x")
    assert len(sleeps) == 4
    for retry, wait in enumerate(sleeps, start=1):
        ceiling = 2 ** (retry - 1)
        assert ceiling / 2 <= wait <= ceiling


@responses.activate
def test_connection_errors_are_retried():
    responses.get(f"{API}/api/v1/report/exports/x", body=requests.ConnectionError("reset"))
    responses.get(f"{API}/api/v1/report/exports/x", json={"id": "x", "status": "Completed"})
    sleeps = Sleeps()
    assert api(sleeps).get_export("x")["status"] == "Completed"
    assert len(sleeps) == 1


@responses.activate
@pytest.mark.parametrize(
    ("status", "needle"),
    [
        (400, "check the request settings"),
        (401, "check 'api_token'"),
        (403, "check 'impersonate_user'"),
        (451, "must be verified"),
    ],
)
def test_fatal_statuses_name_status_call_message_and_advice(status, needle):
    responses.post(CREATE, status=status, json={"message": "Nope from Loop", "code": "E42"})
    with pytest.raises(LoopApiError) as caught:
        api(Sleeps()).create_export({})
    text = str(caught.value)
    assert f"HTTP {status}" in text and "POST /api/v1/report/export" in text
    assert "Nope from Loop" in text and needle in text and "E42" in text
    assert TOKEN not in text
    assert len(responses.calls) == 1  # not retried


@responses.activate
def test_range_too_large_and_not_found_are_typed():
    responses.post(CREATE, status=400, json={"message": "Requested time range is too large"})
    with pytest.raises(RangeTooLarge):
        api(Sleeps()).create_export({})
    responses.get(f"{API}/api/v1/report/exports/zz", status=404, json={"message": "no"})
    with pytest.raises(ExportNotFound):
        api(Sleeps()).get_export("zz")


@responses.activate
def test_redirects_are_not_followed():
    responses.post(CREATE, status=302, headers={"Location": "https://evil.example/steal"})
    with pytest.raises(LoopApiError, match=r"redirect to evil\.example"):
        api(Sleeps()).create_export({})
    assert len(responses.calls) == 1


@responses.activate
def test_201_without_body_is_success():
    responses.post(CREATE, status=201, body=b"")
    assert api(Sleeps()).create_export({}) == {}


URL = "https://files.example.test/RF_1?Expires=9999999999&Signature=SIGSECRET&Key-Pair-Id=K"


@responses.activate
def test_download_sends_no_credentials(tmp_path, monkeypatch):
    (tmp_path / ".netrc").write_text("machine files.example.test login u password p\n")
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    responses.get(URL, body=b"[]")
    sink = io.BytesIO()
    assert Downloader(retry=RetryPolicy(sleep=Sleeps())).download(URL, sink) == 2
    headers = responses.calls[0].request.headers
    assert "Authorization" not in headers and "X-Impersonate-User" not in headers


@responses.activate
def test_download_refused_is_url_expired_and_redacted():
    responses.get(URL, status=403, json={"message": "Request has expired"})
    with pytest.raises(UrlExpired) as caught:
        Downloader(retry=RetryPolicy(sleep=Sleeps())).download(URL, io.BytesIO())
    assert "SIGSECRET" not in str(caught.value) and "Signature=***" in str(caught.value)


@responses.activate
def test_download_5xx_is_retried_then_succeeds():
    responses.get(URL, status=503)
    responses.get(URL, body=b"[1]")
    sleeps = Sleeps()
    sink = io.BytesIO()
    Downloader(retry=RetryPolicy(sleep=sleeps)).download(URL, sink)
    assert sink.getvalue() == b"[1]" and len(sleeps) == 1


@responses.activate
def test_201_without_body_takes_the_id_from_location():
    responses.post(
        CREATE, status=201, body=b"", headers={"Location": "/api/v1/report/exports/exp-7"}
    )
    assert api(Sleeps()).create_export({}) == {"id": "exp-7"}


@responses.activate
def test_a_stopping_sync_interrupts_a_retry_wait():
    """Waits go through the cancel event: a long Retry-After ends as soon as it is set."""
    responses.post(CREATE, status=429, headers={"Retry-After": "300"})
    responses.post(CREATE, json={"id": "e1"})
    cancel = threading.Event()
    cancel.set()
    client = LoopApi(API, TOKEN, retry=RetryPolicy(max_wait_seconds=300, sleep=cancel.wait))
    started = time.monotonic()
    with pytest.raises(Cancelled):
        client.create_export({})
    assert time.monotonic() - started < 5
    assert len(responses.calls) == 1  # no request after the sync began to stop


@responses.activate
def test_backoff_logs_each_retry_and_gives_up_with_advice(caplog):
    """The backoff handlers: one INFO line per retry, then RetriesExhausted naming the bound."""
    for _ in range(3):
        responses.get(f"{API}/api/v1/report/exports/x", status=502)
    sleeps = Sleeps()
    with caplog.at_level("INFO", logger="tap_loop.client"), pytest.raises(RetriesExhausted) as err:
        api(sleeps, max_retries=2).get_export("x")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(lines) == 2 and len(responses.calls) == 3
    assert "retry 1 of 2): HTTP 502" in lines[0] and "retry 2 of 2)" in lines[1]
    assert "GET /api/v1/report/exports/x" in str(err.value)
    assert "max_request_retries" in str(err.value)


@responses.activate
def test_zero_retries_means_one_attempt():
    responses.get(f"{API}/api/v1/report/exports/x", status=500)
    sleeps = Sleeps()
    with pytest.raises(RetriesExhausted, match="after 0 retries"):
        api(sleeps, max_retries=0).get_export("x")
    assert sleeps == [] and len(responses.calls) == 1


@responses.activate
def test_backoff_waits_are_capped_by_max_wait():
    for _ in range(6):
        responses.get(f"{API}/api/v1/report/exports/x", status=504)
    sleeps = Sleeps()
    with pytest.raises(RetriesExhausted):
        api(sleeps, max_retries=5, cap=3).get_export("x")
    assert len(sleeps) == 5 and max(sleeps) <= 3 and sleeps[-1] >= 1.5  # 16 s capped to 3


@responses.activate
def test_download_gives_up_with_redacted_url():
    for _ in range(3):
        responses.get(URL, status=500)
    sleeps = Sleeps()
    with pytest.raises(RetriesExhausted) as err:
        Downloader(retry=RetryPolicy(max_retries=2, sleep=sleeps)).download(URL, io.BytesIO())
    assert "SIGSECRET" not in str(err.value) and "after 2 retries" in str(err.value)
    assert len(sleeps) == 2


# -- ids, statuses and URLs are data (issue 17) ---------------------------------------------
@responses.activate
@pytest.mark.parametrize(
    ("export_id", "path"),
    [
        ("a/b", "a%2Fb"),
        ("../../../x", "..%2F..%2F..%2Fx"),
        ("x?y=1#z", "x%3Fy%3D1%23z"),
        ("ü %", "%C3%BC%20%25"),
    ],
)
def test_an_export_id_is_one_percent_encoded_path_segment(export_id, path):
    responses.get(f"{API}/api/v1/report/exports/{path}", json={"status": "Processing"})
    api(Sleeps()).get_export(export_id)
    assert responses.calls[0].request.path_url == f"/api/v1/report/exports/{path}"


@responses.activate
def test_the_answer_carries_its_http_status():
    responses.post(CREATE, status=201, body=b"")
    answer = api(Sleeps()).create_export({})
    assert answer == {} and answer.http_status == 201


@responses.activate
def test_an_id_from_location_is_percent_decoded():
    responses.post(
        CREATE, status=201, body=b"", headers={"Location": "/api/v1/report/exports/a%2Fb?x=1"}
    )
    assert api(Sleeps()).create_export({}) == {"id": "a/b"}


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/RF_1?Signature=SIGSECRET", "(no host) is one the tap will not fetch: it is relative"),
        ("file:///etc/passwd", "(no host) is one the tap will not fetch: scheme 'file'"),
        ("ftp://files.example.test/RF_1?Signature=SIGSECRET", "(host 'files.example.test')"),
        ("https://bad host/RF_1", "that is not a valid host name"),
        ("https://[::1/RF_1", "(host unknown) is one the tap will not fetch: it is not a valid"),
        ("https://files.example.test:99999/RF_1", "it is not a valid URL"),
        ("https:///RF_1", "it has no host"),
        (5, "it is not a string (int)"),
    ],
)
def test_a_download_url_that_is_not_http_with_a_valid_host_is_refused_unfetched(url, words):
    with responses.RequestsMock() as mock:  # any request at all would fail the test
        with pytest.raises(UnusableUrl) as caught:
            Downloader(retry=RetryPolicy(sleep=Sleeps())).download(url, io.BytesIO())
        assert len(mock.calls) == 0
    message = str(caught.value)
    assert words in message and "http(s)" in message and "What to do" in message
    assert "SIGSECRET" not in message and "Signature" not in message


@pytest.mark.parametrize(
    "url",
    [
        URL,
        "http://127.0.0.1:8080/RF_1",
        "https://[::1]:8443/RF_1",
        "https://bücher.example/RF_1",
        "https://user:pw@files.example.test/RF_1",
    ],
)
def test_ordinary_download_urls_pass_the_check(url):
    check_download_url(url)


@responses.activate
def test_a_redirect_off_http_is_refused_and_no_hop_gets_credentials():
    responses.get(URL, status=302, headers={"Location": "https://other.example.test/RF_2"})
    responses.get("https://other.example.test/RF_2", status=302, headers={"Location": "file:///x"})
    with pytest.raises(UnusableUrl, match=r"'other\.example\.test' redirected to a URL"):
        Downloader(retry=RetryPolicy(sleep=Sleeps())).download(URL, io.BytesIO())
    assert len(responses.calls) == 2
    assert all("Authorization" not in c.request.headers for c in responses.calls)


@responses.activate
def test_a_redirect_loop_is_one_clear_error():
    responses.get(URL, status=302, headers={"Location": URL})
    with pytest.raises(UnusableUrl) as caught:
        Downloader(retry=RetryPolicy(sleep=Sleeps())).download(URL, io.BytesIO())
    assert "redirect loop" in str(caught.value) and "'files.example.test'" in str(caught.value)
    assert "SIGSECRET" not in str(caught.value)


# -- an api_url nobody answers at (issue 17) -------------------------------------------
def refused() -> requests.ConnectionError:
    import urllib3

    inner = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new co")  # type: ignore[arg-type]
    inner.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", inner))  # type: ignore[arg-type]


class Clock:
    """A clock the sleeps move forward."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@responses.activate
def test_a_host_refusing_the_first_calls_fails_after_about_20_s_naming_api_url():
    for _ in range(9):
        responses.post("https://loop.example.test:8443/api/v1/report/export", body=refused())
    clock = Clock()
    policy = RetryPolicy(max_retries=8, backoff_base_seconds=1, sleep=clock.sleep)
    client = LoopApi("https://loop.example.test:8443/", TOKEN, retry=policy, clock=clock)
    with pytest.raises(RetriesExhausted) as raised:
        client.create_export({"start": 1, "end": 2})
    message = str(raised.value)
    assert clock.now <= 20 and len(responses.calls) < 9  # gave up before the 8 retries
    assert "'api_url'" in message and "loop.example.test:8443" in message
    assert "connection refused" in message
    assert message.endswith("nothing is lost.")


@responses.activate
def test_a_refused_connection_after_the_api_answered_is_retried_as_usual():
    responses.post(CREATE, json={"id": "e1"})
    for _ in range(9):
        responses.get(f"{API}/api/v1/report/exports/e1", body=refused())
    clock = Clock()
    policy = RetryPolicy(max_retries=8, backoff_base_seconds=1, sleep=clock.sleep)
    client = LoopApi(API, TOKEN, retry=policy, clock=clock)
    client.create_export({"start": 1, "end": 2})
    with pytest.raises(RetriesExhausted, match="still failing after 8 retries") as raised:
        client.get_export("e1")
    assert "connection refused" in str(raised.value)
    assert len(responses.calls) == 1 + 9
