"""tap-loop: the Tap class (its settings are declared in tap_loop/config/declared.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import typing as t
from functools import cached_property

import click
from singer_sdk import Tap
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
from tap_loop.config import declared
from tap_loop.config.settings import Run, Settings, SettingsError, load_settings
from tap_loop.core.output import LoopMessageWriter
from tap_loop.core.redaction import install_log_redaction, register_secret
from tap_loop.core.signals import STOP
from tap_loop.discovery import discover_schema, stream_settings
from tap_loop.first_schema import FirstSchema
from tap_loop.run_exports import RunExports
from tap_loop.state_book import check_state
from tap_loop.stream import ReportStream


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

    config_jsonschema = declared.config_jsonschema()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        install_log_redaction()
        _demote_env_skip_line(logging.getLogger(self.name))
        self.run_started = dt.datetime.now(dt.UTC).replace(microsecond=0)
        state = kwargs.get("state")
        if state is not None and not isinstance(state, (dict, str, os.PathLike)):
            check_state(state)  # a state file holding a list: singer-sdk takes it for a path
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

    @override
    def load_state(self, state: dict[str, t.Any]) -> None:
        """singer-sdk's merge of the input state, after checking its shape: a state it
        would crash on (``bookmarks`` a string, an entry a list) or an unreadable bookmark
        stops the run here, before any API call, with one line (state_book.check_state)."""
        check_state(state)
        super().load_state(state)

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
        with _closing_cli_files(ctx), one_line_errors(cls.logger):
            cls.from_cli(ctx, validate_config=False, setup_mapper=False).run_discovery()
        ctx.exit()

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: one export, its first row, then a line saying the connection works."""
        if value == CliTestOptionValue.Disabled.value:
            return
        with _closing_cli_files(ctx), one_line_errors(cls.logger):
            if value == CliTestOptionValue.Schema.value:
                cls.from_cli(ctx, validate_config=True).write_schemas()
            else:
                with FirstSchema.deferred():  # no sample export: the test's own is enough
                    tap = cls.from_cli(ctx, validate_config=True)
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

        with _closing_cli_files(ctx), one_line_errors(cls.logger):
            tap = cls.from_cli(ctx, validate_config=True, setup_mapper=False)
            run_diagnosis(tap.settings, tap.run_started, None if value == "-" else value)
        ctx.exit()

    def connection_test(self) -> None:
        """Export one short window of the first stream, up to its first row, then stop
        cleanly: one export in all (the schema comes from that export's rows)."""
        stream = t.cast("ReportStream", next(iter(self.streams.values())))
        stream.selected = True
        stream.one_short_window = True
        stream.exports = RunExports(lambda: [stream])  # this one stream's export only
        rows = 0

        def counted(context: t.Any) -> t.Iterator[dict[str, t.Any]]:
            nonlocal rows
            records = iter(original(context))
            try:
                for row in records:
                    rows += 1
                    yield row
            finally:
                getattr(records, "close", lambda: None)()

        original = stream.get_records
        # On this one instance; mypy refuses any assignment to a method (and checks it
        # against the unbound signature, self included).
        stream.get_records = first_rows_only(counted, 1)  # type: ignore[method-assign,assignment]
        stream.sync()
        if rows:
            self.logger.info(
                "Connection test passed: Loop at %s accepted the token, an export completed "
                "and its first row arrived.",
                self.settings.api_url,
            )
        else:
            self.logger.info(
                "Connection test passed: Loop at %s accepted the token and an export "
                "completed; it held no row (the last day before the run had none for "
                "these filters).",
                self.settings.api_url,
            )

    @override
    def discover_streams(self) -> list[ReportStream]:
        """The stream ``report``, or one per ``reports`` entry; each stream's schema is
        inferred from a sample export of its own, except in the CLI's sync without a
        catalog and in ``--test`` (see :meth:`invoke`)."""
        streams = []
        for settings in stream_settings(self.run):
            if self.input_catalog is None and FirstSchema.is_deferred():
                streams.append(ReportStream.without_catalog(self, self.run, settings))
                continue
            schema, keys = discover_schema(self.input_catalog, self.run, settings)
            streams.append(
                ReportStream(self, self.run, schema=schema, keys=keys, settings=settings)
            )
        # One RunExports for all: every selected stream's exports over one budget, in the
        # order singer-sdk syncs them (that of self.streams).
        exports = RunExports(
            lambda: [t.cast("ReportStream", s) for s in self.streams.values() if s.selected]
        )
        for stream in streams:
            stream.exports = exports
        return streams


@contextlib.contextmanager
def _closing_cli_files(ctx: click.Context) -> t.Iterator[None]:
    """Close the files click opened for ``--state`` and ``--catalog`` when a mode callback
    ends, also when it fails (tap_loop.core.sdk_private, entry 12).

    The callbacks run while click parses the command line, before the context that would
    close them is entered, and a failure exits with ``sys.exit(1)``; left open, Python
    reports ``ResourceWarning: unclosed file .../state.json`` at exit wherever warnings
    are shown (Meltano runs plugins with ``PYTHONWARNINGS=once``)."""
    try:
        yield
    finally:
        ctx.close()


#: singer-sdk's INFO line of every run whose config is not read from the environment
#: (``--config ENV``); Meltano writes a config file, so it is in every Meltano log.
ENV_SKIP_LINE = "Skipping parse of env var settings..."


class _EnvSkipAtDebug(logging.Filter):
    """Logs :data:`ENV_SKIP_LINE` at DEBUG instead of INFO (sdk_private, entry 13)."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.getMessage() != ENV_SKIP_LINE:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _demote_env_skip_line(logger: logging.Logger) -> None:
    if not any(isinstance(f, _EnvSkipAtDebug) for f in logger.filters):
        logger.addFilter(_EnvSkipAtDebug())


if __name__ == "__main__":
    TapLoop.cli()
