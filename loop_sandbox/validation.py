"""Validation of the create-export request body."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RESULT_FORMATS = ("Json", "Xlsx")
LIST_FIELDS = {
    "tagIds": "tag_ids",
    "teamIds": "team_ids",
    "teammateIds": "teammate_ids",
    "customerIds": "customer_ids",
}


class BadRequest(Exception):
    """A 400 answer: ``message`` and error ``code`` for the JSON body."""

    def __init__(self, message: str, code: str = "ValidationError") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def valid_timezone(name: str) -> bool:
    """True when ``name`` is a known IANA zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def _epoch(body: dict[str, Any], name: str) -> int:
    if name not in body or body[name] is None:
        raise BadRequest(f"Field '{name}' is required", "MissingField")
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"Field '{name}' must be an integer (seconds after epoch)", "InvalidField")
    if not 0 <= value < 2**63:
        raise BadRequest(f"Field '{name}' is out of range", "InvalidField")
    return value


def parse_export_request(body: Any, max_range_days: float | None = None) -> dict[str, Any]:
    """Check a create body; return snake_case arguments for generate_rows/RenderSpec."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object", "InvalidBody")
    start = _epoch(body, "start")
    end = _epoch(body, "end")
    if start > end:
        raise BadRequest("'start' must be less than or equal to 'end'", "InvalidTimeRange")
    if max_range_days is not None and end - start > max_range_days * 86400:
        raise BadRequest("Requested time range is too large", "RangeTooLarge")
    timezone = body.get("timezone")
    if timezone is None:
        timezone = "UTC"
    if not isinstance(timezone, str) or not valid_timezone(timezone):
        raise BadRequest(f"Unknown timezone {timezone!r}", "InvalidTimezone")
    fmt = body.get("resultFormat")
    if fmt is None:
        fmt = "Json"
    if fmt not in RESULT_FORMATS:
        raise BadRequest(
            f"Invalid resultFormat {fmt!r}; expected one of {', '.join(RESULT_FORMATS)}",
            "InvalidResultFormat",
        )
    out: dict[str, Any] = {"start": start, "end": end, "timezone": timezone, "result_format": fmt}
    for field, arg in LIST_FIELDS.items():
        value = body.get(field)
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"Field '{field}' must be a list of strings or null", "InvalidField")
        out[arg] = tuple(sorted(set(value)))  # order/duplicates don't change the result
    return out
