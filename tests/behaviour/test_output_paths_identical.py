"""Differential test: the fast record path is an optimisation, never a different behaviour.

Each case runs the tap twice against the same sandbox rows over real HTTP: once as
shipped (``python -m tap_loop``, so the production decision ``_fast_records`` picks the
path) and once with ``_fast_records`` patched to False in the process (singer-sdk's
general path). The Singer output (SCHEMA, RECORD and STATE messages in order, keys in
order, ``time_extracted`` aside, export ids by order of appearance) must be identical. Every case
has schema drift inside the run (a field appears from the second day on), and every
stream the maps produce must have been told of each field its records carry.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import typing as t

import pytest

from loop_sandbox.rows import count_rows
from tests.helpers import (
    DAY,
    EPOCH_2026_11_01,
    assert_no_state_ahead_of_rows,
    assert_records_fit_their_schema,
    discover,
    parse_messages,
    tap_env,
)

START = EPOCH_2026_11_01
GENERAL = (
    "import sys; from tap_loop.stream import ReportStream; "
    "ReportStream._fast_records = lambda self: False; "
    "from tap_loop.tap import TapLoop; sys.argv[0] = 'tap-loop'; TapLoop.cli()"
)

REPORTS = [
    {"name": "support", "team_ids": ["team_support"]},
    {"name": "sales", "team_ids": ["team_sales"]},
]
CASES: dict[str, tuple[dict[str, t.Any], str]] = {
    "no maps": ({}, "fast"),
    # rows whose keys (nested ones too) come in varying orders: typed rows go out in the
    # schema's order, rows read as dicts (the drifted chunk) in the export's, on both paths
    "shuffled keys": ({"sandbox": {"shuffled_keys": True}}, "fast"),
    "shuffled keys, flattened": (
        {"sandbox": {"shuffled_keys": True}, "flattening_enabled": True, "flattening_max_depth": 2},
        "singer-sdk general",
    ),
    "shuffled keys, no catalog": (
        {"sandbox": {"shuffled_keys": True}, "no_catalog": True},
        "fast",
    ),
    # Loop fields named like the tap's: kept under _loop_source_<name> on both paths
    "Loop fields named like the tap's": ({"sandbox": {"tap_named_fields": True}}, "fast"),
    "xlsx": ({"result_format": "xlsx"}, "fast"),
    "alias": ({"stream_maps": {"report": {"__alias__": "loop_report"}}}, "singer-sdk general"),
    "drop, add, rename": (
        {
            "stream_maps": {
                "report": {
                    "teamName": None,
                    "inbound": "direction == 'inbound'",
                    "team": "teamId",
                    "teamId": "__NULL__",
                }
            }
        },
        "singer-sdk general",
    ),
    "filter": (
        {"stream_maps": {"report": {"__filter__": "teamId == 'team_support'"}}},
        "singer-sdk general",
    ),
    "second stream": (
        {"stream_maps": {"report_sales": {"__source__": "report", "__filter__": "True"}}},
        "singer-sdk general",
    ),
    "flatten depth 1": (
        {"flattening_enabled": True, "flattening_max_depth": 1},
        "singer-sdk general",
    ),
    "flatten depth 2": (
        {"flattening_enabled": True, "flattening_max_depth": 2},
        "singer-sdk general",
    ),
    "flatten depth 3": (
        {"flattening_enabled": True, "flattening_max_depth": 3},
        "singer-sdk general",
    ),
    "alias, flattened": (
        {
            "stream_maps": {"report": {"__alias__": "loop_report"}},
            "flattening_enabled": True,
            "flattening_max_depth": 2,
        },
        "singer-sdk general",
    ),
    "deselected fields": ({"deselect": ["teamName", "subject"]}, "singer-sdk general"),
    # a plain `tap-loop --config c.json` (no catalog): the first SCHEMA comes from the rows
    "no catalog": ({"no_catalog": True}, "fast"),
    "no catalog, alias": (
        {"no_catalog": True, "stream_maps": {"report": {"__alias__": "loop_report"}}},
        "singer-sdk general",
    ),
    "no catalog, flattened": (
        {"no_catalog": True, "flattening_enabled": True, "flattening_max_depth": 2},
        "singer-sdk general",
    ),
    # several reports: streams one after another, their exports in flight together
    "several reports": ({"reports": REPORTS}, "fast"),
    "several reports, no catalog": ({"reports": REPORTS, "no_catalog": True}, "fast"),
    "several reports, one aliased": (
        {"reports": REPORTS, "stream_maps": {"sales": {"__alias__": "loop_sales"}}},
        "singer-sdk general",
    ),
}


def run(command: list[str], config: dict, catalog: dict | None, tmp_path, name: str):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    arguments = [*command, "--config", str(folder / "config.json")]
    if catalog is not None:
        (folder / "catalog.json").write_text(json.dumps(catalog))
        arguments += ["--catalog", str(folder / "catalog.json")]
    done = subprocess.run(
        arguments,
        capture_output=True,
        text=True,
        timeout=300,
        env=tap_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return parse_messages(done.stdout), done.stderr


def normalised(messages: list[dict], export_ids: t.Iterable[str]) -> list[dict]:
    """Messages without time_extracted, export ids replaced by their order of appearance."""
    known = set(export_ids)
    labels: dict[str, str] = {}

    def walk(value: t.Any) -> t.Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str) and value in known:
            return labels.setdefault(value, f"export-{len(labels)}")
        return value

    out = []
    for message in messages:
        message = {k: v for k, v in message.items() if k != "time_extracted"}
        out.append(walk(message))
    return out


def deselect(catalog: dict, fields: list[str]) -> dict:
    catalog = copy.deepcopy(catalog)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"][-1:] and item["breadcrumb"][-1] in fields:
                item["metadata"]["selected"] = False
    return catalog


@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_output_equals_the_general_path(sandbox, config, catalog, tmp_path, case):
    extra, expected_path = CASES[case]
    if extra.get("result_format") == "xlsx":
        pytest.importorskip("openpyxl")
    extra = dict(extra)
    if "deselect" in extra:
        catalog = deselect(catalog, extra.pop("deselect"))
    no_catalog = extra.pop("no_catalog", False)
    if no_catalog:
        catalog = None
    elif "reports" in extra:  # the catalog of those reports' streams
        catalog = discover({**config, "reports": extra["reports"]})
        sandbox.clear_requests()
    # deterministic STATE sequence: one export at a time, each still processing when the
    # tap first looks (so its in-flight STATE always comes before its rows)
    sandbox.configure(
        processing_seconds=0.6, drift_after=START + DAY + DAY // 2, **extra.pop("sandbox", {})
    )
    settings = {**config, **extra, "max_concurrent_exports": 1}
    shipped, shipped_log = run(
        [sys.executable, "-m", "tap_loop"], settings, catalog, tmp_path, "shipped"
    )
    general, general_log = run(
        [sys.executable, "-c", GENERAL], settings, catalog, tmp_path, "general"
    )
    assert f"Records go out on the {expected_path} path" in shipped_log
    assert "Records go out on the singer-sdk general path" in general_log
    ids = list(sandbox.exports)
    assert normalised(shipped, ids) == normalised(general, ids)
    # the same bytes: key order too (dict equality ignores it; the JSON text does not)
    assert json.dumps(normalised(shipped, ids)) == json.dumps(normalised(general, ids))
    if no_catalog:  # each run exported its three windows and nothing else (no sample)
        posts = [r for r in sandbox.requests if r["method"] == "POST"]
        assert len(posts) == 2 * 3 * len(extra.get("reports", [None]))

    # drift reached every stream the maps produce, as they transform it
    assert_records_fit_their_schema(shipped)
    if "reports" in extra and "stream_maps" not in extra:
        assert_no_state_ahead_of_rows(shipped)
        assert {m["stream"] for m in shipped if m["type"] == "RECORD"} == {"support", "sales"}
    records = [m for m in shipped if m["type"] == "RECORD"]
    streams = {m["stream"] for m in records}
    assert records and streams
    schemas = {m["stream"] for m in shipped if m["type"] == "SCHEMA"}
    assert schemas == streams or case == "filter"
    if case != "deselected fields":  # a catalog pinned by selection leaves new fields out
        assert any("sentimentScore" in m["record"] for m in records)
    else:
        assert not any("sentimentScore" in m["record"] for m in records)
        assert not any("teamName" in m["record"] for m in records)


COUNTING = (
    "import atexit, sys; import tap_loop.schemas.typed_rows as typed_rows; "
    "original = typed_rows.TypedRows.decode; counts = {'typed': 0, 'dicts': 0}\n"
    "def decode(self, text):\n"
    "    rows = original(self, text); counts['dicts' if rows is None else 'typed'] += 1\n"
    "    return rows\n"
    "typed_rows.TypedRows.decode = decode\n"
    "atexit.register(lambda: print('CHUNKS', counts['typed'], counts['dicts'], file=sys.stderr))\n"
    "from tap_loop.tap import TapLoop; sys.argv[0] = 'tap-loop'; TapLoop.cli()"
)


@pytest.mark.parametrize("path", ["fast", "general"])
def test_chunks_are_read_as_typed_rows_except_where_a_row_drifts(
    sandbox, config, catalog, tmp_path, path
):
    """Typed rows are the rule (so the speed of issue 11 holds), on both paths: of the
    three one-day exports (a chunk each), only the one whose rows gain a field is read
    as dicts; after the wider schema, the next day is typed again."""
    sandbox.configure(drift_after=START + DAY + DAY // 2, shuffled_keys=True)
    settings = {**config, "max_concurrent_exports": 1}
    if path == "general":
        settings["flattening_enabled"], settings["flattening_max_depth"] = True, 1
    messages, log = run([sys.executable, "-c", COUNTING], settings, catalog, tmp_path, path)
    assert f"Records go out on the {'fast' if path == 'fast' else 'singer-sdk general'} path" in log
    assert "CHUNKS 2 1" in log
    records = [m for m in messages if m["type"] == "RECORD"]
    # every row (a row at a window's boundary second comes in both windows)
    ids = {m["record"]["id"] for m in records}
    assert len(ids) == count_rows(START, START + 3 * DAY, rows_per_day=48)
