"""Both parse paths of tap_loop.rows agree, integers beyond 64 bits included, and a row
goes out (tap_loop.output.dumps) byte for byte as Loop wrote it (issue 10)."""

from __future__ import annotations

import io

import pytest

from tap_loop import rows
from tap_loop.output import dumps

ROWS = [
    b'{"a":18446744073709551616,"b":1.5,"c":-9223372036854775809,"d":"x"}',
    b'{"a":9223372036854775808,"b":0.1,"c":-9223372036854775808,"d":"\xc3\xa9"}',
    b'{"a":18446744073709551615,"b":1e-7,"c":100000000000000000000000000,"d":null}',
    b'{"a":1,"b":[2,{"n":-170141183460469231731687303715884105728}],"c":0,"d":"12345678901234567890"}',
]
DATA = b"[" + b",\n".join(ROWS) + b"]"


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        chunk = self._data.read(len(target))
        target[: len(chunk)] = chunk
        return len(chunk)


def test_the_fast_path_keeps_every_integer_and_dumps_it_byte_for_byte():
    parsed = list(rows.iter_json_rows(io.BytesIO(DATA)))
    assert [dumps(row) for row in parsed] == ROWS
    assert parsed[0]["a"] == 2**64 and type(parsed[0]["a"]) is int


@pytest.mark.parametrize("cut", [1, 40, 120])
def test_the_incremental_path_agrees_with_the_fast_path(cut):
    fast = list(rows.iter_json_rows(io.BytesIO(DATA)))
    slow = list(rows._incremental(rows._Chain(DATA[:cut], io.BytesIO(DATA[cut:]))))
    assert slow == fast
    assert [dumps(row) for row in slow] == ROWS


def test_a_huge_row_falls_back_to_ijson_and_still_keeps_big_integers(monkeypatch):
    monkeypatch.setattr(rows, "MAX_BUFFER", 16)
    monkeypatch.setattr(rows, "CHUNK", 8)
    parsed = list(rows.iter_json_rows(io.BytesIO(DATA)))
    assert [dumps(row) for row in parsed] == ROWS


def test_an_unseekable_huge_row_with_a_big_integer_fails_loudly(monkeypatch):
    monkeypatch.setattr(rows, "MAX_BUFFER", 16)
    monkeypatch.setattr(rows, "CHUNK", 8)
    with pytest.raises(rows.InvalidExport, match="beyond 64 bits"):
        list(rows.iter_json_rows(io.BufferedReader(_Unseekable(DATA))))


@pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf", b"  \n", b"\xef\xbb\xbf[]"])
def test_an_empty_file_or_a_lone_bom_is_an_export_without_rows(body):
    assert list(rows.iter_json_rows(io.BytesIO(body))) == []


def test_a_bom_before_the_array_is_ignored():
    assert list(rows.iter_json_rows(io.BytesIO(rows.BOM + DATA))) == list(
        rows.iter_json_rows(io.BytesIO(DATA))
    )
