"""``tap-loop --config c.json [--state s.json] [--catalog c.json] --plan[=SECONDS]``.

What a run with this config and state would do now, per stream, in sync order (with a
catalog, the selected streams only): its range (first window's start .. last window's
end), how many windows, how many exports it would resume from the state's
``exports_in_flight`` (the sync's rule: :func:`~tap_loop.loop_api.inflight.reusable_exports`
with the stream's request fingerprint), how many it would create, the stream's warning
when its filters admit rows its bookmark has passed, and an estimate of API calls and
wall time, then the run's totals.

Nothing is created: no API call at all (no discovery sample either: a stream the catalog
lacks gets the tap's own fields, as in the CLI's sync without a catalog), no STATE
message, the state is only read. The windows are counted, never listed, so a plan of a
ten-year backfill of six-minute windows costs nothing. The plan is text for a person on
stdout, not Singer messages: it is no data for a target, and a target must never take
it for a run's output (a STATE from it would look like a finished run).

The estimate (assumptions printed with it):

- ``P``: Loop's processing time of one export. Loop does not document it, so it is an
  assumption: :data:`PROCESSING_SECONDS` (the figure the backfill benchmark assumes), or
  ``--plan=SECONDS``.
- ``I``: ``poll_interval_seconds``; ``C``: ``max_concurrent_exports``, one budget shared
  by every stream of the run.
- A created export is checked ``I`` after its creation, then every ``I``: it is seen
  ``Completed`` at check ``k = max(1, ceil(P / I))``, ``L = k * I`` after it was created.
- A resumed export is assumed finished while the tap was away: one status check, no wait.
- API calls of a stream: ``created`` creates, ``k * created + resumed`` status checks,
  ``created + resumed`` downloads.
- Wall time: exports start in sync order, ``C`` at a time, so the rows of the run's
  first ``n`` created exports are out after about ``ceil(n / C) * L``; a stream's figure
  is that of the created exports up to its own last one, the run's that of all of them.
- Not counted: downloading and emitting rows (the target's speed), retries, 429 back-off
  (it halves ``C`` for a while), exports Loop fails or forgets (created again), windows
  split after failures.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import math
import sys
import typing as t
from dataclasses import dataclass

from tap_loop.core.errors import LoopTapError
from tap_loop.loop_api.inflight import IN_FLIGHT, request_fingerprint, reusable_exports
from tap_loop.loop_api.windows import WindowPlan, to_iso
from tap_loop.state_book import check_state

if t.TYPE_CHECKING:
    from tap_loop.stream import ReportStream

#: The assumed processing time of one export (Loop does not document it; the README's
#: backfill benchmark assumes the same), unless ``--plan=SECONDS`` gives another.
PROCESSING_SECONDS = 25.0
#: The value of a bare ``--plan``.
DEFAULT = "-"
_PLANNING: contextvars.ContextVar[bool] = contextvars.ContextVar("planning", default=False)


@contextlib.contextmanager
def planning() -> t.Iterator[None]:
    """Within: the tap is planning; a stream the catalog lacks is built without a
    discovery sample (the tap checks :func:`is_planning`)."""
    token = _PLANNING.set(True)
    try:
        yield
    finally:
        _PLANNING.reset(token)


def is_planning() -> bool:
    return _PLANNING.get()


def read_json(file: t.IO[str] | None, what: str) -> dict[str, t.Any] | None:
    """The JSON object of the ``--state`` or ``--catalog`` file click opened (closed here);
    a file that is not one stops with one line (a state: :func:`check_state`'s)."""
    if file is None:
        return None
    name = getattr(file, "name", "")
    try:
        with file:
            value = json.loads(file.read())
    except (OSError, ValueError) as exc:
        raise LoopTapError(
            f"The --{what} file {name} is not readable JSON ({exc}). What to do: fix the "
            f"file, or run without --{what}."
        ) from None
    if what == "state":
        check_state(value)
    if not isinstance(value, dict):
        raise LoopTapError(f"The --{what} file {name} is not a JSON object. What to do: fix it.")
    return value


def processing_seconds(value: str) -> float:
    """The processing time ``--plan[=SECONDS]`` asks to assume."""
    if value == DEFAULT:
        return PROCESSING_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise LoopTapError(
            f"Option --plan={value} is invalid: expected the seconds Loop takes to process "
            "one export, e.g. --plan=60 (a bare --plan assumes "
            f"{PROCESSING_SECONDS:g} s)."
        )
    return seconds


@dataclass(frozen=True)
class Assumptions:
    """What the estimate assumes (see the module docstring)."""

    processing_seconds: float
    poll_interval_seconds: float
    max_concurrent_exports: int

    @property
    def checks(self) -> int:
        """Status checks of a created export, the one that sees it ``Completed`` included."""
        rounds = self.processing_seconds / self.poll_interval_seconds
        return max(1, math.ceil(rounds - 1e-9))  # 0.3 / 0.1 is 2.9999999999999996

    @property
    def export_seconds(self) -> float:
        """From a created export's creation to the status check that sees it done."""
        return self.checks * self.poll_interval_seconds

    def seconds_for(self, created: int) -> float:
        """About how long until the rows of ``created`` exports are out."""
        return -(-created // max(1, self.max_concurrent_exports)) * self.export_seconds


@dataclass(frozen=True)
class Calls:
    """API calls: export creations, status checks, downloads."""

    creates: int = 0
    polls: int = 0
    downloads: int = 0

    @property
    def total(self) -> int:
        return self.creates + self.polls + self.downloads

    def __add__(self, other: Calls) -> Calls:
        return Calls(
            self.creates + other.creates,
            self.polls + other.polls,
            self.downloads + other.downloads,
        )

    @classmethod
    def of(cls, created: int, resumed: int, assumptions: Assumptions) -> Calls:
        return cls(created, assumptions.checks * created + resumed, created + resumed)


@dataclass(frozen=True)
class StreamPlan:
    """What a run would do for one stream."""

    name: str
    windows: WindowPlan
    window_seconds: int
    bookmark: int | None
    resumed: int
    #: Saved exports in flight the run would not reuse (the log says why).
    dropped: int
    warning: str | None

    @property
    def created(self) -> int:
        return len(self.windows) - self.resumed


def plan_stream(stream: ReportStream, now: dt.datetime) -> StreamPlan:
    """The plan of ``stream`` for a run starting ``now``: its state is only read."""
    settings = stream.settings
    windows = stream.plan(now)  # lazy: counted, never listed
    saved = stream.stream_state.get(IN_FLIGHT)
    bookmark = stream.book.bookmark()
    keep = reusable_exports(saved, windows, bookmark, request_fingerprint(settings))
    total = len(saved) if isinstance(saved, dict) else int(saved is not None)
    return StreamPlan(
        name=stream.name,
        windows=windows,
        window_seconds=settings.window_seconds,
        bookmark=bookmark,
        resumed=len(keep),
        dropped=total - len(keep),
        warning=stream.filter_warning(),
    )


def write_plan(
    streams: t.Sequence[ReportStream],
    skipped: t.Sequence[str],
    now: dt.datetime,
    processing: float,
) -> str:
    """Plan ``streams`` (the selected ones, in sync order), print the plan; return it."""
    plans = [plan_stream(stream, now) for stream in streams]
    settings = streams[0].settings if streams else None
    assumptions = Assumptions(
        processing,
        settings.poll_interval_seconds if settings else 0.0,
        settings.max_concurrent_exports if settings else 1,
    )
    text = render(plans, assumptions, skipped, now)
    sys.stdout.write(text)
    sys.stdout.flush()
    return text


def render(
    plans: t.Sequence[StreamPlan],
    assumptions: Assumptions,
    skipped: t.Sequence[str],
    now: dt.datetime,
) -> str:
    """The plan as text (see the module docstring for the estimate)."""
    lines = [
        f"tap-loop plan of a run starting {now.isoformat()}: nothing was created, no API "
        "call was made."
    ]
    if not plans:
        lines.append("No stream is selected: a run would export nothing.")
    else:
        a = assumptions
        lines += [
            "Assumptions of the estimate:",
            f"  Loop processes one export in {_duration(a.processing_seconds)} (Loop does not "
            "document it; --plan=SECONDS assumes another time)",
            f"  poll_interval_seconds {a.poll_interval_seconds:g}: a created export is seen done "
            f"at status check {a.checks}, {_duration(a.export_seconds)} after its creation; a "
            "resumed one at its first check",
            f"  max_concurrent_exports {a.max_concurrent_exports}: one budget for all streams",
            "  not counted: downloading and emitting rows, retries, 429 back-off, exports Loop "
            "fails or forgets",
        ]
    created = 0
    total = Calls()
    for plan in plans:
        lines += ["", f"Stream {plan.name}:"]
        lines.append(
            f"  bookmark: {to_iso(plan.bookmark)}"
            if plan.bookmark is not None
            else "  bookmark: none (starts at start_date)"
        )
        windows = plan.windows
        if not windows:
            lines.append("  nothing to export")
        else:
            lines.append(f"  range: {windows[0].start_iso} .. {windows[-1].end_iso}")
            lines.append(f"  windows: {len(windows)} of {_length(plan.window_seconds)}")
        dropped = f" ({plan.dropped} saved not reusable: the log says why)" if plan.dropped else ""
        lines.append(f"  exports resumed from the state: {plan.resumed}{dropped}")
        lines.append(f"  exports created: {plan.created}")
        calls = Calls.of(plan.created, plan.resumed, assumptions)
        total += calls
        lines.append(f"  API calls: {_calls(calls)}")
        if windows:
            created += plan.created
            when = assumptions.seconds_for(created)
            lines.append(
                f"  rows all out about {_duration(when)} into the run"
                if when
                else "  rows all out at once (every export resumed)"
            )
        if plan.warning is not None:
            lines.append(f"  WARNING: {plan.warning}")
    if skipped:
        lines += ["", "Not selected in the catalog: " + ", ".join(skipped)]
    if plans:
        lines += [
            "",
            f"Run: {len(plans)} stream(s), {sum(len(p.windows) for p in plans)} window(s), "
            f"{sum(p.resumed for p in plans)} export(s) resumed, {created} created; "
            f"API calls: {_calls(total)}; wall time about "
            f"{_duration(assumptions.seconds_for(created))}.",
        ]
    return "\n".join(lines) + "\n"


def _calls(calls: Calls) -> str:
    return (
        f"{calls.total} ({calls.creates} creates, {calls.polls} status checks, "
        f"{calls.downloads} downloads)"
    )


def _length(seconds: int) -> str:
    days = seconds / 86400
    return f"{days:g} day(s)" if days == int(days) else _duration(seconds)


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 04 h``."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"
