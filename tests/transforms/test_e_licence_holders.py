"""Who holds an e-licence: the build's one person-or-entity decision (transforms/e_licence.py ``link_holders``).

The e-licence library used to decide on its own, looking in the population first: a code that is
both a registered USCC and a valid resident ID, with no code type, became a person there and an
entity in the base libraries. It now takes the kind, and an entity's registered USCC, from
``party_records(ctx, "e_licences")`` (transforms/projections.py ``with_party_kind``), like the
population, legal-entity and credit libraries. A person holder is the one the build's person links
(``base.person_links``) name, so a mistyped resident ID reaches its holder as it reaches the population.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from stdnum.cn import ric, uscc

from govlake.home import Home
from lake import delta
from lake.catalog import load_catalog
from lake.ingest import ingest
from tests.conftest import copy_home
from tests.transforms.test_credit import make_context
from tests.transforms.test_e_licence import licence
from tests.transforms.test_projections import (
    BODY_TWIN_FIRM,
    BODY_TWIN_ID,
    BOTH,
    FIRMS,
    NEW_FIRM,
    OLD_FIRM,
    PERSON,
    PERSON_2,
    PERSONS,
    UNKNOWN_FIRM,
    wrong_check,
)
from transforms.build import build
from transforms.context import BuildContext
from transforms.e_licence import e_licence, fallback_holder_kind
from transforms.legal_entity import legal_entity
from transforms.population import population
from transforms.projections import PROJECTIONS, person_links

#: (licence, holder code, declared code type, name on the licence) -> (kind, holder_key, link_status)
CASES: dict[str, tuple[str | None, str | None, str, tuple[str | None, str | None, str]]] = {
    # The issue: a registered code that is also a valid resident ID, no code type → the register's entity.
    "E01": (BOTH, None, "杭州双码公司", ("entity", BOTH, "linked")),
    # Both readings possible, and the licence says resident ID → the person.
    "E02": (BOTH, "公民身份号码", "赵六", ("person", BOTH, "linked")),
    # A registered code with a wrong check character → the one entity with that 17-character body.
    "E03": (wrong_check(NEW_FIRM), "统一社会信用代码", "杭州甲公司", ("entity", NEW_FIRM, "linked_check_char_wrong")),
    "E04": (wrong_check(OLD_FIRM), None, "杭州老字号有限公司", ("entity", OLD_FIRM, "linked_check_char_wrong")),
    # A registered ID-shaped code that is no resident ID, sent as one → the entity; the code type is wrong.
    "E05": (OLD_FIRM, "公民身份号码", "杭州老字号有限公司", ("entity", OLD_FIRM, "linked_code_type_wrong")),
    # A valid resident ID sharing a registered code's body → the person, not the entity.
    "E06": (BODY_TWIN_ID, None, "钱七", ("person", BODY_TWIN_ID, "linked")),
    # A person's ID with a wrong check character: the person's, linked by name and what is left of the ID
    # (base.person_links, method probabilistic), as the population library links the mention.
    "E07": (wrong_check(PERSON), "公民身份号码", "张三", ("person", PERSON, "linked_probabilistic")),
    # Neither (sent as a credit code, no register holds it): a valid resident ID falls back on the person.
    "E08": (PERSON_2, "统一社会信用代码", "李四", ("person", PERSON_2, "linked_code_type_wrong")),
    # Neither: a valid USCC no register holds.
    "E09": (UNKNOWN_FIRM, "统一社会信用代码", "某公司", ("entity", None, "not_found")),
    "E10": (None, None, "无代码", (None, None, "missing_code")),
    # Declared a resident ID: the declaration wins over a body link to an entity (as for every party).
    "E11": (wrong_check(NEW_FIRM), "公民身份号码", "杭州甲公司", ("person", None, "invalid_code")),
}
LICENCES = [licence(f"1.2.156.3005.2.X.Y.{key}", code, kind, holder_name=name)
            for key, (code, kind, name, _) in CASES.items()]
#: Licences the decision itself calls persons (E08 is a fallback, not a person mention).
PERSON_MENTIONS = ("E02", "E06", "E07", "E11")


def test_the_codes_are_what_the_tests_say() -> None:
    assert ric.is_valid(BOTH) and uscc.is_valid(BOTH)
    assert not ric.is_valid(wrong_check(OLD_FIRM)) and not ric.is_valid(OLD_FIRM)
    assert ric.is_valid(BODY_TWIN_ID) and BODY_TWIN_ID[:17] == BODY_TWIN_FIRM[:17]
    assert not uscc.is_valid(wrong_check(NEW_FIRM)) and not ric.is_valid(wrong_check(PERSON))


@pytest.fixture(scope="module")
def full_build() -> tuple[BuildContext, pl.DataFrame]:
    """The steps of a full build: registers and household register read, then the e-licence library."""
    ctx = make_context({"hukou": PERSONS, "market_entities": FIRMS, "e_licences": LICENCES, "social_insurance": []})
    ctx.outputs.update(population(ctx))
    ctx.outputs.update(legal_entity(ctx))
    return ctx, e_licence(ctx)["base.e_licence"]


def outcomes(table: pl.DataFrame) -> dict[str, tuple[str | None, str | None, str]]:
    return {licence_id.rsplit(".", 1)[1]: (kind, key, status) for licence_id, kind, key, status in table.select(
        "licence_id", "holder_kind", "holder_key", "link_status").iter_rows()}


def test_holders_are_decided_by_the_builds_one_decision(
        full_build: tuple[BuildContext, pl.DataFrame]) -> None:
    _, table = full_build
    assert outcomes(table) == {key: expected for key, (*_, expected) in CASES.items()}


def test_the_registered_entity_is_checked_not_the_person(
        full_build: tuple[BuildContext, pl.DataFrame]) -> None:
    """E01 used to be the person 赵六 (the population was looked in first), with a name mismatch."""
    _, table = full_build
    rows = {r["licence_id"].rsplit(".", 1)[1]: r for r in table.iter_rows(named=True)}
    assert (rows["E01"]["holder_name_matches"], rows["E01"]["holder_active"]) == (False, True)  # 杭州双码有限公司
    assert (rows["E02"]["holder_name_matches"], rows["E03"]["holder_name_matches"]) == (True, True)
    assert rows["E03"]["holder_code"] == wrong_check(NEW_FIRM), "the code as written stays"
    assert rows["E03"]["link_status_name"] == "已关联（代码校验位有误，按前17位关联）"
    assert rows["E07"]["holder_name_matches"] is True and rows["E07"]["holder_code"] == wrong_check(PERSON)
    assert rows["E07"]["link_status_name"] == "已关联（代码未能精确关联，按姓名、出生日期等概率关联）"
    assert rows["E11"]["holder_name_matches"] is None and rows["E10"]["holder_kind"] is None


def test_the_library_agrees_with_the_base_libraries(
        full_build: tuple[BuildContext, pl.DataFrame]) -> None:
    """An e-licence is an entity's here exactly where the legal-entity library compares it, a person's
    where it is a person mention (except the fallback for holders the decision calls neither)."""
    ctx, table = full_build
    entities = PROJECTIONS["legal_entity"]["e_licences"](ctx).collect()
    linked_entities = table.filter(pl.col("holder_kind") == "entity")["holder_key"].drop_nulls()
    assert sorted(entities["uscc"]) == sorted(linked_entities) == sorted([BOTH, NEW_FIRM, OLD_FIRM, OLD_FIRM])
    rows = {key: row for row, key in enumerate(CASES, start=1)}
    mentions = person_links(ctx).filter(pl.col("dataset") == "e_licences")["record_id"]
    assert set(mentions) == {f"e_licences:holder:e_licences-batch:{rows[key]}" for key in PERSON_MENTIONS}
    assert BOTH in ctx.outputs["base.population"]["resident_id"].to_list(), "BOTH is also a person: the case is real"


def test_reading_the_registers_from_the_built_library_gives_the_same_table(
        full_build: tuple[BuildContext, pl.DataFrame]) -> None:
    """An incremental build recomputes the library from the merged base libraries, without the registers."""
    ctx, table = full_build
    libraries = {name: ctx.outputs[name] for name in ("base.population", "base.legal_entity", "base.person_links")}
    again = e_licence(make_context({"e_licences": LICENCES}, libraries))["base.e_licence"]
    assert again.equals(table)


def test_person_holders_take_the_builds_person_links(full_build: tuple[BuildContext, pl.DataFrame]) -> None:
    """Every person mention's licence is keyed by the resident ID base.person_links gives it, with its method."""
    ctx, table = full_build
    rows = {key: row for row, key in enumerate(CASES, start=1)}
    links = {r: (i, m) for r, i, m in person_links(ctx).select("record_id", "resident_id", "method").iter_rows()}
    status = {"exact": "linked", "probabilistic": "linked_probabilistic", "unlinked": "invalid_code"}
    found = outcomes(table)
    for key in PERSON_MENTIONS:
        linked_id, method = links[f"e_licences:holder:e_licences-batch:{rows[key]}"]
        assert found[key] == ("person", linked_id, status[method]), key
    assert {links[f"e_licences:holder:e_licences-batch:{rows[k]}"][1] for k in PERSON_MENTIONS} == set(status), \
        "the cases cover an exact, a probabilistic and an unlinked mention"


