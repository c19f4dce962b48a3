"""Code-table, industry, department and division rules."""

from __future__ import annotations

import pytest

from govlake.errors import ConfigError
from lake.catalog import Catalog, CodeTable
from tests.transforms.rules.conftest import Apply
from transforms.rules.codes import code_spellings, industry_divisions


@pytest.mark.parametrize(
    ("element", "raw", "value"),
    [
        ("sex", "男", "1"),
        ("sex", "女", "2"),
        ("sex", "男性", "1"),
        ("sex", "1", "1"),
        ("sex", "2", "2"),
        ("sex", "１", "1"),
        ("sex", " 女 ", "2"),
        ("sex", "M", "1"),
        ("sex", "male", "1"),
        ("sex", "Female", "2"),
        ("sex", "未说明", "9"),
        ("marital_status", "已婚", "20"),
        ("marital_status", "有配偶", "20"),
        ("marital_status", "20", "20"),
        ("marital_status", "未婚", "10"),
        ("entity_status", "存续", "1"),
        ("entity_status", "在营", "1"),
        ("entity_status", "存续（在营、开业、在册）", "1"),
        ("entity_status", "存续(在营、开业、在册)", "1"),
        ("ethnicity", "汉族", "01"),
        ("ethnicity", "01", "01"),
        ("ethnicity", "1", "01"),  # spreadsheets drop the padding
        ("ethnicity", "蒙古", "02"),
        ("tax_credit_grade", "a", "A"),
        ("tax_credit_grade", "Ａ级", "A"),
        ("penalty_type", "2", "02"),
        ("party_type", "法人", "1"),
    ],
)
def test_code_aliases(apply: Apply, element: str, raw: str, value: str) -> None:
    assert apply(element, [raw]) == [(value, True)]


@pytest.mark.parametrize(
    ("element", "raw", "value"),
    [
        ("sex", "x", "X"),
        ("sex", "3", "3"),
        ("marital_status", "2", "2"),  # not 20: only zero padding is implied
        ("ethnicity", "99", "99"),
        ("entity_status", "存 续 中", "存续中"),
    ],
)
def test_unknown_codes_are_invalid(apply: Apply, element: str, raw: str, value: str) -> None:
    assert apply(element, [raw]) == [(value, False)]


def test_every_spelling_of_every_table_maps_to_its_code(catalog: Catalog, apply: Apply) -> None:
    for element in catalog.elements.values():
        if element.rule != "code":
            continue
        assert element.code_table is not None
        table = catalog.code_table(element.code_table)
        spellings = list(table.aliases)
        assert apply(element.id, spellings) == [(table.aliases[s], True) for s in spellings], element.id


def test_conflicting_spellings_are_refused() -> None:
    table = CodeTable(id="demo", codes={"a": "甲", "A": "乙"}, aliases={"a": "a", "A": "A"})
    with pytest.raises(ConfigError, match="'A' mean both"):
        code_spellings(table)


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("I6510", "I65", True),
        ("6510", "I65", True),
        ("I651", "I65", True),
        ("I65", "I65", True),
        ("65", "I65", True),
        ("i6510", "I65", True),
        ("Ｉ６５１０", "I65", True),
        ("６５", "I65", True),
        (" I 65 10 ", "I65", True),
        ("01", "A01", True),
        ("A0111", "A01", True),
        ("软件和信息技术服务业", "I65", True),
        ("A65", "A65", False),  # 65 is in section I
        ("99", "99", False),
        ("I", "I", False),
        ("I65101", "I65101", False),
    ],
)
def test_industry_code(apply: Apply, raw: str, value: str, valid: bool) -> None:
    assert apply("industry_code", [raw]) == [(value, valid)]


def test_industry_divisions_cover_the_table(catalog: Catalog) -> None:
    divisions = industry_divisions(catalog.code_table("industry"))
    assert len(divisions) == 97  # 01–97
    assert divisions["65"] == "I65"
    sections = set(catalog.code_table("industry_section").codes)
    assert {code[0] for code in divisions.values()} == sections


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("330106", "330106", True),
        ("３３０１０６", "330106", True),
        (" 330 106 ", "330106", True),
        ("330100", "330100", True),  # prefecture level
        ("330000", "330000", True),  # province level
        ("441900", "441900", True),  # 东莞市, a prefecture city without counties
        ("330106000000", "330106", True),  # 12-digit NBS code
        ("330106001001", "330106", True),  # a village: its county
        ("330106001", "330106", True),  # 9-digit township code
        ("999999", "999999", False),
        ("110103", "110103", False),  # 崇文区, abolished 2010: historic codes not yet accepted
        ("33010", "33010", False),
        ("杭州市西湖区", "杭州市西湖区", False),
    ],
)
def test_division_code(apply: Apply, raw: str, value: str, valid: bool) -> None:
    assert apply("division_code", [raw]) == [(value, valid)]


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("public_security", "public_security", True),
        ("PUBLIC_SECURITY", "public_security", True),
        ("公安部", "public_security", True),
        ("公安", "public_security", True),
        (" 公 安 ", "public_security", True),
        ("11100000000013127D", "public_security", True),
        ("市场监管", "market_regulation", True),
        ("公安局", "公安局", False),
    ],
)
def test_department_id(apply: Apply, raw: str, value: str, valid: bool) -> None:
    assert apply("department_id", [raw]) == [(value, valid)]
