"""The state book: one stream's entry of the state (``bookmarks.<stream>``; the stream is
``report``, or each ``reports`` entry's name).

- ``replication_key_value`` is the end of the last window all of whose rows have been
  emitted. It only moves by :meth:`StateBook.window_done`, which the stream calls after a
  window's last row; it never goes backwards, and a STATE message follows at once.
- ``exports_in_flight`` maps ``"<start>/<end>/<request>"`` to the id of an export created
  but not yet fully emitted; a later run polls it instead of creating a new one, when it is
  still the same request for a window not yet emitted (:mod:`tap_loop.loop_api.inflight`).
  An entry is added when its export is created and removed when it is abandoned or its
  window is done; saved entries this run cannot reuse are forgotten by its next STATE.
- ``bookmark_filters`` is what the export requests were filtered by (ids, impersonated
  user) when the bookmark last moved, as one JSON string (so Meltano's deep merge replaces
  it whole). A run whose filters admit rows those did not (a new team, a removed filter)
  is told by :func:`widened_filters`; the stream then warns, as those rows before the
  bookmark are never exported by it.
- A STATE is written (through the writer the book is given) only when the entry changed
  since the last one: :meth:`StateBook.flush` writes nothing while :attr:`StateBook.dirty`
  is false.
- A state of the wrong shape (``bookmarks`` or a stream's entry not an object) or an
  unreadable bookmark stops the run before any API call with one line naming it
  (:func:`check_state`, called as the tap loads the state); an unusable saved export is
  only dropped, with a log line (:mod:`tap_loop.loop_api.inflight`).
"""

from __future__ import annotations

import json
import threading
import typing as t

from tap_loop.config.settings import DateOutOfRange, parse_datetime
from tap_loop.core.errors import LoopTapError
from tap_loop.loop_api.inflight import IN_FLIGHT, entry_key, reusable_exports
from tap_loop.loop_api.windows import Window, to_epoch, to_iso

STREAM = "report"
FILTERS = "bookmark_filters"
_FIX = (
    "What to do: fix it, or clear the state (meltano state clear) to start again from start_date."
)
_CLEAR = (
    "What to do: fix the state file, or clear the state (meltano state clear) to start "
    "again from start_date."
)


