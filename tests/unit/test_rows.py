"""The incremental row reader: every JSON layout gives the same rows; bad files raise."""

from __future__ import annotations

import io
import json

import orjson
import pytest

from tap_loop.rows import InvalidExport, iter_json_rows

ROWS = [
    {"id": "a", "n": 1, "nested": {"x": [1, 2, {"y": "}{,]"}]}, "s": "line\nbreak ]"},
    {"id": "b", "n": 2.5, "nested": None, "s": "Žiri \u2013 ✓ 🎉"},
    {"id": "c", "n": None, "nested": {"x": []}, "s": '{"not": "a row"}'},
]


def layouts():
    yield "compact", orjson.dumps(ROWS)
    yield "lines", b"[" + b",\n".join(orjson.dumps(r) for r in ROWS) + b"]\n"
    yield "lines-leading-comma", b"[\n" + b"\n,".join(orjson.dumps(r) for r in ROWS) + b"\n]"
    yield "pretty", json.dumps(ROWS, indent=2, ensure_ascii=False).encode()
    yield "pretty-ascii", json.dumps(ROWS, indent=4).encode()
    yield "crlf", b"[\r\n" + b",\r\n".join(orjson.dumps(r) for r in ROWS) + b"\r\n]\r\n"
    yield (
        "two-per-line",
        b"["
        + orjson.dumps(ROWS[0])
        + b","
        + orjson.dumps(ROWS[1])
        + b",\n"
        + orjson.dumps(ROWS[2])
        + b"]",
    )
    yield (
        "mixed",
        b"["
        + orjson.dumps(ROWS[0])
        + b",\n"
        + json.dumps(ROWS[1], indent=1).encode()
        + b",\n"
        + orjson.dumps(ROWS[2])
        + b"\n]",
    )


@pytest.mark.parametrize(("name", "data"), list(layouts()))
def test_every_layout_gives_the_same_rows(name, data):
    assert list(iter_json_rows(io.BytesIO(data))) == ROWS, name


@pytest.mark.parametrize("data", [b"[]", b"  [ ]  ", b"[\n]\n"])
def test_empty_arrays(data):
    assert list(iter_json_rows(io.BytesIO(data))) == []


@pytest.mark.parametrize(
    "data",
    [
        b'\xef\xbb\xbf{"id": 1}',  # (a 0-byte file is an export without rows: issue 10)
        b'{"id": 1}',
        b"[" + orjson.dumps(ROWS[0]) + b",\n" + orjson.dumps(ROWS[1])[:10],
        b"[" + orjson.dumps(ROWS[0]) + b",\n",
        orjson.dumps(ROWS)[:-1],
        b"[" + orjson.dumps(ROWS[0]) + b",\n garbage",
        b"[1, 2]",
        b"[" + orjson.dumps(ROWS[0]) + b"]\n trailing",
    ],
)
def test_truncated_or_invalid_exports_raise(data):
    with pytest.raises(InvalidExport):
        list(iter_json_rows(io.BytesIO(data)))


def test_large_numbers_and_floats_are_plain_python_numbers():
    rows = list(iter_json_rows(io.BytesIO(b'[{"a": 1.5, "b": 12345678901234567890}]')))
    assert rows == [{"a": 1.5, "b": 12345678901234567890}]
    pretty = list(iter_json_rows(io.BytesIO(b'[\n {\n "a": 1.5\n }\n]')))
    assert pretty == [{"a": 1.5}] and isinstance(pretty[0]["a"], float)
