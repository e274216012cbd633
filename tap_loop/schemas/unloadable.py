"""Widenings the bundled targets cannot apply to an existing column.

target-postgres 0.8.1 never alters a column's type ("Altering columns is not supported.
Could not convert column ... from 'NUMERIC' to 'TEXT'"), and target-duckdb 0.8.0 maps a
type list holding ``number`` to DOUBLE even with ``string`` in it ("Could not convert
string ... to 'DOUBLE'"): a top-level field announced numeric or boolean that now also
holds strings fails the load, on this run and on every rerun. docs/schema.md says what to
do per target.
"""

from __future__ import annotations

import logging
import typing as t

from tap_loop.schemas.inference import _types_of

LOGGER = logging.getLogger("tap_loop.schema")

_SCALARS = frozenset(("integer", "number", "boolean"))


def to_string(old: t.Mapping[str, t.Any], new: t.Mapping[str, t.Any]) -> list[str]:
    """Top-level fields that ``old`` announced numeric or boolean (without string) and
    ``new`` widens to include string."""
    before = old.get("properties") or {}
    after = new.get("properties") or {}
    found = []
    for name, node in after.items():
        was = set(_types_of(before.get(name) or {}) or ())
        now = set(_types_of(node) or ())
        if was & _SCALARS and "string" not in was and "string" in now:
            found.append(name)
    return found


def warn(name: str, stream: str) -> None:
    """The WARNING of a field widened from numeric/boolean to string: which, what to do."""
    LOGGER.warning(
        "Field %r of stream %r was announced numeric or boolean and now holds a string: "
        "target-postgres cannot change the existing column's type and target-duckdb "
        "declares it DOUBLE, so loading it fails on this run and on every rerun. What to "
        'do: load it as a string with a stream map ({%r: {%r: "str(%s) if %s is not '
        'None else None"}} in stream_maps), then rebuild that column in the target '
        '(docs/schema.md, "A widening the target cannot apply").',
        name,
        stream,
        stream,
        name,
        name,
        name,
    )
