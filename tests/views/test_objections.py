"""Objections (views/objections.py, lake/objections.py, `govlake objection`): filing only what the user sees,
routing to the authoritative department, the under-objection marker in the governed views, and
resolution by rejection or by a correction that flows through ingest and build.

Each test works on its own copy of the shared demo home (5,000 persons).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.errors import ContractError, GovLakeError, PolicyDenied, StateError
from govlake.home import Home
from lake import audit, delta, ledger, objections
from lake.system import INGEST_LOG
from tests.conftest import copy_home
from transforms.manifest import latest
from views.objections import file_objection
from views.session import open_session

ANALYST, CIVIL_AFFAIRS, PUBLIC_SECURITY = "hz_analyst", "mca_officer", "mps_officer"


@pytest.fixture
def home(built_home: Home, tmp_path: Path) -> Home:
    root = tmp_path / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports", "duckdb_extensions")
    return Home(root)


def hangzhou_unmarried(home: Home) -> pl.DataFrame:
    """Living adults of 杭州 whose marital status (unmarried) came from the household register."""
    return (delta.read(home.table_path("base", "population"))
            .filter(pl.col("hukou_division").str.starts_with("3301") & pl.col("alive") & (pl.col("age") >= 25)
                    & (pl.col("marital_status") == "10")
                    & (pl.col("provenance").struct.field("marital_status").struct.field("source") == "hukou"))
            .sort("resident_id"))


def masked(resident_id: str) -> str:
    return resident_id[:6] + "********" + resident_id[-4:]


def marker_of(home: Home, user: str, key: str, division: str) -> str | None:
    with open_session(user, home=home) as session:
        seen = key if user == "hz_pubsec" else masked(key)
        rows = session.sql(f"SELECT objection_status FROM population WHERE resident_id = '{seen}' "
                           f"AND hukou_division = '{division}'")
    assert rows.height == 1
    return rows["objection_status"][0]


def objection_audit(home: Home) -> list[dict[str, object]]:
    return [e for e in audit.entries(home) if str(e["statement_kind"] or "").startswith("objection.")]


def file_marital(home: Home, person: dict[str, object]) -> objections.Case:
    return file_objection(home, user=ANALYST, view="population", key=str(person["resident_id"]),
                          column="marital_status", reason="本人已于 2026 年 11 月登记结婚",
                          evidence="结婚证 J330102-2026-999999")


def test_filing_routes_to_the_authoritative_source_and_marks_the_record(home: Home) -> None:
    person = hangzhou_unmarried(home).row(0, named=True)
    other = hangzhou_unmarried(home).row(1, named=True)
    with open_session(ANALYST, home=home) as already_open:  # a session opened before the objection
        case = file_marital(home, person)
        assert (case.state, case.case_id) == ("open", "OBJ-000001")
        # marital status: marriages (民政) first, the household register second (lake/catalog/libraries.toml)
        assert (case.department, case.source_dataset, case.attribute) == ("civil_affairs", "marriages",
                                                                          "marital_status")
        assert (case.value_at_filing, case.value_seen, case.value_source) == ("10", "10", "hukou")
        assert (case.due_date - ledger.beijing_date(case.filed_at)).days == 15, "民政 sla_days"
        rows = already_open.sql(f"SELECT count(objection_status) AS marked FROM population WHERE resident_id = "
                                f"'{masked(str(person['resident_id']))}'")
        assert rows["marked"][0] == 1, "an open session sees the marker on its next query"
    assert marker_of(home, ANALYST, str(person["resident_id"]), str(person["hukou_division"])) == "异议处理中"
    assert marker_of(home, "hz_pubsec", str(person["resident_id"]), str(person["hukou_division"])) == "异议处理中"
    assert marker_of(home, ANALYST, str(other["resident_id"]), str(other["hukou_division"])) is None
    with open_session(ANALYST, home=home) as session:
        assert session.sql("SELECT count(objection_status) AS n FROM population")["n"][0] == 1
        assert session.columns("population")["objection_status"] == "clear"
    (filed,) = [e for e in objection_audit(home) if e["decision"] == "allowed"]
    assert filed["statement_kind"] == "objection.file" and filed["user"] == ANALYST
    assert json.loads(str(filed["sql"]))["department"] == "civil_affairs"


def test_objection_to_a_value_the_user_cannot_see_is_refused_and_audited(home: Home) -> None:
    population = delta.read(home.table_path("base", "population"), columns=["resident_id", "hukou_division"])
    beijing = population.filter(pl.col("hukou_division").str.starts_with("11"))["resident_id"][0]
    local = hangzhou_unmarried(home)["resident_id"][0]
    attempts = [
        (ANALYST, "population", beijing, "marital_status", "outside your row scope"),
        (ANALYST, "population", "330102199913130000", "marital_status", "or there is none"),
        (ANALYST, "population", local, "birth_date", "is hidden to you"),
        ("open_public", "population", local, "marital_status", "not granted to you"),
    ]
    for user, view, key, column, why in attempts:
        with pytest.raises(PolicyDenied, match=why):
            file_objection(home, user=user, view=view, key=key, column=column, reason="wrong")
    assert objections.cases(home) == []
    refused = [e for e in objection_audit(home) if e["decision"] == "refused"]
    assert len(refused) == len(attempts)
    assert [e["user"] for e in refused] == [a[0] for a in attempts]
    assert all(e["statement_kind"] == "objection.file" and e["reason"] for e in refused)
    # the same answer for a record outside the scope and one that does not exist: no existence oracle
    assert str(refused[0]["reason"]) == str(refused[1]["reason"]).replace("330102199913130000", beijing)


def test_what_cannot_be_objected_to(home: Home) -> None:
    key = hangzhou_unmarried(home)["resident_id"][0]
    with pytest.raises(GovLakeError, match="no record key"):
        file_objection(home, user=ANALYST, view="population_structure", key=key, column="age_band", reason="x")
    with pytest.raises(GovLakeError, match="no single authoritative source"):
        file_objection(home, user=ANALYST, view="credit_person", key=key, column="grade", reason="x")
    with pytest.raises(GovLakeError, match="identifies the record"):
        file_objection(home, user=ANALYST, view="population", key=key, column="resident_id", reason="x")
    with pytest.raises(GovLakeError, match="needs a reason"):
        file_objection(home, user=ANALYST, view="population", key=key, column="marital_status", reason=" ")
    # age is computed from the birth date: the household register (公安) answers for it
    case = file_objection(home, user=ANALYST, view="population", key=key, column="age", reason="出生日期登记有误")
    assert (case.attribute, case.source_dataset, case.department) == ("birth_date", "hukou", "public_security")


def test_rejection_closes_the_case_and_a_second_answer_is_refused(home: Home) -> None:
    person = hangzhou_unmarried(home).row(0, named=True)
    case = file_marital(home, person)
    with pytest.raises(PolicyDenied, match="addressed to department 'civil_affairs'"):
        objections.reject(home, case.case_id, user=PUBLIC_SECURITY, reason="not ours")
    rejected = objections.reject(home, case.case_id, user=CIVIL_AFFAIRS, reason="婚姻登记系统中无该登记记录")
    assert rejected.state == "rejected" and rejected.resolution == "婚姻登记系统中无该登记记录"
    before = ledger.read(objections.ledger_path(home))
    with pytest.raises(StateError, match=r"closed.*nothing was changed"):
        objections.reject(home, case.case_id, user=CIVIL_AFFAIRS, reason="again")
    assert ledger.read(objections.ledger_path(home)).equals(before)  # type: ignore[union-attr]
    assert marker_of(home, ANALYST, str(person["resident_id"]), str(person["hukou_division"])) is None
    kinds = [(e["statement_kind"], e["decision"]) for e in objection_audit(home)]
    assert kinds == [("objection.file", "allowed"), ("objection.reject", "refused"), ("objection.reject", "allowed"),
                     ("objection.reject", "refused")]
    assert [e["action"] for e in objections.history(home, case.case_id)] == ["file", "reject"]


def marriage_file(folder: Path, husband: dict[str, object], wife: dict[str, object]) -> Path:
    """A 民政 marriage-registration export (its ordinary JSON Lines format) with one new registration."""
    record = {"登记证字号": "J330102-2026-999999", "登记类型": "结婚登记",
              "男方身份号码": husband["resident_id"], "男方姓名": husband["name"],
              "男方出生日期": str(husband["birth_date"]), "女方身份号码": wife["resident_id"],
              "女方姓名": wife["name"], "女方出生日期": str(wife["birth_date"]), "登记日期": "2026-11-21",
              "登记机关区划": "330102"}
    path = folder / "民政_婚姻登记_20261122.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_a_correction_is_ingested_built_and_linked_to_the_case(home: Home, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    candidates = hangzhou_unmarried(home)
    husband = candidates.filter(pl.col("sex") == "1").row(0, named=True)
    wife = candidates.filter(pl.col("sex") == "2").row(0, named=True)
    root = str(home.root)
    assert main(["--home", root, "objection", "file", "--user", ANALYST, "--view", "population", "--key",
                 str(husband["resident_id"]), "--column", "marital_status", "--reason", "本人已登记结婚",
                 "--evidence", "结婚证 J330102-2026-999999"]) == 0
    case_id = capsys.readouterr().out.split(":")[0]
    log_before = delta.read(home.table_path("system", INGEST_LOG.name)).height

    # the department's file for another dataset is refused before anything is ingested
    hukou = tmp_path / "公安_户籍人口_20261122.csv"
    hukou.write_text("公民身份号码\n", encoding="utf-8")
    assert main(["--home", root, "objection", "resolve", case_id, "--user", CIVIL_AFFAIRS, "--correction",
                 str(hukou)]) == 1
    assert "民政_婚姻登记_*.jsonl" in capsys.readouterr().err
    assert delta.read(home.table_path("system", INGEST_LOG.name)).height == log_before

    correction = marriage_file(tmp_path, husband, wife)
    assert main(["--home", root, "objection", "resolve", case_id, "--user", CIVIL_AFFAIRS, "--correction",
                 str(correction)]) == 0
    case = objections.case(home, case_id)
    assert (case.state, case.value_at_filing, case.value_after) == ("corrected", "10", "20")
    log = delta.read(home.table_path("system", INGEST_LOG.name))
    (entry,) = log.filter(pl.col("batch_id") == case.correction_batch).to_dicts()
    assert entry["dataset"] == "marriages" and entry["rows_loaded"] == 1
    assert case.raw_version == entry["raw_version"] == delta.version(home.table_path("raw", "marriages"))
    manifest = latest(home)
    assert manifest is not None and case.build_id == manifest.build_id
    assert case.correction_batch in manifest.batches
    assert case.base_versions["base.population"] == delta.version(home.table_path("base", "population"))
    assert case.base_versions["base.population"] == manifest.outputs["base.population"]
    # the fix is that Delta version: the record before and after, by time travel
    path = home.table_path("base", "population")
    key = pl.col("resident_id") == husband["resident_id"]
    after = delta.read(path, version=case.base_versions["base.population"]).filter(key)
    assert after["marital_status"][0] == "20"
    assert after["provenance"].struct.field("marital_status").struct.field("batch")[0] == case.correction_batch
    with open_session(ANALYST, home=home) as session:
        row = session.sql(f"SELECT marital_status, objection_status FROM population WHERE resident_id = "
                          f"'{masked(str(husband['resident_id']))}' AND hukou_division = '{husband['hukou_division']}'")
    assert row.to_dicts() == [{"marital_status": "20", "objection_status": None}]
    assert [e["action"] for e in objections.history(home, case_id)] == ["file", "correct"]
    with pytest.raises(StateError, match="already corrected"):
        from govlake.commands.objection import correct

        correct(home, case_id, user=CIVIL_AFFAIRS, file=correction)
    capsys.readouterr()
    assert main(["--home", root, "objection", "show", case_id]) == 0
    shown = capsys.readouterr().out
    assert case.correction_batch in shown and "base.population v" in shown
    assert main(["--home", root, "objection", "list", "--department", "民政", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["case_id"] == case_id and listed["state"] == "corrected"


def test_a_correction_that_changes_nothing_leaves_the_case_open(home: Home, tmp_path: Path) -> None:
    from govlake.commands.objection import correct

    candidates = hangzhou_unmarried(home)
    person = candidates.row(0, named=True)
    case = file_marital(home, person)
    # a registration for two other people: ingested like any file, but the objected value does not change
    others = candidates.filter(pl.col("resident_id") != person["resident_id"])
    husband = others.filter(pl.col("sex") == "1").row(0, named=True)
    wife = others.filter(pl.col("sex") == "2").row(0, named=True)
    with pytest.raises(StateError, match="stays open"):
        correct(home, case.case_id, user=CIVIL_AFFAIRS, file=marriage_file(tmp_path, husband, wife))
    assert objections.case(home, case.case_id).state == "open"
    failed = [e for e in objection_audit(home) if e["decision"] == "failed"]
    assert [e["statement_kind"] for e in failed] == ["objection.correct"]
    with pytest.raises(ContractError, match="no such file"):
        correct(home, case.case_id, user=CIVIL_AFFAIRS, file=tmp_path / "missing.jsonl")
