"""Exports in flight: several windows created and polled at once, results handed out in order.

:class:`ExportPipeline` runs one background job per window (at most ``max_in_flight``
windows started and not yet consumed, which also bounds the temp files on disk) and
yields each window's result strictly in window order. A window whose export keeps
failing is split in two halves, recursively, down to ``min_window_seconds``; the halves
are yielded in order too, so the caller's bookmark only ever passes whole sub-windows.
The number in flight is an :class:`~tap_loop.loop_api.budget.ExportBudget`, shared by
the pipelines of every stream of a run (one limit, one 429 back-off) or the pipeline's
own.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import typing as t

from tap_loop.core.errors import Cancelled, ExportFailed, RangeTooLarge
from tap_loop.loop_api.budget import ExportBudget
from tap_loop.loop_api.lifecycle import CompletedExport, ExportLifecycle
from tap_loop.loop_api.windows import Window

LOGGER = logging.getLogger("tap_loop.pipeline")
CLOSE_SECONDS = 1.0
"""How long :meth:`ExportPipeline.close` waits for the background jobs, all together."""


class _Job:
    """One planned window's background work and its ordered output."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.output: queue.Queue[tuple[str, t.Any]] = queue.Queue()
        self.thread: threading.Thread | None = None


class ExportPipeline:
    """Produce windows' results concurrently; hand them out in window order."""

    def __init__(
        self,
        lifecycle: ExportLifecycle,
        windows: t.Sequence[Window],
        *,
        max_in_flight: int,
        min_window_seconds: int,
        resume: dict[tuple[int, int], str] | None = None,
        on_created: t.Callable[[Window, str], None] | None = None,
        on_abandoned: t.Callable[[Window], None] | None = None,
        on_idle: t.Callable[[], None] | None = None,
        clock: t.Callable[[], float] = time.monotonic,
        budget: ExportBudget | None = None,
        name: str = "",
    ) -> None:
        self.lifecycle = lifecycle
        self.windows = windows  # read lazily: a plan may hold millions of windows
        #: The started jobs not yet consumed, in window order (at most the budget's limit,
        #: so memory does not grow with the number of windows).
        self.jobs: list[_Job] = []
        #: ``max_in_flight`` applies when the pipeline has a budget of its own.
        self.budget = budget if budget is not None else ExportBudget(max_in_flight, clock)
        self.budget.join(self)
        self.name = name  # a prefix of the job threads' names
        self.min_window_seconds = min_window_seconds
        self.resume = dict(resume or {})
        self.on_created = on_created
        self.on_abandoned = on_abandoned
        self.on_idle = on_idle
        self.started = 0
        self.consumed = 0
        self._closed = False

    @property
    def limit(self) -> int:
        """The budget's current limit of exports in flight."""
        return self.budget.limit

    @property
    def rate_limit_events(self) -> int:
        """429 answers the budget has seen."""
        return self.budget.rate_limit_events

    def rate_limited(self) -> None:
        """Called (from any thread) when Loop answers 429: the budget halves its limit."""
        self.budget.rate_limited()

    # -- scheduling -----------------------------------------------------------------------
    def _top_up(self) -> None:
        self.budget.top_up()

    def start_jobs(self) -> None:
        """Start windows in order while the budget allows (the budget calls this)."""
        while not self._closed and self.started < len(self.windows) and self.budget.take():
            job = _Job(self.windows[self.started])
            self.jobs.append(job)
            job.thread = threading.Thread(
                target=self._run,
                args=(job,),
                name=f"loop-export-{self.name}{'-' if self.name else ''}{self.started}",
                daemon=True,
            )
            job.thread.start()
            self.started += 1

    def _run(self, job: _Job) -> None:
        try:
            self._produce_tree(job, job.window)
        except BaseException as exc:  # handed to the consumer, raised in order
            job.output.put(("error", exc))
        else:
            job.output.put(("end", None))

    def _produce_tree(self, job: _Job, window: Window) -> None:
        try:
            done = self.lifecycle.produce(
                window,
                resume_id=self.resume.pop((window.start, window.end), None),
                on_created=self.on_created,
            )
        except (ExportFailed, RangeTooLarge) as exc:
            if isinstance(exc, ExportFailed) and not exc.splittable:
                raise
            if window.seconds // 2 < self.min_window_seconds:
                raise ExportFailed(
                    f"Giving up on window {window}, the smallest allowed "
                    f"('min_window_minutes'): {exc}",
                    splittable=False,
                ) from None
            LOGGER.warning("Splitting window %s in two halves after: %s", window, exc)
            if self.on_abandoned is not None:
                self.on_abandoned(window)
            for half in window.halves():
                self._produce_tree(job, half)
            return
        job.output.put(("part", done))

    def results(self) -> t.Iterator[CompletedExport]:
        """Every window's (or sub-window's) result, in window order."""
        for index in range(len(self.windows)):
            self._top_up()
            job = self.jobs[0]  # window ``index``: _top_up starts it if it was not yet
            while True:
                try:
                    kind, payload = job.output.get(timeout=0.2)
                except queue.Empty:
                    if self.on_idle is not None:
                        self.on_idle()
                    self._top_up()
                    continue
                if kind == "part":
                    yield payload
                elif kind == "end":
                    break
                else:
                    raise payload
            self.jobs.pop(0)
            self.consumed = index + 1
            self.budget.give_back()

    def close(self) -> None:
        """Stop background jobs and delete result files nobody will read.

        The lifecycle's ``cancel`` event cuts their HTTP calls and waits off (within
        0.1 s); all jobs together get :data:`CLOSE_SECONDS` to end. One still busy past
        that (in a connect or name lookup, which cannot be interrupted) is left to end
        on its own: a daemon thread that can no longer hand anything out.
        """
        self._closed = True
        self.budget.leave(self, self.started - self.consumed)
        self.lifecycle.cancel.set()
        deadline = time.monotonic() + CLOSE_SECONDS
        for job in self.jobs[: self.started]:
            if job.thread is not None:
                job.thread.join(timeout=max(0.0, deadline - time.monotonic()))
                if job.thread.is_alive():
                    LOGGER.debug("Export job %s still busy at close; left to end", job.window)
            while True:
                try:
                    kind, payload = job.output.get_nowait()
                except queue.Empty:
                    break
                if kind == "part":
                    payload.path.unlink(missing_ok=True)


__all__ = ["Cancelled", "ExportPipeline"]
