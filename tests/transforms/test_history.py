"""The look-back marts (transforms/history.py): credit grades at earlier month ends, aggregation per day.

Grades at earlier dates are checked two ways: on hand-made facts whose grade must change on known
days under the real credit rules, and on the built demo home, where re-grading at the reference
date must give exactly the grades of ``base.credit_entity`` and the mart's latest date exactly the
entity counts of ``topic.credit_grade_distribution``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from govlake.home import Home
from lake import delta
from transforms.credit import FACT_SCHEMA
from transforms.history import current_at, grades_at, month_ends


def fact(subject: str, kind: str, date: dt.date | None, *, end: dt.date | None = None, code: str | None = None,
         key: str = "k") -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(FACT_SCHEMA)
    row.update(subject_type="entity", subject_id=subject, subject_id_valid=True, fact_type=kind, fact_date=date,
               end_date=end, code=code, source_key=key, current=False)
    return row


ENTITIES = pl.DataFrame(
    {"uscc": ["E1", "E2", "E3", "E4"], "division": ["330106", "330106", "110101", None],
     "in_legal_entity": [True, True, True, False],
     "established_date": [dt.date(2020, 1, 1), dt.date(2026, 6, 15), dt.date(2020, 1, 1), None]},
)


def facts(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=FACT_SCHEMA, orient="row")


def grade_of(frame: pl.DataFrame, uscc: str) -> str | None:
    rows = frame.filter(pl.col("uscc") == uscc)
    return rows["grade"][0] if rows.height else None


def test_month_ends_are_the_last_days_before_the_month() -> None:
    ends = month_ends(dt.date(2026, 3, 9), 13)
    assert ends[0] == dt.date(2025, 2, 28) and ends[-1] == dt.date(2026, 2, 28) and len(set(ends)) == 13
    assert month_ends(dt.date(2024, 3, 31), 1) == [dt.date(2024, 2, 29)]


def test_a_dishonest_case_grades_d_while_it_is_published_then_c() -> None:
    case = facts(fact("E1", "dishonest_debtor", dt.date(2026, 3, 10), end=dt.date(2026, 6, 20)))
    assert grade_of(grades_at(case, ENTITIES, dt.date(2026, 2, 28)), "E1") == "B"
    assert grade_of(grades_at(case, ENTITIES, dt.date(2026, 3, 31)), "E1") == "D"
    assert grade_of(grades_at(case, ENTITIES, dt.date(2026, 6, 19)), "E1") == "D"
    # Removed from the list: C for twelve months (dishonest_removed_12m), then B again.
    assert grade_of(grades_at(case, ENTITIES, dt.date(2026, 6, 30)), "E1") == "C"
    assert grade_of(grades_at(case, ENTITIES, dt.date(2027, 6, 30)), "E1") == "B"


def test_penalties_count_in_the_twelve_months_to_the_day() -> None:
    penalties = facts(*(fact("E3", "admin_penalty", dt.date(2026, month, 1), code="01", key=f"p{month}")
                        for month in (1, 2, 3)))
    assert grade_of(grades_at(penalties, ENTITIES, dt.date(2026, 2, 28)), "E3") == "C"  # two so far
    assert grade_of(grades_at(penalties, ENTITIES, dt.date(2026, 3, 31)), "E3") == "D"  # three: penalties_12m >= 3
    assert grade_of(grades_at(penalties, ENTITIES, dt.date(2027, 1, 31)), "E3") == "C"  # January's has aged out


def test_tax_ratings_count_from_the_year_after() -> None:
    rating = facts(fact("E1", "tax_rating", dt.date(2026, 4, 20), code="D", key="E1|2025"))
    assert grade_of(grades_at(rating, ENTITIES, dt.date(2026, 3, 31)), "E1") == "B"  # not yet rated
    assert grade_of(grades_at(rating, ENTITIES, dt.date(2026, 4, 30)), "E1") == "D"
    known = current_at(rating, dt.date(2026, 4, 30))
    assert known["_rating_year"].to_list() == [2025] and known["current"].to_list() == [True]


def test_entities_exist_from_establishment_or_their_first_fact() -> None:
    only_facts = facts(fact("E4", "admin_penalty", dt.date(2026, 5, 1), code="01"))
    before, after = grades_at(only_facts, ENTITIES, dt.date(2026, 4, 30)), grades_at(only_facts, ENTITIES,
                                                                                       dt.date(2026, 6, 30))
    assert set(before["uscc"]) == {"E1", "E3"}  # E2 established in June, E4 has no fact yet
    assert set(after["uscc"]) == {"E1", "E2", "E3", "E4"} and grade_of(after, "E4") == "C"


def test_regrading_at_the_reference_date_gives_the_library_grades(built_home: Home) -> None:
    from transforms.manifest import latest

    manifest = latest(built_home)
    assert manifest is not None
    entity = delta.read(built_home.table_path("base", "credit_entity"), columns=["uscc", "division", "in_legal_entity",
                                                                                "grade"])
    legal = delta.read(built_home.table_path("base", "legal_entity"), columns=["uscc", "established_date"])
    all_facts = delta.read(built_home.table_path("base", "credit_facts")).filter(pl.col("subject_type") == "entity")
    regraded = grades_at(all_facts, entity.join(legal, on="uscc", how="left"), manifest.as_of)
    compared = entity.join(regraded, on="uscc", how="full", suffix="_again")
    assert compared.height == entity.height > 100
    assert compared.filter(pl.col("grade").cast(pl.String).ne_missing(pl.col("grade_again"))).height == 0


@pytest.fixture(scope="module")
def by_month(built_home: Home) -> pl.DataFrame:
    return delta.read(built_home.table_path("topic", "credit_grade_by_month"))


def test_the_latest_month_is_the_current_distribution(built_home: Home, by_month: pl.DataFrame) -> None:
    as_of = by_month["as_of"][0]
    dates = sorted(set(by_month["graded_on"]))
    assert dates == [*month_ends(as_of), as_of]
    current = (delta.read(built_home.table_path("topic", "credit_grade_distribution"))
               .filter(pl.col("subject_type") == "entity")
               .group_by("division_level", "division", "grade").agg(pl.col("subjects").sum()))
    latest = by_month.filter(pl.col("graded_on") == as_of).select("division_level", "division", "grade", "subjects")
    key = ["division_level", "division", "grade"]
    assert latest.sort(key, nulls_last=True).equals(current.sort(key, nulls_last=True).select(latest.columns))


def test_every_month_adds_up_across_levels(by_month: pl.DataFrame) -> None:
    per_level = by_month.group_by("graded_on", "division_level").agg(pl.col("subjects").sum())
    provinces = per_level.filter(pl.col("division_level") == 1).select("graded_on", pl.col("subjects").alias("all"))
    cities = per_level.filter(pl.col("division_level") == 2).join(provinces, on="graded_on")
    assert cities.height and (cities["subjects"] <= cities["all"]).all()
    totals = provinces.sort("graded_on")["all"].to_list()
    assert totals == sorted(totals), "entities only accumulate: every month end counts at least the one before"


def test_aggregation_by_day_reconciles_with_the_ingest_log(built_home: Home) -> None:
    from lake.system import INGEST_LOG

    log = delta.read(built_home.table_path("system", INGEST_LOG.name))
    daily = delta.read(built_home.table_path("topic", "aggregation_by_day"))
    as_of = daily["as_of"][0]
    assert daily["batches"].sum() == log.height
    assert daily["rows_loaded"].sum() == log["rows_loaded"].sum()
    on_day = log.filter(pl.col("finished_at").dt.date() == as_of)["dataset"].n_unique()
    assert daily.filter(pl.col("day") == as_of)["dataset"].n_unique() == on_day > 0
    assert daily["dataset_name"].null_count() == 0 and daily["department"].null_count() == 0
