"""Exports in flight over a scripted Loop: window order, splits, resume, 429."""

from __future__ import annotations

import json
import threading
import typing as t

import pytest

from tap_loop.core.errors import ExportFailed, RangeTooLarge
from tap_loop.loop_api.pipeline import ExportPipeline
from tap_loop.loop_api.windows import Window, plan_windows
from tests.unit.loop_api.fakes import PROCESSING, FakeLoop, completed, lifecycle

HOUR = 3600
START = 1_793_577_600
WAIT = 10  # seconds a test waits for another thread before failing


def url_of(body: dict[str, t.Any]) -> str:
    return f"https://dl/{body['start']}-{body['end']}"


def rows_of(start: int, end: int) -> bytes:
    return json.dumps([{"start": start, "end": end}]).encode()


class WindowFiles(dict):
    """Every window's result file: its own bounds, so the order of rows can be checked."""

    def __missing__(self, url: str) -> list[bytes]:
        start, end = (int(part) for part in url.rsplit("/", 1)[1].split("-"))
        return [rows_of(start, end)]


def loop_for(script: t.Callable[[dict[str, t.Any]], list[t.Any]], **kwargs: t.Any) -> FakeLoop:
    loop = FakeLoop(script, **kwargs)
    loop.files = WindowFiles()
    return loop


def read(pipeline: ExportPipeline) -> list[tuple[Window, bytes]]:
    try:
        return [(done.window, done.path.read_bytes()) for done in pipeline.results()]
    finally:
        pipeline.close()


def test_results_in_window_order_when_a_later_window_finishes_first(tmp_path):
    windows = plan_windows(START, START + 3 * HOUR, HOUR)
    last_done = threading.Event()

    def script(body):
        if body["start"] == windows[0].start:  # the first window waits for the last
            return [PROCESSING, completed(url_of(body))]
        return [completed(url_of(body))]

    loop = loop_for(script)
    download = loop.download

    def downloading(url, sink):
        if url == url_of({"start": windows[0].start, "end": windows[0].end}):
            assert last_done.wait(WAIT)
        size = download(url, sink)
        if url.endswith(f"-{windows[-1].end}"):
            last_done.set()
        return size

    loop.download = downloading  # type: ignore[method-assign]
    pipeline = ExportPipeline(
        lifecycle(loop, tmp_path), windows, max_in_flight=3, min_window_seconds=HOUR
    )
    got = read(pipeline)
    assert [window for window, _ in got] == windows
    assert [body for _, body in got] == [rows_of(w.start, w.end) for w in windows]
    first, last = (url_of({"start": w.start, "end": w.end}) for w in (windows[0], windows[-1]))
    assert loop.downloaded.index(last) < loop.downloaded.index(first)  # it did finish first


def test_a_window_too_large_is_split_down_to_min_window_in_order(tmp_path):
    def too_large(body):
        if body["end"] - body["start"] > HOUR:
            raise RangeTooLarge("POST /api/v1/report/export", 400, "range too large")

    abandoned: list[Window] = []
    loop = loop_for(lambda body: [completed(url_of(body))], on_create=too_large)
    window = Window(START, START + 4 * HOUR)
    pipeline = ExportPipeline(
        lifecycle(loop, tmp_path),
        [window],
        max_in_flight=2,
        min_window_seconds=HOUR,
        on_abandoned=abandoned.append,
    )
    got = read(pipeline)
    quarters = plan_windows(START, START + 4 * HOUR, HOUR)
    assert [w for w, _ in got] == quarters
    assert [body for _, body in got] == [rows_of(w.start, w.end) for w in quarters]
    assert abandoned == [window, *window.halves()]


def test_a_window_failing_at_min_window_is_given_up_unsplittable(tmp_path):
    loop = loop_for(lambda body: [PROCESSING])  # times out, whatever its size
    pipeline = ExportPipeline(
        lifecycle(loop, tmp_path),
        [Window(START, START + 2 * HOUR)],
        max_in_flight=1,
        min_window_seconds=HOUR,
    )
    with pytest.raises(ExportFailed) as caught:
        read(pipeline)
    assert not caught.value.splittable
    assert "the smallest allowed ('min_window_minutes')" in str(caught.value)
    assert [b["end"] - b["start"] for b in loop.created] == [2 * HOUR, HOUR]


def test_a_saved_export_is_resumed_instead_of_created(tmp_path):
    windows = plan_windows(START, START + 2 * HOUR, HOUR)
    saved_url = url_of({"start": windows[1].start, "end": windows[1].end})
    loop = loop_for(lambda body: [completed(url_of(body))], saved={"s-1": [completed(saved_url)]})
    pipeline = ExportPipeline(
        lifecycle(loop, tmp_path),
        windows,
        max_in_flight=2,
        min_window_seconds=HOUR,
        resume={(windows[1].start, windows[1].end): "s-1"},
    )
    got = read(pipeline)
    assert [w for w, _ in got] == windows
    assert [(b["start"], b["end"]) for b in loop.created] == [(windows[0].start, windows[0].end)]
    assert "s-1" in loop.polled


def test_429_lowers_the_exports_in_flight(tmp_path, caplog):
    windows = plan_windows(START, START + 6 * HOUR, HOUR)
    rate_limited = threading.Event()
    pipeline: ExportPipeline | None = None

    def on_create(body):  # as LoopApi does on a 429: tell the pipeline
        if body["start"] == windows[3].start and pipeline is not None:
            pipeline.rate_limited()
            rate_limited.set()

    def script(body):
        if body["start"] == windows[0].start:  # the first result only after the 429
            assert rate_limited.wait(WAIT)
        return [completed(url_of(body))]

    loop = loop_for(script, on_create=on_create)
    pipeline = ExportPipeline(
        lifecycle(loop, tmp_path),
        windows,
        max_in_flight=4,
        min_window_seconds=HOUR,
        clock=lambda: 0.0,  # never quiet long enough to grow back
    )
    started = []
    got = []
    for done in pipeline.results():
        started.append(pipeline.started)
        got.append(done.window)
    pipeline.close()
    assert got == windows
    assert pipeline.limit == 2
    assert "Loop answered 429 Too Many Requests: exports in flight lowered 4 -> 2" in (
        caplog.messages
    )
    # four started up front; then at most two in flight: window 4 starts once 3 are read
    assert started == [4, 4, 4, 5, 6, 6]


def test_close_deletes_results_nobody_read(tmp_path):
    windows = plan_windows(START, START + 3 * HOUR, HOUR)
    loop = loop_for(lambda body: [completed(url_of(body))])
    pipeline = ExportPipeline(
        lifecycle(loop, tmp_path), windows, max_in_flight=3, min_window_seconds=HOUR
    )
    first = next(pipeline.results())
    for job in pipeline.jobs:  # the other two are downloaded too
        assert job.thread is not None
        job.thread.join(WAIT)
    pipeline.close()
    assert list(tmp_path.iterdir()) == [first.path]
    assert pipeline.lifecycle.cancel.is_set()
