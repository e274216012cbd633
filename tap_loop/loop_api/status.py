"""What Loop says of one export: its status, read once, and what that status means.

:class:`ExportStatus` folds every value Loop may answer into five, and knows which of
them end an export (:attr:`~ExportStatus.terminal`); :class:`ExportState` is one status
check's answer, and knows whether the wait for it is over (:attr:`~ExportState.settled`)
and, when it is not, whether a smaller window could help (:attr:`~ExportState.stuck`).
"""

from __future__ import annotations

import enum
import json
import typing as t
from dataclasses import dataclass

from tap_loop.core.redaction import mask_exactly, redact


class ExportStatus(enum.Enum):
    """Loop's export states, with every undocumented value folded into NOT_READY."""

    PROCESSING = "Processing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    EXPIRED = "Expired"
    NOT_READY = "NotReady"

    @classmethod
    def from_api(cls, raw: t.Any) -> ExportStatus:
        """Map Loop's ``status``; unknown or pending-like values (and any value that is
        not a string) are never "done"."""
        if not isinstance(raw, str):
            return cls.NOT_READY
        return _STATUS_MAP.get(raw.strip().lower(), cls.NOT_READY)

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


_JSON_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    dict: "object",
    list: "array",
    type(None): "null",
}


def json_type(value: t.Any) -> str:
    """The JSON type of a decoded value ("number", "object", ...)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def shown(value: t.Any, limit: int = 120) -> str:
    """``value`` as JSON for a log line: on one line, at most ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:  # a circular structure cannot come from JSON; be safe anyway
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


MESSAGE_LIMIT = 300
"""Characters of Loop's message about an export that a log line shows at most."""


def export_message(answer: t.Mapping[str, t.Any], token: str | None = None) -> str | None:
    """What Loop says of an export in its own words, fit for one log line, or None.

    Loop documents no such field; an answer may carry one (``message``, else ``error``),
    as the sandbox's does for an export it could not render. It is untrusted data: a
    value that is not a string is shown as JSON, ``token`` (however short), other
    credentials and URL query values are masked, line breaks and every other invisible
    or control character are escaped, and the text is cut at :data:`MESSAGE_LIMIT`.
    """
    value = answer.get("message")
    if value is None or value == "":
        value = answer.get("error")
    if value is None or value == "" or value is False:
        return None
    text = value if isinstance(value, str) else shown(value, MESSAGE_LIMIT * 2)
    text = redact(mask_exactly(text, token)).strip()
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if not text:
        return None
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


@dataclass
class ExportState:
    """What Loop last said of one export.

    ``raw`` and ``raw_url`` are the ``status`` and ``url`` values exactly as Loop sent them
    (any JSON); ``url`` is the URL only when it is a non-empty string; ``message`` is
    what Loop said of the export in its own words, made safe to log
    (:func:`export_message`), or None.
    """

    export_id: str
    status: ExportStatus
    raw_status: str
    url: str | None
    raw: t.Any = None
    raw_url: t.Any = None
    message: str | None = None

    @property
    def described(self) -> str:
        """The raw status, with Loop's message when it sent one: ``Failed ("...")``."""
        if self.message is None:
            return self.raw_status
        return f'{self.raw_status} ("{self.message}")'

    @property
    def ready(self) -> bool:
        """True when the result can be downloaded: Completed, with its URL."""
        return self.status is ExportStatus.COMPLETED and bool(self.url)

    @property
    def stuck(self) -> str | None:
        """Why this unsettled state is one a smaller window cannot help, or None.

        A status that is not a string, a string unknown to the tap, and a Completed
        export without a usable URL are answers the tap cannot act on: a timeout on one
        ends the run rather than splitting the window (each half would wait as long for
        the same answer). ``Processing`` and the known pending values return None: a
        smaller export may finish in time.
        """
        if self.settled:
            return None
        if self.status is ExportStatus.COMPLETED:
            if self.raw_url is None or self.raw_url == "":
                return f"reported Completed but no download url (url: {shown(self.raw_url)})"
            return (
                f"reported Completed with url {shown(self.raw_url)} "
                f"(a JSON {json_type(self.raw_url)}, not a string)"
            )
        if not isinstance(self.raw, str):
            return (
                f"still reported status {shown(self.raw)} (a JSON {json_type(self.raw)}, "
                "not a string)"
            )
        if self.unknown:
            return f"still reported status {shown(self.raw)}"
        return None

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


__all__ = ["MESSAGE_LIMIT", "ExportState", "ExportStatus", "export_message", "json_type", "shown"]
