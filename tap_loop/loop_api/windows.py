"""Export windows: the time ranges one export covers, in epoch seconds, both ends included.

A run's plan (:func:`plan_windows`) is lazy: a window exists only while it is used, so
planning ten years of six-minute windows costs no memory and no time."""

from __future__ import annotations

import bisect
import datetime as dt
import typing as t
from collections.abc import Sequence
from dataclasses import dataclass

from typing_extensions import override


def to_epoch(moment: dt.datetime) -> int:
    """Whole epoch seconds of an aware datetime (fractions are dropped)."""
    return int(moment.timestamp() // 1)


def to_iso(epoch: int) -> str:
    """ISO 8601 UTC text of epoch seconds, e.g. ``2026-11-01T00:00:00+00:00``."""
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat()


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


class WindowPlan(Sequence[Window]):
    """The windows cutting ``[start, end]`` into ``window_seconds``, ascending, computed on
    demand: constant memory whatever their number (a window is made when it is read).

    A read-only sequence (``len``, indexing, negative indexes, iteration); equal to any
    sequence holding the same windows. :meth:`find` locates a window by its bounds.
    """

    __slots__ = ("end", "start", "step")

    def __init__(self, start: int, end: int, window_seconds: int) -> None:
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self.start = start
        self.end = max(start, end)
        self.step = window_seconds

    @override
    def __len__(self) -> int:
        return -(-(self.end - self.start) // self.step)

    @t.overload
    def __getitem__(self, index: int) -> Window: ...

    @t.overload
    def __getitem__(self, index: slice) -> list[Window]: ...

    @override
    def __getitem__(self, index: int | slice) -> Window | list[Window]:
        count = len(self)
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(count))]
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("window index out of range")
        lower = self.start + index * self.step
        return Window(lower, min(lower + self.step, self.end))

    @override
    def __iter__(self) -> t.Iterator[Window]:
        for lower in range(self.start, self.end, self.step):
            yield Window(lower, min(lower + self.step, self.end))

    @override
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so not hashable

    @override
    def __repr__(self) -> str:
        return f"WindowPlan({self.start}, {self.end}, {self.step}: {len(self)} windows)"

    def find(self, start: int, end: int) -> Window | None:
        """The planned window ``[start, end]``, or None if this plan has no such window."""
        offset = start - self.start
        if offset < 0 or offset % self.step or start >= self.end:
            return None
        window = self[offset // self.step]
        return window if window.end == end else None

    def ended_by(self, moment: int) -> int:
        """How many windows end at or before ``moment``."""
        count = len(self)
        if moment >= self.end:
            return count
        return max(0, min(count - 1, (moment - self.start) // self.step))


def plan_windows(start: int, end: int, window_seconds: int) -> WindowPlan:
    """Cut ``[start, end]`` into consecutive windows of ``window_seconds``, ascending.

    Adjacent windows share their boundary second (Loop includes both ends), so a row at
    exactly that second can be delivered twice. An empty range gives no windows. The plan
    is lazy (:class:`WindowPlan`): millions of windows take no more memory than one.
    """
    return WindowPlan(start, end, window_seconds)


def find_window(windows: Sequence[Window], start: int, end: int) -> Window | None:
    """The window ``[start, end]`` of an ascending sequence of windows, or None; a
    :class:`WindowPlan` answers in constant time, another sequence by bisection."""
    if isinstance(windows, WindowPlan):
        return windows.find(start, end)
    index = bisect.bisect_left(windows, start, key=lambda window: window.start)
    if index < len(windows) and windows[index] == Window(start, end):
        return windows[index]
    return None


def windows_ended_by(windows: Sequence[Window], moment: int) -> int:
    """How many of an ascending sequence of windows end at or before ``moment``."""
    if isinstance(windows, WindowPlan):
        return windows.ended_by(moment)
    return bisect.bisect_right(windows, moment, key=lambda window: window.end)
