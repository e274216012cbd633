"""Typed, validated view of the tap's configuration.

singer-sdk checks the config against the JSON Schema declared in ``tap.py``; this
module checks what a schema cannot express (time zones, date order, numbers that
arrive as strings from Meltano or ``TAP_LOOP_*`` variables) and turns the result
into one frozen :class:`Settings` object. Every error names its setting.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import math
import typing as t
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_URL = "https://api.intheloop.io"
LOGGER = logging.getLogger("tap_loop.settings")


@dataclass(frozen=True)
class Settings:
    """All settings the tap uses, parsed and checked."""

    api_token: str
    api_url: str
    start_date: dt.datetime
    end_date: dt.datetime | None
    timezone: str
    tag_ids: list[str] | None
    team_ids: list[str] | None
    teammate_ids: list[str] | None
    customer_ids: list[str] | None
    impersonate_user: str | None
    window_seconds: int
    lookback_seconds: int
    poll_interval_seconds: float
    export_timeout_seconds: float
    primary_keys: list[str] | None
    schema_sample_seconds: int
    schema_sample_rows: int
    schema_overrides: dict[str, t.Any]
    result_format: str
    min_window_seconds: int
    max_concurrent_exports: int
    request_timeout_seconds: float
    download_timeout_seconds: float
    max_request_retries: int
    max_retry_wait_seconds: float
    max_export_attempts: int
    settle_seconds: int = 600
    filters: dict[str, list[str]] = field(default_factory=dict)

    def export_body(self, start: int, end: int) -> dict[str, t.Any]:
        """The JSON body of ``POST /api/v1/report/export`` for one window."""
        body: dict[str, t.Any] = {
            "start": start,
            "end": end,
            "timezone": self.timezone,
            "resultFormat": "Xlsx" if self.result_format == "xlsx" else "Json",
        }
        body.update(self.filters)
        return body


class SettingsError(ValueError):
    """One or more settings are invalid; ``errors`` holds one line per setting."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_datetime(value: t.Any) -> dt.datetime:
    """Parse an ISO 8601 date or date-time; naive values are taken as UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = dt.datetime.fromisoformat(text)
    else:
        raise ValueError(f"expected an ISO 8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _number(value: t.Any) -> float:
    """A float from an int, float, Decimal or numeric string (Meltano passes strings)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float, decimal.Decimal)):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("expected a number, e.g. 1 or 0.25") from None
    else:
        raise ValueError(f"expected a number, got {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _integer(value: t.Any) -> int:
    number = _number(value)
    if number != int(number):
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)


def _string_list(value: t.Any) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):  # "a,b" from a hand-written env var
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return list(value) or None


class _Collector:
    """Reads settings one by one, collecting every error instead of stopping at one."""

    def __init__(self, config: t.Mapping[str, t.Any]) -> None:
        self.config = config
        self.errors: list[str] = []

    def get(
        self,
        name: str,
        convert: t.Callable[[t.Any], t.Any],
        default: t.Any = None,
        check: t.Callable[[t.Any], bool] | None = None,
        rule: str = "",
    ) -> t.Any:
        raw = self.config.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip() and default is not None):
            raw = default
        if raw is None:
            return None
        try:
            value = convert(raw)
        except (TypeError, ValueError, decimal.InvalidOperation) as exc:
            self.errors.append(f"Setting '{name}' is invalid ({raw!r}): {exc}.")
            return None
        if check is not None and not check(value):
            self.errors.append(f"Setting '{name}' must be {rule} (got {raw!r}).")
            return None
        return value


def _timezone(value: t.Any) -> str:
    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = "unknown IANA time zone; use a name like 'UTC' or 'Europe/Ljubljana'"
        raise ValueError(msg) from exc
    return name


def _url(value: t.Any) -> str:
    url = str(value).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError("expected an http(s) URL such as https://api.intheloop.io")
    return url


def _result_format(value: t.Any) -> str:
    fmt = str(value).strip().lower()
    if fmt not in ("json", "xlsx"):
        raise ValueError("expected 'json' or 'xlsx'")
    return fmt


def _object(value: t.Any) -> dict[str, t.Any]:
    if isinstance(value, str):
        import json

        value = json.loads(value)
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("expected an object mapping field names to JSON Schema definitions")
    return dict(value)


DEPRECATED_SETTINGS = {"schema": "schema_overrides"}  # old name -> new name (still read)