def _kind(value: object) -> str:
    return {str: "a string", list: "a list", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def check_state(state: object) -> None:
    """Raise :class:`LoopTapError` (one line naming the value and what to do) if
    ``state`` is not a Singer state this tap can read: an object whose ``bookmarks`` (if
    any) maps stream names to objects, each with a readable bookmark (if any)."""
    if not state:
        return
    if not isinstance(state, dict):
        raise LoopTapError(f"The state is {_kind(state)}, not an object. {_CLEAR}")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise LoopTapError(
            f"The state's bookmarks is {_kind(bookmarks)}, not an object of stream "
            f"entries. {_CLEAR}"
        )
    for name, entry in bookmarks.items():
        if not isinstance(entry, dict):
            raise LoopTapError(
                f"The state's bookmarks.{name} is {_kind(entry)}, not an object. {_CLEAR}"
            )
    for name, entry in bookmarks.items():
        read_bookmark(entry.get("replication_key_value"), name)


def read_bookmark(value: t.Any, stream: str = STREAM) -> int | None:
    """A bookmark's epoch seconds (None if unset); :class:`LoopTapError` if unreadable."""
    if value in (None, ""):
        return None
    field = f"bookmarks.{stream}.replication_key_value"
    try:
        return to_epoch(parse_datetime(value))
    except DateOutOfRange:
        raise LoopTapError(
            f"The state's bookmark {value!r} ({field}) is out of range: in UTC it falls "
            f"before year 1 or after year 9999. {_FIX}"
        ) from None
    except (TypeError, ValueError):
        raise LoopTapError(
            f"The state's bookmark {value!r} ({field}) is not an ISO 8601 date-time. {_FIX}"
        ) from None


class StateBook:
    """The bookmark and the exports in flight of one stream, and when to write a STATE.

    ``entry()`` returns the stream's state entry (a dict changed in place); ``write()``
    writes a STATE message carrying it; ``replication_key()`` is the stream's replication
    key, written beside the bookmark (read then: a catalog may set it).
    :meth:`export_created` and :meth:`export_abandoned` may be called from any thread.
    """

    def __init__(
        self,
        entry: t.Callable[[], dict[str, t.Any]],
        write: t.Callable[[], None],
        replication_key: t.Callable[[], str | None],
        stream: str = STREAM,
    ) -> None:
        self.stream = stream
        self._entry = entry
        self._write = write
        self._replication_key = replication_key
        self.fingerprint = ""  # the request exports are keyed with (set by saved_exports)
        #: This run's filters, written as ``bookmark_filters`` when the bookmark moves.
        self.filters: dict[str, t.Any] | None = None
        self._lock = threading.Lock()
        self._in_flight: dict[str, str] = {}
        #: The next :meth:`flush` writes a STATE. Set without the lock by a signal
        #: handler too (taking the lock there could deadlock): a plain assignment.
        self.dirty = False

    def bookmark(self) -> int | None:
        """The bookmark in epoch seconds, None if the state has none."""
        return read_bookmark(self._entry().get("replication_key_value"), self.stream)

    def bookmark_filters(self) -> dict[str, t.Any] | None:
        """The filters the bookmark was reached with; None if unknown (a state written
        before tap-loop kept them, or unreadable)."""
        text = self._entry().get(FILTERS)
        try:
            value = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def saved_exports(
        self, windows: t.Sequence[Window], fingerprint: str
    ) -> dict[tuple[int, int], str]:
        """Start a run for the request ``fingerprint``: the exports a previous run left in
        flight that this run may poll, by (start, end) (see
        :mod:`tap_loop.loop_api.inflight`). They stay in flight; the others are dropped
        (their windows exported anew) and the next STATE forgets them."""
        self.fingerprint = fingerprint
        saved = self._entry().get(IN_FLIGHT) or {}
        keep = reusable_exports(saved, windows, self.bookmark(), fingerprint)
        resume: dict[tuple[int, int], str] = {}
        with self._lock:
            for key, (window, export_id) in keep.items():
                resume[(window.start, window.end)] = export_id
                self._in_flight[key] = export_id
        if len(keep) != (len(saved) if isinstance(saved, dict) else 1):
            self.dirty = True
        return resume

    def export_created(self, window: Window, export_id: str) -> None:
        """``export_id`` is now in flight for ``window``: the next STATE carries it."""
        with self._lock:
            self._in_flight[entry_key(window, self.fingerprint)] = export_id
            self.dirty = True

    def export_abandoned(self, window: Window) -> None:
        """``window``'s export is no longer in flight: the next STATE forgets it."""
        with self._lock:
            if self._in_flight.pop(entry_key(window, self.fingerprint), None) is not None:
                self.dirty = True

    def window_done(self, window: Window, previous: int | None) -> int:
        """All of ``window``'s rows are out: move the bookmark to its end (never back from
        ``previous``), forget its export and write a STATE. Returns the bookmark."""
        bookmark = max(previous or window.end, window.end)
        entry = self._entry()
        entry["replication_key"] = self._replication_key()
        entry["replication_key_value"] = to_iso(bookmark)
        if self.filters is not None:
            entry[FILTERS] = json.dumps(self.filters, sort_keys=True, separators=(",", ":"))
        self.export_abandoned(window)
        self.flush(force=True)
        return bookmark

    def flush(self, *, force: bool = False) -> None:
        """Write a STATE carrying the current exports in flight if the entry changed since
        the last one (or ``force``)."""
        with self._lock:
            if not (self.dirty or force):
                return
            self.dirty = False
            snapshot = dict(self._in_flight)
        entry = self._entry()
        if snapshot:
            entry[IN_FLIGHT] = snapshot
        else:
            entry.pop(IN_FLIGHT, None)
        self._write()


def widened_filters(
    before: t.Mapping[str, t.Any], now: t.Mapping[str, t.Any]
) -> list[tuple[str, str]]:
    """How filters ``now`` admit rows ``before`` did not: (field, what changed) pairs.

    A filter is a list of ids (rows of any of them) or absent (no filter); a user to
    impersonate (``impersonateUser``) may see other rows, so any change of it counts."""
    changes: list[tuple[str, str]] = []
    for field in sorted(set(before) | set(now)):
        old, new = before.get(field), now.get(field)
        if field == "impersonateUser":
            if old != new:
                changes.append((field, f"{old or 'nobody'} -> {new or 'nobody'}"))
        elif isinstance(old, list) and old:
            if not new:
                changes.append((field, "removed"))
            elif isinstance(new, list):
                added = sorted(set(map(str, new)) - set(map(str, old)))
                if added:
                    changes.append((field, "added " + ", ".join(added)))
    return changes
