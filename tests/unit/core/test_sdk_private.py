"""The singer-sdk behaviour tap-loop relies on beyond its public surface.

One test per entry of the catalogue in :mod:`tap_loop.core.sdk_private` (and per public
behaviour the tap's replacements rely on). Each fails if a singer-sdk release changes
what the tap relies on: run this file first when upgrading singer-sdk. The tests drive a
minimal in-memory tap (no Loop, no subprocess).
"""

from __future__ import annotations

import copy
import inspect
import logging
import signal
import sys
import typing as t

import pytest
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.io_base import SingerWriter
from typing_extensions import override

from tap_loop.cli.errors import _UNHANDLED
from tap_loop.core import sdk_private
from tap_loop.core.signals import STOP
from tap_loop.stream import ReportStream
from tap_loop.tap import TapLoop

SCHEMA: dict[str, t.Any] = {
    "type": "object",
    "properties": {"id": {"type": ["integer"]}, "k": {"type": ["string"]}},
}
ROWS = [{"id": n, "k": f"2026-11-0{n}T00:00:00Z"} for n in range(1, 6)]
START = "2026-10-01T00:00:00Z"


class Recorder(SingerWriter):
    """Keeps every message instead of writing it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, t.Any]] = []

    @override
    def write_message(self, message: t.Any) -> None:
        self.messages.append(message.to_dict())

    def types(self) -> list[str]:
        return [m["type"] for m in self.messages]

    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]


class Probe(Stream):
    name = "probe"
    replication_key = "k"
    is_sorted = True
    calls: t.ClassVar[list[t.Any]] = []

    @override
    def get_records(self, context: t.Any) -> t.Iterable[dict[str, t.Any]]:
        for row in ROWS:
            yield dict(row)


class ProbeTap(Tap):
    name = "tap-probe"
    config_jsonschema = th.PropertiesList(
        th.Property("start_date", th.DateTimeType, required=True),
    ).to_dict()
    stream_class: type[Stream] = Probe

    @override
    def discover_streams(self) -> list[Stream]:
        return [self.stream_class(self, schema=copy.deepcopy(SCHEMA))]


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    """singer-sdk's PluginBase installs SIGINT/SIGTERM handlers; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    Probe.calls = []
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def make_tap(stream_class: type[Stream] = Probe, **kwargs: t.Any) -> tuple[ProbeTap, Recorder]:
    writer = Recorder()
    cls = type("Tap", (ProbeTap,), {"stream_class": stream_class})
    config = kwargs.pop("config", {"start_date": START})
    return cls(config=config, message_writer=writer, **kwargs), writer


# -- entries 5 and 7: Stream.sync goes through _write_schema_message and _sync_records ----
def test_sync_writes_schema_then_calls_sync_records_with_context_keyword():
    class Spy(Probe):
        @override
        def _write_schema_message(self) -> None:
            self.calls.append("schema")
            super()._write_schema_message()

        @override
        def _sync_records(self, context=None, *, write_messages=True):
            self.calls.append(("records", context, write_messages))
            yield from super()._sync_records(context, write_messages=write_messages)

    tap, writer = make_tap(Spy)
    tap.streams["probe"].sync()
    assert Probe.calls == ["schema", ("records", None, True)]
    assert writer.types()[0] == "SCHEMA"
    assert writer.types().count("RECORD") == len(ROWS)
    params = inspect.signature(Stream._sync_records).parameters
    assert params["write_messages"].kind is inspect.Parameter.KEYWORD_ONLY


# -- entry 5: the general path's RECORD/STATE sequence, which the fast path reproduces ----
def test_general_path_writes_state_every_state_msg_frequency_rows_then_a_final_one():
    class Every2(Probe):
        STATE_MSG_FREQUENCY = 2

    tap, writer = make_tap(Every2)
    tap.streams["probe"].sync()
    assert writer.types() == [
        "SCHEMA",
        *["RECORD", "RECORD", "STATE"] * 2,
        "RECORD",
        "STATE",
    ]
    periodic, final = writer.states()[:-1], writer.states()[-1]
    # entry 4: the starting value written before the first row is in the periodic STATEs
    # and dropped by finalizing (finalize_state_progress_markers) from the last one.
    for state in periodic:
        assert state["bookmarks"]["probe"]["starting_replication_value"] == START
    assert "starting_replication_value" not in final["bookmarks"]["probe"]