def _schema_overrides(c: _Collector) -> dict[str, t.Any]:
    """``schema_overrides``, or the deprecated ``schema`` setting with a warning."""
    if c.config.get("schema") is not None:
        if c.config.get("schema_overrides") is not None:
            LOGGER.warning(
                "Settings 'schema' and 'schema_overrides' are both set: 'schema' is "
                "deprecated and ignored; keep only 'schema_overrides'."
            )
        else:
            LOGGER.warning(
                "Setting 'schema' is deprecated: rename it to 'schema_overrides' "
                "(Meltano plugins have their own 'schema' extra)."
            )
            return c.get("schema", _object) or {}
    return c.get("schema_overrides", _object) or {}


def load_settings(config: t.Mapping[str, t.Any], *, require_token: bool = True) -> Settings:
    """Check ``config`` and return :class:`Settings`; raise :class:`SettingsError` if invalid."""
    c = _Collector(config)
    token = c.get("api_token", str)
    if require_token and not (token or "").strip():
        c.errors.append(
            "Setting 'api_token' is missing: create an API token in Loop's web settings "
            "(API keys tab) and set it as api_token or TAP_LOOP_API_TOKEN."
        )
    positive = (lambda v: v > 0, "greater than 0")
    start = c.get("start_date", parse_datetime)
    if start is None and "start_date" not in config:
        c.errors.append("Setting 'start_date' is missing: set the first moment to export.")
    end = c.get("end_date", parse_datetime)
    if start is not None and end is not None and not start < end:
        c.errors.append(
            f"Setting 'start_date' ({start.isoformat()}) must be before "
            f"'end_date' ({end.isoformat()})."
        )
    window_days = c.get("window_days", _number, 1, *positive)
    lookback_days = c.get("lookback_days", _number, 0, lambda v: v >= 0, "0 or more")
    sample_days = c.get("schema_sample_days", _number, 7, *positive)
    min_window = c.get("min_window_minutes", _number, 60, *positive)
    settle = c.get("settle_minutes", _number, 10, lambda v: v >= 0, "0 or more")
    if window_days is not None and window_days * 86400 < 1:
        c.errors.append("Setting 'window_days' must be at least one second (0.0000116).")
    filters: dict[str, list[str]] = {}
    lists: dict[str, list[str] | None] = {}
    for setting, api_field in (
        ("tag_ids", "tagIds"),
        ("team_ids", "teamIds"),
        ("teammate_ids", "teammateIds"),
        ("customer_ids", "customerIds"),
    ):
        lists[setting] = c.get(setting, _string_list)
        if value := lists[setting]:
            filters[api_field] = value
    settings = dict(
        api_token=(token or "").strip(),
        api_url=c.get("api_url", _url, DEFAULT_API_URL),
        start_date=start,
        end_date=end,
        timezone=c.get("timezone", _timezone, "UTC"),
        impersonate_user=(c.get("impersonate_user", str) or "").strip() or None,
        window_seconds=round((window_days or 1) * 86400),
        lookback_seconds=round((lookback_days or 0) * 86400),
        poll_interval_seconds=c.get("poll_interval_seconds", _number, 10, *positive),
        export_timeout_seconds=c.get("export_timeout_seconds", _number, 3600, *positive),
        primary_keys=c.get("primary_keys", _string_list),
        schema_sample_seconds=round((sample_days or 7) * 86400),
        schema_sample_rows=c.get("schema_sample_rows", _integer, 5000, *positive),
        schema_overrides=_schema_overrides(c),
        result_format=c.get("result_format", _result_format, "json"),
        min_window_seconds=round((min_window or 60) * 60),
        max_concurrent_exports=c.get(
            "max_concurrent_exports", _integer, 4, lambda v: v >= 1, "1 or more"
        ),
        request_timeout_seconds=c.get("request_timeout_seconds", _number, 60, *positive),
        download_timeout_seconds=c.get("download_timeout_seconds", _number, 1800, *positive),
        max_request_retries=c.get(
            "max_request_retries", _integer, 8, lambda v: v >= 0, "0 or more"
        ),
        max_retry_wait_seconds=c.get("max_retry_wait_seconds", _number, 300, *positive),
        max_export_attempts=c.get(
            "max_export_attempts", _integer, 3, lambda v: v >= 1, "1 or more"
        ),
        settle_seconds=round((settle if settle is not None else 10) * 60),
        filters=filters,
        **lists,
    )
    if c.errors:
        raise SettingsError(c.errors)
    return Settings(**settings)


class Run:
    """One run of the tap: its config, the moment it started, and its settings (loaded
    on first use, so discovery can still run with incomplete settings)."""

    def __init__(self, config: t.Mapping[str, t.Any], started: dt.datetime) -> None:
        self.config = config
        self.started = started

    @cached_property
    def settings(self) -> Settings:
        """The validated settings; raises :class:`SettingsError` if they are not."""
        return load_settings(self.config, require_token=False)
