"""tap-loop: the Tap class and its settings."""

from __future__ import annotations

import datetime as dt
import typing as t
from functools import cached_property

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_loop.cli.errors import (
    first_rows_only,
    one_line_errors,
    readable_errors,
    warn_unknown_settings,
)
from tap_loop.config.settings import Run, Settings, SettingsError, load_settings
from tap_loop.core.output import LoopMessageWriter
from tap_loop.core.redaction import install_log_redaction, register_secret
from tap_loop.core.signals import STOP
from tap_loop.discovery import discover_schema
from tap_loop.first_schema import FirstSchema
from tap_loop.stream import ReportStream

# Fractional settings accept numbers or numeric strings: Meltano's `kind: decimal`
# cannot be used (it crashes writing the config), so meltano.yml declares them as strings.
# Their bounds are JSON Schema constraints (checked for numbers; settings.py checks both).
_NUMBER = {"type": ["number", "string"], "pattern": r"^\s*[0-9]*\.?[0-9]+\s*$"}
_POSITIVE = {"exclusiveMinimum": 0}
_NOT_NEGATIVE = {"minimum": 0}


def _number(
    name: str, default: float, description: str, bound: dict[str, int] = _POSITIVE
) -> th.Property[t.Any]:
    return th.Property(
        name, th.CustomType({**_NUMBER, **bound}), default=default, description=description
    )


def _ids(name: str, api_field: str, what: str) -> th.Property[t.Any]:
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
            description="Last moment to export (ISO 8601); default, and at most: when the "
            "run started, minus settle_minutes.",
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
            _NOT_NEGATIVE,
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
            th.IntegerType(minimum=1),
            default=5000,
            description="Discovery (and a sync without a catalog, from its first window) "
            "infers the schema from at most this many rows.",
        ),
        # The old name, "schema", is still read (undeclared) with a warning: settings.py.
        th.Property(
            "schema_overrides",
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
            th.IntegerType(minimum=1),
            default=60,
            description="A window whose export keeps failing is split in halves down to "
            "this length (minutes) before the tap gives up.",
        ),
        th.Property(
            "max_concurrent_exports",
            th.IntegerType(minimum=1),
            default=4,
            description="Windows created and polled at once (rows are still emitted in "
            "window order); lowered automatically on HTTP 429.",
        ),
        _number("request_timeout_seconds", 60, "Connect/read timeout of one HTTP request."),
        _number(
            "download_timeout_seconds",
            1800,
            "Deadline for downloading one result file as a whole (a host that trickles "
            "bytes); past it the download is tried once more, then the run stops.",
        ),
        th.Property(
            "max_request_retries",
            th.IntegerType(minimum=0),
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
            th.IntegerType(minimum=1),
            default=3,
            description="Exports created for one window (after Failed or Expired) before "
            "the window is split or the run stops.",
        ),
        _number(
            "settle_minutes",
            10,
            "Windows end at least this long before the run started, so Loop has finished "
            "computing the rows they hold; 0: up to the run's start.",
            _NOT_NEGATIVE,
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        install_log_redaction()
        self.run_started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        super().__init__(*args, **kwargs)
        STOP.install()  # SIGTERM/SIGINT: exit 128 + signal, not singer-sdk's exit 0

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The JSON Schema checks, then the checks a schema cannot express.

        Any invalid setting raises, in every mode; only discovery (``raise_errors``
        false) accepts a missing ``api_token`` (it then samples nothing). A setting the
        tap does not know gets a warning naming the closest one it knows.

        A private singer-sdk override: see :mod:`tap_loop.core.sdk_private`, entry 8.
        """
        register_secret(str(self.config.get("api_token") or ""))
        try:
            schema_errors = super()._validate_config(raise_errors=True)
        except ConfigValidationError as exc:
            schema_errors = list(exc.errors)
        warn_unknown_settings(self.config, self.config_jsonschema, self.logger)
        try:
            load_settings(self.config, require_token=raise_errors)
            setting_errors: list[str] = []
        except SettingsError as exc:
            setting_errors = exc.errors
        errors = readable_errors(schema_errors, setting_errors, require_token=raise_errors)
        if errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return []

    @cached_property
    def run(self) -> Run:
        """This run: its config, start and settings."""
        return Run(self.config, self.run_started)

    @property
    def settings(self) -> Settings:
        """The validated settings (see :mod:`tap_loop.config.settings`)."""
        return self.run.settings

    # -- command line: every mode reports a known failure as one line, exit 1 -------------
    @override
    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """Sync (with or without a catalog). Without ``--catalog`` the first schema is
        inferred from the sync's own first rows, not from a sample export
        (first_schema.py)."""
        with one_line_errors(cls.logger), FirstSchema.deferred():
            super().invoke(*args, **kwargs)

    @classmethod
    def from_cli(cls, ctx: click.Context, **options: t.Any) -> TapLoop:
        """A tap built from the command line's ``--config`` (files and/or ENV)."""
        config = ctx.params.get("config")
        return cls(
            config=getattr(config, "config", None),
            parse_env_config=bool(getattr(config, "parse_env", False)),
            **options,
        )

    @override
    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        """``--discover``: print the catalog; invalid settings exit 1."""
        if not value:
            return
        with one_line_errors(cls.logger):
            cls.from_cli(ctx, validate_config=False, setup_mapper=False).run_discovery()
        ctx.exit()

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: one export, its first row, then a line saying the connection works."""
        if value == CliTestOptionValue.Disabled.value:
            return
        with one_line_errors(cls.logger):
            tap = cls.from_cli(ctx, validate_config=True)
            if value == CliTestOptionValue.Schema.value:
                tap.write_schemas()
            else:
                tap.connection_test()
        ctx.exit()

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """singer-sdk's command plus ``--diagnose``."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--diagnose"],
                is_flag=False,
                flag_value="-",
                default=None,
                help="Run one small export against the configured service and print what "
                "it saw; --diagnose=FILE also writes it, redacted, as JSON to FILE.",
                callback=cls.cb_diagnose,
                expose_value=False,
            )
        )
        return command

    @classmethod
    def cb_diagnose(cls, ctx: click.Context, param: click.Option, value: str | None) -> None:
        """``--diagnose[=FILE]``: the first-contact report (tap_loop.cli.diagnose)."""
        if value is None:
            return
        from tap_loop.cli.diagnose import run_diagnosis

        with one_line_errors(cls.logger):
            tap = cls.from_cli(ctx, validate_config=True, setup_mapper=False)
            run_diagnosis(tap.settings, tap.run_started, None if value == "-" else value)
        ctx.exit()

    def connection_test(self) -> None:
        """Sync the stream until its first row arrives, then stop cleanly."""
        stream = t.cast("ReportStream", self.streams["report"])
        stream.selected = True
        # On this one instance; mypy refuses any assignment to a method (and checks it
        # against the unbound signature, self included).
        stream.get_records = first_rows_only(stream.get_records, 1)  # type: ignore[method-assign,assignment]
        stream.sync()
        self.logger.info(
            "Connection test passed: Loop at %s accepted the token, an export completed "
            "and its first row arrived.",
            self.settings.api_url,
        )

    @override
    def discover_streams(self) -> list[ReportStream]:
        """One stream, ``report``; its schema is inferred from a sample export, except in
        the CLI's sync without a catalog (see :meth:`invoke`)."""
        if self.input_catalog is None and FirstSchema.is_deferred():
            return [ReportStream.without_catalog(self, self.run)]
        schema, keys = discover_schema(self.input_catalog, self.run)
        return [ReportStream(self, self.run, schema=schema, keys=keys)]


if __name__ == "__main__":
    TapLoop.cli()
