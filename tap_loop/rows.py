"""Read rows from a downloaded export file incrementally, never loading it whole.

A JSON export is one array of row objects, laid out any way (one line, a row per line,
pretty-printed). The fast path reads a chunk, cuts it just after the last row that
ends in it, and parses that run of rows with one ``orjson.loads`` call. A cut is only
tried where a ``}`` is followed by ``,`` and ``{`` (whitespace allowed), and orjson
validates it: ``[`` + the text before the cut + ``]`` parses only when the cut falls
between two top-level rows (inside a string or a nested value it leaves something
unclosed). When no cut works within ``MAX_BUFFER`` bytes (a huge row) the rest is read
with ijson's incremental parser. Memory stays within a few chunks either way.

Tolerated: a UTF-8 byte order mark before the array (RFC 8259 lets parsers ignore it),
and an empty (0-byte or blank) file, read as an export without rows. Integers beyond
64 bits keep their exact value on both paths (see :func:`_parse_array`).
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import typing as t

import ijson
import orjson

from tap_loop.errors import DownloadError

LOGGER = logging.getLogger("tap_loop.rows")
CHUNK = 1 << 20
MAX_BUFFER = 64 << 20
MAX_TRIES = 6
_WS = b" \t\r\n"
BOM = b"\xef\xbb\xbf"
# orjson is exact for integers in [-2**63, 2**64); beyond, it silently returns a float.
# Such a literal has at least 19 digits: digits map to "0", everything else to " ".
_LONG_DIGITS = b"0" * 19
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))


class InvalidExport(DownloadError):
    """The export file is not a valid JSON array of objects (truncated or corrupt)."""


def iter_json_rows(stream: t.BinaryIO) -> t.Iterator[dict[str, t.Any]]:
    """Yield each row object of the JSON array in ``stream``; raise InvalidExport if bad."""
    first = stream.read(CHUNK)
    if first.startswith(BOM):
        LOGGER.info("The export starts with a UTF-8 byte order mark: ignored")
        first = first[len(BOM) :]
    buffer = first.lstrip(_WS)
    if buffer[:1] != b"[":
        if not buffer:
            LOGGER.info("The export file is empty (%d bytes): a window without rows", len(first))
            return
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
            rows = _parse_array(b"[" + buffer[: close + 1] + b"]")
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
        rows = _parse_array(b"[" + body + b"]")
    except orjson.JSONDecodeError:
        yield from _incremental(io.BytesIO(b"[" + body + b"]"))  # precise error, or rows
        return
    _check_objects(rows)
    yield from rows


def _parse_array(data: bytes) -> list[t.Any]:
    """Parse one JSON array (a run of rows); integers keep their exact value.

    orjson validates and parses; it turns integers outside [-2**63, 2**64) into floats,
    so when ``data`` holds a run of 19 or more digits (cheap to find) the stdlib parser,
    exact for any integer, parses it again. Raises ``orjson.JSONDecodeError`` if invalid.
    """
    rows = orjson.loads(data)
    if _LONG_DIGITS in data.translate(_DIGITS_ONLY):
        rows = json.loads(data)
    return t.cast("list[t.Any]", rows)


def _check_objects(rows: list[t.Any]) -> None:
    for row in rows:
        if type(row) is not dict:
            raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")


def _incremental(stream: t.BinaryIO) -> t.Iterator[dict[str, t.Any]]:
    """Rows read by ijson's C parser; its integers end at 2**63, so on an integer
    overflow the stream is read again from where it started with ijson's pure-Python
    parser (exact for any integer, slower), skipping the rows already given."""
    start = _position(stream)
    given = 0
    try:
        for row in _ijson_rows(stream, ijson):
            yield row
            given += 1
    except InvalidExport as exc:
        if "integer overflow" not in str(exc):
            raise
        if start is None:
            raise InvalidExport(
                "the export holds an integer beyond 64 bits in a row too large to re-read"
            ) from None
        stream.seek(start)
        for row in itertools.islice(_ijson_rows(stream, _EXACT_IJSON), given, None):
            yield row


_EXACT_IJSON = ijson.get_backend("python")


def _position(stream: t.BinaryIO) -> int | None:
    try:
        return stream.tell() if stream.seekable() else None
    except (OSError, ValueError):
        return None


def _ijson_rows(stream: t.BinaryIO, backend: t.Any) -> t.Iterator[dict[str, t.Any]]:
    try:
        for row in backend.items(stream, "item", use_float=True):
            if not isinstance(row, dict):
                raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")
            yield row
    except ijson.common.JSONError as exc:
        raise InvalidExport(f"the export is not valid JSON: {str(exc)[:200]}") from None


class _Chain(io.RawIOBase):
    """A readable byte stream: ``prefix`` then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: t.BinaryIO) -> None:
        self._prefix, self._stream = prefix, stream
        self._origin = _position(stream)
        self._rewind()

    def _rewind(self) -> None:
        stream = self._stream
        self._parts = itertools.chain([self._prefix], iter(lambda: stream.read(CHUNK), b""))
        self._buffer = b""
        self._read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._origin is not None

    def tell(self) -> int:
        return self._read

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only back to the start (to re-read with another parser)."""
        if offset != 0 or whence != 0 or self._origin is None:
            raise io.UnsupportedOperation("can only rewind to the start")
        self._stream.seek(self._origin)
        self._rewind()
        return 0

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
        self._read += len(chunk)
        return chunk

    def readinto(self, target: bytearray) -> int:  # type: ignore[override]
        chunk = self.read(len(target))
        target[: len(chunk)] = chunk
        return len(chunk)
