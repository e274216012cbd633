"""Read rows from a downloaded export file incrementally, never loading it whole.

A JSON export is one array of row objects, laid out any way (one line, a row per line,
pretty-printed). The reader reads a chunk, finds where the last complete top-level row in
its buffer ends and decodes the rows before that point in one call: as typed rows when
the caller gives a typed decoder (:mod:`tap_loop.schemas.typed_rows`, which also checks them)
and they all fit, else with ``orjson.loads``. Either validates the cut: ``[`` + those
rows + ``]`` parses only when the cut falls between two top-level rows. The row end is
found by counting braces (C loops only: ``bytes.count`` and ``rfind``), right unless a
string holds unbalanced braces; when orjson refuses such a cut, the buffer is scanned
exactly instead, strings skipped whole
by one regular expression. What was scanned without finding a row end is remembered, so a
buffer is never re-scanned or re-parsed as it grows, however long a row is or however
many nested objects it holds.
A row longer than ``MAX_BUFFER`` bytes is read with ijson's incremental parser. Memory
stays within a few chunks plus the objects of one chunk's rows, whatever the row shape.

Tolerated: a UTF-8 byte order mark before the array (RFC 8259 lets parsers ignore it),
and an empty (0-byte or blank) file, read as an export without rows. Numbers keep
their value on every path (:mod:`tap_loop.results.numbers`): integers of any size, and
a number a float cannot hold (``9007199254740993.0``) as a ``Decimal`` of its digits.

Valid JSON that orjson, msgspec and yajl refuse or change is read too (:func:`_parse_edge`,
and the exact ijson backend for long rows): a number beyond a float's range (``1e400``)
becomes a ``Decimal`` of exactly its digits (written back as a JSON number, ``1E+400``),
and a lone UTF-16 surrogate escape (``"\\ud83d"``, half of an emoji cut off) becomes
U+FFFD, counted per field (:class:`Replaced`) and logged once per file read.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
import typing as t
from collections import Counter
from decimal import Decimal

import ijson
import msgspec
import orjson
from typing_extensions import override

from tap_loop.core.errors import DownloadError
from tap_loop.results.numbers import exact_number, lossy_hint

if t.TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK = 1 << 20
LOGGER = logging.getLogger("tap_loop.rows")
MAX_BUFFER = 16 << 20
_WS = b" \t\r\n"
BOM = b"\xef\xbb\xbf"
#: The untyped msgspec decoder that keeps every number exact (see _parse_array).
_exact_decode = msgspec.json.Decoder(float_hook=exact_number).decode
# One structural bracket, with everything before it (strings skipped whole) consumed.
# Group 1: an opening bracket, group 2: a closing one.
_BRACKET = re.compile(
    rb'[^"\[\]{}]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"\[\]{}]*)*(?:([\[{])|([\]}]))', re.DOTALL
)
_SEPARATOR = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")
# What may make valid JSON unreadable to orjson (a cheap test before the exact parse):
# a surrogate escape, a 3-digit exponent, a run of 300 digits.
_EDGE_HINT = re.compile(rb"\\u[dD][89a-fA-F]|[eE][+-]?[0-9]{3}|[0-9]{300}")
# A surrogate escape that is not half of a pair (a cheap test on long rows).
_LONE_HINT = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidExport(DownloadError):
    """The export file is not a valid JSON array of objects (truncated or corrupt)."""


#: Typed decoding of a chunk's JSON array text: its rows if all fit, else None.
TypedDecode = t.Callable[[bytes | bytearray], "list[t.Any] | None"]


class Batch(t.NamedTuple):
    """Consecutive rows of an export: dicts, or (``typed``) the Structs of
    :mod:`tap_loop.schemas.typed_rows`, each of which fits the schema they were decoded with."""

    rows: list[t.Any]
    typed: bool


def iter_json_rows(stream: t.BinaryIO) -> t.Iterator[dict[str, t.Any]]:
    """Yield each row object of the JSON array in ``stream``; raise InvalidExport if bad."""
    for batch in iter_json_batches(stream):
        yield from batch.rows


def iter_json_batches(stream: t.BinaryIO, typed: TypedDecode | None = None) -> t.Iterator[Batch]:
    """The rows of the JSON array in ``stream`` in order, in batches: the rows of each
    chunk read (a row longer than ``MAX_BUFFER``: alone, read by ijson). With ``typed``,
    a chunk it decodes gives its rows; any other is parsed into dicts.
    Raises InvalidExport if bad. Strings with a lone surrogate are logged once, at the end."""
    replaced: Counter[str] = Counter()
    yield from _batches(stream, typed, replaced)
    log_replaced(replaced)


def log_replaced(replaced: Counter[str]) -> None:
    """One warning for the lone surrogates replaced in one file, by field."""
    if not replaced:
        return
    fields = ", ".join(f"{name!r}: {count}" for name, count in replaced.most_common(10))
    more = f" and {len(replaced) - 10} more fields" if len(replaced) > 10 else ""
    LOGGER.warning(
        "The export holds %d strings with a lone UTF-16 surrogate escape (half a character, "
        "such as an emoji cut off; valid JSON, but no character): each such escape is "
        "written as U+FFFD. Strings by field: %s%s",
        sum(replaced.values()),
        fields,
        more,
    )


def _batches(
    stream: t.BinaryIO, typed: TypedDecode | None, replaced: Counter[str]
) -> t.Iterator[Batch]:
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
    buffer = buffer[1:]
    scan = _Scan(typed, replaced)
    while True:
        rows, buffer = scan.cut(buffer)
        if rows:
            yield Batch(rows, scan.typed_rows)
        if len(buffer) > MAX_BUFFER:
            tail = _Chain(b"[" + scan.strip_separator(buffer), stream)
            yield from (Batch([row], False) for row in _incremental(tail, replaced))
            return
        data = stream.read(CHUNK)
        if not data:
            yield from _last_rows(buffer, replaced, after_row=scan.after_row, typed=typed)
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
            head = self._buffer.removeprefix(BOM).lstrip(_WS)
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

    def __init__(
        self, typed: TypedDecode | None = None, replaced: Counter[str] | None = None
    ) -> None:
        self.replaced: Counter[str] = Counter() if replaced is None else replaced
        self.after_row = False  # a row was cut before: the buffer starts with a separator
        self.typed = typed
        self.typed_rows = False  # the rows cut last are typed
        self._reset()

    def _reset(self) -> None:
        self.counted = 0  # the brace count has no zero before this offset ...
        self.counted_depth = 0  # ... where it stands at this value
        self.distorted = False  # a string holds unbalanced braces: the count is wrong
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

    def _rows(self, buffer: bytes, start: int, end: int) -> list[t.Any] | None:
        """The rows of ``buffer[start:end]``, None if that is not a list of rows."""
        text = bytearray(b"[")  # one copy of the rows, not two
        text += memoryview(buffer)[start:end]
        text += b"]"
        try:
            batch = _decode(text, self.typed, self.replaced)
        except orjson.JSONDecodeError:
            return None
        self.typed_rows = batch.typed
        return batch.rows

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
        """After the last ``}`` where the brace count from ``start`` returns to zero; 0
        if none. C loops only, and right unless a string holds unbalanced braces (the
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
    """Opening minus closing braces in ``buffer[start:end]`` (strings not skipped).

    Braces alone find the rows' ends: rows are objects, so inside a row (arrays and all)
    at least its own brace is open, and the count returns to zero only after it."""
    return buffer.count(b"{", start, end) - buffer.count(b"}", start, end)


def _decode(text: bytes | bytearray, typed: TypedDecode | None, replaced: Counter[str]) -> Batch:
    """The rows of a JSON array text: typed rows if ``typed`` decodes them all, else
    parsed into dicts. Raises ``orjson.JSONDecodeError`` if the text is not valid."""
    if typed is not None and (rows := typed(text)) is not None:
        return Batch(rows, True)
    return Batch(_parse_array(text, replaced), False)


def _parse_array(data: bytes | bytearray, replaced: Counter[str] | None = None) -> list[t.Any]:
    """Parse a JSON array of row objects; every number keeps its value.

    orjson validates and parses, but turns integers outside [-2**63, 2**64) and numbers
    of more than 17 significant digits into (rounded) floats; so text that may hold such
    a number (:func:`~tap_loop.results.numbers.lossy_hint`, cheap) is parsed by msgspec
    instead, exact for any integer, its fractions by
    :func:`~tap_loop.results.numbers.exact_number`. Valid JSON that both refuse is read by
    :func:`_parse_edge`. Raises ``orjson.JSONDecodeError`` if invalid.
    """
    rows: t.Any = None
    if lossy_hint(data):
        try:
            rows = _exact_decode(data)
        except msgspec.DecodeError:
            rows = None  # invalid, or valid JSON msgspec refuses: orjson tells which
    if type(rows) is not list:
        try:
            rows = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            rows = _parse_edge(data, error, Counter() if replaced is None else replaced)
    for row in rows:
        if type(row) is not dict:
            raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")
    return t.cast("list[t.Any]", rows)


def _parse_edge(
    data: bytes | bytearray, error: orjson.JSONDecodeError, replaced: Counter[str]
) -> list[t.Any]:
    """The rows of a JSON array text that orjson refused (``error``), if it is valid JSON
    all the same: read by the stdlib parser from strict UTF-8, a number beyond a float's
    range as a ``Decimal`` of its exact digits, a lone surrogate escape as U+FFFD (counted
    in ``replaced`` by field). Raises ``error`` if the text is not valid JSON."""
    if _EDGE_HINT.search(data) is None:
        raise error
    try:
        rows = json.loads(data.decode(), parse_float=exact_number, parse_constant=_not_json)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError too
        raise error from None
    if type(rows) is list and b"\\u" in data:
        rows = [_clean(row, "", replaced) for row in rows]
    return t.cast("list[t.Any]", rows)


def _not_json(text: str) -> t.NoReturn:
    raise ValueError(f"{text} is not JSON")


def _clean(value: t.Any, path: str, replaced: Counter[str], *, floats: bool = False) -> t.Any:
    """``value`` with each lone surrogate in its strings (and names) replaced by U+FFFD,
    counted in ``replaced`` by field path (``a.b``, ``a[]``); with ``floats``, its
    ``Decimal`` values made floats where a float keeps their value
    (:func:`~tap_loop.results.numbers.exact_number`)."""
    kind = type(value)
    if kind is str:
        if value.isascii() or _SURROGATE.search(value) is None:
            return value
        replaced[path or "<row>"] += 1
        return _SURROGATE.sub("\ufffd", value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if not key.isascii() and _SURROGATE.search(key) is not None:
                key = _SURROGATE.sub("\ufffd", key)
                replaced[f"{path}.{key}" if path else key] += 1
            out[key] = _clean(item, f"{path}.{key}" if path else key, replaced, floats=floats)
        return out
    if kind is list:
        return [_clean(item, f"{path}[]", replaced, floats=floats) for item in value]
    if floats and kind is Decimal:
        number = exact_number(str(value))
        return value if type(number) is Decimal else number
    return value


def _last_rows(
    buffer: bytes, replaced: Counter[str], *, after_row: bool, typed: TypedDecode | None = None
) -> t.Iterator[Batch]:
    """The rows left at the end of the file (``[, ]row, row, ... ]`` and whitespace), as
    one batch (or, read by ijson, a batch each)."""
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
    text = b"[" + body + b"]"
    try:
        yield _decode(text, typed, replaced)
    except orjson.JSONDecodeError:  # a precise error, or rows
        rows = _incremental(io.BytesIO(text), replaced, exact=_LONE_HINT.search(text) is not None)
        yield from (Batch([row], False) for row in rows)


class _Reread(Exception):
    """ijson's C parser cannot read this valid JSON exactly: read it with the exact one."""


def _incremental(
    stream: t.BinaryIO | _Chain, replaced: Counter[str] | None = None, *, exact: bool = False
) -> t.Iterator[dict[str, t.Any]]:
    """Rows read by ijson's C parser, numbers with a fraction or exponent as Decimals made
    floats where that keeps their value (:func:`_clean`). The C parser turns a lone
    surrogate escape into ``?`` and stops on numbers it overflows on: then (a ``_Chain``
    looks for such an escape in what it reads; ``exact`` says there is one) the stream is
    read again from where it started with ijson's pure-Python parser (exact, slower),
    skipping the rows already given."""
    start = _position(stream)
    given = 0
    replaced = Counter() if replaced is None else replaced
    try:
        if exact:
            raise _Reread
        for row in _ijson_rows(stream, ijson):
            if getattr(stream, "lone_hint", False):
                raise _Reread
            yield _clean(row, "", replaced, floats=True)
            given += 1
        return
    except _Reread:
        pass
    if start is None:
        raise InvalidExport(
            "the export holds a lone surrogate escape, or a number ijson's C parser "
            "cannot read, in a row too large to re-read"
        ) from None
    stream.seek(start)
    rows = _ijson_rows(stream, _EXACT_IJSON)
    for row in itertools.islice(rows, given, None):
        yield _clean(row, "", replaced, floats=True)


_EXACT_IJSON = ijson.get_backend("python")


def _position(stream: t.BinaryIO | _Chain) -> int | None:
    try:
        return stream.tell() if stream.seekable() else None
    except (OSError, ValueError):
        return None


def _ijson_rows(stream: t.BinaryIO | _Chain, backend: t.Any) -> t.Iterator[dict[str, t.Any]]:
    """The rows by ``backend``, numbers with a fraction or exponent as Decimals (for
    :func:`_clean`). Raises _Reread where the C parser cannot go on."""
    fast = backend is ijson
    try:
        for row in backend.items(stream, "item", use_float=False):
            if not isinstance(row, dict):
                raise InvalidExport(f"a row of the export is not an object: {type(row).__name__}")
            yield row
    except ijson.common.JSONError as exc:
        if fast and "overflow" in str(exc):
            raise _Reread from None
        raise InvalidExport(f"the export is not valid JSON: {str(exc)[:200]}") from None
    except UnicodeDecodeError as exc:  # the C parser on a lone low surrogate escape, too
        if fast:
            raise _Reread from None
        raise InvalidExport(f"the export is not valid UTF-8 JSON: {exc}") from None


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
        self._tail = b""  # the end of the part before: an escape may span two parts
        self.lone_hint = False  # a lone surrogate escape may have been read

    @override
    def readable(self) -> bool:
        return True

    @override
    def seekable(self) -> bool:
        return self._origin is not None

    @override
    def tell(self) -> int:
        return self._read

    @override
    def seek(self, offset: int, whence: int = 0) -> int:
        """Only back to the start (to re-read with another parser)."""
        if offset != 0 or whence != 0 or self._origin is None:
            raise io.UnsupportedOperation("can only rewind to the start")
        self._stream.seek(self._origin)
        self._rewind()
        return 0

    @override
    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            try:
                self._buffer = next(self._parts)
            except StopIteration:
                return b""
            if not self.lone_hint:
                self.lone_hint = _LONE_HINT.search(self._tail + self._buffer) is not None
                self._tail = self._buffer[-12:]
        if size < 0 or size >= len(self._buffer):
            chunk, self._buffer = self._buffer, b""
        else:
            chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        self._read += len(chunk)
        return chunk

    @override
    def readinto(self, target: WriteableBuffer) -> int:
        view = memoryview(target).cast("B")
        chunk = self.read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)
