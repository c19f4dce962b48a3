"""Who a party is: person or entity, decided by evidence (transforms/projections.py ``with_party_kind``).

Credit codes issued before the 2015 reform carry an 8-digit organisation code, so many are 17
digits and a digit or ``X``: the shape of a resident ID. These tests hold that such a code is
the entity's when a register holds it, that a genuine person stays a person, and that the
land-parcel holder's name is compared in the legal-entity library.
"""

from __future__ import annotations

import polars as pl
import pytest
from stdnum.cn import ric, uscc

from tests.transforms.test_credit import make_context, make_resident_id, make_uscc
from transforms.context import BuildContext
from transforms.legal_entity import legal_entity
from transforms.population import population
from transforms.projections import (
    PARTIES,
    PARTY_KIND,
    PROJECTIONS,
    RESIDENT_ID_SHAPE,
    corroborate,
    person_links,
    with_party_kind,
)


def id_shaped_uscc(prefix: str) -> str:
    """A valid USCC of digits only but for a possible final ``X``: what pre-2015 codes often look like."""
    for number in range(1_000_000, 2_000_000):
        body = f"{prefix}{number:09d}"
        check = uscc.calc_check_digit(body)
        if check in "0123456789X":
            return body + check
    raise AssertionError("no ID-shaped USCC found")


def resident_id_and_uscc(division: str, birth: str) -> str:
    """A code that is both a valid resident ID and a valid USCC (both check characters agree)."""
    for sequence in range(1, 1000):
        body = f"{division}{birth}{sequence:03d}"
        if ric.calc_check_digit(body + "0") == uscc.calc_check_digit(body):
            return body + uscc.calc_check_digit(body)
    raise AssertionError("no code valid under both standards found")


def wrong_check(code: str) -> str:
    """``code`` with a different check character (digits and X only, so it keeps its shape)."""
    return code[:17] + next(c for c in "0123456789X" if c != code[17])


OLD_FIRM = id_shaped_uscc("91330106")  # registered; looks like a resident ID
OLD_FIRM_2 = id_shaped_uscc("92330106")  # registered 个体工商户, also ID-shaped
NEW_FIRM = make_uscc("91330106MA2B00001")  # registered; letters, so no doubt
UNKNOWN_FIRM = make_uscc("91330106MA2B00009")  # valid, but no register holds it
PERSON = make_resident_id("330106", "19900307", "123")
PERSON_2 = make_resident_id("330106", "19851231", "046")
BOTH = resident_id_and_uscc("330106", "19920512")  # a person's ID and a registered code at once
# A registered code whose 17-character body is a resident ID's body, and that person's ID:
# same body, different check characters (MOD 31 vs MOD 11).
BODY_TWIN_ID = next(
    make_resident_id("330106", "19950101", f"{s:03d}") for s in range(1, 1000)
    if make_resident_id("330106", "19950101", f"{s:03d}")[17]
    != uscc.calc_check_digit(make_resident_id("330106", "19950101", f"{s:03d}")[:17])
)
BODY_TWIN_FIRM = make_uscc(BODY_TWIN_ID[:17])


def firm(code: str, name: str) -> dict[str, str | None]:
    return {"uscc": code, "entity_name": name, "entity_type": "1100", "legal_rep_name": "王五",
            "legal_rep_id": None, "registered_capital": "100", "established_date": "2010-05-01",
            "status": "1", "industry_code": "I6510", "division": "330106"}  # fmt: skip


def person(code: str, name: str) -> dict[str, str | None]:
    return {"resident_id": code, "name": name, "sex": "1", "birth_date": f"{code[6:10]}-{code[10:12]}-{code[12:14]}",
            "hukou_division": "330106", "residence_division": "330106", "person_status": "1"}  # fmt: skip


def parcel(parcel_code: str, holder_id: str | None, holder_name: str) -> dict[str, str | None]:
    return {"parcel_code": parcel_code, "division": "330106", "land_use": "05", "area_m2": "1200",
            "holder_name": holder_name, "holder_id": holder_id, "right_type": "国有建设用地使用权",
            "registered_date": "2015-03-01", "geometry": '{"type":"Point","coordinates":[120.1,30.2]}'}  # fmt: skip


def debtor(case_no: str, debtor_id: str | None, debtor_type: str, name: str) -> dict[str, str | None]:
    return {"case_no": case_no, "debtor_name": name, "debtor_id": debtor_id, "debtor_type": debtor_type,
            "court": "西湖区人民法院", "court_division": "330106", "published_date": "2024-03-01"}  # fmt: skip


