"""The Sandbox object: owns config, faults, exports, request log and both servers."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from loop_sandbox.api import ApiHandler
from loop_sandbox.config import SandboxConfig
from loop_sandbox.download import DownloadHandler
from loop_sandbox.exports import ExportStore
from loop_sandbox.faults import FaultBook
from loop_sandbox.httpcore import SandboxHTTPServer
from loop_sandbox.recorder import RequestLog
from loop_sandbox.render import RenderCache
from loop_sandbox.rows import generate_rows
from loop_sandbox.signing import UrlSigner


class Sandbox:
    """A fake Loop API (plus its download host) on 127.0.0.1, for tests and benchmarks.

    Options are those of :class:`SandboxConfig`; ``port``/``download_port`` 0 picks
    free ports; ``workdir`` is where rendered results go (a private temp dir by
    default); ``log`` receives one line per request.
    """

    def __init__(
        self,
        token: str = "test-token",
        processing_seconds: float = 0.2,
        url_ttl_seconds: float = 600,
        rows_per_day: int = 96,
        seed: int = 0,
        allowed_impersonation: Iterable[str] | None = frozenset({"boss@example.com"}),
        max_range_days: float | None = None,
        drift_after: int | None = None,
        *,
        port: int = 0,
        download_port: int = 0,
        workdir: str | Path | None = None,
        log: Callable[[str], None] | None = None,
        **options: Any,
    ) -> None:
        self._config = SandboxConfig().updated(
            token=token,
            processing_seconds=processing_seconds,
            url_ttl_seconds=url_ttl_seconds,
            rows_per_day=rows_per_day,
            seed=seed,
            allowed_impersonation=allowed_impersonation,
            max_range_days=max_range_days,
            drift_after=drift_after,
            **options,
        )
        self._lock = threading.Lock()
        self._ports = (port, download_port)
        self._workdir = workdir
        self._log = log
        self.faults = FaultBook()
        self.request_log = RequestLog()
        self.signer = UrlSigner()
        self._renders: RenderCache | None = None
        self._store: ExportStore | None = None
        self._api: SandboxHTTPServer | None = None
        self._download: SandboxHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # lifecycle -----------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind both servers and serve them in daemon threads; returns self."""
        if self._api is not None:
            return self
        self._renders = RenderCache(self._workdir)
        self._store = ExportStore(self.signer, self._renders, lambda: self.download_url_base)
        self._api = SandboxHTTPServer(self._ports[0], ApiHandler, self, "api")
        try:
            self._download = SandboxHTTPServer(self._ports[1], DownloadHandler, self, "download")
        except OSError:
            self._api.server_close()
            self._api = None
            raise
        for server in (self._api, self._download):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                daemon=True,
                name=f"loop-sandbox-{server.label}",
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and delete rendered files."""
        servers = [s for s in (self._api, self._download) if s is not None]
        for server in servers:
            server.shutdown()
            server.close_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        self._api = self._download = None
        if self._renders is not None:
            self._renders.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses -----------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._running(self._api).port}"

    @property
    def download_url_base(self) -> str:
        """Base URL the signed result links point at (a separate server)."""
        port = self._running(self._download).port
        return f"http://{self._config.download_host}:{port}"

    @staticmethod
    def _running(server: SandboxHTTPServer | None) -> SandboxHTTPServer:
        if server is None:
            raise RuntimeError("sandbox is not running; call start() first")
        return server

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

    # observation ---------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copies of all recorded requests (both servers, control routes excluded)."""
        return self.request_log.snapshot()

    def clear_requests(self) -> None:
        self.request_log.clear()

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

    # logging -------------------------------------------------------------------
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
