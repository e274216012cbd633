"""One way to open a downloaded result file as rows, whatever its format.

The sync reads batches (JSON chunks may come as typed rows); discovery and ``--diagnose``
read plain rows. Xlsx support is imported only when an Xlsx result is read.
"""

from __future__ import annotations

import itertools
import typing as t

from tap_loop.results.json_rows import Batch, TypedDecode, iter_json_batches

if t.TYPE_CHECKING:
    from pathlib import Path


def open_batches(
    path: Path, result_format: str, typed: TypedDecode | None = None
) -> t.Iterator[Batch]:
    """The rows of a result file in batches; JSON chunks as typed rows where ``typed``
    decodes them, every other row as a dict."""
    if result_format == "xlsx":
        from tap_loop.results.xlsx_rows import iter_xlsx_rows

        for row in iter_xlsx_rows(path):
            yield Batch([row], False)
        return
    with path.open("rb") as handle:
        yield from iter_json_batches(handle, typed)


def open_rows(path: Path, result_format: str) -> t.Iterator[dict[str, t.Any]]:
    """The rows of a result file, one dict each."""
    for rows, _typed in open_batches(path, result_format):
        yield from rows


def first_rows(path: Path, result_format: str, limit: int) -> t.Iterator[dict[str, t.Any]]:
    """Up to ``limit`` rows from the start of a result file."""
    return itertools.islice(open_rows(path, result_format), limit)
