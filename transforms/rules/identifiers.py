"""Rules for party identifiers (GB 11643 resident ID, GB 32100 USCC) and phone numbers.

Check characters are computed vectorized by :func:`weighted_sum`. The tests check every
result against python-stdnum, which is the oracle and is never called here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from transforms.rules.base import RuleContext, Standardized, compact, finish, fold_width, steps

if TYPE_CHECKING:
    from lake.catalog.model import DataElement


def _byte_values(values: dict[str, int]) -> pl.Series:
    """Lookup table byte (ASCII code) → character value; 0 for other bytes."""
    return pl.Series([values.get(chr(byte), 0) for byte in range(256)], dtype=pl.Int32)


def weighted_sum(body: pl.Expr, values: pl.Series, weights: tuple[int, ...]) -> pl.Expr:
    """Σ values[byte_i] · weights[i] over the bytes of ``body``; NULL unless it has len(weights) bytes.

    The string is read as a fixed-size array of bytes, flattened, mapped through
    the ``values`` lookup table and folded back into rows. ``body`` appears once in the
    expression, which matters: Polars' common-subexpression elimination does not reach
    into nested repeats, so 17 per-position reads (``str.slice``, ``bin.get``) of a derived
    column would recompute it 17 times.
    """
    size = len(weights)
    octets = body.cast(pl.Binary).bin.reinterpret(dtype=pl.Array(pl.UInt8, size))
    padding = pl.lit(pl.Series([[0] * size], dtype=pl.Array(pl.UInt8, size)))
    per_char = pl.lit(values).gather(octets.fill_null(padding).explode()).reshape((-1, size))
    total = (per_char * pl.lit(pl.Series([list(weights)], dtype=pl.Array(pl.Int32, size)))).arr.sum()
    return pl.when(octets.is_not_null()).then(total)


# --- GB 11643-1999 resident identity number --------------------------------------------

#: ISO 7064 MOD 11-2 weights of body digits 1..17 (= 2^(18-i) mod 11).
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: Check character for S mod 11 = 0..10.
RESIDENT_ID_CHECK = "10X98765432"
#: Earliest birth date accepted in a resident ID.
EARLIEST_BIRTH = dt.date(1900, 1, 1)
_RESIDENT_ID = r"^\d{17}[0-9X]$"
_DIGIT_VALUES = _byte_values({str(digit): digit for digit in range(10)})
_FIRST_GENERATION = r"^\d{15}$"


def resident_id_check_char(body: pl.Expr) -> pl.Expr:
    """Check character (``0``–``9`` or ``X``) of a 17-digit body; NULL unless 17 bytes long."""
    total = weighted_sum(body, _DIGIT_VALUES, RESIDENT_ID_WEIGHTS)
    return (total % 11).replace_strict(
        range(11), list(RESIDENT_ID_CHECK), default=None, return_dtype=pl.String
    )


def resident_id_steps(raw: pl.Expr, context: RuleContext) -> pl.Expr:
    """The resident-ID chain (ending in ``value`` and ``valid``), before the missing-value invariant."""
    cleaned, first_generation = pl.field("cleaned"), pl.field("first_generation")
    body, check, value = pl.field("body"), pl.field("check"), pl.field("value")
    birth = value.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    return steps(
        {"cleaned": compact(raw)},
        {"first_generation": cleaned.str.contains(_FIRST_GENERATION)},
        {
            "body": pl.when(first_generation)
            .then(pl.concat_str(cleaned.str.slice(0, 6), pl.lit("19"), cleaned.str.slice(6, 9)))
            .otherwise(cleaned.str.slice(0, 17))
        },
        {"check": resident_id_check_char(body)},
        {"value": pl.when(first_generation).then(body + check).otherwise(cleaned)},
        {
            "valid": value.str.contains(_RESIDENT_ID)
            & (value.str.slice(17, 1) == check)
            & birth.is_between(pl.lit(EARLIEST_BIRTH), pl.lit(context.as_of))
            # Sequence 000 is never assigned; stdnum accepts it.
            & (value.str.slice(14, 3) != "000")
            # The county where the number was first assigned: a current code (MCA list as of
            # 2025-12-31, levels 1–3, so also 810000/820000 used by Hong Kong and Macau
            # residence permits) or an abolished one (e.g. 110103 崇文区, abolished 2010).
            & value.str.slice(0, 6).is_in(sorted(context.id_address_codes or context.divisions))
        },
    )


def resident_id(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """Resident identity number (公民身份号码, GB 11643-1999).

    Accepts 18-character IDs with any whitespace (incl. U+3000), full-width digits and a
    lower-case or full-width ``x``, and 15-digit first-generation IDs.
    Normalizes to: 18 upper-case characters; a 15-digit ID is upgraded by inserting ``19``
    before its 2-digit birth year and appending the computed check character. Type ``String``.
    Valid when it is 17 digits plus ``[0-9X]``; the ISO 7064 MOD 11-2 check character is right;
    the birth date is a calendar date from 1900-01-01 to ``context.as_of``; the sequence is
    not ``000``; and the first six digits are a current GB/T 2260 code (historic codes are not
    yet accepted).
    """
    return finish(raw, resident_id_steps(raw, context))


# --- GB 32100-2015 unified social credit code ------------------------------------------

#: The 31 characters of a USCC, value = index (no I, O, S, V, Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: GB/T 17710 MOD 31 weights of positions 1..17 (= 3^i mod 31).
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
#: Position 1 is the registering authority (1–9, A 军队, N 农业, Y 其他); position 2 the
#: organisation type (a digit); positions 3–8 the registering authority's division code.
_USCC = rf"^[1-9ANY]\d{{7}}[{USCC_ALPHABET}]{{10}}$"
_USCC_VALUES = _byte_values({char: value for value, char in enumerate(USCC_ALPHABET)})


def uscc_check_char(body: pl.Expr) -> pl.Expr:
    """Check character of a 17-character USCC body (MOD 31); NULL unless 17 bytes long."""
    total = weighted_sum(body, _USCC_VALUES, USCC_WEIGHTS)
    return ((31 - total % 31) % 31).replace_strict(
        range(31), list(USCC_ALPHABET), default=None, return_dtype=pl.String
    )


def uscc_steps(raw: pl.Expr) -> pl.Expr:
    """The USCC chain (ending in ``value`` and ``valid``), before the missing-value invariant."""
    value = pl.field("value")
    return steps(
        {"value": compact(raw)},
        {"check": uscc_check_char(value.str.slice(0, 17))},
        {"valid": value.str.contains(_USCC) & (value.str.slice(17, 1) == pl.field("check"))},
    )


def uscc(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """Unified social credit code (统一社会信用代码, GB 32100-2015).

    Accepts codes with whitespace, full-width characters and lower case.
    Normalizes to: 18 upper-case characters. Type ``String``.
    Valid when position 1 is ``1``–``9``, ``A``, ``N`` or ``Y`` (stdnum wrongly rejects the
    letters), positions 2–8 are digits, positions 9–18 are in
    ``0123456789ABCDEFGHJKLMNPQRTUWXY`` and the MOD 31 check character is right.
    """
    return finish(raw, uscc_steps(raw))


def party_id(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """The code of a party to an administrative act: a resident ID for a person, else a USCC.

    Normalizes as :func:`resident_id` when that gives a valid ID (so 15-digit IDs are upgraded),
    otherwise as :func:`uscc` (fold, strip, upper case). Type ``String``.
    Valid when it is a valid resident ID or a valid USCC. A 15-digit value that is not a
    valid first-generation ID (e.g. an old business registration number, 注册号) is kept as
    is and flagged invalid.
    """
    person, organisation = pl.field("person"), pl.field("organisation")
    person_valid = person.struct.field("valid")
    chain = steps(
        {"person": resident_id_steps(raw, context), "organisation": uscc_steps(raw)},
        {
            "value": pl.when(person_valid)
            .then(person.struct.field("value"))
            .otherwise(organisation.struct.field("value")),
            "valid": person_valid | organisation.struct.field("valid"),
        },
    )
    return finish(raw, chain)


# --- phone numbers -----------------------------------------------------------------------

_SEPARATORS = r"[\s\-()]"
_MOBILE = r"^1[3-9]\d{9}$"
#: 0 + 2–3 digit area code + 7–8 digit local number.
_FIXED_LINE = r"^0[1-9]\d{8,10}$"


def phone(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A contact phone number, mainland China.

    Accepts digits with spaces, dashes and brackets (``0571-8888 8888``, ``(010)12345678``),
    full-width digits, and the country code ``+86``/``0086``/``86`` before a mobile number or
    ``+86``/``0086`` before a fixed line (whose trunk ``0`` is then restored).
    Normalizes to: digits only. Type ``String``.
    Valid when it is an 11-digit mobile number ``1[3-9]`` + 9 digits, or a fixed line with
    area code: ``0``, a non-zero digit, then 8–10 digits (10–12 digits in all). Local numbers
    without an area code, extensions and several numbers in one value are invalid.
    """
    value = (
        fold_width(raw)
        .str.replace_all(_SEPARATORS, "")
        .str.replace(r"^(?:\+|00)?86(1[3-9]\d{9})$", "${1}")
        .str.replace(r"^(?:\+|00)86([1-9]\d{8,10})$", "0${1}")
    )
    valid = pl.field("value").str.contains(_MOBILE) | pl.field("value").str.contains(_FIXED_LINE)
    return finish(raw, steps({"value": value}, {"valid": valid}))
