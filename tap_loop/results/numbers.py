"""Numbers kept exact: a JSON number a float cannot hold becomes a ``Decimal`` of its digits.

The rule, on every reader (typed rows, orjson, ijson, Xlsx): a number with a fraction or
an exponent is a ``float`` when the float's shortest form (what the tap writes) has the
same decimal value as the text (every number of 15 significant digits or fewer within
a float's normal range: the common case, at a float's cost); else a ``Decimal`` of exactly
the text's digits (``9007199254740993.0``, ``12345678901234567890.5``, a 36-digit pi,
``1e400``), which :data:`tap_loop.core.output.dumps` writes as a JSON number with those
digits. Integers are ints of any size on every reader. Not kept: a nonzero number so
close to zero that a float makes it subnormal or zero (``1e-400``), which goes out as
that float (no reader can tell it cheaply, and every reader agrees on it).

:func:`lossy_hint` is the cheap test (a C translate and substring searches, about
0.8 ms per MB) for text that may hold a number a float would change: 16 or more
significant digits (also integers of 17 digits or more, exact either way).
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal

__all__ = ["exact_number", "lossy_hint"]

#: Digits and ``.`` as ``0``, ``e``/``E`` as ``e``, anything else a space.
_SHAPE = bytes(
    0x30 if (0x30 <= byte <= 0x39 or byte == 0x2E) else 0x65 if byte in b"eE" else 0x20
    for byte in range(256)
)
_SEVENTEEN = b"0" * 17  # 16 digits and a point, or 17 digits
_SIXTEEN_E = b"0" * 16 + b"e"  # 16 digits before an exponent
_NORMAL = sys.float_info.min


def lossy_hint(data: bytes | bytearray) -> bool:
    """Whether the JSON text may hold a number with 16 or more significant digits (a run
    of 17 digits and points, or 16 digits before an exponent, anywhere, strings too):
    False means every float in it is exact."""
    shape = data.translate(_SHAPE)
    return _SEVENTEEN in shape or _SIXTEEN_E in shape


def exact_number(text: str) -> float | Decimal:
    """The JSON number ``text`` (with a fraction or exponent): a float if that keeps its
    decimal value (see the module doc), else a ``Decimal`` of exactly its digits."""
    value = float(text)
    size = abs(value)
    if size == math.inf:
        return Decimal(text)
    if len(text) < 16 or size < _NORMAL:
        return value  # 15 digits or fewer: exact; subnormal or zero: as every reader has it
    return value if Decimal(repr(value)) == Decimal(text) else Decimal(text)
