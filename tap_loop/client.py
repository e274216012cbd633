"""HTTP concerns: the authenticated Loop API client and the unauthenticated downloader.

Everything about retries lives here: 429 waits as ``Retry-After`` says (seconds or an
HTTP date, capped by ``max_retry_wait_seconds``); 5xx, connection errors and timeouts
back off exponentially with jitter; both are bounded by ``max_request_retries``.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from tap_loop import __version__
from tap_loop.errors import (
    ExportNotFound,
    LoopApiError,
    RangeTooLarge,
    RetriesExhausted,
    UrlExpired,
)
from tap_loop.metrics import request_done
from tap_loop.redaction import redact, safe_url

LOGGER = logging.getLogger("tap_loop.client")
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_TOO_LARGE_WORDS = ("too large", "too long", "too big", "too wide", "too many", "exceed")


@dataclass
class RetryPolicy:
    """Bounds for retrying one HTTP call."""

    max_retries: int = 8
    max_wait_seconds: float = 300.0
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    sleep: t.Callable[[float], object] = time.sleep

    def backoff(self, retry: int) -> float:
        """Exponential backoff with jitter for the ``retry``-th retry (1-based)."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (retry - 1))
        return min(self.max_wait_seconds, random.uniform(ceiling / 2, ceiling))

    def retry_after(self, response: requests.Response, retry: int) -> float:
        """Seconds to wait after a 429/503: ``Retry-After`` if given, else backoff; capped."""
        header = response.headers.get("Retry-After")
        wait = parse_retry_after(header) if header else None
        if wait is None:
            wait = self.backoff(retry)
        return max(0.0, min(wait, self.max_wait_seconds))


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
        call = f"{method} {path}"
        url = self.base_url + path
        retry = 0
        while True:
            reason: str
            wait: float
            try:
                response = self.session.request(
                    method,
                    url,
                    json=body,
                    timeout=self.timeout,
                    allow_redirects=False,  # never let a redirect carry the token elsewhere
                )
                request_done(path, response)
            except TRANSIENT_ERRORS as exc:
                retry += 1
                reason = f"{type(exc).__name__}: {redact(str(exc))[:200]}"
                wait = self.retry.backoff(retry)
            else:
                status = response.status_code
                if status in (200, 201, 202):
                    body = self._json(response, call)
                    location = response.headers.get("Location")
                    if not body and location:  # a 201 without a body: the id is in Location
                        body = {"id": location.rstrip("/").rsplit("/", 1)[-1]}
                    return body
                if status in RETRYABLE_STATUS:
                    retry += 1
                    reason = f"HTTP {status}"
                    wait = self.retry.backoff(retry)
                    if status in (429, 503) and response.headers.get("Retry-After"):
                        wait = self.retry.retry_after(response, retry)
                        reason += f" (Retry-After: {response.headers['Retry-After']})"
                    if status == 429 and self.on_rate_limited is not None:
                        self.on_rate_limited()
                else:
                    raise self._error(call, response)
            if retry > self.retry.max_retries:
                raise RetriesExhausted(
                    f"Loop API {call} still failing after {self.retry.max_retries} retries "
                    f"(last: {reason}). What to do: check Loop's status and the network, "
                    "then run again; the bookmark is kept, nothing is lost "
                    "(raise 'max_request_retries' to retry longer)."
                )
            LOGGER.info(
                "Retrying %s in %.1f s (retry %d of %d): %s",
                call,
                wait,
                retry,
                self.retry.max_retries,
                reason,
            )
            self.retry.sleep(wait)

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
        if call.startswith("GET") and (status == 404 or (status == 400 and "not found" in lowered)):
            return ExportNotFound(call, status, message, code)
        return LoopApiError(call, status, message, code)


def _strip_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Auth hook for the download host: no Authorization header, ever (not even ~/.netrc)."""
    request.headers.pop("Authorization", None)
    request.headers.pop("X-Impersonate-User", None)
    return request


class _NoAuthSession(requests.Session):
    """A session that never re-adds credentials (e.g. from ~/.netrc) on redirects."""

    def rebuild_auth(self, prepared_request, response):  # type: ignore[no-untyped-def]
        _strip_credentials(prepared_request)


class Downloader:
    """Fetches pre-signed result URLs. Sends no credentials: the signature is the auth."""

    CHUNK = 1 << 20

    def __init__(self, *, timeout_seconds: float = 60.0, retry: RetryPolicy | None = None):
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.retry = retry or RetryPolicy()
        self._local = _Sessions()

    @property
    def session(self) -> requests.Session:
        if self._local.session is None:
            session = _NoAuthSession()
            session.headers["User-Agent"] = f"tap-loop/{__version__}"
            session.auth = _strip_credentials
            self._local.session = session
        return self._local.session

    def download(self, url: str, sink: t.BinaryIO) -> int:
        """Stream ``url`` into ``sink``; return the byte count.

        Raises :class:`UrlExpired` when the host refuses the signature (403/400/401/410)
        and :class:`~tap_loop.errors.DownloadError` subclasses for other failures; the
        caller decides whether to retry the same URL or poll for a new one.
        """
        retry = 0
        while True:
            sink.seek(0)
            sink.truncate()
            try:
                return self._download_once(url, sink)
            except _RetryableDownload as exc:
                retry += 1
                if retry > self.retry.max_retries:
                    raise RetriesExhausted(
                        f"Download of {safe_url(url)} still failing after "
                        f"{self.retry.max_retries} retries (last: {exc}). What to do: run "
                        "again later; the bookmark is kept, nothing is lost."
                    ) from None
                wait = exc.wait if exc.wait is not None else self.retry.backoff(retry)
                LOGGER.info(
                    "Retrying download in %.1f s (retry %d of %d): %s",
                    wait,
                    retry,
                    self.retry.max_retries,
                    exc,
                )
                self.retry.sleep(wait)

    def _download_once(self, url: str, sink: t.BinaryIO) -> int:
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
                for chunk in response.iter_content(self.CHUNK):
                    sink.write(chunk)
                    size += len(chunk)
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


class _RetryableDownload(Exception):
    def __init__(self, reason: str, wait: float | None) -> None:
        super().__init__(redact(reason))
        self.wait = wait
