"""The retry module offline: the classifier of answers, the planned waits, and a stop
that interrupts a wait."""

from __future__ import annotations

import email.utils
import socket
import threading
import time

import pytest
import requests
import urllib3

from tap_loop.core.errors import Cancelled, RetriesExhausted
from tap_loop.loop_api.retry import (
    Outcome,
    RetryPolicy,
    Transient,
    call_with_retries,
    classify,
    half_jitter,
    shorten,
    waits,
)


def answer(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


@pytest.mark.parametrize("status", [200, 201, 202])
def test_documented_successes(status):
    assert classify(answer(status)).outcome is Outcome.SUCCESS


@pytest.mark.parametrize("status", [204, 301, 302, 400, 401, 403, 404, 409, 410, 451, 501, 505])
def test_other_statuses_fail_without_retry(status):
    verdict = classify(answer(status, **{"Retry-After": "5"}))
    assert verdict.outcome is Outcome.FAIL and verdict.status == status
    verdict.raise_transient()  # returns: nothing to retry


@pytest.mark.parametrize("status", [408, 500, 502, 504])
def test_retryable_statuses_back_off_and_ignore_retry_after(status):
    verdict = classify(answer(status, **{"Retry-After": "5"}))
    assert verdict.outcome is Outcome.RETRY
    assert (verdict.reason, verdict.status, verdict.retry_after) == (f"HTTP {status}", status, None)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(status):
    verdict = classify(answer(status, **{"Retry-After": "7"}))
    assert verdict.outcome is Outcome.RETRY and verdict.retry_after == 7.0
    assert verdict.reason == f"HTTP {status} (Retry-After: 7)"
    with pytest.raises(Transient) as raised:
        verdict.raise_transient()
    failure = raised.value
    assert (str(failure), failure.status, failure.retry_after) == (verdict.reason, status, 7.0)


def test_retry_after_as_an_http_date():
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    verdict = classify(answer(429, **{"Retry-After": when}))
    assert verdict.outcome is Outcome.RETRY and verdict.retry_after is not None
    assert 55 < verdict.retry_after <= 61
    assert verdict.reason == f"HTTP 429 (Retry-After: {when})"


def test_unreadable_retry_after_backs_off_as_usual():
    verdict = classify(answer(429, **{"Retry-After": "garbage"}))
    assert verdict.outcome is Outcome.RETRY and verdict.retry_after is None
    assert verdict.reason == "HTTP 429 (Retry-After: garbage)"


def test_429_without_retry_after_and_unquoted_header_for_downloads():
    assert classify(answer(429)).reason == "HTTP 429"
    verdict = classify(answer(503, **{"Retry-After": "3"}), quote_retry_after=False)
    assert (verdict.reason, verdict.retry_after) == ("HTTP 503", 3.0)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (requests.ConnectionError("reset by peer"), "ConnectionError: reset by peer"),
        (requests.ReadTimeout("read timed out"), "ReadTimeout: read timed out"),
        (requests.exceptions.ChunkedEncodingError("broken"), "ChunkedEncodingError: broken"),
        (urllib3.exceptions.ProtocolError("cut"), "ProtocolError: cut"),
    ],
)
def test_transport_failures_are_retried(error, reason):
    verdict = classify(error)
    assert (verdict.outcome, verdict.reason, verdict.status) == (Outcome.RETRY, reason, 0)


@pytest.mark.parametrize(
    "error",
    [requests.exceptions.InvalidURL("x"), requests.TooManyRedirects("x"), ValueError("x")],
)
def test_other_exceptions_fail(error):
    assert classify(error).outcome is Outcome.FAIL


def test_reasons_are_redacted():
    error = requests.ConnectionError("https://h/x?Signature=SIGSECRET&Expires=1 failed")
    verdict = classify(error)
    assert "SIGSECRET" not in verdict.reason
    with pytest.raises(Transient) as raised:
        verdict.raise_transient()
    assert "SIGSECRET" not in str(raised.value)


def planned(policy: RetryPolicy, failures: list[Transient]) -> list[float]:
    sequence = waits(policy)
    assert sequence.send(None) == 0.0  # python-backoff's priming send
    return [sequence.send(failure) for failure in failures]


def test_waits_grow_exponentially_with_half_jitter_up_to_the_caps():
    policy = RetryPolicy(backoff_base_seconds=1, backoff_cap_seconds=8, max_wait_seconds=6)
    got = planned(policy, [Transient("HTTP 500")] * 6)
    bounds = [(0.5, 1), (1, 2), (2, 4), (4, 6), (4, 6), (4, 6)]  # 8 s steps, capped to 6 s
    for wait, (low, high) in zip(got, bounds, strict=True):
        assert low <= wait <= high


