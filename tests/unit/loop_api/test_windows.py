"""Window planning: consecutive, inclusive, ascending; halves share the middle second."""

from __future__ import annotations

from tap_loop.loop_api.windows import Window, plan_windows

DAY = 86400


def test_plan_cuts_range_into_consecutive_windows():
    windows = plan_windows(0, 3 * DAY, DAY)
    assert windows == [Window(0, DAY), Window(DAY, 2 * DAY), Window(2 * DAY, 3 * DAY)]


def test_last_window_is_clipped_to_the_end():
    assert plan_windows(0, DAY + 5, DAY)[-1] == Window(DAY, DAY + 5)


def test_fractional_windows():
    assert len(plan_windows(0, DAY, DAY // 4)) == 4


def test_empty_range_has_no_windows():
    assert plan_windows(100, 100, DAY) == []
    assert plan_windows(200, 100, DAY) == []


def test_halves_share_the_middle_second():
    first, second = Window(0, 100).halves()
    assert first == Window(0, 50) and second == Window(50, 100)


def test_iso_text_is_utc():
    assert Window(0, DAY).end_iso == "1970-01-02T00:00:00+00:00"


def test_a_plan_of_millions_of_windows_takes_constant_memory_and_reads_like_a_list():
    import tracemalloc

    from tap_loop.loop_api.windows import find_window, windows_ended_by

    tracemalloc.start()
    try:
        plan = plan_windows(0, 3650 * DAY, 86)  # ten years at window_days 0.001
        count = len(plan)
        last = plan[-1]
        found = find_window(plan, 86 * 5, 86 * 6)
        ended = windows_ended_by(plan, 86 * 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 3_666_977 and peak < 100_000
    assert last == Window(86 * (count - 1), 3650 * DAY)
    assert found == Window(430, 516) and find_window(plan, 430, 517) is None
    assert find_window(plan, 431, 517) is None and ended == 10
    assert windows_ended_by(plan, 3650 * DAY) == count


def test_plan_helpers_agree_with_a_list():
    from tap_loop.loop_api.windows import find_window, windows_ended_by

    plan = plan_windows(10, 10 + 5 * DAY + 7, DAY)
    windows = list(plan)
    assert plan == windows and plan[1:3] == windows[1:3] and len(plan) == 6
    for moment in (0, 10, DAY, DAY + 10, 5 * DAY + 16, 5 * DAY + 17, 10 * DAY):
        assert windows_ended_by(plan, moment) == windows_ended_by(windows, moment)
    for window in windows:
        assert find_window(plan, window.start, window.end) == window
        assert find_window(windows, window.start, window.end) == window
