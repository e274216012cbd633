"""`--diagnose` with a result the tap cannot read (an HTML page served with 200): it
handles the file as a sync would (downloads it again), says so, and exits 1 when a sync
would stop. The tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

from tests.helpers import error_lines, run_diagnose


def test_an_html_page_every_time_fails_the_diagnosis_as_it_would_fail_a_sync(sandbox, config):
    sandbox.add_fault({"target": "download", "kind": "html_page", "times": -1})
    run = run_diagnose(config)
    assert run.returncode == 1, run.stdout
    assert "worked end to end" not in run.stdout
    assert "unreadable" in run.stdout and "not JSON" in run.stdout
    errors = error_lines(run.stderr)
    assert len(errors) == 1, run.stderr
    assert "unreadable 3 times" in errors[0] and "A sync would do the same" in errors[0]
    assert "Traceback" not in run.stderr


def test_an_html_page_once_is_downloaded_again_and_said(sandbox, config):
    sandbox.add_fault({"target": "download", "kind": "html_page", "times": 1})
    run = run_diagnose(config)
    assert run.returncode == 0, run.stderr
    assert "after 1 unreadable download(s), downloaded again as a sync would" in run.stdout
    assert "worked end to end once downloaded again" in run.stdout
