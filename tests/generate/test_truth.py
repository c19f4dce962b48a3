"""The truth files: defects point at what was written, and the world looks like China."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import shapely
from stdnum.cn import ric, uscc

from lake.catalog import load_catalog
from lake.reference import boundary_features, census_provinces
from tests.generate.readback import cell, records

CATALOG = load_catalog()


def _defects(summary) -> pl.DataFrame:
    return pl.read_parquet(summary.truth / "defects.parquet")


def _all_records(summary):
    for output in summary.outputs:
        dataset = CATALOG.dataset(output.dataset)
        yield output.name, dataset, records(summary.out / output.name, dataset)


def test_every_kind_of_defect_is_injected_and_recorded(generated):
    kinds = set(_defects(generated)["kind"].unique())
    assert kinds == {
        "bad_check_char", "lowercase_x", "date_format", "fullwidth", "whitespace", "duplicate_row",
        "missing_value", "late_record", "id_missing", "id_mistyped", "name_conflict", "birth_date_conflict",
        "malformed_row",
    }


def test_every_defect_points_at_what_was_written(generated):
    defects = _defects(generated)
    files = {name: (dataset, rows) for name, dataset, rows in _all_records(generated)}
    for defect in defects.iter_rows(named=True):
        dataset, rows = files[defect["file"]]
        assert defect["dataset"] == dataset.id
        record = rows[defect["row_number"] - 1]
        if defect["kind"] == "malformed_row":
            assert record == defect["written_value"], defect
            continue
        assert isinstance(record, dict), defect
        key = "|".join(str(record[dataset.item(column).source]) for column in dataset.key)
        assert key == defect["record_key"], defect
        if defect["field"] is not None:
            assert cell(record[dataset.item(defect["field"]).source]) == defect["written_value"], defect
            assert defect["true_value"] != defect["written_value"] or defect["kind"] == "late_record"


def test_malformed_rows_are_broken_the_way_the_readers_see_it(generated):
    broken = _defects(generated).filter(pl.col("kind") == "malformed_row")
    assert broken["dataset"].n_unique() >= 8  # every CSV and JSON Lines dataset
    for defect in broken.iter_rows(named=True):
        dataset = CATALOG.dataset(defect["dataset"])
        if dataset.format == "csv":
            assert len(defect["written_value"].split(",")) != len(dataset.items)


def _is_valid_id(value: str, element: str) -> bool:
    """Valid and written in its canonical form (stdnum alone would accept spaces and lowercase)."""
    if value != value.strip() or not value.isascii() or value.upper() != value:
        return False
    if element == "resident_id":
        return ric.is_valid(value)
    if element == "uscc":
        return uscc.is_valid(value)
    return ric.is_valid(value) or uscc.is_valid(value)


def test_ids_are_valid_unless_a_defect_says_otherwise(generated):
    recorded = {(d["file"], d["row_number"], d["field"]) for d in _defects(generated).iter_rows(named=True)}
    elements = {"resident_id", "uscc", "party_id"}
    checked = 0
    for name, dataset, rows in _all_records(generated):
        columns = [i for i in dataset.items if i.element in elements]
        for number, record in enumerate(rows, start=1):
            if not isinstance(record, dict):
                continue
            for item in columns:
                value = record[item.source]
                if value in (None, ""):
                    continue
                checked += 1
                if not _is_valid_id(value, item.element):
                    assert (name, number, item.column) in recorded, (name, number, item.column, value)
    assert checked > 10_000


def test_truth_ids_are_valid_and_unique(generated):
    persons = pl.read_parquet(generated.truth / "persons.parquet")
    entities = pl.read_parquet(generated.truth / "entities.parquet")
    assert persons["resident_id"].n_unique() == persons.height
    assert all(ric.is_valid(x) for x in persons["resident_id"])
    assert entities["uscc"].n_unique() == entities.height
    assert all(uscc.is_valid(x) for x in entities["uscc"])
    sex_digit = persons["resident_id"].str.slice(16, 1).cast(pl.Int32) % 2
    assert ((sex_digit == 1) == (persons["sex"] == "1")).all()


def test_keys_are_never_missing(generated):
    defects = _defects(generated)
    for dataset in CATALOG.datasets.values():
        lost = defects.filter((pl.col("dataset") == dataset.id) & pl.col("kind").is_in(["missing_value", "id_missing"])
                              & pl.col("field").is_in(list(dataset.key)))
        assert lost.height == 0
    for name, dataset, rows in _all_records(generated):
        for record in rows:
            if isinstance(record, dict):
                assert all(record[dataset.item(c).source] not in (None, "") for c in dataset.key), name


def test_authoritative_sources_carry_the_true_values(generated):
    persons = pl.read_parquet(generated.truth / "persons.parquet")
    by_id = {r["resident_id"]: r for r in persons.iter_rows(named=True)}
    [(_, hukou)] = [(n, rows) for n, d, rows in _all_records(generated) if d.id == "hukou"]
    fullwidth = str.maketrans("０１２３４５６７８９", "0123456789")
    for record in hukou:
        if not isinstance(record, dict):
            continue
        rid = re.sub(r"\s", "", record["公民身份号码"]).translate(fullwidth).upper()
        truth = by_id[rid]
        assert re.sub(r"\s", "", record["姓名"]) == truth["name"]
        digits = re.findall(r"\d+", record["出生日期"])
        date = digits[0] if len(digits) == 1 else f"{int(digits[0]):04d}{int(digits[1]):02d}{int(digits[2]):02d}"
        assert date == truth["birth_date"].strftime("%Y%m%d")
        assert record["户籍地区划"].translate(fullwidth) == truth["hukou_division"]
    entities = set(pl.read_parquet(generated.truth / "entities.parquet")["uscc"])
    [(_, market)] = [(n, rows) for n, d, rows in _all_records(generated) if d.id == "market_entities"]
    assert all(r["统一社会信用代码"].strip() in entities for r in market if isinstance(r, dict))


def test_population_follows_the_census(generated):
    persons = pl.read_parquet(generated.truth / "persons.parquet")
    census = census_provinces()
    expected = dict(zip(census["province"], census["population"] / census["population"].sum(), strict=True))
    observed = persons.group_by(pl.col("hukou_division").str.slice(0, 2)).len()
    shares = {p: n / persons.height for p, n in observed.iter_rows()}
    assert sum(abs(shares.get(p, 0) - e) for p, e in expected.items()) / 2 < 0.06  # total variation
    males = (persons["sex"] == "1").sum()
    assert 95 < males / (persons.height - males) * 100 < 115
    age = (2026 - persons["birth_date"].dt.year()).to_numpy()
    assert abs((age <= 14).mean() - 0.1795) < 0.03 and abs((age >= 60).mean() - 0.187) < 0.03
    assert 0.87 < (persons["ethnicity"] == "01").mean() < 0.95
    assert 0.12 < (persons["hukou_division"] != persons["residence_division"]).mean() < 0.23
    assert 0.015 < (~persons["alive"]).mean() < 0.025
    assert 0.7 < persons.filter(age >= 18)["insured"].mean() < 0.9


def test_marriage_and_family_facts_are_consistent(generated):
    persons = pl.read_parquet(generated.truth / "persons.parquet")
    age = 2026 - persons["birth_date"].dt.year()
    assert persons.filter((age < 19) & (persons["marital_status"] != "10")).height == 0
    spouses = persons.filter(pl.col("spouse_id").is_not_null())
    partner = persons.select("resident_id", pl.col("sex").alias("partner_sex"))
    joined = spouses.join(partner, left_on="spouse_id", right_on="resident_id")
    assert (joined["sex"] != joined["partner_sex"]).all()
    children = persons.filter(pl.col("mother_id").is_not_null())
    assert children.height > 0
    mothers = persons.filter(pl.col("resident_id").is_in(children["mother_id"].implode()))
    assert (mothers["sex"] == "2").all()


def test_entities_look_like_the_register_and_sit_inside_their_county(generated):
    entities = pl.read_parquet(generated.truth / "entities.parquet")
    market = entities.filter(pl.col("sector") == "market")
    persons = generated.persons
    assert abs(market.height / persons - 0.128) < 0.01
    prefix = market["uscc"].str.slice(0, 2).value_counts(normalize=True)
    share = dict(prefix.iter_rows())
    assert abs(share["91"] - 0.31) < 0.04 and abs(share["92"] - 0.67) < 0.04 and "93" in share
    assert entities.filter(pl.col("sector") == "social").height >= 5
    assert set(entities["legal_rep_id"]) <= set(pl.read_parquet(generated.truth / "persons.parquet")["resident_id"])
    shapes = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in boundary_features("district")}
    sample = market.sample(300, seed=1)
    for row in sample.iter_rows(named=True):
        assert shapes[row["division"]].contains(shapely.Point(row["longitude"], row["latitude"]))
    months = market.filter(pl.col("established_date") >= pl.date(2025, 12, 1))["established_date"].dt.month()
    assert months.n_unique() == 12  # registrations in every recent month


def test_land_parcels_lie_inside_their_county(generated):
    import json

    [path] = [generated.out / o.name for o in generated.outputs if o.dataset == "land_parcels"]
    shapes = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in boundary_features("district")}
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    assert features
    for feature in features:
        polygon = shapely.geometry.shape(feature["geometry"])
        division = feature["properties"]["行政区划"].translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        assert shapes[division].contains(polygon)
        assert 50 < polygon.area * 111_000**2 * np.cos(np.radians(polygon.centroid.y)) < 100_000


def test_no_event_lies_after_the_reference_date(clean):
    future_by_design = {"valid_to", "publicity_until"}
    for name, dataset, rows in _all_records(clean):
        columns = [i for i in dataset.items if i.element == "date" and i.column not in future_by_design]
        for record in rows:
            for item in columns:
                value = record[item.source]
                if value not in (None, ""):
                    assert str(value) <= "2026-11-20", (name, item.column, value)