FIRMS = [firm(OLD_FIRM, "杭州老字号有限公司"), firm(OLD_FIRM_2, "西湖区张记小吃店"), firm(NEW_FIRM, "杭州甲公司"),
         firm(BOTH, "杭州双码有限公司"), firm(BODY_TWIN_FIRM, "杭州同体有限公司")]
PERSONS = [person(PERSON, "张三"), person(PERSON_2, "李四"), person(BOTH, "赵六"), person(BODY_TWIN_ID, "钱七")]

#: land parcels declare no party kind: (parcel, holder code, holder name, expected kind)
PARCELS = [
    ("P01", OLD_FIRM, "杭州老字号公司", "entity"),  # ID-shaped registered code, name differs from the register
    ("P02", wrong_check(OLD_FIRM), "杭州老字号有限公司", "entity"),  # its check character mistyped: body links
    ("P03", NEW_FIRM, "杭州甲公司", "entity"),
    ("P04", PERSON, "张叁", "person"),  # a genuine person, name differs from the register
    ("P05", wrong_check(PERSON_2), "李四", "person"),  # a person's ID mistyped: no register holds the body
    ("P06", BOTH, "杭州双码有限公司", "entity"),  # both readings possible, nothing declared: the register wins
    ("P07", BODY_TWIN_ID, "钱七", "person"),  # a valid resident ID whose body is a registered code's
    ("P08", UNKNOWN_FIRM, "某公司", None),  # neither: no register holds it and it is no resident ID
    ("P09", None, "无证件人", None),
]
#: dishonest debtors declare 自然人 / 法人或其他组织 / 个体工商户
DEBTORS = [
    ("D01", PERSON, "自然人", "张三", "person"),
    ("D02", OLD_FIRM, "法人或其他组织", "杭州老字号有限公司", "entity"),
    ("D03", OLD_FIRM_2, "个体工商户", "西湖区张记小吃店", "entity"),
    ("D04", BOTH, "自然人", "赵六", "person"),  # both readings possible: the declaration breaks the tie
    ("D05", OLD_FIRM, "自然人", "杭州老字号有限公司", "entity"),  # a registered code that is no resident ID
    ("D06", wrong_check(OLD_FIRM), "自然人", "某人", "person"),  # declared person, fuzzy body link only
    ("D07", PERSON_2, "个体工商户", "李四烧烤店", None),  # an entity filed under an ID: its name is a shop's
    ("D08", None, "自然人", "王五", "person"),  # no code: linked by name
    ("D09", wrong_check(PERSON), "法人或其他组织", "某公司", None),
]


def test_the_codes_are_what_the_tests_say() -> None:
    """Guard the fixtures: the point is codes shaped like resident IDs that are not (or are also) ones."""
    for code in (OLD_FIRM, OLD_FIRM_2, BOTH):
        assert uscc.is_valid(code) and pl.Series([code]).str.contains(RESIDENT_ID_SHAPE).item()
    assert not ric.is_valid(OLD_FIRM) and not ric.is_valid(OLD_FIRM_2)
    assert ric.is_valid(BOTH) and ric.is_valid(BODY_TWIN_ID) and uscc.is_valid(BODY_TWIN_FIRM)
    assert BODY_TWIN_ID[:17] == BODY_TWIN_FIRM[:17] and BODY_TWIN_ID != BODY_TWIN_FIRM


@pytest.fixture(scope="module")
def ctx() -> BuildContext:
    return make_context({
        "hukou": PERSONS,
        "market_entities": FIRMS,
        "land_parcels": [parcel(p, code, name) for p, code, name, _ in PARCELS],
        "dishonest_debtors": [debtor(c, code, kind, name) for c, code, kind, name, _ in DEBTORS],
        "social_insurance": [],  # the population library needs a source for every attribute
    })


def kinds(ctx: BuildContext, dataset: str, key: str) -> dict[str, str | None]:
    frame = with_party_kind(ctx, ctx.standardized(dataset), PARTIES[dataset]).select(key, PARTY_KIND).collect()
    return dict(frame.iter_rows())


def test_land_parcel_holders_by_evidence_not_shape(ctx: BuildContext) -> None:
    assert kinds(ctx, "land_parcels", "parcel_code") == {p: kind for p, _, _, kind in PARCELS}


def test_dishonest_debtors_by_evidence_and_declared_kind(ctx: BuildContext) -> None:
    assert kinds(ctx, "dishonest_debtors", "case_no") == {c: kind for c, *_, kind in DEBTORS}


