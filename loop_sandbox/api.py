"""The Loop API server: create export, get export, plus the /_sandbox/ control routes."""

from __future__ import annotations

from urllib.parse import quote, unquote

import orjson
from typing_extensions import override

from loop_sandbox import control
from loop_sandbox.fault_actions import apply_common, trickled
from loop_sandbox.faults import Fault
from loop_sandbox.httpcore import BaseHandler, Incoming
from loop_sandbox.render import RenderSpec
from loop_sandbox.validation import BadRequest, parse_export_request

CREATE_PATH = "/api/v1/report/export"
POLL_PREFIX = "/api/v1/report/exports/"


class ApiHandler(BaseHandler):
    """Handles ``api.intheloop.io``-style requests."""

    @override
    def recorded(self, path: str) -> bool:
        return not path.startswith(control.PREFIX)

    @override
    def route(self, req: Incoming) -> None:
        if req.path.startswith(control.PREFIX):
            control.handle(self, req)
        elif req.path == CREATE_PATH:
            if req.method != "POST":
                self.send_error_json(405, f"Use POST for {CREATE_PATH}")
            else:
                self.create(req)
        elif req.path.startswith(POLL_PREFIX) and "/" not in req.path[len(POLL_PREFIX) :]:
            if req.method not in ("GET", "HEAD"):
                self.send_error_json(405, "Use GET to read an export")
            else:
                self.poll(req, unquote(req.path[len(POLL_PREFIX) :]))
        else:
            self.send_error_json(404, f"No route for {req.method} {req.path}")

    def refused(self, req: Incoming) -> bool:
        """Auth, account and impersonation checks; True when already answered."""
        cfg = self.server.app.config
        auth = req.headers.get("authorization")
        if not auth:
            self.send_error_json(401, "Missing Authorization header", "MissingToken")
            return True
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != cfg.token:
            self.send_error_json(401, "Invalid or revoked API token", "InvalidToken")
            return True
        if not cfg.account_verified:
            self.send_error_json(451, None, "AccountNotVerified")
            return True
        if cfg.forbidden:
            self.send_error_json(403, None, "Forbidden")
            return True
        user = req.headers.get("x-impersonate-user")
        if user and user not in cfg.allowed_impersonation:
            self.send_error_json(
                403, f"Impersonating {user!r} is not allowed", "ImpersonationNotAllowed"
            )
            return True
        return False

    def create(self, req: Incoming) -> None:
        fault = self.server.app.faults.take("create")
        with trickled(self, fault):
            self._create(req, fault)

    def _create(self, req: Incoming, fault: Fault | None) -> None:
        app = self.server.app
        if apply_common(self, fault) or self.refused(req):
            return
        cfg = app.config
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self.send_error_json(cfg.bad_content_type_status, None, "UnsupportedMediaType")
            return
        try:
            body = orjson.loads(req.body)
        except orjson.JSONDecodeError:
            self.send_error_json(400, "Request body is not valid JSON", "InvalidJson")
            return
        try:
            args = parse_export_request(body, cfg.max_range_days)
        except BadRequest as exc:
            self.send_error_json(400, exc.message, exc.code)
            return
        spec = RenderSpec(
            **args,
            **cfg.row_options(),
            bom=cfg.json_bom,
            empty_as_zero_bytes=cfg.empty_as_zero_bytes,
        )
        extra = float(fault.get("seconds", 1)) if fault and fault.kind == "slow" else 0.0
        user = req.headers.get("x-impersonate-user") or None
        record = app.store.create(spec, cfg.processing_seconds + extra, user)
        self.note(export_id=record.id)
        if fault is not None and fault.kind == "id_literal":
            app.store.alias(record, fault.get("value"))
        if fault is not None and fault.kind == "empty_created":
            location = f"{POLL_PREFIX}{quote(record.id, safe='')}"
            headers = {"Location": location} if fault.get("location", False) else {}
            self.send_bytes(201, b"", "application/json", headers)
            return
        self.send_json(200, record.result())

    def poll(self, req: Incoming, export_id: str) -> None:
        fault = self.server.app.faults.take("poll")
        with trickled(self, fault):
            self._poll(req, export_id, fault)

    def _poll(self, req: Incoming, export_id: str, fault: Fault | None) -> None:
        app = self.server.app
        if apply_common(self, fault) or self.refused(req):
            return
        cfg = app.config
        if fault is not None and fault.kind == "forget":
            app.store.forget(export_id)
        record = app.store.get(export_id)
        if record is None:
            self.unknown_export(export_id, cfg.unknown_export_status)
            return
        self.note(export_id=record.id)
        if fault is not None and fault.kind == "failed":
            app.store.fail(record, fault.get("message"))
        elif fault is not None and fault.kind == "expired":
            app.store.expire(record)
        elif fault is not None and fault.kind == "status_literal":
            value = fault.get("value", fault.get("status", "PendingOrExpired"))
            self.send_json(200, {**record.result(), "status": value, "url": None})
            return
        result = app.store.poll(record, cfg.url_ttl_seconds, cfg.reissue_expired_urls)
        if fault is not None and fault.kind == "url_literal":
            result["url"] = fault.get("value")
        self.send_json(200, result)

    def unknown_export(self, export_id: str, status: int) -> None:
        """The answer for an export id the sandbox does not know (404, 410 or 400)."""
        if status == 404:
            self.send_error_json(404, f"Export {export_id!r} not found", "ExportNotFound")
        elif status == 410:
            self.send_error_json(410, f"Export {export_id!r} is gone", "ExportGone")
        else:
            self.send_error_json(400, f"Unknown export {export_id!r}", "InvalidExportId")