def test_without_person_links_a_person_is_linked_on_the_code_as_written(
        full_build: tuple[BuildContext, pl.DataFrame]) -> None:
    """A build that has no person links (only the libraries) still links exact IDs and says which it could not."""
    ctx, table = full_build
    libraries = {name: ctx.outputs[name] for name in ("base.population", "base.legal_entity")}
    alone = outcomes(e_licence(make_context({"e_licences": LICENCES}, libraries))["base.e_licence"])
    assert alone["E07"] == ("person", None, "invalid_code")
    assert {k: v for k, v in alone.items() if k != "E07"} == {k: v for k, v in outcomes(table).items() if k != "E07"}


@pytest.mark.parametrize(("code", "valid", "declared", "expected"), [
    (PERSON, True, "entity", "person"),  # a valid resident ID sent as a credit code: the person's
    (UNKNOWN_FIRM, True, "person", "entity"),  # a valid USCC no register holds, whatever the declaration
    ("91330106MA2B0000X0", False, "entity", "entity"),  # invalid: the declaration decides
    ("33010619880808017", False, "person", "person"),
    ("330106198808080171", False, None, "person"),  # invalid, undeclared: only the shape is left
    ("ABC", False, None, "entity"),
    (None, False, None, None),
])
def test_a_holder_no_register_holds_falls_back_on_the_code(code: str | None, valid: bool, declared: str | None,
                                                           expected: str | None) -> None:
    ctx = make_context({})
    frame = pl.DataFrame({"code": [code], "valid": [valid], "declared": [declared]},
                         schema={"code": pl.String, "valid": pl.Boolean, "declared": pl.String})
    kind = frame.select(fallback_holder_kind(ctx, pl.col("code"), pl.col("valid"), pl.col("declared"))).item()
    assert kind == expected


