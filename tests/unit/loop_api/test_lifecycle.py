"""The export lifecycle's rules, against a scripted Loop and a clock that sleeps at once."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from typing_extensions import override

from tap_loop.core.errors import Cancelled, ExportFailed, LoopTapError, UrlExpired
from tap_loop.loop_api.lifecycle import ExportLifecycle
from tap_loop.loop_api.status import ExportState, ExportStatus
from tap_loop.loop_api.windows import Window
from tests.unit.loop_api.fakes import (
    PROCESSING,
    FakeClock,
    FakeLoop,
    answer,
    completed,
    lifecycle,
    settings,
)

WINDOW = Window(1_793_577_600, 1_793_664_000)
ROWS = b'[{"id": 1}]'


def expired(url: str) -> UrlExpired:
    return UrlExpired(f"the download host refused {url} (HTTP 403)")


# -- statuses ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "status", "terminal", "failed"),
    [
        ("Processing", ExportStatus.PROCESSING, False, False),
        (" completed ", ExportStatus.COMPLETED, True, False),
        ("Failed", ExportStatus.FAILED, True, True),
        ("EXPIRED", ExportStatus.EXPIRED, True, True),
        ("PendingOrExpired", ExportStatus.NOT_READY, False, False),
        (3, ExportStatus.NOT_READY, False, False),
        (None, ExportStatus.NOT_READY, False, False),
    ],
)
def test_status_mapping_and_which_are_terminal(raw, status, terminal, failed):
    assert ExportStatus.from_api(raw) is status
    assert status.terminal is terminal
    assert status.failed is failed


def test_a_completed_state_without_url_is_not_settled():
    def state(status: ExportStatus, url: str | None) -> ExportState:
        return ExportState("e1", status, status.value, url)

    assert not state(ExportStatus.COMPLETED, None).settled
    assert state(ExportStatus.COMPLETED, "https://dl/x").ready
    assert state(ExportStatus.FAILED, None).settled
    assert not state(ExportStatus.PROCESSING, "https://dl/x").settled


# -- create, poll, download --------------------------------------------------------------
def test_completed_export_is_polled_every_interval_then_downloaded(tmp_path):
    loop = FakeLoop([[PROCESSING, PROCESSING, completed("https://dl/1")]], {"https://dl/1": ROWS})
    clock = FakeClock()
    done = lifecycle(loop, tmp_path, clock).produce(WINDOW)
    assert loop.created == [settings().export_body(WINDOW.start, WINDOW.end)]
    assert loop.polled == ["e1", "e1", "e1"]
    assert clock.sleeps == [10, 10, 10]  # the first check after one interval too
    assert (done.export_id, done.window, done.url, done.size) == ("e1", WINDOW, "https://dl/1", 11)
    assert done.path.read_bytes() == ROWS and done.path.parent == tmp_path
    assert done.seconds == 30


def test_completed_without_url_is_polled_again(tmp_path, caplog):
    caplog.set_level(logging.INFO, "tap_loop.export")
    loop = FakeLoop([[answer("Completed"), completed("https://dl/1")]], {"https://dl/1": ROWS})
    done = lifecycle(loop, tmp_path).produce(WINDOW)
    assert done.url == "https://dl/1" and loop.polled == ["e1", "e1"]
    assert "Export e1 reads Completed without a url; polling again" in caplog.messages


def test_failed_and_expired_exports_are_created_again(tmp_path):
    loop = FakeLoop(
        [[answer("Failed")], [PROCESSING, answer("Expired")], [completed("https://dl/3")]],
        {"https://dl/3": ROWS},
    )
    done = lifecycle(loop, tmp_path).produce(WINDOW)
    assert done.export_id == "e3" and len(loop.created) == 3
    assert loop.downloaded == ["https://dl/3"]


def test_attempts_run_out_after_max_export_attempts(tmp_path):
    loop = FakeLoop([[answer("Failed")], [answer("Expired")], [answer("Failed")]])
    with pytest.raises(ExportFailed) as caught:
        lifecycle(loop, tmp_path).produce(WINDOW)
    assert len(loop.created) == 3
    assert caught.value.splittable
    assert "did not complete after 3 attempts (e1: Failed; e2: Expired; e3: Failed)" in str(
        caught.value
    )


def test_timeout_is_a_splittable_export_failed(tmp_path):
    loop = FakeLoop([[PROCESSING]])
    clock = FakeClock()
    with pytest.raises(ExportFailed) as caught:
        lifecycle(loop, tmp_path, clock).produce(WINDOW)
    assert caught.value.splittable
    assert "was still 'Processing' after 60 s ('export_timeout_seconds')" in str(caught.value)
    assert len(loop.created) == 1  # a timeout is not answered by creating it again
    # checks at 10, 20, ..., 60 s; the next one would pass the deadline
    assert len(loop.polled) == 6 and clock.now == 60


def test_unknown_status_is_logged_once_and_named_by_the_timeout(tmp_path, caplog):
    loop = FakeLoop([[answer(3)]])
    with pytest.raises(ExportFailed) as caught:
        lifecycle(loop, tmp_path).produce(WINDOW)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Export e1 reports status 3 (int), a value unknown to the tap: treated as not "
        "ready yet (logged once per value)"
    ]
    assert len(loop.polled) == 6
    message = str(caught.value)
    assert "still reported status 3 (a JSON number, not a string) after 60 s" in message
    assert "unknown to the tap" in message and "--diagnose" in message
    assert not caught.value.splittable  # issue 17: a smaller window gets the same answer


def test_known_pending_status_is_no_warning(tmp_path, caplog):
    caplog.set_level(logging.INFO, "tap_loop.export")
    loop = FakeLoop([[answer("PendingOrExpired")]])
    with pytest.raises(ExportFailed) as caught:
        lifecycle(loop, tmp_path).produce(WINDOW)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (
        caplog.messages.count(
            'Export e1 reports status "PendingOrExpired": treated as not ready yet'
        )
        == 1
    )
    assert "was still 'PendingOrExpired' after 60 s" in str(caught.value)
    assert caught.value.splittable  # pending-like: a smaller export may finish in time


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ([answer({"s": 1})], 'status {"s": 1} (a JSON object, not a string) after 60 s'),
        ([answer("Queued")], 'status "Queued" after 60 s'),
        ([answer("Completed")], "Completed but no download url (url: null) for 60 s"),
        ([answer("Completed", 7)], "Completed with url 7 (a JSON number, not a string)"),
        ([answer("Completed", [])], "Completed with url [] (a JSON array, not a string)"),
    ],
    ids=["object", "unknown-string", "no-url", "url-number", "url-array"],
)
def test_a_timeout_on_an_answer_the_tap_cannot_act_on_is_not_splittable(tmp_path, script, words):
    loop = FakeLoop([script])
    with pytest.raises(ExportFailed) as caught:
        lifecycle(loop, tmp_path).produce(WINDOW)
    assert not caught.value.splittable
    assert words in str(caught.value) and "not split" in str(caught.value)
    assert len(loop.created) == 1 and loop.downloaded == []


def test_a_stuck_answer_that_clears_in_time_is_no_failure(tmp_path):
    loop = FakeLoop(
        [[answer(2), answer("Completed", {"u": 1}), completed("https://dl/1")]],
        {"https://dl/1": ROWS},
    )
    done = lifecycle(loop, tmp_path).produce(WINDOW)
    assert done.url == "https://dl/1" and loop.polled == ["e1", "e1", "e1"]


def test_the_state_keeps_the_polled_id_and_the_raw_values(tmp_path):
    loop = FakeLoop(saved={"e1": [{"id": "other", "status": 2, "url": 5}]})
    state = lifecycle(loop, tmp_path).status("e1")
    assert (state.export_id, state.raw, state.raw_url, state.url) == ("e1", 2, 5, None)
    assert state.stuck is not None and not state.ready


@pytest.mark.parametrize(
    ("created", "words"),
    [
        ({"id": 5}, "HTTP 200 with an export id that is not a non-empty string: 5 (a JSON number)"),
        ({"id": ""}, 'not a non-empty string: "" (a JSON string)'),
        ({"id": " "}, 'not a non-empty string: " " (a JSON string)'),
        ({"status": "Processing"}, "HTTP 200 with no export id (no 'id' field)"),
        ({}, "HTTP 200 with no export id (an empty body and no Location header)"),
    ],
)
def test_an_export_id_that_is_not_a_non_empty_string_is_one_clear_error(tmp_path, created, words):
    class Creates(FakeLoop):
        @override
        def create_export(self, body):
            self.created.append(body)
            return created

    with pytest.raises(LoopTapError) as caught:
        lifecycle(Creates(), tmp_path).produce(WINDOW)
    assert words in str(caught.value) and "What to do" in str(caught.value)


def test_a_reportid_is_used_when_there_is_no_id(tmp_path):
    class Creates(FakeLoop):
        @override
        def create_export(self, body):
            return {"id": None, "reportId": "r/1"}

    assert lifecycle(Creates(), tmp_path).create(WINDOW) == "r/1"


@pytest.mark.parametrize("export_id", ["a/b", "x" * 300, "../../x", "x?y=1#z"])
def test_result_files_are_never_named_after_the_export_id(tmp_path, export_id):
    loop = FakeLoop(files={"https://dl/1": ROWS})
    path, size = lifecycle(loop, tmp_path).download("https://dl/1", export_id)
    assert path.parent == tmp_path and size == len(ROWS)
    assert export_id not in path.name and path.name.startswith("loop-")


# -- URLs that expire, files read again --------------------------------------------------
def test_expired_url_is_answered_with_a_fresh_one(tmp_path, caplog):
    caplog.set_level(logging.INFO, "tap_loop.export")
    loop = FakeLoop(
        [[completed("https://dl/old?Signature=s1"), completed("https://dl/new?Signature=s2")]],
        {"https://dl/old?Signature=s1": expired("old"), "https://dl/new?Signature=s2": ROWS},
    )
    clock = FakeClock()
    done = lifecycle(loop, tmp_path, clock).produce(WINDOW)
    assert done.url == "https://dl/new?Signature=s2" and done.path.read_bytes() == ROWS
    assert len(loop.created) == 1 and loop.polled == ["e1", "e1"]
    assert clock.sleeps == [10]  # the fresh URL is asked for at once
    fresh = [m for m in caplog.messages if m.startswith("Got a fresh result URL")]
    assert fresh and "s2" not in fresh[0]  # never a URL's query value
    assert list(tmp_path.iterdir()) == [done.path]  # the refused download left no file


def test_fresh_url_refused_too_creates_the_export_again(tmp_path):
    loop = FakeLoop(
        [[completed("https://dl/a"), completed("https://dl/b")], [completed("https://dl/c")]],
        {"https://dl/a": expired("a"), "https://dl/b": expired("b"), "https://dl/c": ROWS},
    )
    done = lifecycle(loop, tmp_path).produce(WINDOW)
    assert done.export_id == "e2" and loop.downloaded == [
        "https://dl/a",
        "https://dl/b",
        "https://dl/c",
    ]


def test_refetch_downloads_the_same_url_again(tmp_path):
    loop = FakeLoop([[completed("https://dl/1")]], {"https://dl/1": ROWS})
    life = lifecycle(loop, tmp_path)
    first = life.produce(WINDOW)
    again = life.refetch(first)
    assert again is not None and again.downloads == 2 and again.export_id == "e1"
    assert not first.path.exists() and again.path.read_bytes() == ROWS
    assert loop.polled == ["e1"]  # the same URL: no new status check


def test_refetch_polls_for_a_fresh_url_when_the_old_one_expired(tmp_path):
    loop = FakeLoop(
        [[completed("https://dl/1"), completed("https://dl/2")]],
        {"https://dl/1": [ROWS, expired("1")], "https://dl/2": ROWS},
    )
    life = lifecycle(loop, tmp_path)
    again = life.refetch(life.produce(WINDOW))
    assert again is not None and again.url == "https://dl/2" and loop.polled == ["e1", "e1"]


def test_fetch_again_exports_anew_when_the_export_is_gone(tmp_path, caplog):
    loop = FakeLoop(
        [[completed("https://dl/1"), answer("Expired")], [completed("https://dl/2")]],
        {"https://dl/1": [ROWS, expired("1")], "https://dl/2": ROWS},
    )
    life = lifecycle(loop, tmp_path)
    first = life.produce(WINDOW)
    created = []
    again = life.fetch_again(first, on_created=lambda window, eid: created.append((window, eid)))
    assert again.export_id == "e2" and again.path.read_bytes() == ROWS
    assert created == [(WINDOW, "e2")]
    assert any(m.startswith("Export e1 is gone; exporting window") for m in caplog.messages)


# -- resume, cancel, observer ------------------------------------------------------------
def test_resumed_export_is_polled_at_once_and_not_created(tmp_path):
    loop = FakeLoop(saved={"saved-7": [completed("https://dl/7")]}, files={"https://dl/7": ROWS})
    clock = FakeClock()
    created = []
    done = lifecycle(loop, tmp_path, clock).produce(
        WINDOW, resume_id="saved-7", on_created=lambda *a: created.append(a)
    )
    assert done.export_id == "saved-7" and loop.created == [] and created == []
    assert clock.sleeps == []


def test_resumed_export_unknown_to_loop_is_created_anew_without_costing_an_attempt(tmp_path):
    loop = FakeLoop(
        [[answer("Failed")], [answer("Failed")], [completed("https://dl/3")]],
        {"https://dl/3": ROWS},
    )
    done = lifecycle(loop, tmp_path).produce(WINDOW, resume_id="gone-1")
    assert loop.polled[0] == "gone-1" and done.export_id == "e3"  # 3 attempts still


def test_cancel_during_a_wait_raises_cancelled_promptly(tmp_path):
    loop = FakeLoop([[PROCESSING]])
    cancel = threading.Event()
    life = ExportLifecycle(
        loop, settings(poll_interval_seconds=30), work_dir=tmp_path, cancel=cancel
    )
    threading.Timer(0.1, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        life.produce(WINDOW)
    assert time.monotonic() - began < 5  # not the 30 s poll interval
    assert loop.polled == []


def test_a_set_cancel_stops_before_creating_or_downloading(tmp_path):
    loop = FakeLoop([[completed("https://dl/1")]], {"https://dl/1": ROWS})
    life = lifecycle(loop, tmp_path)
    life.cancel.set()
    with pytest.raises(Cancelled):
        life.produce(WINDOW)
    with pytest.raises(Cancelled):
        life.download("https://dl/1", "e1")
    assert loop.created == [] and loop.downloaded == []


def test_status_observer_sees_every_check_with_the_time_since_the_wait_began(tmp_path):
    loop = FakeLoop([[PROCESSING, answer(3), completed("https://dl/1")]], {"https://dl/1": ROWS})
    seen = []
    clock = FakeClock()
    clock.now = 1000.0
    life = ExportLifecycle(
        loop,
        settings(),
        work_dir=tmp_path,
        clock=clock,
        sleep=clock.sleep,
        on_status=lambda state, elapsed: seen.append((state.raw, state.unknown, elapsed)),
    )
    life.produce(WINDOW)
    assert seen == [("Processing", False, 10), (3, True, 20), ("Completed", False, 30)]
