"""The first SCHEMA of a sync run without a catalog, inferred from the sync's own rows.

A plain ``tap-loop --config c.json`` (no ``--catalog``) used to create and download a
sample export just to infer the schema. Instead the stream starts with the tap's own
fields, holds its SCHEMA message back, and announces it just before the first rows go
out, inferred from the first ``schema_sample_rows`` rows of the first window that has
any (read from that window's downloaded file, which is then read again to emit it).
Rows of later windows that do not fit widen the schema as usual (schema drift). A run
that emits no row announces the tap's own fields at its end.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import typing as t

from tap_loop.discovery import Sample, first_rows
from tap_loop.schema import SchemaTracker, build_schema, ensure_key_fields
from tap_loop.sdk_private import set_stream_schema

if t.TYPE_CHECKING:
    from tap_loop.export import CompletedExport
    from tap_loop.stream import ReportStream
    from tap_loop.tap import TapLoop

LOGGER = logging.getLogger("tap_loop.first_schema")


_DEFERRED: contextvars.ContextVar[bool] = contextvars.ContextVar("first_schema", default=False)


class FirstSchema:
    """Holds a stream's first SCHEMA back until its first rows are known."""

    @staticmethod
    @contextlib.contextmanager
    def deferred() -> t.Iterator[None]:
        """Within: a tap built without a catalog defers its schema (the CLI's sync).
        Elsewhere (``--discover``, a Tap object built in Python) it samples an export, so
        ``tap.streams`` and ``tap.catalog`` hold the inferred schema as singer-sdk expects."""
        token = _DEFERRED.set(True)
        try:
            yield
        finally:
            _DEFERRED.reset(token)

    @staticmethod
    def is_deferred() -> bool:
        return _DEFERRED.get()

    def __init__(self, stream: ReportStream) -> None:
        self.stream = stream
        self.pending = True

    @classmethod
    def deferred_stream(cls, tap: TapLoop) -> ReportStream:
        """The ``report`` stream of a sync without a catalog: the tap's own fields and
        the ``schema`` setting until the first rows are known."""
        from tap_loop.stream import ReportStream

        settings = tap.settings
        keys = list(settings.primary_keys or [])
        schema = build_schema(None, settings.schema_overrides)
        ensure_key_fields(schema, keys)
        stream = ReportStream(tap, schema=schema, keys=keys)
        stream.first_schema = cls(stream)
        return stream

    def before_rows(self, done: CompletedExport) -> None:
        """Called before ``done``'s rows are read: announce from them if still pending."""
        if not self.pending:
            return
        settings = self.stream.settings
        sample = Sample.of(first_rows(done.path, settings))
        if sample.rows:
            self._announce(*sample.schema_and_keys(settings, f"export of window {done.window}"))

    def finish(self) -> None:
        """The run emitted no row: announce the tap's own fields."""
        if self.pending:
            self._announce(self.stream.schema, self.stream.primary_keys)

    def _announce(self, schema: dict[str, t.Any], keys: list[str]) -> None:
        stream = self.stream
        set_stream_schema(stream, schema)
        stream.primary_keys = keys
        stream._tracker = SchemaTracker(stream)
        stream._tracker.announce()
        self.pending = False
