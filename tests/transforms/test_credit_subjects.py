"""Whose credit fact is it: the build's one person-or-entity decision (transforms/credit.py ``party_subjects``).

Credit codes issued before the 2015 reform can be valid resident IDs too, so the code's shape (or
its passing GB 11643) never decides. The credit library files a record's party as the population
and legal-entity libraries do (transforms/projections.py ``with_party_kind``), and files an entity
under its *registered* USCC, even when the record's check character is wrong.

The registers are given either as the market-entity source (a full build) or as the built
legal-entity library (an incremental build recomputes credit from the merged library): both give
the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import pytest
from stdnum.cn import ric, uscc

from tests.transforms.test_credit import make_context, make_resident_id, tax_rows
from tests.transforms.test_projections import BOTH, NEW_FIRM, OLD_FIRM, firm, wrong_check
from transforms.credit import credit, fallback_subject_type
from transforms.projections import RESIDENT_ID_SHAPE

PERSON = make_resident_id("330106", "19880808", "017")
FIRMS = [firm(BOTH, "杭州双码有限公司"), firm(NEW_FIRM, "杭州甲公司"), firm(OLD_FIRM, "杭州老字号有限公司")]


def penalty(number: int, party_id: str, party_type: str | None, name: str) -> dict[str, str | None]:
    return {"decision_no": f"西湖市监罚〔2026〕{number}号", "party_name": name, "party_id": party_id,
            "party_type": party_type, "penalty_type": "罚款", "fine_amount": "1", "decision_date": "2026-05-01",
            "authority": "西湖区市场监督管理局", "authority_department": "market_regulation", "division": "330106",
            "violation_type": "虚假宣传"}  # fmt: skip


PENALTIES = [
    # The issue: a registered code that also passes GB 11643, no party type → the entity's.
    penalty(1, BOTH, None, "杭州双码有限公司"),
    # A registered code sent with a wrong check character → the one entity with that body.
    penalty(2, wrong_check(NEW_FIRM), "法人及非法人组织", "杭州甲公司"),
    # Both readings possible and the department says natural person → the person's.
    penalty(3, BOTH, "自然人", "赵六"),
    # A person's ID with a wrong check character stays the person's, as written (and invalid).
    penalty(4, wrong_check(PERSON), "自然人", "孙七"),
    # A registered ID-shaped code that is no resident ID, declared a person → the register wins.
    penalty(5, OLD_FIRM, "自然人", "杭州老字号有限公司"),
]


def test_the_codes_are_what_the_tests_say() -> None:
    assert ric.is_valid(BOTH) and uscc.is_valid(BOTH), "BOTH is a registered USCC and a valid resident ID"
    assert not uscc.is_valid(wrong_check(NEW_FIRM)) and not ric.is_valid(wrong_check(PERSON))
    assert pl.Series([OLD_FIRM]).str.contains(RESIDENT_ID_SHAPE).item() and not ric.is_valid(OLD_FIRM)


@pytest.fixture(scope="module", params=["registers", "library"])
def built(request: pytest.FixtureRequest) -> Mapping[str, pl.DataFrame]:
    sources: dict[str, list[dict[str, str | None]]] = {
        "admin_penalties": PENALTIES,
        "tax_credit": [{**tax_rows()[2], "uscc": wrong_check(NEW_FIRM), "taxpayer_name": "杭州甲公司"}],
    }
    outputs: dict[str, pl.DataFrame] = {}
    if request.param == "registers":
        sources["market_entities"] = FIRMS
    else:
        outputs["base.legal_entity"] = pl.DataFrame({"uscc": [f["uscc"] for f in FIRMS],
                                                     "entity_name": [f["entity_name"] for f in FIRMS]})
    return credit(make_context(sources, outputs))


def subjects(built: Mapping[str, pl.DataFrame]) -> dict[str, tuple[str, str, bool]]:
    facts = built["base.credit_facts"].filter(pl.col("fact_type") == "admin_penalty")
    return {key: (kind, code, valid) for key, kind, code, valid in facts.select(
        "source_key", "subject_type", "subject_id", "subject_id_valid").iter_rows()}


def test_a_registered_code_that_passes_gb_11643_is_the_entitys(built: Mapping[str, pl.DataFrame]) -> None:
    """The bug: the resident-ID check came first, so this penalty became a bogus person's."""
    assert subjects(built)["西湖市监罚〔2026〕1号"] == ("entity", BOTH, True)
    entity = built["base.credit_entity"].filter(pl.col("uscc") == BOTH).row(0, named=True)
    assert (entity["penalties_12m"], entity["fines_12m_wan"], entity["grade"]) == (1, 1.0, "C")


