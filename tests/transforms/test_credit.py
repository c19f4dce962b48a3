"""The credit library: declared rules (loading and checks), fact rows, fact values and grades.

Sources are small hand-made department records passed through the real standardization, so
the step sees exactly what a build gives it. The reference date is fixed; windows are
checked at their edges.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from stdnum.cn import ric, uscc

from govlake.errors import ConfigError
from lake.catalog import load_catalog
from lake.catalog.credit_rules import (
    DOCS_FILE,
    RULES_FILE,
    docs_with_rules,
    load_credit_rules,
    load_credit_rules_from,
    main,
    rules_markdown,
)
from tests.transforms import factories
from transforms.context import BuildContext
from transforms.credit import (
    FACT_AGGREGATIONS,
    FACT_KINDS,
    FACT_SCHEMA,
    TABLES,
    apply_rules,
    clause_expr,
    credit,
    years_before,
)

AS_OF = dt.date(2026, 11, 20)
Rows = Sequence[Mapping[str, str | None]]


# --- helpers shared with test_e_licence.py ---------------------------------------------------


def make_uscc(body: str) -> str:
    """A valid USCC from a 17-character body, e.g. ``91330106MA2B00001``."""
    return body + uscc.calc_check_digit(body)


def make_resident_id(division: str, birth: str, sequence: str) -> str:
    """A valid resident ID, e.g. ``make_resident_id("330106", "19900307", "123")``."""
    body = division + birth + sequence
    return body + ric.calc_check_digit(body + "0")  # stdnum reads the first 17 of 18 characters


def make_context(
    sources: Mapping[str, Rows], outputs: Mapping[str, pl.DataFrame] | None = None, as_of: dt.date = AS_OF
) -> BuildContext:
    """A context whose ``standardized(id)`` gives ``sources[id]`` (raw text rows) after standardization."""
    return factories.make_context(sources, outputs, as_of=as_of)


# --- the world of the step test ---------------------------------------------------------------

E_DISHONEST = make_uscc("91330106MA2B00001")  # on the list, tax D, legal rep P_REP
E_TAX_A = make_uscc("91330106MA2B00002")  # A-rated, clean
E_OLD_PENALTY = make_uscc("91330106MA2B00003")  # penalties at the edges of the windows
E_REP_DISHONEST = make_uscc("91330106MA2B00004")  # legal rep P_DISHONEST is on the list
E_UNKNOWN = make_uscc("91330106MA2B00005")  # has a penalty, not in the legal-entity library
E_QUIET = make_uscc("92330106MA2B00006")  # in the library, no facts at all
P_REP = make_resident_id("330106", "19800101", "011")
P_DISHONEST = make_resident_id("330106", "19750505", "021")
P_REMOVED = make_resident_id("110101", "19851231", "046")
P_TRADER = make_resident_id("330108", "19900307", "031")  # 个体工商户 penalized under his resident ID


def legal_entities() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "uscc": [E_DISHONEST, E_TAX_A, E_OLD_PENALTY, E_REP_DISHONEST, E_QUIET],
            "entity_name": ["杭州甲公司", "杭州乙公司", "杭州丙公司", "杭州丁公司", "西湖区戊便利店"],
            "category": ["企业", "企业", "企业", "企业", "个体工商户"],
            "entity_type": ["1100"] * 5,
            "status": ["1"] * 5,
            "status_name": ["存续"] * 5,
            "legal_rep_id": [P_REP, None, None, P_DISHONEST, None],
            "legal_rep_name": ["赵一", None, None, "钱二", None],
            "industry_code": ["F51", "I65", "C13", "H62", "F52"],
            "industry_section": ["F", "I", "C", "H", "F"],
            "division": ["330106"] * 5,
            "province": ["33"] * 5,
        }
    )


def population() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "resident_id": [P_REP, P_DISHONEST, P_REMOVED],
            "name": ["赵一", "钱二", "孙三"],
            "alive": [True, True, True],
            "hukou_division": ["330106", "330106", "110101"],
        }
    )


def dishonest_rows() -> list[dict[str, str | None]]:
    case = {"debtor_type": "法人", "court": "西湖区人民法院", "court_division": "330106", "conduct": "违反财产报告制度",
            "performance": "全部未履行", "filed_date": "2024-01-01"}  # fmt: skip
    return [
        {**case, "case_no": "(2025)浙0106执1号", "debtor_name": "杭州甲公司", "debtor_id": E_DISHONEST,
         "published_date": "2025-03-01"},
        {**case, "case_no": "(2024)浙0106执2号", "debtor_name": "钱二", "debtor_id": P_DISHONEST,
         "debtor_type": "自然人", "published_date": "2024-06-01"},
        # removed three months ago: in the observation period
        {**case, "case_no": "(2023)京0101执3号", "debtor_name": "孙三", "debtor_id": P_REMOVED,
         "debtor_type": "自然人", "published_date": "2023-02-01", "removed_date": "2026-08-20"},
        # invalid identifier: kept as a fact, not in the subject tables
        {**case, "case_no": "(2026)浙0106执4号", "debtor_name": "某公司", "debtor_id": "91330106MA2B0000X0",
         "published_date": "2026-01-01"},
    ]  # fmt: skip


def penalty_rows() -> list[dict[str, str | None]]:
    common = {
        "party_type": "法人及非法人组织",
        "authority": "西湖区市场监督管理局",
        "authority_department": "market_regulation",
        "division": "330106",
        "violation_type": "虚假宣传",
    }
    return [
        {**common, "decision_no": "西湖市监罚〔2026〕1号", "party_name": "杭州甲公司", "party_id": E_DISHONEST,
         "penalty_type": "罚款", "fine_amount": "2.5", "decision_date": "2026-05-01"},
        # exactly one year before as_of: outside the 12-month window, inside 36 months
        {**common, "decision_no": "西湖市监罚〔2025〕2号", "party_name": "杭州丙公司", "party_id": E_OLD_PENALTY,
         "penalty_type": "警告", "decision_date": "2025-11-20"},
        # the day after: inside
        {**common, "decision_no": "西湖市监罚〔2025〕3号", "party_name": "杭州丙公司", "party_id": E_OLD_PENALTY,
         "penalty_type": "警告", "decision_date": "2025-11-21"},
        # in the future of as_of: not counted
        {**common, "decision_no": "西湖市监罚〔2026〕4号", "party_name": "杭州丙公司", "party_id": E_OLD_PENALTY,
         "penalty_type": "吊销许可证", "decision_date": "2026-12-01"},
        {**common, "decision_no": "西湖市监罚〔2026〕5号", "party_name": "杭州己公司", "party_id": E_UNKNOWN,
         "penalty_type": "暂扣或者吊销许可证、暂扣或者吊销执照", "decision_date": "2026-02-01"},
        {**common, "decision_no": "西湖市监罚〔2026〕6号", "party_name": "西湖区李记小吃", "party_id": P_TRADER,
         "party_type": "个体工商户", "penalty_type": "罚款", "fine_amount": "0.2", "decision_date": "2026-10-01"},
    ]  # fmt: skip


def licence_rows() -> list[dict[str, str | None]]:
    common = {
        "party_type": "法人",
        "authority": "西湖区市场监督管理局",
        "authority_department": "market_regulation",
        "licence_name": "食品经营许可证",
        "division": "330106",
    }
    return [
        {**common, "decision_no": "西湖市监许〔2024〕1号", "party_name": "杭州乙公司", "party_id": E_TAX_A,
         "decision_date": "2024-01-10", "valid_from": "2024-01-10", "valid_to": "2029-01-09"},
        {**common, "decision_no": "西湖市监许〔2019〕2号", "party_name": "杭州乙公司", "party_id": E_TAX_A,
         "decision_date": "2019-01-10", "valid_from": "2019-01-10", "valid_to": "2024-01-09"},
    ]  # fmt: skip


def tax_rows() -> list[dict[str, str | None]]:
    def rating(code: str, year: str, grade: str, name: str) -> dict[str, str | None]:
        return {
            "uscc": code,
            "taxpayer_name": name,
            "rating_year": year,
            "tax_credit_grade": grade,
            "rated_date": f"{int(year) + 1}-04-15",
            "tax_authority": "国家税务总局杭州市西湖区税务局",
        }

    return [
        rating(E_DISHONEST, "2024", "B", "杭州甲公司"), rating(E_DISHONEST, "2025", "D", "杭州甲公司"),
        rating(E_TAX_A, "2025", "A", "杭州乙公司"),
        rating(E_OLD_PENALTY, "2021", "A", "杭州丙公司"),  # too old to count
    ]  # fmt: skip


@pytest.fixture(scope="module")
def built() -> dict[str, pl.DataFrame]:
    sources = {"dishonest_debtors": dishonest_rows(), "admin_penalties": penalty_rows(),
               "admin_licences": licence_rows(), "tax_credit": tax_rows()}  # fmt: skip
    outputs = {"base.legal_entity": legal_entities(), "base.population": population()}
    return credit(make_context(sources, outputs))


def row(frame: pl.DataFrame, key: str, value: str) -> dict[str, object]:
    matches = frame.filter(pl.col(key) == value)
    assert matches.height == 1, f"{key}={value}: {matches.height} rows"
    return matches.row(0, named=True)


# --- the step ---------------------------------------------------------------------------------------


def test_outputs_and_declared_columns(built: dict[str, pl.DataFrame]) -> None:
    assert set(built) == {"base.credit_facts", "base.credit_entity", "base.credit_person"}
    for name, frame in built.items():
        assert list(TABLES[name].columns) == frame.columns, f"{name}: every column has a comment, in order"
    assert dict(built["base.credit_facts"].schema) == FACT_SCHEMA


def test_entity_table_covers_the_library_and_other_subjects(built: dict[str, pl.DataFrame]) -> None:
    entity = built["base.credit_entity"]
    assert entity["uscc"].to_list() == sorted([E_DISHONEST, E_TAX_A, E_OLD_PENALTY, E_REP_DISHONEST, E_UNKNOWN,
                                               E_QUIET])  # fmt: skip
    quiet = row(entity, "uscc", E_QUIET)
    assert (quiet["grade"], quiet["grade_rule"], quiet["fact_records"]) == ("B", "entity_no_adverse", 0)
    assert (quiet["industry_section"], quiet["division"], quiet["in_legal_entity"]) == ("F", "330106", True)
    unknown = row(entity, "uscc", E_UNKNOWN)
    assert (unknown["in_legal_entity"], unknown["entity_name"], unknown["grade"]) == (
        False,
        "杭州己公司",
        "D",
    )


def test_dishonest_entity_grade_shows_every_reason_of_its_grade(built: dict[str, pl.DataFrame]) -> None:
    entity = row(built["base.credit_entity"], "uscc", E_DISHONEST)
    assert entity["grade"] == "D" and entity["grade_label"] == "差"
    assert entity["grade_rule"] == "dishonest_listed"
    assert entity["grade_reason_rules"] == ["dishonest_listed", "tax_grade_d"]
    assert entity["grade_reasons"] == [
        "在失信被执行人名单中，1 件案件未移出",
        "最近一次纳税信用评价为 D 级（2025 年度）",
    ]
    # a C-level fact (a fine this year) is a fact, not a reason for a D
    assert entity["penalties_12m"] == 1 and entity["fines_12m_wan"] == 2.5


def test_tax_a_and_windows(built: dict[str, pl.DataFrame]) -> None:
    entity = built["base.credit_entity"]
    clean = row(entity, "uscc", E_TAX_A)
    assert (clean["grade"], clean["tax_grade"], clean["tax_rating_year"]) == ("A", "A", 2025)
    assert (clean["licences_valid"], clean["licences_12m"]) == (1, 0)
    edges = row(entity, "uscc", E_OLD_PENALTY)
    assert (edges["penalties_12m"], edges["penalties_36m"], edges["severe_penalties_12m"]) == (1, 2, 0)
    assert edges["tax_grade"] is None and edges["tax_rating_year"] is None, (
        "a 2021 rating is too old to count"
    )
    assert (edges["grade"], edges["grade_rule"]) == ("C", "recent_penalty")
    revoked = row(entity, "uscc", E_UNKNOWN)
    assert (revoked["severe_penalties_12m"], revoked["licence_revoked_12m"], revoked["grade_rule"]) == (
        1, True, "severe_penalty")  # fmt: skip


def test_legal_representative_links(built: dict[str, pl.DataFrame]) -> None:
    entity = row(built["base.credit_entity"], "uscc", E_REP_DISHONEST)
    assert (entity["legal_rep_dishonest"], entity["grade"], entity["grade_rule"]) == (
        True,
        "C",
        "legal_rep_dishonest",
    )
    person = row(built["base.credit_person"], "resident_id", P_REP)
    assert (person["represents_dishonest_entities"], person["grade"]) == (1, "C")
    assert person["grade_reasons"] == ["担任 1 家失信被执行人单位的法定代表人（负责人）"]


def test_persons(built: dict[str, pl.DataFrame]) -> None:
    person = built["base.credit_person"]
    assert person["resident_id"].to_list() == sorted([P_REP, P_DISHONEST, P_REMOVED, P_TRADER])
    listed = row(person, "resident_id", P_DISHONEST)
    assert (listed["grade"], listed["name"], listed["in_population"]) == ("D", "钱二", True)
    removed = row(person, "resident_id", P_REMOVED)
    assert (removed["dishonest_active"], removed["dishonest_removed_12m"], removed["grade_rule"]) == (
        False, True, "recently_removed")  # fmt: skip
    trader = row(person, "resident_id", P_TRADER)
    assert (trader["in_population"], trader["name"], trader["grade"], trader["province"]) == (
        False, "西湖区李记小吃", "C", "33")  # fmt: skip
    assert "tax_grade" not in person.columns


def test_facts_drill_down(built: dict[str, pl.DataFrame]) -> None:
    facts = built["base.credit_facts"]
    assert facts.equals(facts.sort(["subject_type", "subject_id", "fact_date", "fact_type", "source_dataset",
                                    "source_key"], nulls_last=False))  # fmt: skip
    assert set(facts["fact_type"]) == set(FACT_KINDS)
    mine = facts.filter(pl.col("subject_id") == E_DISHONEST)
    assert sorted(mine["fact_type"]) == ["admin_penalty", "dishonest_debtor", "tax_rating", "tax_rating"]
    case = row(mine, "fact_type", "dishonest_debtor")
    assert case["source_key"] == "(2025)浙0106执1号" and case["current"] is True
    assert (
        case["detail"]
        == "失信被执行人，西湖区人民法院（(2025)浙0106执1号）；失信情形：违反财产报告制度；履行情况：全部未履行"
    )
    fine = row(mine, "fact_type", "admin_penalty")
    assert fine["detail"].startswith(
        "行政处罚：罚款，罚款 2.5 万元；违法行为：虚假宣传；西湖区市场监督管理局"
    )
    assert (fine["code"], fine["amount_wan"], fine["source_batch"]) == ("02", 2.5, "admin_penalties-batch")
    ratings = mine.filter(pl.col("fact_type") == "tax_rating").sort("source_key")
    assert ratings["current"].to_list() == [False, True]
    assert ratings["source_key"].to_list() == [f"{E_DISHONEST}|2024", f"{E_DISHONEST}|2025"]
    link = row(facts.filter(pl.col("subject_id") == E_REP_DISHONEST), "fact_type", "legal_rep_dishonest")
    assert (link["related_id"], link["source_key"]) == (P_DISHONEST, "(2024)浙0106执2号")
    bad = facts.filter(~pl.col("subject_id_valid"))
    assert bad["source_key"].to_list() == ["(2026)浙0106执4号"]
    assert bad["subject_id"][0] not in built["base.credit_entity"]["uscc"].to_list()


def test_build_is_reproducible_and_relative_to_as_of() -> None:
    sources = {"admin_penalties": penalty_rows(), "tax_credit": tax_rows()}
    outputs = {"base.legal_entity": legal_entities()}
    first = credit(make_context(sources, outputs))
    second = credit(make_context(sources, outputs))
    for name in first:
        assert first[name].equals(second[name])
    later = credit(make_context(sources, outputs, as_of=dt.date(2028, 6, 1)))["base.credit_entity"]
    assert row(later, "uscc", E_OLD_PENALTY)["penalties_12m"] == 0
    assert row(later, "uscc", E_TAX_A)["tax_grade"] is None, "a 2025 rating no longer counts in mid-2028"


def test_no_sources_gives_empty_tables_with_the_declared_columns() -> None:
    outputs = credit(make_context({}, {"base.legal_entity": legal_entities()}))
    assert outputs["base.credit_facts"].height == 0 and outputs["base.credit_person"].height == 0
    assert set(outputs["base.credit_entity"]["grade"]) == {"B"}
    assert list(TABLES["base.credit_person"].columns) == outputs["base.credit_person"].columns


# --- grading on hand-made fact values --------------------------------------------------------------


DTYPES = {"bool": pl.Boolean, "int": pl.Int32, "float": pl.Float64, "str": pl.String}


def entity_facts(**values: object) -> pl.DataFrame:
    """One entity's declared facts: the values given, else the value of an entity without fact rows."""
    names = [fact.name for fact in load_credit_rules().facts_for("entity")]
    row = {name: values.get(name, FACT_AGGREGATIONS[name].default) for name in names}
    return pl.DataFrame([row], schema={name: DTYPES[FACT_AGGREGATIONS[name].type] for name in names})


