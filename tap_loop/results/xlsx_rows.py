"""Rows of a Loop export in Xlsx format, normalised to match the JSON export's rows.

The workbook is streamed with openpyxl's read-only mode (an optional dependency:
``pip install 'tap-loop[xlsx]'``, imported only when an Xlsx export is read), so
memory stays flat whatever the sheet's size. docs/schema.md has the measurements
behind that choice and the normalisation rules:

* the first sheet's first non-empty row is the header; names are kept exactly; an
  empty header cell is named ``column_<n>`` (1-based column number); a repeated
  name gets ``_2``, ``_3``...; data cells right of the header are kept the same way;
* every row has every header name; an empty cell (or an empty string) is ``None``;
  empty rows at the end are dropped, empty rows between data rows are rows of nulls;
* numbers stay numbers, an integral float becomes an int (``3.0`` -> ``3``, Excel
  stores every number as a float); a number cell whose text a float cannot hold
  (``12345678901234567890.5``) is a ``Decimal`` of its digits, as on the JSON path
  (:mod:`tap_loop.results.numbers`; openpyxl's private ``_reader._cast_number``, which
  makes every fraction a float, is replaced on first use); booleans stay booleans;
* datetimes become ISO 8601 UTC strings ``YYYY-MM-DDTHH:MM:SSZ`` (naive ones are
  taken as UTC; ``.fff``/``.ffffff`` only when there is a fraction); a cell with a
  date-only number format becomes ``YYYY-MM-DD``; times ``HH:MM:SS``; durations seconds;
* text that is a JSON object or array (how nested values are written into cells) is
  parsed back when ``parse_json_cells`` is true (the default).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from tap_loop.results.json_rows import InvalidExport
from tap_loop.results.numbers import exact_number

__all__ = [
    "INSTALL_HINT",
    "XlsxSupportMissing",
    "iter_xlsx_rows",
    "normalise_cell",
    "records_from_rows",
]

INSTALL_HINT = (
    "Reading Loop exports in Xlsx format needs the optional dependency openpyxl, which "
    "is not installed: run pip install 'tap-loop[xlsx]', or set result_format to json."
)


class XlsxSupportMissing(ImportError):
    """openpyxl (the ``xlsx`` extra) is not installed."""


def _import_openpyxl() -> Any:
    try:
        import openpyxl
        from openpyxl.worksheet import _reader
    except ImportError as exc:
        raise XlsxSupportMissing(INSTALL_HINT) from exc
    _reader._cast_number = _cast_number  # openpyxl's own makes 12345678901234567890.5 a float
    return openpyxl


def _cast_number(value: str) -> int | float | Decimal:
    """A number cell's text: an int, else a float if it keeps the value, else a Decimal."""
    if "." in value or "E" in value or "e" in value:
        return exact_number(value)
    return int(value)


def iter_xlsx_rows(
    path: str | os.PathLike[str] | IO[bytes], *, parse_json_cells: bool = True
) -> Generator[dict[str, Any], None, None]:
    """Yield the rows of the workbook's first sheet as dicts keyed by the header.

    The workbook is read in streaming mode and closed when the iterator ends or is
    closed. See the module doc for the normalisation.

    Raises:
        XlsxSupportMissing: openpyxl is not installed (raised at call time).
    """
    openpyxl = _import_openpyxl()
    return _unreadable_as_invalid(_iter_workbook(openpyxl, path, parse_json_cells))


# What a corrupt or truncated workbook raises from inside openpyxl: a broken zip, a
# missing or cut member, broken XML. They become InvalidExport, so the caller downloads
# the file again as it does for a broken JSON export.
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ParseError, OSError)


