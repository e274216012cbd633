"""tap-loop: the Tap class and its settings."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import typing as t
from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_loop.discovery import discover_schema
from tap_loop.errors import LoopTapError
from tap_loop.first_schema import FirstSchema
from tap_loop.output import LoopMessageWriter
from tap_loop.redaction import install_log_redaction, register_secret
from tap_loop.settings import Settings, SettingsError, load_settings
from tap_loop.stream import ReportStream

# Fractional settings accept numbers or numeric strings: Meltano's `kind: decimal`
# cannot be used (it crashes writing the config), so meltano.yml declares them as strings.
_NUMBER = {"type": ["number", "string"], "pattern": r"^\s*[0-9]*\.?[0-9]+\s*$"}


def _number(name: str, default: float, description: str) -> th.Property:
    return th.Property(name, th.CustomType(dict(_NUMBER)), default=default, description=description)


def _ids(name: str, api_field: str, what: str) -> th.Property:
    return th.Property(
        name,
        th.ArrayType(th.StringType),
        description=f"Only rows of these {what} (sent as `{api_field}`); empty: no filter.",
    )


class TapLoop(Tap):
    """Loop (intheloop.io) raw analytics: asynchronous exports as an incremental stream."""

    name = "tap-loop"
    message_writer_class = LoopMessageWriter
    # No BATCH: its files would be announced after the window's STATE, breaking the
    # state contract. No ACTIVATE_VERSION: the stream is incremental, not full-table.
    capabilities: t.ClassVar[list[t.Any]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_token",
            th.StringType,
            required=True,
            secret=True,
            description="Loop API token (Loop web settings, API keys tab), sent as "
            "`Authorization: Bearer <token>`.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.intheloop.io",
            description="Base URL of the Loop API.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            required=True,
            description="First moment to export (ISO 8601) when there is no state.",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Last moment to export (ISO 8601); default: when the run started.",
        ),
        th.Property(
            "timezone",
            th.StringType,
            default="UTC",
            description="IANA time zone Loop uses to calculate the export (e.g. Europe/Ljubljana).",
        ),
        _ids("tag_ids", "tagIds", "tags (at least one)"),
        _ids("team_ids", "teamIds", "shared inboxes"),
        _ids("teammate_ids", "teammateIds", "teammates (email addresses)"),
        _ids("customer_ids", "customerIds", "customers (email addresses)"),
        th.Property(
            "impersonate_user",
            th.StringType,
            description="Make API calls on behalf of this workspace user "
            "(sent as `X-Impersonate-User`, never to the download host).",
        ),
        _number(
            "window_days",
            1,
            "Length of one export window in days; fractions allowed (0.25 = six hours).",
        ),
        _number(
            "lookback_days",
            0,
            "On incremental runs, start this many days before the bookmark to pick up late data.",
        ),
        _number(
            "poll_interval_seconds",
            10,
            "Wait before the first status check of an export and between checks.",
        ),
        _number(
            "export_timeout_seconds",
            3600,
            "Give up on one export (then split its window) after waiting this long.",
        ),
        th.Property(
            "primary_keys",
            th.ArrayType(th.StringType),
            description="Key properties of the stream; default: a never-null `id` field "
            "found by discovery.",
        ),
        _number(
            "schema_sample_days",
            7,
            "Discovery samples an export of this many days "
            "(ending at end_date or now) to infer the schema.",
        ),
        th.Property(
            "schema_sample_rows",
            th.IntegerType,
            default=5000,
            description="Discovery (and a sync without a catalog, from its first window) "
            "infers the schema from at most this many rows.",
        ),
        th.Property(
            "schema",
            th.ObjectType(additional_properties=True),
            description="JSON Schema property definitions that replace or add fields of "
            'the inferred schema, e.g. {"score": {"type": ["number", "null"]}}.',
        ),
        th.Property(
            "result_format",
            th.StringType,
            default="json",
            allowed_values=["json", "xlsx"],
            description="Export format to request: json, or xlsx (needs tap-loop[xlsx]).",
        ),
        th.Property(
            "min_window_minutes",
            th.IntegerType,
            default=60,
            description="A window whose export keeps failing is split in halves down to "
            "this length (minutes) before the tap gives up.",
        ),
        th.Property(
            "max_concurrent_exports",
            th.IntegerType,
            default=4,
            description="Windows created and polled at once (rows are still emitted in "
            "window order); lowered automatically on HTTP 429.",
        ),
        _number("request_timeout_seconds", 60, "Connect/read timeout of one HTTP request."),
        th.Property(
            "max_request_retries",
            th.IntegerType,
            default=8,
            description="Retries of one HTTP call on 429, 5xx, timeouts and connection "
            "errors before the run stops.",
        ),
        _number(
            "max_retry_wait_seconds",
            300,
            "Cap on any single wait between retries, including a 429's Retry-After.",
        ),
        th.Property(
            "max_export_attempts",
            th.IntegerType,
            default=3,
            description="Exports created for one window (after Failed or Expired) before "
            "the window is split or the run stops.",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        install_log_redaction()
        self.run_started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        super().__init__(*args, **kwargs)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The JSON Schema checks, then the checks a schema cannot express."""
        register_secret(str(self.config.get("api_token") or ""))
        errors = super()._validate_config(raise_errors=raise_errors)
        try:
            self.__dict__["settings"] = load_settings(self.config, require_token=raise_errors)
        except SettingsError as exc:
            errors = errors + exc.errors
            if raise_errors:
                raise ConfigValidationError("Config validation failed", errors=exc.errors) from None
            for error in exc.errors:
                self.logger.warning(error)
        return errors

    @cached_property
    def settings(self) -> Settings:
        """The validated settings (see :mod:`tap_loop.settings`)."""
        return load_settings(self.config)

    def sync_all(self) -> None:
        """Sync; a known failure ends the run with one clear line and exit code 1."""
        try:
            super().sync_all()
        except LoopTapError as exc:
            self.logger.debug("Details of the failure", exc_info=True)
            self.logger.error("%s", exc)
            logging.shutdown()
            sys.exit(1)

    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:  # type: ignore[override]
        """The CLI's sync command: without ``--catalog`` the first schema is inferred from
        the sync's own first rows, not from a sample export (first_schema.py)."""
        with FirstSchema.deferred():
            super().invoke(**kwargs)

    def discover_streams(self) -> list[ReportStream]:
        """One stream, ``report``; its schema is inferred from a sample export, except in
        the CLI's sync without a catalog (see :meth:`invoke`)."""
        if self.input_catalog is None and FirstSchema.is_deferred():
            return [FirstSchema.deferred_stream(self)]
        schema, keys = discover_schema(self)
        return [ReportStream(self, schema=schema, keys=keys)]


if __name__ == "__main__":
    TapLoop.cli()
