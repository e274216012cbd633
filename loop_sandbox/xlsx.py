"""Write export rows as an .xlsx workbook (openpyxl write-only mode, imported lazily).

Normalisation: one sheet; the header row lists the rows' top-level keys in first-seen
order; numbers and booleans stay typed, strings (ISO date-times included) stay strings,
nested objects/arrays become compact JSON text, null or a missing key is an empty cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson


def cell_value(value: Any) -> Any:
    """Map one JSON value to what goes into its spreadsheet cell."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return orjson.dumps(value).decode()


def header_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Top-level keys of all rows, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in seen:
                seen[key] = None
    return list(seen)


def write_xlsx(rows: Callable[[], Iterable[dict[str, Any]]], path: Path) -> int:
    """Write the rows (``rows()`` is called twice: header pass, data pass); return count."""
    try:
        from openpyxl import Workbook
    except ImportError as exc:
        raise RuntimeError(
            f"Xlsx results need openpyxl, which this sandbox's Python cannot import ({exc}): "
            "start the sandbox with scripts/sandbox, which installs it"
        ) from None

    header = header_of(rows())
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Export")
    sheet.append(header)
    count = 0
    for row in rows():
        sheet.append([cell_value(row.get(key)) for key in header])
        count += 1
    book.save(path)
    return count
