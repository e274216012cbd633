"""Every use of singer-sdk beyond its public surface, in one place (singer-sdk 0.54).

The tap extends singer-sdk through public hooks wherever one exists: ``Tap.invoke`` and
the ``cb_*`` callbacks, ``Tap.state_writer``, ``Stream.tap_state``/``stream_state``,
``Stream.finalize_state_progress_markers``, ``Stream.generate_child_contexts``,
``PluginMapper.register_raw_stream_schema``, ``Tap.mapper``, ``Tap.write_message``. The
stream keeps its own reference to the tap it was built with (``ReportStream.loop_tap``)
rather than reading ``Stream._tap``.

What has no public route is listed below. Each entry says why, and which singer-sdk
behaviour it relies on; ``tests/unit/core/test_sdk_private.py`` has a test per behaviour that
fails if a singer-sdk release changes it. Upgrading singer-sdk: run that file first.

Functions of this module (private attributes and helpers):

1. :func:`set_stream_schema` - ``Stream.schema`` has no setter. It reads
   ``Stream._schema``; ``Stream.effective_schema`` reads ``Stream._input_schema`` (the
   catalog's schema, set by ``apply_catalog``) first. The general record path prunes
   deselected fields with ``schema`` and conforms types with ``effective_schema``, so a
   widened schema (drift, the first schema of a sync without a catalog) must reach both.
2. :func:`selected_schema` - ``singer_sdk.helpers._catalog.get_selected_schema``: the
   pruning singer-sdk applies to a catalog schema before registering it with the mapper
   (``register_raw_streams_from_catalog``); not exported publicly.
3. :func:`refresh_stream_maps` - ``Stream.stream_maps`` caches, on first use, the list
   object ``mapper.stream_maps[name]``; ``register_raw_stream_schema`` replaces the
   mapper's list with a new one, which the stream never sees (there is no public way to
   reset the cache). The new maps are copied into the cached list object.
4. :func:`write_starting_replication_value` - ``Stream._write_starting_replication_value``:
   what the general path's ``_sync_records`` writes into the state before the first row
   (``starting_replication_value``); the fast path must write the same STATE bytes.

Private methods the tap overrides (each override points here):

5. ``ReportStream._sync_records`` - the RECORD fast path. ``Stream.sync`` is final and
   calls ``self._sync_records(context=...)``; no public hook writes records. Relied on:
   the general path writes one RECORD per row, a STATE every ``STATE_MSG_FREQUENCY``
   rows, and a final STATE after finalizing the state; the fast path does the same.
6. ``ReportStream._increment_stream_state`` - a no-op: singer-sdk's per-row update sets
   ``replication_key_value`` to the latest row's value, and its periodic STATE would
   publish a window end before that window is complete (meltano/sdk#1165). No setting
   switches it off; the general path calls it once per row.
7. ``ReportStream._write_schema_message`` - ``Stream.sync`` (final) writes the SCHEMA
   through it before the first row; without a catalog the tap holds it back until the
   first rows are known (:mod:`tap_loop.first_schema`).
8. ``TapLoop._validate_config`` - ``PluginBase.__init__`` calls
   ``self._validate_config(raise_errors=validate_config)`` before the mapper is set up
   and streams are discovered (a sample export). Overriding it is the only way to check
   settings a JSON Schema cannot express (and to name them in one readable line) in
   every mode before any API call, and to accept a missing token in ``--discover``.

Behaviour relied on without touching a private name:

9. ``PluginBase.__init__`` installs singer-sdk's SIGTERM/SIGINT handlers (which exit 0)
   and nothing re-installs them later, so :data:`tap_loop.core.signals.STOP`, installed
   after ``super().__init__()`` in ``TapLoop.__init__``, is the one that runs.
10. ``Stream.sync`` logs "An unhandled error occurred while syncing" at ERROR before
   re-raising; :mod:`tap_loop.cli.errors` drops that line for errors it reports itself.
11. ``Tap.__init__`` hands the ``--state`` file's content to the public ``Tap.load_state``
   (after streams are built from the catalog, before any sync or API call), and
   singer-sdk's own ``load_state`` iterates ``bookmarks`` and each entry as objects (a
   string there raises ``AttributeError``); ``TapLoop.load_state`` checks the shape first
   (:func:`tap_loop.state_book.check_state`). A state file holding a list reaches
   ``Tap.__init__`` as a list, which singer-sdk takes for a file path: ``TapLoop.__init__``
   checks it before.
12. singer-sdk's ``--state`` and ``--catalog`` options are ``click.File()``: click opens
   them while it parses the command line and closes them when the command's context
   ends or ``ctx.exit()`` is called. The mode callbacks (``--discover``, ``--test``,
   ``--diagnose``) run during that parsing, and a failure ends them with ``sys.exit(1)``
   (:mod:`tap_loop.cli.errors`) before the context is entered, so their overrides in
   ``TapLoop`` close the context themselves (else: ``ResourceWarning: unclosed file``).
13. ``PluginBase.__init__`` logs "Skipping parse of env var settings..." at INFO on the
   plugin's logger (``logging.getLogger("tap-loop")``) whenever the config does not come
   from ``--config ENV``, i.e. in every Meltano run; ``TapLoop.__init__`` adds a filter to
   that logger which logs the line at DEBUG instead.
"""

from __future__ import annotations

import typing as t

from singer_sdk.helpers._catalog import get_selected_schema

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.helpers.types import Context
    from singer_sdk.mapper import PluginMapper
    from singer_sdk.singerlib import SelectionMask


def set_stream_schema(stream: Stream, schema: dict[str, t.Any]) -> None:
    """Make ``schema`` the stream's schema, and its effective schema if a catalog set one
    (catalogue entry 1)."""
    stream._schema = schema
    if stream._input_schema is not None:
        stream._input_schema = schema


def selected_schema(
    stream_name: str, schema: dict[str, t.Any], mask: SelectionMask
) -> dict[str, t.Any]:
    """A copy of ``schema`` without the fields ``mask`` deselects (catalogue entry 2)."""
    return get_selected_schema(stream_name, schema, mask)


def refresh_stream_maps(stream: Stream, mapper: PluginMapper) -> list[t.Any]:
    """After ``mapper.register_raw_stream_schema(stream.name, ...)``: put the rebuilt
    maps into the list the stream writes records through, and make the mapper hold that
    same list again (catalogue entry 3). Returns it."""
    maps = stream.stream_maps
    maps[:] = mapper.stream_maps[stream.name]
    mapper.stream_maps[stream.name] = maps
    return maps


def write_starting_replication_value(stream: Stream, context: Context | None) -> None:
    """Write ``starting_replication_value`` into the state as the general path does before
    its first row (catalogue entry 4)."""
    stream._write_starting_replication_value(context)
