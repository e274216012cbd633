"""One way to open a downloaded result file as rows, whatever its format.

The sync reads batches (JSON chunks may come as typed rows); discovery and ``--diagnose``
read plain rows. Xlsx support is imported only when an Xlsx result is read.
"""

from __future__ import annotations

import hashlib
import itertools
import typing as t

from tap_loop.core.output import dumps
from tap_loop.results.json_rows import Batch, InvalidExport, TypedDecode, iter_json_batches

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


def rows_digest(path: Path, result_format: str, count: int) -> bytes | None:
    """A digest of the first ``count`` rows of a result file (as parsed, in order); None
    if it has fewer readable rows."""
    digest = hashlib.blake2b(digest_size=32)
    seen = 0
    try:
        for batch in open_batches(path, result_format):
            for row in batch.rows:
                if seen == count:
                    return digest.digest()
                digest.update(dumps(row))
                digest.update(b"\n")
                seen += 1
    except InvalidExport:
        pass
    return digest.digest() if seen == count else None
