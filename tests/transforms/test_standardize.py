"""The rule registry and the frame-level :func:`standardize` entry point.

The rules themselves are tested in ``tests/transforms/rules/``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from govlake.errors import ConfigError, ContractError, NotFound
from lake.catalog import Catalog, DataElement, load_catalog
from lake.catalog.load import KNOWN_RULES
from transforms.standardize import RULES, VALID_SUFFIX, RuleContext, rule_for, standardize

AS_OF = dt.date(2026, 1, 1)
#: A blank in every spelling departments use: empty, spaces, U+3000, tab, zero-width space.
BLANKS = [None, "", " ", "\u3000", " \t\u3000 ", "\u200b"]
#: Output type of each rule.
DTYPES: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "year": pl.Int32(),
    "integer": pl.Int64(),
    "decimal": pl.Float64(),
    "longitude": pl.Float64(),
    "latitude": pl.Float64(),
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def context(catalog: Catalog) -> RuleContext:
    return RuleContext.from_catalog(catalog, AS_OF)


def test_one_rule_per_known_rule_id() -> None:
    assert set(RULES) == KNOWN_RULES


def test_every_element_has_a_rule(catalog: Catalog) -> None:
    for element in catalog.elements.values():
        assert rule_for(element) is RULES[element.rule]


def test_unknown_rule_is_a_config_error() -> None:
    element = DataElement(id="odd", name="怪", type="C", length=1, rule="resident_idd")
    with pytest.raises(ConfigError, match="did you mean 'resident_id'"):
        rule_for(element)


def test_context_holds_the_reference_divisions(context: RuleContext) -> None:
    assert {"110101", "330106", "330000", "810000"} <= context.divisions
    assert len(context.divisions) == 33 + 333 + 2845
    assert context.as_of == AS_OF


@pytest.mark.parametrize("element_id", sorted(load_catalog().elements))
def test_missing_is_null_and_present_is_never_null(
    catalog: Catalog, context: RuleContext, element_id: str
) -> None:
    element = catalog.element(element_id)
    result = rule_for(element)(pl.col("raw"), element, context)
    raws = [*BLANKS, "garbage ✗", "0", "２０２０年１月２日"]
    out = pl.DataFrame({"raw": raws}, schema={"raw": pl.String}).select(
        result.value.alias("value"), result.valid.alias("valid")
    )
    assert out.schema["valid"] == pl.Boolean
    assert out.schema["value"] == DTYPES.get(element.rule, pl.String())
    blanks, present = out.head(len(BLANKS)), out.tail(len(raws) - len(BLANKS))
    assert blanks.null_count().row(0) == (len(BLANKS), len(BLANKS))
    assert present["valid"].null_count() == 0


def test_rules_are_plain_polars_expressions(catalog: Catalog, context: RuleContext) -> None:
    """No Python UDF anywhere in a standardization plan."""
    for dataset in catalog.datasets.values():
        frame = pl.LazyFrame({column: ["x"] for column in dataset.columns})
        plan = standardize(frame, dataset, context).explain(optimized=False).lower()
        assert "python" not in plan and "map_elements" not in plan and "udf" not in plan, dataset.id


def _raw(columns: list[str], rows: list[dict[str, str | None]]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema=dict.fromkeys(columns, pl.String))


def test_standardizes_a_hukou_frame(catalog: Catalog, context: RuleContext) -> None:
    dataset = catalog.dataset("hukou")
    rows = [
        {"resident_id": " 44030519880808008x ", "name": "张　三", "sex": "男", "birth_date": "1988年8月8日",
         "ethnicity": "1", "hukou_division": "440305000000", "hukou_address": " 深圳市南山区  科技园 ",
         "residence_division": "440305", "marital_status": "已婚", "person_status": "在册",
         "deregistered_date": "", "phone": "+86 138-0000-0000", "updated_at": "20251231"},
        {"resident_id": "440305880808008", "name": "李四2", "sex": "F", "birth_date": "1988-02-30",
         "ethnicity": None, "hukou_division": "999999", "hukou_address": None, "residence_division": None,
         "marital_status": "离异", "person_status": "死亡", "deregistered_date": "2020.1.2",
         "phone": "8888", "updated_at": None},
    ]
    frame = _raw(dataset.columns, rows).with_columns(
        pl.lit("b-1").alias("_batch_id"), pl.lit("公安_户籍人口_1.csv").alias("_source_file")
    )
    out = standardize(frame, dataset, context).collect()

    expected_columns = [c for column in dataset.columns for c in (column, column + VALID_SUFFIX)]
    assert out.columns == [*expected_columns, "_batch_id", "_source_file"]
    assert out["_batch_id"].to_list() == ["b-1", "b-1"]
    assert out["_source_file"].to_list() == ["公安_户籍人口_1.csv"] * 2
    assert out.schema["birth_date"] == pl.Date
    assert all(out.schema[c + VALID_SUFFIX] == pl.Boolean for c in dataset.columns)
    first, second = out.row(0, named=True), out.row(1, named=True)
    assert first == {
        "resident_id": "44030519880808008X", "resident_id__valid": True,
        "name": "张三", "name__valid": True,
        "sex": "1", "sex__valid": True,
        "birth_date": dt.date(1988, 8, 8), "birth_date__valid": True,
        "ethnicity": "01", "ethnicity__valid": True,
        "hukou_division": "440305", "hukou_division__valid": True,
        "hukou_address": "深圳市南山区 科技园", "hukou_address__valid": True,
        "residence_division": "440305", "residence_division__valid": True,
        "marital_status": "20", "marital_status__valid": True,
        "person_status": "1", "person_status__valid": True,
        "deregistered_date": None, "deregistered_date__valid": None,
        "phone": "13800000000", "phone__valid": True,
        "updated_at": dt.date(2025, 12, 31), "updated_at__valid": True,
        "_batch_id": "b-1", "_source_file": "公安_户籍人口_1.csv",
    }
    assert second["resident_id"] == "44030519880808008X"  # 15 → 18 digits
    assert second["resident_id__valid"] is True
    assert (second["name"], second["name__valid"]) == ("李四2", False)
    assert (second["sex"], second["sex__valid"]) == ("2", True)
    assert (second["birth_date"], second["birth_date__valid"]) == (None, False)
    assert (second["ethnicity"], second["ethnicity__valid"]) == (None, None)
    assert second["hukou_division__valid"] is False
    assert (second["marital_status"], second["marital_status__valid"]) == ("离异", False)
    assert second["deregistered_date"] == dt.date(2020, 1, 2)
    assert second["phone__valid"] is False
    assert second["updated_at__valid"] is None


def test_columns_limits_the_work(catalog: Catalog, context: RuleContext) -> None:
    dataset = catalog.dataset("hukou")
    frame = _raw(dataset.columns, [{"resident_id": "330106199003071236", "sex": "男", "name": " 张三 "}])
    out = standardize(frame, dataset, context, columns=["sex", "resident_id"]).collect()
    assert out.columns[:3] == ["resident_id", "resident_id__valid", "name"]
    assert out.row(0, named=True)["name"] == " 张三 "  # untouched
    assert out.row(0, named=True)["sex"] == "1"
    assert "name__valid" not in out.columns


def test_non_text_raw_columns_are_read_as_text(catalog: Catalog, context: RuleContext) -> None:
    dataset = catalog.dataset("tax_credit")
    year = next(item.column for item in dataset.items if item.element == "year")
    frame = pl.LazyFrame({year: [2023, None]})
    out = standardize(frame, dataset, context, columns=[year]).collect()
    assert out.rows() == [(2023, True), (None, None)]


def test_every_dataset_standardizes(catalog: Catalog, context: RuleContext) -> None:
    for dataset in catalog.datasets.values():
        frame = _raw(dataset.columns, [dict.fromkeys(dataset.columns, "１"), dict.fromkeys(dataset.columns)])
        out = standardize(frame, dataset, context).collect()
        assert out.height == 2
        assert out.row(1) == (None,) * out.width, dataset.id


def test_unknown_column_is_not_found(catalog: Catalog, context: RuleContext) -> None:
    dataset = catalog.dataset("hukou")
    with pytest.raises(NotFound, match="did you mean 'resident_id'"):
        standardize(_raw(dataset.columns, []), dataset, context, columns=["resident_idd"])


def test_missing_column_is_a_contract_error(catalog: Catalog, context: RuleContext) -> None:
    dataset = catalog.dataset("hukou")
    frame = _raw([c for c in dataset.columns if c != "phone"], [])
    with pytest.raises(ContractError, match="'phone'") as raised:
        standardize(frame, dataset, context)
    assert raised.value.columns == ["phone"]


def test_refuses_to_standardize_twice(catalog: Catalog, context: RuleContext) -> None:
    dataset = catalog.dataset("hukou")
    once = standardize(_raw(dataset.columns, []), dataset, context, columns=["sex"])
    with pytest.raises(ContractError, match="sex__valid"):
        standardize(once, dataset, context, columns=["sex"])
