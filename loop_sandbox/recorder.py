"""Thread-safe log of every request the sandbox servers received."""

from __future__ import annotations

import threading
from typing import Any


class RequestLog:
    """Append-only list of request records (plain JSON-able dicts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._next = 0

    def add(self, record: dict[str, Any]) -> None:
        """Store a record; it may still be updated in place (status, fault, note)."""
        with self._lock:
            record["seq"] = self._next
            self._next += 1
            self._items.append(record)

    def snapshot(self, server: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Copies of the records with ``seq >= since``, optionally of one server only."""
        with self._lock:
            return [
                dict(r)
                for r in self._items
                if r["seq"] >= since and (server is None or r["server"] == server)
            ]

    def clear(self) -> None:
        """Drop all records (sequence numbers keep counting up)."""
        with self._lock:
            self._items = []
