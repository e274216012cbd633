"""Singer message output: msgspec serialisation, buffered RECORDs, flushed STATE.

RECORD lines are buffered; every other message (SCHEMA, STATE, ...) flushes the buffer,
so the target always sees a STATE after the records it covers, and a killed tap leaves
a prefix of the stream: never a STATE without the rows before it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import sys
import typing as t

import msgspec
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import Message
from typing_extensions import override

from tap_loop.core.errors import LoopTapError

_JSON_KINDS: tuple[type, ...] = (str, bool, int, float, dict, list)


def _default(value: t.Any) -> t.Any:
    """What msgspec does not write itself: subclasses of JSON's types."""
    for kind in _JSON_KINDS:
        if isinstance(value, kind):
            return kind(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


#: Compact JSON, UTF-8 as is; integers of any size and decimals as their exact digits,
#: dates and times in ISO 8601, sets and tuples as arrays, NaN and infinities as null.
#: Writes the msgspec Structs of typed rows (tap_loop.schemas.typed_rows) and dicts alike.
dumps: t.Callable[[t.Any], bytes] = msgspec.json.Encoder(
    enc_hook=_default, decimal_format="number"
).encode


class LoopMessageWriter(SingerWriter):
    """singer-sdk message writer: fast JSON, buffered records, flush on anything else."""

    @override
    def serialize_message(self, message: Message) -> str:
        return dumps(_message_dict(message)).decode()

    @override
    def write_message(self, message: Message) -> None:
        self.write_line(dumps(_message_dict(message)), flush=True)

    @staticmethod
    @contextlib.contextmanager
    def record_writer(
        stream_name: str, time_extracted: dt.datetime
    ) -> t.Iterator[t.Callable[[t.Any], t.Any]]:
        """A fast ``write(row)``: one buffered RECORD line of ``stream_name`` per row,
        byte for byte what :meth:`write_message` writes for its RecordMessage.

        Inside the block the cyclic GC runs less often (rows are short-lived and free of
        cycles: collecting young objects every 700 allocations would cost about a third
        of the parse time), and a closed stdout raises :func:`target_gone`.
        """
        head = b'{"type":"RECORD","stream":' + dumps(stream_name) + b',"record":'
        tail = b',"time_extracted":"' + time_extracted.isoformat().encode() + b'"}\n'
        sink = _raw_sink()

        def write(row: t.Any) -> t.Any:
            return sink(head + dumps(row) + tail)

        thresholds = gc.get_threshold()
        gc.set_threshold(100_000, 50, 100)
        try:
            yield write
        except BrokenPipeError:
            raise target_gone() from None
        finally:
            gc.set_threshold(*thresholds)

    @staticmethod
    def write_line(line: bytes, *, flush: bool) -> None:
        out = sys.stdout
        binary = getattr(out, "buffer", None)
        try:
            if binary is not None:
                binary.write(line + b"\n")
                if flush:
                    binary.flush()
            else:  # a text-only stdout, e.g. io.StringIO in tests
                out.write(line.decode() + "\n")
                if flush:
                    out.flush()
        except BrokenPipeError:
            raise target_gone() from None


def _raw_sink() -> t.Callable[[bytes], t.Any]:
    """A fast ``write(bytes)`` of whole lines (newline included) to stdout, no flush."""
    binary: t.BinaryIO | None = getattr(sys.stdout, "buffer", None)
    if binary is not None:
        return binary.write
    out = sys.stdout  # a text-only stdout, e.g. io.StringIO in tests
    return lambda data: out.write(data.decode())


def _message_dict(message: Message) -> dict[str, t.Any]:
    """The message as a dict; its ``time_extracted`` in ``isoformat`` (``+00:00``), as
    the fast path writes it."""
    data = message.to_dict()
    extracted = data.get("time_extracted")
    if isinstance(extracted, dt.datetime):
        data["time_extracted"] = extracted.isoformat()
    return data


def target_gone() -> LoopTapError:
    """The error for a closed stdout (the target died); silences stdout for shutdown."""
    _silence_stdout()
    return LoopTapError(
        "The target stopped reading (stdout closed): it crashed or exited. What to do: "
        "check the target's log; the last STATE it received is still valid, so the next "
        "run resumes from there."
    )


def _silence_stdout() -> None:
    """Point stdout at /dev/null so interpreter shutdown does not fail on the dead pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
