"""Integer, decimal and coordinate rules."""

from __future__ import annotations

import math

import pytest

from tests.transforms.rules.conftest import Apply


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("42", 42, True),
        ("-42", -42, True),
        ("+42", 42, True),
        ("1,234,567", 1_234_567, True),
        ("１，２３４", 1_234, True),
        (" 12 ", 12, True),
        ("12.0", 12, True),
        ("12.", 12, True),
        ("12.5", None, False),
        ("1,23", None, False),
        ("12a", None, False),
        ("99999999999999999999", None, False),  # overflows Int64
    ],
)
def test_integer(apply: Apply, raw: str, value: int | None, valid: bool) -> None:
    assert apply("integer", [raw]) == [(value, valid)]


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("1234.5", 1234.5, True),
        ("1,234.5", 1234.5, True),
        ("１２３４．５", 1234.5, True),
        ("１，２３４．５", 1234.5, True),
        (" -0.5 ", -0.5, True),
        (".5", 0.5, True),
        ("5.", 5.0, True),
        ("1.5e3", 1500.0, True),
        ("1,23.4", None, False),
        ("12,34", None, False),
        ("1.2.3", None, False),
        ("NaN", None, False),
        ("inf", None, False),
        ("五百", None, False),
    ],
)
def test_decimal(apply: Apply, raw: str, value: float | None, valid: bool) -> None:
    [(got, ok)] = apply("amount", [raw])
    assert ok is valid
    assert got == value or (got is not None and value is not None and math.isclose(got, value))


@pytest.mark.parametrize(
    ("element", "raw", "valid"),
    [
        ("longitude", "120.13", True),
        ("longitude", "１２０．１３", True),
        ("longitude", "73", True),
        ("longitude", "136", True),
        ("longitude", "72.99", False),
        ("longitude", "30.26", False),  # latitude in the longitude column
        ("latitude", "30.26", True),
        ("latitude", "3", True),
        ("latitude", "54", True),
        ("latitude", "54.01", False),
        ("latitude", "-30.26", False),
        ("latitude", "北纬30度", False),
    ],
)
def test_coordinates(apply: Apply, element: str, raw: str, valid: bool) -> None:
    assert apply(element, [raw])[0][1] is valid