# -- entry 6: the per-row update the tap switches off, and why --------------------------
def test_general_path_calls_increment_stream_state_once_per_row():
    class Spy(Probe):
        @override
        def _increment_stream_state(self, latest_record, *, context=None):
            self.calls.append((latest_record["id"], context))
            super()._increment_stream_state(latest_record, context=context)

    tap, _ = make_tap(Spy)
    tap.streams["probe"].sync()
    assert Probe.calls == [(row["id"], None) for row in ROWS]


def test_default_increment_publishes_the_latest_rows_value_in_the_periodic_state():
    """meltano/sdk#1165: why ReportStream._increment_stream_state is a no-op."""

    class Every2(Probe):
        STATE_MSG_FREQUENCY = 2

    tap, writer = make_tap(Every2)
    tap.streams["probe"].sync()
    first = writer.states()[0]["bookmarks"]["probe"]
    assert first["replication_key_value"] == ROWS[1]["k"]


# -- entry 4 ----------------------------------------------------------------------------
def test_write_starting_replication_value_writes_start_date_or_bookmark():
    tap, _ = make_tap()
    stream = tap.streams["probe"]
    sdk_private.write_starting_replication_value(stream, None)
    assert stream.stream_state["starting_replication_value"] == START
    later = "2026-11-02T00:00:00Z"
    state = {"bookmarks": {"probe": {"replication_key": "k", "replication_key_value": later}}}
    tap, _ = make_tap(state=state)
    stream = tap.streams["probe"]
    sdk_private.write_starting_replication_value(stream, None)
    assert stream.stream_state["starting_replication_value"] == later


def test_finalize_state_progress_markers_drops_the_starting_value_and_writes_a_state():
    tap, writer = make_tap()
    stream = tap.streams["probe"]
    sdk_private.write_starting_replication_value(stream, None)
    stream.finalize_state_progress_markers(stream.stream_state)
    assert "starting_replication_value" not in stream.stream_state
    assert writer.states() == [stream.tap_state]


# -- ReportStream._emit_state: the public state writer skips an unchanged state -----------
def test_state_writer_writes_a_state_only_when_it_changed():
    tap, writer = make_tap()
    stream = tap.streams["probe"]
    stream.stream_state["replication_key_value"] = "a"
    tap.state_writer.write_state(stream.tap_state)
    tap.state_writer.write_state(stream.tap_state)
    assert len(writer.states()) == 1
    stream.stream_state["replication_key_value"] = "b"  # changed in place: still seen
    tap.state_writer.write_state(stream.tap_state)
    assert [s["bookmarks"]["probe"]["replication_key_value"] for s in writer.states()] == [
        "a",
        "b",
    ]


# -- entry 1 ----------------------------------------------------------------------------
def test_set_stream_schema_reaches_schema_and_effective_schema():
    wider = copy.deepcopy(SCHEMA)
    wider["properties"]["new"] = {"type": ["string"]}
    tap, _ = make_tap()
    catalog = copy.deepcopy(tap.catalog_dict)
    stream = tap.streams["probe"]
    sdk_private.set_stream_schema(stream, wider)
    assert stream.schema is wider
    assert stream.effective_schema is wider
    tap, _ = make_tap(catalog=catalog)
    stream = tap.streams["probe"]
    assert stream.effective_schema == SCHEMA  # the catalog's copy, not stream.schema
    assert stream.effective_schema is not stream.schema
    sdk_private.set_stream_schema(stream, wider)
    assert stream.schema is wider
    assert stream.effective_schema is wider


def test_general_path_prunes_with_schema_and_conforms_with_effective_schema():
    """Why both must change: a field the schema lacks is dropped from the row."""
    tap, writer = make_tap()
    stream = tap.streams["probe"]
    sdk_private.set_stream_schema(
        stream, {"type": "object", "properties": {"k": SCHEMA["properties"]["k"]}}
    )
    stream.sync()
    records = [m["record"] for m in writer.messages if m["type"] == "RECORD"]
    assert records == [{"k": row["k"]} for row in ROWS]


# -- entry 2 ----------------------------------------------------------------------------
def test_selected_schema_drops_deselected_fields_and_leaves_its_input_alone():
    tap, _ = make_tap()
    catalog = tap.catalog_dict
    for entry in catalog["streams"][0]["metadata"]:
        if entry["breadcrumb"] == ["properties", "id"]:
            entry["metadata"]["selected"] = False
    tap, _ = make_tap(catalog=catalog)
    stream = tap.streams["probe"]
    schema = copy.deepcopy(SCHEMA)
    pruned = sdk_private.selected_schema("probe", schema, stream.mask)
    assert set(pruned["properties"]) == {"k"}
    assert schema == SCHEMA


