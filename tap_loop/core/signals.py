"""SIGTERM and SIGINT: stop at a safe point, keep the last valid STATE, exit 128 + signal.

singer-sdk's own handler exits 0, so an orchestrator stopping a job would record a
success for an unfinished range. Here, while a sync is running (``armed``), a signal only
sets a flag and calls the registered callbacks (they stop new exports); the sync checks
:attr:`StopSignal.signum` between rows and while waiting, writes its STATE and raises
``SystemExit(128 + signal)``. Outside a sync, or on a second signal, the process exits at
once with the same code.
"""

from __future__ import annotations

import logging
import signal
import threading
import typing as t

LOGGER = logging.getLogger("tap_loop")


class StopRequested(BaseException):
    """Raised at a safe point of the sync once a stop signal arrived."""


class StopSignal:
    """What a SIGTERM/SIGINT asked for, and who to tell."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.armed = False
        self._callbacks: list[t.Callable[[], None]] = []

    def install(self) -> None:
        """Take over SIGTERM and SIGINT (main thread only, as Python requires)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for name in ("SIGTERM", "SIGINT"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self._handle)

    def arm(self, *callbacks: t.Callable[[], None]) -> None:
        """A sync is running: signals now stop it at its next safe point."""
        self._callbacks = list(callbacks)
        self.armed = True

    def disarm(self) -> None:
        self.armed = False
        self._callbacks = []

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or 0)

    def describe(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a signal"

    def _handle(self, signum: int, frame: t.Any) -> None:
        first = self.signum is None
        self.signum = signum
        if first and self.armed:
            for callback in self._callbacks:
                callback()
            return
        LOGGER.error(
            "Stopped by %s before the end of the run; the last STATE written is valid, "
            "the next run resumes from there.",
            self.describe(),
        )
        raise SystemExit(self.exit_code)


STOP = StopSignal()
