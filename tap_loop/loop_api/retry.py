"""Retries of HTTP calls: one classifier of answers, one transient error, one retry loop.

:func:`classify` decides for every answer, a response or a requests/urllib3 exception,
whether it is a success, a failure to retry (with the server's ``Retry-After`` on a
429/503, seconds or an HTTP date) or a failure to report. A failure to retry is raised as
:class:`Transient`. :func:`call_with_retries` retries :class:`Transient` failures at most
``max_retries`` times; :func:`waits` plans each wait with python-backoff's generators
(``backoff.expo`` and :func:`half_jitter`), the ``Retry-After`` honoured instead when
given, every wait capped by ``max_wait_seconds``.

Why a retry loop of our own rather than ``backoff.on_exception``: python-backoff (3.0.0,
and every version before) sleeps between tries with ``time.sleep`` and has no hook for
another sleep, so a stopping sync could not interrupt its waits. Our loop waits through
``RetryPolicy.sleep`` (the sync's cancel event, ``threading.Event.wait``) and stops as
soon as the event is set. The wait generator keeps backoff's protocol (primed by one
``send(None)``, then sent each failure), so backoff computes the waits as it would.

Log lines go to the ``tap_loop.client`` logger, as they always have.
"""

from __future__ import annotations

import email.utils
import enum
import logging
import random
import time
import typing as t
from collections.abc import Callable, Generator
from dataclasses import dataclass

import backoff
import requests
import urllib3

from tap_loop.core.errors import Cancelled
from tap_loop.core.redaction import redact

LOGGER = logging.getLogger("tap_loop.client")
SUCCESS_STATUS = frozenset({200, 201, 202})
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
RETRY_AFTER_STATUS = frozenset({429, 503})
TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,  # raised by the raw body reads of a download
)
HTTP_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError)
"""The exceptions :func:`classify` judges; callers catch these around a request."""

T = t.TypeVar("T")


@dataclass
class RetryPolicy:
    """Bounds of the retries of one HTTP call, and how to wait between them.

    ``sleep(seconds)`` waits; when it returns True (as ``threading.Event.wait`` does once
    the event is set) the sync is stopping and the call raises :class:`Cancelled`.
    """

    max_retries: int = 8
    max_wait_seconds: float = 300.0
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    sleep: Callable[[float], object] = time.sleep


class Transient(Exception):
    """A failed attempt worth another try: why (redacted), its HTTP status (0 when there
    was no answer) and the server-given wait in seconds, if any."""

    def __init__(self, reason: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(redact(reason))
        self.status = status
        self.retry_after = retry_after


class Outcome(enum.Enum):
    SUCCESS = "success"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True)
class Verdict:
    """What :func:`classify` decided; ``reason``, ``status`` and ``retry_after`` describe
    a failure to retry."""

    outcome: Outcome
    reason: str = ""
    status: int = 0
    retry_after: float | None = None

    def raise_transient(self) -> None:
        """Raise :class:`Transient` when the answer is worth another try; else return."""
        if self.outcome is Outcome.RETRY:
            raise Transient(self.reason, status=self.status, retry_after=self.retry_after) from None


def classify(
    answer: requests.Response | BaseException, *, quote_retry_after: bool = True
) -> Verdict:
    """Success (200/201/202), retry (408, 429, 500, 502, 503, 504, connection errors,
    timeouts, broken bodies) or fail (any other status or exception).

    A 429/503 with a ``Retry-After`` carries its wait (None if unreadable); with
    ``quote_retry_after`` the reason quotes the header ("HTTP 429 (Retry-After: 7)"),
    as API calls always have; downloads never did.
    """
    if isinstance(answer, BaseException):
        if isinstance(answer, TRANSIENT_ERRORS):
            reason = f"{type(answer).__name__}: {redact(str(answer))[:200]}"
            return Verdict(Outcome.RETRY, reason)
        return Verdict(Outcome.FAIL)
    status = answer.status_code
    if status in SUCCESS_STATUS:
        return Verdict(Outcome.SUCCESS, status=status)
    if status not in RETRYABLE_STATUS:
        return Verdict(Outcome.FAIL, status=status)
    reason, wait = f"HTTP {status}", None
    header = answer.headers.get("Retry-After")
    if status in RETRY_AFTER_STATUS and header:
        wait = parse_retry_after(header)
        if quote_retry_after:
            reason += f" (Retry-After: {header})"
    return Verdict(Outcome.RETRY, reason, status, wait)


def parse_retry_after(value: str) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if unreadable."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - time.time())


def half_jitter(value: float) -> float:
    """Jitter for ``backoff.expo``: uniform in ``[value / 2, value]``, so a wait never
    collapses to nothing against a struggling server."""
    return random.uniform(value / 2, value)


def waits(policy: RetryPolicy) -> Generator[float, Transient | None, None]:
    """The wait before each retry, in python-backoff's wait-generator protocol.

    Primed by ``send(None)`` (yields 0), then sent each failure, it yields that failure's
    wait: its ``retry_after`` if any, else the next ``backoff.expo`` step (from
    ``backoff_base_seconds``, doubling, at most ``backoff_cap_seconds``) with
    :func:`half_jitter`; the steps grow with every retry, hinted or not. Every wait is in
    ``[0, max_wait_seconds]``.
    """
    expo = backoff.expo(factor=policy.backoff_base_seconds, max_value=policy.backoff_cap_seconds)
    next(expo)  # backoff's generators open with a priming yield
    failure = yield 0.0
    while True:
        step = half_jitter(next(expo))
        hinted = failure.retry_after if failure is not None else None
        wait = step if hinted is None else hinted
        failure = yield max(0.0, min(wait, policy.max_wait_seconds))


def call_with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    call: str,
    give_up: Callable[[Transient], Exception],
    on_rate_limited: Callable[[], None] | None = None,
) -> T:
    """``attempt()``'s result, retrying :class:`Transient` failures ``max_retries`` times.

    Each retry logs one INFO line naming ``call``, the wait, the retry number and the
    reason; a 429 calls ``on_rate_limited`` first. The wait goes through
    ``policy.sleep``: when it says the sync is stopping, :class:`Cancelled` is raised
    and no further attempt made. Once the retries are spent, ``give_up(last failure)``
    is raised. Any other exception of ``attempt`` propagates at once.
    """
    planned = waits(policy)
    planned.send(None)
    retry = 0
    while True:
        try:
            return attempt()
        except Transient as exc:
            failure = exc
        if retry >= policy.max_retries:
            raise give_up(failure)
        retry += 1
        wait = planned.send(failure)
        LOGGER.info(
            "Retrying %s in %.1f s (retry %d of %d): %s",
            call,
            wait,
            retry,
            policy.max_retries,
            failure,
        )
        if failure.status == 429 and on_rate_limited is not None:
            on_rate_limited()
        if policy.sleep(wait) is True:
            raise Cancelled("sync stopping")
