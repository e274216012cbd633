"""No token, bearer header or URL signature in any output, and none sent to the
download host; the tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

from tests.helpers import (
    TOKEN,
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
