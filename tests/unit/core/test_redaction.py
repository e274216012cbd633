"""Secrets never reach a log line: token, bearer headers, URL signatures, tracebacks."""

from __future__ import annotations

import io
import logging

import pytest

from tap_loop.core.redaction import (
    RedactingFilter,
    mask_exactly,
    redact,
    register_secret,
    safe_url,
    secret_forms,
)


def test_redact_masks_registered_token_bearer_and_signature():
    register_secret("tok-abcdef")
    text = redact(
        "token tok-abcdef; Authorization: Bearer other.tok; "
        "https://h/RF_1?Expires=1&Signature=abc%2Bdef&Key-Pair-Id=K"
    )
    assert "tok-abcdef" not in text and "other.tok" not in text and "abc%2Bdef" not in text
    assert "Signature=***&Key-Pair-Id=***" in text  # every query value, not only signatures


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


# -- issue 17: every query value, credentials where they stand, the token's forms ---------
CREDENTIAL_URL = (
    "https://files.example.net/RF_1?Expires=1796120824&Signature=SIGVALUE1"
    "&sig=AZURESIG%2F%2Bab%3D%3D&X-Amz-Credential=ASIAKEY1%2F20261101%2Feu%2Fs3"
    "&X-Amz-Security-Token=SECTOKEN%2Bxyz&X-Amz-Signature=deadbeefcafe&token=TOKVALUE9"
)
QUERY_VALUES = (
    "1796120824",
    "SIGVALUE1",
    "AZURESIG",
    "ASIAKEY1",
    "SECTOKEN",
    "deadbeefcafe",
    "TOKVALUE9",
)


@pytest.mark.parametrize(
    "template",
    [
        "Download host answered HTTP 403 for {url}",
        "403 Client Error: Forbidden for url: {url}",  # requests' HTTPError
        "HTTPConnectionPool(host='files.example.net', port=443): Max retries exceeded with "
        "url: {path} (Caused by NewConnectionError('refused'))",  # requests' ConnectionError
        '"GET {path} HTTP/1.1" 403 212',  # urllib3's DEBUG line
        "<CanonicalRequest>GET\n/RF_1\n{xml_query}</CanonicalRequest>",  # S3's error body
    ],
)
def test_every_query_value_is_masked_in_any_message(template):
    path = CREDENTIAL_URL.split("files.example.net", 1)[1]
    query = CREDENTIAL_URL.split("?", 1)[1]
    text = redact(
        template.format(url=CREDENTIAL_URL, path=path, xml_query=query.replace("&", "&amp;"))
    )
    for value in QUERY_VALUES:
        assert value not in text
    assert "sig=***" in text and "X-Amz-Security-Token=***" in text


def test_safe_url_keeps_host_path_and_query_names_only():
    url = "https://user:pw123456@files.example.net:8443/RF_1?" + CREDENTIAL_URL.split("?")[1]
    shown = safe_url(url + "#frag")
    assert shown == (
        "https://files.example.net:8443/RF_1?Expires=***&Signature=***&sig=***"
        "&X-Amz-Credential=***&X-Amz-Security-Token=***&X-Amz-Signature=***&token=***"
    )
    assert safe_url("https://h/RF_2") == "https://h/RF_2"
    assert safe_url("https://h/RF_2?flag") == "https://h/RF_2?flag"


def test_credentials_where_they_stand():
    text = redact(
        "token=abc1 and client_secret=s3cr3t; {'Authorization': 'Bearer short'} "
        "Authorization: Basic dXNlcjpwYXNzd29yZA== https://u:pw@h/x"
    )
    for value in ("abc1", "s3cr3t", "short", "dXNlcjpwYXNzd29yZA", "u:pw"):
        assert value not in text
    assert "https://***@h/x" in text


def test_a_bearer_value_is_masked_to_its_end_even_with_an_escaped_line_break():
    """requests' InvalidHeader quotes the header value with repr: ``\\n`` is two characters."""
    text = redact(r"Invalid return character or leading space in header: 'Bearer ab\nTAILPART'")
    assert "TAILPART" not in text and "'Bearer ***'" in text


def test_a_short_token_is_not_masked_in_prose():
    register_secret("wrong")
    text = "check 'api_token': it is wrong, expired or revoked"
    assert redact(text) == text
    assert redact("Authorization: Bearer wrong") == "Authorization: Bearer ***"


def test_a_long_token_is_masked_in_every_form():
    token = "LONGTOKEN-0123/+=\nSECONDPART-4567"
    register_secret(token)
    forms = [
        token,
        "LONGTOKEN-0123%2F%2B%3D%0ASECONDPART-4567",  # percent-encoded
        "LONGTOKEN-0123%2F%2B%3D%0ASECONDPART-4567".replace("%2F", "/"),
        repr(token),
        "SECONDPART-4567",  # the part after the line break, on a line of its own
    ]
    for form in forms:
        text = redact(f"seen: {form} here")
        assert "SECONDPART" not in text and "LONGTOKEN" not in text, text
    assert secret_forms("short") == set()


def test_mask_exactly_masks_even_a_short_token():
    assert mask_exactly("Unknown token 'abc'", "abc") == "Unknown token '***'"
    assert mask_exactly("nothing", None) == "nothing"


def test_redacting_twice_changes_nothing_more():
    """A message holding a URL already shown by safe_url keeps its punctuation."""
    once = f"Download host answered HTTP 403 for {safe_url(CREDENTIAL_URL)}: Request has expired"
    assert redact(once) == once
    assert once.endswith("&token=***: Request has expired")
    assert (
        redact(redact("see https://u:p@h/x?a=1&b=2, then"))
        == "see https://***@h/x?a=***&b=***, then"
    )
