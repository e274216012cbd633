"""Rows from Xlsx exports (tap_loop.results.xlsx_rows)."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

openpyxl = pytest.importorskip("openpyxl")
from openpyxl.cell import WriteOnlyCell  # noqa: E402

from tap_loop.core.output import dumps  # noqa: E402
from tap_loop.results.xlsx_rows import (  # noqa: E402
    XlsxSupportMissing,
    iter_xlsx_rows,
    normalise_cell,
    records_from_rows,
)
from tap_loop.schemas.inference import infer_schema  # noqa: E402


def write_book(path: Path, rows: list[list[Any]], extra_sheet: bool = False) -> Path:
    """A workbook written like the Loop sandbox does (openpyxl write-only mode)."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Export")
    for row in rows:
        sheet.append(row)
    if extra_sheet:
        book.create_sheet("Other").append(["not", "read"])
    book.save(path)
    return path


def cell(sheet_book: Any, value: Any, number_format: str) -> Any:
    c = WriteOnlyCell(sheet_book, value=value)
    c.number_format = number_format
    return c


def test_typed_cells_are_normalised(tmp_path: Path) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Export")
    sheet.append(["int", "float", "whole", "bool", "text", "day", "at", "at_ms", "midnight"])
    sheet.append(
        [
            7,
            2.5,
            3.0,
            True,
            "héllo",
            dt.date(2026, 11, 1),
            dt.datetime(2026, 11, 1, 12, 30, 5),
            dt.datetime(2026, 11, 1, 12, 30, 5, 250000),
            dt.datetime(2026, 11, 2, 0, 0),
        ]
    )
    sheet.append(
        [
            cell(sheet, dt.time(8, 15), "h:mm:ss"),
            cell(sheet, dt.timedelta(hours=1, seconds=5), "[h]:mm:ss"),
            cell(sheet, dt.datetime(2026, 11, 3), "DD/MM/YYYY"),
            False,
            "",
            None,
            None,
            None,
            cell(sheet, dt.datetime(2026, 11, 3), 'yyyy-mm-dd "at" hh:mm'),
        ]
    )
    book.save(tmp_path / "t.xlsx")
    rows = list(iter_xlsx_rows(tmp_path / "t.xlsx"))
    assert rows == [
        {
            "int": 7,
            "float": 2.5,
            "whole": 3,
            "bool": True,
            "text": "héllo",
            "day": "2026-11-01",
            "at": "2026-11-01T12:30:05Z",
            "at_ms": "2026-11-01T12:30:05.250Z",
            "midnight": "2026-11-02T00:00:00Z",
        },
        {
            "int": "08:15:00",
            "float": 3605,
            "whole": "2026-11-03",
            "bool": False,
            "text": None,
            "day": None,
            "at": None,
            "at_ms": None,
            "midnight": "2026-11-03T00:00:00Z",
        },
    ]
    assert type(rows[0]["whole"]) is int and type(rows[0]["bool"]) is bool


def test_json_text_cells(tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "j.xlsx",
        [
            ["obj", "arr", "not_json", "constant", "scalar_json", "spaced"],
            ['{"a":1,"b":[true,null]}', "[1,2.5]", "[URGENT] help", "[NaN]", "123", ' {"a":1}'],
            ["{}", "[]", "{oops}", '["x"]', "true", None],
        ],
    )
    assert list(iter_xlsx_rows(path)) == [
        {
            "obj": {"a": 1, "b": [True, None]},
            "arr": [1, 2.5],
            "not_json": "[URGENT] help",
            "constant": "[NaN]",
            "scalar_json": "123",
            "spaced": ' {"a":1}',
        },
        {
            "obj": {},
            "arr": [],
            "not_json": "{oops}",
            "constant": ["x"],
            "scalar_json": "true",
            "spaced": None,
        },
    ]
    kept = list(iter_xlsx_rows(path, parse_json_cells=False))
    assert kept[0]["obj"] == '{"a":1,"b":[true,null]}' and kept[1]["arr"] == "[]"


