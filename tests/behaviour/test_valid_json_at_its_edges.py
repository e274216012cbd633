"""Valid JSON that common parsers refuse (issue 17): a lone UTF-16 surrogate escape (an
emoji cut in half) and a number beyond a float's range go out on every run, instead of
blocking their window. The tap as a real process against the sandbox (``edge_values``)."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    PATHS,
    discover,
    discover_run,
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


#: Numbers as Loop writes them, and as each must leave the tap: every digit of a number a
#: float cannot hold; a float's shortest form of one it can (the same value).
LONG_DECIMALS = {
    "9007199254740993.0": "9007199254740993.0",
    "12345678901234567890.5": "12345678901234567890.5",
    "3.14159265358979323846264338327950288": "3.14159265358979323846264338327950288",
    "-0.1000000000000000055511151231257827": "-0.1000000000000000055511151231257827",
    "1.50": "1.5",
    "2.25": "2.25",
}


@pytest.mark.parametrize("catalog_first", [True, False], ids=["catalog", "no-catalog"])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_long_decimals_go_out_with_every_digit(sandbox, config, path, catalog_first):
    """Over real HTTP, on both output paths, with and without a catalog: the RECORD lines
    hold exactly the digits Loop sent, top level and nested (issue 20)."""
    texts = list(LONG_DECIMALS)
    sandbox.configure(
        given_values={
            "reading": texts,
            "nested": [f'{{"v":[{text}]}}' for text in reversed(texts)],
        }
    )
    config = {**config, **PATHS[path]}
    catalog = discover(config) if catalog_first else None
    if catalog is not None:
        assert catalog["streams"][0]["schema"]["properties"]["reading"]["type"] == [
            "number",
            "null",
        ]
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith('{"type":"RECORD"')]
    assert len(lines) == len(expected_ids(sandbox, START, START + 3 * DAY))
    found = {_first(r'"reading":([^,}]+)', line) for line in lines}
    nested = {_first(r'"nested":\{"v":\[([^\]]+)\]', line) for line in lines}
    assert found == nested == set(LONG_DECIMALS.values())


def _first(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, text
    return match.group(1)


BIG = [2**127, -(10**40), 2**63, 5]


@pytest.mark.parametrize("mode", ["string", "number"])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_integers_beyond_64_bits_are_declared_as_the_setting_says(sandbox, config, path, mode):
    """Discovery declares a field of integers beyond 64 bits as ``big_integers`` says
    (default string: digits, exact in both bundled targets), warns once naming the field
    and the setting, and the RECORDs hold Loop's exact digits, as strings or numbers."""
    sandbox.configure(given_values={"huge": [str(value) for value in BIG]})
    config = {**config, **PATHS[path], **({"big_integers": mode} if mode == "number" else {})}
    found = discover_run(config)
    assert found.returncode == 0, found.stderr
    catalog = json.loads(found.stdout)
    declared = catalog["streams"][0]["schema"]["properties"]["huge"]
    notes = [line for line in found.stderr.splitlines() if "beyond 64 bits" in line]
    assert len(notes) == 1 and "'huge'" in notes[0] and "big_integers" in notes[0]
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    if mode == "string":
        assert declared == {"type": ["string", "null"], "format": "x-singer.decimal"}
        assert {r["huge"] for r in run.records} == {str(value) for value in BIG}
        texts = {f'"huge":"{value}"' for value in BIG}
    else:
        assert declared == {"type": ["number", "null"]}
        assert {r["huge"] for r in run.records} == set(BIG)
        texts = {f'"huge":{value}' for value in BIG}
    assert {_first(r'("huge":[^,}]+)', line) for line in run.stdout.splitlines()
            if line.startswith('{"type":"RECORD"')} == texts  # fmt: skip
    assert "beyond 64 bits" not in run.stderr  # the catalog already says it


@pytest.mark.parametrize("path", sorted(PATHS))
def test_an_integer_field_meeting_2_to_the_70_mid_run_is_redeclared(sandbox, config, path):
    """An integer field of the catalog meets 2**70 in a later row: a SCHEMA declaring it a
    string of digits goes out before that row, and from there its integers are strings."""
    sandbox.configure(given_values={"counter": ["1", "2", "3", "4"]})
    config = {**config, **PATHS[path]}
    catalog = discover(config)
    assert catalog["streams"][0]["schema"]["properties"]["counter"] == {"type": ["integer", "null"]}
    later = [str(k) for k in range(1, 60)] + [str(2**70)]
    sandbox.configure(given_values={"counter": later})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    kinds = [
        (m["type"], m["record"]["counter"] if m["type"] == "RECORD" else m["schema"])
        for m in run.messages
        if m["type"] in ("RECORD", "SCHEMA")
    ]
    turn = next(i for i, (kind, value) in enumerate(kinds) if value == str(2**70))
    schema = kinds[turn - 1]
    assert schema[0] == "SCHEMA"
    assert schema[1]["properties"]["counter"] == {
        "type": ["string", "null"],
        "format": "x-singer.decimal",
    }
    assert all(type(value) is int for kind, value in kinds[: turn - 1] if kind == "RECORD")
    after = [value for kind, value in kinds[turn:] if kind == "RECORD"]
    assert after and all(type(value) is str and value.isdigit() for value in after)
    notes = [line for line in run.stderr.splitlines() if "beyond 64 bits" in line]
    assert len(notes) == 1 and "'counter'" in notes[0]
