"""Typed, validated view of the tap's configuration.

singer-sdk checks the config against the JSON Schema derived from
:mod:`tap_loop.config.declared`; this module applies the defaults and bounds declared
there and checks what a schema cannot express (time zones, date order, numbers that
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

from tap_loop.config.declared import DECLARED, SETTINGS

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
    max_object_keys: int
    schema_overrides: dict[str, t.Any]
    result_format: str
    big_integers: str
    min_window_seconds: int
    max_concurrent_exports: int
    request_timeout_seconds: float
    download_timeout_seconds: float
    max_request_retries: int
    max_retry_wait_seconds: float
    max_export_attempts: int
    settle_seconds: int
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


class DateOutOfRange(ValueError):
    """A date-time that exists in its own zone but not in UTC (before year 1, after 9999)."""


def parse_datetime(value: t.Any) -> dt.datetime:
    """Parse an ISO 8601 date or date-time; naive values are taken as UTC (whatever the
    ``timezone`` setting: see :func:`has_zone`). A moment UTC cannot hold (e.g.
    ``9999-12-31T23:59:59-01:00``) raises :class:`DateOutOfRange`."""
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
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise DateOutOfRange("in UTC it falls before year 1 or after year 9999") from None


def has_zone(value: t.Any) -> bool:
    """False for a date, or a date-time without an offset, which the tap reads as UTC."""
    if isinstance(value, dt.datetime):
        return value.tzinfo is not None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            return True
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return True  # not a date-time at all: its own error says so
        return parsed.tzinfo is not None
    return not isinstance(value, dt.date)


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
    """Reads settings one by one, collecting every error instead of stopping at one.

    A declared setting's default replaces a missing value (and a blank string, if the
    default is not None); its bound is checked after ``convert``. An error quotes the
    value it refuses, unless the setting is secret.
    """

    def __init__(self, config: t.Mapping[str, t.Any]) -> None:
        self.config = config
        self.errors: list[str] = []

    def get(self, name: str, convert: t.Callable[[t.Any], t.Any]) -> t.Any:
        declared = DECLARED.get(name)
        default = declared.default if declared else None
        bound = declared.bound if declared else None
        raw = self.config.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip() and default is not None):
            raw = default
        if raw is None:
            return None
        shown = "" if declared is not None and declared.secret else f" ({raw!r})"
        try:
            value = convert(raw)
        except (TypeError, ValueError, decimal.InvalidOperation) as exc:
            self.errors.append(f"Setting '{name}' is invalid{shown}: {exc}.")
            return None
        if bound is not None and not bound.check(value):
            got = f" (got {raw!r})" if shown else ""
            self.errors.append(f"Setting '{name}' must be {bound.rule}{got}.")
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
        raise ValueError(f"expected an http(s) URL such as {DECLARED['api_url'].default}")
    return url


def _unsendable(text: str) -> str | None:
    """What in ``text`` an HTTP header value cannot carry, or None.

    A header value is sent as visible ASCII here: http.client refuses a line break
    (requests quotes the whole header value in its error) and encodes others as
    Latin-1 (a character beyond it raises UnicodeEncodeError); a server reads bytes
    beyond ASCII as it likes (ASP.NET Core's Kestrel refuses them by default).
    """
    for char in text:
        if "!" <= char <= "~":
            continue
        if char in "\r\n":
            return "a line break"
        if char == "\ufeff":
            return "a byte order mark (U+FEFF, which some editors add)"
        if char in " \t":
            return "a space or tab"
        if char < " " or char == "\x7f":
            return "a control character"
        return "a character beyond ASCII"
    return None


def _token(value: t.Any) -> str:
    """``api_token``: what goes after ``Bearer `` (outer whitespace trimmed). The error
    never quotes the token."""
    token = str(value).strip()
    if token[:7].lower() == "bearer ":
        raise ValueError("it starts with 'Bearer ': set only the token itself")
    problem = _unsendable(token)
    if problem:
        raise ValueError(
            f"it holds {problem}, which an HTTP header cannot carry: copy the token again "
            "from Loop's web settings (API keys tab), without line breaks, spaces or "
            "invisible characters"
        )
    return token


def _impersonate_user(value: t.Any) -> str:
    """``impersonate_user``: sent as ``X-Impersonate-User``, so visible ASCII only.

    A value beyond ASCII is refused rather than encoded: RFC 8187's ``UTF-8''...`` form
    is for parameters of headers that define it, not for a whole value, and Loop
    documents no encoding for this header; raw Latin-1 or UTF-8 bytes would at best
    impersonate nobody (a 403 that does not say why).
    """
    user = str(value).strip()
    problem = _unsendable(user)
    if problem:
        beyond = sorted({char for char in user if ord(char) > 0x7E})
        shown = f" ({', '.join(repr(char) for char in beyond)})" if beyond else ""
        raise ValueError(
            f"it holds {problem}{shown}, which the X-Impersonate-User header cannot "
            "carry: use the user's address in ASCII (an internationalised domain in "
            "its xn-- form)"
        )
    return user


def _result_format(value: t.Any) -> str:
    fmt = str(value).strip().lower()
    allowed = [value for value, _ in DECLARED["result_format"].options]
    if fmt not in allowed:
        raise ValueError("expected " + " or ".join(repr(value) for value in allowed))
    if fmt == "xlsx":
        _require_openpyxl()
    return fmt


def _big_integers(value: t.Any) -> str:
    choice = str(value).strip().lower()
    allowed = [value for value, _ in DECLARED["big_integers"].options]
    if choice not in allowed:
        raise ValueError("expected " + " or ".join(repr(value) for value in allowed))
    return choice


def _require_openpyxl() -> None:
    """Import openpyxl now, so a missing ``xlsx`` extra fails before the first request
    (not when the first workbook arrives). A broken install fails the same way."""
    import importlib

    try:
        importlib.import_module("openpyxl")
    except ImportError as exc:
        raise ValueError(
            "reading Xlsx exports needs openpyxl, which cannot be imported here "
            f"({type(exc).__name__}: {exc}); install the tap with its xlsx extra "
            "(pip install 'tap-loop[xlsx]', or in Meltano pip_url: tap-loop[xlsx]), "
            "or set result_format to json"
        ) from exc


def _scaled(value: float | None, unit_seconds: int) -> int:
    """``value`` units in whole seconds (0 for an invalid value: its error is recorded)."""
    return round(value * unit_seconds) if value is not None else 0


def _object(value: t.Any) -> dict[str, t.Any]:
    if isinstance(value, str):
        import json

        value = json.loads(value)
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("expected an object mapping field names to JSON Schema definitions")
    return dict(value)


def _invalid(c: _Collector) -> set[str]:
    """Names of the settings ``c`` has already refused."""
    return {error.split("'")[1] for error in c.errors if error.startswith("Setting '")}


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
    token = c.get("api_token", _token)
    if require_token and not (token or "").strip() and "api_token" not in _invalid(c):
        c.errors.append(
            "Setting 'api_token' is missing: create an API token in Loop's web settings "
            "(API keys tab) and set it as api_token or TAP_LOOP_API_TOKEN."
        )
    start = c.get("start_date", parse_datetime)
    if start is None and "start_date" not in config:
        c.errors.append("Setting 'start_date' is missing: set the first moment to export.")
    end = c.get("end_date", parse_datetime)
    if start is not None and end is not None and not start < end:
        c.errors.append(
            f"Setting 'start_date' ({start.isoformat()}) must be before "
            f"'end_date' ({end.isoformat()})."
        )
    window_days = c.get("window_days", _number)
    lookback_days = c.get("lookback_days", _number)
    sample_days = c.get("schema_sample_days", _number)
    min_window = c.get("min_window_minutes", _number)
    settle = c.get("settle_minutes", _number)
    if window_days is not None and window_days * 86400 < 1:
        c.errors.append("Setting 'window_days' must be at least one second (0.0000116).")
    filters: dict[str, list[str]] = {}
    lists: dict[str, list[str] | None] = {}
    for declared in SETTINGS:
        if declared.filter_field is not None:
            ids = lists[declared.name] = c.get(declared.name, _string_list)
            if ids:
                filters[declared.filter_field] = ids
    settings = dict(
        api_token=(token or "").strip(),
        api_url=c.get("api_url", _url),
        start_date=start,
        end_date=end,
        timezone=c.get("timezone", _timezone),
        impersonate_user=c.get("impersonate_user", _impersonate_user) or None,
        window_seconds=_scaled(window_days, 86400),
        lookback_seconds=_scaled(lookback_days, 86400),
        poll_interval_seconds=c.get("poll_interval_seconds", _number),
        export_timeout_seconds=c.get("export_timeout_seconds", _number),
        primary_keys=c.get("primary_keys", _string_list),
        schema_sample_seconds=_scaled(sample_days, 86400),
        schema_sample_rows=c.get("schema_sample_rows", _integer),
        max_object_keys=c.get("max_object_keys", _integer),
        schema_overrides=_schema_overrides(c),
        result_format=c.get("result_format", _result_format),
        big_integers=c.get("big_integers", _big_integers),
        min_window_seconds=_scaled(min_window, 60),
        max_concurrent_exports=c.get("max_concurrent_exports", _integer),
        request_timeout_seconds=c.get("request_timeout_seconds", _number),
        download_timeout_seconds=c.get("download_timeout_seconds", _number),
        max_request_retries=c.get("max_request_retries", _integer),
        max_retry_wait_seconds=c.get("max_retry_wait_seconds", _number),
        max_export_attempts=c.get("max_export_attempts", _integer),
        settle_seconds=_scaled(settle, 60),
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
        """The validated settings; raises :class:`SettingsError` if they are not.

        Logs once per run which zone a date without one was read in (UTC)."""
        settings = load_settings(self.config, require_token=False)
        for name in ("start_date", "end_date"):
            raw = self.config.get(name)
            if raw not in (None, "") and not has_zone(raw):
                LOGGER.log(
                    logging.INFO if settings.timezone == "UTC" else logging.WARNING,
                    "Setting '%s' (%s) has no zone: read as UTC, not in 'timezone' (%s), "
                    "which only tells Loop how to compute the export; add an offset "
                    "(e.g. +01:00) to mean another zone.",
                    name,
                    raw,
                    settings.timezone,
                )
        return settings
