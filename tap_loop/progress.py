"""Progress of a run: one log line per window with ``k/N windows``, rows so far and an
ETA, and the ``emitted`` phase METRIC of each export (see metrics.py)."""

from __future__ import annotations

import logging
import time
import typing as t

from tap_loop.loop_api.metrics import STREAM, ExportPhases
from tap_loop.loop_api.windows import windows_ended_by

if t.TYPE_CHECKING:
    from tap_loop.loop_api.lifecycle import CompletedExport
    from tap_loop.loop_api.windows import Window

LOGGER = logging.getLogger("tap_loop.stream")


def duration(seconds: float) -> str:
    """``42 s``, ``12 min 5 s``, ``3 h 20 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Progress:
    """Counts windows and rows of one run; logs a line as each window is done."""

    def __init__(
        self,
        windows: t.Sequence[Window],
        clock: t.Callable[[], float] = time.monotonic,
        stream: str = STREAM,
        label: str = "",
    ) -> None:
        self.windows = windows  # the run's plan, never copied (it may be millions long)
        self.stream = stream
        self.label = label  # the start of each line: "" or "Report <name>: "
        self.clock = clock
        self.began = clock()
        self.rows = 0
        self._phases: ExportPhases | None = None

    def emitting(self, done: CompletedExport) -> None:
        """``done``'s rows start going out."""
        self._phases = ExportPhases(done.window, self.clock, self.stream)

    def window_done(self, done: CompletedExport, rows: int) -> None:
        """``done``'s rows are all out: METRIC ``emitted`` and the progress line."""
        if self._phases is not None:
            self._phases.done("emitted", done.export_id)
        self.rows += rows
        total = len(self.windows)
        finished = windows_ended_by(self.windows, done.window.end)
        elapsed = self.clock() - self.began
        eta = duration(elapsed / finished * (total - finished)) if finished else "unknown"
        LOGGER.info(
            "%sWindow %d/%d %s: export %s done in %.1f s, %d rows (%d so far), %d bytes; "
            "%s elapsed, ETA %s",
            self.label,
            finished,
            total,
            done.window,
            done.export_id,
            done.seconds,
            rows,
            self.rows,
            done.size,
            duration(elapsed),
            eta,
        )
