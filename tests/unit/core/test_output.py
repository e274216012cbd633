"""The fast path's RECORD writer (LoopMessageWriter.record_writer); the whole-run
comparison with singer-sdk's general path is tests/behaviour/test_output_paths_identical.py."""

from __future__ import annotations

import datetime as dt
import gc
import io
import sys

import pytest
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from tap_loop.core.errors import LoopTapError
from tap_loop.core.output import LoopMessageWriter

WHEN = dt.datetime(2026, 11, 1, 12, 30, 5, 123456, tzinfo=dt.UTC)
ROWS: list[dict[str, object]] = [
    {"id": 1, "name": "é", "big": 2**70, "nested": {"b": [1, None]}},
    {"id": 2},
]


def test_record_lines_are_those_of_write_message(monkeypatch):
    fast, general = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", fast)
    with LoopMessageWriter.record_writer("report", WHEN) as write:
        for row in ROWS:
            write(row)
    monkeypatch.setattr(sys, "stdout", general)
    for row in ROWS:
        message = RecordMessage(stream="report", record=row, time_extracted=WHEN)
        LoopMessageWriter().write_message(message)
    assert fast.getvalue() == general.getvalue()
    assert fast.getvalue().count("\n") == len(ROWS)


def test_gc_thresholds_are_raised_inside_and_restored_after():
    before = gc.get_threshold()
    with pytest.raises(ValueError), LoopMessageWriter.record_writer("report", WHEN):
        assert gc.get_threshold() == (100_000, 50, 100)
        raise ValueError
    assert gc.get_threshold() == before


class _ClosedPipe(io.StringIO):
    @override
    def write(self, data: str) -> int:
        raise BrokenPipeError


def test_a_closed_stdout_is_target_gone(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    with (
        pytest.raises(LoopTapError, match="The target stopped reading"),
        LoopMessageWriter.record_writer("report", WHEN) as write,
    ):
        write(ROWS[0])
