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
from singer_sdk.mapper import RemoveRecordTransform

from tap_loop.row_check import SchemaGuard
from tap_loop.sdk_private import refresh_stream_maps, selected_schema, set_stream_schema

if t.TYPE_CHECKING:
    from tap_loop.stream import ReportStream

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


def ensure_key_fields(schema: dict[str, t.Any], keys: list[str]) -> None:
    """Key properties must be schema properties; a key the sample never showed is a string
    until rows say otherwise (drift widens it)."""
    properties = schema.setdefault("properties", {})
    for key in keys:
        properties.setdefault(key, {"type": ["string", "null"]})


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
    """Keeps the announced schema in step with the rows (drift → new SCHEMA message).

    A row that fits is left alone (the hot path: one guard check). A row with a new
    field, or a value whose type the schema does not allow, widens the schema and a new
    SCHEMA message goes out before that row, so targets add or widen the column. When
    the catalog pins fields (some are deselected), new fields are left out instead, and
    each is logged once.
    """

    def __init__(self, stream: ReportStream) -> None:
        self.stream = stream
        self.guard = SchemaGuard(stream.effective_schema)
        self.schema = self.guard.schema
        mask = stream.mask
        self.pinned = any(
            not selected for breadcrumb, selected in mask.items() if len(breadcrumb) >= 2
        )
        self._told: set[str] = set()

    def decode(self, text: bytes) -> list[t.Any] | None:
        """The rows of a chunk's JSON array text as typed rows if they all fit the
        announced schema, else None (then they are parsed into dicts and observed)."""
        typed = self.guard.typed
        return None if typed is None else typed.decode(text)

    def origin_setter(self, origin: dict[str, str]) -> t.Callable[[list[t.Any]], None] | None:
        """Sets the tap's origin fields on typed rows, if those values fit the schema."""
        typed = self.guard.typed
        if typed is None or not self.guard.check(origin):
            return None
        return typed.setter(origin)

    def observe(self, row: dict[str, t.Any]) -> bool:
        """Check one row; widen and announce when it does not fit.

        Returns True when the row itself was changed (fields left out of a pinned catalog).
        """
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
        changes = self.guard.changes(row)
        self.schema = self.guard.widen(row)
        for change in changes:
            self._tell(change, "Schema drift: %s; announcing a wider schema")
        self.announce()
        return changed

    def _tell(self, key: str, message: str) -> None:
        if key not in self._told:
            self._told.add(key)
            LOGGER.warning(message, key)

    def announce(self) -> None:
        """Write the current schema, before the row that needed it, to every stream the
        stream maps make of ``report`` (aliases, projections, flattening), as they
        transform it, through singer-sdk's public mapper API."""
        stream = self.stream
        tap = stream.loop_tap
        schema = self.schema  # the guard's copy, owned by this tracker
        # The general path prunes with ``stream.schema``, conforms with its effective one.
        set_stream_schema(stream, schema)
        # Pruned as singer-sdk pruned the catalog's schema when it registered it.
        selected = selected_schema(stream.name, schema, stream.mask)
        tap.mapper.register_raw_stream_schema(stream.name, selected, stream.primary_keys)
        maps = refresh_stream_maps(stream, tap.mapper)
        bookmark_keys = [stream.replication_key] if stream.replication_key else None
        for stream_map in maps:
            if isinstance(stream_map, RemoveRecordTransform):
                continue  # singer-sdk sends no SCHEMA for a stream whose rows all go
            tap.write_message(
                singer.SchemaMessage(
                    stream_map.stream_alias,
                    stream_map.transformed_schema,
                    stream_map.transformed_key_properties,
                    bookmark_keys,
                )
            )