# --- a real home: an e-licence batch built incrementally equals a full build ----------------------------


def _licence_file(home: Home, folder: Path) -> dict[str, tuple[str, str | None, str]]:
    """Write an e-licence batch naming a registered entity and persons of the home; return the expectations.

    The licences are issued in 330106 and the entity is a Hangzhou one, so the Hangzhou analyst
    (hz_analyst) sees them all, in the governed view and on the credit page's entity profile.
    """
    firms = delta.read(home.table_path("base", "legal_entity"), columns=["uscc", "entity_name", "division"]).filter(
        pl.col("division").str.starts_with("3301")).sort("uscc")
    firm, name, _ = next(row for row in firms.iter_rows() if not row[0][:17].isdigit())  # letters: no resident ID
    people = delta.read(home.table_path("base", "population"), columns=["resident_id", "name"]).sort("resident_id")
    person, person_name = people.row(0)
    # A person whose name no one else in the home has: the name and what is left of the ID single them out.
    unique_names = people.group_by("name").len().filter(pl.col("len") == 1).select("name")
    mistyped, mistyped_name = people.join(unique_names, on="name").sort("resident_id").row(0)
    rows = {
        "T1": (wrong_check(firm), None, name, ("entity", firm, "linked_check_char_wrong")),
        "T2": (firm, "公民身份号码", name, ("entity", firm, "linked_code_type_wrong")),
        "T3": (person, None, person_name, ("person", person, "linked")),
        "T4": (wrong_check(mistyped), "公民身份号码", mistyped_name, ("person", mistyped, "linked_probabilistic")),
    }
    items = load_catalog().dataset("e_licences").items
    records = [licence(f"1.2.156.3005.2.X.Y.{key}", code, kind, holder_name=holder)
               for key, (code, kind, holder, _) in rows.items()]
    frame = pl.DataFrame([{item.source: record.get(item.column) for item in items} for record in records],
                         schema=dict.fromkeys((item.source for item in items), pl.String))
    folder.mkdir(parents=True)
    frame.write_ndjson(folder / "电子证照_证照信息_29991231.jsonl")
    return {key: expected for key, (*_, expected) in rows.items()}


def licence_home(built_home: Home, root: Path) -> tuple[Home, dict[str, tuple[str, str | None, str]]]:
    """A copy of ``built_home`` with the batch of :func:`_licence_file` ingested and built incrementally.

    Returns the home and, per licence (``1.2.156.3005.2.X.Y.<key>``), the expected kind, holder key and status.
    """
    home = Home(root / "home")
    copy_home(built_home.root, home.root, "cache", "spool")
    expected = _licence_file(home, root / "batch")
    ingest(home, [root / "batch"])
    assert build(home).kind == "incremental"
    return home, expected


def test_an_incremental_build_links_new_licences_as_a_full_build_does(
        built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("e-licence-incremental")
    incremental = Home(root / "incremental")
    copy_home(built_home.root, incremental.root, "cache", "spool")
    expected = _licence_file(incremental, root / "batch")
    ingest(incremental, [root / "batch"])
    full = Home(root / "full")
    copy_home(incremental.root, full.root, "cache", "spool")
    assert build(incremental).kind == "incremental" and build(full, full=True).kind == "full"
    tables = [delta.read(home.table_path("base", "e_licence")).sort("licence_id") for home in (incremental, full)]
    assert tables[0].equals(tables[1])
    new = tables[0].filter(pl.col("licence_id").str.starts_with("1.2.156.3005.2.X.Y."))
    assert outcomes(new) == expected
