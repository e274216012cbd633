"""The row reader (tap_loop.results.json_rows): every JSON layout gives the same rows, bad
files raise; both parse paths agree, integers beyond 64 bits included, and a row goes out
(tap_loop.core.output.dumps) byte for byte as Loop wrote it (issue 10)."""

from __future__ import annotations

import io
import json
import random
from decimal import Decimal

import orjson
import pytest
from typing_extensions import override

from tap_loop.core.output import dumps
from tap_loop.results import json_rows as rows
from tap_loop.results import json_rows as rows_module
from tap_loop.results.json_rows import InvalidExport, iter_json_rows

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


def _nested_rows(count: int, events: int, seed: int) -> list[dict]:
    """Rows holding lists of nested objects, with strings full of brackets and ``},{``."""
    rng = random.Random(seed)
    texts = ["}", "},{", "]", "[", '"}', "\\", "{[", 'x},{"id":1}', "\u2013 ✓", "plain"]
    return [
        {
            "id": f"cnv_{i}",
            "subject": rng.choice(texts),
            "events": [
                {
                    "n": j,
                    "text": rng.choice(texts),
                    "by": {"email": f"u{j}@x.io", "tags": [rng.choice(texts), j, None]},
                }
                for j in range(rng.randrange(events + 1))
            ],
            "last": {"x": [[], [{}], rng.choice(texts)]},
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("chunk", [7, 64, 1000, 1 << 20])
@pytest.mark.parametrize("events", [0, 3, 60])
def test_nested_rows_match_a_whole_parse(monkeypatch, chunk, events):
    """Rows with long lists of nested objects, read in chunks cutting them anywhere, equal
    orjson.loads of the whole file, in every layout; strings with brackets never cut."""
    monkeypatch.setattr(rows_module, "CHUNK", chunk)
    rows = _nested_rows(40, events, seed=chunk + events)
    for data in (
        orjson.dumps(rows),
        json.dumps(rows, indent=2).encode(),
        b"[\n" + b",\n".join(orjson.dumps(row) for row in rows) + b"\n]\n",
    ):
        assert list(iter_json_rows(io.BytesIO(data))) == orjson.loads(data)


def test_balanced_and_unbalanced_brackets_in_strings_take_the_exact_scan(monkeypatch):
    """A string with an unbalanced ``}`` makes the bracket count wrong: the reader must
    notice (orjson refuses the cut) and still cut only between rows."""
    monkeypatch.setattr(rows_module, "CHUNK", 50)
    rows = [
        {"id": i, "s": "}" * (i % 3), "t": "{[" * (i % 2), "e": [{"a": "]},{"}]} for i in range(30)
    ]
    data = orjson.dumps(rows)
    assert list(iter_json_rows(io.BytesIO(data))) == rows


@pytest.mark.parametrize("chunk", [16, 1 << 20])
def test_corrupt_nested_rows_raise(monkeypatch, chunk):
    monkeypatch.setattr(rows_module, "CHUNK", chunk)
    data = orjson.dumps(_nested_rows(20, 5, seed=1))
    for bad in (data[: len(data) // 2], data.replace(b'"by":', b'"by"', 1), data + b"]"):
        with pytest.raises(InvalidExport):
            list(iter_json_rows(io.BytesIO(bad)))


def test_a_row_longer_than_the_buffer_cap_is_read_incrementally(monkeypatch):
    monkeypatch.setattr(rows_module, "CHUNK", 64)
    monkeypatch.setattr(rows_module, "MAX_BUFFER", 256)
    rows = [{"id": 1, "big": [{"k": "v" * 10} for _ in range(100)]}, {"id": 2}]
    assert list(iter_json_rows(io.BytesIO(orjson.dumps(rows)))) == rows


BIG_ROWS = [
    b'{"a":18446744073709551616,"b":1.5,"c":-9223372036854775809,"d":"x"}',
    b'{"a":9223372036854775808,"b":0.1,"c":-9223372036854775808,"d":"\xc3\xa9"}',
    b'{"a":18446744073709551615,"b":1e-7,"c":100000000000000000000000000,"d":null}',
    b'{"a":1,"b":[2,{"n":-170141183460469231731687303715884105728}],"c":0,"d":"12345678901234567890"}',
]


BIG_DATA = b"[" + b",\n".join(BIG_ROWS) + b"]"


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
    parsed = list(rows.iter_json_rows(io.BytesIO(BIG_DATA)))
    assert [dumps(row) for row in parsed] == BIG_ROWS
    assert parsed[0]["a"] == 2**64 and type(parsed[0]["a"]) is int


@pytest.mark.parametrize("cut", [1, 40, 120])
def test_the_incremental_path_agrees_with_the_fast_path(cut):
    fast = list(rows.iter_json_rows(io.BytesIO(BIG_DATA)))
    slow = list(rows._incremental(rows._Chain(BIG_DATA[:cut], io.BytesIO(BIG_DATA[cut:]))))
    assert slow == fast
    assert [dumps(row) for row in slow] == BIG_ROWS


def test_a_huge_row_falls_back_to_ijson_and_still_keeps_big_integers(monkeypatch):
    monkeypatch.setattr(rows, "MAX_BUFFER", 16)
    monkeypatch.setattr(rows, "CHUNK", 8)
    parsed = list(rows.iter_json_rows(io.BytesIO(BIG_DATA)))
    assert [dumps(row) for row in parsed] == BIG_ROWS


def test_an_unseekable_huge_row_with_a_big_integer_is_read_exactly(monkeypatch):
    monkeypatch.setattr(rows, "MAX_BUFFER", 16)
    monkeypatch.setattr(rows, "CHUNK", 8)
    parsed = list(rows.iter_json_rows(io.BufferedReader(_Unseekable(BIG_DATA))))
    assert [dumps(row) for row in parsed] == BIG_ROWS


@pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf", b"  \n", b"\xef\xbb\xbf[]"])
def test_an_empty_file_or_a_lone_bom_is_an_export_without_rows(body):
    assert list(rows.iter_json_rows(io.BytesIO(body))) == []


def test_a_bom_before_the_array_is_ignored():
    assert list(rows.iter_json_rows(io.BytesIO(rows.BOM + BIG_DATA))) == list(
        rows.iter_json_rows(io.BytesIO(BIG_DATA))
    )


# ---------------------------------------------- valid JSON at its edges (issue 17)

_EDGE_TEXT = (
    b'[{"id":"a","s":"Hello \\ud83d","n":1e400},'
    b'{"id":"b","s":"ok \\ud83d\\ude00","n":-12.50e999,"deep":[{"t":"\\udc00!"}]},'
    b'{"id":"c","s":"plain","n":1.5,"big":' + b"7" * 400 + b"}]"
)
_EDGE_OUT = [
    b'{"id":"a","s":"Hello \xef\xbf\xbd","n":1E+400}',
    b'{"id":"b","s":"ok \xf0\x9f\x98\x80","n":-1.250E+1000,"deep":[{"t":"\xef\xbf\xbd!"}]}',
    b'{"id":"c","s":"plain","n":1.5,"big":' + b"7" * 400 + b"}",
]


@pytest.mark.parametrize(
    ("chunk", "max_buffer"),
    [(1 << 20, 16 << 20), (7, 16 << 20), (64, 96), (16, 16)],
    ids=["one-chunk", "tiny-chunks", "ijson-for-long-rows", "ijson-for-all"],
)
def test_lone_surrogates_and_numbers_beyond_a_float_are_read_on_every_path(
    monkeypatch, caplog, chunk, max_buffer
):
    """A lone surrogate escape becomes U+FFFD (one warning naming the fields, with
    counts), a number beyond a float's range a Decimal of exactly its digits; the
    others read as ever. Formerly: InvalidExport ("a corrupt row") on every run."""
    monkeypatch.setattr(rows, "CHUNK", chunk)
    monkeypatch.setattr(rows, "MAX_BUFFER", max_buffer)
    with caplog.at_level("WARNING", "tap_loop.rows"):
        got = list(iter_json_rows(io.BytesIO(_EDGE_TEXT)))
    assert [dumps(row) for row in got] == _EDGE_OUT
    assert type(got[2]["n"]) is float and type(got[2]["big"]) is int
    warnings = [r.getMessage() for r in caplog.records if "lone UTF-16" in r.getMessage()]
    assert len(warnings) == 1
    assert "2 strings" in warnings[0] and "'s': 1" in warnings[0]
    assert "'deep[].t': 1" in warnings[0]


def test_the_row_feeder_reads_them_too() -> None:
    feeder = rows.RowFeeder()
    got = feeder.feed(_EDGE_TEXT[:40]) + feeder.feed(_EDGE_TEXT[40:])
    assert [dumps(row) for row in got] == _EDGE_OUT


@pytest.mark.parametrize(
    "text",
    [
        b'[{"a":NaN}]',
        b'[{"a":Infinity}]',
        b'[{"a":-Infinity, "b":"\\ud83d"}]',
        b'[{"a":"\xed\xa0\x80"}]',  # a surrogate encoded in UTF-8: not UTF-8
        b'[{"a":1e400,}]',
        b'[{"a":"\\ud83d}]',
        b'[{"a":1e400} {"b":2}]',
    ],
)
@pytest.mark.parametrize("max_buffer", [16 << 20, 8])
def test_invalid_json_near_those_edges_stays_an_error(monkeypatch, text, max_buffer) -> None:
    monkeypatch.setattr(rows, "MAX_BUFFER", max_buffer)
    monkeypatch.setattr(rows, "CHUNK", 4 if max_buffer == 8 else 1 << 20)
    with pytest.raises(InvalidExport):
        list(iter_json_rows(io.BytesIO(text)))


def test_a_huge_number_is_typed_number() -> None:
    from tap_loop.schemas.inference import json_type, value_schema
    from tap_loop.schemas.row_check import SchemaGuard

    (row,) = iter_json_rows(io.BytesIO(b'[{"n":1e400}]'))
    assert json_type(row["n"]) == "number"
    assert value_schema(row["n"], False) == {"type": "number"}
    assert SchemaGuard({"type": "object", "properties": {"n": {"type": "number"}}}).check(row)
    assert not SchemaGuard({"type": "object", "properties": {"n": {"type": "integer"}}}).check(row)


LONG_TEXT = (
    b'[{"a":9007199254740993.0,"b":[12345678901234567890.5,1.5],'
    b'"c":{"pi":3.14159265358979323846264338327950288},"d":2.5,"e":-10000000000000000000000000000000000000000},'
    b'{"a":0.1,"b":[],"c":{"pi":3.0},"d":170141183460469231731687303715884105728,"e":1}]'
)
LONG_OUT = [
    b'{"a":9007199254740993.0,"b":[12345678901234567890.5,1.5],'
    b'"c":{"pi":3.14159265358979323846264338327950288},"d":2.5,"e":-10000000000000000000000000000000000000000}',
    b'{"a":0.1,"b":[],"c":{"pi":3.0},"d":170141183460469231731687303715884105728,"e":1}',
]


def test_long_decimals_keep_their_digits_on_the_orjson_path():
    parsed = list(rows.iter_json_rows(io.BytesIO(LONG_TEXT)))
    assert [dumps(row) for row in parsed] == LONG_OUT
    assert type(parsed[0]["a"]) is Decimal and type(parsed[0]["b"][1]) is float
    assert type(parsed[1]["a"]) is float


def test_long_decimals_keep_their_digits_on_the_ijson_path(monkeypatch):
    monkeypatch.setattr(rows, "MAX_BUFFER", 16)
    monkeypatch.setattr(rows, "CHUNK", 8)
    parsed = list(rows.iter_json_rows(io.BytesIO(LONG_TEXT)))
    assert [dumps(row) for row in parsed] == LONG_OUT
    assert type(parsed[0]["b"][1]) is float and type(parsed[1]["a"]) is float
    parsed = list(rows.iter_json_rows(io.BufferedReader(_Unseekable(LONG_TEXT))))
    assert [dumps(row) for row in parsed] == LONG_OUT
