"""``tap-loop --config c.json --diagnose[=FILE]``: a first-contact report.

Runs one small export (the last ``min(window_days, 1 day)`` before ``end_date`` or now,
with the configured filters) against the configured service and prints what it saw:
every HTTP call with its status and timing, each status value Loop reported and when,
the result's shape (array or not, byte order mark, encoding, size, content type), its
fields with their inferred types, the key the tap would choose, and everything the tap
had to tolerate (retries, unknown status values, a BOM, an empty file, huge integers).

A result the tap cannot read (an HTML page served with 200, broken JSON) is handled as a
sync would: downloaded again (then a fresh URL, then a new export) up to
``MAX_INVALID_DOWNLOADS`` reads in all. The report says so; when every read failed, as
it would stop a sync, the command exits 1 with one line saying what a sync would do.

With ``=FILE`` the same report is written as JSON, redacted for a bug report: no token,
no URL query values (only their names: no signature, ``sig``, ``X-Amz-*`` or ``token``
value), no user or password of a URL, no row values (field names and types only). The
printed report is redacted the same way.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import logging
import sys
import time
import typing as t
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
from typing_extensions import override

from tap_loop.config.settings import Settings
from tap_loop.core.errors import ExportFailed, LoopTapError
from tap_loop.core.redaction import redact, safe_url
from tap_loop.core.workdir import WorkDir
from tap_loop.loop_api.lifecycle import MAX_INVALID_DOWNLOADS, CompletedExport, ExportLifecycle
from tap_loop.loop_api.repository import LoopExportApi
from tap_loop.loop_api.status import ExportState
from tap_loop.loop_api.windows import Window, to_epoch
from tap_loop.results.json_rows import BOM, InvalidExport
from tap_loop.results.open import open_rows
from tap_loop.schemas.build import build_schema, choose_keys
from tap_loop.schemas.sample import Sample

LOGGER = logging.getLogger("tap_loop.diagnose")
MAX_WINDOW_SECONDS = 86400
_INT64 = (-(2**63), 2**63 - 1)


def run_diagnosis(settings: Settings, now: dt.datetime, path: str | None) -> dict[str, t.Any]:
    """Run the export, print the report, write it to ``path`` if given; return it.

    A failure (401, timeout, ...) is part of the report; it is raised again afterwards
    so the command exits 1 with its one clear line.
    """
    report = Diagnosis(settings, now).run()
    sys.stdout.write(render_text(report))
    sys.stdout.flush()
    if path:
        Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        LOGGER.info("Wrote the redacted report to %s", path)
    if report.get("error"):
        raise LoopTapError(report["error"])
    return report


class _Notes(logging.Handler):
    """Collects the tap's own log lines (already redacted) while the diagnosis runs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[dict[str, str]] = []

    @override
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("tap_loop") and record.name != LOGGER.name:
            self.lines.append({"level": record.levelname, "message": record.getMessage()})


