"""HTTP concerns: the authenticated Loop API client and the unauthenticated downloader.

Both retry through :mod:`tap_loop.loop_api.retry` (one classifier of answers, one
transient error, waits a stopping sync interrupts), and make every call under
:func:`~tap_loop.loop_api.watchdog.watched`: an API call ends within
``request_timeout_seconds`` as a whole (connect, headers, body; past it, a timeout to
retry), a download within ``download_timeout_seconds``, and either at once (within
0.1 s) when the run's ``cancel`` event is set (:class:`Cancelled`).

An API whose host cannot be connected to at all (refused, unknown host) before it ever
answered stops the run after :data:`UNREACHABLE_SECONDS` of retries, with one line
naming ``api_url`` and the host; once it has answered, the same failure is retried as
any transient one.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
import typing as t
from urllib.parse import quote, unquote, urlsplit

import requests
from typing_extensions import override

from tap_loop import __version__
from tap_loop.core.errors import (
    Cancelled,
    DownloadTooSlow,
    ExportNotFound,
    LoopApiError,
    RangeTooLarge,
    RetriesExhausted,
    UnusableUrl,
    UrlExpired,
)
from tap_loop.core.redaction import mask_exactly, safe_url
from tap_loop.loop_api.metrics import STREAM, request_done
from tap_loop.loop_api.retry import (
    HTTP_ERRORS,
    Outcome,
    RetryPolicy,
    Transient,
    call_with_retries,
    classify,
)
from tap_loop.loop_api.watchdog import Call, mount_watched, watched

UNREACHABLE_SECONDS = 20.0
"""How long the first API calls retry a host that cannot be connected to at all before the
run stops (the last attempt and its connect timeout come on top: about 30 s at most)."""

_TOO_LARGE_WORDS = ("too large", "too long", "too big", "too wide", "too many", "exceed")


def _error_fields(response: requests.Response) -> tuple[str | None, str | None]:
    """Loop's ``message`` and error code from a JSON error body, if any; the token the
    request carried is masked in them, however short (a reply may quote it)."""
    message, code = _raw_error_fields(response)
    request = getattr(response, "request", None)
    sent = str(request.headers.get("Authorization") or "") if request is not None else ""
    token = sent.partition(" ")[2]
    return (
        mask_exactly(message, token) if message else None,
        mask_exactly(code, token) if code else None,
    )


def _raw_error_fields(response: requests.Response) -> tuple[str | None, str | None]:
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


class Answer(dict[str, t.Any]):
    """Loop's JSON answer, with the HTTP status it came with (``http_status``)."""

    http_status: int = 200


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
        cancel: threading.Event | None = None,
        clock: t.Callable[[], float] = time.monotonic,
        stream: str = STREAM,
    ) -> None:
        """``cancel``, once set, cuts the calls in flight off (:class:`Cancelled`);
        ``stream`` tags the calls' metrics."""
        self.stream = stream
        self.base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": f"tap-loop/{__version__}",
        }
        if impersonate_user:
            self._headers["X-Impersonate-User"] = impersonate_user
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.timeout_seconds = timeout_seconds
        self.retry = retry or RetryPolicy()
        self.on_rate_limited = on_rate_limited
        self.cancel = cancel
        self.clock = clock
        self.answered = False
        """Whether the API answered at least once (any HTTP status) in this run."""
        self._local = _Sessions()

    @property
    def session(self) -> requests.Session:
        """One session per thread (exports are polled from several threads)."""
        if self._local.session is None:
            session = mount_watched(requests.Session())
            session.headers.update(self._headers)
            self._local.session = session
        return self._local.session

    def create_export(self, body: dict[str, t.Any]) -> Answer:
        """``POST /api/v1/report/export``: returns the ReportingExportResult."""
        return t.cast("Answer", self._call("POST", "/api/v1/report/export", body))

    def get_export(self, export_id: str) -> dict[str, t.Any]:
        """``GET /api/v1/report/exports/{id}``: returns the ReportingExportResult. The id
        is data: it goes into the URL percent-encoded as one path segment."""
        return self._call("GET", f"/api/v1/report/exports/{quote(export_id, safe='')}", None)

    def _call(self, method: str, path: str, body: dict[str, t.Any] | None) -> dict[str, t.Any]:
        call = f"{method} {path}"
        began = self.clock()

        def unreachable_too_long(failure: Transient, wait: float) -> bool:
            never_answered = failure.unreachable is not None and not self.answered
            return never_answered and self.clock() - began + wait > UNREACHABLE_SECONDS

        return call_with_retries(
            lambda: self._attempt(call, method, path, body),
            self.retry,
            call=call,
            give_up=lambda last: self._retries_exhausted(call, last, self.clock() - began),
            on_rate_limited=self.on_rate_limited,
            give_up_early=unreachable_too_long,
        )

    def _attempt(
        self, call: str, method: str, path: str, body: dict[str, t.Any] | None
    ) -> dict[str, t.Any]:
        """One request, whole within ``request_timeout_seconds``: the answer, a clear
        error, :class:`Transient` to retry, or :class:`Cancelled` once the run stops."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("sync stopping")
        with watched(self.timeout_seconds, self.cancel) as watch:
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    json=body,
                    timeout=self.timeout,
                    allow_redirects=False,  # never let a redirect carry the token elsewhere
                )
            except Exception as exc:
                self._raise_if_cut(watch)
                if isinstance(exc, HTTP_ERRORS):
                    classify(exc).raise_transient()
                raise
            self._raise_if_cut(watch)  # an answer ended by the cut may look complete
        self.answered = True
        request_done(path, response, self.stream)
        verdict = classify(response)
        verdict.raise_transient()
        if verdict.outcome is Outcome.FAIL:
            raise self._error(call, response)
        answer = Answer(self._json(response, call))
        answer.http_status = response.status_code
        location = response.headers.get("Location")
        if not answer and location:  # a 201 without a body: the id is in Location
            answer["id"] = unquote(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1])
        return answer

    def _raise_if_cut(self, watch: Call) -> None:
        if watch.cancelled:
            raise Cancelled("sync stopping") from None
        if watch.expired:
            raise Transient(
                f"no complete answer within {self.timeout_seconds:g} s ('request_timeout_seconds')"
            ) from None

    def _retries_exhausted(self, call: str, last: Transient, seconds: float) -> RetriesExhausted:
        if last.unreachable is not None and not self.answered:
            where = urlsplit(self.base_url)
            host = where.netloc.rpartition("@")[2] or self.base_url
            return RetriesExhausted(
                f"Cannot reach Loop's API at {host} (setting 'api_url' is "
                f"{where.scheme}://{host}{where.path}): {last.unreachable}, for "
                f"{seconds:.0f} s ({call}). What to do: check 'api_url', and that this "
                "machine can reach that host (DNS, proxy, firewall), then run again; the "
                "bookmark is kept, nothing is lost."
            )
        return RetriesExhausted(
            f"Loop API {call} still failing after {self.retry.max_retries} retries "
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


MAX_DOWNLOAD_REDIRECTS = 10
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")


def _url_problem(url: t.Any) -> tuple[str, str] | None:
    """``(host, problem)`` when ``url`` is not an http(s) URL with a valid host, else None.

    ``host`` is what a log line may show of the URL ("host 'x'", "no host"): never its
    path's query or credentials.
    """
    if not isinstance(url, str):
        return "no host", f"it is not a string ({type(url).__name__})"
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # .port raises on a bad port
    except ValueError:
        return "host unknown", "it is not a valid URL"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    host = f"host {netloc!r}" if netloc else "no host"
    if parts.scheme.lower() not in ("http", "https"):
        return host, (f"scheme {parts.scheme!r}" if parts.scheme else "it is relative")
    if not hostname:
        return "no host", "it has no host"
    if not _valid_host(hostname):
        return host, "that is not a valid host name"
    return None


def _valid_host(hostname: str) -> bool:
    if ":" in hostname:  # an IPv6 literal, from [brackets]
        try:
            ipaddress.IPv6Address(hostname.split("%", 1)[0])
        except ValueError:
            return False
        return True
    if not hostname.isascii():
        try:
            hostname = hostname.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    return _HOST_NAME.fullmatch(hostname) is not None


def check_download_url(url: t.Any, *, redirected_from: str | None = None) -> None:
    """Raise :class:`UnusableUrl` (one line, naming the host only) unless ``url`` is an
    http(s) URL with a valid host; ``redirected_from`` names the host that sent there."""
    found = _url_problem(url)
    if found is None:
        return
    host, problem = found
    where = (
        f"The download host {redirected_from!r} redirected to a URL ({host}) the tap will not fetch"
        if redirected_from
        else f"Loop's result URL ({host}) is one the tap will not fetch"
    )
    raise UnusableUrl(
        f"{where}: {problem}; only http(s) URLs with a valid host are downloaded. What to "
        "do: report it with the output of 'tap-loop --config ... --diagnose'; the bookmark "
        "is kept, nothing is lost."
    )


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or "?"
    except ValueError:
        return "?"


class _NoAuthSession(requests.Session):
    """A session that never re-adds credentials (e.g. from ~/.netrc) on redirects, and
    follows a redirect only to an http(s) URL with a valid host."""

    max_redirects = MAX_DOWNLOAD_REDIRECTS

    @override
    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        check_download_url(prepared_request.url, redirected_from=_host_of(response.url))
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
        cancel: threading.Event | None = None,
        stream: str = STREAM,
    ):
        """``cancel``, once set, cuts the downloads in flight off (:class:`Cancelled`);
        ``stream`` tags the downloads' metrics."""
        self.stream = stream
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.retry = retry or RetryPolicy()
        self.deadline_seconds = deadline_seconds
        self.clock = clock
        self.cancel = cancel
        self._local = _Sessions()

    @property
    def session(self) -> requests.Session:
        if self._local.session is None:
            session = mount_watched(_NoAuthSession())
            session.headers["User-Agent"] = f"tap-loop/{__version__}"
            session.auth = _strip_credentials
            self._local.session = session
        return self._local.session

    def download(self, url: str, sink: t.IO[bytes]) -> int:
        """Stream ``url`` into ``sink``; return the byte count.

        Raises :class:`UrlExpired` when the host refuses the signature (403/400/401/410),
        :class:`UnusableUrl` (no request made, or none further) when ``url`` or a redirect
        is not http(s) with a valid host or the redirects loop, and
        :class:`~tap_loop.core.errors.DownloadError` subclasses for other failures; the
        caller decides whether to retry the same URL or poll for a new one.
        """
        check_download_url(url)
        return call_with_retries(
            lambda: self._fresh_download(url, sink),
            self.retry,
            call="download",
            give_up=lambda last: self._retries_exhausted(url, last),
        )

    def _fresh_download(self, url: str, sink: t.IO[bytes]) -> int:
        """One attempt into an emptied sink; a retryable failure is :class:`Transient`."""
        sink.seek(0)
        sink.truncate()
        return self._download_once(url, sink)

    def _retries_exhausted(self, url: str, last: Transient) -> RetriesExhausted:
        return RetriesExhausted(
            f"Download of {safe_url(url)} still failing after {self.retry.max_retries} retries "
            f"(last: {last}). What to do: run again later; the bookmark is kept, "
            "nothing is lost."
        )

    def _download_once(self, url: str, sink: t.IO[bytes]) -> int:
        """One GET of ``url`` into ``sink``, whole within ``deadline_seconds``.

        ``request_timeout_seconds`` bounds each socket read; the deadline bounds the
        whole download (headers and body, cut off by the watchdog), so a host that
        trickles bytes cannot hold the run: past it, :class:`DownloadTooSlow` (the caller
        tries once more, then stops). A set ``cancel`` ends it (:class:`Cancelled`).
        """
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("sync stopping")
        with watched(self.deadline_seconds, self.cancel) as watch:
            try:
                return self._stream(url, sink, watch)
            except Exception:
                if watch.cancelled:
                    raise Cancelled("sync stopping") from None
                if watch.expired:  # the headers, or a stalled body, past the deadline
                    raise self._too_slow(url, sink.tell()) from None
                raise

    def _too_slow(self, url: str, size: int) -> DownloadTooSlow:
        return DownloadTooSlow(
            f"Download of {safe_url(url)} took longer than "
            f"{self.deadline_seconds:g} s ('download_timeout_seconds'); "
            f"{size} bytes arrived"
        )

    def _stream(self, url: str, sink: t.IO[bytes], watch: Call) -> int:
        """The GET of :meth:`_download_once`, under ``watch``."""
        deadline = self.clock() + self.deadline_seconds
        try:
            with self.session.get(
                url, stream=True, timeout=self.timeout, allow_redirects=True
            ) as response:
                request_done("download", response, self.stream)
                status = response.status_code
                classify(response, quote_retry_after=False).raise_transient()
                if status in (400, 401, 403, 404, 410):
                    message, _ = _error_fields(response)
                    raise UrlExpired(
                        f"Download host answered HTTP {status} for {safe_url(url)}"
                        + (f": {message}" if message else "")
                    )
                if status != 200:
                    raise UrlExpired(f"Download host answered HTTP {status} for {safe_url(url)}")
                size = 0
                for chunk in self._body(response):
                    sink.write(chunk)
                    size += len(chunk)
                    if self.clock() > deadline:
                        raise self._too_slow(url, size)
                if watch.cut:  # a body the cut ended may look complete
                    raise Transient("cut off")
                expected = response.headers.get("Content-Length")
                if (
                    expected is not None
                    and expected.isdigit()
                    and int(expected) != size
                    and (not response.headers.get("Content-Encoding"))
                ):
                    raise Transient(f"truncated: {size} of {expected} bytes")
                sink.flush()
                return size
        except requests.TooManyRedirects:
            raise UnusableUrl(
                f"The download host {_host_of(url)!r} redirected more than "
                f"{MAX_DOWNLOAD_REDIRECTS} times (a redirect loop); only a few redirects, to "
                "http(s) URLs with a valid host, are followed. What to do: report it with "
                "the output of 'tap-loop --config ... --diagnose'; the bookmark is kept, "
                "nothing is lost."
            ) from None
        except HTTP_ERRORS as exc:
            classify(exc).raise_transient()
            raise

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


__all__ = ["Answer", "Downloader", "LoopApi", "RetryPolicy", "check_download_url"]
