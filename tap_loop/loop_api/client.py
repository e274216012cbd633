"""HTTP concerns: the authenticated Loop API client and the unauthenticated downloader.

Everything about retries lives here, driven by ``backoff`` (python-backoff, which
singer-sdk already depends on): 429 waits as ``Retry-After`` says (seconds or an HTTP
date, through ``backoff.runtime``, capped by ``max_retry_wait_seconds``); 5xx, connection
errors and timeouts back off exponentially (``backoff.expo``) with jitter; both are
bounded by ``max_request_retries``. The waits themselves happen on the sync's cancel
event (see :func:`_waits`), so a stopping sync interrupts them.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import typing as t
from collections.abc import Callable, Generator
from dataclasses import dataclass
from urllib.parse import urlsplit

import backoff
import requests
import urllib3
from typing_extensions import override

from tap_loop import __version__
from tap_loop.core.errors import (
    Cancelled,
    DownloadTooSlow,
    ExportNotFound,
    LoopApiError,
    RangeTooLarge,
    RetriesExhausted,
    UrlExpired,
)
from tap_loop.core.redaction import redact, safe_url
from tap_loop.loop_api.metrics import request_done

LOGGER = logging.getLogger("tap_loop.client")
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,  # raised by the raw body reads of a download
)
_TOO_LARGE_WORDS = ("too large", "too long", "too big", "too wide", "too many", "exceed")


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

    def retry_after(self, response: requests.Response, retry: int = 1) -> float | None:
        """The response's ``Retry-After`` in seconds, capped; None if absent or unreadable."""
        header = response.headers.get("Retry-After")
        wait = parse_retry_after(header) if header else None
        return None if wait is None else min(wait, self.max_wait_seconds)


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


