"""The state book (tap_loop.state_book): the bookmark and exports in flight of the stream's
state entry, and when a STATE is written. No process, no HTTP."""

from __future__ import annotations

import copy
import threading
import typing as t

import pytest

from tap_loop.core.errors import LoopTapError
from tap_loop.loop_api.inflight import entry_key
from tap_loop.loop_api.windows import Window, to_iso
from tap_loop.state_book import StateBook

DAY = 86400
T0 = 1_793_491_200  # 2026-11-01T00:00:00Z
FP = "abc123def456"


class Book:
    """A book over a plain dict, recording a copy of the entry at every STATE written."""

    def __init__(self, entry: dict[str, t.Any] | None = None) -> None:
        self.entry: dict[str, t.Any] = entry if entry is not None else {}
        self.states: list[dict[str, t.Any]] = []
        self.book = StateBook(lambda: self.entry, self._write, lambda: "_loop_window_end")

    def _write(self) -> None:
        self.states.append(copy.deepcopy(self.entry))


def day(i: int) -> Window:
    return Window(T0 + i * DAY, T0 + (i + 1) * DAY)


def test_no_bookmark_is_none():
    assert Book().book.bookmark() is None
    assert Book({"replication_key_value": ""}).book.bookmark() is None


def test_bookmark_is_read_as_epoch_seconds():
    assert Book({"replication_key_value": to_iso(T0)}).book.bookmark() == T0


@pytest.mark.parametrize("value", ["yesterday", 12])
def test_corrupt_bookmark_names_the_field_and_what_to_do(value):
    with pytest.raises(LoopTapError) as caught:
        Book({"replication_key_value": value}).book.bookmark()
    assert str(caught.value) == (
        f"The state's bookmark {value!r} (bookmarks.report.replication_key_value) is not an "
        "ISO 8601 date-time. What to do: fix it, or clear the state (meltano state clear) "
        "to start again from start_date."
    )


def test_window_done_moves_the_bookmark_and_writes_a_state():
    b = Book()
    assert b.book.window_done(day(0), None) == day(0).end
    assert b.states == [
        {"replication_key": "_loop_window_end", "replication_key_value": to_iso(day(0).end)}
    ]


def test_bookmark_never_goes_backwards():
    b = Book()
    later = day(5).end
    assert b.book.window_done(day(0), later) == later  # a lookback window before it
    assert b.entry["replication_key_value"] == to_iso(later)
    assert b.states[-1]["replication_key_value"] == to_iso(later)


def test_state_is_written_only_when_the_entry_changed():
    b = Book()
    b.book.flush()
    assert b.states == []
    b.book.export_created(day(0), "e0")
    b.book.flush()
    b.book.flush()
    assert b.states == [{"exports_in_flight": {entry_key(day(0), ""): "e0"}}]
    b.book.export_abandoned(day(1))  # never in flight: nothing changes
    b.book.flush()
    assert len(b.states) == 1


def test_in_flight_entries_are_added_and_removed():
    b = Book()
    b.book.saved_exports([day(0), day(1)], FP)
    b.book.export_created(day(0), "e0")
    b.book.export_created(day(1), "e1")
    b.book.flush()
    assert b.states[-1]["exports_in_flight"] == {
        entry_key(day(0), FP): "e0",
        entry_key(day(1), FP): "e1",
    }
    b.book.export_abandoned(day(1))
    b.book.flush()
    assert b.states[-1]["exports_in_flight"] == {entry_key(day(0), FP): "e0"}
    b.book.window_done(day(0), None)  # its export is no longer in flight
    assert "exports_in_flight" not in b.states[-1]
    assert b.states[-1]["replication_key_value"] == to_iso(day(0).end)


def test_reusable_saved_exports_are_resumed_and_kept_in_flight():
    saved = {entry_key(day(0), FP): "old0"}
    b = Book({"exports_in_flight": dict(saved)})
    assert b.book.saved_exports([day(0), day(1)], FP) == {(day(0).start, day(0).end): "old0"}
    assert not b.book.dirty  # nothing dropped: no STATE needed
    b.book.export_created(day(1), "e1")
    b.book.flush()
    assert b.states[-1]["exports_in_flight"] == {**saved, entry_key(day(1), FP): "e1"}


def test_dropped_saved_exports_are_forgotten_by_the_next_state():
    saved = {
        entry_key(day(0), FP): "keep",
        entry_key(day(1), "otherrequest"): "other",  # another request
        entry_key(day(9), FP): "unplanned",  # a window this run does not plan
    }
    b = Book({"exports_in_flight": dict(saved)})
    assert b.book.saved_exports([day(0), day(1)], FP) == {(day(0).start, day(0).end): "keep"}
    assert b.book.dirty
    b.book.flush()
    assert b.states == [{"exports_in_flight": {entry_key(day(0), FP): "keep"}}]


def test_created_and_abandoned_from_several_threads_lose_nothing():
    b = Book()
    b.book.saved_exports([], FP)
    windows = [day(i) for i in range(400)]
    barrier = threading.Barrier(8)

    def work(part: list[Window]) -> None:
        barrier.wait()
        for window in part:
            b.book.export_created(window, f"e{window.start}")
        for window in part[::2]:
            b.book.export_abandoned(window)

    threads = [threading.Thread(target=work, args=(windows[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    b.book.flush()
    expected = {entry_key(w, FP): f"e{w.start}" for i in range(8) for w in windows[i::8][1::2]}
    assert b.states[-1]["exports_in_flight"] == expected


# -- filters the bookmark was reached with ---------------------------------------------------
@pytest.mark.parametrize(
    ("before", "now", "changes"),
    [
        ({"teamIds": ["a"]}, {"teamIds": ["a", "b"]}, [("teamIds", "added b")]),
        ({"teamIds": ["a"]}, {}, [("teamIds", "removed")]),
        ({"teamIds": ["a", "b"]}, {"teamIds": ["a"]}, []),
        ({}, {"teamIds": ["a"]}, []),
        ({}, {}, []),
        (
            {"tagIds": ["x"], "teamIds": ["a"]},
            {"tagIds": ["y"]},
            [("tagIds", "added y"), ("teamIds", "removed")],
        ),
        ({}, {"impersonateUser": "boss@x"}, [("impersonateUser", "nobody -> boss@x")]),
        ({"impersonateUser": "a@x"}, {"impersonateUser": "a@x"}, []),
    ],
)
def test_widened_filters(before, now, changes):
    from tap_loop.state_book import widened_filters

    assert widened_filters(before, now) == changes


def test_the_filters_are_kept_with_the_bookmark_as_one_string():
    from tap_loop.loop_api.windows import Window
    from tap_loop.state_book import StateBook

    entry: dict = {}
    book = StateBook(lambda: entry, lambda: None, lambda: "_loop_window_end", stream="support")
    book.filters = {"teamIds": ["b", "a"]}
    assert book.bookmark_filters() is None
    book.window_done(Window(0, 10), None)
    assert entry["bookmark_filters"] == '{"teamIds":["b","a"]}'
    assert book.bookmark_filters() == {"teamIds": ["b", "a"]}
    entry["bookmark_filters"] = "{not json"
    assert book.bookmark_filters() is None


def test_every_streams_bookmark_is_checked_and_named():
    from tap_loop.core.errors import LoopTapError
    from tap_loop.state_book import check_state

    state = {
        "bookmarks": {
            "support": {"replication_key_value": "2026-11-01T00:00:00Z"},
            "sales": {"replication_key_value": "soon"},
        }
    }
    with pytest.raises(LoopTapError, match=r"bookmarks\.sales\.replication_key_value"):
        check_state(state)
