"""The one seam between the export lifecycle and Loop: :class:`ExportApi`.

:class:`~tap_loop.loop_api.lifecycle.ExportLifecycle` (and, through it, the pipeline)
needs three things of Loop, and only these: create an export, read its status, download
a result URL into a file. :class:`LoopExportApi` does them over HTTP with
:class:`~tap_loop.loop_api.client.LoopApi` and
:class:`~tap_loop.loop_api.client.Downloader`; a test may pass any other object with the
same methods.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_loop.loop_api.client import Downloader, LoopApi

if t.TYPE_CHECKING:
    import requests


class ExportApi(t.Protocol):
    """What the lifecycle asks of Loop. Errors are those of :mod:`tap_loop.core.errors`."""

    #: Called on each HTTP 429 from Loop (the pipeline lowers the exports in flight).
    on_rate_limited: t.Callable[[], None] | None

    def create_export(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """``POST /api/v1/report/export``: Loop's answer (with the new export's ``id``)."""
        ...

    def get_export(self, export_id: str) -> dict[str, t.Any]:
        """``GET /api/v1/report/exports/{id}``: Loop's answer (``status``, ``url``);
        :class:`~tap_loop.core.errors.ExportNotFound` when Loop does not know the id."""
        ...

    def download(self, url: str, sink: t.IO[bytes]) -> int:
        """Stream the result at ``url`` into ``sink``; return the byte count.
        :class:`~tap_loop.core.errors.UrlExpired` when the URL was refused,
        :class:`~tap_loop.core.errors.DownloadTooSlow` when the whole-download deadline
        passed."""
        ...


@dataclass
class LoopExportApi:
    """:class:`ExportApi` over HTTP: Loop's API for the calls, the downloader for URLs."""

    loop: LoopApi
    downloader: Downloader

    @property
    def on_rate_limited(self) -> t.Callable[[], None] | None:
        return self.loop.on_rate_limited

    @on_rate_limited.setter
    def on_rate_limited(self, callback: t.Callable[[], None] | None) -> None:
        self.loop.on_rate_limited = callback

    def create_export(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        return self.loop.create_export(body)

    def get_export(self, export_id: str) -> dict[str, t.Any]:
        return self.loop.get_export(export_id)

    def download(self, url: str, sink: t.IO[bytes]) -> int:
        return self.downloader.download(url, sink)

    @property
    def sessions(self) -> tuple[requests.Session, requests.Session]:
        """The calling thread's HTTP sessions (API, downloads), e.g. to watch responses."""
        return self.loop.session, self.downloader.session


__all__ = ["ExportApi", "LoopExportApi"]
