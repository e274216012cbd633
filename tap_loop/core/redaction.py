"""Keep secrets out of logs, messages and reports: the API token and every URL query value.

Credentials are masked where they stand, not as words of prose:

* every value of a URL query (``?name=value&...``, with or without scheme and host, as in
  requests' "Max retries exceeded with url: /RF_1?sig=...", or a query on a line of its
  own, as in S3's ``CanonicalRequest``), whatever its name: Azure's
  ``sig``, S3's ``X-Amz-Signature``/``X-Amz-Credential``/``X-Amz-Security-Token``,
  CloudFront's ``Signature``, a ``token``; only the names stay;
* a ``name=value`` pair whose name says credential (``...token``, ``...signature``,
  ``sig``, ``...credential``, ``...secret``, ``password``, ``...key``) anywhere;
* the user and password of a URL (``https://user:pw@host``);
* ``Bearer <token>`` and ``Basic <credentials>`` (the header value as exceptions quote it);
* as a last resort, the registered token itself, raw, percent-encoded, as ``repr`` shows
  it and each part of it between line breaks or spaces, but only when that text is at
  least :data:`MIN_SECRET_LENGTH` characters long. A shorter string would mask words of
  the tap's own messages (a token "wrong" turned "it is wrong, expired or revoked" into
  "it is ***, expired or revoked"); a real Loop token is a long random string, and a
  short one is still masked where it stands (in its header, in Loop's reply).
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus, urlsplit

from typing_extensions import override

MASK = "***"
MIN_SECRET_LENGTH = 8
"""Registered secrets (and parts of them) shorter than this are not masked in prose."""

_VALUE = r"(?!\*\*\*)[^&\s\"'<>#]*[^&\s\"'<>#.,;:!)]"  # a trailing "." or "," is prose
_QUERY_VALUE = re.compile(r"([?&][^=&\s?#\"'<>]+=)" + _VALUE)
_QUERY_LINE = re.compile(r"(?m)^(\s*[^=&\s?#\"'<>]+=)" + _VALUE + "(?=&)")  # S3's CanonicalRequest
_CREDENTIAL_PAIR = re.compile(
    r"(?i)(\b[\w.-]*(?:token|signature|\bsig|credential|secret|password|passwd|key)=)"
    r"(?!\*\*\*)[^&\s\"'<>#,;]+"
)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)(?!\*\*\*@)[^/\s@?#\"'<>]+@")
_BEARER = re.compile(r"(?i)(\bBearer\s+)(?![<*])[^\s\"',;)\]}]+")
_BASIC = re.compile(r"(?i)(\bBasic\s+)[A-Za-z0-9+/=._~-]{8,}")
_SPLIT = re.compile(r"[\s\x00-\x1f\x7f]+|\\[nrt]")
_secrets: set[str] = set()
_lock = threading.Lock()


def secret_forms(secret: str) -> set[str]:
    """The texts under which ``secret`` may appear in a message: itself, percent-encoded,
    as ``repr`` escapes it, and its parts between line breaks, spaces or escapes; only
    those of at least :data:`MIN_SECRET_LENGTH` characters."""
    forms = {secret, secret.strip(), quote(secret), quote(secret, safe=""), quote_plus(secret)}
    forms.add(repr(secret)[1:-1])
    forms.update(_SPLIT.split(secret))
    forms.update(_SPLIT.split(repr(secret)[1:-1]))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def register_secret(secret: str | None) -> None:
    """Remember a secret (the token) so that :func:`redact` masks it as a last resort."""
    if secret:
        forms = secret_forms(secret)
        with _lock:
            _secrets.update(forms)


def redact(text: str) -> str:
    """``text`` with URL query values, credential pairs, URL passwords, bearer/basic
    credentials and the registered token masked (see the module's docstring)."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(r"\1" + MASK + "@", text)
    text = _QUERY_VALUE.sub(r"\1" + MASK, text)
    text = _QUERY_LINE.sub(r"\1" + MASK, text)
    text = _CREDENTIAL_PAIR.sub(r"\1" + MASK, text)
    text = _BEARER.sub(r"\1" + MASK, text)
    return _BASIC.sub(r"\1" + MASK, text)


def mask_exactly(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` masked, however short: for a text
    that may quote it verbatim (a service's reply to a call that carried it)."""
    if not text or not secret or not secret.strip():
        return text
    for form in sorted({secret, secret.strip()}, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def safe_url(url: str) -> str:
    """A URL fit for a log line: scheme, host and path, then the query's names, each
    with its value masked (``https://h/RF_1?Expires=***&sig=***``); no user, password
    or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:  # an unparsable URL (a bad port, brackets): mask what can be found
        return redact(url)
    pairs = [pair.partition("=") for pair in parts.query.split("&") if pair]
    query = "&".join(name + (f"={MASK}" if equals else "") for name, equals, _ in pairs)
    base = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else f"{host}{parts.path}"
    return redact(base) + (f"?{redact(query)}" if query else "")


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
