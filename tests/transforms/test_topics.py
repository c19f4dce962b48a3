"""The topic marts: age bands, roll-ups, monthly events, credit grades and department statistics.

Base-library inputs are small hand-made frames; the health certificates go through the real
standardization, and the ingest log is a real Delta table in a temporary home.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from govlake.errors import ContractError
from govlake.home import Home
from lake import delta
from lake.system import INGEST_LOG
from tests.transforms.test_geospatial import AS_OF, make_context
from transforms.topics import (
    TABLES,
    age_band_label,
    age_band_start,
    age_group,
    aggregation_by_department,
    births_deaths_by_month,
    credit_grade_distribution,
    entities_by_industry_division_month,
    population_by_division_age_sex,
    topics,
    vital_window,
)


def person(pid: str, age: int | None, sex: str, hukou: str | None, residence: str | None, *,
           birth: dt.date | None = None, death: dt.date | None = None) -> dict[str, object]:
    return {"resident_id": pid, "age": age, "sex": sex, "hukou_division": hukou, "residence_division": residence,
            "birth_date": birth, "death_date": death, "alive": death is None}


PEOPLE = pl.DataFrame(
    [
        person("a", 14, "1", "110101", "110101", birth=dt.date(2012, 1, 1)),
        person("b", 15, "2", "110101", "330106", birth=dt.date(2011, 1, 1)),
        person("c", 60, "1", "330106", "330106", birth=dt.date(1966, 1, 1)),
        person("d", 104, "2", "330106", "330106", birth=dt.date(1922, 1, 1)),
        person("e", 30, "1", "330106", "330106", birth=dt.date(1996, 5, 5), death=dt.date(2026, 3, 9)),
        person("f", 0, "2", "330106", "330106", birth=dt.date(2026, 3, 1)),
        person("g", None, "9", None, "419001"),
    ],
    schema={"resident_id": pl.String, "age": pl.Int16, "sex": pl.String, "hukou_division": pl.String,
            "residence_division": pl.String, "birth_date": pl.Date, "death_date": pl.Date, "alive": pl.Boolean},
)


def legal_entity(uscc: str, division: str, section: str | None, established: dt.date,
                 status: str = "1", closed: dt.date | None = None, category: str = "企业") -> dict[str, object]:
    return {"uscc": uscc, "division": division, "industry_section": section, "category": category,
            "status": status, "established_date": established, "closed_date": closed}


ENTITIES = pl.DataFrame(
    [
        legal_entity("E1", "330106", "I", dt.date(2026, 3, 5)),
        legal_entity("E2", "330106", "I", dt.date(2026, 3, 28)),
        legal_entity("E3", "330106", "I", dt.date(2020, 1, 1), status="3", closed=dt.date(2026, 3, 2)),
        legal_entity("E4", "110101", "F", dt.date(2021, 6, 1), status="2", closed=dt.date(2026, 4, 30)),
        legal_entity("E5", "110101", None, dt.date(2026, 12, 1), category="社会团体"),  # after as_of
    ],
    schema={"uscc": pl.String, "division": pl.String, "industry_section": pl.String, "category": pl.String,
            "status": pl.String, "established_date": pl.Date, "closed_date": pl.Date},
)


def rows(frame: pl.DataFrame, division: str | None, *columns: str) -> list[tuple[object, ...]]:
    return frame.filter(pl.col("division").eq_missing(division)).select(columns).rows()


# --- population ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "start", "label", "group"),
    [(0, 0, "0-4", "0-14"), (14, 10, "10-14", "0-14"), (15, 15, "15-19", "15-59"), (59, 55, "55-59", "15-59"),
     (60, 60, "60-64", "60+"), (99, 95, "95-99", "60+"), (100, 100, "100+", "60+"), (117, 100, "100+", "60+"),
     (-1, None, None, None), (None, None, None, None)],
)
def test_age_bands(age: int | None, start: int | None, label: str | None, group: str | None) -> None:
    frame = pl.DataFrame({"age": [age]}, schema={"age": pl.Int16})
    row = frame.select(age_band_start(pl.col("age")).alias("start")).select(
        "start", age_band_label(pl.col("start")).alias("label"), age_group(pl.col("start")).alias("group")).row(0)
    assert row == (start, label, group)


def test_population_counts_living_persons_by_hukou_and_residence() -> None:
    mart = population_by_division_age_sex(make_context({}, {"base.population": PEOPLE}))
    assert list(mart.columns) == list(TABLES["topic.population_by_division_age_sex"].columns)
    national = mart.filter(pl.col("division_level") == 1)
    alive = PEOPLE.filter(pl.col("alive")).height
    assert national["hukou_persons"].sum() == alive and national["resident_persons"].sum() == alive
    assert rows(mart, "110101", "sex", "age_band", "age_group", "hukou_persons", "resident_persons") == [
        ("1", "10-14", "0-14", 1, 1), ("2", "15-19", "15-59", 1, 0)]
    assert sorted(rows(mart, "330100", "age_band_start", "hukou_persons", "resident_persons")) == [
        (0, 1, 1), (15, 0, 1), (60, 1, 1), (100, 1, 1)]  # the dead person is not counted
    # 济源市 is county level under the province: no city row, parent is 410000
    assert rows(mart, "419001", "division_level", "parent", "age_band", "resident_persons") == [(3, "410000", None, 1)]
    assert rows(mart, None, "division_level", "hukou_persons") == [(1, 1)]  # missing household-register division
    assert mart.filter(pl.col("sex") == "1")["sex_name"].unique().to_list() == ["男性"]
    assert (mart["as_of"] == AS_OF).all()


def test_population_drills_from_province_to_its_children() -> None:
    mart = population_by_division_age_sex(make_context({}, {"base.population": PEOPLE}))
    for province in ("110000", "330000"):
        total = mart.filter(pl.col("division") == province)["resident_persons"].sum()
        children = mart.filter(pl.col("parent") == province)
        # 110000's children are its districts; 330000's are its cities (counties hang below those)
        assert children["resident_persons"].sum() == total
    assert set(mart.filter(pl.col("parent") == "330000")["division"]) == {"330100"}


# --- births and deaths ----------------------------------------------------------------------------


def test_births_and_deaths_by_month_side_by_side() -> None:
    births = [
        {"certificate_no": "B1", "birth_date": "2026-03-01", "birth_division": "330106", "sex": "女"},
        {"certificate_no": "B2", "birth_date": "2026-03-15", "birth_division": "330108", "sex": "男"},
        {"certificate_no": "B3", "birth_date": "not a date", "birth_division": "330106"},
    ]
    deaths = [{"certificate_no": "D1", "name": "张三", "death_date": "2026-03-09", "death_division": "330106"}]
    ctx = make_context({"births": births, "deaths": deaths}, {"base.population": PEOPLE})
    mart = births_deaths_by_month(ctx)
    assert list(mart.columns) == list(TABLES["topic.births_deaths_by_month"].columns)
    march = dt.date(2026, 3, 1)
    measures = ("births_registered", "deaths_registered", "births_certified", "deaths_certified")
    assert rows(mart.filter(pl.col("month") == march), "330106", *measures) == [(1, 1, 1, 1)]
    assert rows(mart.filter(pl.col("month") == march), "330100", *measures) == [(1, 1, 2, 1)]
    first, last = vital_window(AS_OF)
    assert mart["month"].min() >= first and mart["month"].max() <= last
    assert (first, last) == (dt.date(2016, 1, 1), dt.date(2026, 11, 1))
    assert mart.filter(pl.col("division_level") == 1)["births_registered"].sum() == 1  # 2012 and 2011 births too old


# --- entities -------------------------------------------------------------------------------------


def test_entities_registered_cancelled_revoked_by_month() -> None:
    mart = entities_by_industry_division_month(make_context({}, {"base.legal_entity": ENTITIES}))
    assert list(mart.columns) == list(TABLES["topic.entities_by_industry_division_month"].columns)
    march, april = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    assert rows(mart.filter(pl.col("month") == march), "330106", "industry_section", "industry_section_name",
                "registered", "cancelled", "revoked") == [("I", "信息传输、软件和信息技术服务业", 2, 1, 0)]
    assert rows(mart.filter(pl.col("month") == april), "110000", "industry_section", "revoked") == [("F", 1)]
    assert mart.filter(pl.col("month") > AS_OF).is_empty()  # E5 is established after the reference date
    assert mart.filter(pl.col("division_level") == 1)["registered"].sum() == 4


# --- credit ---------------------------------------------------------------------------------------


def test_credit_distribution_is_empty_without_the_credit_library() -> None:
    mart = credit_grade_distribution(make_context({}))
    assert mart.is_empty()
    assert list(mart.columns) == list(TABLES["topic.credit_grade_distribution"].columns)
    assert mart.schema["subjects"] == pl.Int64 and mart.schema["share"] == pl.Float64


def test_credit_distribution_counts_and_shares() -> None:
    entity = pl.DataFrame({"uscc": ["E1", "E2", "E3", "E4"], "division": ["330106", "330106", "330108", None],
                           "category": ["企业", "企业", "企业", "企业"], "grade": ["A", "B", "B", "D"]})
    person = pl.DataFrame({"resident_id": ["p"], "hukou_division": ["110101"], "grade": ["D"]})
    mart = credit_grade_distribution(make_context({}, {"base.credit_entity": entity, "base.credit_person": person}))
    assert rows(mart, "330100", "subject_type", "grade", "subjects", "share") == [
        ("entity", "A", 1, pytest.approx(1 / 3)), ("entity", "B", 2, pytest.approx(2 / 3))]
    assert rows(mart, "110101", "subject_type", "category", "grade", "subjects") == [("person", "个人", "D", 1)]
    assert rows(mart, None, "grade", "subjects") == [("D", 1)]
    shares = mart.group_by("division_level", "division", "subject_type", "category").agg(pl.col("share").sum())
    assert shares["share"].to_list() == pytest.approx([1.0] * shares.height)


def test_credit_distribution_names_the_missing_grade_column() -> None:
    entity = pl.DataFrame({"uscc": ["E1"], "division": ["330106"], "rating": ["A"]})
    with pytest.raises(ContractError, match="grade"):
        credit_grade_distribution(make_context({}, {"base.credit_entity": entity}))


# --- departments ----------------------------------------------------------------------------------


def write_ingest_log(home: Home, deliveries: list[tuple[str, str, int, int, dt.datetime]]) -> None:
    """A system.ingest_log with one row per (dataset, department, rows_read, rows_quarantined, finished_at)."""
    frame = pl.DataFrame(
        [{"batch_id": f"{d}-{i}", "dataset": d, "department": dept, "source_file": f"/in/{d}-{i}.csv",
          "rows_read": read, "rows_loaded": read - bad, "rows_quarantined": bad, "finished_at": at}
         for i, (d, dept, read, bad, at) in enumerate(deliveries)],
        schema={"batch_id": pl.String, "dataset": pl.String, "department": pl.String, "source_file": pl.String,
                "rows_read": pl.Int64, "rows_loaded": pl.Int64, "rows_quarantined": pl.Int64,
                "finished_at": pl.Datetime("us", "UTC")},
    )
    delta.write(home.table_path("system", INGEST_LOG.name), frame.to_arrow(), mode="overwrite")


def at(day: int, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def department_mart(tmp_path: Path) -> pl.DataFrame:
    home = Home(tmp_path / "home").ensure()
    write_ingest_log(home, [
        ("hukou", "public_security", 100, 2, at(19)),
        ("hukou", "public_security", 50, 0, at(20)),
        ("births", "health", 10, 1, at(18)),  # daily, 2 days before as_of: overdue
        ("land_parcels", "natural_resources", 5, 0, at(25, month=10)),  # monthly, 26 days: on time
    ])
    conflicts = pl.DataFrame({"chosen_source": ["hukou", "deaths", "hukou"],
                              "other_source": ["births", "hukou", "social_insurance"]})
    ctx = make_context({}, {"base.conflicts.population": conflicts}, home=home.root)
    return aggregation_by_department(ctx)


def test_department_rows_and_freshness(department_mart: pl.DataFrame) -> None:
    mart = department_mart
    assert list(mart.columns) == list(TABLES["topic.aggregation_by_department"].columns)
    assert mart["department"].to_list() == sorted(mart["department"].to_list())
    police = mart.filter(pl.col("department") == "public_security").row(0, named=True)
    assert (police["files"], police["rows_read"], police["rows_loaded"], police["rows_quarantined"]) == (2, 150, 148, 2)
    assert police["quarantine_rate"] == pytest.approx(2 / 150)
    assert (police["days_since_last_ingestion"], police["freshness"]) == (0, "on_time")
    assert police["last_ingested_at"] == at(20) and police["first_ingested_at"] == at(19)
    health = mart.filter(pl.col("department") == "health").row(0, named=True)
    assert (health["datasets_catalogued"], health["datasets_aggregated"]) == (2, 1)
    assert (health["overdue_datasets"], health["missing_datasets"], health["freshness"]) == ("births", "deaths",
                                                                                             "overdue")
    land = mart.filter(pl.col("department") == "natural_resources").row(0, named=True)
    assert (land["days_since_last_ingestion"], land["freshness"]) == (26, "on_time")
    market = mart.filter(pl.col("department") == "market_regulation").row(0, named=True)
    assert (market["files"], market["quarantine_rate"], market["freshness"]) == (0, None, "incomplete")
    assert mart.filter(pl.col("datasets_catalogued") == 0)["freshness"].null_count() == \
        mart.filter(pl.col("datasets_catalogued") == 0).height


def test_department_conflicts(department_mart: pl.DataFrame) -> None:
    counts = {row["department"]: (row["conflicts_authoritative"], row["conflicts_overruled"])
              for row in department_mart.iter_rows(named=True)}
    assert counts["public_security"] == (2, 1)
    assert counts["health"] == (1, 1)
    assert counts["hrss"] == (0, 1)
    assert counts["tax"] == (0, 0)


def test_departments_without_an_ingest_log(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    mart = aggregation_by_department(make_context({}, home=home.root))
    assert (mart["files"] == 0).all() and mart["last_ingested_at"].null_count() == mart.height
    assert set(mart["freshness"].drop_nulls()) == {"incomplete"}


# --- the step -------------------------------------------------------------------------------------


def test_topics_twice_gives_identical_marts(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    write_ingest_log(home, [("hukou", "public_security", 100, 2, at(19))])
    outputs = {"base.population": PEOPLE, "base.legal_entity": ENTITIES}
    first = topics(make_context({}, outputs, home=home.root))
    second = topics(make_context({}, outputs, home=home.root))
    assert set(first) == set(TABLES)
    for name, frame in first.items():
        assert frame.equals(second[name]), name
        assert list(frame.columns) == list(TABLES[name].columns)
        assert all(TABLES[name].comments[column] for column in frame.columns)