@pytest.mark.parametrize(
    ("facts", "grade", "rule"),
    [
        (entity_facts(), "B", "entity_no_adverse"),
        (entity_facts(tax_grade="M", tax_rating_year=2025), "B", "entity_no_adverse"),
        (entity_facts(tax_grade="A", tax_rating_year=2025), "A", "tax_a_clean"),
        (entity_facts(tax_grade="A", tax_rating_year=2025, penalties_36m=1), "B", "entity_no_adverse"),
        (entity_facts(tax_grade="A", tax_rating_year=2025, dishonest_cases=1), "B", "entity_no_adverse"),
        (entity_facts(tax_grade="C", tax_rating_year=2025), "C", "tax_grade_c"),
        (entity_facts(penalties_12m=2, penalties_36m=2, fines_12m_wan=3.0), "C", "recent_penalty"),
        (entity_facts(penalties_12m=3, penalties_36m=3), "D", "repeated_penalties"),
        (entity_facts(penalties_12m=1, penalties_36m=1, fines_12m_wan=100.0), "D", "heavy_fines"),
        (
            entity_facts(dishonest_active=True, dishonest_active_cases=2, dishonest_cases=2),
            "D",
            "dishonest_listed",
        ),
    ],
)
def test_first_matching_rule_gives_the_grade(facts: pl.DataFrame, grade: str, rule: str) -> None:
    rules = load_credit_rules()
    graded = apply_rules(facts, rules, "entity").row(0, named=True)
    assert (graded["grade"], graded["grade_rule"]) == (grade, rule)
    assert graded["grade_reason_rules"][0] == rule
    assert graded["grade_label"] == rules.grades[grade].label


