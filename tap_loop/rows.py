"""Read rows from a downloaded export file incrementally, never loading it whole.

A JSON export is one array of row objects, laid out any way (one line, a row per line,
pretty-printed). The reader reads a chunk, finds where the last complete top-level row in
its buffer ends and parses the rows before that point with one ``orjson.loads`` call,
which also validates the cut: ``[`` + those rows + ``]`` parses only when the cut falls
between two top-level rows. The row end is found by counting brackets (C loops only:
``bytes.count`` and ``rfind``), right unless a string holds unbalanced brackets; when
orjson refuses such a cut, the buffer is scanned exactly instead, strings skipped whole
by one regular expression. What was scanned without finding a row end is remembered, so a
buffer is never re-scanned or re-parsed as it grows, however long a row is or however
many nested objects it holds.
A row longer than ``MAX_BUFFER`` bytes is read with ijson's incremental parser. Memory
stays within a few chunks plus the objects of one chunk's rows, whatever the row shape.
"""

from __future__ import annotations

import io
import itertools
import re
import typing as t

import ijson
import orjson

from tap_loop.errors import DownloadError

CHUNK = 1 << 20
MAX_BUFFER = 16 << 20
_WS = b" \t\r\n"
# One structural bracket, with everything before it (strings skipped whole) consumed.
# Group 1: an opening bracket, group 2: a closing one.
_BRACKET = re.compile(
    rb'[^"\[\]{}]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"\[\]{}]*)*(?:([\[{])|([\]}]))', re.DOTALL
)
_SEPARATOR = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")


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
    buffer = buffer[1:]
    scan = _Scan()
    while True:
        rows, buffer = scan.cut(buffer)
        yield from rows
        if len(buffer) > MAX_BUFFER:
            yield from _incremental(_Chain(b"[" + scan.strip_separator(buffer), stream))
            return
        data = stream.read(CHUNK)
        if not data:
            yield from _last_rows(buffer, after_row=scan.after_row)
            return
        buffer += data


