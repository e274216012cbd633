"""Deadlines for whole HTTP calls, and a way out of them when the run stops.

requests' timeout bounds each socket read, not a call: an answer that trickles one byte a
second, headers included, never times out. :func:`watched` makes the calls made inside it
(in this thread) end by a deadline: one shared watchdog thread shuts their sockets down
when the deadline passes or the run's ``cancel`` event is set, so the blocked read returns
at once and the call raises. The caller then asks :attr:`Call.expired` /
:attr:`Call.cancelled` to tell that failure from any other.

The sockets are found through the connections a :class:`WatchedAdapter` makes: they tell
the call watching their thread when they connect, when they send a request (a
connection reused from the pool included) and before they read the answer. A connect or
name lookup in progress cannot be interrupted: its own timeout bounds it, and its socket
is shut down as soon as it connects. The watchdog thread starts with the first watched
call and ends after :data:`IDLE_SECONDS` without one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import typing as t
from collections.abc import Iterator

import requests
import urllib3
from requests.adapters import HTTPAdapter
from typing_extensions import override
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

TICK_SECONDS = 0.1
"""How often the watchdog looks at the ``cancel`` events of the calls it watches."""
IDLE_SECONDS = 5.0
"""The watchdog thread ends after this long without a call to watch."""


class Call:
    """One watched call: its deadline (monotonic, None for none), the run's cancel
    event, and the connections it used. Once cut, any connection it uses is shut down."""

    def __init__(self, deadline: float | None, cancel: threading.Event | None) -> None:
        self.deadline = deadline
        self.cancel = cancel
        self.expired = False
        """The deadline passed before the call ended."""
        self.cancelled = False
        """The run stopped before the call ended."""
        self._connections: list[t.Any] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def cut(self) -> bool:
        return self.expired or self.cancelled

    def attach(self, connection: t.Any) -> None:
        """``connection`` (a urllib3 connection) serves this call, with its socket if it
        has one (kept: http.client drops it from a connection that will close, while the
        answer is still read from it)."""
        sock = getattr(connection, "sock", None)
        with self._lock:
            if not any(known is connection for known in self._connections):
                self._connections.append(connection)
            if sock is not None and not any(known is sock for known in self._sockets):
                self._sockets.append(sock)
            if self.cut and sock is not None:
                _shut(sock)

    def cut_off(self, *, cancelled: bool) -> None:
        """Mark the call expired (or cancelled) and shut its sockets down."""
        with self._lock:
            if cancelled:
                self.cancelled = True
            else:
                self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def close_connections(self) -> None:
        """Close the connections of a cut call, so none is reused half-read."""
        with self._lock:
            connections, self._connections, self._sockets = self._connections, [], []
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # the plain socket's shutdown, also under TLS: the blocked read sees the end
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """The one thread that cuts calls off at their deadline or when their run stops."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, call: Call) -> None:
        with self._changed:
            self._calls.append(call)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tap-loop-http-watchdog", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def remove(self, call: Call) -> None:
        with self._changed, contextlib.suppress(ValueError):
            self._calls.remove(call)

    def _run(self) -> None:
        idle_since: float | None = None
        while True:
            with self._changed:
                now = time.monotonic()
                if not self._calls:
                    idle_since = now if idle_since is None else idle_since
                    if now - idle_since >= IDLE_SECONDS:
                        self._thread = None
                        return
                    self._changed.wait(IDLE_SECONDS)
                    continue
                idle_since = None
                cancelled = [c for c in self._calls if c.cancel is not None and c.cancel.is_set()]
                due = [
                    c
                    for c in self._calls
                    if c not in cancelled and c.deadline is not None and now >= c.deadline
                ]
                for call in cancelled + due:
                    self._calls.remove(call)
                waits = [c.deadline - now for c in self._calls if c.deadline is not None]
                if any(c.cancel is not None for c in self._calls):
                    waits.append(TICK_SECONDS)
            for call in cancelled:
                call.cut_off(cancelled=True)
            for call in due:
                call.cut_off(cancelled=False)
            if not (cancelled or due):
                with self._changed:
                    self._changed.wait(max(0.005, min(waits, default=IDLE_SECONDS)))


_WATCHDOG = _Watchdog()


class _Current(threading.local):
    call: Call | None = None


_CURRENT = _Current()


@contextlib.contextmanager
def watched(seconds: float | None, cancel: threading.Event | None = None) -> Iterator[Call]:
    """Calls this thread makes through a :class:`WatchedAdapter` inside the block end
    within ``seconds`` (None: no deadline) and as soon as ``cancel`` is set (checked
    every :data:`TICK_SECONDS`). A call cut off raises what a closed connection raises;
    the yielded :class:`Call` says why. The connections of a cut call are closed."""
    deadline = None if seconds is None else time.monotonic() + seconds
    call = Call(deadline, cancel)
    if cancel is not None and cancel.is_set():
        call.cancelled = True
    previous, _CURRENT.call = _CURRENT.call, call
    _WATCHDOG.add(call)
    try:
        yield call
    finally:
        _WATCHDOG.remove(call)
        _CURRENT.call = previous
        if call.cut:
            call.close_connections()


def _attach(connection: t.Any) -> None:
    call = _CURRENT.call
    if call is not None:
        call.attach(connection)


class _Watched:
    """Mixed into urllib3's connections: tell the watching call about the socket."""

    def connect(self) -> None:
        _attach(self)
        super().connect()  # type: ignore[misc]
        _attach(self)  # the new socket (shut at once if the call was cut meanwhile)

    def request(self, *args: t.Any, **kwargs: t.Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> t.Any:
        _attach(self)
        return super().getresponse()  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections :func:`watched` can cut off (direct and
    through an HTTP(S) proxy; a SOCKS proxy's connections keep their own timeouts)."""

    @override
    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    @override
    def proxy_manager_for(self, proxy: str, **proxy_kwargs: t.Any) -> urllib3.PoolManager:
        manager: urllib3.PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def mount_watched(session: requests.Session) -> requests.Session:
    """``session`` with :class:`WatchedAdapter` for http and https; returned."""
    session.mount("https://", WatchedAdapter())
    session.mount("http://", WatchedAdapter())
    return session


__all__ = ["Call", "WatchedAdapter", "mount_watched", "watched"]
