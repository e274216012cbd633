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

from tap_loop.results.open import first_rows
from tap_loop.schemas.sample import Sample

if t.TYPE_CHECKING:
    from tap_loop.config.settings import Settings
    from tap_loop.loop_api.lifecycle import CompletedExport

LOGGER = logging.getLogger("tap_loop.first_schema")


_DEFERRED: contextvars.ContextVar[bool] = contextvars.ContextVar("first_schema", default=False)


class SchemaOwner(t.Protocol):
    """What the first schema needs of its stream."""

    @property
    def settings(self) -> Settings: ...

    @property
    def schema(self) -> dict[str, t.Any]: ...

    @property
    def primary_keys(self) -> t.Sequence[str] | None: ...

    def announce_schema(self, schema: dict[str, t.Any], keys: list[str]) -> None:
        """Make ``schema`` and ``keys`` the stream's and write its SCHEMA message."""


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

    def __init__(self, stream: SchemaOwner) -> None:
        self.stream = stream
        self.pending = True

    def before_rows(self, done: CompletedExport) -> None:
        """Called before ``done``'s rows are read: announce from them if still pending."""
        if not self.pending:
            return
        settings = self.stream.settings
        rows = first_rows(done.path, settings.result_format, settings.schema_sample_rows)
        sample = Sample.of(rows)
        if sample.rows:
            self._announce(*sample.schema_and_keys(settings, f"export of window {done.window}"))

    def finish(self) -> None:
        """The run emitted no row: announce the tap's own fields."""
        if self.pending:
            self._announce(self.stream.schema, list(self.stream.primary_keys or []))

    def _announce(self, schema: dict[str, t.Any], keys: list[str]) -> None:
        self.stream.announce_schema(schema, keys)
        self.pending = False
