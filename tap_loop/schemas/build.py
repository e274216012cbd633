"""The report stream's schema: the tap's own fields, inferred fields and overrides.

- :func:`base_schema` holds the fields the tap adds to every row.
- :func:`build_schema` combines inferred fields, the user's ``schema`` overrides and the
  tap's fields into the schema discovery announces.
- :func:`choose_keys` picks the key properties (``primary_keys``, else an ``id`` field);
  :func:`with_keys` declares them non-null and ``required`` (targets make them the
  primary key), and a row without a value for one stops the run (``schemas/tracker.py``).
- :func:`keep_loop_fields`: a field of Loop's named like one of the tap's fields is kept
  under :func:`source_name` (``_loop_source_`` + its name), in schemas and rows alike.
"""

from __future__ import annotations

import copy
import logging
import typing as t

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


#: Prefix of the name a Loop field named like one of the tap's fields is kept under.
SOURCE_PREFIX = "_loop_source_"


def source_name(name: str, taken: t.Container[str] = ()) -> str:
    """The name Loop's field ``name`` (one of the tap's field names) is kept under:
    ``_loop_source_`` + ``name`` (``_loop_source__loop_window_end``), the prefix repeated
    while that name is in ``taken`` (Loop's other fields)."""
    name = SOURCE_PREFIX + name
    while name in taken or name in TAP_FIELDS:
        name = SOURCE_PREFIX + name
    return name


def keep_loop_fields(fields: dict[str, t.Any]) -> dict[str, t.Any]:
    """``fields`` (a row, or schema properties, of Loop's) with each one named like a
    tap's field renamed by :func:`source_name`, in place in the order; ``fields`` itself
    when none is."""
    if TAP_FIELDS.keys().isdisjoint(fields):
        return fields
    return {
        (source_name(key, fields) if key in TAP_FIELDS else key): value
        for key, value in fields.items()
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
        properties.update(keep_loop_fields(copy.deepcopy(inferred.get("properties", {}))))
    for name, definition in (overrides or {}).items():
        properties[name] = copy.deepcopy(definition)
    properties.update(copy.deepcopy(TAP_FIELDS))
    return {"type": "object", "properties": properties}


def ensure_key_fields(schema: dict[str, t.Any], keys: list[str]) -> None:
    """Key properties must be schema properties, declared non-null and ``required``: both
    bundled targets make them the primary key. A key the sample never showed is a string
    until rows say otherwise (drift widens it, never to null)."""
    properties = schema.setdefault("properties", {})
    for key in keys:
        node = properties.setdefault(key, {"type": "string"})
        properties[key] = non_null(node, key)
    if keys:
        schema["required"] = list(dict.fromkeys([*schema.get("required", ()), *keys]))


def non_null(node: dict[str, t.Any], name: str) -> dict[str, t.Any]:
    """The key property ``name``'s schema without ``null`` (a copy; ``node`` if it has none).

    A key seen only as null in the sample (a ``primary_keys`` the user set) has no other
    type: it is declared a string, with a warning, since every row needs a value for it."""
    kind = node.get("type")
    names = [kind] if isinstance(kind, str) else list(kind or ())
    if "null" not in names:
        return node
    names.remove("null")
    if not names:
        LOGGER.warning(
            "Key property %r was null in every row of the sample; it is declared a "
            "non-null string, and a row without a value for it stops the run. What to "
            "do: set primary_keys to fields every row has.",
            name,
        )
        names = ["string"]
    return {**node, "type": names[0] if len(names) == 1 else names}


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


def with_keys(schema: dict[str, t.Any], keys: list[str]) -> tuple[dict[str, t.Any], list[str]]:
    """``schema`` (with every key a property, see :func:`ensure_key_fields`) and ``keys``."""
    ensure_key_fields(schema, keys)
    return schema, keys
