"""Carrying out the faults every endpoint shares: http_status, reset, delay."""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING

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
