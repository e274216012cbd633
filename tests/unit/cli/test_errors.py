"""One line per invalid setting; a secret setting's value is never quoted."""

from __future__ import annotations

from tap_loop.cli.errors import readable_errors


def test_a_schema_error_of_the_token_does_not_quote_it():
    lines = readable_errors(
        ["1234567 is not of type 'string' in config['api_token']"], [], require_token=True
    )
    assert lines == ["Setting 'api_token' is invalid: expected a string (value not shown)."]


def test_a_schema_error_of_another_setting_quotes_its_message():
    lines = readable_errors(
        ["5 is not of type 'string' in config['timezone']"], [], require_token=True
    )
    assert lines == ["Setting 'timezone' is invalid: 5 is not of type 'string'."]