def _unreadable_as_invalid(
    rows: Iterator[dict[str, Any]],
) -> Generator[dict[str, Any], None, None]:
    try:
        yield from rows
    except _CORRUPT as exc:
        raise InvalidExport(
            f"the Xlsx export is unreadable ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


def _iter_workbook(openpyxl: Any, path: Any, parse_json_cells: bool) -> Iterator[dict[str, Any]]:
    with warnings.catch_warnings():
        # Files not written by Excel often lack styles; openpyxl warns, harmlessly.
        warnings.filterwarnings("ignore", "Workbook contains no default style", UserWarning)
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        # The <dimension> a writer records may be missing or wrong; trust the cells.
        sheet.reset_dimensions()
        rows = (_cell_values(cells) for cells in sheet.iter_rows())
        yield from records_from_rows(rows, parse_json_cells=parse_json_cells)
    finally:
        book.close()


_MIDNIGHT = dt.time()
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_DATE_ONLY: dict[str, bool] = {}


def _date_only_format(fmt: str) -> bool:
    """True for a number format that shows a date and no time (``yyyy-mm-dd``, ``d/m/y``)."""
    known = _DATE_ONLY.get(fmt)
    if known is None:
        shown = _FORMAT_LITERALS.sub("", fmt.split(";")[0]).lower()
        known = _DATE_ONLY[fmt] = ("d" in shown or "y" in shown) and not (
            "h" in shown or "s" in shown
        )
    return known


def _cell_values(cells: Sequence[Any]) -> list[Any]:
    """Cell values; a midnight datetime in a date-only format becomes a ``date``."""
    values = []
    for cell in cells:
        value = cell.value
        if (
            type(value) is dt.datetime
            and value.time() == _MIDNIGHT
            and _date_only_format(cell.number_format)
        ):
            value = value.date()
        values.append(value)
    return values


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _iso_datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    micro = value.microsecond
    if micro == 0:
        spec = "seconds"
    elif micro % 1000 == 0:
        spec = "milliseconds"
    else:
        spec = "microseconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def normalise_cell(value: Any, *, parse_json_cells: bool = True) -> Any:
    """A cell's value as the JSON export would hold it (see the module doc)."""
    kind = type(value)
    if value is None or kind is int or kind is bool:
        return value
    if kind is str:
        if not value:
            return None
        if parse_json_cells and value[0] in "{[" and value[-1] in "}]":
            try:
                parsed = json.loads(value, parse_constant=_reject_constant)
            except (ValueError, RecursionError):
                return value
            if isinstance(parsed, (dict, list)):
                return parsed
        return value
    if kind is float:
        return int(value) if value.is_integer() and abs(value) <= 2**53 else value
    if isinstance(value, dt.datetime):
        return _iso_datetime(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return normalise_cell(value.total_seconds())
    if isinstance(value, (bool, int, Decimal)):
        return value
    if isinstance(value, float):
        return normalise_cell(float(value))
    return str(value)


def _header_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _unique(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    k = 2
    while f"{name}_{k}" in used:
        k += 1
    return f"{name}_{k}"


def _header_names(values: list[Any]) -> list[str]:
    """Names for the header cells: kept exactly, blanks ``column_<n>``, repeats ``_2``."""
    while values and values[-1] is None:
        values.pop()
    texts = [None if v is None else _header_text(v) for v in values]
    used = {text for text in texts if text is not None}  # real names win over made-up ones
    names: list[str] = []
    for index, text in enumerate(texts, start=1):
        if text is None:
            name = _unique(f"column_{index}", used)
        elif text in names:
            name = _unique(text, used)
        else:
            name = text
        used.add(name)
        names.append(name)
    return names


def records_from_rows(
    rows: Iterable[Sequence[Any]], *, parse_json_cells: bool = True
) -> Iterator[dict[str, Any]]:
    """Records from a sheet's rows of cell values: the first non-empty row is the header.

    Works for any reader that yields Python values (openpyxl, python-calamine...).
    """
    source = iter(rows)
    header: list[str] | None = None
    for raw in source:
        values = [normalise_cell(v, parse_json_cells=False) for v in raw]
        if any(v is not None for v in values):
            header = _header_names(values)
            break
    if header is None:
        return
    width = len(header)
    used = set(header)
    extra: dict[int, str] = {}
    blank_rows = 0
    for raw in source:
        values = [normalise_cell(v, parse_json_cells=parse_json_cells) for v in raw]
        if all(v is None for v in values):
            blank_rows += 1  # dropped if no data row follows
            continue
        for _ in range(blank_rows):
            yield dict.fromkeys(header)
        blank_rows = 0
        record = dict(zip(header, values, strict=False))
        count = len(values)
        if count < width:
            for name in header[count:]:
                record[name] = None
        elif count > width:
            for index in range(width, count):
                value = values[index]
                if value is not None:
                    column = extra.get(index)
                    if column is None:
                        column = extra[index] = _unique(f"column_{index + 1}", used)
                        used.add(column)
                    record[column] = value
        yield record
