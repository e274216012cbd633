"""A second download of an export that differs from the first (issue 17): after a bad
download the tap skips the rows it already emitted only when the new file starts with
exactly those rows; otherwise it emits the whole window again. No row is lost (rows may
come twice: at least once), and the bookmark passes the window only after all its rows.
The tap as a real process against the sandbox over HTTP."""

from __future__ import annotations

from loop_sandbox.download import INSERTED_ID
from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    assert_no_state_ahead_of_rows,
    expected_ids,
    iso,
    row_ids,
    run_tap,
)

START = EPOCH_2026_11_01


def test_a_row_inserted_before_the_second_download_is_not_lost(sandbox, config, catalog):
    sandbox.add_fault(
        [
            {"target": "download", "kind": "invalid_json", "times": 1},
            {"target": "download", "kind": "insert_row", "times": 1},
        ]
    )
    config = {**config, "end_date": iso(START + DAY), "max_concurrent_exports": 1}
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    ids = row_ids(run.records)
    expected = expected_ids(sandbox, START, START + DAY)
    assert set(ids) == {*expected, INSERTED_ID}  # nothing lost
    first = len(ids) - len(expected) - 1
    assert 0 < first < len(expected)  # some rows were emitted before the bad file ...
    assert ids[first:] == [INSERTED_ID, *expected]  # ... then the whole new file
    assert "emitting the whole window again" in run.stderr
    assert run.bookmark() == iso(START + DAY)
    assert_no_state_ahead_of_rows(run.messages)


def test_an_identical_second_download_skips_the_rows_already_emitted(sandbox, config, catalog):
    sandbox.add_fault({"target": "download", "kind": "invalid_json", "times": 1})
    config = {**config, "end_date": iso(START + DAY), "max_concurrent_exports": 1}
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert row_ids(run.records) == expected_ids(sandbox, START, START + DAY)
    assert "emitting the whole window again" not in run.stderr