def test_header_edge_cases(tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "h.xlsx",
        [
            [],
            [None, None],
            [
                "Name",
                None,
                "name",
                "Name",
                "column_2",
                2026,
                "ünï cödé ✓",
                "  spaced  ",
                None,
                None,
            ],
            ["a", "b", "c", "d", "e", "f", "g", "h"],
            ["short"],
            ["w", None, None, None, None, None, None, None, None, None, "far", None, "farther"],
        ],
    )
    rows = list(iter_xlsx_rows(path))
    header = [
        "Name",
        "column_2_2",
        "name",
        "Name_2",
        "column_2",
        "2026",
        "ünï cödé ✓",
        "  spaced  ",
    ]
    assert [list(r) for r in rows[:2]] == [header, header]
    assert rows[0] == dict(zip(header, "abcdefgh", strict=True))
    assert rows[1] == {"Name": "short", **dict.fromkeys(header[1:])}
    assert rows[2] == {
        "Name": "w",
        **dict.fromkeys(header[1:]),
        "column_11": "far",
        "column_13": "farther",
    }


def test_empty_sheet_and_header_only(tmp_path: Path) -> None:
    assert list(iter_xlsx_rows(write_book(tmp_path / "e.xlsx", []))) == []
    assert list(iter_xlsx_rows(write_book(tmp_path / "b.xlsx", [[None], [], [""]]))) == []
    assert list(iter_xlsx_rows(write_book(tmp_path / "h.xlsx", [["a", "b"]]))) == []


def test_trailing_empty_rows_dropped_interior_kept(tmp_path: Path) -> None:
    path = write_book(
        tmp_path / "t.xlsx",
        [["a", "b"], [1, 2], [None, None], [], [3, None], [None, ""], [], [None, None]],
    )
    assert list(iter_xlsx_rows(path)) == [
        {"a": 1, "b": 2},
        {"a": None, "b": None},
        {"a": None, "b": None},
        {"a": 3, "b": None},
    ]


def test_first_sheet_only_and_file_objects(tmp_path: Path) -> None:
    path = write_book(tmp_path / "s.xlsx", [["a"], [1]], extra_sheet=True)
    assert list(iter_xlsx_rows(path)) == [{"a": 1}]
    assert list(iter_xlsx_rows(str(path))) == [{"a": 1}]
    assert list(iter_xlsx_rows(io.BytesIO(path.read_bytes()))) == [{"a": 1}]


def test_wrong_dimension_does_not_truncate(tmp_path: Path) -> None:
    source = write_book(tmp_path / "d.xlsx", [["a", "b"], *([i, i * 2] for i in range(50))])
    target = tmp_path / "wrong_dimension.xlsx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetViews>", b'<dimension ref="A1:A3"/><sheetViews>', 1)
            zout.writestr(item, data)
    rows = list(iter_xlsx_rows(target))
    assert len(rows) == 50 and rows[-1] == {"a": 49, "b": 98}


def test_stopping_early_closes_cleanly(tmp_path: Path) -> None:
    path = write_book(tmp_path / "e.xlsx", [["a"], *([i] for i in range(100))])
    rows = iter_xlsx_rows(path)
    assert next(rows) == {"a": 0}
    rows.close()


def test_missing_extra_raises_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # makes `import openpyxl` fail
    with pytest.raises(XlsxSupportMissing) as caught:
        iter_xlsx_rows(tmp_path / "never-opened.xlsx")  # raised at call time
    message = str(caught.value)
    assert "pip install 'tap-loop[xlsx]'" in message and "result_format" in message
    assert isinstance(caught.value, ImportError)


def _as_json_export_reads(rows: list[dict[str, Any]], header: list[str]) -> list[dict[str, Any]]:
    """The documented normalisation of JSON rows, against which Xlsx rows compare equal."""

    def norm(value: Any) -> Any:
        if value == "":
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return [{key: norm(row.get(key)) for key in header} for row in rows]


