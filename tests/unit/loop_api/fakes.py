"""An :class:`~tap_loop.loop_api.repository.ExportApi` in memory and a clock that sleeps
instantly: the lifecycle and the pipeline without a process, a socket or a real wait."""

from __future__ import annotations

import threading
import typing as t
from pathlib import Path

from tap_loop.config.settings import Settings, load_settings
from tap_loop.core.errors import ExportNotFound
from tap_loop.loop_api.lifecycle import ExportLifecycle

#: One status answer (``{"status": ..., "url": ...}``), or an error the call raises.
Answer = dict[str, t.Any] | Exception
#: What a download of one URL does: write these bytes, or raise this error.
Outcome = bytes | Exception


def answer(status: t.Any, url: t.Any = None) -> dict[str, t.Any]:
    return {"status": status, "url": url}


PROCESSING = answer("Processing")


def completed(url: str) -> dict[str, t.Any]:
    return answer("Completed", url)


class FakeClock:
    """``clock()`` reads the time; ``sleep(seconds)`` moves it on at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class FakeLoop:
    """Loop's export API as a script.

    The n-th export created (id ``e<n>``) answers its status checks with the n-th list
    of ``exports`` (or ``exports(body)`` when it is a function), one answer per check, the
    last one repeated; ``saved`` holds exports made before (resumed by id). A download of
    a URL does the next of ``files[url]``'s outcomes, the last one repeated.
    ``on_create(body)`` runs before each creation (it may raise).
    """

    def __init__(
        self,
        exports: list[list[Answer]] | t.Callable[[dict[str, t.Any]], list[Answer]] | None = None,
        files: dict[str, Outcome | list[Outcome]] | None = None,
        *,
        saved: dict[str, list[Answer]] | None = None,
        on_create: t.Callable[[dict[str, t.Any]], None] | None = None,
    ) -> None:
        self.on_rate_limited: t.Callable[[], None] | None = None  # a 429 is not scripted
        self.exports = exports if exports is not None else []
        self.files = {url: o if isinstance(o, list) else [o] for url, o in (files or {}).items()}
        self.scripts: dict[str, list[Answer]] = {k: list(v) for k, v in (saved or {}).items()}
        self.on_create = on_create
        self.created: list[dict[str, t.Any]] = []
        self.polled: list[str] = []
        self.downloaded: list[str] = []
        self._lock = threading.Lock()

    def create_export(self, body: dict[str, t.Any]) -> dict[str, t.Any]:
        if self.on_create is not None:
            self.on_create(body)
        with self._lock:
            self.created.append(body)
            number = len(self.created)
        script = self.exports(body) if callable(self.exports) else self.exports[number - 1]
        with self._lock:
            self.scripts[f"e{number}"] = list(script)
        return {"id": f"e{number}", "status": "Processing"}

    def get_export(self, export_id: str) -> dict[str, t.Any]:
        with self._lock:
            self.polled.append(export_id)
            script = self.scripts.get(export_id)
            if script is None:
                raise ExportNotFound(f"GET /api/v1/report/exports/{export_id}", 404, "Not found")
            now = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(now, Exception):
            raise now
        return {"id": export_id, **now}

    def download(self, url: str, sink: t.IO[bytes]) -> int:
        with self._lock:
            self.downloaded.append(url)
            outcomes = self.files[url]
            now = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if isinstance(now, Exception):
            raise now
        sink.write(now)
        return len(now)


def settings(**extra: t.Any) -> Settings:
    base = {
        "api_token": "t0ken-value",
        "start_date": "2026-11-01T00:00:00Z",
        "poll_interval_seconds": 10,
        "export_timeout_seconds": 60,
        "max_export_attempts": 3,
    }
    return load_settings({**base, **extra})


def lifecycle(
    loop: FakeLoop, work_dir: Path, clock: FakeClock | None = None, **extra: t.Any
) -> ExportLifecycle:
    """A lifecycle over ``loop`` whose waits take no time (on ``clock``, or a new one)."""
    clock = clock or FakeClock()
    return ExportLifecycle(
        loop, settings(**extra), work_dir=work_dir, clock=clock, sleep=clock.sleep
    )
