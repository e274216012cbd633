"""No token, bearer header or URL signature in any output, and none sent to the
download host; the tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

import json
import typing as t
from urllib.parse import quote, quote_plus

import pytest

from tests.helpers import (
    TOKEN,
    api_calls,
    error_lines,
    run_diagnose,
    run_tap,
)


def test_download_host_never_gets_credentials(sandbox, config, catalog):
    run = run_tap({**config, "impersonate_user": "boss@example.com"}, catalog=catalog)
    assert run.returncode == 0, run.stderr
    downloads = [r for r in sandbox.requests if r["server"] == "download"]
    assert len(downloads) == 3
    for request in downloads:
        assert "authorization" not in request["headers"]
        assert "x-impersonate-user" not in request["headers"]


def test_token_and_signatures_never_logged(sandbox, config, catalog):
    run = run_tap(config, env={"TAP_LOOP_LOG_LEVEL": "DEBUG", "LOGLEVEL": "DEBUG"})
    assert run.returncode == 0
    assert TOKEN not in run.stderr and TOKEN not in run.stdout
    assert "Signature=" not in run.stderr.replace("Signature=***", "")


def test_no_secret_in_any_output_at_debug_with_faults(sandbox, config, catalog):
    sandbox.add_fault(
        [
            {"target": "create", "kind": "http_status", "status": 429, "retry_after": "1"},
            {"target": "poll", "kind": "http_status", "status": 503},
            {"target": "download", "kind": "truncate"},
            {"target": "download", "kind": "expire_url", "then": "fresh"},
            {"target": "download", "kind": "reset"},
        ]
    )
    run = run_tap(
        config, catalog=catalog, extra=[], env={"TAP_LOOP_LOG_LEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}
    )
    assert run.returncode == 0, run.stderr
    assert "DEBUG" in run.stderr
    signatures = set()
    for request in sandbox.requests:
        signatures.update(request["query"].get("Signature", []))
    assert signatures
    for text in (run.stdout, run.stderr):
        assert TOKEN not in text
        for signature in signatures:
            assert signature not in text


# -- issue 17: credentials in any query parameter, tokens a header cannot carry ---------
CREDENTIAL_NAMES = frozenset(
    {"Signature", "sig", "X-Amz-Credential", "X-Amz-Security-Token", "X-Amz-Signature", "token"}
)


def query_secrets(sandbox) -> set[str]:
    """Every credential value of every download URL, raw and in each encoded form."""
    forms: set[str] = set()
    for request in sandbox.requests:
        if request["server"] != "download":
            continue
        for name, values in request["query"].items():
            if name in CREDENTIAL_NAMES:
                for value in values:
                    forms.update({value, quote(value, safe=""), quote_plus(value)})
                    forms.update(part for part in value.split("/") if len(part) >= 8)
        for pair in request["raw_query"].split("&"):
            name, _, value = pair.partition("=")
            if name in CREDENTIAL_NAMES:
                forms.add(value)
    return forms


def assert_absent(secrets: t.Iterable[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"{secret!r} leaked"


def test_no_query_credential_in_any_output_when_urls_are_refused(sandbox, config, catalog):
    """Azure's ``sig``, AWS's ``X-Amz-*`` and a ``token`` query value, each download
    refused with a 403 that quotes its query: the values never reach any output, the
    names do."""
    sandbox.configure(credential_query=True)
    sandbox.add_fault(
        [{"target": "download", "kind": "expire_url", "then": "fresh"} for _ in range(4)]
        + [{"target": "download", "kind": "reset"}]
    )
    run = run_tap(config, catalog=catalog, env={"TAP_LOOP_LOG_LEVEL": "DEBUG", "LOGLEVEL": "DEBUG"})
    assert run.returncode == 0, run.stderr
    secrets = query_secrets(sandbox)
    assert len(secrets) > 20
    assert run.stderr.count("Result URL no longer valid") >= 2
    assert "Got a fresh result URL" in run.stderr and "X-Amz-Security-Token" in run.stderr
    assert_absent(secrets, run.stdout, run.stderr)


def test_diagnose_keeps_query_credentials_out_of_its_report_and_file(sandbox, config, tmp_path):
    sandbox.configure(credential_query=True)
    sandbox.add_fault({"target": "download", "kind": "expire_url", "then": "fresh"})
    out = tmp_path / "report.json"
    run = run_diagnose(config, out)
    assert run.returncode == 1, run.stderr
    text = out.read_text()
    assert "HTTP 403" in json.loads(text)["error"]
    assert "Error: Download host answered HTTP 403" in run.stdout
    assert_absent(query_secrets(sandbox), run.stdout, run.stderr, text)


UNSENDABLE_TOKENS = {
    "line break": TOKEN + "\nTOKENPART2-c0ffee",
    "carriage return": TOKEN + "\r\nTOKENPART2-c0ffee",
    "byte order mark": "\ufeff" + TOKEN,
    "inner space": TOKEN + " TOKENPART2-c0ffee",
    "non-ASCII": TOKEN + "\u00a0TOKENPART2-c0ffee",
}


@pytest.mark.parametrize("mode", [[], ["--test"]])
@pytest.mark.parametrize("kind", sorted(UNSENDABLE_TOKENS))
def test_a_token_no_header_can_carry_is_one_line_and_never_shown(sandbox, config, kind, mode):
    token = UNSENDABLE_TOKENS[kind]
    run = run_tap({**config, "api_token": token}, extra=mode)
    assert run.returncode == 1
    errors = error_lines(run.stderr)
    assert len(errors) == 1 and "Setting 'api_token'" in errors[0], run.stderr
    assert "Traceback" not in run.stderr and "UnicodeEncodeError" not in run.stderr
    for part in (token, token.strip(), "TOKENPART2", TOKEN):
        assert part not in run.stderr and part not in run.stdout
    assert api_calls(sandbox) == []


@pytest.mark.parametrize("mode", [[], ["--test"]])
def test_a_non_latin1_impersonate_user_is_one_line(sandbox, config, mode):
    run = run_tap({**config, "impersonate_user": "jürgen.čapek@example.com"}, extra=mode)
    assert run.returncode == 1
    errors = error_lines(run.stderr)
    assert len(errors) == 1 and "Setting 'impersonate_user'" in errors[0], run.stderr
    assert "Traceback" not in run.stderr and "UnicodeEncodeError" not in run.stderr
    assert api_calls(sandbox) == []


def test_a_short_token_does_not_mask_words_of_the_advice(sandbox, config):
    """The token "wrong" is refused (401): the hint still reads "it is wrong, expired or
    revoked", and the token is still masked where it stands (the bearer header)."""
    run = run_tap({**config, "api_token": "wrong"}, env={"LOGLEVEL": "DEBUG"})
    assert run.returncode == 1
    errors = error_lines(run.stderr)
    assert len(errors) == 1 and "HTTP 401" in errors[0], run.stderr
    assert "it is wrong, expired or revoked" in errors[0]
    assert "Bearer wrong" not in run.stderr
