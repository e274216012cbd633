"""The Sandbox object: its state (see ``state``) plus both servers, started and stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from typing_extensions import override

from loop_sandbox.api import ApiHandler
from loop_sandbox.config import SandboxConfig
from loop_sandbox.download import DownloadHandler
from loop_sandbox.httpcore import SandboxHTTPServer
from loop_sandbox.render import RenderCache
from loop_sandbox.state import SandboxState


class Sandbox(SandboxState):
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
        config = SandboxConfig().updated(
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
        super().__init__(config, log)
        self._ports = (port, download_port)
        self._workdir = workdir
        self._renders: RenderCache | None = None
        self._api: SandboxHTTPServer | None = None
        self._download: SandboxHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # lifecycle -----------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind both servers and serve them in daemon threads; returns self."""
        if self._api is not None:
            return self
        self._renders = RenderCache(self._workdir)
        self.open_exports(self._renders)
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
    @override
    def api_url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._running(self._api).port}"

    @property
    @override
    def download_url_base(self) -> str:
        """Base URL the signed result links point at (a separate server)."""
        port = self._running(self._download).port
        return f"http://{self.config.download_host}:{port}"

    @staticmethod
    def _running(server: SandboxHTTPServer | None) -> SandboxHTTPServer:
        if server is None:
            raise RuntimeError("sandbox is not running; call start() first")
        return server
