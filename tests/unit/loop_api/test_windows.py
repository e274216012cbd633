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
