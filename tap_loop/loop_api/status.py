"""What Loop says of one export: its status, read once, and what that status means.

:class:`ExportStatus` folds every value Loop may answer into five, and knows which of
them end an export (:attr:`~ExportStatus.terminal`); :class:`ExportState` is one status
check's answer, and knows whether the wait for it is over (:attr:`~ExportState.settled`).
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass


class ExportStatus(enum.Enum):
    """Loop's export states, with every undocumented value folded into NOT_READY."""

    PROCESSING = "Processing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    EXPIRED = "Expired"
    NOT_READY = "NotReady"

    @classmethod
    def from_api(cls, raw: t.Any) -> ExportStatus:
        """Map Loop's ``status``; unknown or pending-like values are never "done"."""
        text = str(raw or "").strip().lower()
        return _STATUS_MAP.get(text, cls.NOT_READY)

    @property
    def terminal(self) -> bool:
        """True when the export will not change any more (Completed, Failed, Expired)."""
        return self in _TERMINAL

    @property
    def failed(self) -> bool:
        """True when the export ended without a result (Failed, Expired): create it again."""
        return self.terminal and self is not ExportStatus.COMPLETED


_STATUS_MAP = {
    "processing": ExportStatus.PROCESSING,
    "completed": ExportStatus.COMPLETED,
    "failed": ExportStatus.FAILED,
    "expired": ExportStatus.EXPIRED,
}
_TERMINAL = frozenset({ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.EXPIRED})

# Not documented as such, but shown in the reference's example: no warning for it.
_KNOWN_PENDING = frozenset({"pendingorexpired"})


@dataclass
class ExportState:
    """What Loop last said of one export."""

    export_id: str
    status: ExportStatus
    raw_status: str
    url: str | None
    raw: t.Any = None

    @property
    def ready(self) -> bool:
        """True when the result can be downloaded: Completed, with its URL."""
        return self.status is ExportStatus.COMPLETED and bool(self.url)

    @property
    def settled(self) -> bool:
        """True when polling is over: ready, or failed (a Completed without URL is not)."""
        return self.ready or self.status.failed

    @property
    def unknown(self) -> bool:
        """True when Loop answered a status value the tap does not know."""
        if self.status is not ExportStatus.NOT_READY:
            return False
        return not (isinstance(self.raw, str) and self.raw.strip().lower() in _KNOWN_PENDING)


__all__ = ["ExportState", "ExportStatus"]
