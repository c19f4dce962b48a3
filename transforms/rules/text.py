"""Rules for free text, names, opaque identifiers and GeoJSON geometries."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from transforms.rules.base import (
    WHITESPACE,
    RuleContext,
    Standardized,
    compact,
    finish,
    fold_width,
    steps,
    strip_whitespace,
    trim,
)

if TYPE_CHECKING:
    from lake.catalog.model import DataElement

#: Longest person name accepted, whatever a data element declares (person_name says 50).
NAME_MAX_CHARS = 50
#: Spellings of the middle dot that separates parts of transliterated names
#: (阿沛·阿旺晋美). ``．`` (U+FF0E) has become ``.`` by the time this applies.
MIDDLE_DOTS = ["・", "•", "‧", "∙", "⋅", "･", "﹒", "."]
_NAME = r"^[\p{Han}A-Za-z]+(?:·[\p{Han}A-Za-z]+)*$"
_GEOJSON_TYPE = r'"type"\s*:\s*"(?:Point|Polygon|MultiPolygon)"'
_GEOJSON_FEATURE = r'"type"\s*:\s*"Feature'
VALUE = pl.field("value")


def _within_length(element: DataElement) -> pl.Expr:
    if element.length <= 0:
        return pl.lit(True)
    return VALUE.str.len_chars() <= element.length


def text(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """Free text: names of organisations, addresses, case numbers, business scopes.

    Accepts any text. Normalizes to: full-width forms folded to half width (so ``（集团）``
    becomes ``(集团)``), leading and trailing whitespace removed, internal whitespace runs
    (incl. tabs, line breaks and U+3000) collapsed to one space. Type ``String``.
    Invalid when longer than the element's ``length`` characters.
    """
    value = trim(fold_width(raw)).str.replace_all(rf"{WHITESPACE}+", " ")
    return finish(raw, steps({"value": value}, {"valid": _within_length(element)}))


def identifier(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """An opaque identifier: certificate numbers, parcel codes, ICD-10 codes.

    Normalizes to: full-width folded, all whitespace removed, upper case. Type ``String``.
    Invalid when longer than the element's ``length`` characters or when it has no letter or
    digit at all (placeholders such as ``/`` or ``-``).
    """
    valid = _within_length(element) & VALUE.str.contains(r"[\p{L}\p{N}]")
    return finish(raw, steps({"value": compact(raw)}, {"valid": valid}))


def person_name(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A person's name (GA 214.1).

    Normalizes to: full-width folded, every whitespace character removed (also between
    given and family name, so ``Mary Jane`` becomes ``MaryJane``), and the middle-dot variants
    ``・ • ‧ ∙ ⋅ ･ ﹒ ．`` and ``.`` written as ``·`` (U+00B7). Type ``String``.
    Invalid unless it is 1–50 characters of Han characters (incl. 〇) and ASCII letters, with
    single ``·`` only between parts.
    """
    folded = strip_whitespace(fold_width(raw))
    value = folded.str.replace_many(MIDDLE_DOTS, ["·"] * len(MIDDLE_DOTS))
    limit = min(NAME_MAX_CHARS, element.length) if element.length > 0 else NAME_MAX_CHARS
    valid = VALUE.str.contains(_NAME) & (VALUE.str.len_chars() <= limit)
    return finish(raw, steps({"value": value}, {"valid": valid}))


def geometry(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A GeoJSON geometry (EPSG:4490), passed through for later parsing.

    Normalizes to: the text with leading and trailing whitespace removed; nothing else is
    touched. Type ``String``. Valid when it looks like a GeoJSON geometry object: it is
    ``{...}``, has ``"type": "Point"``, ``"Polygon"`` or ``"MultiPolygon"`` and
    ``"coordinates"``, and is not a Feature. This is a cheap string check; real parsing and
    topology checks happen later.
    """
    valid = (
        VALUE.str.starts_with("{")
        & VALUE.str.ends_with("}")
        & VALUE.str.contains(_GEOJSON_TYPE)
        & VALUE.str.contains('"coordinates"', literal=True)
        & ~VALUE.str.contains(_GEOJSON_FEATURE)
    )
    return finish(raw, steps({"value": trim(raw)}, {"valid": valid}))
