"""A report stream: Loop exports, window by window, with a crash-safe bookmark.

The stream is ``report``, or one per ``reports`` entry, named by it, each with its own
settings (:meth:`~tap_loop.config.settings.Settings.streams`); their exports are in
flight together (:mod:`tap_loop.run_exports`).

State contract (``bookmarks.<stream>``): the bookmark (``replication_key_value``) and the
exports in flight are kept by the stream's :class:`~tap_loop.state_book.StateBook` (see
:mod:`tap_loop.state_book`). The stream's part:

- It tells the book a window is done only after that window's last row has been emitted.
  Rows carry their window's end as ``_loop_window_end`` but the SDK's per-row bookmark
  update is switched off, so its periodic STATE (every ``STATE_MSG_FREQUENCY`` rows) can
  never publish a window end before that window is complete (meltano/sdk#1165).
- A SIGTERM or SIGINT stops the sync between rows: the last STATE is written again (with
  the exports in flight) and the process exits 128 + signal (:mod:`tap_loop.core.signals`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t
from pathlib import Path

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import SelectionMask
from typing_extensions import override

from tap_loop.config.declared import SETTINGS
from tap_loop.config.settings import DEFAULT_STREAM, Run, Settings
from tap_loop.core.errors import Cancelled, DownloadError
from tap_loop.core.output import LoopMessageWriter
from tap_loop.core.sdk_private import set_stream_schema, write_starting_replication_value
from tap_loop.core.signals import STOP, StopRequested
from tap_loop.first_schema import FirstSchema
from tap_loop.loop_api.budget import ExportBudget
from tap_loop.loop_api.inflight import request_fingerprint, request_identity
from tap_loop.loop_api.lifecycle import (
    MAX_INVALID_DOWNLOADS,
    CompletedExport,
    ExportLifecycle,
)
from tap_loop.loop_api.pipeline import ExportPipeline
from tap_loop.loop_api.windows import WindowPlan, plan_windows, to_epoch, to_iso
from tap_loop.progress import Progress
from tap_loop.results.json_rows import Batch, InvalidExport
from tap_loop.results.open import open_batches, rows_digest
from tap_loop.run_exports import RunExports, StreamExports
from tap_loop.schemas import announced
from tap_loop.schemas.build import build_schema, ensure_key_fields, keep_loop_fields
from tap_loop.schemas.inference import allow_deep_values
from tap_loop.schemas.tracker import SchemaTracker
from tap_loop.schemas.typed_rows import to_builtins
from tap_loop.state_book import StateBook, widened_filters

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

LOGGER = logging.getLogger("tap_loop.stream")
#: The setting behind each field of :meth:`ReportStream.request_filters`.
_SETTING = {s.filter_field: s.name for s in SETTINGS if s.filter_field} | {
    "impersonateUser": "impersonate_user"
}
WINDOW_START = "_loop_window_start"
WINDOW_END = "_loop_window_end"
EXPORT_ID = "_loop_export_id"
#: ``--test`` exports the last day before the run (or one window, if shorter).
TEST_WINDOW_SECONDS = 86400


class _RememberingMask(SelectionMask):
    """singer-sdk's selection mask, remembering what it inherits: its walk over each
    record (field selection, on the general path) looks up every level of a value, and
    an unremembered lookup climbs to the root, cubic in the depth (1,000 levels: minutes
    a row). Remembered answers are the inherited ones, so every answer is unchanged."""

    @override
    def __missing__(self, breadcrumb: tuple[str, ...]) -> bool:
        selected = super().__missing__(breadcrumb)
        self[breadcrumb] = selected
        return selected


class ReportStream(Stream):
    """Rows of Loop's raw analytics export, plus the window and export they came from."""

    name = DEFAULT_STREAM
    replication_key = WINDOW_END
    is_sorted = True
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # rows go out as Loop sent them

    def __init__(
        self,
        tap: Tap,
        run: Run,
        schema: dict[str, t.Any],
        keys: list[str] | None,
        settings: Settings | None = None,
    ) -> None:
        """``settings``: the stream's own (its name is ``settings.stream``); default: the
        run's, as the ``report`` stream."""
        self._settings = settings
        name = settings.stream if settings is not None else DEFAULT_STREAM
        super().__init__(tap, schema=schema, name=name)
        self.loop_tap = tap  # the tap this stream belongs to (singer-sdk's is private)
        self.run = run
        self._keys = list(keys or [])
        self.book = StateBook(
            lambda: self.stream_state,
            self._emit_state,
            lambda: self.replication_key,
            stream=name,
        )
        #: The run's exports, shared with the other selected streams (set by the tap).
        self.exports: RunExports | None = None
        #: ``--test``: export one short window only (see :meth:`plan`).
        self.one_short_window = False
        #: The start of the stream's log lines ("" for ``report``).
        self.label = "" if name == DEFAULT_STREAM else f"Report {name}: "
        self._tracker: SchemaTracker | None = None
        #: The fast path is reading: rows may be typed rows (Structs), not dicts.
        self._structs_out = False
        self.first_schema: FirstSchema | None = None  # set when there is no catalog

    @property  # type: ignore[explicit-override]  # mypy#15900: a property with a setter
    @override
    def primary_keys(self) -> list[str]:
        return self._keys

    @primary_keys.setter
    def primary_keys(self, value: t.Sequence[str] | None) -> None:
        self._keys = list(value or [])

    @property
    @override
    def mask(self) -> SelectionMask:
        """singer-sdk's mask, as a :class:`_RememberingMask`."""
        mask = super().mask
        if type(mask) is not _RememberingMask:
            mask = self._mask = _RememberingMask(mask)
        return mask

    @classmethod
    def without_catalog(cls, tap: Tap, run: Run, settings: Settings | None = None) -> ReportStream:
        """The stream of a sync without a catalog: the tap's own fields and the
        ``schema_overrides`` setting until the first rows are known (first_schema.py)."""
        settings = settings or run.settings
        keys = list(settings.primary_keys or [])
        schema = build_schema(None, settings.schema_overrides)
        ensure_key_fields(schema, keys)
        stream = cls(tap, run, schema=schema, keys=keys, settings=settings)
        stream.first_schema = FirstSchema(stream)
        return stream

    @property
    def settings(self) -> Settings:
        """The stream's settings: the run's, with its report's own filters."""
        return self._settings if self._settings is not None else self.run.settings

    def announce_schema(self, schema: dict[str, t.Any], keys: list[str]) -> None:
        """Make ``schema`` and ``keys`` the stream's and write its SCHEMA message (to every
        stream the stream maps make of it)."""
        set_stream_schema(self, schema)
        self.primary_keys = keys
        announced.widen_stream(self, self.loop_tap.mapper, self.settings.schema_overrides)
        self._tracker = self._new_tracker()
        self._tracker.announce()

    def _new_tracker(self) -> SchemaTracker:
        tap = self.loop_tap
        settings = self.settings
        return SchemaTracker(
            self,
            tap.mapper,
            tap.write_message,
            settings.max_object_keys,
            settings.big_integers,
        )

    # -- state ----------------------------------------------------------------------------
    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No signpost: the bookmark is set per window by this stream, never per row."""
        return None

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Disabled on purpose: see the module docstring (meltano/sdk#1165).

        A private singer-sdk override: see :mod:`tap_loop.core.sdk_private`, entry 6."""

    def _emit_state(self) -> None:
        """A STATE message now, if the state changed since the last one (singer-sdk's
        state writer skips a STATE equal to the last it wrote): the book's writer."""
        _ = self.stream_state  # the stream's entry exists, as singer-sdk ensures
        self.loop_tap.state_writer.write_state(self.tap_state)

    def _safe_point(self) -> None:
        """Stop if a signal asked to; else write a STATE carrying the current exports in
        flight of every stream (bookmarks unchanged) if they changed."""
        if STOP.signum is not None and STOP.armed:
            raise StopRequested
        if self.exports is not None:
            self.exports.flush()
        else:
            self.book.flush()

    # -- planning -------------------------------------------------------------------------
    def plan(self, now: dt.datetime) -> WindowPlan:
        """The windows this run exports: [bookmark - lookback, end] or [start_date, end]
        (a lazy plan: constant memory however many windows).

        ``end`` is ``end_date``, but never later than the run's start minus
        ``settle_minutes`` (Loop may finish computing a row after the moment it
        describes): the bookmark never passes a moment this run could not have seen."""
        settings = self.settings
        cap = to_epoch(now) - settings.settle_seconds
        end = cap
        if settings.end_date is not None:
            wanted = to_epoch(settings.end_date)
            if wanted > cap:
                LOGGER.warning(
                    "Setting 'end_date' (%s) is after the run's start minus "
                    "'settle_minutes' (%s): exporting up to %s only; later rows come in "
                    "later runs.",
                    settings.end_date.isoformat(),
                    to_iso(cap),
                    to_iso(cap),
                )
            end = min(wanted, cap)
        if self.one_short_window:  # --test: one export, whatever the state
            length = min(settings.window_seconds, TEST_WINDOW_SECONDS)
            return plan_windows(max(end - length, 0), end, length)
        start = to_epoch(settings.start_date)
        bookmark = self.book.bookmark()
        if bookmark is not None:
            if bookmark > cap:
                LOGGER.warning(
                    "The state's bookmark (%s) is after the run's start minus "
                    "'settle_minutes' (%s), probably set by an end_date in the future: rows "
                    "after %s may never have been exported. What to do: set the state's "
                    "replication_key_value back to when that run started.",
                    to_iso(bookmark),
                    to_iso(cap),
                    to_iso(cap),
                )
            start = max(start, bookmark - settings.lookback_seconds)
        return plan_windows(start, end, settings.window_seconds)

    def prepare_exports(
        self, work_dir: Path, budget: ExportBudget, cancel: threading.Event
    ) -> StreamExports:
        """This run's windows and their pipeline (nothing starts before the budget's
        next top-up): the exports saved in flight are reused, the others dropped."""
        settings = self.settings
        windows = self.plan(self.run.started)
        book = self.book
        self._check_filters()
        resume = book.saved_exports(windows, request_fingerprint(settings))
        lifecycle = ExportLifecycle.from_settings(settings, work_dir=work_dir, cancel=cancel)
        pipeline = ExportPipeline(
            lifecycle,
            windows,
            max_in_flight=settings.max_concurrent_exports,
            min_window_seconds=settings.min_window_seconds,
            resume=resume,
            on_created=book.export_created,
            on_abandoned=book.export_abandoned,
            on_idle=self._safe_point,
            budget=budget,
            name=self.name,
        )
        lifecycle.api.on_rate_limited = pipeline.rate_limited  # 429s lower the budget
        return StreamExports(windows, lifecycle, pipeline)

    def request_filters(self) -> dict[str, t.Any]:
        """What this run's exports are filtered by: ids per filter field, and the user
        impersonated (kept with the bookmark, see :mod:`tap_loop.state_book`)."""
        identity = request_identity(self.settings)
        filters = {field: identity[field] for field in self.settings.filters}
        if identity["impersonateUser"]:
            filters["impersonateUser"] = identity["impersonateUser"]
        return filters

    def _check_filters(self) -> None:
        """Warn when this run's filters admit rows the bookmark has already passed."""
        self.book.filters = self.request_filters()
        warning = self.filter_warning()
        if warning is not None:
            LOGGER.warning("%s%s", self.label, warning)

    def filter_warning(self) -> str | None:
        """What to tell the user when this run's filters admit rows the bookmark has
        already passed (rows it never exports); None when they do not (``--plan`` shows
        it too)."""
        book = self.book
        before = book.bookmark_filters()
        bookmark = book.bookmark()
        if before is None or bookmark is None or self.one_short_window:
            return None
        changes = widened_filters(before, self.request_filters())
        if not changes:
            return None
        where = (
            f"the report '{self.name}' (setting 'reports')"
            if self.name != DEFAULT_STREAM or self.settings.reports
            else "the settings"
        )
        changed = "; ".join(f"{_SETTING.get(field, field)}: {change}" for field, change in changes)
        since = to_iso(max(bookmark - self.settings.lookback_seconds, 0))
        return (
            f"The filters of {where} now admit rows the bookmark ({to_iso(bookmark)}) has "
            f"already passed ({changed}): this stream exports them only from {since} on; "
            "earlier ones are never exported. What to do: export that history as a report "
            "of its own (a new 'reports' entry with only what was added starts at "
            "start_date), or reset this stream's state (meltano state clear, or remove "
            f"bookmarks.{self.name}) to export everything again."
        )

    # -- records --------------------------------------------------------------------------
    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Rows of every window, in window order; a STATE after each window."""
        settings = self.settings
        book = self.book
        if self.exports is None:  # a stream built on its own: its exports alone
            self.exports = RunExports(lambda: [self])
        run = self.exports
        self._tracker = self._new_tracker()
        stopping = False
        failed = True
        try:
            own = run.of(self)
            windows = own.windows
            bookmark = book.bookmark()
            if not windows:
                LOGGER.info("%sNothing to export: the bookmark is already at end_date", self.label)
                if self.first_schema is not None:
                    self.first_schema.finish()
                self._emit_state()
                failed = False
                return
            LOGGER.info(
                "%sExporting %s .. %s in %d window(s) of %g day(s), up to %d in flight",
                self.label,
                windows[0].start_iso,
                windows[-1].end_iso,
                len(windows),
                settings.window_seconds / 86400,
                run.budget.limit,
            )
            STOP.arm(run.stop, self._attention)
            progress = Progress(windows, stream=self.name, label=self.label)
            for done in own.pipeline.results():
                progress.emitting(done)
                rows = yield from self._emit_window(own.lifecycle, done)
                bookmark = book.window_done(done.window, bookmark)
                progress.window_done(done, rows)
                self._safe_point()
            if self.first_schema is not None:
                self.first_schema.finish()
            failed = False
        except (StopRequested, Cancelled, Exception):
            if STOP.signum is None:
                raise
            stopping = True  # whatever the signal interrupted: stop, keep the last STATE
        finally:
            STOP.disarm()
            if failed:
                run.close()  # an error or a stop (or the generator closed early): all end
            else:
                run.done(self)
        if stopping:
            self._stop()

    def _attention(self) -> None:
        """Make the next row (or idle wait) reach a safe point that checks for a stop."""
        self.book.dirty = True

    def _stop(self) -> t.NoReturn:
        """After a SIGTERM/SIGINT: write the last valid STATE, one log line, exit 128+sig."""
        if self.exports is not None:
            self.exports.flush()
        self.book.flush(force=True)
        LOGGER.error(
            "%sStopped by %s before the end of the run (bookmark %s); the last STATE is "
            "valid and keeps the exports in flight, so the next run resumes from there.",
            self.label,
            STOP.describe(),
            self.stream_state.get("replication_key_value") or "not set",
        )
        raise SystemExit(STOP.exit_code)

    def _emit_window(
        self, lifecycle: ExportLifecycle, done: CompletedExport
    ) -> t.Generator[dict[str, t.Any], None, int]:
        """Yield ``done``'s rows decorated with their origin; return how many.

        After an unreadable file, the export downloaded again skips the rows already
        emitted only if it starts with exactly those rows (a digest of them, taken before
        the bad file goes); else, or from a new export, the whole window comes again
        (duplicates, never a lost row)."""
        emitted = 0
        taken = 0  # rows of the current file emitted (or skipped as emitted before)
        digest: bytes | None = None  # of the rows taken from the file that failed
        invalid = 0
        current = done
        book = self.book
        fmt = self.settings.result_format
        while True:
            skip = 0
            if taken and current.export_id == done.export_id:
                if rows_digest(current.path, fmt, taken) == digest:
                    skip = taken
                else:
                    LOGGER.warning(
                        "Export %s for window %s: the new download does not start with the "
                        "%d rows already emitted (its content changed); emitting the whole "
                        "window again (those rows come twice)",
                        current.export_id,
                        done.window,
                        taken,
                    )
            taken = 0
            try:
                for row in self._read_rows(current):
                    if taken < skip:
                        taken += 1
                        continue
                    if book.dirty:
                        self._safe_point()
                    yield row
                    taken += 1
                    emitted += 1
                current.path.unlink(missing_ok=True)
                return emitted
            except InvalidExport as exc:
                invalid += 1
                if invalid >= MAX_INVALID_DOWNLOADS:
                    raise DownloadError(
                        f"The export of window {done.window} was unreadable "
                        f"{invalid} times ({exc}). What to do: run again later; the "
                        "bookmark is kept before this window."
                    ) from None
                LOGGER.warning(
                    "Export %s for window %s is unreadable after %d rows (%s); downloading "
                    "it again",
                    current.export_id,
                    done.window,
                    taken,
                    exc,
                )
                digest = rows_digest(current.path, fmt, taken) if taken else None
                current = lifecycle.fetch_again(current, on_created=book.export_created)

    def _read_rows(self, done: CompletedExport) -> t.Iterator[t.Any]:
        """The rows of one result file, decorated with their window and export id."""
        if self.first_schema is not None:
            self.first_schema.before_rows(done)
        tracker = self._tracker
        typed = tracker.decode if tracker is not None else None
        yield from self._decorate(open_batches(done.path, self.settings.result_format, typed), done)

    def _decorate(self, batches: t.Iterable[Batch], done: CompletedExport) -> t.Iterator[t.Any]:
        """Add the origin fields to each row and check it against the announced schema.

        Typed rows (decoded by the tracker, so they fit) go out as they are on the fast
        path, as dicts on singer-sdk's general path. Other rows are checked one by one,
        and a wider schema is announced before the row that needs it. A field of Loop's
        named like an origin field is kept under ``_loop_source_`` + its name
        (:func:`~tap_loop.schemas.build.keep_loop_fields`), never overwritten."""
        allow_deep_values()  # rows may nest as deep as the reader accepts
        window = done.window
        origin = {
            WINDOW_START: window.start_iso,
            WINDOW_END: window.end_iso,
            EXPORT_ID: done.export_id,
        }
        for rows, typed in batches:
            tracker = self._tracker
            if typed:
                set_origin = tracker.origin_setter(origin) if tracker is not None else None
                if set_origin is not None and set_origin(rows):
                    yield from rows if self._structs_out else map(to_builtins, rows)
                    continue
                rows = [to_builtins(row) for row in rows]
            for row in rows:
                if WINDOW_START in row or WINDOW_END in row or EXPORT_ID in row:
                    row = keep_loop_fields(row)
                row.update(origin)
                if tracker is not None:
                    tracker.observe(row)
                yield row

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> t.Iterable[Context | None]:
        """None: the stream has no child streams, so the general path has no per-row
        child work (no context copy, no second evaluation of a stream map's filter)."""
        return ()

    # -- output ---------------------------------------------------------------------------
    @override
    def _write_schema_message(self) -> None:
        """Held back without a catalog until the first rows are known (first_schema.py).

        A private singer-sdk override: see :mod:`tap_loop.core.sdk_private`, entry 7."""
        if self.first_schema is None or not self.first_schema.pending:
            announced.widen_stream(self, self.loop_tap.mapper, self.settings.schema_overrides)
            super()._write_schema_message()
            announced.remember(self.stream_state, self.schema)

    def _fast_records(self) -> bool:
        """True when singer-sdk's general path would write each row unchanged, under the
        stream's own name: no stream map (alias, filter, projection), no flattening, every
        field selected, no ACTIVATE_VERSION. Only then may the fast path write the rows."""
        writer = self.loop_tap.message_writer
        maps = self.stream_maps
        return (
            isinstance(writer, LoopMessageWriter)
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            and all(self.mask.values())
            and not (
                self.replication_method == "FULL_TABLE" and self.emit_activate_version_messages
            )
        )

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> t.Generator[dict[str, t.Any], t.Any, t.Any]:
        """The hot path when nothing transforms rows: one RECORD line per row written
        straight to stdout, no per-row message objects, and the same STATE messages as the
        general path. Stream maps, flattening, field selection and record limits
        (``--test``) take singer-sdk's general path instead.

        A private singer-sdk override: see :mod:`tap_loop.core.sdk_private`, entry 5."""
        fast = write_messages and self.ABORT_AT_RECORD_COUNT is None and self._fast_records()
        LOGGER.info(
            "Records go out on the %s",
            "fast path (no stream map, flattening or field selection applies)"
            if fast
            else "singer-sdk general path (stream maps, flattening or field selection apply)",
        )
        if not fast:
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        self._structs_out = True  # rows may be typed rows: dumps writes them as dicts
        writer = t.cast("LoopMessageWriter", self.loop_tap.message_writer)
        records = writer.record_writer(self.name, dt.datetime.now(dt.UTC))
        counter, timer = self.get_record_counter(), self.get_sync_timer()
        every = self.STATE_MSG_FREQUENCY
        write_starting_replication_value(self, context)
        with counter, timer, records as write:
            index = pending = 0
            try:
                for row in self.get_records(context):
                    write(row)
                    index += 1
                    pending += 1
                    if pending == 1000:
                        counter.increment(pending)
                        pending = 0
                    if index % every == 0:
                        self._emit_state()  # the general path's periodic STATE
            finally:
                self._structs_out = False
                counter.increment(pending)
        self.finalize_state_progress_markers(self.stream_state)  # and its final STATE
