"""How failures reach the user on the command line, the same in every mode.

``--discover``, ``--test``, ``--diagnose`` and a sync (with or without a catalog, under
Meltano or not) all end a known failure the same way: one clear line (the setting or
HTTP status and what to do), exit code 1, no traceback (it is logged at DEBUG).
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
import sys
import typing as t

from singer_sdk.exceptions import (
    AbortedSyncFailedException,
    AbortedSyncPausedException,
    ConfigValidationError,
)
from typing_extensions import override

from tap_loop.config.declared import DECLARED
from tap_loop.config.settings import DEPRECATED_SETTINGS
from tap_loop.core.errors import LoopTapError
from tap_loop.results.xlsx_rows import XlsxSupportMissing

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

_IN_CONFIG = re.compile(r"^(?P<message>.*) in config\['(?P<name>[^']+)'\]")
_REQUIRED = re.compile(r"^'(?P<name>[^']+)' is a required property")
_UNHANDLED = "An unhandled error occurred while syncing"


@contextlib.contextmanager
def one_line_errors(logger: logging.Logger) -> t.Iterator[None]:
    """Turn a known failure into one ERROR line per problem and exit code 1."""
    quiet = _QuietKnownFailures()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    except ConfigValidationError as exc:
        for error in exc.errors or [str(exc)]:
            logger.error("%s", error)
        _exit()
    except (LoopTapError, XlsxSupportMissing) as exc:
        logger.debug("Details of the failure", exc_info=True)
        logger.error("%s", exc)
        _exit()
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def _exit() -> t.NoReturn:
    logging.shutdown()
    sys.exit(1)


class _QuietKnownFailures(logging.Filter):
    """Drops singer-sdk's "An unhandled error occurred while syncing" line when the
    error is one the tap reports itself (or the end of ``--test``'s one-row sync)."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(_UNHANDLED):
            return True
        error = sys.exc_info()[1]
        known = (LoopTapError, XlsxSupportMissing, AbortedSyncFailedException)
        return not isinstance(error, (*known, AbortedSyncPausedException))


def readable_errors(
    schema_errors: list[str], setting_errors: list[str], *, require_token: bool
) -> list[str]:
    """One line per invalid setting, each starting "Setting '<name>'".

    The JSON Schema's messages ("'abc' does not match '^\\s*[0-9]*...'") are reworded;
    a setting the tap's own checks already explain is reported once, in their words.
    """
    explained = {name for error in setting_errors for name in re.findall(r"'([^']+)'", error)[:1]}
    lines = list(setting_errors)
    for error in schema_errors:
        name, line = _reworded(error)
        if name == "api_token" and not require_token and _REQUIRED.match(error):
            continue
        if name is not None and name in explained:
            continue
        lines.append(line)
    return lines


def _reworded(error: str) -> tuple[str | None, str]:
    required = _REQUIRED.match(error)
    if required:
        name = required.group("name")
        return name, f"Setting '{name}' is missing."
    found = _IN_CONFIG.match(error)
    if not found:
        return None, error
    name, message = found.group("name"), found.group("message")
    declared = DECLARED.get(name)
    if declared is not None and declared.secret:  # the schema's message quotes the value
        return name, f"Setting '{name}' is invalid: expected a {declared.kind} (value not shown)."
    if " does not match " in message:
        value = message.split(" does not match ")[0]
        return name, f"Setting '{name}' is invalid ({value}): expected a number, e.g. 1 or 0.25."
    return name, f"Setting '{name}' is invalid: {message}."


def warn_unknown_settings(
    config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any], logger: logging.Logger
) -> None:
    """Warn about each setting the tap does not know, naming the closest one it knows."""
    known = sorted(schema.get("properties", {}))
    for name in config:
        if name in known or name in DEPRECATED_SETTINGS or name.startswith("_"):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        logger.warning("Setting '%s' is not a tap-loop setting and is ignored%s", name, hint)


def first_rows_only(
    get_records: t.Callable[[Context | None], t.Iterable[Record]], limit: int
) -> t.Callable[[Context | None], t.Iterator[Record]]:
    """``get_records`` that ends cleanly (closing the export pipeline) after ``limit`` rows."""

    def limited(context: Context | None) -> t.Iterator[Record]:
        records = iter(get_records(context))
        try:
            for count, row in enumerate(records, 1):
                yield row
                if count >= limit:
                    return
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()

    return limited
