"""What every standardization rule shares: its result, its context, its protocol, and text primitives.

A rule turns one raw-zone column (text exactly as the department sent it) into a
:class:`Standardized` result with two expressions:

- ``value``: the normalized, typed value.
- ``valid``: a Boolean flag. It is NULL exactly when the raw value is missing or blank,
  because a missing value is a completeness problem, not a validity problem.

The invariants every rule keeps (:func:`finish` enforces the first two):

- raw NULL or blank (only whitespace, incl. U+3000 and zero-width characters)
  → ``value`` NULL and ``valid`` NULL;
- otherwise ``valid`` is TRUE or FALSE, never NULL;
- when ``valid`` is FALSE, string-typed rules still return their normalized text as
  ``value`` (so quarantine reports can quote it), and typed rules (dates, numbers)
  return NULL when the text could not be parsed.

Rules are pure, vectorized Polars expressions: no ``map_elements`` and no Python UDFs.

Why rules are written as :func:`steps`: Polars' common-subexpression elimination works one
level deep only. An intermediate used several times inside a larger expression (the cleaned
text, the 17-digit body, the check character) is recomputed at every use, and the costs
multiply: written as plain nested expressions the resident-ID rule took about 4 s per million rows.
A :func:`steps` chain names each intermediate as a struct field that later steps read with
``pl.field``, so each is computed once (0.3 s per million rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import polars as pl

if TYPE_CHECKING:
    from lake.catalog.model import Catalog, DataElement


@dataclass(frozen=True)
class Standardized:
    """A rule's result: one Struct expression with (at least) the fields ``value`` and ``valid``.

    Rules may leave their named intermediate steps in the struct as further fields.
    :func:`transforms.standardize.standardize` evaluates ``result`` once per column and then
    splits it; reading :attr:`value` and :attr:`valid` as two separate expressions evaluates it
    twice, which is fine for tests and small frames.
    """

    result: pl.Expr

    @property
    def value(self) -> pl.Expr:
        """The normalized, typed value; NULL when missing."""
        return self.result.struct.field("value")

    @property
    def valid(self) -> pl.Expr:
        """Validity flag; NULL when missing, else TRUE or FALSE."""
        return self.result.struct.field("valid")


@dataclass(frozen=True)
class RuleContext:
    """What rules may consult besides the raw value.

    ``as_of`` is the reference date for "not in the future" checks (pass the batch date, not
    today, so a rebuild gives the same flags). ``divisions`` holds the valid 6-digit GB/T 2260
    codes.
    """

    catalog: Catalog
    as_of: dt.date
    divisions: frozenset[str]
    #: Codes a resident ID may carry: current ones plus every abolished county code.
    id_address_codes: frozenset[str] = frozenset()

    @classmethod
    def from_catalog(cls, catalog: Catalog, as_of: dt.date) -> RuleContext:
        """Context with the shipped GB/T 2260 list (levels 1–3, MCA ``Xzqh20251231``).

        >>> from lake.catalog import load_catalog
        >>> RuleContext.from_catalog(load_catalog(), dt.date(2026, 1, 1)).as_of
        datetime.date(2026, 1, 1)
        """
        from lake.reference import divisions, historic_division_codes

        current = frozenset(divisions()["code"].to_list())
        return cls(
            catalog=catalog, as_of=as_of, divisions=current,
            id_address_codes=current | historic_division_codes(),
        )


class Rule(Protocol):
    """A standardization rule: raw text expression in, :class:`Standardized` out."""

    def __call__(
        self, raw: pl.Expr, element: DataElement, context: RuleContext
    ) -> Standardized: ...


# --- text primitives -------------------------------------------------------------------

#: Full-width forms U+FF01–U+FF5E and their ASCII counterparts (code point − 0xFEE0),
#: plus the ideographic space U+3000 → " ".
FULL_WIDTH = [chr(code) for code in range(0xFF01, 0xFF5F)] + ["\u3000"]
HALF_WIDTH = [chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)] + [" "]
_FOLD_TABLE = str.maketrans(dict(zip(FULL_WIDTH, HALF_WIDTH, strict=True)))

#: Characters that count as whitespace besides Unicode White_Space (``\s`` in Polars' regex
#: engine, which already includes U+3000 and U+00A0): zero-width space/joiners, word joiner, BOM.
_INVISIBLE = r"\u200b-\u200d\u2060\ufeff"
WHITESPACE = rf"[\s{_INVISIBLE}]"
BLANK = rf"^{WHITESPACE}*$"


def fold_width(text: pl.Expr) -> pl.Expr:
    """Fold full-width ASCII forms (０-９, Ａ-Ｚ, ａ-ｚ, punctuation) and U+3000 to half width."""
    return text.str.replace_many(FULL_WIDTH, HALF_WIDTH)


def fold_width_text(text: str) -> str:
    """The same folding as :func:`fold_width`, for Python strings (code-table keys)."""
    return text.translate(_FOLD_TABLE)


def strip_whitespace(text: pl.Expr) -> pl.Expr:
    """Remove every whitespace character, leading, trailing and internal."""
    return text.str.replace_all(WHITESPACE, "")


def trim(text: pl.Expr) -> pl.Expr:
    """Remove leading and trailing whitespace (incl. zero-width characters)."""
    return text.str.replace_all(rf"^{WHITESPACE}+|{WHITESPACE}+$", "")


def compact(raw: pl.Expr) -> pl.Expr:
    """The usual normalization of codes and numbers: fold width, drop all whitespace, upper-case."""
    return strip_whitespace(fold_width(raw)).str.to_uppercase()


def is_missing(raw: pl.Expr) -> pl.Expr:
    """TRUE when the raw value is NULL or only whitespace."""
    return raw.is_null() | raw.str.contains(BLANK)


def steps(first: dict[str, pl.Expr], *then: dict[str, pl.Expr]) -> pl.Expr:
    """Chain named steps into one Struct expression; each step reads earlier ones as ``pl.field(name)``.

    >>> import polars as pl
    >>> chain = steps({"text": pl.col("raw").str.strip_chars()}, {"size": pl.field("text").str.len_chars()})
    >>> pl.DataFrame({"raw": [" ab "]}).select(chain.struct.field("size")).item()
    2
    """
    chain = pl.struct([expr.alias(name) for name, expr in first.items()])
    for step in then:
        chain = chain.struct.with_fields([expr.alias(name) for name, expr in step.items()])
    return chain


def finish(raw: pl.Expr, chain: pl.Expr) -> Standardized:
    """Wrap a :func:`steps` chain ending in ``value`` and ``valid`` fields as a :class:`Standardized`.

    Applies the missing-value invariant: a blank ``raw`` gives a NULL value and a NULL flag, and
    otherwise a NULL flag becomes FALSE.
    """
    settled = chain.struct.with_fields(valid=pl.field("valid").fill_null(False))
    return Standardized(result=pl.when(~is_missing(raw)).then(settled))