def test_a_wrong_check_character_is_filed_under_the_registered_code(built: Mapping[str, pl.DataFrame]) -> None:
    facts = built["base.credit_facts"]
    assert subjects(built)["西湖市监罚〔2026〕2号"] == ("entity", NEW_FIRM, True)
    penalty_detail = facts.filter(pl.col("source_key") == "西湖市监罚〔2026〕2号")["detail"].item()
    assert f"来源记录所填代码 {wrong_check(NEW_FIRM)} 校验位有误" in penalty_detail, "the code as written stays visible"
    rating = facts.filter(pl.col("fact_type") == "tax_rating").row(0, named=True)
    assert (rating["subject_id"], rating["subject_id_valid"], rating["current"]) == (NEW_FIRM, True, True)
    assert rating["source_key"] == f"{wrong_check(NEW_FIRM)}|2025", "the source key is the record's"
    entity = built["base.credit_entity"].filter(pl.col("uscc") == NEW_FIRM).row(0, named=True)
    assert (entity["penalties_12m"], entity["tax_grade"], entity["fact_records"]) == (1, "A", 2)
    assert wrong_check(NEW_FIRM) not in built["base.credit_entity"]["uscc"].to_list()


def test_persons_follow_the_same_decision(built: Mapping[str, pl.DataFrame]) -> None:
    found = subjects(built)
    assert found["西湖市监罚〔2026〕3号"] == ("person", BOTH, True)
    assert found["西湖市监罚〔2026〕4号"] == ("person", wrong_check(PERSON), False)
    assert found["西湖市监罚〔2026〕5号"] == ("entity", OLD_FIRM, True)
    persons = built["base.credit_person"]
    assert persons["resident_id"].to_list() == [BOTH], "an invalid ID is kept as a fact, not as a subject"
    assert persons.row(0, named=True)["penalties_12m"] == 1


def test_both_ways_of_knowing_the_registers_give_the_same_facts() -> None:
    sources = {"admin_penalties": PENALTIES}
    from_registers = credit(make_context({**sources, "market_entities": FIRMS}))["base.credit_facts"]
    library = pl.DataFrame({"uscc": [f["uscc"] for f in FIRMS], "entity_name": [f["entity_name"] for f in FIRMS]})
    from_library = credit(make_context(sources, {"base.legal_entity": library}))["base.credit_facts"]
    assert from_registers.equals(from_library)


@pytest.mark.parametrize(("code", "valid", "declared", "expected"), [
    (PERSON, True, "2", "person"),  # a 个体工商户 under its operator's valid ID: the operator's
    (NEW_FIRM, True, "3", "entity"),  # an unregistered valid USCC, whatever the declaration
    ("91330106MA2B0000X0", False, "1", "entity"),  # invalid: the declaration decides
    ("33010619880808017", False, "3", "person"),
    ("330106198808080171", False, None, "person"),  # invalid, undeclared: the shape is all that is left
    ("ABC", False, None, "entity"),
])
def test_a_party_no_register_holds_falls_back_on_the_code(code: str, valid: bool, declared: str | None,
                                                          expected: str) -> None:
    ctx = make_context({})
    frame = pl.DataFrame({"code": [code], "valid": [valid], "declared": [declared]},
                         schema={"code": pl.String, "valid": pl.Boolean, "declared": pl.String})
    kind = frame.select(fallback_subject_type(ctx, pl.col("code"), pl.col("valid"), pl.col("declared"))).item()
    assert kind == expected
