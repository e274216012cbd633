"""Read rows from a downloaded export file incrementally, never loading it whole.

A JSON export is one array of row objects. Exports are commonly written one row per
line; when they are, each line is parsed with orjson (the fast path). The moment a line
is not exactly one whole row (pretty-printed, several rows per line, or a very long
line), the rest of the file is read with ijson's incremental parser instead. Both paths
give the same rows: a physical line never splits a JSON string, so at each line start the
reader sits between two top-level elements, which makes the switch safe.
"""

from __future__ import annotations

import io
import itertools
import typing as t

import ijson
import orjson

from tap_loop.errors import DownloadError

MAX_FAST_LINE = 4 << 20  # longer lines (e.g. a compact one-line export) go to ijson


class InvalidExport(DownloadError):
    """The export file is not a valid JSON array of objects (truncated or corrupt)."""


def iter_json_rows(stream: t.BinaryIO) -> t.Iterator[dict[str, t.Any]]:
    """Yield each row object of the JSON array in ``stream``; raise InvalidExport if bad."""
    for row, _raw in iter_json_rows_raw(stream):
        yield row


def iter_json_rows_raw(stream: t.BinaryIO) -> t.Iterator[tuple[dict[str, t.Any], bytes | None]]:
    """Like :func:`iter_json_rows`, with each row's own JSON text when the fast path read it
    (``None`` from the incremental parser), so a writer can pass the bytes on unchanged."""
    head = _skip_whitespace(stream)
    if head != b"[":
        if head == b"":
            raise InvalidExport("the export file is empty")
        raise InvalidExport(f"the export is not a JSON array (starts with {head!r})")
    yield from _rows_after_bracket(stream)


def _skip_whitespace(stream: t.BinaryIO) -> bytes:
    while True:
        char = stream.read(1)
        if char not in (b" ", b"\n", b"\r", b"\t") or char == b"":
            return char


def _rows_after_bracket(
    stream: t.BinaryIO,
) -> t.Iterator[tuple[dict[str, t.Any], bytes | None]]:
    loads = orjson.loads
    readline = stream.readline
    line_start_pieces: list[bytes] = []
    emitted = False
    while True:
        line = readline(MAX_FAST_LINE)
        if not line:
            raise InvalidExport("the export ended before its closing ']' (truncated)")
        text = line.strip()
        if not text:
            continue
        if text == b"]":
            _expect_end(stream)
            return
        closing = False
        if text[:1] == b"," and emitted:
            text = text[1:].lstrip()
            line = line.replace(b",", b"", 1)
            if not text:
                continue
            if text == b"]":
                _expect_end(stream)
                return
        if text[-1:] == b",":
            text = text[:-1].rstrip()
        elif text[-1:] == b"]" and text[:1] == b"{":
            text, closing = text[:-1].rstrip(), True
        if text[:1] == b"{" and text[-1:] == b"}" and line.endswith(b"\n") or closing:
            try:
                row = loads(text)
            except orjson.JSONDecodeError:
                row = None
            if isinstance(row, dict):
                emitted = True
                yield row, text
                if closing:
                    _expect_end(stream)
                    return
                continue
        line_start_pieces.append(line)
        break
    # Slow path: from this line on, an incremental parser reads the rest of the array.
    rest = _Chain(b"[" + b"".join(line_start_pieces), stream)
    try:
        for row in ijson.items(rest, "item", use_float=True):
            if not isinstance(row, dict):
                raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")
            yield row, None
    except ijson.common.IncompleteJSONError as exc:
        raise InvalidExport(f"the export is not valid JSON: {str(exc)[:200]}") from None
    except ijson.common.JSONError as exc:
        raise InvalidExport(f"the export is not valid JSON: {str(exc)[:200]}") from None


def _expect_end(stream: t.BinaryIO) -> None:
    tail = stream.read(64).strip()
    if tail:
        raise InvalidExport(f"unexpected data after the export's closing ']': {tail[:20]!r}")


class _Chain(io.RawIOBase):
    """A readable byte stream: ``prefix`` then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: t.BinaryIO) -> None:
        self._parts = itertools.chain([prefix], iter(lambda: stream.read(1 << 16), b""))
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
