"""The run's budget of exports in flight, shared by every stream's pipeline.

One ``max_concurrent_exports`` and one 429 back-off for the whole run: when Loop answers
429 the number in flight halves, and grows back by one after a quiet period, whichever
stream's call met it. Pipelines are served in the order their streams are synced: the
stream being emitted starts its next windows first, and a slot it does not need (all its
windows are started) goes to the next stream's first windows, which are then created and
polled while the current stream's rows go out.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

LOGGER = logging.getLogger("tap_loop.pipeline")
QUIET_PERIOD_SECONDS = 60.0


class BudgetUser(t.Protocol):
    """A pipeline as the budget sees it."""

    def start_jobs(self) -> None:
        """Start as many of its windows as :meth:`ExportBudget.take` allows."""


class ExportBudget:
    """Exports started and not yet consumed, across pipelines (used from the thread that
    consumes results; :meth:`rate_limited` from any thread)."""

    def __init__(self, max_in_flight: int, clock: t.Callable[[], float] = time.monotonic) -> None:
        self.max_in_flight = max(1, max_in_flight)
        self.limit = self.max_in_flight
        self.in_flight = 0
        self.clock = clock
        self.rate_limit_events = 0
        self.users: list[BudgetUser] = []  # in the order their streams are synced
        self._lock = threading.Lock()
        self._last_429 = -1e18
        self._last_change = -1e18

    def join(self, user: BudgetUser) -> None:
        """``user`` shares the budget, after the users already there."""
        self.users.append(user)

    def leave(self, user: BudgetUser, unconsumed: int) -> None:
        """``user`` is closed; its ``unconsumed`` started jobs no longer count."""
        if user in self.users:
            self.users.remove(user)
        self.in_flight = max(0, self.in_flight - unconsumed)

    def take(self) -> bool:
        """One more export may start now (counted until :meth:`give_back`)."""
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def give_back(self) -> None:
        """A started job's results were all consumed."""
        self.in_flight = max(0, self.in_flight - 1)

    def top_up(self) -> None:
        """Raise the limit after a quiet period, then start jobs, pipeline by pipeline."""
        self._maybe_raise_limit()
        for user in list(self.users):
            user.start_jobs()

    # -- rate limiting ---------------------------------------------------------------------
    def rate_limited(self) -> None:
        """Called (from any thread) when Loop answers 429: halve the number in flight."""
        with self._lock:
            now = self.clock()
            self.rate_limit_events += 1
            self._last_429 = now
            if self.limit > 1 and now - self._last_change > 2.0:
                old, self.limit = self.limit, max(1, self.limit // 2)
                self._last_change = now
                LOGGER.warning(
                    "Loop answered 429 Too Many Requests: exports in flight lowered %d -> %d",
                    old,
                    self.limit,
                )

    def _maybe_raise_limit(self) -> None:
        with self._lock:
            now = self.clock()
            if (
                self.limit < self.max_in_flight
                and now - self._last_429 > QUIET_PERIOD_SECONDS
                and now - self._last_change > QUIET_PERIOD_SECONDS
            ):
                old, self.limit = self.limit, self.limit + 1
                self._last_change = now
                LOGGER.info(
                    "No 429 for a while: exports in flight raised %d -> %d", old, self.limit
                )
