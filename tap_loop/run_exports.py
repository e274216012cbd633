"""The exports of one run: every selected stream's pipeline, over one budget.

singer-sdk syncs streams one after another. When the first stream's sync begins,
:class:`RunExports` plans every selected stream (in the order they are synced) and gives
each its pipeline, all sharing one :class:`~tap_loop.loop_api.budget.ExportBudget`
(``max_concurrent_exports``, one 429 back-off) and one work folder: while a stream's rows
are emitted, the slots it no longer needs create and poll the next streams' first
windows. Each stream still emits its own windows in order, and moves only its own
bookmark (state_book.py); a STATE written by any stream carries every stream's exports in
flight, so a killed run resumes them all.
"""

from __future__ import annotations

import threading
import typing as t
from dataclasses import dataclass

from tap_loop.core.workdir import WorkDir
from tap_loop.loop_api.budget import ExportBudget

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_loop.config.settings import Settings
    from tap_loop.loop_api.lifecycle import ExportLifecycle
    from tap_loop.loop_api.pipeline import ExportPipeline
    from tap_loop.loop_api.windows import WindowPlan
    from tap_loop.state_book import StateBook


@dataclass
class StreamExports:
    """One stream's part of the run: its planned windows, lifecycle and pipeline."""

    windows: WindowPlan
    lifecycle: ExportLifecycle
    pipeline: ExportPipeline


class ExportingStream(t.Protocol):
    """What the run needs of a stream."""

    @property
    def name(self) -> str: ...

    @property
    def book(self) -> StateBook: ...

    @property
    def settings(self) -> Settings: ...

    def prepare_exports(
        self, work_dir: Path, budget: ExportBudget, cancel: threading.Event
    ) -> StreamExports:
        """Plan the stream's windows and build its pipeline (nothing starts yet)."""


class RunExports:
    """The exports of the selected streams (in sync order) for one run."""

    def __init__(self, selected: t.Callable[[], t.Sequence[ExportingStream]]) -> None:
        """``selected()``: the streams the run syncs, in order (asked on first use, once
        the catalog has selected them)."""
        self._selected = selected
        self.streams: list[ExportingStream] = []
        self.budget = ExportBudget(1)
        self._work: WorkDir | None = None
        self._prepared: dict[str, StreamExports] = {}
        self._cancels: list[threading.Event] = []
        self._closed = False

    def of(self, stream: ExportingStream) -> StreamExports:
        """``stream``'s exports; on the first call every stream's are prepared."""
        if not self._prepared:
            self.streams = list(self._selected())
            if stream not in self.streams:
                self.streams.insert(0, stream)
            self.budget = ExportBudget(stream.settings.max_concurrent_exports)
            self._work = WorkDir.create("tap-loop-")  # removes dead runs' folders first
            for index, each in enumerate(self.streams):
                folder = self._work.path / f"stream-{index}"  # never named by the stream
                folder.mkdir()
                cancel = threading.Event()
                self._cancels.append(cancel)
                self._prepared[each.name] = each.prepare_exports(folder, self.budget, cancel)
        return self._prepared[stream.name]

    def stop(self) -> None:
        """Cut every stream's calls and waits off (a signal handler may call this)."""
        for cancel in self._cancels:
            cancel.set()

    def flush(self) -> None:
        """Write a STATE if any stream's exports in flight changed."""
        for stream in self.streams:
            stream.book.flush()

    def done(self, stream: ExportingStream) -> None:
        """``stream``'s rows are all out: close its pipeline (the last stream's closes
        the run)."""
        exports = self._prepared.get(stream.name)
        if exports is not None:
            exports.pipeline.close()
        if stream is self.streams[-1]:
            self.close()

    def close(self) -> None:
        """Stop every pipeline, delete what nobody will read, remove the work folder."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        for exports in self._prepared.values():
            exports.pipeline.close()
        if self._work is not None:
            self._work.remove()
