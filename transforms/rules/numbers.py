"""Rules for integers, decimals and coordinates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from transforms.rules.base import RuleContext, Standardized, compact, finish, steps

if TYPE_CHECKING:
    from lake.catalog.model import DataElement

#: Digits, optionally grouped in thousands with commas (1,234,567).
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_INTEGER = rf"^[+-]?{_DIGITS}(?:\.0*)?$"
_DECIMAL = rf"^[+-]?(?:{_DIGITS}(?:\.\d*)?|\.\d+)(?:E[+-]?\d+)?$"

#: China's bounding box (CGCS2000 degrees), wide enough for the South China Sea islands.
LONGITUDE_RANGE = (73.0, 136.0)
LATITUDE_RANGE = (3.0, 54.0)
TEXT, VALUE = pl.field("text"), pl.field("value")


def integer(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A whole number.

    Accepts an optional sign, digits optionally grouped by commas (``1,234``), full-width
    digits, stray spaces, and a zero fraction (``12.0``, common from spreadsheets).
    Normalizes to: ``pl.Int64``; NULL when unparseable.
    Invalid when it has any other form, a non-zero fraction, or overflows Int64.
    """
    digits = TEXT.str.replace(r"\.0*$", "").str.replace_all(",", "", literal=True)
    chain = steps(
        {"text": compact(raw)},
        {"value": pl.when(TEXT.str.contains(_INTEGER)).then(digits.str.to_integer(strict=False))},
        {"valid": VALUE.is_not_null()},
    )
    return finish(raw, chain)


def _decimal(raw: pl.Expr, valid: pl.Expr) -> Standardized:
    """Parse as :func:`decimal` describes, then flag with ``valid`` (reading ``value``)."""
    number = TEXT.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    chain = steps(
        {"text": compact(raw)},
        {"value": pl.when(TEXT.str.contains(_DECIMAL)).then(number)},
        {"valid": valid},
    )
    return finish(raw, chain)


def decimal(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A decimal number: amounts (万元), areas (m²).

    Accepts an optional sign, digits optionally grouped by commas (``1,234.5``), a decimal
    point, an exponent (``1.2E3``), full-width characters (``１２３．４``) and stray spaces.
    Normalizes to: ``pl.Float64``; NULL when unparseable.
    Invalid when unparseable (incl. misplaced commas such as ``1,23``, ``NaN`` and ``inf``).
    Signs are not judged here.
    """
    return _decimal(raw, VALUE.is_finite())


def longitude(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A longitude in decimal degrees (CGCS2000), as :func:`decimal` accepts it.

    Normalizes to: ``pl.Float64``. Invalid when unparseable or outside 73–136 °E.
    """
    return _decimal(raw, VALUE.is_between(*LONGITUDE_RANGE))


def latitude(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A latitude in decimal degrees (CGCS2000), as :func:`decimal` accepts it.

    Normalizes to: ``pl.Float64``. Invalid when unparseable or outside 3–54 °N.
    """
    return _decimal(raw, VALUE.is_between(*LATITUDE_RANGE))