def test_explanations_quote_fact_values() -> None:
    facts = entity_facts(penalties_12m=1, penalties_36m=1, fines_12m_wan=123.456)
    graded = apply_rules(facts, load_credit_rules(), "entity").row(0, named=True)
    assert graded["grade_reasons"] == ["近12个月罚款合计 123.46 万元（100 万元及以上）"]
    whole = apply_rules(entity_facts(fines_12m_wan=100.0), load_credit_rules(), "entity")
    assert whole["grade_reasons"][0].to_list() == ["近12个月罚款合计 100 万元（100 万元及以上）"]


def test_a_missing_fact_satisfies_no_condition() -> None:
    rules = load_credit_rules()
    fact = rules.facts["tax_grade"]
    frame = pl.DataFrame({"tax_grade": [None, "D", "A"]}, schema={"tax_grade": pl.String})
    for op, value, expected in [("!=", "D", [False, False, True]), ("==", "D", [False, True, False]),
                                ("in", ("C", "D"), [False, True, False]),
                                ("not in", ("C", "D"), [False, False, True])]:  # fmt: skip
        assert frame.select(clause_expr(fact, op, value)).to_series().to_list() == expected, op


# --- the declared rules -------------------------------------------------------------------------------


def test_shipped_rules_and_computed_facts_agree() -> None:
    rules = load_credit_rules()
    assert set(rules.facts) == set(FACT_AGGREGATIONS)
    for name, fact in rules.facts.items():
        assert FACT_AGGREGATIONS[name].type == fact.type, name
    assert list(rules.grades) == ["A", "B", "C", "D"]
    assert rules.rules_for("entity")[-1].catch_all and rules.rules_for("person")[-1].catch_all


