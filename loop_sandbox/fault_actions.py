"""Carrying out the faults every endpoint shares: http_status, reset, delay, and the
API's trickled answers."""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loop_sandbox.faults import Fault
    from loop_sandbox.httpcore import BaseHandler


def retry_after_value(fault: Fault) -> str | None:
    """The Retry-After header for an http_status fault (seconds or an HTTP-date)."""
    value = fault.get("retry_after")
    if value is None:
        return None
    if value == "http-date":
        ahead = float(fault.get("retry_after_seconds", 1))
        return email.utils.formatdate(time.time() + ahead, usegmt=True)
    number = float(value)
    return str(int(number)) if number.is_integer() else str(value)


def apply_common(handler: BaseHandler, fault: Fault | None) -> bool:
    """Apply a shared fault; True when the request has been fully dealt with."""
    if fault is None:
        return False
    handler.note(fault=fault.kind, fault_source=fault.source)
    if fault.kind == "http_status":
        status = int(fault.get("status"))
        headers = {}
        retry = retry_after_value(fault)
        if retry is not None:
            headers["Retry-After"] = retry
        if fault.get("body") is not None:
            data = str(fault.get("body")).encode()
            handler.send_bytes(status, data, fault.get("content_type", "text/html"), headers)
        else:
            handler.send_error_json(status, fault.get("message"), fault.get("code"), headers)
        return True
    if fault.kind == "reset":
        handler.reset(graceful=bool(fault.get("graceful", False)))
        return True
    mid_body = fault.get("after_fraction") is not None and handler.server.label == "download"
    if fault.kind == "delay" and not mid_body:  # mid-body stalls happen while streaming
        time.sleep(float(fault.get("seconds", 1)))
    return False


class TrickleWriter:
    """A write-through stream that sends everything at ``rate`` bytes a second, one small
    write at a time (one byte a write below ten bytes a second); the first ``skip``
    writes (the status line and headers, which http.server writes in one go) pass at once.
    A client that hangs up ends the trickle with the OSError of the next write."""

    def __init__(self, raw: Any, rate: float, skip: int = 0) -> None:
        self.raw = raw
        self.rate = rate
        self.skip = skip

    def write(self, data: bytes) -> int:
        if self.skip > 0:
            self.skip -= 1
            self.raw.write(data)
            self.raw.flush()
            return len(data)
        step = max(1, int(self.rate / 10))
        for at in range(0, len(data), step):
            piece = data[at : at + step]
            self.raw.write(piece)
            self.raw.flush()
            time.sleep(len(piece) / self.rate)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


@contextlib.contextmanager
def trickled(handler: BaseHandler, fault: Fault | None) -> Iterator[None]:
    """While open, a ``trickle`` fault's answer goes out at ``bytes_per_second`` (default
    1 for API answers): status line and headers too, unless ``headers`` is false."""
    if fault is None or fault.kind != "trickle":
        yield
        return
    raw = handler.wfile
    rate = float(fault.get("bytes_per_second", 1))
    skip = 0 if fault.get("headers", True) else 1
    handler.wfile = TrickleWriter(raw, rate, skip)  # type: ignore[assignment]
    try:
        yield
    finally:
        handler.wfile = raw
