"""What a stream has announced: kept in its state entry, so no later run announces less.

Meltano runs discovery before every run, from a fresh sample, so the catalog may say
``integer`` for a field an earlier run widened to ``number`` (schema drift). Announced
narrower, target-duckdb renames the column again and target-postgres keeps rounding. So
each stream keeps the schema it last announced in its state entry, under
:data:`STATE_KEY` (``bookmarks.<stream>.announced_schema``), and a sync widens the
catalog's schema with it before its first SCHEMA message.

- The value is one JSON string: the announced ``properties`` (the tap's own fields left
  out). A string, not an object, so that Meltano's deep merge of a failed run's state
  into the previous one (``--state-strategy merge``) replaces it whole; each run's value
  is at least as wide as the one it read, so either side of a merge is safe. Its size is
  the schema's, which ``max_object_keys`` bounds.
- Widening never narrows: a field keeps the union of the catalog's type and the stored
  one (:func:`~tap_loop.schemas.inference.merge_schemas`). A stored field the catalog
  lacks is added, unless the catalog pins fields by selection (then it is left out, as
  drift leaves new fields out).
- ``schema_overrides`` keep precedence: a field named there is announced as the override
  says, never widened by the stored schema (an override is how a user fixes a widening
  the target cannot apply); from that run on the stored schema holds the override.
- The value is written into the entry after each SCHEMA message (:func:`remember`), so
  the first STATE that carries it follows the SCHEMA that announced it. A value that is
  not readable is ignored with a warning (the run announces the catalog's schema).
"""

from __future__ import annotations

import copy
import json
import logging
import typing as t

from tap_loop.core.sdk_private import refresh_stream_maps, selected_schema, set_stream_schema
from tap_loop.schemas.build import TAP_FIELDS
from tap_loop.schemas.inference import merge_schemas
from tap_loop.schemas.row_check import describe_changes

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.mapper import PluginMapper

LOGGER = logging.getLogger("tap_loop.schema")

#: Key of the announced schema in a stream's state entry.
STATE_KEY = "announced_schema"


def remember(entry: dict[str, t.Any], schema: t.Mapping[str, t.Any]) -> None:
    """Store ``schema`` (just announced) in the stream's state ``entry``."""
    props = schema.get("properties")
    if not isinstance(props, t.Mapping):
        return
    kept = {name: node for name, node in props.items() if name not in TAP_FIELDS}
    entry[STATE_KEY] = json.dumps(kept, separators=(",", ":"), ensure_ascii=False)


def stored(entry: t.Mapping[str, t.Any], stream: str) -> dict[str, t.Any] | None:
    """The properties stored in ``entry`` (None if none, or unreadable: warned)."""
    text = entry.get(STATE_KEY)
    if text is None:
        return None
    try:
        props = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        props = None
    if not isinstance(props, dict) or not all(isinstance(v, dict) for v in props.values()):
        LOGGER.warning(
            "The state's bookmarks.%s.%s is not a JSON object of field schemas: ignored "
            "(this run announces the catalog's schema; a narrower type than an earlier "
            "run's can make the target change that column). What to do: nothing; the "
            "next STATE stores it again.",
            stream,
            STATE_KEY,
        )
        return None
    return props


def widened(
    schema: t.Mapping[str, t.Any],
    entry: t.Mapping[str, t.Any],
    stream: str,
    *,
    overrides: t.Container[str] = (),
    pinned: bool = False,
) -> tuple[dict[str, t.Any], list[str]]:
    """``schema`` widened by what ``entry`` stores, and the changes as readable lines
    (empty, and ``schema`` unchanged, if it already accepts everything announced)."""
    before = stored(entry, stream)
    props = schema.get("properties")
    if not before or not isinstance(props, t.Mapping):
        return dict(schema), []
    new = dict(props)
    for name, node in before.items():
        if name in overrides or name in TAP_FIELDS:
            continue
        if name in new:
            new[name] = merge_schemas(new[name], node)
        elif not pinned:
            new[name] = copy.deepcopy(node)
    result = {**schema, "properties": new}
    return result, describe_changes(schema, result)


def pinned(stream: Stream) -> bool:
    """True when the catalog pins the stream's fields: some field is deselected."""
    return any(not selected for crumb, selected in stream.mask.items() if len(crumb) >= 2)


def register(stream: Stream, mapper: PluginMapper, schema: dict[str, t.Any]) -> list[t.Any]:
    """Make ``schema`` the stream's and register it with the stream maps, as singer-sdk
    registers a catalog's schema (pruned by selection); returns the stream's maps, rebuilt."""
    # The general path prunes with ``stream.schema``, conforms with its effective one.
    set_stream_schema(stream, schema)
    selected = selected_schema(stream.name, schema, stream.mask)
    mapper.register_raw_stream_schema(stream.name, selected, stream.primary_keys)
    return refresh_stream_maps(stream, mapper)


def widen_stream(stream: Stream, mapper: PluginMapper, overrides: t.Container[str] = ()) -> None:
    """Before a stream's first SCHEMA message: widen its schema with what its state entry
    stores (``bookmarks.<stream.name>``), registering the wider one with the mapper."""
    schema, changes = widened(
        stream.schema,
        stream.stream_state,
        stream.name,
        overrides=overrides,
        pinned=pinned(stream),
    )
    if not changes:
        return
    for change in changes:
        LOGGER.info(
            "Stream %r: %s, as an earlier run announced (state bookmarks.%s.%s); the "
            "catalog's narrower type is not announced, so the target keeps its column",
            stream.name,
            change,
            stream.name,
            STATE_KEY,
        )
    register(stream, mapper, schema)