def test_json_and_xlsx_exports_of_same_rows_agree(tmp_path: Path) -> None:
    rows = [
        {
            "id": "msg_000000000001",
            "createdAt": "2026-11-01T12:00:00Z",
            "localDate": "2026-11-01",
            "localHour": 13,
            "score": 0.25,
            "whole": 4.0,
            "spam": False,
            "tags": [{"id": "t1", "name": "Billing"}],
            "assignee": {"email": "ana@example.com", "name": "Ana Ž."},
            "participants": ["bob@example.org"],
            "note": None,
            "empty": "",
        },
        {
            "id": "msg_000000000002",
            "createdAt": "2026-11-01T12:15:00Z",
            "localDate": "2026-11-01",
            "localHour": 13,
            "score": 1,
            "tags": [],
            "assignee": None,
            "participants": [],
            "sentimentScore": -0.5,
        },
    ]
    header: list[str] = []
    for row in rows:
        header += [k for k in row if k not in header]
    json_text = json.dumps(rows)

    def to_cell(value: Any) -> Any:  # as loop_sandbox/xlsx.py writes cells
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return json.dumps(value, separators=(",", ":"))

    path = write_book(
        tmp_path / "x.xlsx", [header, *([to_cell(r.get(k)) for k in header] for r in rows)]
    )
    from_xlsx = list(iter_xlsx_rows(path))
    from_json = _as_json_export_reads(json.loads(json_text), header)
    assert from_xlsx == from_json
    assert infer_schema(from_xlsx) == infer_schema(from_json)


def test_records_from_rows_takes_other_readers_values() -> None:
    # python-calamine style: '' for empty cells, floats for integers, date objects.
    raw: list[list[object]] = [
        ["id", "when", "day", "", "n"],
        [1.0, dt.datetime(2026, 1, 2, 3, 4, 5), dt.date(2026, 1, 2), "", '{"k":[1]}'],
        ["", "", "", "", ""],
    ]
    assert list(records_from_rows(raw)) == [
        {
            "id": 1,
            "when": "2026-01-02T03:04:05Z",
            "day": "2026-01-02",
            "column_4": None,
            "n": {"k": [1]},
        }
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("text", "text"),
        (5, 5),
        (True, True),
        (3.0, 3),
        (-0.0, 0),
        (2.5, 2.5),
        (1e20, 1e20),
        (Decimal("1.5"), Decimal("1.5")),
        (dt.datetime(2026, 1, 2, 3, 4, 5, 123456), "2026-01-02T03:04:05.123456Z"),
        (
            dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-01-02T01:04:05Z",
        ),
        (dt.date(2026, 1, 2), "2026-01-02"),
        (dt.time(3, 4, 5), "03:04:05"),
        (dt.timedelta(minutes=1, milliseconds=500), 60.5),
        ("[1, 2]", [1, 2]),
        ('{"a": "b"}', {"a": "b"}),
        ("[1, 2", "[1, 2"),
    ],
)
def test_normalise_cell(value: Any, expected: Any) -> None:
    result = normalise_cell(value)
    assert result == expected and type(result) is type(expected)


def test_number_cells_a_float_cannot_hold_keep_their_digits(tmp_path: Path) -> None:
    """A number cell's text with more digits than a float holds is a Decimal of them
    (openpyxl would make it a float); short ones stay floats, integers ints."""
    path = write_book(tmp_path / "long.xlsx", [["a", "b", "c", "d"], [1.25, 2.5, 3.75, 4]])
    texts = {
        "1.25": "12345678901234567890.5",
        "2.5": "3.14159265358979323846264338327950288",
        "4": "170141183460469231731687303715884105728",
    }
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    xml = members["xl/worksheets/sheet1.xml"]
    for short, long in texts.items():
        xml = xml.replace(b"<v>" + short.encode() + b"</v>", b"<v>" + long.encode() + b"</v>")
    members["xl/worksheets/sheet1.xml"] = xml
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    (row,) = list(iter_xlsx_rows(path))
    assert row == {
        "a": Decimal("12345678901234567890.5"),
        "b": Decimal("3.14159265358979323846264338327950288"),
        "c": 3.75,
        "d": 2**127,
    }
    assert type(row["c"]) is float
    assert dumps(row) == (
        b'{"a":12345678901234567890.5,"b":3.14159265358979323846264338327950288,'
        b'"c":3.75,"d":170141183460469231731687303715884105728}'
    )
