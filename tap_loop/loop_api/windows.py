"""Export windows: the time ranges one export covers, in epoch seconds, both ends included."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from typing_extensions import override


def to_epoch(moment: dt.datetime) -> int:
    """Whole epoch seconds of an aware datetime (fractions are dropped)."""
    return int(moment.timestamp() // 1)


def to_iso(epoch: int) -> str:
    """ISO 8601 UTC text of epoch seconds, e.g. ``2026-11-01T00:00:00+00:00``."""
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).isoformat()


@dataclass(frozen=True, order=True)
class Window:
    """One export's time range: ``start`` and ``end`` are both included (Loop's contract)."""

    start: int
    end: int

    @property
    def start_iso(self) -> str:
        return to_iso(self.start)

    @property
    def end_iso(self) -> str:
        return to_iso(self.end)

    @property
    def seconds(self) -> int:
        return self.end - self.start

    def halves(self) -> tuple[Window, Window]:
        """Two consecutive windows covering this one; they share the middle second."""
        middle = self.start + (self.end - self.start) // 2
        return Window(self.start, middle), Window(middle, self.end)

    @override
    def __str__(self) -> str:
        return f"[{self.start_iso} .. {self.end_iso}]"


def plan_windows(start: int, end: int, window_seconds: int) -> list[Window]:
    """Cut ``[start, end]`` into consecutive windows of ``window_seconds``, ascending.

    Adjacent windows share their boundary second (Loop includes both ends), so a row at
    exactly that second can be delivered twice. An empty range gives no windows.
    """
    if window_seconds <= 0:
        raise ValueError("window_seconds must be positive")
    windows: list[Window] = []
    cursor = start
    while cursor < end:
        upper = min(cursor + window_seconds, end)
        windows.append(Window(cursor, upper))
        cursor = upper
    return windows
