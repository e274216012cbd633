"""Exact numbers (tap_loop.results.numbers): floats where they keep the value, else
Decimals of the digits, and the cheap test that says when to look."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tap_loop.core.output import dumps
from tap_loop.results.numbers import exact_number, lossy_hint

LONG = [
    "9007199254740993.0",
    "12345678901234567890.5",
    "3.14159265358979323846264338327950288",
    "0.1000000000000000055511151231257827",
    "-1234567890123456.7",
    "1234567890123456789e3",
    "1e400",
]


@pytest.mark.parametrize("text", LONG)
def test_a_number_a_float_changes_is_a_decimal_of_its_digits(text: str) -> None:
    value = exact_number(text)
    assert type(value) is Decimal and value == Decimal(text)
    assert dumps(value) == str(Decimal(text)).encode()  # its digits, as a JSON number
    assert lossy_hint(b'[{"a":' + text.encode() + b"}]") or text == "1e400"


@pytest.mark.parametrize(
    "text", ["1.5", "0.1", "-0.0", "2.5e-3", "1e300", "1.50000000000000000000", "123456789.123456"]
)
def test_a_number_a_float_holds_stays_a_float(text: str) -> None:
    value = exact_number(text)
    assert type(value) is float and Decimal(repr(value)) == Decimal(text)


def test_floats_of_fifteen_digits_or_fewer_never_raise_the_hint() -> None:
    rng = random.Random(3)
    texts = [repr(round(rng.uniform(-1e9, 1e9), rng.randint(0, 6))) for _ in range(5000)]
    text = ("[" + ",".join('{"a":' + t + "}" for t in texts) + "]").encode()
    assert not lossy_hint(text)
    assert all(type(exact_number(t)) is float for t in texts)


def test_every_float_text_either_stays_exact_or_raises_the_hint() -> None:
    """Soundness of the hint: no float text without it changes value as a float."""
    rng = random.Random(4)
    for _ in range(20000):
        digits = str(rng.randint(1, 10 ** rng.randint(1, 25)))
        point = rng.randint(1, len(digits))
        text = f"{digits[:point]}.{digits[point:] or '0'}e{rng.randint(-250, 250)}"
        value = float(text)
        if Decimal(repr(value)) != Decimal(text):
            assert lossy_hint(text.encode()), text
            assert type(exact_number(text)) is Decimal
