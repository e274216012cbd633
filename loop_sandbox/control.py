"""``/_sandbox/`` control routes (no auth): drive a sandbox running in another process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from loop_sandbox.validation import BadRequest, parse_export_request

if TYPE_CHECKING:
    from loop_sandbox.httpcore import BaseHandler, Incoming

PREFIX = "/_sandbox/"


def handle(handler: BaseHandler, req: Incoming) -> None:
    """Answer one control request with JSON."""
    try:
        body = orjson.loads(req.body) if req.body.strip() else None
    except orjson.JSONDecodeError:
        handler.send_error_json(400, "Control body is not valid JSON", "InvalidJson")
        return
    name = req.path[len(PREFIX) :].strip("/")
    try:
        result = _dispatch(handler, req.method, name, body, req.query)
    except BadRequest as exc:
        handler.send_error_json(400, exc.message, exc.code)
        return
    except (ValueError, TypeError) as exc:
        handler.send_error_json(400, str(exc), "InvalidControlRequest")
        return
    if result is None:
        handler.send_error_json(404, f"No control route {req.method} {req.path}", "NotFound")
    else:
        handler.send_json(200, result)


def _dispatch(
    handler: BaseHandler, method: str, name: str, body: Any, query: dict[str, list[str]]
) -> Any:
    app = handler.server.app
    route = (method, name)
    if route == ("GET", "health"):
        return {"ok": True, "api_url": app.api_url, "download_url_base": app.download_url_base}
    if name == "faults" and method in ("GET", "POST", "DELETE"):
        if method == "POST":
            if body is None:
                raise ValueError("POST /_sandbox/faults needs a rule, a list or {'random': ...}")
            app.add_fault(body)
        elif method == "DELETE":
            app.clear_faults()
        return app.faults.describe()
    if name == "requests" and method in ("GET", "DELETE"):
        if method == "DELETE":
            app.clear_requests()
            return {"ok": True}
        server = query["server"][0] if query.get("server") else None
        since = int((query.get("since") or ["0"])[0])
        return app.request_log.snapshot(server, since)
    if name == "config" and method in ("GET", "POST"):
        if method == "POST":
            if not isinstance(body, dict):
                raise ValueError("POST /_sandbox/config needs an object of options")
            app.configure(**body)
        return app.config.to_dict()
    if route == ("GET", "exports"):
        return app.exports
    if route == ("POST", "revoke-token"):
        new = body.get("token") if isinstance(body, dict) else None
        return {"token": app.revoke_token(new)}
    if route == ("POST", "expected-rows"):
        args = parse_export_request(body)
        args.pop("result_format")
        start, end = args.pop("start"), args.pop("end")
        return app.expected_rows(start, end, **args)
    return None