def _error_fields(response: requests.Response) -> tuple[str | None, str | None]:
    """Loop's ``message`` and error code from a JSON error body, if any."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return (text[:300] or None), None
    if not isinstance(body, dict):
        return str(body)[:300], None
    message = body.get("message") or body.get("error") or body.get("title")
    code = body.get("code") or body.get("errorCode") or body.get("error_code")
    return (str(message) if message else None), (str(code) if code else None)


class _Transient(Exception):
    """A failed attempt worth another try: its reason, and a server-given wait if any."""

    def __init__(self, reason: str, retry_after: float | None = None, status: int = 0) -> None:
        super().__init__(redact(reason))
        self.retry_after = retry_after
        self.status = status
        self.wait = 0.0  # set by _waits before the on_backoff handler runs


def _half_jitter(value: float) -> float:
    """Jitter for ``backoff.expo``: uniform in ``[value / 2, value]``."""
    return random.uniform(value / 2, value)


def _waits(policy: RetryPolicy) -> Generator[float, t.Any, None]:
    """backoff wait generator: plans each wait, and leaves the waiting to ``on_backoff``.

    Exponential backoff (``backoff.expo`` with :func:`_half_jitter`) unless the failed
    attempt carried a ``Retry-After``, read through ``backoff.runtime``; every wait capped
    by ``max_wait_seconds``. python-backoff sleeps with ``time.sleep``, which another
    thread cannot interrupt, so the planned wait is stored on the exception and backoff
    is handed 0 s: the handler waits on the sync's cancel event instead.
    """
    expo = backoff.expo(factor=policy.backoff_base_seconds, max_value=policy.backoff_cap_seconds)
    hinted = backoff.runtime(value=lambda exc: exc.retry_after)
    next(expo), next(hinted)  # prime both, as backoff does
    exc: _Transient = yield 0.0
    while True:
        step = _half_jitter(next(expo))  # grows with every retry, hinted or not
        wait = hinted.send(exc) if exc.retry_after is not None else step
        exc.wait = max(0.0, min(wait, policy.max_wait_seconds))
        exc = yield 0.0


_F = t.TypeVar("_F", bound=Callable[..., t.Any])


def _retrying(
    policy: RetryPolicy,
    describe: Callable[[tuple[t.Any, ...]], str],
    give_up: Callable[[tuple[t.Any, ...], _Transient], Exception],
    on_rate_limited: Callable[[], None] | None = None,
) -> Callable[[_F], _F]:
    """``backoff.on_exception`` for one client: retries :class:`_Transient` failures.

    ``describe(args)`` names the call in log lines; ``give_up(args, last)`` builds the
    error raised once ``max_retries`` retries have failed.
    """

    def on_backoff(details: t.Any) -> None:
        exc: _Transient = details["exception"]
        LOGGER.info(
            "Retrying %s in %.1f s (retry %d of %d): %s",
            describe(details["args"]),
            exc.wait,
            details["tries"],
            policy.max_retries,
            exc,
        )
        if exc.status == 429 and on_rate_limited is not None:
            on_rate_limited()
        if policy.sleep(exc.wait) is True:
            raise Cancelled("sync stopping")

    def on_giveup(details: t.Any) -> None:
        raise give_up(details["args"], details["exception"])

    return backoff.on_exception(
        _waits,
        _Transient,
        max_tries=policy.max_retries + 1,
        jitter=None,  # _waits jitters; backoff's own sleep is always 0 s
        on_backoff=on_backoff,
        on_giveup=on_giveup,
        logger=None,
        policy=policy,
    )


class _Sessions(threading.local):
    session: requests.Session | None = None


class LoopApi:
    """The two documented Loop calls, with auth, retries and clear errors."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        impersonate_user: str | None = None,
        timeout_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        on_rate_limited: t.Callable[[], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": f"tap-loop/{__version__}",
        }
        if impersonate_user:
            self._headers["X-Impersonate-User"] = impersonate_user
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.retry = retry or RetryPolicy()
        self.on_rate_limited = on_rate_limited
        self._local = _Sessions()
        self._attempt_with_retries = _retrying(
            self.retry,
            lambda args: f"{args[0]} {args[1]}",
            self._retries_exhausted,
            lambda: self.on_rate_limited() if self.on_rate_limited else None,
        )(self._attempt)

    @property
    def session(self) -> requests.Session:
        """One session per thread (exports are polled from several threads)."""
        if self._local.session is None:
            session = requests.Session()
            session.headers.update(self._headers)
            self._local.session = session
        return self._local.session

    def create_export(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """``POST /api/v1/report/export``: returns the ReportingExportResult."""
        return self._call("POST", "/api/v1/report/export", body)

    def get_export(self, export_id: str) -> dict[str, t.Any]:
        """``GET /api/v1/report/exports/{id}``: returns the ReportingExportResult."""
        return self._call("GET", f"/api/v1/report/exports/{export_id}", None)

    def _call(self, method: str, path: str, body: dict[str, t.Any] | None) -> dict[str, t.Any]:
        return self._attempt_with_retries(method, path, body)

    def _attempt(self, method: str, path: str, body: dict[str, t.Any] | None) -> dict[str, t.Any]:
        """One request: the answer, a clear error, or :class:`_Transient` to retry."""
        call = f"{method} {path}"
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=body,
                timeout=self.timeout,
                allow_redirects=False,  # never let a redirect carry the token elsewhere
            )
            request_done(path, response)
        except TRANSIENT_ERRORS as exc:
            raise _Transient(f"{type(exc).__name__}: {redact(str(exc))[:200]}") from None
        status = response.status_code
        if status in (200, 201, 202):
            answer = self._json(response, call)
            location = response.headers.get("Location")
            if not answer and location:  # a 201 without a body: the id is in Location
                answer = {"id": location.rstrip("/").rsplit("/", 1)[-1]}
            return answer
        if status not in RETRYABLE_STATUS:
            raise self._error(call, response)
        reason, wait = f"HTTP {status}", None
        if status in (429, 503) and response.headers.get("Retry-After"):
            wait = self.retry.retry_after(response, 1)
            reason += f" (Retry-After: {response.headers['Retry-After']})"
        raise _Transient(reason, wait, status)

    def _retries_exhausted(self, args: tuple[t.Any, ...], last: _Transient) -> RetriesExhausted:
        return RetriesExhausted(
            f"Loop API {args[0]} {args[1]} still failing after {self.retry.max_retries} retries "
            f"(last: {last}). What to do: check Loop's status and the network, "
            "then run again; the bookmark is kept, nothing is lost "
            "(raise 'max_request_retries' to retry longer)."
        )

    @staticmethod
    def _json(response: requests.Response, call: str) -> dict[str, t.Any]:
        if not response.content.strip():
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise LoopApiError(call, response.status_code, "answer is not JSON") from exc
        if not isinstance(body, dict):
            raise LoopApiError(call, response.status_code, "answer is not a JSON object")
        return body

    @staticmethod
    def _error(call: str, response: requests.Response) -> LoopApiError:
        status = response.status_code
        message, code = _error_fields(response)
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).netloc or "?"
            return LoopApiError(
                call, status, f"unexpected redirect to {target}; check 'api_url'", code
            )
        lowered = (message or "").lower() + " " + (code or "").lower()
        if status == 400 and any(word in lowered for word in _TOO_LARGE_WORDS):
            return RangeTooLarge(call, status, message, code)
        if call.startswith("GET") and _unknown_export(status, lowered):
            return ExportNotFound(call, status, message, code)
        return LoopApiError(call, status, message, code)


_UNKNOWN_WORDS = ("not found", "unknown", "no such", "does not exist", "invalid export", "gone")


def _unknown_export(status: int, lowered: str) -> bool:
    """Does this answer to a status check say Loop no longer knows the export id?

    404 and 410 always do; a 400 does when its message or code says so ("Unknown
    export", "not found", ``InvalidExportId``, ...).
    """
    if status in (404, 410):
        return True
    words = lowered.replace("exportid", "export id")
    return status == 400 and any(word in words for word in _UNKNOWN_WORDS)


