"""Rules for calendar dates (GB/T 7408) and years."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from transforms.rules.base import (
    RuleContext,
    Standardized,
    finish,
    fold_width,
    steps,
    strip_whitespace,
    trim,
)

if TYPE_CHECKING:
    from lake.catalog.model import DataElement

#: Separators departments write between year, month and day, as ``-`` (``日`` is dropped).
_SEPARATORS = {"年": "-", "月": "-", "日": "", "/": "-", ".": "-"}
#: A time of day after the date (``08:30``, ``T08:30:00.123``), which is dropped.
_TIME_OF_DAY = r"(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"
_COMPACT = r"^\d{8}$"
_ISO = r"^\d{4}-\d{1,2}-\d{1,2}$"
FIRST_YEAR = 1900
LAST_YEAR = 2100
TEXT, ISO, VALUE = pl.field("text"), pl.field("iso"), pl.field("value")


def date(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A calendar date.

    Accepts ``2020-01-02``, ``2020/1/2``, ``2020.1.2``, ``20200102``, ``2020年1月2日`` (the
    ``日`` is optional), any of them in full-width digits, with stray spaces, or followed by
    a time of day (``2020-01-02 08:30:00``, ``2020-01-02T08:30``), which is dropped.
    Normalizes to: ``pl.Date``.
    Invalid when unparseable or not a calendar date (``2020-02-30``, ``2020-13-01``); the
    value is then NULL. No range is enforced: a licence may be valid until 2099 and whether a
    birth date may lie in the future is a question for the base-library checks.
    """
    # Separators are mapped with one Aho-Corasick pass rather than a regex with capture
    # groups, which took more than twice as long.
    text = trim(fold_width(raw)).str.replace(_TIME_OF_DAY, "").str.replace_many(_SEPARATORS)
    compact_to_iso = pl.concat_str(
        TEXT.str.slice(0, 4), pl.lit("-"), TEXT.str.slice(4, 2), pl.lit("-"), TEXT.str.slice(6, 2)
    )
    chain = steps(
        {"text": strip_whitespace(text)},
        {"iso": pl.when(TEXT.str.contains(_COMPACT)).then(compact_to_iso).otherwise(TEXT)},
        {"value": pl.when(ISO.str.contains(_ISO)).then(ISO.str.to_date("%Y-%m-%d", strict=False))},
        {"valid": VALUE.is_not_null()},
    )
    return finish(raw, chain)


def year(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A year (年度).

    Accepts four digits, optionally full-width, with spaces, or followed by ``年`` or ``年度``
    (``2023年度``). Normalizes to: ``pl.Int32``; NULL when not four digits.
    Invalid when not four digits or outside 1900–2100.
    """
    number = TEXT.str.to_integer(dtype=pl.Int32, strict=False)
    chain = steps(
        {"text": trim(fold_width(raw)).str.replace(r"\s*年度?$", "")},
        {"value": pl.when(TEXT.str.contains(r"^\d{4}$")).then(number)},
        {"valid": VALUE.is_between(FIRST_YEAR, LAST_YEAR)},
    )
    return finish(raw, chain)
