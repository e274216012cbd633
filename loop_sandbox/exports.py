"""Export records and their lifecycle: Processing -> Completed (signed URL) -> Expired."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loop_sandbox.render import RenderCache, Rendering, RenderSpec
from loop_sandbox.signing import UrlSigner

PROCESSING, COMPLETED, FAILED, EXPIRED = "Processing", "Completed", "Failed", "Expired"


@dataclass
class ExportRecord:
    """One export created through the API."""

    id: str
    spec: RenderSpec
    rendering: Rendering
    created_at: float
    ready_at: float
    impersonate: str | None = None
    status: str = PROCESSING
    url: str | None = None
    url_expires: int | None = None
    signature: str | None = None
    revoked: set[str] = field(default_factory=set)
    urls_issued: int = 0
    downloads: int = 0
    alias: Any = None  # fault id_literal: the id the API gives out instead of ``id``
    message: Any = None  # a Failed export's ``message`` (render error, fault ``failed``)

    @property
    def path(self) -> str:
        return f"/RF_{self.id}"

    def result(self) -> dict[str, Any]:
        """The API's ReportingExportResult for this export; a Failed one may carry a
        ``message`` (not in Loop's reference: the sandbox's way to say why)."""
        public = self.id if self.alias is None else self.alias
        result = {"id": public, "status": self.status, "url": self.url}
        if self.status == FAILED and self.message is not None:
            result["message"] = self.message
        return result

    def snapshot(self) -> dict[str, Any]:
        """JSON-able copy for ``sandbox.exports`` and ``GET /_sandbox/exports``."""
        r = self.rendering
        return {
            "id": self.id,
            "start": self.spec.start,
            "end": self.spec.end,
            "timezone": self.spec.timezone,
            "resultFormat": self.spec.result_format,
            "filters": self.spec.filters(),
            "rows_per_day": self.spec.rows_per_day,
            "seed": self.spec.seed,
            "drift_after": self.spec.drift_after,
            "impersonate": self.impersonate,
            "status": self.status,
            "created_at": self.created_at,
            "ready_at": self.ready_at,
            "url": self.url,
            "url_expires": self.url_expires,
            "urls_issued": self.urls_issued,
            "downloads": self.downloads,
            "rendered": r.done.is_set(),
            "render_error": r.error,
            "row_count": r.rows if r.done.is_set() else None,
            "size": r.size if r.done.is_set() else None,
            "render_seconds": round(r.seconds, 3) if r.done.is_set() else None,
        }


class ExportStore:
    """All exports of one sandbox; every state change happens under one lock."""

    def __init__(
        self,
        signer: UrlSigner,
        renders: RenderCache,
        url_base: Callable[[], str],
        credential_query: Callable[[], bool] = lambda: False,
    ):
        self._signer = signer
        self._credential_query = credential_query
        self._renders = renders
        self._url_base = url_base
        self._lock = threading.RLock()
        self._items: dict[str, ExportRecord] = {}
        self._aliases: dict[str, str] = {}  # fault id_literal: given id -> real id

    def create(self, spec: RenderSpec, delay: float, impersonate: str | None) -> ExportRecord:
        """Register a new export that becomes ready ``delay`` seconds from now."""
        now = time.time()
        record = ExportRecord(
            id=secrets.token_hex(12),
            spec=spec,
            rendering=self._renders.get(spec),
            created_at=now,
            ready_at=now + delay,
            impersonate=impersonate,
        )
        with self._lock:
            self._items[record.id] = record
        return record

    def alias(self, record: ExportRecord, value: Any) -> None:
        """Fault ``id_literal``: the API gives ``value`` out as the export's id and, when it
        is a string, finds the export by it too."""
        with self._lock:
            record.alias = value
            if isinstance(value, str):
                self._aliases[value] = record.id

    def forget(self, export_id: str) -> None:
        """Fault ``forget``: the export is unknown from now on (its URL stops working)."""
        with self._lock:
            self._items.pop(self._aliases.get(export_id, export_id), None)

    def get(self, export_id: str) -> ExportRecord | None:
        """The export known by ``export_id`` (its own id, or one given by ``id_literal``)."""
        with self._lock:
            return self._items.get(self._aliases.get(export_id, export_id))

    def poll(self, record: ExportRecord, ttl: float, reissue: bool) -> dict[str, Any]:
        """Advance the record to ``now`` and return its API result."""
        with self._lock:
            self.advance(record, time.time(), ttl, reissue)
            return record.result()

    def advance(self, record: ExportRecord, now: float, ttl: float, reissue: bool) -> None:
        """Apply time: finish processing, issue the URL, expire it (or issue a fresh one)."""
        with self._lock:
            ready = now >= record.ready_at and record.rendering.done.is_set()
            if record.status == PROCESSING and ready:
                if record.rendering.error:
                    record.status = FAILED
                    record.message = f"The export could not be rendered ({record.rendering.error})"
                else:
                    record.status = COMPLETED
                    self._issue(record, now, ttl)
            if record.status != COMPLETED:
                return
            if record.url is None:  # revoked by an expire_url fault with then="fresh"
                self._issue(record, now, ttl)
            elif record.url_expires is not None and now > record.url_expires:
                if reissue:
                    self._issue(record, now, ttl)
                else:
                    self._expire(record)

    def _issue(self, record: ExportRecord, now: float, ttl: float) -> None:
        expires = math.ceil(now + ttl)
        if record.url_expires is not None:  # a fresh URL must differ from the revoked one
            expires = max(expires, record.url_expires + 1)
        query = self._signer.query(record.path, expires)
        if self._credential_query():
            query += "&" + self._signer.credential_query()
        record.url = f"{self._url_base()}{record.path}?{query}"
        record.url_expires = expires
        record.signature = self._signer.signature(record.path, expires)
        record.urls_issued += 1

    def _expire(self, record: ExportRecord) -> None:
        record.status = EXPIRED
        record.url = None
        if record.signature:
            record.revoked.add(record.signature)

    def fail(self, record: ExportRecord, message: Any = None) -> None:
        """Fault ``failed``: the export is Failed for good (its answers carry ``message``
        unless it is None)."""
        with self._lock:
            record.status = FAILED
            record.url = None
            record.message = message

    def expire(self, record: ExportRecord) -> None:
        """Fault ``expired``: the export is Expired for good and its URL stops working."""
        with self._lock:
            self._expire(record)

    def expire_url(self, record: ExportRecord, then: str) -> None:
        """Fault ``expire_url``: revoke the current URL; next poll gives a fresh one or Expired."""
        with self._lock:
            if record.signature:
                record.revoked.add(record.signature)
            if then == "expired":
                self._expire(record)
            elif record.status == COMPLETED:
                record.url = None

    def download_check(
        self, record: ExportRecord, signature: str, ttl: float, reissue: bool
    ) -> str | None:
        """None when a correctly signed, unexpired URL may download now, else a reason."""
        with self._lock:
            self.advance(record, time.time(), ttl, reissue)
            if signature in record.revoked or record.status == EXPIRED:
                return "expired"
            if record.status != COMPLETED:
                return "not ready"
            record.downloads += 1
            return None

    def snapshots(self, ttl: float, reissue: bool) -> dict[str, dict[str, Any]]:
        """``id -> snapshot`` of every export (time applied first)."""
        now = time.time()
        with self._lock:
            for record in self._items.values():
                self.advance(record, now, ttl, reissue)
            return {k: v.snapshot() for k, v in self._items.items()}