def test_retry_after_is_honoured_capped_and_the_steps_still_grow():
    policy = RetryPolicy(backoff_base_seconds=1, max_wait_seconds=30)
    failures = [
        Transient("HTTP 429", status=429, retry_after=7),
        Transient("HTTP 429", status=429, retry_after=120),
        Transient("HTTP 429", status=429, retry_after=0),
        Transient("HTTP 500"),
    ]
    got = planned(policy, failures)
    assert got[:3] == [7, 30, 0]
    assert 4 <= got[3] <= 8  # the fourth step, although three waits were hinted


def test_half_jitter_stays_in_its_bounds():
    draws = [half_jitter(10) for _ in range(2000)]
    assert all(5 <= d <= 10 for d in draws)
    assert min(draws) < 5.5 and max(draws) > 9.5  # spread over the range


class Attempts:
    def __init__(self, *failures: Transient) -> None:
        self.failures = list(failures)
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_retries_log_rate_limit_and_give_up(caplog):
    sleeps: list[float] = []
    limited: list[int] = []
    attempt = Attempts(Transient("HTTP 429", status=429, retry_after=2), Transient("HTTP 502"))
    policy = RetryPolicy(max_retries=1, sleep=sleeps.append)
    with caplog.at_level("INFO", logger="tap_loop.client"), pytest.raises(RetriesExhausted) as e:
        call_with_retries(
            attempt,
            policy,
            call="GET /x",
            give_up=lambda last: RetriesExhausted(f"gave up (last: {last})"),
            on_rate_limited=lambda: limited.append(1),
        )
    assert str(e.value) == "gave up (last: HTTP 502)"
    assert [r.getMessage() for r in caplog.records] == [
        "Retrying GET /x in 2.0 s (retry 1 of 1): HTTP 429"
    ]
    assert sleeps == [2] and limited == [1] and attempt.count == 2


def test_a_stop_during_a_wait_returns_at_once():
    """The wait goes through the cancel event: setting it ends a long wait within 0.2 s."""
    cancel = threading.Event()
    policy = RetryPolicy(max_retries=1, max_wait_seconds=2, sleep=cancel.wait)
    attempt = Attempts(Transient("HTTP 429", status=429, retry_after=300))
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        call_with_retries(
            attempt, policy, call="GET /x", give_up=lambda last: RetriesExhausted(str(last))
        )
    assert time.monotonic() - started < 0.3  # 0.1 s to the stop, then at once
    assert attempt.count == 1  # no attempt after the stop


# -- failures to connect at all (issue 17) ---------------------------------------------
def connect_failure(cause: OSError) -> requests.ConnectionError:
    """What requests raises when no connection could be made, built as urllib3 does."""
    if isinstance(cause, socket.gaierror):
        inner: Exception = urllib3.exceptions.NameResolutionError("h", None, cause)  # type: ignore[arg-type]
    else:
        inner = urllib3.exceptions.NewConnectionError(None, f"Failed to establish: {cause}")  # type: ignore[arg-type]
    inner.__cause__ = cause
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", inner))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (connect_failure(ConnectionRefusedError(111, "Connection refused")), "connection refused"),
        (connect_failure(socket.gaierror(-2, "Name or service not known")), "unknown host"),
        (connect_failure(OSError(113, "No route to host")), "no route to host"),
        (requests.ConnectTimeout("connect timed out"), "connect timed out"),
    ],
)
def test_failures_to_connect_are_marked_unreachable(error, why):
    verdict = classify(error)
    assert (verdict.outcome, verdict.unreachable) == (Outcome.RETRY, why)
    assert verdict.reason == f"{type(error).__name__}: {why}"
    with pytest.raises(Transient) as raised:
        verdict.raise_transient()
    assert raised.value.unreachable == why


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("('Connection aborted.', ConnectionResetError(104))"),
        requests.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("broken"),
    ],
)
def test_failures_after_connecting_are_not_unreachable(error):
    assert classify(error).unreachable is None


def test_long_reasons_are_cut_at_a_word():
    error = requests.ConnectionError("word " * 100)
    reason = classify(error).reason
    assert len(reason) < 230 and reason.endswith("word …")
    assert shorten("short") == "short"
    assert shorten("Failed to establish a new connection", 25) == "Failed to establish a new …"


def test_give_up_early_stops_before_the_retries_are_spent():
    sleeps: list[float] = []
    attempts: list[int] = []

    def attempt() -> None:
        attempts.append(1)
        raise Transient("down", unreachable="connection refused")

    with pytest.raises(RetriesExhausted, match="early"):
        call_with_retries(
            attempt,
            RetryPolicy(max_retries=8, sleep=sleeps.append),
            call="GET /x",
            give_up=lambda last: RetriesExhausted("early"),
            give_up_early=lambda failure, wait: len(attempts) >= 3,
        )
    assert len(attempts) == 3 and len(sleeps) == 2