def _strip_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Auth hook for the download host: no Authorization header, ever (not even ~/.netrc)."""
    request.headers.pop("Authorization", None)
    request.headers.pop("X-Impersonate-User", None)
    return request


class _NoAuthSession(requests.Session):
    """A session that never re-adds credentials (e.g. from ~/.netrc) on redirects."""

    @override
    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        _strip_credentials(prepared_request)


class Downloader:
    """Fetches pre-signed result URLs. Sends no credentials: the signature is the auth."""

    CHUNK = 1 << 20

    def __init__(
        self,
        *,
        timeout_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        deadline_seconds: float = 1800.0,
        clock: t.Callable[[], float] = time.monotonic,
    ):
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.retry = retry or RetryPolicy()
        self.deadline_seconds = deadline_seconds
        self.clock = clock
        self._local = _Sessions()
        self._download_with_retries = _retrying(
            self.retry, lambda args: "download", self._retries_exhausted
        )(self._fresh_download)

    @property
    def session(self) -> requests.Session:
        if self._local.session is None:
            session = _NoAuthSession()
            session.headers["User-Agent"] = f"tap-loop/{__version__}"
            session.auth = _strip_credentials
            self._local.session = session
        return self._local.session

    def download(self, url: str, sink: t.IO[bytes]) -> int:
        """Stream ``url`` into ``sink``; return the byte count.

        Raises :class:`UrlExpired` when the host refuses the signature (403/400/401/410)
        and :class:`~tap_loop.core.errors.DownloadError` subclasses for other failures; the
        caller decides whether to retry the same URL or poll for a new one.
        """
        return self._download_with_retries(url, sink)

    def _fresh_download(self, url: str, sink: t.IO[bytes]) -> int:
        """One attempt into an emptied sink; a retryable failure becomes :class:`_Transient`."""
        sink.seek(0)
        sink.truncate()
        try:
            return self._download_once(url, sink)
        except _RetryableDownload as exc:
            raise _Transient(str(exc), exc.wait) from None

    def _retries_exhausted(self, args: tuple[t.Any, ...], last: _Transient) -> RetriesExhausted:
        return RetriesExhausted(
            f"Download of {safe_url(args[0])} still failing after {self.retry.max_retries} retries "
            f"(last: {last}). What to do: run again later; the bookmark is kept, "
            "nothing is lost."
        )

    def _download_once(self, url: str, sink: t.IO[bytes]) -> int:
        """One GET of ``url`` into ``sink``, whole within ``deadline_seconds``.

        ``request_timeout_seconds`` bounds each socket read; the deadline bounds the
        whole body, so a host that trickles bytes cannot hold the run: past it,
        :class:`DownloadTooSlow` (the caller tries once more, then stops).
        """
        deadline = self.clock() + self.deadline_seconds
        try:
            with self.session.get(
                url, stream=True, timeout=self.timeout, allow_redirects=True
            ) as response:
                request_done("download", response)
                status = response.status_code
                if status in (400, 401, 403, 404, 410):
                    message, _ = _error_fields(response)
                    raise UrlExpired(
                        f"Download host answered HTTP {status} for {safe_url(url)}"
                        + (f": {message}" if message else "")
                    )
                if status in RETRYABLE_STATUS:
                    wait = None
                    if status in (429, 503) and response.headers.get("Retry-After"):
                        wait = self.retry.retry_after(response, 1)
                    raise _RetryableDownload(f"HTTP {status}", wait)
                if status != 200:
                    raise UrlExpired(f"Download host answered HTTP {status} for {safe_url(url)}")
                size = 0
                for chunk in self._body(response):
                    sink.write(chunk)
                    size += len(chunk)
                    if self.clock() > deadline:
                        raise DownloadTooSlow(
                            f"Download of {safe_url(url)} took longer than "
                            f"{self.deadline_seconds:g} s ('download_timeout_seconds'); "
                            f"{size} bytes arrived"
                        )
                expected = response.headers.get("Content-Length")
                if (
                    expected is not None
                    and expected.isdigit()
                    and int(expected) != size
                    and (not response.headers.get("Content-Encoding"))
                ):
                    raise _RetryableDownload(f"truncated: {size} of {expected} bytes", None)
                sink.flush()
                return size
        except TRANSIENT_ERRORS as exc:
            raise _RetryableDownload(
                f"{type(exc).__name__}: {redact(str(exc))[:200]}", None
            ) from None

    def _body(self, response: requests.Response) -> t.Iterator[bytes]:
        """The body as it arrives: each read returns what the socket has (up to CHUNK),
        so the deadline is checked even when bytes trickle in."""
        raw = response.raw
        read1 = getattr(raw, "read1", None)
        if read1 is None:  # pragma: no cover (urllib3 < 2)
            yield from response.iter_content(self.CHUNK)
            return
        while True:
            chunk = read1(self.CHUNK, decode_content=True)
            if not chunk:  # the end of the body (a short body raises IncompleteRead)
                return
            yield chunk


class _RetryableDownload(Exception):
    def __init__(self, reason: str, wait: float | None) -> None:
        super().__init__(redact(reason))
        self.wait = wait