def test_entity_projections_take_entity_parties_only(ctx: BuildContext) -> None:
    parcels = PROJECTIONS["legal_entity"]["land_parcels"](ctx).collect()
    assert sorted(parcels["uscc"]) == sorted([OLD_FIRM, OLD_FIRM, NEW_FIRM, BOTH])
    debtors = PROJECTIONS["legal_entity"]["dishonest_debtors"](ctx).collect()
    assert sorted(debtors["uscc"]) == sorted([OLD_FIRM, OLD_FIRM_2, OLD_FIRM])


def test_person_mentions_are_person_parties_only(ctx: BuildContext) -> None:
    links = person_links(ctx)
    parcels = links.filter(pl.col("dataset") == "land_parcels")
    rows = {p: i for i, (p, *_) in enumerate(PARCELS, start=1)}
    expected = {f"land_parcels:holder:land_parcels-batch:{rows[p]}" for p, *_, kind in PARCELS if kind == "person"}
    assert set(parcels["record_id"]) == expected
    exact = dict(parcels.filter(pl.col("method") == "exact").select("record_id", "resident_id").iter_rows())
    assert exact == {f"land_parcels:holder:land_parcels-batch:{rows['P04']}": PERSON,
                     f"land_parcels:holder:land_parcels-batch:{rows['P07']}": BODY_TWIN_ID}
    debtors = links.filter(pl.col("dataset") == "dishonest_debtors")
    assert debtors.height == sum(kind == "person" for *_, kind in DEBTORS)
    assert debtors.filter(pl.col("method") == "exact")["resident_id"].sort().to_list() == sorted([PERSON, BOTH])


def test_name_of_an_id_shaped_entity_is_compared_and_a_person_stays_a_person(ctx: BuildContext) -> None:
    """The bug: P01's holder was taken for a person, so its differing name was never compared."""
    ctx.outputs.update(population(ctx))
    ctx.outputs.update(legal_entity(ctx))
    entity_conflicts = ctx.outputs["base.conflicts.legal_entity"]
    by_land = entity_conflicts.filter(pl.col("other_source") == "land_parcels")
    assert by_land.select("key", "attribute", "chosen_value", "other_value").rows() == [
        (OLD_FIRM, "entity_name", "杭州老字号有限公司", "杭州老字号公司")
    ]
    person_conflicts = ctx.outputs["base.conflicts.population"]
    by_land = person_conflicts.filter(pl.col("other_source") == "land_parcels")
    assert by_land.select("key", "attribute", "chosen_value", "other_value").rows() == [
        (PERSON, "name", "张三", "张叁")
    ]
    # No entity's name was compared with a person's, and no person's with an entity's.
    assert OLD_FIRM not in person_conflicts["key"].to_list()
    assert PERSON not in entity_conflicts["key"].to_list()
    assert ctx.outputs["base.legal_entity"]["uscc"].sort().to_list() == sorted(f["uscc"] for f in FIRMS)



def test_the_mothers_husband_of_the_same_name_outweighs_the_models_guess() -> None:
    """A father without ID is linked on name, county and sex alone; a namesake can pass the threshold."""
    husband, namesake, mother = PERSON, PERSON_2, make_resident_id("330106", "19920302", "124")
    ctx = make_context({"marriages": [], "births": []})
    reference = pl.DataFrame({"resident_id": [husband, namesake, mother], "name": ["张三", "张三", "王芳"]})
    links = pl.DataFrame({
        "record_id": ["births:mother:b:1", "births:father:b:1", "births:mother:b:2", "births:father:b:2",
                      "marriages:husband:m:1", "marriages:wife:m:1"],
        "resident_id": [mother, namesake, mother, husband, husband, mother],
        "method": ["exact", "probabilistic", "exact", "exact", "exact", "exact"],
    }).with_columns(pl.col("record_id").str.split(":").list.get(0).alias("dataset"),
                    pl.col("record_id").str.split(":").list.get(1).alias("role"))
    records = pl.DataFrame({"record_id": links["record_id"], "name": ["王芳", "张三", "王芳", "张三", "张三", "王芳"],
                            "document": [None] * 6}, schema_overrides={"document": pl.String})
    result = dict(corroborate(ctx, links, records, reference).select(
        "record_id", pl.struct("resident_id", "method")).iter_rows())
    assert result["births:father:b:1"] == {"resident_id": husband, "method": "corroborated_family"}
    assert result["births:father:b:2"] == {"resident_id": husband, "method": "exact"}
    # An exact link is never replaced, even where the family names someone else.
    swapped = links.with_columns(pl.when(pl.col("record_id") == "births:father:b:2").then(pl.lit(namesake))
                                 .otherwise(pl.col("resident_id")).alias("resident_id"))
    result = dict(corroborate(ctx, swapped, records, reference).select("record_id", "resident_id").iter_rows())
    assert result["births:father:b:2"] == namesake
