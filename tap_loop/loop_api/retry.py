"""Retries of HTTP calls: one classifier of answers, one transient error, one retry loop.

:func:`classify` decides for every answer, a response or a requests/urllib3 exception,
whether it is a success, a failure to retry (with the server's ``Retry-After`` on a
429/503, seconds or an HTTP date) or a failure to report. A failure to retry is raised as
:class:`Transient`. :func:`call_with_retries` retries :class:`Transient` failures at most
``max_retries`` times (or fewer, when the caller's ``give_up_early`` says so);
:func:`waits` plans each wait with python-backoff's generators
(``backoff.expo`` and :func:`half_jitter`), the ``Retry-After`` honoured instead when
given, every wait capped by ``max_wait_seconds``.

Why a retry loop of our own rather than ``backoff.on_exception``: python-backoff (3.0.0,
and every version before) sleeps between tries with ``time.sleep`` and has no hook for
another sleep, so a stopping sync could not interrupt its waits. Our loop waits through
``RetryPolicy.sleep`` (the sync's cancel event, ``threading.Event.wait``) and stops as
soon as the event is set. The wait generator keeps backoff's protocol (primed by one
``send(None)``, then sent each failure), so backoff computes the waits as it would.

A failure to connect at all (connection refused, unknown host, connect timeout) carries
its short reason as ``unreachable`` (:func:`unreachable_reason`): the API client gives
up on it early when the server never answered. Reasons are cut at a word, never mid-word.

Log lines go to the ``tap_loop.client`` logger, as they always have.
"""

from __future__ import annotations

import email.utils
import enum
import logging
import random
import socket
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
    was no answer), the server-given wait in seconds, if any, and, when no connection
    could be made at all, why (``unreachable``: "connection refused", ...)."""

    def __init__(
        self,
        reason: str,
        *,
        status: int = 0,
        retry_after: float | None = None,
        unreachable: str | None = None,
    ) -> None:
        super().__init__(redact(reason))
        self.status = status
        self.retry_after = retry_after
        self.unreachable = unreachable


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
    unreachable: str | None = None

    def raise_transient(self) -> None:
        """Raise :class:`Transient` when the answer is worth another try; else return."""
        if self.outcome is Outcome.RETRY:
            raise Transient(
                self.reason,
                status=self.status,
                retry_after=self.retry_after,
                unreachable=self.unreachable,
            ) from None


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
            why = unreachable_reason(answer)
            text = why if why is not None else shorten(redact(str(answer)))
            reason = f"{type(answer).__name__}: {text}"
            return Verdict(Outcome.RETRY, reason, unreachable=why)
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


def shorten(text: str, limit: int = 200) -> str:
    """``text`` at most about ``limit`` characters, cut after a whole word (marked "…")."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]  # a space just past the limit ends a whole word
    cut = cut.rsplit(" ", 1)[0] if " " in cut else text[:limit]
    return cut.rstrip(" ,;:([{") + " …"


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what it wraps: urllib3's ``reason``, a first argument that is an
    exception, ``__cause__`` / ``__context__``."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and not any(current is known for known in seen):
        seen.append(current)
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            args = current.args
            inner = args[0] if args and isinstance(args[0], BaseException) else None
        current = inner or current.__cause__ or current.__context__
    return seen


def unreachable_reason(error: BaseException) -> str | None:
    """Why no connection to the server could be made ("unknown host", "connection
    refused", "connect timed out", or the socket error's words); None when the failure
    came after a connection was made (a reset, a read timeout, a broken body)."""
    causes = _causes(error)
    if any(
        isinstance(c, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for c in causes
    ):
        return "unknown host"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    for cause in causes:
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            words = next(
                (c.strerror for c in reversed(causes) if isinstance(c, OSError) and c.strerror),
                None,
            )
            return words.lower() if words else "no connection"
    if any(
        isinstance(c, (urllib3.exceptions.ConnectTimeoutError, requests.ConnectTimeout))
        for c in causes
    ):
        return "connect timed out"
    return None


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
    give_up_early: Callable[[Transient, float], bool] | None = None,
) -> T:
    """``attempt()``'s result, retrying :class:`Transient` failures ``max_retries`` times.

    ``give_up_early(failure, planned wait)``, when given and True, gives up before
    the retries are spent (same ``give_up``, no retry line).

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
        wait = planned.send(failure)
        if give_up_early is not None and give_up_early(failure, wait):
            raise give_up(failure)
        retry += 1
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
