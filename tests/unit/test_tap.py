"""tap.py: the streams of one run share one RunExports (one budget, every selected
stream's exports planned together)."""

from __future__ import annotations

import typing as t

from tap_loop.stream import ReportStream
from tap_loop.tap import TapLoop

NAMES = ["support", "sales", "urgent"]


def _catalog(deselected: str) -> dict[str, t.Any]:
    return {
        "streams": [
            {
                "tap_stream_id": name,
                "stream": name,
                "key_properties": ["id"],
                "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
                "metadata": [{"breadcrumb": [], "metadata": {"selected": name != deselected}}],
            }
            for name in NAMES
        ]
    }


def test_streams_share_one_run_of_exports() -> None:
    """Every stream has the same RunExports; it plans the selected ones only, in the
    order singer-sdk syncs them."""
    config = {
        "api_token": "t",
        "start_date": "2026-01-01T00:00:00Z",
        "reports": [{"name": name, "team_ids": [f"team_{name}"]} for name in NAMES],
    }
    tap = TapLoop(config=config, catalog=_catalog("sales"), parse_env_config=False)
    streams = [t.cast("ReportStream", s) for s in tap.streams.values()]
    exports = {id(s.exports) for s in streams}
    assert len(exports) == 1 and streams[0].exports is not None
    selected = streams[0].exports._selected()
    assert [s.name for s in selected] == [s.name for s in streams if s.name != "sales"]