# -- entry 3 ----------------------------------------------------------------------------
def test_register_raw_stream_schema_rebuilds_maps_the_stream_does_not_see():
    config = {"start_date": START, "stream_maps": {"copy": {"__source__": "probe"}}}
    tap, _ = make_tap(config=config)
    stream = tap.streams["probe"]
    maps = stream.stream_maps
    assert stream.stream_maps is maps  # cached: the list records are written through
    assert [m.stream_alias for m in maps] == ["probe", "copy"]
    wider = copy.deepcopy(SCHEMA)
    wider["properties"]["new"] = {"type": ["string"]}
    tap.mapper.register_raw_stream_schema("probe", wider, ["id"])
    rebuilt = tap.mapper.stream_maps["probe"]
    assert rebuilt is not maps  # a new list: the stream would keep writing the old maps
    assert stream.stream_maps is maps
    assert all("new" in m.transformed_schema["properties"] for m in rebuilt)
    assert sdk_private.refresh_stream_maps(stream, tap.mapper) is maps
    assert stream.stream_maps is maps
    assert tap.mapper.stream_maps["probe"] is maps
    assert [m.stream_alias for m in maps] == ["probe", "copy"]
    assert all("new" in m.transformed_schema["properties"] for m in maps)
    assert all(m.transformed_key_properties == ["id"] for m in maps)


# -- entry 8 ----------------------------------------------------------------------------
@pytest.mark.parametrize("validate", [True, False])
def test_validate_config_is_called_by_init_before_streams_are_discovered(validate):
    calls: list[t.Any] = []

    class Spy(ProbeTap):
        @override
        def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
            calls.append(("validate", raise_errors))
            return super()._validate_config(raise_errors=raise_errors)

        @override
        def discover_streams(self) -> list[Stream]:
            calls.append("discover")
            return super().discover_streams()

    Spy(config={"start_date": START}, validate_config=validate, message_writer=Recorder())
    assert calls[:2] == [("validate", validate), "discover"]


def test_validate_config_raises_errors_in_the_wording_cli_errors_rewords():
    """tap_loop.cli.errors parses "'<name>' is a required property" and
    "... in config['<name>']"."""
    with pytest.raises(ConfigValidationError) as caught:
        ProbeTap(config={}, message_writer=Recorder())
    assert caught.value.errors == ["'start_date' is a required property"]
    with pytest.raises(ConfigValidationError) as caught:
        ProbeTap(config={"start_date": 5}, message_writer=Recorder())
    assert len(caught.value.errors) == 1
    assert caught.value.errors[0].endswith(" in config['start_date']")


# -- entry 11 ---------------------------------------------------------------------------
def test_init_hands_the_state_to_load_state_which_chokes_on_strings():
    calls: list[t.Any] = []

    class Spy(ProbeTap):
        @override
        def load_state(self, state: dict[str, t.Any]) -> None:
            calls.append(("load_state", state))
            super().load_state(state)

        @override
        def discover_streams(self) -> list[Stream]:
            calls.append("discover")
            return super().discover_streams()

    state = {"bookmarks": {"probe": {"replication_key_value": START}}}
    Spy(config={"start_date": START}, state=state, message_writer=Recorder())
    assert calls == ["discover", ("load_state", state)]  # in __init__, before any sync
    for bad in ({"bookmarks": "x"}, {"bookmarks": {"probe": "x"}}):
        with pytest.raises(AttributeError):
            ProbeTap(config={"start_date": START}, state=bad, message_writer=Recorder())


# -- the overrides are exactly the catalogued ones, and each still overrides singer-sdk ----
def _private_overrides(cls: type, base: type) -> set[str]:
    return {
        name
        for name in vars(cls)
        if name.startswith("_")
        and not name.startswith("__")
        and callable(getattr(base, name, None))
        and not name.startswith("_abc")
    }


def test_the_tap_overrides_exactly_the_catalogued_private_methods():
    assert _private_overrides(ReportStream, Stream) == {
        "_sync_records",
        "_increment_stream_state",
        "_write_schema_message",
    }
    assert _private_overrides(TapLoop, Tap) == {"_validate_config"}


