"""Exports in flight, saved in the state so a later run polls them instead of exporting anew.

An entry is ``"<start>/<end>/<request>": "<export id>"`` in
``bookmarks.report.exports_in_flight``: the window in epoch seconds and a fingerprint of
everything else that decides what the export holds (:func:`request_fingerprint`).

A saved export is reused only when all of these hold, else it is dropped with a log line
and its window exported anew:

- its window is one this run plans (``window_days`` or ``lookback_days`` may have changed);
- its window ends after the bookmark: an emitted window's entry was removed when the
  bookmark passed it, so an entry there can only be stale, e.g. brought back by Meltano's
  deep merge of a failed run's state into the previous one (a lookback must re-read fresh
  data, never an old export);
- it was created for the same request (filters, time zone, result format, impersonated
  user, API URL). Entries without a fingerprint (``"<start>/<end>"``, written by tap-loop
  before this rule) cannot be checked and are dropped: a re-export costs one export, a
  wrong reuse would lose rows silently.

Values stay strings and keys carry the fingerprint, so Meltano's deep merge never meets a
string where it expects an object (it would crash) whichever version wrote the state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import typing as t

from tap_loop.config.settings import Settings
from tap_loop.loop_api.windows import Window, find_window, to_iso

LOGGER = logging.getLogger("tap_loop.stream")
IN_FLIGHT = "exports_in_flight"
#: Window bounds a tap-loop state can hold: epoch seconds of years 1970 to 9999.
EPOCH_RANGE = (0, 253_402_300_799)


def request_identity(settings: Settings) -> dict[str, t.Any]:
    """What decides what an export holds, apart from its window: the export body's fields
    (lists of ids sorted, without repeats), the impersonated user and the API URL."""
    body = settings.export_body(0, 0)
    body.pop("start", None)
    body.pop("end", None)
    identity = {
        key: sorted(set(value)) if isinstance(value, list) else value for key, value in body.items()
    }
    identity["impersonateUser"] = settings.impersonate_user
    identity["apiUrl"] = settings.api_url
    return identity


def request_fingerprint(settings: Settings) -> str:
    """A short hash of what an export holds, apart from its window."""
    text = json.dumps(request_identity(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def entry_key(window: Window, fingerprint: str) -> str:
    """The state key of ``window``'s export for the request ``fingerprint``."""
    return f"{window.start}/{window.end}/{fingerprint}"


def reusable_exports(
    saved: t.Any,
    planned: t.Sequence[Window],
    bookmark: int | None,
    fingerprint: str,
) -> dict[str, tuple[Window, str]]:
    """Saved entries this run may poll (key -> (window, export id)); logs every other
    (an entry this run cannot use, e.g. hand-edited, is dropped, never a reason to stop).
    ``planned`` is ascending (a :class:`~tap_loop.loop_api.windows.WindowPlan`)."""
    if saved is None:
        return {}
    if not isinstance(saved, dict):
        LOGGER.warning(
            "Dropping the state's exports_in_flight: expected an object of "
            '"<start>/<end>/<request>": "<export id>", got %s; its windows are exported anew',
            type(saved).__name__,
        )
        return {}
    keep: dict[str, tuple[Window, str]] = {}
    for key, export_id in saved.items():
        parts = str(key).split("/")
        try:
            start, end = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            LOGGER.info("Dropping the unreadable exports_in_flight entry %r", key)
            continue
        if not (EPOCH_RANGE[0] <= start < end <= EPOCH_RANGE[1]):
            LOGGER.info(
                "Dropping the exports_in_flight entry %r: its window is not two ascending "
                "epoch seconds between 1970 and 9999 (milliseconds, or hand-edited?)",
                key,
            )
            continue
        if not export_id or not isinstance(export_id, str):
            LOGGER.info(
                "Dropping the exports_in_flight entry %r: its export id %r is not a string",
                key,
                export_id,
            )
            continue
        span = f"[{to_iso(start)} .. {to_iso(end)}]"
        window = find_window(planned, start, end)
        if len(parts) != 3:
            reason = "was saved without the request it was made for (older tap-loop state)"
        elif bookmark is not None and end <= bookmark:
            reason = f"is for a window the bookmark ({to_iso(bookmark)}) already passed"
        elif window is None:
            reason = "is for a window this run does not plan (window_days or lookback changed)"
        elif parts[2] != fingerprint:
            reason = (
                "was created for another request (filters, timezone, result_format, "
                "impersonate_user or api_url changed since)"
            )
        else:
            keep[str(key)] = (window, export_id)
            continue
        LOGGER.info("Not reusing export %s of window %s: it %s", export_id, span, reason)
    return keep
