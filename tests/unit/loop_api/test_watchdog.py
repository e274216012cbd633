"""Whole-call deadlines and cancellation over real sockets on 127.0.0.1: an answer that
trickles (headers or body) is cut at the deadline, a set cancel event cuts a call at once,
and neither threads nor connections are left behind."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tap_loop.core.errors import Cancelled, DownloadTooSlow
from tap_loop.loop_api import watchdog
from tap_loop.loop_api.client import Downloader, LoopApi, RetryPolicy
from tap_loop.loop_api.retry import Transient
from tap_loop.loop_api.watchdog import mount_watched, watched

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
    b'Connection: close\r\n\r\n{"id": "e1"}\n'
)


class Trickler:
    """A one-connection-at-a-time server answering every request with ANSWER, the first
    ``fast`` bytes at once and the rest one byte every ``interval`` seconds."""

    def __init__(self, fast: int = 0, interval: float = 0.2) -> None:
        self.fast, self.interval = fast, interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hung_up = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(ANSWER[: self.fast])
                    for byte in ANSWER[self.fast :]:
                        conn.sendall(bytes([byte]))
                        time.sleep(self.interval)
                except OSError:
                    self.hung_up.set()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    server = Trickler()
    yield server
    server.close()


def _no_retry() -> RetryPolicy:
    return RetryPolicy(max_retries=0, sleep=lambda s: None)


@pytest.mark.parametrize("fast", [0, ANSWER.index(b"\r\n\r\n") + 4], ids=["headers", "body"])
def test_a_trickled_answer_is_cut_at_the_deadline(fast):
    server = Trickler(fast=fast)
    try:
        api = LoopApi(
            f"http://127.0.0.1:{server.port}", "t", timeout_seconds=0.6, retry=_no_retry()
        )
        began = time.monotonic()
        with pytest.raises(
            Exception, match=r"no complete answer within 0.6 s \('request_timeout_seconds'\)"
        ):
            api.get_export("e1")
        assert time.monotonic() - began < 0.6 + 0.5
    finally:
        server.close()


def test_a_whole_answer_within_the_deadline_is_read():
    server = Trickler(fast=len(ANSWER) - 3, interval=0.05)
    try:
        api = LoopApi(f"http://127.0.0.1:{server.port}", "t", timeout_seconds=2, retry=_no_retry())
        assert api.get_export("e1") == {"id": "e1"}
        assert api.get_export("e1") == {"id": "e1"}
    finally:
        server.close()


def test_a_set_cancel_event_cuts_a_call_in_flight(trickler):
    cancel = threading.Event()
    api = LoopApi(f"http://127.0.0.1:{trickler.port}", "t", timeout_seconds=60, cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        api.get_export("e1")
    assert time.monotonic() - began < 0.3 + 0.5
    assert trickler.hung_up.wait(2)  # the server saw the connection go


def test_a_set_cancel_event_cuts_a_download_and_no_call_starts_after_it(trickler):
    cancel = threading.Event()
    download = Downloader(timeout_seconds=60, deadline_seconds=60, cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Cancelled):
        download.download(f"http://127.0.0.1:{trickler.port}/RF_x", io.BytesIO())
    with pytest.raises(Cancelled):
        download.download(f"http://127.0.0.1:{trickler.port}/RF_x", io.BytesIO())


def test_trickled_download_headers_end_at_the_download_deadline(trickler):
    download = Downloader(timeout_seconds=60, deadline_seconds=0.5, retry=_no_retry())
    began = time.monotonic()
    with pytest.raises(DownloadTooSlow, match="download_timeout_seconds"):
        download.download(f"http://127.0.0.1:{trickler.port}/RF_x", io.BytesIO())
    assert time.monotonic() - began < 1.5


def test_the_watchdog_thread_ends_when_idle(trickler, monkeypatch):
    monkeypatch.setattr(watchdog, "IDLE_SECONDS", 0.2)
    session = mount_watched(requests.Session())
    with watched(0.3), pytest.raises(requests.RequestException):
        session.get(f"http://127.0.0.1:{trickler.port}/", timeout=5)

    def watchdogs() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "tap-loop-http-watchdog"]

    deadline = time.monotonic() + 3
    while watchdogs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not watchdogs()
    session.close()


def test_calls_outside_watched_are_not_cut(trickler):
    server = Trickler(fast=len(ANSWER) - 2, interval=0.3)
    try:
        session = mount_watched(requests.Session())
        with watched(5):
            pass  # a finished watch does not reach later calls
        assert session.get(f"http://127.0.0.1:{server.port}/", timeout=5).json() == {"id": "e1"}
    finally:
        server.close()


def test_an_expired_call_is_transient():
    server = Trickler()
    try:
        api = LoopApi(
            f"http://127.0.0.1:{server.port}", "t", timeout_seconds=0.3, retry=_no_retry()
        )
        with pytest.raises(Exception) as caught:
            api._attempt("GET /x", "GET", "/x", None)
        assert isinstance(caught.value, Transient)
    finally:
        server.close()
