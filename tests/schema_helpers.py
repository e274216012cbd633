"""Test-only views of a SchemaGuard: what a row would change, without widening the guard."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tap_loop.schemas.row_check import SchemaGuard, _changes


def widened(guard: SchemaGuard, row: Mapping[str, Any]) -> dict[str, Any]:
    """The guard's schema widened to fit the row; the guard is left unchanged."""
    return copy.deepcopy(guard._widened(row))


def new_fields(guard: SchemaGuard, row: Mapping[str, Any]) -> list[str]:
    """Paths (``a.b``, ``list[].c``) of the row's fields unknown to the schema, any depth."""
    if guard.check(row):
        return []
    out: list[tuple[str, str, str]] = []
    _changes(guard.schema, guard._widened(row), "", out)
    return [path for kind, path, _ in out if kind == "added"]