# -- public route for the per-row child work (formerly an override of _process_record) ----
def test_no_child_contexts_means_no_per_row_child_work(monkeypatch):
    synced: list[t.Any] = []

    class NoChildren(Probe):
        generate_child_contexts = ReportStream.generate_child_contexts

    monkeypatch.setattr(Stream, "_sync_children", lambda self, context: synced.append(context))
    tap, _ = make_tap(NoChildren)
    tap.streams["probe"].sync()
    assert synced == []
    tap, _ = make_tap(Probe)  # the default syncs children once per row
    tap.streams["probe"].sync()
    assert len(synced) == len(ROWS)


# -- entry 9 ----------------------------------------------------------------------------
def test_singer_sdk_installs_its_signal_handlers_in_init_and_never_again():
    tap, _ = make_tap()
    handler = signal.getsignal(signal.SIGTERM)
    assert getattr(handler, "__self__", None) is tap  # installed by __init__
    mine = signal.getsignal(signal.SIGINT)

    def own(signum, frame):  # pragma: no cover - never called
        pass

    signal.signal(signal.SIGTERM, own)
    tap.sync_all()
    assert signal.getsignal(signal.SIGTERM) is own
    assert signal.getsignal(signal.SIGINT) is mine


def test_the_tap_stop_handler_replaces_singer_sdks():
    catalog = {
        "streams": [
            {
                "tap_stream_id": "report",
                "stream": "report",
                "schema": {"type": "object", "properties": {}},
                "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
            }
        ]
    }
    config = {"api_token": "t0ken-value", "start_date": START}
    TapLoop(config=config, catalog=catalog, message_writer=Recorder())
    assert signal.getsignal(signal.SIGTERM) == STOP._handle
    assert signal.getsignal(signal.SIGINT) == STOP._handle


# -- entry 10 ---------------------------------------------------------------------------
def test_sync_logs_the_unhandled_error_line_cli_errors_drops(caplog):
    class Failing(Probe):
        @override
        def get_records(self, context):
            raise RuntimeError("boom")
            yield  # pragma: no cover

    tap, _ = make_tap(Failing)
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError):
        tap.streams["probe"].sync()
    assert any(
        r.levelno == logging.ERROR and r.getMessage().startswith(_UNHANDLED) for r in caplog.records
    )


# -- entry 12 ---------------------------------------------------------------------------
def test_state_and_catalog_options_are_click_files_opened_while_parsing(tmp_path):
    import click

    command = TapLoop.get_singer_command()
    types = {p.name: p.type for p in command.params}
    assert isinstance(types["state"], click.File) and isinstance(types["catalog"], click.File)
    state = tmp_path / "state.json"
    state.write_text("{}")
    opened = []

    def stop(ctx, param, value):  # a mode callback that fails: sys.exit during the parse
        if value:
            opened.append(ctx.params["state"])
            sys.exit(1)

    @click.command()
    @click.option("--state", type=click.File())
    @click.option("--stop", is_flag=True, expose_value=False, callback=stop)
    def probe(state):  # pragma: no cover - the callback ends the parse first
        pass

    with pytest.raises(SystemExit):
        probe.main(["--state", str(state), "--stop"])
    (handle,) = opened
    assert not handle.closed  # the context that would close it was never entered
    handle.close()
    # ctx.exit() (a mode that succeeds) closes the context's files itself (click >= 8.2).
    assert "self.close()" in inspect.getsource(click.Context.exit)
    handle.close()


# -- entry 13 ---------------------------------------------------------------------------
def test_init_logs_the_env_skip_line_at_info_on_the_plugin_logger(caplog):
    from tap_loop.tap import ENV_SKIP_LINE

    with caplog.at_level(logging.INFO, logger=ProbeTap.name):
        make_tap()
    assert any(
        r.name == ProbeTap.name and r.levelno == logging.INFO and r.getMessage() == ENV_SKIP_LINE
        for r in caplog.records
    )


def test_tap_loop_logs_the_env_skip_line_at_debug_only(caplog):
    from tap_loop.tap import ENV_SKIP_LINE

    config = {"api_token": "t", "start_date": START}
    with caplog.at_level(logging.INFO):
        TapLoop(config=config, validate_config=False, setup_mapper=False)
    assert not [r for r in caplog.records if r.getMessage() == ENV_SKIP_LINE]
    with caplog.at_level(logging.DEBUG):
        TapLoop(config=config, validate_config=False, setup_mapper=False)
    assert [r.levelno for r in caplog.records if r.getMessage() == ENV_SKIP_LINE] == [logging.DEBUG]
