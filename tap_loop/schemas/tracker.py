"""Schema drift: keeps a stream's announced schema in step with the rows it emits.

A row that does not fit the announced schema widens it, and a new SCHEMA message goes
out (to every stream the stream maps make of it) before that row. A row without a value
for a key property the schema declares required and non-null stops the run
(:class:`MissingKey`): widening would announce a nullable primary key.
"""

from __future__ import annotations

import logging
import typing as t

from singer_sdk import singerlib as singer
from singer_sdk.mapper import RemoveRecordTransform

from tap_loop.core.errors import LoopTapError
from tap_loop.schemas import announced, unloadable
from tap_loop.schemas.inference import big_integer_note, required_fields
from tap_loop.schemas.row_check import SchemaGuard, fits

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.mapper import PluginMapper

LOGGER = logging.getLogger("tap_loop.schema")


class MissingKey(LoopTapError):
    """A row has no value (missing or null) for a required, non-null key property."""


class SchemaTracker:
    """Keeps the announced schema in step with the rows (drift → new SCHEMA message).

    A row that fits is left alone (the hot path: one guard check). A row with a new
    field, or a value whose type the schema does not allow, widens the schema and a new
    SCHEMA message goes out before that row, so targets add or widen the column. When
    the catalog pins fields (some are deselected), new fields are left out instead, and
    each is logged once.
    """

    def __init__(
        self,
        stream: Stream,
        mapper: PluginMapper,
        write_message: t.Callable[[singer.Message], None],
        max_object_keys: int | None = None,
        big_integers: str | None = None,
    ) -> None:
        """``max_object_keys``, ``big_integers``: those settings (see
        :class:`~tap_loop.schemas.row_check.SchemaGuard`)."""
        self.stream = stream
        self.mapper = mapper
        self.write_message = write_message
        self.big_integers = big_integers or "string"
        self.guard = SchemaGuard(stream.effective_schema, max_object_keys, big_integers)
        self.schema = self.guard.schema
        self.pinned = announced.pinned(stream)
        self._told: set[str] = set()

    def decode(self, text: bytes | bytearray) -> list[t.Any] | None:
        """The rows of a chunk's JSON array text as typed rows if they all fit the
        announced schema, else None (then they are parsed into dicts and observed)."""
        typed = self.guard.typed
        return None if typed is None else typed.decode(text)

    def origin_setter(self, origin: dict[str, str]) -> t.Callable[[list[t.Any]], bool] | None:
        """Sets the tap's origin fields on typed rows, if those values fit the schema
        (None if not); the setter answers False, changing nothing, when a row already
        has one of them (a field of Loop's, to be kept under another name)."""
        typed = self.guard.typed
        if typed is None or not self.guard.check(origin):
            return None
        return typed.setter(origin)

    def observe(self, row: dict[str, t.Any]) -> bool:
        """Check one row; widen and announce when it does not fit.

        Returns True when the row itself was changed (fields left out of a pinned catalog).
        Integers beyond 64 bits re-declare their field first (the ``big_integers``
        setting), and a string of digits field's integers become strings.
        """
        if self.guard.declares:
            self._declare(row)
        if self.guard.check(row):
            return False
        changed = False
        if self.pinned:
            for name in self.guard.unknown_fields(row):
                del row[name]
                changed = True
                self._tell(
                    name,
                    "Field %r is not in the catalog, whose fields are pinned by selection: "
                    "left out on purpose (select it, or re-run discovery, to load it)",
                )
            if self.guard.check(row):
                return changed
        self._check_keys(row)
        changes = self.guard.changes(row)
        before, self.schema = self.schema, self.guard.widen(row)
        for change in changes:
            self._tell(change, "Schema drift: %s; announcing a wider schema")
        for name in unloadable.to_string(before, self.schema):
            unloadable.warn(name, self.stream.name)
        self.announce()
        if self.guard.declares:
            self._declare(row)  # a new field's first value may be beyond 64 bits
        return changed

    def _declare(self, row: dict[str, t.Any]) -> None:
        """The row's values as declared; its integer fields that meet an integer beyond 64
        bits declared by the setting first (announced, with a warning once)."""
        big = self.guard.declare(row)
        if not big:
            return
        self.schema = self.guard.redeclare(big)
        for name in big:
            self._tell(big_integer_note(name, self.big_integers), "Schema: %s")
        self.guard.declare(row)
        self.announce()

    def _check_keys(self, row: dict[str, t.Any]) -> None:
        """Raise :class:`MissingKey` if the row lacks a value for a required key property
        whose schema refuses null."""
        props = self.schema.get("properties") or {}
        for key in required_fields(self.schema):
            if row.get(key) is None and (key not in row or not fits(props.get(key), None)):
                where = row.get("_loop_export_id")
                raise MissingKey(
                    f"A row{f' of export {where}' if where else ''} has no value for key "
                    f"property {key!r} ({'missing' if key not in row else 'null'}); the "
                    "schema declares it required and non-null, as targets make it the "
                    "primary key. What to do: set primary_keys to fields every row has."
                )

    def _tell(self, key: str, message: str) -> None:
        if key not in self._told:
            self._told.add(key)
            LOGGER.warning(message, key)

    def announce(self) -> None:
        """Write the current schema, before the row that needed it, to every stream the
        stream maps make of ``report`` (aliases, projections, flattening), as they
        transform it, through singer-sdk's public mapper API."""
        stream = self.stream
        schema = self.schema  # the guard's copy, owned by this tracker
        maps = announced.register(stream, self.mapper, schema)
        bookmark_keys = [stream.replication_key] if stream.replication_key else None
        for stream_map in maps:
            if isinstance(stream_map, RemoveRecordTransform):
                continue  # singer-sdk sends no SCHEMA for a stream whose rows all go
            self.write_message(
                singer.SchemaMessage(
                    stream_map.stream_alias,
                    stream_map.transformed_schema,
                    stream_map.transformed_key_properties,
                    bookmark_keys,
                )
            )
        announced.remember(stream.stream_state, schema)  # the next STATE carries it