class Diagnosis:
    """One diagnostic export and what was seen of it."""

    def __init__(self, settings: Settings, now: dt.datetime) -> None:
        self.settings = settings
        end = to_epoch(settings.end_date or now)
        self.window = Window(end - min(settings.window_seconds, MAX_WINDOW_SECONDS), end)
        self.began = time.monotonic()
        self.http: list[dict[str, t.Any]] = []
        self.statuses: list[dict[str, t.Any]] = []
        self.last_state: ExportState | None = None

    def run(self) -> dict[str, t.Any]:
        report: dict[str, t.Any] = {
            "tap": "tap-loop",
            "api_url": safe_url(self.settings.api_url),
            "window": {"start": self.window.start_iso, "end": self.window.end_iso},
            "result_format": self.settings.result_format,
            "filters": sorted(self.settings.filters),
        }
        notes = _Notes()
        logging.getLogger("tap_loop").addHandler(notes)
        work = WorkDir.create("tap-loop-diagnose-")  # removes dead runs' folders first
        work_dir = work.path
        try:
            lifecycle = ExportLifecycle.from_settings(
                self.settings, work_dir=work_dir, on_status=self._status_seen
            )
            if isinstance(lifecycle.api, LoopExportApi):  # always, from from_settings
                for session in lifecycle.api.sessions:
                    session.hooks["response"].append(self._seen)
            report["result"] = result = self._export(lifecycle)
            if not result.get("readable"):
                report["error"] = _unreadable_error(result)
        except LoopTapError as exc:
            report["error"] = redact(str(exc))
        finally:
            logging.getLogger("tap_loop").removeHandler(notes)
            work.remove()
        report["http"] = self.http
        report["statuses"] = self.statuses
        report["tolerated"] = [n for n in notes.lines if _tolerated(n["message"])]
        report["log"] = notes.lines
        return report

    def _seconds(self) -> float:
        return round(time.monotonic() - self.began, 3)

    def _seen(self, response: requests.Response, *args: t.Any, **kwargs: t.Any) -> None:
        parts = urlsplit(response.url)
        headers = response.headers
        self.http.append(
            {
                "at_seconds": self._seconds(),
                "method": response.request.method,
                "host": parts.netloc.rpartition("@")[2],
                "path": parts.path,
                "query_names": sorted({name for name, _ in parse_qsl(parts.query)}),
                "status": response.status_code,
                "elapsed_seconds": round(response.elapsed.total_seconds(), 3),
                "content_type": headers.get("Content-Type"),
                "content_length": headers.get("Content-Length"),
                "content_encoding": headers.get("Content-Encoding"),
            }
        )

    def _status_seen(self, state: ExportState, elapsed: float) -> None:
        """The lifecycle's status observer: one entry of the report's ``statuses``."""
        self.last_state = state
        self.statuses.append(
            {
                "at_seconds": round(elapsed, 3),
                "value": state.raw,
                "json_type": type(state.raw).__name__,
                "read_as": state.status.value,
                "known": not state.unknown,
                "has_url": bool(state.url),
            }
        )

    def _export(self, lifecycle: ExportLifecycle) -> dict[str, t.Any]:
        """Create the export and wait for it with the lifecycle's own polling; a failed
        or timed-out export is not created again (the report shows the first one)."""
        settings = self.settings
        export_id = lifecycle.create(self.window)
        try:
            state = lifecycle.wait(export_id, self.window)
        except ExportFailed:
            last = self.last_state
            seen = (last.stuck if last else None) or (
                f"was still {last.raw_status if last else 'unread'}"
            )
            raise LoopTapError(
                f"The diagnostic export {export_id} {seen} after "
                f"{settings.export_timeout_seconds:g} s ('export_timeout_seconds')"
            ) from None
        if state.status.failed:
            raise LoopTapError(f"The diagnostic export {export_id} ended {state.raw_status}")
        path, size = lifecycle.download(state.url or "", export_id)
        done = CompletedExport(self.window, export_id, path, size, 0.0, url=state.url)
        unreadable: list[str] = []
        while True:
            fields = self._fields(done.path)
            if fields["readable"] or len(unreadable) + 1 >= MAX_INVALID_DOWNLOADS:
                break
            unreadable.append(str(fields["problem"]))
            done = lifecycle.fetch_again(done)  # what a sync does with an unreadable file
        if not fields["readable"]:
            unreadable.append(str(fields["problem"]))
        result: dict[str, t.Any] = {"export_id": done.export_id, "size_bytes": done.size}
        result.update(_shape(done.path, settings.result_format))
        result.update(fields)
        result["unreadable_downloads"] = unreadable
        return result

    def _fields(self, path: Path) -> dict[str, t.Any]:
        settings = self.settings
        sample = Sample()
        rows = 0
        huge: set[str] = set()
        try:
            for row in open_rows(path, settings.result_format):
                rows += 1
                for name, value in row.items():
                    if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
                        huge.add(name)
                if rows <= settings.schema_sample_rows:
                    sample.add(row)
        except InvalidExport as exc:
            return {"rows": rows, "readable": False, "problem": str(exc)}
        schema = build_schema(sample.inferred(), {})
        own = set(build_schema(None, {}).get("properties", {}))
        fields = {
            name: _type_text(prop)
            for name, prop in schema.get("properties", {}).items()
            if name not in own
        }
        return {
            "readable": True,
            "rows": rows,
            "fields": fields,
            "integers_beyond_64_bits": sorted(huge),
            "big_integers": settings.big_integers,
            "key": choose_keys(schema, settings.primary_keys, sample.never_null or set()),
        }


