"""Deterministic synthetic export rows: Loop-like per-message analytics.

Timeline rule: with ``rows_per_day <= 86400`` there is one event at every epoch second
``t`` that is a multiple of ``step = 86400 // rows_per_day`` (floor, so a value that does
not divide 86400 gives slightly more rows per day than asked). Above 86400 the step is
1 s and each second carries ``rows_per_day // 86400`` events (floor again: 1,000,000 gives
11 per second = 950,400 a day; 1,036,800 gives exactly 12). Event slot ``k`` happens at
``t = (k // per_second) * step`` and its row is a pure function of ``(seed, k)``; only
``localDate``/``localHour`` depend on the requested timezone.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from loop_sandbox import pools

_M64 = (1 << 64) - 1
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


def mix64(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def slot_params(rows_per_day: int) -> tuple[int, int]:
    """Return ``(step_seconds, rows_per_event_second)`` for a rows-per-day setting."""
    if not isinstance(rows_per_day, int) or rows_per_day < 1:
        raise ValueError("rows_per_day must be a positive integer")
    if rows_per_day <= 86400:
        return 86400 // rows_per_day, 1
    return 1, rows_per_day // 86400


def slot_range(start: int, end: int, rows_per_day: int) -> range:
    """Slots ``k`` whose event second lies in the inclusive window ``[start, end]``."""
    step, per = slot_params(rows_per_day)
    first = -(-start // step)
    last = end // step
    if last < first:
        return range(0)
    return range(first * per, (last + 1) * per)


def slot_time(k: int, rows_per_day: int) -> int:
    """Epoch second at which slot ``k`` happens."""
    step, per = slot_params(rows_per_day)
    return (k // per) * step


def count_rows(start: int, end: int, *, rows_per_day: int = 96) -> int:
    """Number of rows in ``[start, end]`` without filters."""
    return len(slot_range(start, end, rows_per_day))


def _flags(table: Iterable[Any], wanted: Iterable[str] | None, key) -> list[bool] | None:
    """Per-slot pass/fail table for one filter, or None when the filter is off."""
    if not wanted:
        return None
    ids = set(wanted)
    return [key(item, ids) for item in table]


def _local_offsets(timezone: str | None):
    """Return a function t -> UTC offset seconds (cached per 15-minute bucket)."""
    if timezone in (None, "UTC", "Etc/UTC"):
        return None
    tz = ZoneInfo(timezone)
    cache: dict[int, int] = {}

    def offset(t: int) -> int:
        bucket = t // 900
        off = cache.get(bucket)
        if off is None:
            when = _dt.datetime.fromtimestamp(bucket * 900, tz)
            off = int(when.utcoffset().total_seconds())  # type: ignore[union-attr]  # aware: set
            cache[bucket] = off
        return off

    return offset


def generate_rows(
    start: int,
    end: int,
    *,
    timezone: str | None = "UTC",
    tag_ids: Iterable[str] | None = None,
    team_ids: Iterable[str] | None = None,
    teammate_ids: Iterable[str] | None = None,
    customer_ids: Iterable[str] | None = None,
    rows_per_day: int = 96,
    seed: int = 0,
    drift_after: int | None = None,
    fresh: bool = True,
    big_integers: bool = False,
    shuffled_keys: bool = False,
    edge_values: bool = False,
    custom_fields: int = 0,
    deep_nesting: int = 0,
    tap_named_fields: bool = False,
    warehouse_shapes: bool = False,
    numbers_between: tuple[int, int] | None = None,
    given_values: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> Iterator[dict[str, Any]]:
    """Yield the rows of the inclusive window ``[start, end]`` in time order.

    Filters follow the API: a row passes when its team / any of its tags / its
    assignee's email / its customer's email is in the list; None or [] means no filter.
    With ``fresh=False`` rows share their nested objects (faster; treat as read-only).
    Rows at ``t >= drift_after`` carry an extra ``sentimentScore`` field; with
    ``big_integers`` every row carries ``bigCounter``, an integer beyond 64 bits or at
    its edges (2**63 + k, 2**64 + k, -2**63 - 1 - k, 10**25 + k in turn). With
    ``shuffled_keys`` each row's keys, and those of its nested objects, come in an order
    of their own (JSON objects are unordered; a real service may write them so). With
    ``edge_values`` every row carries ``edgeNote`` and ``edgeReading``; every fourth row
    (``k % 4 == 0``) holds values at JSON's edges there: a string ending in a lone
    surrogate (the file says ``"Hello \\ud83d"``) and ``inf`` (the file says ``1e400``),
    the others ``"Hello"`` and ``1.5``.
    With ``custom_fields`` N, every row carries ``customFields``, an object of N keys of
    its own (``cf_<k>_<i>``: keyed by id, as custom fields are), values of every JSON
    type. With ``deep_nesting`` N, every row carries ``deep``, objects nested N levels
    (``{"level": {"level": ... {"k": k}}}``). With ``tap_named_fields``, every row carries
    Loop fields named like the tap's own: ``_loop_window_start``, ``_loop_window_end``
    (date-times of Loop's) and ``_loop_export_id``. With ``warehouse_shapes``, every row
    carries the shapes of :func:`warehouse_fields` (long decimals as ``Decimal``, written
    with all their digits); ``numbers_between`` ``(from, until)``: its ``countA`` is a
    number with a fraction at ``from <= t < until``, an integer elsewhere. With
    ``given_values`` (pairs of a field name and JSON texts), row ``k`` carries each such
    field with the ``k % n``-th of its ``n`` texts, written into the export as it is (an
    ``orjson.Fragment``: ``9007199254740993.0`` keeps its digits); a field named like a
    generated one replaces it. JSON exports only, and not with ``big_integers`` or ``edge_values``.
    """
    step, per = slot_params(rows_per_day)
    teams = pools.TEAMS
    assignees = pools.assignee_table()
    customers = pools.customer_table()
    tags = pools.tag_table()
    slas = pools.sla_table()
    subjects = pools.SUBJECTS
    attachments = pools.ATTACHMENTS
    team_ok = _flags(teams, team_ids, lambda t, ids: t[0] in ids)
    assignee_ok = _flags(assignees, teammate_ids, lambda a, ids: bool(a) and a["email"] in ids)
    customer_ok = _flags(customers, customer_ids, lambda c, ids: c["email"] in ids)
    tag_ok = _flags(tags, tag_ids, lambda ts, ids: any(x["id"] in ids for x in ts))
    offset_of = _local_offsets(timezone)
    base = mix64(seed & _M64)
    m64 = _M64
    conv_key = -1
    conv_id = ""
    days: dict[int, str] = {}
    tods: dict[int, str] = {}
    last_t = None
    created = ""
    local_date: str | None = ""
    local_hour = 0

    for k in slot_range(start, end, rows_per_day):
        # splitmix64(base ^ k), inlined: this loop runs up to millions of times.
        h = ((base ^ k) + 0x9E3779B97F4A7C15) & m64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & m64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & m64
        h ^= h >> 31
        if team_ok is not None and not team_ok[h & 3]:
            continue
        if assignee_ok is not None and not assignee_ok[(h >> 7) & 15]:
            continue
        if customer_ok is not None and not customer_ok[(h >> 11) & 31]:
            continue
        if tag_ok is not None and not tag_ok[(h >> 16) & 4095]:
            continue
        t = (k // per) * step
        if t != last_t:
            last_t = t
            day, sod = divmod(t, 86400)
            ds = days.get(day)
            if ds is None:
                ds = days[day] = _dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
            tod = tods.get(sod)
            if tod is None:
                hh, rem = divmod(sod, 3600)
                tod = tods[sod] = f"{hh:02d}:{rem // 60:02d}:{rem % 60:02d}"
            created = f"{ds}T{tod}Z"
            if offset_of is None:
                local_date, local_hour = ds, sod // 3600
            else:
                lday, lsod = divmod(t + offset_of(t), 86400)
                local_date = days.get(lday)
                if local_date is None:
                    local_date = days[lday] = _dt.date.fromordinal(
                        _EPOCH_ORDINAL + lday
                    ).isoformat()
                local_hour = lsod // 3600
        h2 = (h * 0xD1342543DE82EF95 + 0x5851F42D4C957F2D) & m64  # second draw (LCG step)
        if k // 3 != conv_key:  # three consecutive messages share a conversation
            conv_key = k // 3
            conv_id = f"cnv_{mix64(base ^ conv_key) & 0xFFFFFFFFFFFF:012x}"
        team = teams[h & 3]
        inbound = not (h >> 2) & 1
        assignee = assignees[(h >> 7) & 15]
        customer = customers[(h >> 11) & 31]
        row_tags = tags[(h >> 16) & 4095]
        sla = slas[(h >> 32) & 15]
        participants = [customer["email"]]
        if assignee is not None:
            participants.append(assignee["email"])
        if (h >> 28) & 3 == 3:
            participants.append(customers[(h >> 40) & 31]["email"])
        if fresh:
            assignee = None if assignee is None else dict(assignee)
            customer = dict(customer)
            row_tags = [dict(x) for x in row_tags]
            sla = {**sla, "targets": dict(sla["targets"])}
        row = {
            "id": f"msg_{k:012d}",
            "messageId": f"<{k:x}.{h2 >> 48:04x}@mail.loop.example>",
            "conversationId": conv_id,
            "createdAt": created,
            "localDate": local_date,
            "localHour": local_hour,
            "teamId": team[0],
            "teamName": team[1],
            "direction": "inbound" if inbound else "outbound",
            "subject": subjects[(h >> 3) & 15],
            "assignee": assignee,
            "customer": customer,
            "tags": row_tags,
            "participants": participants,
            "firstResponseSeconds": (
                ((h2 >> 28) & 0xFFFF) % 14400 + 30 if inbound and (h >> 39) & 3 else None
            ),
            "handleTimeMinutes": (h2 >> 44) % 18000 / 100,
            "isResolved": bool((h >> 30) & 3),
            "sla": sla,
            "attachments": attachments[(h >> 36) & 7],
        }
        if drift_after is not None and t >= drift_after:
            row["sentimentScore"] = (((h2 >> 12) & 0xFFFF) % 2001 - 1000) / 1000
        if big_integers:
            row["bigCounter"] = (2**63 + k, 2**64 + k, -(2**63) - 1 - k, 10**25 + k)[k % 4]
        if edge_values:
            edge = k % 4 == 0
            row["edgeNote"] = "Hello \ud83d" if edge else "Hello"
            row["edgeReading"] = float("inf") if edge else 1.5
        if custom_fields:
            row["customFields"] = _custom_fields(k, custom_fields)
        if deep_nesting:
            deep: dict[str, Any] = {"k": k}
            for _ in range(deep_nesting - 1):
                deep = {"level": deep}
            row["deep"] = deep
        if tap_named_fields:
            row["_loop_window_start"] = created
            row["_loop_window_end"] = f"{created[:10]}T23:59:59Z"
            row["_loop_export_id"] = f"loop-{k}"
        if warehouse_shapes:
            fraction = numbers_between is not None and numbers_between[0] <= t < numbers_between[1]
            row.update(warehouse_fields(k, t, fraction))
        for name, texts in given_values:
            fragment: Any = orjson.Fragment(texts[k % len(texts)])
            row[name] = fragment
        if shuffled_keys:
            row = _shuffled(row, random.Random(h))
        yield row


#: Decimals beyond a double's 17 significant digits (and one a double holds exactly).
LONG_DECIMALS = (
    "9007199254740993.0",
    "12345678901234567890.5",
    "3.14159265358979323846264338327950288",
    "0.1",
)
#: Integers beyond 64 bits: 2^127 and -10^40.
HUGE_INTEGERS = (2**127, -(10**40))
#: Offsets of ``seenAt`` (as written), with the fractions of a second it carries in turn.
_OFFSETS = ((7200, "+02:00"), (-19800, "-05:30"), (0, "Z"))
_FRACTIONS = ("", ".123456", ".123456789")


def warehouse_fields(k: int, t: int, fraction: bool) -> dict[str, Any]:
    """Row ``k``'s (at epoch ``t``) shapes a warehouse must store exactly: long decimals,
    integers beyond 64 bits, arrays of arrays, text with non-BMP characters, empty
    strings, date-times with offsets (and nanoseconds), and ``countA``: ``k`` or, with
    ``fraction``, ``k + 0.25``."""
    offset, zone = _OFFSETS[k % 3]
    local = _dt.datetime.fromtimestamp(t + offset, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "longDecimal": Decimal(LONG_DECIMALS[k % 4]),
        "hugeInteger": HUGE_INTEGERS[k % 2],
        "matrix": [[k % 7, 2], [3], []] if k % 2 else [[1]],
        "countA": k + 0.25 if fraction else k,
        "unicodeText": f"Grüße 👋 {k} 日本 𝄞",
        "emptyText": "" if k % 2 else f"note {k}",
        "seenAt": f"{local}{_FRACTIONS[k % 3]}{zone}",
    }


def _custom_fields(k: int, count: int) -> dict[str, Any]:
    """Row ``k``'s custom fields: ``count`` keys no other row has, values of each type."""
    kinds = (
        lambda i: f"value {k}.{i}",
        lambda i: k * 1000 + i,
        lambda i: (k + i) / 8,
        lambda i: None,
        lambda i: bool((k + i) & 1),
        lambda i: {"label": f"l{i}", "n": [k, i]},
        lambda i: 2**64 + k,
    )
    return {f"cf_{k}_{i}": kinds[(k + i) % len(kinds)](i) for i in range(count)}


def _shuffled(value: Any, rng: random.Random) -> Any:
    """``value`` with the keys of every object (at any depth) in a random order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value
