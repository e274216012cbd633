"""The download host: serves ``/RF_<id>?Expires&Signature&Key-Pair-Id`` result files."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from typing_extensions import override

from loop_sandbox.fault_actions import apply_common
from loop_sandbox.faults import Fault
from loop_sandbox.httpcore import BaseHandler, Incoming
from loop_sandbox.render import Rendering, _dumps

PATH_RE = re.compile(r"/RF_([0-9A-Za-z_-]+)")
RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
GARBAGE = b'\x00<<this is not JSON>>{"oops": [1, 2'
#: The ``html_page`` fault's body: what a proxy, captive portal or CDN error page sends.
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
    b"<body><h1>Please sign in</h1><p>This page is served by a proxy.</p></body></html>\n"
)
INSERTED_ID = "msg_inserted"
TWO_AUTH = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
    "Signature query string parameter or the Authorization header should be specified"
)


class DownloadHandler(BaseHandler):
    """Checks the signed URL (and that no Authorization header came along), then streams."""

    @override
    def route(self, req: Incoming) -> None:
        app = self.server.app
        if req.method not in ("GET", "HEAD"):
            self.send_error_json(405, "Only GET and HEAD are allowed", "MethodNotAllowed")
            return
        match = PATH_RE.fullmatch(req.path)
        if not match:  # stray paths neither consume faults nor find anything
            self.send_error_json(404, "The specified key does not exist.", "NoSuchKey")
            return
        self.note(export_id=match.group(1))
        fault = app.faults.take("download")
        if apply_common(self, fault):
            return
        if "authorization" in req.headers:
            self.note(note="authorization header sent to the download host")
            self.send_error_json(400, TWO_AUTH, "InvalidArgument")
            return
        if fault is not None and fault.kind == "redirect":  # by default to itself: a loop
            own = f"{req.path}?{urlencode(req.query, doseq=True)}"
            self.send_bytes(302, b"", "text/plain", {"Location": fault.get("location") or own})
            return
        problem = app.signer.check(req.path, req.query, time.time())
        if problem is not None:
            self.refuse(req, problem[1], problem[0])
            return
        record = app.store.get(match.group(1))
        if record is None:
            self.send_error_json(404, "The specified key does not exist.", "NoSuchKey")
            return
        if fault is not None and fault.kind == "expire_url":
            app.store.expire_url(record, str(fault.get("then", "fresh")))
            self.refuse(req, "Request has expired", "Expired")
            return
        if fault is not None and fault.kind == "html_page":
            self.send_bytes(200, HTML_PAGE, "text/html; charset=utf-8")
            return
        cfg = app.config
        signature = req.query["Signature"][0]
        reason = app.store.download_check(
            record, signature, cfg.url_ttl_seconds, cfg.reissue_expired_urls
        )
        if reason is not None:
            self.refuse(req, f"Request has {reason}", "Expired")
            return
        self.stream(req, record.rendering, f"RF_{record.id}", fault)

    def refuse(self, req: Incoming, message: str, code: str) -> None:
        """403 ``message``; with ``credential_query`` on, the message also quotes the
        request's query string, as S3's ``SignatureDoesNotMatch`` quotes its
        ``CanonicalRequest``."""
        if self.server.app.config.credential_query:
            message += f"; CanonicalRequest: GET {req.path}?{req.raw_query}"
        self.send_error_json(403, message, code)

    def stream(self, req: Incoming, item: Rendering, name: str, fault: Fault | None) -> None:
        """Send the file (or a byte range of it), applying body faults."""
        size = item.size
        offset, length, status = 0, size, 200
        headers = {"Accept-Ranges": "bytes"}
        wanted = RANGE_RE.fullmatch(req.headers.get("range", "").strip())
        if wanted and (wanted.group(1) or wanted.group(2)):
            first, last = wanted.groups()
            if first:
                offset = int(first)
                end = min(int(last), size - 1) if last else size - 1
            else:  # suffix range: the last N bytes
                offset, end = max(size - int(last), 0), size - 1
            if offset >= size or end < offset:
                self.send_error_json(
                    416,
                    "Requested range not satisfiable",
                    "InvalidRange",
                    {"Content-Range": f"bytes */{size}"},
                )
                return
            length, status = end - offset + 1, 206
            headers["Content-Range"] = f"bytes {offset}-{end}/{size}"
        kind = fault.kind if fault is not None else None
        if kind == "insert_row" and item.spec.result_format == "Json":
            self._send_with_row_inserted(req, item, name)
            return
        sent_length = length
        if kind == "corrupt":
            kind = "invalid_json"  # the same bytes: half the file, then garbage
        if kind == "invalid_json":
            sent_length = length // 2 + len(GARBAGE)
        ext = "xlsx" if item.spec.result_format == "Xlsx" else "json"
        headers["Content-Disposition"] = f'attachment; filename="{name}.{ext}"'
        self.send_response(status)
        self.send_header("Content-Type", item.content_type)
        self.send_header("Content-Length", str(sent_length))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if req.method == "HEAD":
            return
        with open(item.path, "rb") as f:  # a kind means a fault: the union-attr ignores
            if kind == "invalid_json":
                self._send(f, offset, length // 2)
                self.wfile.write(GARBAGE)
            elif kind == "truncate":
                self._send(f, offset, int(length * float(fault.get("fraction", 0.5))))  # type: ignore[union-attr]
                self.reset(graceful=True)
            elif kind == "delay":  # delay with after_fraction: stall mid-body
                part = int(length * float(fault.get("after_fraction", 0.5)))  # type: ignore[union-attr]
                self._send(f, offset, part)
                time.sleep(float(fault.get("seconds", 1)))  # type: ignore[union-attr]
                self._send(f, offset + part, length - part)
            elif kind == "trickle":
                rate = float(fault.get("bytes_per_second", 50))  # type: ignore[union-attr]
                self._trickle(f, offset, length, rate)
            else:
                self._send(f, offset, length)

    def _send_with_row_inserted(self, req: Incoming, item: Rendering, name: str) -> None:
        """The whole file (200, any Range ignored) with one more row first: a copy of the
        first row with the id ``INSERTED_ID`` (content that changed between downloads)."""
        first = next(item.spec.rows(fresh=True), None)
        body = item.path.read_bytes()
        if first is not None:
            row = _dumps([{**first, "id": INSERTED_ID}], item.spec.edge_values)[1:-1]
            at = body.index(b"[") + 1  # after a byte order mark, if any
            body = body[:at] + row + b"," + body[at:]
        self.send_response(200)
        self.send_header("Content-Type", item.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Disposition", f'attachment; filename="{name}.json"')
        self.end_headers()
        if req.method != "HEAD":
            self.wfile.write(body)

    def _trickle(self, f, offset: int, count: int, rate: float) -> None:
        """Send ``count`` bytes at about ``rate`` bytes a second (ten writes a second)."""
        f.seek(offset)
        step = max(1, int(rate / 10))
        sent = 0
        while sent < count:
            piece = f.read(min(step, count - sent))
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except OSError:
                return  # the client gave up
            sent += len(piece)
            time.sleep(0.1)

    def _send(self, f, offset: int, count: int) -> None:
        if count > 0:
            self.connection.sendfile(f, offset, count)
