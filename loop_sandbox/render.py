"""Render an export's result to a file once, in the background, and cache it by content."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from loop_sandbox.config import ROW_OPTIONS
from loop_sandbox.rows import generate_rows

BATCH_ROWS = 4096
CONTENT_TYPES = {
    "Json": "application/json",
    "Xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class RenderSpec:
    """Everything that determines an export's content (used as the cache key)."""

    start: int
    end: int
    timezone: str = "UTC"
    result_format: str = "Json"
    tag_ids: tuple[str, ...] = ()
    team_ids: tuple[str, ...] = ()
    teammate_ids: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()
    rows_per_day: int = 96
    seed: int = 0
    drift_after: int | None = None
    bom: bool = False
    empty_as_zero_bytes: bool = False
    big_integers: bool = False
    shuffled_keys: bool = False
    edge_values: bool = False
    custom_fields: int = 0
    deep_nesting: int = 0
    tap_named_fields: bool = False
    warehouse_shapes: bool = False
    numbers_between: tuple[int, int] | None = None
    given_values: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def rows(self, *, fresh: bool = False) -> Iterator[dict[str, Any]]:
        """The rows this export contains."""
        return generate_rows(
            self.start,
            self.end,
            timezone=self.timezone,
            tag_ids=self.tag_ids,
            team_ids=self.team_ids,
            teammate_ids=self.teammate_ids,
            customer_ids=self.customer_ids,
            fresh=fresh,
            **{name: getattr(self, name) for name in ROW_OPTIONS},
        )

    def filters(self) -> dict[str, list[str]]:
        """Filters in the API's camelCase naming."""
        return {
            "tagIds": list(self.tag_ids),
            "teamIds": list(self.team_ids),
            "teammateIds": list(self.teammate_ids),
            "customerIds": list(self.customer_ids),
        }


@dataclass
class Rendering:
    """One result file being (or having been) rendered."""

    spec: RenderSpec
    path: Path
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    rows: int = 0
    size: int = 0
    seconds: float = 0.0

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.spec.result_format]


#: A Decimal's JSON text, marked while the stdlib writes the rest (see :func:`_dumps`).
_DECIMAL = re.compile(r'"\\u0000D:([-+0-9.eE]+)\\u0000"')


def _mark_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"\0D:{value}\0"
    raise TypeError(f"not JSON: {type(value).__name__}")


def _dumps(rows: list[dict[str, Any]], edge_values: bool = False, decimals: bool = False) -> bytes:
    """JSON text of ``rows``; with ``decimals``, a ``Decimal`` is written as its own
    digits, unrounded."""
    if decimals:
        text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False, default=_mark_decimal)
        return _DECIMAL.sub(r"\1", text).encode()
    if edge_values:  # lone surrogates as \\u escapes, infinities as 1e400 / -1e400
        return json.dumps(rows, separators=(",", ":")).replace(":Infinity", ":1e400").encode()
    try:
        return orjson.dumps(rows)
    except TypeError:  # integers beyond 64 bits, nesting deeper than orjson writes (254)
        if sys.getrecursionlimit() < 10_000:
            sys.setrecursionlimit(10_000)  # the stdlib's writer: a level of it per level
        return json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()


def write_json(spec: RenderSpec, path: Path) -> int:
    """Write a compact JSON array of the spec's rows (batched orjson); return row count.

    ``spec.bom``: a UTF-8 byte order mark first; ``spec.empty_as_zero_bytes``: an
    export without rows is a 0-byte file instead of ``[]``.
    """
    count = 0
    with open(path, "wb", buffering=1 << 20) as out:
        if spec.bom:
            out.write(b"\xef\xbb\xbf")
        out.write(b"[")
        batch: list[dict[str, Any]] = []
        for row in spec.rows():
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                if count:
                    out.write(b",\n")
                out.write(memoryview(_dumps(batch, spec.edge_values, spec.warehouse_shapes))[1:-1])
                count += len(batch)
                batch.clear()
        if batch:
            if count:
                out.write(b",\n")
            out.write(memoryview(_dumps(batch, spec.edge_values, spec.warehouse_shapes))[1:-1])
            count += len(batch)
        out.write(b"]")
    if count == 0 and spec.empty_as_zero_bytes:
        path.write_bytes(b"")
    return count


class RenderCache:
    """Renders each distinct spec once into a private temp directory."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._own = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="loop-sandbox-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._items: dict[RenderSpec, Rendering] = {}

    def get(self, spec: RenderSpec) -> Rendering:
        """Return the rendering for ``spec``, starting a background render if new."""
        with self._lock:
            item = self._items.get(spec)
            if item is None:
                suffix = ".xlsx" if spec.result_format == "Xlsx" else ".json"
                path = self.directory / f"result-{len(self._items):05d}{suffix}"
                item = self._items[spec] = Rendering(spec, path)
                threading.Thread(target=self._render, args=(item,), daemon=True).start()
            return item

    def _render(self, item: Rendering) -> None:
        began = time.perf_counter()
        try:
            if item.spec.result_format == "Xlsx":
                from loop_sandbox.xlsx import write_xlsx

                item.rows = write_xlsx(item.spec.rows, item.path)
            else:
                item.rows = write_json(item.spec, item.path)
            item.size = item.path.stat().st_size
        except Exception as exc:  # reported as a Failed export
            item.error = f"{type(exc).__name__}: {exc}"
        item.seconds = time.perf_counter() - began
        item.done.set()

    def close(self) -> None:
        """Forget all renderings and delete the files (the directory too if we made it)."""
        with self._lock:
            items, self._items = list(self._items.values()), {}
        for item in items:
            item.path.unlink(missing_ok=True)
        if self._own:
            shutil.rmtree(self.directory, ignore_errors=True)
