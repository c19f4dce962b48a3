"""Rules that map values onto a code list: code tables, GB/T 4754 industries, departments, GB/T 2260."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

from govlake.errors import ConfigError
from transforms.rules.base import RuleContext, Standardized, compact, finish, fold_width_text, steps

if TYPE_CHECKING:
    from lake.catalog.model import CodeTable, DataElement

_INDUSTRY_CODE = re.compile(r"^[A-T]\d{2}$")
#: Optional section letter, 2-digit division, optional group/class digits (I6510, 651, 65).
_INDUSTRY_TEXT = r"^(?P<section>[A-T])?(?P<division>\d{2})\d{0,2}$"
_DIVISION_TEXT = r"^(?:\d{6}|\d{9}|\d{12})$"
TEXT, MAPPED, VALUE = pl.field("text"), pl.field("mapped"), pl.field("value")


def spelling_key(spelling: str) -> str:
    """How a spelling is compared: full width folded, whitespace removed, upper case.

    Mirrors :func:`transforms.rules.base.compact` for Python strings.
    """
    return "".join(fold_width_text(spelling).split()).upper()


def code_spellings(table: CodeTable) -> dict[str, str]:
    """Every accepted spelling of a code table (by :func:`spelling_key`) → canonical code.

    Adds to the table's own aliases (code, name, aliases) the unpadded form of zero-padded
    numeric codes (``1`` for ethnicity ``01``), which spreadsheets produce.
    """
    spellings: dict[str, str] = {}
    for spelling, code in table.aliases.items():
        key = spelling_key(spelling)
        previous = spellings.setdefault(key, code)
        if previous != code:
            raise ConfigError(
                f"spellings {key!r} mean both {previous!r} and {code!r} once width and case are "
                "ignored; remove one of the aliases",
                location=f"code table {table.id!r}",
            )
    widths = {len(code) for code in table.codes}
    if len(widths) == 1 and widths != {1} and all(code.isdigit() for code in table.codes):
        for code in table.codes:
            spellings.setdefault(code.lstrip("0") or "0", code)
    return spellings


def _table_of(element: DataElement, context: RuleContext) -> CodeTable:
    if element.code_table is None:
        raise ConfigError(
            f"rule {element.rule!r} needs a code_table; add one to the element",
            location=f"lake/standards/data_elements.toml: [{element.id}]",
        )
    return context.catalog.code_table(element.code_table)


def _lookup(text: pl.Expr, spellings: dict[str, str]) -> pl.Expr:
    return text.replace_strict(spellings, default=None, return_dtype=pl.String)


def _mapped(raw: pl.Expr, *middle: dict[str, pl.Expr]) -> Standardized:
    """Finish a lookup: the compacted raw value as ``text``, then ``middle``, then value and flag.

    The ``middle`` steps read ``text`` and must end with the field ``mapped``: the canonical
    code, or NULL when the spelling is unknown.
    """
    chain = steps(
        {"text": compact(raw)},
        *middle,
        {"value": pl.coalesce(MAPPED, TEXT), "valid": MAPPED.is_not_null()},
    )
    return finish(raw, chain)


def code(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A value from the element's code table (sex GB/T 2261.1, marital status, ethnicity...).

    Accepts the canonical code, the name or any alias of the table (``男``, ``男性``, ``1``,
    ``M`` → ``1``; ``已婚``, ``有配偶`` → ``20``; ``存续``, ``在营`` → ``1``), ignoring width,
    whitespace and case, and zero-padded numeric codes without their padding (``1`` → ``01``).
    Normalizes to: the canonical code, ``String``.
    Invalid when no spelling matches; the value is then the folded, upper-cased text.
    """
    return _mapped(raw, {"mapped": _lookup(TEXT, code_spellings(_table_of(element, context)))})


def industry_divisions(table: CodeTable) -> dict[str, str]:
    """2-digit GB/T 4754 division → code with its section letter (``65`` → ``I65``)."""
    bad = [code for code in table.codes if not _INDUSTRY_CODE.match(code)]
    if bad:
        raise ConfigError(
            f"industry codes must be a section letter and a 2-digit division like 'I65'; got {bad[0]!r}",
            location=f"code table {table.id!r}",
        )
    return {code[1:]: code for code in table.codes}


def industry_code(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A GB/T 4754-2017 industry, kept at division level (门类 letter + 2-digit 大类).

    Accepts ``I6510``, ``6510``, ``I651``, ``I65``, ``65`` (in full width, lower case or with
    spaces) and the division names and aliases in the code table (``软件和信息技术服务业``).
    Normalizes to: the division code of the table, e.g. ``I65``; group and class digits are
    dropped and a missing section letter is derived from the division. Type ``String``.
    Invalid when the division does not exist or the given letter is not its section
    (``A65``); the value is then the folded, upper-cased text.
    """
    table = _table_of(element, context)
    section, by_division = pl.field("section"), pl.field("by_division")
    return _mapped(
        raw,
        {"parts": TEXT.str.extract_groups(_INDUSTRY_TEXT)},
        {
            "section": pl.field("parts").struct.field("section"),
            "by_division": _lookup(pl.field("parts").struct.field("division"), industry_divisions(table)),
        },
        {
            "mapped": pl.coalesce(
                _lookup(TEXT, code_spellings(table)),
                pl.when(section.is_null() | (section == by_division.str.slice(0, 1))).then(by_division),
            )
        },
    )


def department_id(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """A provider department, as named in ``lake/catalog/departments.toml``.

    Accepts the department id (``public_security``), full name (``公安部``), short name
    (``公安``) or unified social credit code, ignoring width, whitespace and case.
    Normalizes to: the department id, ``String``.
    Invalid when no department matches; the value is then the folded, upper-cased text.
    """
    spellings: dict[str, str] = {}
    for department in context.catalog.departments.values():
        for spelling in (department.id, department.name, department.short_name, department.code):
            spellings.setdefault(spelling_key(spelling), department.id)
    return _mapped(raw, {"mapped": _lookup(TEXT, spellings)})


def division_code(raw: pl.Expr, element: DataElement, context: RuleContext) -> Standardized:
    """An administrative division code (GB/T 2260), province, prefecture or county level.

    Accepts 6-digit codes, and 9-digit township (GB/T 10114) or 12-digit NBS statistical codes
    (统计用区划代码), of which the FIRST SIX digits are taken whatever follows, so a village
    code yields its county. Full-width digits and spaces are accepted.
    Normalizes to: the 6-digit code, ``String`` (other text: folded, upper-cased).
    Valid when the 6-digit code is in the current reference list (MCA, as of 2025-12-31).
    Historic codes are not yet accepted.
    """
    chain = steps(
        {"text": compact(raw)},
        {"value": pl.when(TEXT.str.contains(_DIVISION_TEXT)).then(TEXT.str.slice(0, 6)).otherwise(TEXT)},
        {"valid": VALUE.is_in(sorted(context.divisions))},
    )
    return finish(raw, chain)