class RowFeeder:
    """Push-style reading: feed the bytes of a JSON export as they arrive, get the rows
    complete so far (a download can stop once it has enough)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._scan: _Scan | None = None

    def feed(self, data: bytes) -> list[dict[str, t.Any]]:
        """The rows completed by ``data``; raises InvalidExport if it cannot be an export."""
        self._buffer += data
        if self._scan is None:
            head = self._buffer.removeprefix(b"\xef\xbb\xbf").lstrip(_WS)
            if not head:
                return []
            if head[:1] != b"[":
                raise InvalidExport(f"the export is not a JSON array (starts with {head[:10]!r})")
            self._buffer, self._scan = head[1:], _Scan()
        rows, self._buffer = self._scan.cut(self._buffer)
        if len(self._buffer) > MAX_BUFFER:
            raise InvalidExport("a row is too long to read while downloading")
        return rows


class _Scan:
    """Cuts the complete rows off the start of a buffer that starts at a row boundary.

    Each part of the buffer is looked at once: what was scanned without finding a row
    end is remembered (as offsets into the buffer, which only grows at its end until the
    next cut), so a long row arriving in many chunks costs linear time.
    """

    def __init__(self) -> None:
        self.after_row = False  # a row was cut before: the buffer starts with a separator
        self._reset()

    def _reset(self) -> None:
        self.counted = 0  # the bracket count has no zero before this offset ...
        self.counted_depth = 0  # ... where it stands at this value
        self.distorted = False  # a string holds unbalanced brackets: the count is wrong
        self.scanned = 0  # the exact scan has found no row end before this offset ...
        self.scanned_depth = 0  # ... where the depth is this

    def cut(self, buffer: bytes) -> tuple[list[dict[str, t.Any]], bytes]:
        """The complete rows at the start of ``buffer`` and the rest of it."""
        start = self._separator_end(buffer)
        rows = None
        if not self.distorted:
            end = self._counted_end(buffer, start)
            if not end:
                return [], buffer
            rows = self._rows(buffer, start, end)
            self.distorted = rows is None
        if rows is None:
            end = self._scanned_end(buffer, start)
            if not end:
                return [], buffer
            rows = self._rows(buffer, start, end)
            if rows is None:
                raise InvalidExport("the export is not valid JSON (a corrupt row)")
        self.after_row = True
        self._reset()
        return rows, buffer[end:]

    @staticmethod
    def _rows(buffer: bytes, start: int, end: int) -> list[dict[str, t.Any]] | None:
        try:
            return _parse_array(b"[" + buffer[start:end] + b"]")
        except orjson.JSONDecodeError:
            return None

    def strip_separator(self, buffer: bytes) -> bytes:
        """``buffer`` without the ``,`` that must separate it from the row cut before."""
        return buffer[self._separator_end(buffer) :]

    def _separator_end(self, buffer: bytes) -> int:
        if not self.after_row or buffer.lstrip(_WS)[:1] in (b"", b"]"):
            return 0  # nothing more yet, or the end of the array
        match = _SEPARATOR.match(buffer)
        if match is None:
            raise InvalidExport(f"rows of the export are not separated by ',' ({buffer[:20]!r})")
        return match.end()

    def _counted_end(self, buffer: bytes, start: int) -> int:
        """After the last ``}`` where the bracket count from ``start`` returns to zero; 0
        if none. C loops only, and right unless a string holds unbalanced brackets (the
        parse that follows tells)."""
        low, depth = start, 0
        if self.counted > start:
            low, depth = self.counted, self.counted_depth
        end = len(buffer)
        depth += _net(buffer, low, end)
        self.counted, self.counted_depth = end, depth
        while True:
            close = buffer.rfind(b"}", low, end)
            if close < 0:
                return 0
            depth -= _net(buffer, close + 1, end)
            if depth == 0:
                return close + 1
            depth += 1  # step before this "}"
            end = close

    def _scanned_end(self, buffer: bytes, start: int) -> int:
        """After the last top-level row ending in ``buffer[start:]``, strings skipped
        exactly; 0 if none. Linear, but a Python step per bracket."""
        end = 0
        position, depth = start, 0
        if self.scanned > start:
            position, depth = self.scanned, self.scanned_depth
        match = _BRACKET.match
        while (found := match(buffer, position)) is not None:
            position = found.end()
            if found.lastindex == 1:
                depth += 1
                continue
            depth -= 1
            if depth == 0:
                end = position
            elif depth < 0:  # the array's own closing bracket
                break
        self.scanned, self.scanned_depth = position, depth
        return end


def _net(buffer: bytes, start: int, end: int) -> int:
    """Opening minus closing brackets in ``buffer[start:end]`` (strings not skipped)."""
    count = buffer.count
    return (
        count(b"{", start, end)
        + count(b"[", start, end)
        - count(b"}", start, end)
        - count(b"]", start, end)
    )


def _parse_array(data: bytes) -> list[t.Any]:
    """Parse a JSON array of row objects (raises orjson.JSONDecodeError if not JSON)."""
    rows = orjson.loads(data)
    for row in rows:
        if type(row) is not dict:
            raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")
    return rows


def _last_rows(buffer: bytes, *, after_row: bool) -> t.Iterator[dict[str, t.Any]]:
    """The rows left at the end of the file: ``[, ]row, row, ... ]`` and whitespace."""
    text = buffer.rstrip(_WS)
    if not text.endswith(b"]"):
        raise InvalidExport("the export ended before its closing ']' (truncated)")
    body = text[:-1].strip(_WS)
    if not body:
        return
    if after_row:
        if body[:1] != b",":
            raise InvalidExport(f"rows of the export are not separated by ',' ({body[:20]!r})")
        body = body[1:]
    try:
        rows = _parse_array(b"[" + body + b"]")
    except orjson.JSONDecodeError:
        yield from _incremental(io.BytesIO(b"[" + body + b"]"))  # precise error, or rows
        return
    yield from rows


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
