"""Secrets never reach a log line: token, bearer headers, URL signatures, tracebacks."""

from __future__ import annotations

import io
import logging

from tap_loop.core.redaction import RedactingFilter, redact, register_secret


def test_redact_masks_registered_token_bearer_and_signature():
    register_secret("tok-abcdef")
    text = redact(
        "token tok-abcdef; Authorization: Bearer other.tok; "
        "https://h/RF_1?Expires=1&Signature=abc%2Bdef&Key-Pair-Id=K"
    )
    assert "tok-abcdef" not in text and "other.tok" not in text and "abc%2Bdef" not in text
    assert "Signature=***&Key-Pair-Id=K" in text


def test_filter_redacts_messages_args_and_exceptions():
    register_secret("tok-zyxwvu")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("calling %s", "https://h/x?Signature=SIG1&a=b")
        try:
            raise ValueError("boom tok-zyxwvu")
        except ValueError:
            logger.exception("failed with %s", "tok-zyxwvu")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "SIG1" not in output and "tok-zyxwvu" not in output
    assert "ValueError: boom ***" in output
