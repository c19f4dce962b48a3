"""The shipped catalog loads, and each validation rule names the file, the key and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from govlake.errors import ConfigError
from lake.catalog.load import RESOURCE_CODE, load_catalog, uscc_is_valid
from lake.catalog.model import GRADE_LABELS

if TYPE_CHECKING:  # the fixture lives in this folder's conftest.py
    from tests.lake.catalog.conftest import CatalogCopy


def test_shipped_catalog_loads() -> None:
    catalog = load_catalog()
    assert len(catalog.datasets) == 13
    assert catalog.dataset("hukou").provider.short_name == "公安"
    assert catalog.dataset("101001/00001").id == "hukou"
    codes = [d.code for d in catalog.datasets.values()]
    assert len(set(codes)) == len(codes)
    for dataset in catalog.datasets.values():
        assert RESOURCE_CODE.match(dataset.code)
        assert len(dataset.classification) == 3
        assert dataset.grade in GRADE_LABELS
        assert set(dataset.key) <= set(dataset.columns)
        assert all(code in codes for code in dataset.related)
        for item in dataset.items:
            element = catalog.element(item.element)
            if element.code_table:
                assert element.code_table in catalog.code_tables
    assert all(uscc_is_valid(d.code) for d in catalog.departments.values())


def test_shipped_catalog_is_loaded_once() -> None:
    assert load_catalog() is load_catalog()


def test_unchanged_copy_loads(catalog_copy: CatalogCopy) -> None:
    assert set(catalog_copy.load().datasets) == set(load_catalog().datasets)


HUKOU = "catalog/datasets/hukou.toml"
TAX_CREDIT = "catalog/datasets/tax_credit.toml"
HUKOU_SHARE = (
    'share = { type = "conditional", conditions = "仅限履行法定职责所必需，需注明用途与法律依据，'
    '经公安机关审核同意", method = "库表" }'
)

#: (rule, file, old text, new text, fragments the message must contain: file + key, bad value, fix)
BROKEN = [
    ("bad resource code", HUKOU, 'code = "101001/00001"', 'code = "10101/00001"',
     ["hukou.toml: code", "'10101/00001'", "类(1)项(2)目(3)/顺序(5)", "101001/00001"]),
    ("duplicate code", "catalog/datasets/births.toml", 'code = "101002/00001"', 'code = "101001/00001"',
     ["hukou.toml: code", "'101001/00001'", "births.toml", "next free sequence number"]),
    ("code not in classification", HUKOU, 'code = "101001/00001"', 'code = "101009/00001"',
     ["hukou.toml: code", "'101009'", "classification.toml", "add it there or fix the code"]),
    ("unknown provider", HUKOU, 'provider = "public_security"', 'provider = "public_securty"',
     ["hukou.toml: provider", "'public_securty'", "departments.toml", "did you mean 'public_security'"]),
    ("unknown data element", HUKOU, 'element = "resident_id", required', 'element = "resident_idd", required',
     ["hukou.toml: items[0] (resident_id)", "'resident_idd'", "did you mean 'resident_id'",
      "data_elements.toml"]),
    ("key not an item", HUKOU, 'key = ["resident_id"]', 'key = ["resident_idx"]',
     ["hukou.toml: key", "'resident_idx'", "did you mean 'resident_id'", "columns of items"]),
    ("bad grade", HUKOU, 'grade = "important"', 'grade = "importent"',
     ["hukou.toml: grade", "'importent'", "core, important, general", "did you mean 'important'"]),
    ("bad item grade", HUKOU, 'pi = "personal", description = "联系电话"',
     'pi = "personal", grade = "secret", description = "联系电话"',
     ["hukou.toml: items[11] (phone)", "'secret'", "core, important, general"]),
    ("bad share type", HUKOU, 'type = "conditional"', 'type = "conditonal"',
     ["hukou.toml: share", "share.type 'conditonal'", "did you mean 'conditional'"]),
    ("bad pi value", HUKOU, 'column = "phone", source = "联系电话", element = "phone", pi = "personal"',
     'column = "phone", source = "联系电话", element = "phone", pi = "private"',
     ["hukou.toml: items[11] (phone)", "pi 'private'", "none, personal, sensitive"]),
    ("conditional share without conditions", HUKOU, HUKOU_SHARE,
     'share = { type = "conditional", method = "库表" }',
     ["hukou.toml: share", "conditional share", "add share.conditions"]),
    ("duplicate column", TAX_CREDIT, '{ column = "rated_date"', '{ column = "rating_year"',
     ["tax_credit.toml: items[4] (rating_year)", "'rating_year' appears twice", "its own column name"]),
    ("duplicate source header", TAX_CREDIT, 'source = "评定日期"', 'source = "评价年度"',
     ["tax_credit.toml: items[4] (rated_date)", "'评价年度' appears twice", "one header"]),
    ("bad department USCC check character", "catalog/departments.toml",
     'code = "11100000000013127D"', 'code = "11100000000013127E"',
     ["departments.toml: [public_security]", "'11100000000013127E'", "GB 32100", "should be 'D'"]),
    ("department USCC of bad length", "catalog/departments.toml",
     'code = "11100000000013127D"', 'code = "1110000000001312"',
     ["departments.toml: [public_security]", "'1110000000001312'", "check its length"]),
    ("code table alias collision", "standards/code_tables/sex.csv",
     "2,女性,女|F|female", "2,女性,女|F|female|男",
     ["sex.csv", "line 4", "'男'", "'1' and '2'", "remove or change one"]),
    ("unknown rule", "standards/data_elements.toml", 'rule = "resident_id"', 'rule = "residentid"',
     ["data_elements.toml: [resident_id]", "'residentid'", "did you mean 'resident_id'", "rules are"]),
    ("unknown code table", "standards/data_elements.toml", 'code_table = "sex"', 'code_table = "gender"',
     ["data_elements.toml: [sex]", "'gender'", "standards/code_tables"]),
    ("unknown element type", "standards/data_elements.toml", 'type = "G"', 'type = "X"',
     ["data_elements.toml: [geometry]", "'X'", "docs/catalog.md"]),
    ("unknown dataset key", HUKOU, 'encoding = "gbk"', 'encodng = "gbk"',
     ["hukou.toml: encodng", "did you mean 'encoding'", "docs/catalog.md"]),
    ("unknown encoding", HUKOU, 'encoding = "gbk"', 'encoding = "gbkk"',
     ["hukou.toml: encoding", "'gbkk'", "gb18030"]),
    ("unknown item key", HUKOU, 'pi = "personal", description = "联系电话"',
     'pi = "personal", masking = "phone", description = "联系电话"',
     ["hukou.toml: items[11] (phone)", "'masking'", "item keys are"]),
    ("bad format", HUKOU, 'format = "csv"', 'format = "xlsx"',
     ["hukou.toml: format", "'xlsx'", "csv, jsonl, parquet"]),
    ("logical access for a file", HUKOU, 'access = "physical"', 'access = "logical"',
     ["hukou.toml: access", "sqlite", "access = \"physical\""]),
    ("unknown related code", HUKOU, '"101002/00002"]', '"101002/00009"]',
     ["hukou.toml: related", "'101002/00009'", "did you mean '101002/00002'"]),
    ("id and file name differ", HUKOU, 'id = "hukou"', 'id = "household"',
     ["hukou.toml", "'household'", "rename the file"]),
    ("classification code of wrong length", "catalog/classification.toml",
     "[classes.1.items.01]", "[classes.1.items.1]",
     ["classification.toml: [classes.1.items.1]", "'1'", "2 digit"]),
    ("classification without name", "catalog/classification.toml", 'name = "人口"\n', "",
     ["classification.toml: [classes.1.items.01]", "'name'"]),
    ("not valid TOML", HUKOU, 'name = "户籍人口信息"', 'name = "户籍人口信息',
     ["hukou.toml", "not valid TOML"]),
    ("missing required key", HUKOU, 'update_cycle = "daily"\n', "",
     ["hukou.toml: update_cycle", "missing required key", "daily"]),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "fragments"),
    [pytest.param(*case[1:], id=case[0]) for case in BROKEN],
)
def test_validation_error_names_file_key_and_fix(
    catalog_copy: CatalogCopy, file: str, old: str, new: str, fragments: list[str]
) -> None:
    catalog_copy.edit(file, old, new)
    with pytest.raises(ConfigError) as caught:
        catalog_copy.load()
    message = str(caught.value)
    assert caught.value.location, "a ConfigError names its file and key"
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_uscc_check() -> None:
    assert uscc_is_valid("11100000000013127D")
    assert not uscc_is_valid("11100000000013127E")
    assert not uscc_is_valid("1110000000001312")
    assert not uscc_is_valid("11100000000013127I")  # I is not in the GB 32100 alphabet
