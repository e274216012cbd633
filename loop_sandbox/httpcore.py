"""HTTP plumbing shared by both servers: threaded server, request parsing, JSON replies."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from typing_extensions import override

from loop_sandbox.state import SandboxState

ERROR_CODES = {
    400: ("BadRequest", "Bad request"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "Requested resource forbidden"),
    404: ("NotFound", "Not found"),
    405: ("MethodNotAllowed", "Method not allowed"),
    415: ("UnsupportedMediaType", "Content-Type must be application/json"),
    429: ("TooManyRequests", "Too many requests"),
    451: ("AccountNotVerified", "Unavailable because account is not verified"),
    500: ("InternalServerError", "Internal server error"),
    502: ("BadGateway", "Bad gateway"),
    503: ("ServiceUnavailable", "Service unavailable"),
    504: ("GatewayTimeout", "Gateway timeout"),
}
BODY_RECORD_LIMIT = 64 * 1024


@dataclass
class Incoming:
    """A parsed request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    record: dict[str, Any] | None
    raw_query: str = ""


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded server on 127.0.0.1 that knows its sandbox's state and its open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, port: int, handler: type[BaseHandler], app: SandboxState, label: str
    ) -> None:
        self.app = app
        self.label = label
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @override
    def process_request(self, request, client_address) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    @override
    def shutdown_request(self, request) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open client connection (used by stop())."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @override
    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # client went away, reset faults, shutdown
            return
        super().handle_error(request, client_address)


class BaseHandler(BaseHTTPRequestHandler):
    """Parses and records requests, then calls ``route``; helpers to answer JSON."""

    protocol_version = "HTTP/1.1"
    server_version = "LoopSandbox/1.0"
    sys_version = ""
    server: SandboxHTTPServer
    _record: dict[str, Any] | None = None
    _responded = False
    _status: int | None = None

    @override
    def version_string(self) -> str:
        """``Server`` header value."""
        return self.server_version

    def route(self, req: Incoming) -> None:
        """Answer one request (overridden per server)."""
        raise NotImplementedError

    def recorded(self, path: str) -> bool:
        """Whether requests to ``path`` go into the request log."""
        return True

    @override
    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's own logging (the sandbox logs via its ``log`` hook)."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _serve(self) -> None:
        self._responded = False
        self._status = None
        url = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        try:
            body = self._read_body(headers)
        except ValueError:
            self.send_error_json(400, "Malformed request body framing", "BadRequest")
            self.close_connection = True
            return
        record: dict[str, Any] | None = None
        if self.recorded(url.path):
            record = {
                "server": self.server.label,
                "method": self.command,
                "path": url.path,
                "query": parse_qs(url.query, keep_blank_values=True),
                "raw_query": url.query,
                "headers": headers,
                "body": body[:BODY_RECORD_LIMIT].decode("utf-8", "replace") if body else None,
                "time": time.time(),
                "status": None,
                "fault": None,
                "fault_source": None,
                "note": None,
                "export_id": None,
            }
            self.server.app.request_log.add(record)
        self._record = record
        req = Incoming(
            self.command, url.path, parse_qs(url.query), headers, body, record, url.query
        )
        began = time.perf_counter()
        try:
            self.route(req)
        except OSError:
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            if not self._responded:
                self.send_error_json(500, "Sandbox error (see its stderr)", "SandboxError")
            self.close_connection = True
        fault = record.get("fault") if record else None
        self.server.app.log_request(
            self.server.label, self.command, self.path, self._status, fault, began
        )

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    @override
    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True
        self._status = code
        if self._record is not None:
            self._record["status"] = code
        super().send_response(code, message)

    def note(self, **fields: Any) -> None:
        """Add fields (``fault``, ``note``, ...) to this request's log record."""
        if self._record is not None:
            self._record.update(fields)

    def send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, orjson.dumps(obj), "application/json", headers)

    def send_error_json(
        self,
        status: int,
        message: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_code, default_message = ERROR_CODES.get(status, ("Error", "Error"))
        body = {"message": message or default_message, "code": code or default_code}
        self.send_json(status, body, headers)

    def reset(self, graceful: bool = False) -> None:
        """Drop the connection without an answer (RST unless ``graceful``: plain FIN)."""
        sock = self.connection
        try:
            if graceful:
                sock.shutdown(socket.SHUT_RDWR)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass
        self.close_connection = True
