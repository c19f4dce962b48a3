"""Open record releases (双公示 licences and penalties, the dishonest-debtor list): what the law makes public,
and never a natural person's identifier.

The demo has natural persons only among dishonest debtors, so each test that publishes adds crafted
rows to ``base.credit_facts`` (a new Delta version pinned by a new manifest row, as a build would):
adults and minors, a decision out of its publicity period, a debtor removed from the list, a person
whose row claims to be a legal person, a licence numbered with the holder's resident ID.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from stdnum.cn import ric

import govlake
from govlake.errors import ConfigError
from govlake.home import Home
from lake import audit, delta, opendata
from policies import load_policies
from transforms import manifest
from views.columns import view_columns
from views.definitions import load_view, shipped_views
from views.masks import PUBLIC_PARTY_WHY, check_grants, column_comment, user_access
from views.opendata import ROW_SOURCES, _read_whole, plan, publish, releases, row_datasets

RECORDS = ("open_admin_licences", "open_admin_penalties", "open_dishonest_debtors")
#: Anything shaped like a resident ID, anywhere in a text (python-stdnum then says whether it is one).
RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")
TODAY = dt.date.today()


def copy_home(source: Home, root: Path) -> Home:
    shutil.copytree(source.root, root,
                    ignore=shutil.ignore_patterns("cache", "spool", "duckdb_extensions", "open_data"))
    shutil.copytree(source.extensions, root / "duckdb_extensions", copy_function=os.link)
    return Home(root)


def with_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")  # stdnum wants a placeholder check digit


@pytest.fixture
def home(built_home: Home, tmp_path: Path) -> Home:
    return copy_home(built_home, tmp_path / "home")


def add_facts(home: Home, rows: list[dict[str, Any]]) -> int:
    """Append ``rows`` to base.credit_facts and pin the new version in a manifest row; the version."""
    path = home.table_path("base", "credit_facts")
    schema = delta.read(path).schema
    frame = pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema)
    version = delta.write(path, frame.to_arrow())
    latest = manifest.latest(home)
    assert latest is not None
    manifest.record(home, kind="incremental", as_of=latest.as_of, batches=latest.batches, new_batches=frozenset(),
                    outputs={**latest.outputs, "base.credit_facts": version}, keys_rebuilt=0,
                    started_at=dt.datetime.now(dt.UTC))
    return version


def fact(kind: str, dataset: str, key: str, subject_type: str, subject_id: str, name: str, *, decided: dt.date,
         end: dt.date | None, code: str | None = None, code_name: str | None = None) -> dict[str, Any]:
    return {"subject_type": subject_type, "subject_id": subject_id, "subject_id_valid": True, "subject_name": name,
            "fact_type": kind, "fact_type_name": kind, "fact_date": decided, "end_date": end, "current": True,
            "code": code, "code_name": code_name, "authority": "测试区市场监督管理局", "division": "330106",
            "detail": f"{name} {subject_id}", "source_dataset": dataset, "source_key": key, "source_batch": "test"}


@pytest.fixture
def people(built_home: Home) -> dict[str, dict[str, Any]]:
    """Adults of the demo population (valid IDs), and a crafted minor."""
    population = delta.read(built_home.table_path("base", "population"), columns=["resident_id", "name", "age"])
    # Three-character names: a two-character one could occur inside an unrelated organisation's name.
    adults = population.filter((pl.col("age") >= 30) & (pl.col("name").str.len_chars() == 3)
                               & pl.col("resident_id").map_elements(ric.is_valid, return_dtype=pl.Boolean))
    chosen = adults.sort("resident_id").head(5).rows(named=True)
    minor_birth = TODAY.replace(year=TODAY.year - 12, day=1)
    minor = {"resident_id": with_check(f"330106{minor_birth:%Y%m%d}123"), "name": "欧阳小明", "age": 12}
    return {"penalised": chosen[0], "misfiled": chosen[1], "licensed": chosen[2], "debtor": chosen[3],
            "removed": chosen[4], "minor": minor}


def crafted(people: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    p = people
    recent, later, past = TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=365), TODAY - dt.timedelta(days=1)
    penalty = ("admin_penalty", "admin_penalties")
    return [
        fact(*penalty, "测试罚决字〔2026〕1号", "person", p["penalised"]["resident_id"], p["penalised"]["name"],
             decided=recent, end=later, code="02", code_name="罚款"),
        fact(*penalty, "测试罚决字〔2026〕2号", "person", p["minor"]["resident_id"], p["minor"]["name"],
             decided=recent, end=later, code="01", code_name="警告"),
        # A natural person's row that says legal person (a misfiled party type): still masked.
        fact(*penalty, "测试罚决字〔2026〕3号", "entity", p["misfiled"]["resident_id"], p["misfiled"]["name"],
             decided=recent, end=later, code="02", code_name="罚款"),
        fact(*penalty, "测试罚决字〔2025〕4号", "person", p["penalised"]["resident_id"], p["penalised"]["name"],
             decided=recent - dt.timedelta(days=400), end=past, code="01", code_name="警告"),  # publicity over
        fact(*penalty, "测试罚决字〔2026〕5号", "entity", "91330106MA2TEST01X", "杭州测试合伙企业(有限合伙)",
             decided=recent, end=later, code="02", code_name="罚款"),
        fact("admin_licence", "admin_licences", "测试许可〔2026〕1号", "person", p["licensed"]["resident_id"],
             p["licensed"]["name"], decided=recent, end=None, code=p["licensed"]["resident_id"],
             code_name="机动车驾驶证"),  # numbered with the holder's resident ID
        fact("dishonest_debtor", "dishonest_debtors", "(2026)浙0106执9001号", "person", p["debtor"]["resident_id"],
             p["debtor"]["name"], decided=recent, end=None, code_name="全部未履行"),
        fact("dishonest_debtor", "dishonest_debtors", "(2025)浙0106执9002号", "person", p["removed"]["resident_id"],
             p["removed"]["name"], decided=recent - dt.timedelta(days=200), end=past, code_name="全部未履行"),
    ]


def masked(resident_id: str) -> str:
    """A resident ID as the resident_id mask shows it: division and last four, the birth date hidden."""
    return resident_id[:6] + "*" * 8 + resident_id[-4:]


def published_texts(release: opendata.PublishedRelease) -> list[str]:
    """Every cell of the Parquet and CSV files, and the dictionary and metadata as text."""
    texts = []
    for frame in (pl.read_parquet(release.file("parquet")), pl.read_csv(release.file("csv"), infer_schema=False)):
        texts += [str(value) for column in frame.columns for value in frame[column].to_list() if value is not None]
    texts.append(release.file("dictionary").read_text(encoding="utf-8-sig"))
    texts.append(release.file("metadata").read_text(encoding="utf-8"))
    return texts


# --------------------------------------------------------------------------- which datasets, which columns


def test_record_releases_draw_on_their_datasets_by_rows() -> None:
    found = releases()
    assert {name: found[name].datasets for name in RECORDS} == {
        "open_admin_licences": ("admin_licences",), "open_admin_penalties": ("admin_penalties",),
        "open_dishonest_debtors": ("dishonest_debtors",)}
    elements = {entry.column: entry.element for entry in found["open_admin_penalties"].dictionary}
    assert elements["decision_no"] == "case_no" and elements["party_id"] == "party_id"
    assert elements["penalty_type"] == "penalty_type" and elements["party_type_name"] == ""  # computed
    planned = {subject: reason for subject, _, reason in plan(["admin_licences", "dishonest_debtors"])}
    assert planned == {"open_admin_licences": "", "open_dishonest_debtors": ""}
    # No published column of a record release is sensitive, and party columns are never clear by default.
    policies = load_policies()
    public = user_access(policies.user("open_public"), policies, shipped_views())
    for name in RECORDS:
        flags = view_columns(shipped_views()[name], policies)
        assert all(column.flags.pi != "sensitive" for column in flags.values()), name
        masked_columns = {c for c, a in public[name].columns.items() if a.treatment != "clear"}
        assert masked_columns == {c for c, f in flags.items() if f.flags.pi != "none"}, name
        assert all(public[name].columns[c].why == PUBLIC_PARTY_WHY for c in masked_columns)
        assert PUBLIC_PARTY_WHY in column_comment(public[name].columns[sorted(masked_columns)[0]], "")


def view_file(tmp_path: Path, body: str, header: str = "-- @scope: division\n-- @open: records") -> Path:
    path = tmp_path / "candidate.sql"
    path.write_text(f"-- 试验视图：说明\n{header}\n{body}", encoding="utf-8")
    return path


KNOWN = frozenset(["base.credit_facts", "base.legal_entity"])


def test_row_sources_must_be_restricted_in_the_view(tmp_path: Path) -> None:
    catalog_ids = {"admin_penalties", "tax_credit", "dishonest_debtors"}
    select = "SELECT source_key, division FROM base.credit_facts"
    unrestricted = load_view(view_file(tmp_path, select), known_tables=KNOWN)
    datasets, problem = row_datasets(unrestricted, catalog_ids)
    assert not datasets and "source_dataset" in problem and "不予发布" in problem
    both = load_view(view_file(tmp_path, f"{select} AS f WHERE f.source_dataset IN ('admin_penalties', "
                                         "'tax_credit') AND fact_date IS NOT NULL"), known_tables=KNOWN)
    assert row_datasets(both, catalog_ids) == (frozenset({"admin_penalties", "tax_credit"}), "")
    narrowed = load_view(view_file(tmp_path, f"{select} WHERE source_dataset IN ('admin_penalties', 'tax_credit') "
                                             "AND source_dataset = 'tax_credit'"), known_tables=KNOWN)
    assert row_datasets(narrowed, catalog_ids) == (frozenset({"tax_credit"}), "")
    either = load_view(view_file(tmp_path, f"{select} WHERE source_dataset = 'admin_penalties' OR fact_date IS NULL"),
                       known_tables=KNOWN)
    assert "source_dataset" in row_datasets(either, catalog_ids)[1]  # an OR restricts nothing
    unknown = load_view(view_file(tmp_path, f"{select} WHERE source_dataset = 'penalties'"), known_tables=KNOWN)
    assert "penalties" in row_datasets(unknown, catalog_ids)[1]
    assert ROW_SOURCES == {"base.credit_facts": "source_dataset"}


@pytest.mark.parametrize(("header", "body", "message"), [
    ("-- @scope: division\n-- @open: records", "SELECT division, count(*) AS n FROM base.credit_facts GROUP BY ALL",
     "must not aggregate"),
    ("-- @scope: division\n-- @party: subject_type", "SELECT division, subject_type FROM base.credit_facts",
     "@party is for record-level open-data views only"),
    ("-- @scope: division\n-- @open: records\n-- @party: kind", "SELECT division, subject_type FROM base.credit_facts",
     "@party column 'kind' is not an output column"),
])
def test_bad_record_views_are_refused(tmp_path: Path, header: str, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_view(view_file(tmp_path, body, header), known_tables=KNOWN)


def test_the_party_column_must_be_plain_non_personal_data(tmp_path: Path) -> None:
    """A view cannot mark rows as legal persons with a constant or with a personal column."""
    views = dict(shipped_views())
    for party, select in [("kind", "'entity' AS kind"), ("subject_id", "subject_id")]:
        path = view_file(tmp_path, f"SELECT division, {select}, subject_name FROM base.credit_facts "
                                   "WHERE source_dataset = 'admin_penalties'",
                         f"-- @scope: division\n-- @open: records\n-- @party: {party}")
        path = path.rename(tmp_path / "open_admin_penalties.sql")
        views["open_admin_penalties"] = load_view(path, known_tables=KNOWN)
        with pytest.raises(ConfigError, match="must read one built column that holds no personal information"):
            check_grants(load_policies(), views)


# --------------------------------------------------------------------------- publishing


def test_published_records_hold_no_resident_id(home: Home, people: dict[str, dict[str, Any]]) -> None:
    version = add_facts(home, crafted(people))
    outcomes = {o.subject: o for o in publish(home, list(RECORDS))}
    assert all(outcomes[name].ok for name in RECORDS), {n: o.reason for n, o in outcomes.items()}
    for name in RECORDS:
        release = outcomes[name].published
        assert release is not None and release.meta.source_versions["base.credit_facts"] == version
        assert opendata.verify(release) == []
        for text in published_texts(release):
            # Every published cell, the dictionary and the metadata: nothing python-stdnum takes for a resident ID.
            ids = [match for match in RESIDENT_ID.findall(text) if ric.is_valid(match.upper())]
            assert ids == [], (name, text)
            for person in people.values():
                assert person["resident_id"][:14] not in text  # the birth date never travels with the division
                assert person["name"] not in text  # a natural person's full name never appears
    penalties = pl.read_parquet(outcomes["open_admin_penalties"].published.file("parquet"))  # type: ignore[union-attr]
    by_key = {row["decision_no"]: row for row in penalties.iter_rows(named=True)}
    adult, misfiled = people["penalised"], people["misfiled"]
    assert by_key["测试罚决字〔2026〕1号"]["party_id"] == masked(adult["resident_id"])
    assert re.fullmatch(r".{1,2}\*", by_key["测试罚决字〔2026〕1号"]["party_name"])
    assert by_key["测试罚决字〔2026〕3号"]["party_id"] == masked(misfiled["resident_id"])
    assert "测试罚决字〔2026〕2号" not in by_key  # a minor
    assert "测试罚决字〔2025〕4号" not in by_key  # out of its publicity period
    # A legal person's name and credit code are published as stored, whatever their shape.
    assert by_key["测试罚决字〔2026〕5号"]["party_name"] == "杭州测试合伙企业(有限合伙)"
    stored = delta.read(home.table_path("base", "credit_facts")).filter(
        (pl.col("source_dataset") == "admin_penalties") & (pl.col("subject_type") == "entity")
        & pl.col("end_date").ge(TODAY) & pl.col("fact_date").le(TODAY))
    shown = dict(penalties.filter(pl.col("party_kind") == "entity").select("decision_no", "party_id").iter_rows())
    expected = {row["source_key"]: masked(row["subject_id"]) if opendata.resident_id_ok(row["subject_id"])
                else row["subject_id"] for row in stored.iter_rows(named=True)}
    assert shown == expected
    assert any(re.fullmatch(r"\d{18}", code) for code in shown.values())  # all-digit credit codes stay public
    licences = pl.read_parquet(outcomes["open_admin_licences"].published.file("parquet"))  # type: ignore[union-attr]
    licence = licences.filter(pl.col("decision_no") == "测试许可〔2026〕1号").row(0, named=True)
    assert licence["licence_no"] is None and licence["party_id"].count("*") == 8
    debtors = pl.read_parquet(outcomes["open_dishonest_debtors"].published.file("parquet"))  # type: ignore[union-attr]
    assert "(2026)浙0106执9001号" in debtors["case_no"] and "(2025)浙0106执9002号" not in debtors["case_no"]
    # What is published is what the public sees through the governed view, and a public query cannot
    # find a person by the stored identifier.
    with govlake.connect(user="open_public", home=home) as session:
        public = session.sql("SELECT * FROM open_admin_penalties ORDER BY ALL")
        probe = session.sql(f"SELECT count(*) AS n FROM open_admin_penalties WHERE party_id = "
                            f"'{adult['resident_id']}' OR substr(party_id, 7, 8) = '{adult['resident_id'][6:14]}'")
    assert penalties.sort(pl.all()).equals(public.sort(pl.all()))
    assert probe["n"][0] == 0
    meta = json.loads(outcomes["open_dishonest_debtors"].published.file("metadata").read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert [d["id"] for d in meta["datasets"]] == ["dishonest_debtors"] and "隐去出生日期" in meta["suppression"]


def test_an_identifier_in_a_clear_column_refuses_the_release(home: Home, people: dict[str, dict[str, Any]]) -> None:
    """A department wrote a resident ID into a decision number: the last check refuses the release whole."""
    person = people["penalised"]
    row = fact("admin_penalty", "admin_penalties", f"测试罚决字{person['resident_id']}号", "entity",
               "91330106MA2TEST01X", "杭州测试有限公司", decided=TODAY - dt.timedelta(days=3),
               end=TODAY + dt.timedelta(days=90), code="01", code_name="警告")
    add_facts(home, [row])
    [outcome] = publish(home, ["open_admin_penalties"])
    assert not outcome.ok and "decision_no 列 1 个" in outcome.reason and person["resident_id"] not in outcome.reason
    assert not (home.open_data / "open_admin_penalties").exists() or not any(
        (home.open_data / "open_admin_penalties").glob("v*"))
    refusals = [row for row in audit.entries(home) if row["statement_kind"] == "opendata.publish"
                and row["decision"] == "refused"]
    assert refusals and "未脱敏的公民身份号码" in refusals[-1]["reason"]


def test_releases_are_read_page_by_page(home: Home) -> None:
    """A release longer than the role's row limit is read whole, a page at a time."""
    with govlake.connect(user="open_public", home=home) as session:
        everything = session.sql("SELECT * FROM open_admin_licences ORDER BY ALL")
        assert everything.height > 120
        session.row_limit = 50  # the session enforces its own limit: each query returns at most 50 rows
        paged = pl.from_arrow(_read_whole(session, "open_admin_licences"))
    assert isinstance(paged, pl.DataFrame) and paged.equals(everything)


def test_resident_id_check_agrees_with_stdnum() -> None:
    import random

    rng = random.Random(7)
    for _ in range(2_000):
        first17 = f"{rng.randint(110000, 659999)}{rng.randint(1930, 2020)}{rng.randint(1, 12):02d}" \
                  f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        for check in "0123456789X":
            value = first17 + check
            assert opendata.resident_id_ok(value) == (ric.calc_check_digit(first17 + "0") == check)
    table = pl.DataFrame({"a": ["罚决字" + with_check("11010519491231002") + "号", "JY4690072025000124", None],
                          "b": [1, 2, 3]}).to_arrow()
    assert opendata.resident_ids(table) == {"a": 1}
