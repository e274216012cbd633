"""What the request handlers see of a sandbox: options, faults, exports, request log.

The servers are not here: :class:`loop_sandbox.sandbox.Sandbox` adds them, and with
them the addresses, on top of :class:`SandboxState`; the HTTP plumbing and the
handlers depend on this module, never on ``sandbox``.
"""

from __future__ import annotations

import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from loop_sandbox.config import SandboxConfig
from loop_sandbox.exports import ExportStore
from loop_sandbox.faults import FaultBook
from loop_sandbox.recorder import RequestLog
from loop_sandbox.render import RenderCache
from loop_sandbox.rows import generate_rows
from loop_sandbox.signing import UrlSigner


class SandboxState(ABC):
    """Options, faults, URL signer, exports and request log of one sandbox.

    Shared by both servers' handlers (as ``server.app``). ``log`` receives one line per
    request. A subclass owns the servers, so it provides ``api_url`` and
    ``download_url_base`` and calls :meth:`open_exports` on each start.
    """

    def __init__(self, config: SandboxConfig, log: Callable[[str], None] | None = None) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._log = log
        self.faults = FaultBook()
        self.request_log = RequestLog()
        self.signer = UrlSigner()
        self._store: ExportStore | None = None

    # addresses (the servers') --------------------------------------------------
    @property
    @abstractmethod
    def api_url(self) -> str:
        """Base URL of the API; RuntimeError when not running."""

    @property
    @abstractmethod
    def download_url_base(self) -> str:
        """Base URL the signed result links point at; RuntimeError when not running."""

    # options and faults --------------------------------------------------------
    @property
    def config(self) -> SandboxConfig:
        """The current options (immutable snapshot)."""
        return self._config

    def configure(self, **options: Any) -> SandboxConfig:
        """Change options while running (affects later requests/exports)."""
        with self._lock:
            self._config = self._config.updated(**options)
            return self._config

    def revoke_token(self, new_token: str | None = None) -> str:
        """Replace the accepted token (random if not given): the old one gets 401."""
        token = new_token or f"revoked-{secrets.token_hex(8)}"
        self.configure(token=token)
        return token

    def add_fault(self, rule: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Add a fault rule (or list of rules, or ``{"random": {...}}``)."""
        self.faults.add(rule)

    def set_random_faults(self, spec: dict[str, Any] | None) -> None:
        """Random mode: ``{"seed", "rate", "kinds": [rule templates]}``; None turns it off."""
        if isinstance(spec, dict) and "random" in spec:
            spec = spec["random"]
        self.faults.set_random(spec)

    def clear_faults(self) -> None:
        """Remove every rule and random mode."""
        self.faults.clear()

    # exports -------------------------------------------------------------------
    def open_exports(self, renders: RenderCache) -> None:
        """Start a new, empty export store whose results render into ``renders``."""
        self._store = ExportStore(
            self.signer,
            renders,
            lambda: self.download_url_base,
            lambda: self._config.credential_query,
        )

    @property
    def store(self) -> ExportStore:
        if self._store is None:
            raise RuntimeError("sandbox is not running; call start() first")
        return self._store

    @property
    def exports(self) -> dict[str, dict[str, Any]]:
        """``export id -> snapshot`` (window, filters, status, created_at, url, ...)."""
        if self._store is None:
            return {}
        cfg = self._config
        return self._store.snapshots(cfg.url_ttl_seconds, cfg.reissue_expired_urls)

    def expected_rows(
        self,
        start: int,
        end: int,
        *,
        timezone: str | None = "UTC",
        tag_ids: Iterable[str] | None = None,
        team_ids: Iterable[str] | None = None,
        teammate_ids: Iterable[str] | None = None,
        customer_ids: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The rows an export of this window/filters would contain with current options."""
        cfg = self._config
        return list(
            generate_rows(
                start,
                end,
                timezone=timezone,
                tag_ids=tag_ids,
                team_ids=team_ids,
                teammate_ids=teammate_ids,
                customer_ids=customer_ids,
                **cfg.row_options(),
            )
        )

    # observation ---------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copies of all recorded requests (both servers, control routes excluded)."""
        return self.request_log.snapshot()

    def clear_requests(self) -> None:
        self.request_log.clear()

    def log_request(
        self,
        server: str,
        method: str,
        target: str,
        status: int | None,
        fault: str | None,
        began: float,
    ) -> None:
        """Emit one concise line per request to the ``log`` hook, if any."""
        if self._log is None:
            return
        ms = (time.perf_counter() - began) * 1000
        path = target if len(target) <= 90 else target[:87] + "..."
        line = f"{server:8} {method:6} {path} -> {status or '-'} {ms:.0f}ms"
        if fault:
            line += f" [fault: {fault}]"
        self._log(line)
