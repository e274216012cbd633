"""Both parse paths of tap_loop.results.json_rows agree, integers beyond 64 bits included, and a row
goes out (tap_loop.core.output.dumps) byte for byte as Loop wrote it (issue 10)."""

from __future__ import annotations

import io
import math
import random
import struct

import orjson
import pytest
from typing_extensions import override

from tap_loop.core.output import dumps
from tap_loop.results import json_rows as rows
from tap_loop.schemas.row_check import SchemaGuard
from tap_loop.schemas.typed_rows import to_builtins

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

    @override
    def readable(self) -> bool:
        return True

    @override
    def readinto(self, target) -> int:
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


# ---------------------------------------------- typed rows read the text as orjson does

_EDGES = [
    b'[{"a":"\xff"}]', b'[{"a":"\xc0\xaf"}]', b'[{"a":"\xed\xa0\x80"}]', b'[{"a":"a\x00b"}]',
    b'[{"a":"a\x1fb"}]', b'[{"a":01}]', b'[{"a":1.}]', b'[{"a":.5}]', b'[{"a":-}]',
    b'[{"a":+1}]', b'[{"a":1e}]', b'[{"a":NaN}]', b'[{"a":Infinity}]', b'[{"a":1},]',
    b'[{"a":1,}]', b'[{"a":1}/*c*/]', b'[{"a":"\\ud800"}]', b'[{"a":"\\udc00"}]',
    b'[{"a":tru}]', b'[{"a":"\\x41"}]', b'[{"a":1e400}]',
    b'[{"a":1,"a":2}]', b'[{"a":"\\ud800\\udc00"}]', b'[{"a":-0}]', b'[{"a":1E+2}]',
    b'[{"a":"\x7f"}]', b'[ {"a":1} ]\n', b'[{"a":"\\u0000"}]', b'[{"a":"\\/"}]',
    b'[{"a":-0.0}]', b'[{"a":5e-324}]', b'[{"a":1.7976931348623157e308}]',
]  # fmt: skip


@pytest.mark.parametrize("text", _EDGES)
def test_typed_rows_accept_exactly_what_orjson_accepts_and_read_the_same(text: bytes) -> None:
    """At JSON's edges (bad UTF-8, surrogates, control characters, number forms,
    duplicate keys), typed decoding accepts a chunk only where orjson does, with the
    same values: a chunk it refuses is parsed by orjson, whose error the reader reports."""
    typed = SchemaGuard(
        {"type": "object", "properties": {"a": {"type": ["string", "number", "null"]}}}
    ).typed
    assert typed is not None
    decoded = typed.decode(text)
    try:
        expected = orjson.loads(text)
    except orjson.JSONDecodeError:
        assert decoded is None
        return
    if decoded is not None:
        got = [to_builtins(row) for row in decoded]
        assert got == expected and [type(r["a"]) for r in got] == [type(r["a"]) for r in expected]
        assert [dumps(row) for row in decoded] == [dumps(row) for row in expected]
    else:
        assert text == b'[{"a":1e400}]'  # beyond a float: orjson's inf, refused by msgspec


def test_typed_rows_read_every_float_as_orjson_does() -> None:
    rng = random.Random(5)
    values: list[float] = []
    for _ in range(20000):
        bits = rng.getrandbits(64)
        value = struct.unpack("d", struct.pack("Q", bits))[0]
        if math.isfinite(value):
            values.append(value)
        values.append(round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)))
    texts = [repr(v) for v in values] + [f"{v:.17e}" for v in values[:2000]]
    texts += [f"{rng.randint(0, 10**20)}.{rng.randint(0, 10**25)}e{rng.randint(-280, 280)}"
              for _ in range(2000)]  # fmt: skip
    text = ("[" + ",".join('{"a":' + t + "}" for t in texts) + "]").encode()
    typed = SchemaGuard({"type": "object", "properties": {"a": {"type": "number"}}}).typed
    assert typed is not None
    decoded = typed.decode(text)
    assert decoded is not None
    parsed = orjson.loads(text)
    assert [to_builtins(row)["a"] for row in decoded] == [row["a"] for row in parsed]
    assert [dumps(row) for row in decoded] == [dumps(row) for row in parsed]