def _unreadable_error(result: dict[str, t.Any]) -> str:
    """The one line for a result no read of which could be used, as a sync sees it."""
    return (
        f"The diagnostic export {result['export_id']}'s result was unreadable "
        f"{len(result['unreadable_downloads'])} times ({result.get('shape')}: "
        f"{result.get('problem')}). A sync would do the same: download it again, ask "
        "for a fresh URL, export the window anew, then stop with exit 1, the bookmark "
        "kept before this window. What to do: check what the download host sends (a "
        "proxy or sign-in page between the tap and Loop's download host?), then run "
        "--diagnose again."
    )


def _shape(path: Path, result_format: str) -> dict[str, t.Any]:
    """Array or not, BOM, encoding: from the file's bytes, never its values."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if result_format == "xlsx":
        return {"shape": "xlsx workbook" if head.startswith(b"PK") else "not a zip file"}
    bom = head.startswith(BOM)
    text = head[len(BOM) :] if bom else head
    first = text.lstrip(b" \t\r\n")[:1]
    shape = {b"[": "JSON array", b"{": "JSON object (not an array)", b"": "empty"}.get(
        first, "not JSON"
    )
    return {"shape": shape, "bom": bom, "encoding": _encoding(path)}


def _encoding(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "not UTF-8"
    return "UTF-8"


def _type_text(prop: dict[str, t.Any]) -> str:
    kinds = prop.get("type", "any")
    text = "|".join(kinds) if isinstance(kinds, list) else str(kinds)
    if prop.get("format"):
        text += f" ({prop['format']})"
    return text


_TOLERATED_WORDS = ("retrying", "unknown", "byte order mark", "empty", "once more", "again")


def _tolerated(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _TOLERATED_WORDS)


def render_text(report: dict[str, t.Any]) -> str:
    """The report as lines for a terminal."""
    out = [
        f"tap-loop diagnosis of {report['api_url']}",
        f"  window: {report['window']['start']} .. {report['window']['end']}, "
        f"format {report['result_format']}",
        "HTTP calls:",
    ]
    for call in report["http"]:
        query = f"?{'&'.join(call['query_names'])}" if call["query_names"] else ""
        out.append(
            f"  +{call['at_seconds']:.2f}s {call['method']} {call['host']}{call['path']}"
            f"{query} -> {call['status']} in {call['elapsed_seconds']:.2f}s"
            + (f" ({call['content_type']})" if call.get("content_type") else "")
        )
    out.append("Status values (seconds after creation):")
    for status in report["statuses"]:
        known = "" if status["known"] else "  <- unknown to the tap"
        out.append(
            f"  +{status['at_seconds']:.2f}s {json.dumps(status['value'])} "
            f"({status['json_type']}) read as {status['read_as']}{known}"
        )
    result = report.get("result")
    if result:
        out.append(f"Result: {result['size_bytes']} bytes, {result.get('shape')}")
        if "encoding" in result:
            out.append(f"  encoding {result['encoding']}, BOM: {'yes' if result['bom'] else 'no'}")
        if result.get("readable"):
            out.append(f"  {result['rows']} row(s); key: {result['key'] or 'none found'}")
            for name, kind in result["fields"].items():
                out.append(f"  field {name}: {kind}")
            if result["integers_beyond_64_bits"]:
                out.append(
                    "  fields holding integers beyond 64 bits (more than a bigint holds; "
                    f"declared as a {result.get('big_integers', 'string')}, as the setting "
                    "big_integers says): " + ", ".join(result["integers_beyond_64_bits"])
                )
        else:
            out.append(f"  unreadable: {result.get('problem')}")
        earlier = result.get("unreadable_downloads") or []
        if result.get("readable") and earlier:
            out.append(
                f"  after {len(earlier)} unreadable download(s), downloaded again as a sync "
                "would: " + "; ".join(earlier)
            )
    if report["tolerated"]:
        out.append("Tolerated:")
        out.extend(f"  {note['level']}: {note['message']}" for note in report["tolerated"])
    if report.get("error"):
        out.append(f"Error: {report['error']}")
    elif result and result.get("unreadable_downloads"):
        out.append(
            "Diagnosis done: the export worked end to end once downloaded again, as a "
            "sync would download it."
        )
    else:
        out.append("Diagnosis done: the export worked end to end.")
    return "\n".join(out) + "\n"
