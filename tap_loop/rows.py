"""Read rows from a downloaded export file incrementally, never loading it whole.

A JSON export is one array of row objects, laid out any way (one line, a row per line,
pretty-printed). The fast path reads a chunk, cuts it just after the last row that
ends in it, and parses that run of rows with one ``orjson.loads`` call. A cut is only
tried where a ``}`` is followed by ``,`` and ``{`` (whitespace allowed), and orjson
validates it: ``[`` + the text before the cut + ``]`` parses only when the cut falls
between two top-level rows (inside a string or a nested value it leaves something
unclosed). When no cut works within ``MAX_BUFFER`` bytes (a huge row) the rest is read
with ijson's incremental parser. Memory stays within a few chunks either way.
"""

from __future__ import annotations

import io
import itertools
import typing as t

import ijson
import orjson

from tap_loop.errors import DownloadError

CHUNK = 1 << 20
MAX_BUFFER = 64 << 20
MAX_TRIES = 6
_WS = b" \t\r\n"


class InvalidExport(DownloadError):
    """The export file is not a valid JSON array of objects (truncated or corrupt)."""


def iter_json_rows(stream: t.BinaryIO) -> t.Iterator[dict[str, t.Any]]:
    """Yield each row object of the JSON array in ``stream``; raise InvalidExport if bad."""
    first = stream.read(CHUNK)
    buffer = first.lstrip(_WS)
    if buffer[:1] != b"[":
        if not first.strip(_WS):
            raise InvalidExport("the export file is empty")
        raise InvalidExport(f"the export is not a JSON array (starts with {buffer[:10]!r})")
    buffer = buffer[1:].lstrip(_WS)
    while True:
        data = stream.read(CHUNK)
        if not data:
            yield from _last_rows(buffer)
            return
        buffer += data
        cut = _cut(buffer)
        if cut is not None:
            rows, rest = cut
            yield from rows
            buffer = rest
        elif len(buffer) > MAX_BUFFER:
            yield from _incremental(_Chain(b"[" + buffer, stream))
            return


def _cut(buffer: bytes) -> tuple[list[dict[str, t.Any]], bytes] | None:
    """Parse the complete rows at the start of ``buffer``; None if no valid cut found."""
    end = len(buffer)
    for _ in range(MAX_TRIES):
        close = buffer.rfind(b"}", 0, end)
        if close <= 0:
            return None
        end = close
        after = close + 1
        while after < len(buffer) and buffer[after] in _WS:
            after += 1
        if after >= len(buffer) or buffer[after] != 0x2C:  # ","
            continue
        after += 1
        while after < len(buffer) and buffer[after] in _WS:
            after += 1
        if after >= len(buffer) or buffer[after] != 0x7B:  # "{"
            continue
        try:
            rows = orjson.loads(b"[" + buffer[: close + 1] + b"]")
        except orjson.JSONDecodeError:
            continue
        _check_objects(rows)
        return rows, buffer[after:]
    return None


def _last_rows(buffer: bytes) -> t.Iterator[dict[str, t.Any]]:
    """The rows left at the end of the file: ``row, row, ... ]`` and whitespace."""
    text = buffer.rstrip(_WS)
    if not text.endswith(b"]"):
        raise InvalidExport("the export ended before its closing ']' (truncated)")
    body = text[:-1].rstrip(_WS)
    if not body:
        return
    try:
        rows = orjson.loads(b"[" + body + b"]")
    except orjson.JSONDecodeError:
        yield from _incremental(io.BytesIO(b"[" + body + b"]"))  # precise error, or rows
        return
    _check_objects(rows)
    yield from rows


def _check_objects(rows: list[t.Any]) -> None:
    for row in rows:
        if type(row) is not dict:
            raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")


def _incremental(stream: t.BinaryIO) -> t.Iterator[dict[str, t.Any]]:
    try:
        for row in ijson.items(stream, "item", use_float=True):
            if not isinstance(row, dict):
                raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")
            yield row
    except ijson.common.JSONError as exc:
        raise InvalidExport(f"the export is not valid JSON: {str(exc)[:200]}") from None


class _Chain(io.RawIOBase):
    """A readable byte stream: ``prefix`` then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: t.BinaryIO) -> None:
        self._parts = itertools.chain([prefix], iter(lambda: stream.read(CHUNK), b""))
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            try:
                self._buffer = next(self._parts)
            except StopIteration:
                return b""
        if size < 0 or size >= len(self._buffer):
            chunk, self._buffer = self._buffer, b""
        else:
            chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk

    def readinto(self, target: bytearray) -> int:  # type: ignore[override]
        chunk = self.read(len(target))
        target[: len(chunk)] = chunk
        return len(chunk)
