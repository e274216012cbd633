"""Keep secrets out of logs and error messages: the API token and pre-signed URL signatures."""

from __future__ import annotations

import logging
import re
import threading

from typing_extensions import override

_SIGNATURE = re.compile(r"(?i)(Signature=)[^&\s\"'<>]+")
_BEARER = re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]+")
_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "***"


def register_secret(secret: str | None) -> None:
    """Remember a secret (the token) so that :func:`redact` masks it everywhere."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """``text`` with registered secrets, bearer tokens and URL signatures masked."""
    if not text:
        return text
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _SIGNATURE.sub(r"\1" + MASK, text)
    return _BEARER.sub(r"\1" + MASK, text)


def safe_url(url: str) -> str:
    """A URL fit for a log line: the signature masked."""
    return redact(url)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message (and traceback) redacted."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to logging's own handling
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
_installed = False


def install_log_redaction() -> None:
    """Redact every log record the process creates, whatever logger or handler.

    A record factory cleans each record as it is made (only records that pass their
    logger's level are made), so singer-sdk's, requests' and urllib3's DEBUG lines are
    covered too; the filter is also attached to existing handlers as a second guard.
    """
    global _installed
    if not _installed:
        _installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