def test_docs_quote_the_rules_file() -> None:
    document = DOCS_FILE.read_text(encoding="utf-8")
    assert docs_with_rules(document, load_credit_rules()) == document, (
        "docs/credit.md is out of date: run `.venv/bin/python -m lake.catalog.credit_rules --write-docs`"
    )
    for rule in load_credit_rules().rules:
        assert f"`{rule.id}`" in rules_markdown(load_credit_rules())
    assert main(["--check"]) == 0, "the command docs/credit.md quotes"


SHIPPED = RULES_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'fact = "penalties_12m", op = ">=", value = 3',
            'fact = "penalties_12", op = ">=", value = 3',
            "unknown fact 'penalties_12' (did you mean 'penalties_12m'?)",
        ),
        (
            'fact = "penalties_12m", op = ">=", value = 3',
            'fact = "penalties_12m", op = "=>", value = 3',
            "op '=>' does not apply to int fact 'penalties_12m'",
        ),
        (
            'fact = "dishonest_active", op = "==", value = true',
            'fact = "dishonest_active", op = "==", value = "yes"',
            "fact 'dishonest_active' is a bool; compare it with true or false, got 'yes'",
        ),
        (
            'fact = "tax_grade", op = "==", value = "D"',
            'fact = "tax_grade", op = "==", value = "E"',
            "value 'E' is not a code of fact 'tax_grade' (A, B, M, C, D)",
        ),
        (
            'fact = "penalties_12m", op = ">=", value = 3',
            'fact = "penalties_12m", op = ">=", value = true',
            "the value must be a number, got True",
        ),
        (
            'id = "heavy_fines"\ntitle = "大额罚款"\ngrade = "D"',
            'id = "heavy_fines"\ntitle = "大额罚款"\ngrade = "E"',
            "grade 'E' is not declared under [grades]",
        ),
        ('id = "heavy_fines"', 'id = "severe_penalty"', "id 'severe_penalty' is used by an earlier rule"),
        (
            'id = "tax_grade_d"\ntitle = "纳税信用 D 级"\ngrade = "D"\nsubjects = ["entity"]',
            'id = "tax_grade_d"\ntitle = "纳税信用 D 级"\ngrade = "D"\nsubjects = ["entity", "person"]',
            "fact 'tax_grade' exists for entity only, but the rule applies to person too",
        ),
        (
            'explanation = "近12个月受到行政处罚 {penalties_12m} 次（3 次及以上）"',
            'explanation = "近12个月受到行政处罚 {penalties} 次（3 次及以上）"',
            "explanation quotes unknown fact {penalties}",
        ),
        (
            'explanation = "近12个月受到行政处罚 {penalties_12m} 次（3 次及以上）"',
            'explanation = "近12个月受到行政处罚 {penalties_12m 次"',
            "unbalanced braces",
        ),
        (
            'when = [{ fact = "penalties_12m", op = ">=", value = 3 }]',
            'when = "penalties_12m >= 3"',
            "'when' must be a list of { fact, op, value } conditions",
        ),
        (
            'when = [{ fact = "penalties_12m", op = ">=", value = 3 }]',
            'condition = [{ fact = "penalties_12m", op = ">=", value = 3 }]',
            "unknown key 'condition'",
        ),
        (
            'id = "person_no_adverse"',
            'id = "person_no_adverse"\nwhen = [{ fact = "penalties_36m", op = "==", value = 0 }]',
            "no catch-all rule for person subjects",
        ),
        (
            '[facts.tax_rating_year]\ntype = "int"',
            '[facts.tax_rating_year]\ntype = "integer"',
            "type 'integer' is not one of bool, int, float, str",
        ),
    ],
)
def test_rule_file_errors_name_the_rule_and_the_fix(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SHIPPED, old
    path = tmp_path / "credit_rules.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_credit_rules_from(path, load_catalog())
    assert message in str(error.value)
    assert str(error.value).startswith(str(path))


def test_a_rule_after_the_catch_all_is_refused(tmp_path: Path) -> None:
    moved = (
        SHIPPED + '\n[[rules]]\nid = "late"\ntitle = "迟到"\ngrade = "D"\nsubjects = ["entity"]\n'
        'when = [{ fact = "penalties_12m", op = ">=", value = 9 }]\nexplanation = "x"\n'
    )
    path = tmp_path / "credit_rules.toml"
    path.write_text(moved, encoding="utf-8")
    with pytest.raises(ConfigError, match="rule 'late' can never match entity subjects"):
        load_credit_rules_from(path, load_catalog())


def test_rule_errors_locate_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "credit_rules.toml"
    path.write_text(SHIPPED.replace("value = 100 }", 'value = "100" }'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[\[rules\]\] #4 \(id = 'heavy_fines'\)"):
        load_credit_rules_from(path, load_catalog())


# --- scale ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_grading_a_million_entities_takes_seconds() -> None:
    rng = np.random.default_rng(7)
    size = 1_000_000

    def counts(mean: float) -> np.ndarray:
        return rng.poisson(mean, size).astype(np.int32)

    frame = pl.DataFrame({
        "dishonest_active": rng.random(size) < 0.005, "dishonest_active_cases": counts(0.005),
        "dishonest_cases": counts(0.01), "dishonest_removed_12m": rng.random(size) < 0.002,
        "penalties_12m": counts(0.05), "penalties_36m": counts(0.15), "fines_12m_wan": rng.exponential(0.5, size),
        "severe_penalties_12m": counts(0.01), "licence_revoked_12m": rng.random(size) < 0.01,
        "licences_valid": counts(0.5), "licences_12m": counts(0.1),
        "tax_grade": rng.choice(np.array(["A", "B", "M", "C", "D"], dtype=object), size),
        "tax_rating_year": np.full(size, 2025, dtype=np.int32), "legal_rep_dishonest": rng.random(size) < 0.003,
    })  # fmt: skip
    started = time.perf_counter()
    graded = apply_rules(frame, load_credit_rules(), "entity")
    elapsed = time.perf_counter() - started
    assert graded["grade"].null_count() == 0 and graded["grade_reasons"].list.len().min() == 1
    assert elapsed < 5, f"grading {size:,} entities took {elapsed:.1f}s"


def test_years_before_handles_leap_days() -> None:
    assert years_before(dt.date(2028, 2, 29), 1) == dt.date(2027, 2, 28)
    assert years_before(dt.date(2026, 11, 20), 3) == dt.date(2023, 11, 20)
