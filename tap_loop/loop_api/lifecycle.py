"""The export lifecycle: create, poll (status mapping), download.

One :class:`ExportLifecycle` turns a :class:`~tap_loop.loop_api.windows.Window` into a result file
on local disk. It owns every rule about Loop's asynchronous export:

- create: ``POST /api/v1/report/export`` with the window and the filters;
- poll: first status check after ``poll_interval_seconds``, then every interval;
  ``Completed`` → download; ``Failed``/``Expired`` → create again (bounded by
  ``max_export_attempts``); any other value (``PendingOrExpired``, unknown) → not ready;
- download: stream the pre-signed URL to a temp file with no credentials; a URL that was
  refused → poll for a fresh one; an export that expired → create again;
- give up after ``export_timeout_seconds`` of waiting or when attempts run out, with an
  :class:`~tap_loop.core.errors.ExportFailed` the caller may answer by splitting the window
  (not when the last answer was one the tap cannot act on: a status that is not a string
  or is unknown, a Completed without a usable url; see ``ExportState.stuck``).

Loop's ids, statuses and URLs are data: an id is returned as sent (never part of a file
name), statuses and URLs are kept raw on the :class:`ExportState`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import requests

from tap_loop.config.settings import Settings
from tap_loop.core.errors import (
    Cancelled,
    DownloadTooSlow,
    ExportFailed,
    ExportNotFound,
    LoopTapError,
    RangeTooLarge,
    UrlExpired,
)
from tap_loop.core.redaction import safe_url
from tap_loop.loop_api.client import Downloader, LoopApi, RetryPolicy
from tap_loop.loop_api.metrics import ExportPhases
from tap_loop.loop_api.repository import ExportApi, LoopExportApi
from tap_loop.loop_api.status import (
    ExportState,
    ExportStatus,
    export_message,
    json_type,
    shown,
)
from tap_loop.loop_api.windows import Window

LOGGER = logging.getLogger("tap_loop.export")
MAX_INVALID_DOWNLOADS = 3  # reads of one window's unreadable result before giving up

#: Called with each status check's answer and the seconds since the wait for it began
#: (the wait begins right after the export is created, or when a saved one is resumed).
StatusObserver = t.Callable[[ExportState, float], None]


@dataclass
class CompletedExport:
    """A window whose result sits in a local file, ready to be read."""

    window: Window
    export_id: str
    path: Path
    size: int
    seconds: float
    url: str | None = None
    downloads: int = 1
    extracted_at: str = field(default="")


class ExportLifecycle:
    """Create, poll and download exports for windows, with Loop's rules (see module doc)."""

    def __init__(
        self,
        api: ExportApi,
        settings: Settings,
        *,
        work_dir: Path | None = None,
        cancel: threading.Event | None = None,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], object] | None = None,
        on_status: StatusObserver | None = None,
    ) -> None:
        """``sleep(seconds)`` waits between polls (default: ``cancel.wait``, which a
        stopping sync interrupts); ``on_status`` sees every status check (see
        :data:`StatusObserver`)."""
        self.api = api
        self.settings = settings
        self.work_dir = work_dir or Path(tempfile.gettempdir())
        self.cancel = cancel or threading.Event()
        self.clock = clock
        self.sleep = sleep or self.cancel.wait
        self.on_status = on_status
        self.suffix = ".xlsx" if settings.result_format == "xlsx" else ".json"
        self._seen_statuses: set[str] = set()
        self._seen_lock = threading.Lock()

    # -- create ---------------------------------------------------------------------------
    def create(self, window: Window) -> str:
        """Create an export for ``window``; return its id (a non-empty string, used
        as-is everywhere and percent-encoded only where it enters a URL)."""
        answer = self.api.create_export(self.settings.export_body(window.start, window.end))
        raw = answer.get("id")
        if raw is None or raw == "":
            raw = answer.get("reportId", raw)
        if isinstance(raw, str) and raw.strip():
            return raw
        http = getattr(answer, "http_status", 200)
        call = "Loop API POST /api/v1/report/export"
        if raw is None and not answer:
            found = "no export id (an empty body and no Location header)"
        elif raw is None:
            found = "no export id (no 'id' field)"
        else:
            found = (
                "an export id that is not a non-empty string: "
                f"{shown(raw)} (a JSON {json_type(raw)})"
            )
        raise LoopTapError(
            f"{call} answered HTTP {http} with {found}. What to do: run again later; if it "
            "persists, report it with the output of 'tap-loop --config ... --diagnose' (the "
            "export Loop may have made is not used); the bookmark is kept, nothing is lost."
        )

    # -- poll -----------------------------------------------------------------------------
    def status(self, export_id: str) -> ExportState:
        """One status check. The state carries ``export_id`` (not the id in Loop's answer),
        Loop's ``status`` and ``url`` exactly as sent, and its message made safe to log."""
        answer = self.api.get_export(export_id)
        raw = answer.get("status")
        raw_url = answer.get("url")
        return ExportState(
            export_id=export_id,
            status=ExportStatus.from_api(raw),
            raw_status=repr(raw) if not isinstance(raw, str) else raw,
            url=raw_url if isinstance(raw_url, str) and raw_url else None,
            raw=raw,
            raw_url=raw_url,
            message=export_message(answer, self.settings.api_token),
        )

    def _note_not_ready(self, state: ExportState) -> None:
        """Log a status value the tap does not know, once per value and run."""
        key = f"{type(state.raw).__name__}:{state.raw!r}"
        with self._seen_lock:
            if key in self._seen_statuses:
                return
            self._seen_statuses.add(key)
        if state.unknown:
            LOGGER.warning(
                "Export %s reports status %s (%s), a value unknown to the tap: "
                "treated as not ready yet (logged once per value)",
                state.export_id,
                shown(state.raw),
                type(state.raw).__name__,
            )
        else:
            LOGGER.info(
                "Export %s reports status %s: treated as not ready yet",
                state.export_id,
                shown(state.raw),
            )

    def wait(self, export_id: str, window: Window, *, first_wait: bool = True) -> ExportState:
        """Poll until the export's state is settled (ready, or failed) or the timeout
        passes: :class:`ExportFailed`, splittable while the export was ``Processing`` (or
        a known pending value), not splittable when its last answer was one the tap
        cannot act on (:attr:`ExportState.stuck`)."""
        interval = self.settings.poll_interval_seconds
        began = self.clock()
        deadline = began + self.settings.export_timeout_seconds
        if first_wait:
            self._sleep(interval)
        while True:
            state = self.status(export_id)
            if self.on_status is not None:
                self.on_status(state, self.clock() - began)
            if state.settled:
                return state
            if state.status is ExportStatus.COMPLETED and state.raw_url in (None, ""):
                LOGGER.info("Export %s reads Completed without a url; polling again", export_id)
            elif state.status is ExportStatus.COMPLETED:
                LOGGER.info(
                    "Export %s reads Completed with a url that is not a string (a JSON %s); "
                    "polling again",
                    export_id,
                    json_type(state.raw_url),
                )
            elif state.status is ExportStatus.NOT_READY:
                self._note_not_ready(state)
            if self.clock() + interval > deadline:
                stuck = state.stuck
                raise ExportFailed(
                    self._timeout_message(export_id, window, state), splittable=stuck is None
                )
            self._sleep(interval)

    def _timeout_message(self, export_id: str, window: Window, state: ExportState) -> str:
        waited = f"{self.settings.export_timeout_seconds:g} s ('export_timeout_seconds')"
        stuck = state.stuck
        kept = "the bookmark is kept, nothing is lost."
        if stuck is not None and state.status is ExportStatus.COMPLETED:
            return (
                f"Export {export_id} for window {window} {stuck} for {waited}, so the tap "
                "cannot download it; the window is not split (each half would wait as long). "
                "What to do: run again later; if it persists, report it with the output of "
                f"'tap-loop --config ... --diagnose'; {kept}"
            )
        if stuck is not None:
            return (
                f"Export {export_id} for window {window} {stuck} after {waited}; that value "
                "is unknown to the tap, which reads it as not ready, and the window is not "
                "split (each half would wait as long for the same answer). What to do: if "
                "Loop uses it for a finished export, report it with the output of 'tap-loop "
                f"--config ... --diagnose'; otherwise raise export_timeout_seconds; {kept}"
            )
        return (
            f"Export {export_id} for window {window} was still {state.raw_status!r} after "
            f"{waited}. What to do: raise export_timeout_seconds, or lower window_days so "
            "each export is smaller."
        )

    # -- download -------------------------------------------------------------------------
    def download(self, url: str, export_id: str) -> tuple[Path, int]:
        """Stream the result at ``url`` into a new temp file (a random name in
        ``work_dir``, whatever ``export_id``); return (path, bytes)."""
        if self.cancel.is_set():
            raise Cancelled("sync stopping")
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, kept on disk)
            prefix="loop-", suffix=self.suffix, dir=self.work_dir, delete=False
        )  # never named after export_id: an id is data (it may hold '/' or be 300 long)
        path = Path(handle.name)
        try:
            with handle:
                size = self._download_in_time(url, handle)
        except BaseException as exc:
            path.unlink(missing_ok=True)
            if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
                raise LoopTapError(
                    f"Could not write the export to {self.work_dir}: {exc.strerror or exc}. "
                    "What to do: free disk space there (or point TMPDIR at a larger disk) "
                    "and run again; the bookmark is kept, nothing is lost."
                ) from None
            raise
        return path, size

    def _download_in_time(self, url: str, sink: t.IO[bytes]) -> int:
        """Download; one more try when the whole-download deadline passes, then stop."""
        try:
            return self.api.download(url, sink)
        except DownloadTooSlow as exc:
            LOGGER.warning("%s; downloading it once more", exc)
        try:
            return self.api.download(url, sink)
        except DownloadTooSlow as exc:
            raise DownloadTooSlow(
                f"{exc}, twice. What to do: check the network to the download host, or "
                "raise download_timeout_seconds; the bookmark is kept, nothing is lost."
            ) from None

    # -- the whole lifecycle ----------------------------------------------------------------
    def produce(
        self,
        window: Window,
        *,
        resume_id: str | None = None,
        on_created: t.Callable[[Window, str], None] | None = None,
    ) -> CompletedExport:
        """Create (or resume), wait for and download the export of ``window``.

        Raises :class:`ExportFailed` (splittable) when attempts run out or the export
        timed out (not splittable when it timed out on an answer the tap cannot act on),
        :class:`RangeTooLarge` when Loop refuses the window's size, and
        :class:`LoopApiError` for errors that need the user (401, 403, 451, ...).
        """
        began = self.clock()
        phases = ExportPhases(window, self.clock, self.settings.stream)
        attempts = 0
        export_id = resume_id
        failures: list[str] = []
        said: str | None = None  # Loop's last message about a failed export
        state: ExportState | None  # None after a URL expired: the export is gone
        while True:
            if self.cancel.is_set():
                raise Cancelled("sync stopping")
            resumed = export_id is not None
            if export_id is None:
                attempts += 1
                if attempts > self.settings.max_export_attempts:
                    loop_said = f'; Loop said: "{said}"' if said else ""
                    raise ExportFailed(
                        f"Export of window {window} did not complete after "
                        f"{self.settings.max_export_attempts} attempts "
                        f"({'; '.join(failures)}){loop_said}. What to do: "
                        + ("see Loop's message; " if said else "")
                        + "retry later, or lower window_days so each export is smaller."
                    )
                export_id = self.create(window)
                phases.done("created", export_id)
                if on_created is not None:
                    on_created(window, export_id)
                LOGGER.info("Created export %s for window %s", export_id, window)
            try:
                state = self.wait(export_id, window, first_wait=not resumed)
            except ExportNotFound as exc:
                LOGGER.warning(
                    "Export %s for window %s is unknown to Loop (HTTP %d%s); creating a new one",
                    export_id,
                    window,
                    exc.status,
                    ", saved by an earlier run" if resumed else "",
                )
                if not resumed:
                    failures.append(f"{export_id}: unknown id")
                export_id = None
                continue
            if state.ready:
                phases.done("completed", export_id)
                try:
                    path, size = self.download(state.url or "", export_id)
                except UrlExpired as exc:
                    LOGGER.info("Result URL no longer valid (%s); polling for a new one", exc)
                    state = self._fresh_state(export_id, window)
                    if state is None:
                        failures.append(f"{export_id}: URL expired")
                        export_id = None
                        continue
                    try:
                        path, size = self.download(state.url or "", export_id)
                    except UrlExpired:
                        failures.append(f"{export_id}: fresh URL refused")
                        export_id = None
                        continue
                phases.done("downloaded", export_id)
                return CompletedExport(
                    window=window,
                    export_id=export_id,
                    path=path,
                    size=size,
                    seconds=self.clock() - began,
                    url=state.url,
                )
            failures.append(f"{export_id}: {state.raw_status}")
            said = state.message or said
            LOGGER.info(
                "Export %s for window %s is %s; creating it again",
                export_id,
                window,
                state.described,
            )
            export_id = None

    def fetch_again(
        self,
        done: CompletedExport,
        *,
        on_created: t.Callable[[Window, str], None] | None = None,
    ) -> CompletedExport:
        """``done``'s window once more after its file was unreadable: the same export
        downloaded again (:meth:`refetch`) or, when Loop no longer has it, exported anew."""
        again = self.refetch(done)
        if again is None:
            LOGGER.warning(
                "Export %s is gone; exporting window %s anew (rows already read from it "
                "may come twice)",
                done.export_id,
                done.window,
            )
            again = self.produce(done.window, on_created=on_created)
        return again

    def refetch(self, done: CompletedExport) -> CompletedExport | None:
        """Download ``done``'s export again (its file was unreadable).

        Tries the same URL, then a fresh URL from a new status check. Returns None when
        the export is gone (expired or failed): the caller then produces the window anew.
        """
        done.path.unlink(missing_ok=True)
        urls: list[str | None] = [done.url] if done.url else []
        for attempt in range(2):
            if attempt == 1 or not urls:
                state = self._fresh_state(done.export_id, done.window)
                if state is None:
                    return None
                urls = [state.url]
            try:
                path, size = self.download(urls[0] or "", done.export_id)
            except UrlExpired as exc:
                LOGGER.info("Result URL no longer valid (%s)", exc)
                continue
            return CompletedExport(
                window=done.window,
                export_id=done.export_id,
                path=path,
                size=size,
                seconds=done.seconds,
                url=urls[0],
                downloads=done.downloads + 1,
            )
        return None

    def _fresh_state(self, export_id: str, window: Window) -> ExportState | None:
        """Poll once more for a Completed export with a (new) URL; None if it is gone."""
        try:
            state = self.wait(export_id, window, first_wait=False)
        except ExportNotFound:
            return None
        if state.ready:
            LOGGER.info(
                "Got a fresh result URL for export %s: %s", export_id, safe_url(state.url or "")
            )
            return state
        return None

    def _sleep(self, seconds: float) -> None:
        self.sleep(max(0.0, seconds))
        if self.cancel.is_set():
            raise Cancelled("sync stopping")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        work_dir: Path,
        cancel: threading.Event | None = None,
        on_status: StatusObserver | None = None,
    ) -> Self:
        """A lifecycle over HTTP (:class:`LoopExportApi`) with the API client and
        downloader the settings describe (Loop's 429s reach ``api.on_rate_limited``,
        unset here)."""
        cancel = cancel or threading.Event()
        retry = RetryPolicy(
            max_retries=settings.max_request_retries,
            max_wait_seconds=settings.max_retry_wait_seconds,
            backoff_base_seconds=min(1.0, settings.poll_interval_seconds),
            sleep=cancel.wait,  # a stopping sync interrupts retry waits
        )
        api = LoopApi(
            settings.api_url,
            settings.api_token,
            impersonate_user=settings.impersonate_user,
            timeout_seconds=settings.request_timeout_seconds,
            retry=retry,
            cancel=cancel,  # a stopping sync cuts the calls in flight off
            stream=settings.stream,
        )
        downloader = Downloader(
            timeout_seconds=settings.request_timeout_seconds,
            retry=retry,
            deadline_seconds=settings.download_timeout_seconds,
            cancel=cancel,
            stream=settings.stream,
        )
        return cls(
            LoopExportApi(api, downloader),
            settings,
            work_dir=work_dir,
            cancel=cancel,
            on_status=on_status,
        )


__all__ = ["CompletedExport", "ExportLifecycle", "RangeTooLarge", "StatusObserver"]
