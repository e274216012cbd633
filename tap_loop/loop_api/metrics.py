"""Singer METRIC messages: each HTTP request's duration and each export's phases.

``http_request_duration`` is the timer singer-sdk's REST streams write for every request
(tags: stream, endpoint, http_status_code, status). Downloads are tagged with the
endpoint ``download``: the pre-signed URL carries a signature and is never logged.
``export_phase_duration`` times one export's phases, each since the previous one:
``created`` (the POST, with its retries), ``completed`` (polling until Completed),
``downloaded`` (the result file) and ``emitted`` (its rows written as RECORD messages).
"""

from __future__ import annotations

import enum
import time
import typing as t

from singer_sdk import metrics

if t.TYPE_CHECKING:
    import requests

    from tap_loop.loop_api.windows import Window

STREAM = "report"  # the stream of a run without the reports setting
_EXPORT_PATH = "/api/v1/report/exports/"


class LoopMetric(str, enum.Enum):  # noqa: UP042 (like singer-sdk's Metric, not StrEnum)
    """The tap's own metric (singer-sdk's are in ``singer_sdk.metrics.Metric``)."""

    EXPORT_PHASE_DURATION = "export_phase_duration"


def request_done(path: str, response: requests.Response, stream: str = STREAM) -> None:
    """Log ``http_request_duration`` for one answered request (``path``: the API path,
    or ``download``) made for ``stream``."""
    endpoint = _EXPORT_PATH + "{id}" if path.startswith(_EXPORT_PATH) else path
    status = response.status_code
    metrics.log(
        metrics.get_metrics_logger(),
        metrics.Point(
            "timer",
            metrics.Metric.HTTP_REQUEST_DURATION,
            response.elapsed.total_seconds(),
            {
                metrics.Tag.STREAM: stream,
                metrics.Tag.ENDPOINT: endpoint,
                metrics.Tag.HTTP_STATUS_CODE: status,
                metrics.Tag.STATUS: metrics.Status.SUCCEEDED
                if status < 400
                else metrics.Status.FAILED,
            },
        ),
    )


class ExportPhases:
    """Times one export's phases; each :meth:`done` logs the time since the last one."""

    def __init__(
        self, window: Window, clock: t.Callable[[], float] = time.monotonic, stream: str = STREAM
    ) -> None:
        self.window = window
        self.stream = stream
        self.clock = clock
        self.last = clock()

    def done(self, phase: str, export_id: str) -> None:
        """Log ``export_phase_duration`` for ``phase`` of export ``export_id``."""
        now = self.clock()
        metrics.log(
            metrics.get_metrics_logger(),
            metrics.Point(
                "timer",
                LoopMetric.EXPORT_PHASE_DURATION,  # type: ignore[arg-type]  # Point wants sdk's Metric enum
                round(now - self.last, 6),
                {
                    metrics.Tag.STREAM: self.stream,
                    "phase": phase,
                    "export_id": export_id,
                    "window_start": self.window.start_iso,
                    "window_end": self.window.end_iso,
                },
            ),
        )
        self.last = now
