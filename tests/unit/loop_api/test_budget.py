"""One budget of exports in flight for every stream's pipeline: limit, order, 429s."""

from __future__ import annotations

import json
import typing as t

from tap_loop.loop_api.budget import ExportBudget
from tap_loop.loop_api.pipeline import ExportPipeline
from tap_loop.loop_api.windows import plan_windows
from tests.unit.loop_api.fakes import FakeLoop, completed, lifecycle

HOUR = 3600
START = 1_793_577_600
WAIT = 10


def test_limit_halves_on_429_and_grows_back_after_a_quiet_period():
    now = [0.0]
    budget = ExportBudget(8, clock=lambda: now[0])
    budget.rate_limited()
    assert budget.limit == 4
    now[0] = 1.0
    budget.rate_limited()  # within 2 s of the last change: no further drop
    assert budget.limit == 4
    now[0] = 5.0
    budget.rate_limited()
    assert budget.limit == 2
    now[0] = 30.0
    budget.top_up()
    assert budget.limit == 2  # not quiet long enough
    now[0] = 70.0
    budget.top_up()
    assert budget.limit == 3
    now[0] = 100.0
    budget.top_up()
    assert budget.limit == 3  # one step per quiet period
    now[0] = 140.0
    budget.top_up()
    assert budget.limit == 4
    assert budget.rate_limit_events == 3


def _loop(created: list[tuple[str, int]], name: str) -> FakeLoop:
    def script(body: dict[str, t.Any]) -> list[t.Any]:
        created.append((name, body["start"]))
        return [completed(f"https://dl/{name}/{body['start']}")]

    loop = FakeLoop(script)
    loop.files = _Files()
    return loop


class _Files(dict):
    def __missing__(self, url: str) -> list[bytes]:
        return [json.dumps([{"url": url}]).encode()]


def _pipeline(budget, loop, tmp_path, name, windows):
    folder = tmp_path / name
    folder.mkdir()
    return ExportPipeline(
        lifecycle(loop, folder),
        windows,
        max_in_flight=99,  # ignored: the shared budget decides
        min_window_seconds=HOUR,
        budget=budget,
        name=name,
    )


def test_two_pipelines_share_one_limit_and_the_next_stream_starts_early(tmp_path):
    """Streams are consumed one after the other; once the first has started all of its
    windows, free slots go to the second, whose exports are made while the first's rows
    are still being read. Never more than the limit in flight, all pipelines together."""
    created: list[tuple[str, int]] = []
    budget = ExportBudget(3)
    first_windows = plan_windows(START, START + 4 * HOUR, HOUR)
    second_windows = plan_windows(START, START + 3 * HOUR, HOUR)
    first = _pipeline(budget, _loop(created, "a"), tmp_path, "a", first_windows)
    second = _pipeline(budget, _loop(created, "b"), tmp_path, "b", second_windows)
    peak = 0
    got = []
    for done in first.results():
        peak = max(peak, budget.in_flight)
        assert budget.in_flight <= 3
        got.append(done.window)
    assert got == list(first_windows)
    # while the first stream's last windows were read, the second's first ones started
    assert second.started >= 1
    assert [name for name, _ in created[:4]] == ["a"] * 4  # the current stream first
    first.close()
    got = []
    for done in second.results():
        assert budget.in_flight <= 3
        got.append(done.window)
    second.close()
    assert got == list(second_windows)
    assert peak == 3
    assert budget.in_flight == 0
    assert budget.users == []


def test_a_429_in_one_stream_lowers_the_limit_of_all(tmp_path):
    budget = ExportBudget(4, clock=lambda: 0.0)
    created: list[tuple[str, int]] = []
    first = _pipeline(
        budget, _loop(created, "a"), tmp_path, "a", plan_windows(START, START + HOUR, HOUR)
    )
    second = _pipeline(
        budget, _loop(created, "b"), tmp_path, "b", plan_windows(START, START + HOUR, HOUR)
    )
    first.rate_limited()
    assert budget.limit == second.limit == 2
    first.close()
    second.close()


def test_closing_a_pipeline_frees_its_unconsumed_slots(tmp_path):
    budget = ExportBudget(4)
    created: list[tuple[str, int]] = []
    windows = plan_windows(START, START + 4 * HOUR, HOUR)
    pipeline = _pipeline(budget, _loop(created, "a"), tmp_path, "a", windows)
    results = pipeline.results()
    next(results)
    assert budget.in_flight == 4
    for job in pipeline.jobs:
        assert job.thread is not None
        job.thread.join(WAIT)
    pipeline.close()
    assert budget.in_flight == 0
