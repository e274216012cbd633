"""Valid JSON that common parsers refuse (issue 17): a lone UTF-16 surrogate escape (an
emoji cut in half) and a number beyond a float's range go out on every run, instead of
blocking their window. The tap as a real process against the sandbox (``edge_values``)."""

from __future__ import annotations

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    PATHS,
    discover,
    expected_ids,
    row_ids,
    run_tap,
)

START = EPOCH_2026_11_01


@pytest.mark.parametrize("path", sorted(PATHS))
def test_lone_surrogates_and_huge_numbers_go_out(sandbox, config, path):
    sandbox.configure(edge_values=True)
    config = {**config, **PATHS[path]}
    catalog = discover(config)
    properties = catalog["streams"][0]["schema"]["properties"]
    assert "number" in properties["edgeReading"]["type"]
    assert "integer" not in properties["edgeReading"]["type"]
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert row_ids(run.records) == expected_ids(sandbox, START, START + 3 * DAY)
    edge = [r for r in run.records if r["edgeReading"] != 1.5]
    assert edge and all(r["edgeNote"] == "Hello \ufffd" for r in edge)
    # 1e400 goes out as the same JSON number, every digit kept (Decimal's notation)
    assert run.stdout.count('"edgeReading":1E+400') == len(edge)
    assert all(r["edgeNote"] == "Hello" for r in run.records if r["edgeReading"] == 1.5)
    warnings = [line for line in run.stderr.splitlines() if "lone UTF-16 surrogate" in line]
    assert len(warnings) == 3  # once per window's file, with the field and a count
    assert all("'edgeNote'" in line for line in warnings)
    assert "run again later" not in run.stderr
