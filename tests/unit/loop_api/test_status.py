"""``export_message``: what Loop says of an export, made safe for one log line."""

from __future__ import annotations

import pytest

from tap_loop.loop_api.status import MESSAGE_LIMIT, ExportState, ExportStatus, export_message


@pytest.mark.parametrize(
    "answer", [{}, {"message": None}, {"message": ""}, {"error": False}, {"message": " \n "}]
)
def test_no_message(answer):
    assert export_message(answer) is None


def test_message_then_error_and_json_for_other_values():
    assert export_message({"message": "disk full", "error": "x"}) == "disk full"
    assert export_message({"error": "render failed"}) == "render failed"
    assert export_message({"message": {"code": 7, "why": ["a"]}}) == '{"code": 7, "why": ["a"]}'


def test_token_however_short_and_query_values_are_masked():
    text = export_message({"message": "tok1 at https://h/RF_1?Signature=abc&x=1"}, "tok1")
    assert text == "*** at https://h/RF_1?Signature=***&x=***"


def test_invisible_characters_are_escaped_and_length_is_bounded():
    text = export_message({"message": "a\r\nb\u202ec\x00\u200b" + "é" * 1000})
    assert text is not None and "\n" not in text and "\r" not in text
    assert text.startswith("a\\r\\nb\\u202ec\\x00\\u200bé")
    assert len(text) == MESSAGE_LIMIT and text.endswith("é…")


def test_described_shows_the_message_with_the_status():
    state = ExportState("e1", ExportStatus.FAILED, "Failed", None, "Failed", None, "no disk")
    assert state.described == 'Failed ("no disk")'
    assert ExportState("e1", ExportStatus.FAILED, "Failed", None).described == "Failed"
