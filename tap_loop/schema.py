"""The report stream's schema: the tap's own fields, inferred fields, overrides, and drift.

- :func:`base_schema` holds the fields the tap adds to every row.
- :func:`build_schema` combines inferred fields, the user's ``schema`` overrides and the
  tap's fields into the schema discovery announces.
- :func:`choose_keys` picks the key properties (``primary_keys``, else an ``id`` field).
- :class:`SchemaTracker` watches emitted rows: a row that does not fit the announced
  schema widens it, and a new SCHEMA message goes out before that row.
"""

from __future__ import annotations

import copy
import logging
import typing as t

from singer_sdk import singerlib as singer

from tap_loop.schema_infer import SchemaGuard, merge_schemas

if t.TYPE_CHECKING:
    from singer_sdk import Stream

LOGGER = logging.getLogger("tap_loop.schema")

TAP_FIELDS: dict[str, dict[str, t.Any]] = {
    "_loop_window_start": {
        "type": ["string"],
        "format": "date-time",
        "description": "Start of the export window this row came from (UTC, included).",
    },
    "_loop_window_end": {
        "type": ["string"],
        "format": "date-time",
        "description": "End of the export window this row came from (UTC, included); "
        "the stream's replication key.",
    },
    "_loop_export_id": {
        "type": ["string"],
        "description": "Id of the Loop export this row was downloaded from.",
    },
}


def base_schema() -> dict[str, t.Any]:
    """The schema before anything is known of Loop's fields: the tap's own fields only."""
    return {"type": "object", "properties": copy.deepcopy(TAP_FIELDS)}


def build_schema(
    inferred: dict[str, t.Any] | None, overrides: dict[str, dict[str, t.Any]] | None
) -> dict[str, t.Any]:
    """Inferred properties, then the user's overrides (replace or add), then the tap's."""
    properties: dict[str, t.Any] = {}
    if inferred:
        properties.update(copy.deepcopy(inferred.get("properties", {})))
    for name, definition in (overrides or {}).items():
        properties[name] = copy.deepcopy(definition)
    properties.update(copy.deepcopy(TAP_FIELDS))
    return {"type": "object", "properties": properties}


def choose_keys(
    schema: dict[str, t.Any], primary_keys: list[str] | None, non_null_fields: set[str]
) -> list[str]:
    """``primary_keys`` if set; else a top-level ``id`` (any case) never null in the sample."""
    if primary_keys:
        return list(primary_keys)
    for name in schema.get("properties", {}):
        if name.lower() == "id" and name in non_null_fields:
            return [name]
    LOGGER.warning(
        "No key property: the export sample has no never-null 'id' field and "
        "'primary_keys' is not set. Rows at a window's boundary second (and rows re-read "
        "by lookback or after a resume) may be loaded twice; set primary_keys so "
        "targets can dedupe."
    )
    return []


class SchemaTracker:
    """Keeps the announced schema in step with the rows (drift → new SCHEMA message)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.schema = copy.deepcopy(stream.schema)
        self.guard = SchemaGuard(self.schema)
        mask = stream.mask
        self.pinned = {
            name
            for name in self.schema.get("properties", {})
            if not mask[("properties", name)]
        }
        self._told: set[str] = set()

    def observe(self, row: dict[str, t.Any]) -> None:
        """Check one row (the hot path); widen and announce when it does not fit."""
        if self.guard.check(row):
            return
        if self.pinned:
            for name in self.pinned & row.keys():
                del row[name]
            if self.guard.check(row):
                return
        new_fields = self.guard.new_fields(row)
        widened = self.guard.widen(row)
        merged = merge_schemas(self.schema, widened)
        merged["properties"].update(copy.deepcopy(TAP_FIELDS))
        self.schema = merged
        self.guard = SchemaGuard(self.schema)
        fresh = [name for name in new_fields if name not in self._told]
        self._told.update(fresh)
        if fresh:
            LOGGER.warning("Schema drift: new field(s) %s; announcing a wider schema", fresh)
        else:
            LOGGER.warning("Schema drift: a value no longer fits its type; widening the schema")
        self.announce()

    def announce(self) -> None:
        """Write a SCHEMA message with the current schema (before the row that needed it)."""
        stream = self.stream
        stream._schema = self.schema  # type: ignore[attr-defined]
        if getattr(stream, "_input_schema", None) is not None:
            stream._input_schema = self.schema  # type: ignore[attr-defined]
        for stream_map in stream.stream_maps:
            if hasattr(stream_map, "transformed_schema") and stream_map.stream_alias == stream.name:
                stream_map.transformed_schema = self.schema
        stream._tap.write_message(
            singer.SchemaMessage(
                stream.name,
                self.schema,
                stream.primary_keys,
                [stream.replication_key] if stream.replication_key else None,
            )
        )
