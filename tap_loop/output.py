"""Singer message output: orjson serialisation, buffered RECORDs, flushed STATE.

RECORD lines are buffered; every other message (SCHEMA, STATE, ...) flushes the buffer,
so the target always sees a STATE after the records it covers, and a killed tap leaves
a prefix of the stream: never a STATE without the rows before it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import sys
import typing as t

import orjson
from singer_sdk.io_base import SingerWriter

from tap_loop.errors import LoopTapError

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: t.Any) -> t.Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps(value: t.Any) -> bytes:
    """Compact JSON bytes. orjson refuses integers beyond 64 bits: those are written
    as their exact digits (the rest byte for byte as orjson writes it)."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except TypeError:
        return orjson.dumps(_exact_ints(value), default=_default, option=_OPTIONS)


def _exact_ints(value: t.Any) -> t.Any:
    """``value`` with every integer outside [-2**63, 2**64) as a raw JSON fragment."""
    kind = type(value)
    if kind is int:
        return value if -(2**63) <= value < 2**64 else orjson.Fragment(str(value).encode())
    if kind is dict:
        return {key: _exact_ints(item) for key, item in value.items()}
    if kind in (list, tuple):
        return [_exact_ints(item) for item in value]
    return value


class LoopMessageWriter(SingerWriter):
    """singer-sdk message writer: fast JSON, buffered records, flush on anything else."""

    def serialize_message(self, message: t.Any) -> str:  # type: ignore[override]
        return dumps(message.to_dict()).decode()

    def write_message(self, message: t.Any) -> None:
        self.write_line(dumps(message.to_dict()), flush=True)

    @staticmethod
    def raw_sink() -> t.Callable[[bytes], t.Any]:
        """A fast ``write(bytes)`` for whole lines (newline included), no flush.

        Callers catch ``BrokenPipeError`` around their loop and raise
        :func:`target_gone` instead.
        """
        binary = getattr(sys.stdout, "buffer", None)
        if binary is not None:
            return binary.write
        out = sys.stdout
        return lambda data: out.write(data.decode())

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
