"""Person linkage on a synthetic, seeded population with controlled corruption.

The population has the demo generator's name distribution (about 100 surnames by frequency
and a small pool of given-name characters), so homonyms are common: many persons share a
name, and some share name, sex and birth year. Records are drawn from it and damaged the way
department data entry damages them; some records are of persons who are not in the
reference at all and must stay unlinked.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from govlake.errors import ContractError
from govlake.generate.ids import resident_check_char, resident_ids
from govlake.generate.names import given_names, name_variant, surname_table
from transforms.linkage import BLOCKING_RULES, COMPARISONS, _link, link_persons, linkage_quality

#: The 31 mainland provinces' GB/T 2260 codes.
PROVINCES = ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
             "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65")
CITIES_PER_PROVINCE = 10
COUNTIES_PER_CITY = 9
FIRST_BIRTH = np.datetime64("1930-01-01")
LAST_BIRTH = np.datetime64("2020-12-31")


def _counties() -> np.ndarray:
    return np.array([f"{p}{c:02d}{d:02d}" for p in PROVINCES for c in range(1, CITIES_PER_PROVINCE + 1)
                     for d in range(1, COUNTIES_PER_CITY + 1)], dtype=object)


def synthetic_persons(size: int, *, seed: int) -> pl.DataFrame:
    """``size`` persons with unique valid resident IDs, realistic names and two divisions each."""
    return _draw_persons(size + size // 100 + 10, seed=seed).head(size)


def _draw_persons(size: int, *, seed: int) -> pl.DataFrame:
    """About ``size`` persons: the rare repeated ID is dropped."""
    rng = np.random.default_rng(seed)
    counties = _counties()
    weights = rng.lognormal(0, 0.8, len(counties))
    hukou_index = rng.choice(len(counties), size, p=weights / weights.sum())
    hukou = counties[hukou_index]
    # Residence: mostly the hukou county, else the same city, province, or anywhere.
    move = rng.random(size)
    same_city = hukou_index - hukou_index % COUNTIES_PER_CITY + rng.integers(0, COUNTIES_PER_CITY, size)
    per_province = CITIES_PER_PROVINCE * COUNTIES_PER_CITY
    same_province = hukou_index - hukou_index % per_province + rng.integers(0, per_province, size)
    anywhere = rng.integers(0, len(counties), size)
    residence = np.where(move < 0.85, hukou, np.where(move < 0.93, counties[same_city], np.where(
        move < 0.97, counties[same_province], counties[anywhere])))
    # The ID keeps the county of first registration: usually the hukou county.
    born_elsewhere = rng.random(size) < 0.1
    address = np.where(born_elsewhere, counties[same_province], hukou).astype(np.int64)
    span = int((LAST_BIRTH - FIRST_BIRTH).astype(np.int64))
    birth = FIRST_BIRTH + rng.integers(0, span + 1, size)
    male = rng.random(size) < 0.5
    surnames, shares = surname_table()
    names = surnames[rng.choice(len(surnames), size, p=shares)] + given_names(rng, male)
    sequence = np.where(male, 2 * rng.integers(0, 500, size) + 1, 2 * rng.integers(1, 500, size))
    yyyymmdd = np.array(np.datetime_as_string(birth, unit="D"), dtype=object)
    ids = resident_ids(address, np.array([int(d.replace("-", "")) for d in yyyymmdd]), sequence)
    return pl.DataFrame({
        "resident_id": ids.astype(object),
        "name": names,
        "birth_date": birth.astype("datetime64[D]"),
        "sex": np.where(male, "1", "2"),
        "hukou_division": hukou,
        "residence_division": residence,
    }).with_columns(pl.col("birth_date").cast(pl.Date)).unique("resident_id", keep="first", maintain_order=True)


def _id_valid(resident_id: str | None) -> bool | None:
    if resident_id is None:
        return None
    if len(resident_id) != 18 or not resident_id[:17].isdigit():
        return False
    try:
        dt.datetime.strptime(resident_id[6:14], "%Y%m%d")
    except ValueError:
        return False
    return resident_check_char(resident_id[:17]) == resident_id[17]


def _mistype_id(resident_id: str, rng: np.random.Generator) -> str:
    """One wrong character (90%) or two adjacent digits swapped (10%)."""
    chars = list(resident_id)
    if rng.random() < 0.1:
        i = int(rng.integers(0, 16))
        if chars[i] != chars[i + 1]:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
            return "".join(chars)
    i = int(rng.integers(0, 18))
    alphabet = "0123456789X" if i == 17 else "0123456789"
    chars[i] = str(rng.choice([c for c in alphabet if c != chars[i]]))
    return "".join(chars)


def _mistype_date(birth: dt.date, rng: np.random.Generator) -> dt.date | None:
    """One wrong digit of YYYYMMDD (70%) or month and day swapped (30%); None if no valid result."""
    if rng.random() < 0.3 and birth.day <= 12 and birth.day != birth.month:
        return birth.replace(month=birth.day, day=birth.month)
    text = birth.strftime("%Y%m%d")
    for _ in range(20):
        i = int(rng.integers(2, 8))
        typed = text[:i] + str(rng.choice([c for c in "0123456789" if c != text[i]])) + text[i + 1:]
        try:
            return dt.datetime.strptime(typed, "%Y%m%d").date()
        except ValueError:
            continue
    return None


def _other_county(county: str, level: str, rng: np.random.Generator) -> str:
    if level == "city":
        return f"{county[:4]}{int(rng.integers(1, COUNTIES_PER_CITY + 1)):02d}"
    if level == "city_code":
        return f"{county[:4]}00"
    return f"{county[:2]}{int(rng.integers(1, CITIES_PER_PROVINCE + 1)):02d}{int(rng.integers(1, 10)):02d}"


def synthetic_records(
    persons: pl.DataFrame, outsiders: pl.DataFrame, *, count: int, unusable_share: float,
    outsider_share: float = 0.05, seed: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Records (standardized shape) of ``count`` persons and their truth.

    ``unusable_share`` of them have a missing or mistyped ID; ``outsider_share`` of those, and
    1% of all records with valid IDs, are persons not in ``persons`` (truth NULL).
    Every record may also have a name variant, a date typo or swap, a missing date or sex, and
    its place in another county of the city, as a city code, elsewhere in the province, or
    missing.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    truth: list[tuple[str, str | None]] = []
    people = persons.sample(count, with_replacement=count > persons.height, seed=seed).rows(named=True)
    strangers = outsiders.rows(named=True)
    surnames, shares = surname_table()
    for number, person in enumerate(people):
        unusable = rng.random() < unusable_share
        outsider = rng.random() < (outsider_share if unusable else 0.01)
        if outsider and strangers:
            person = strangers[int(rng.integers(0, len(strangers)))]
        resident_id: str | None = person["resident_id"]
        if unusable:
            resident_id = None if rng.random() < 0.55 else _mistype_id(person["resident_id"], rng)
        name = person["name"]
        draw = rng.random()
        if draw < 0.08:
            name = name_variant(name, rng)
        elif draw < 0.09:
            male = np.array([person["sex"] == "1"])
            name = str(surnames[rng.choice(len(surnames), p=shares)] + given_names(rng, male)[0])
        birth: dt.date | None = person["birth_date"]
        draw = rng.random()
        if draw < 0.06:
            birth = _mistype_date(person["birth_date"], rng)
        elif draw < 0.10:
            birth = None
        sex = None if rng.random() < 0.05 else person["sex"]
        draw = rng.random()
        home = person["residence_division"] if rng.random() < 0.75 else person["hukou_division"]
        division = (home if draw < 0.75 else _other_county(home, "city", rng) if draw < 0.87
                    else _other_county(home, "city_code", rng) if draw < 0.92
                    else _other_county(home, "province", rng) if draw < 0.96 else None)
        record_id = f"R{number:07d}"
        rows.append({"record_id": record_id, "resident_id": resident_id, "resident_id_valid": _id_valid(resident_id),
                     "name": name, "birth_date": birth, "sex": sex, "division": division})
        truth.append((record_id, None if outsider and strangers else person["resident_id"]))
    records = pl.DataFrame(rows, schema={
        "record_id": pl.String, "resident_id": pl.String, "resident_id_valid": pl.Boolean, "name": pl.String,
        "birth_date": pl.Date, "sex": pl.String, "division": pl.String})
    return records, pl.DataFrame(truth, schema=["record_id", "true_resident_id"], orient="row")


@pytest.fixture(scope="module")
def population() -> tuple[pl.DataFrame, pl.DataFrame]:
    """20,000 reference persons and 1,000 persons who are not in the reference."""
    everyone = synthetic_persons(21_000, seed=7)
    return everyone.head(20_000), everyone.tail(1_000)


@pytest.fixture(scope="module")
def linked(population: tuple[pl.DataFrame, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """8,000 records, 40% of them without a usable ID, linked once for several tests."""
    reference, outsiders = population
    records, truth = synthetic_records(reference, outsiders, count=8_000, unusable_share=0.4, seed=11)
    return records, truth, link_persons(reference, records)


def test_records_without_usable_id_link_with_high_precision_and_recall(linked) -> None:
    _, truth, result = linked
    quality = linkage_quality(result, truth, exclude_exact=True)
    assert quality["tp"] + quality["fn"] > 2_500
    assert quality["precision"] >= 0.99, quality
    assert quality["recall"] >= 0.97, quality


def test_valid_ids_in_the_reference_link_exactly(linked, population) -> None:
    records, _, result = linked
    reference, _ = population
    usable = records.filter(pl.col("resident_id_valid").fill_null(False)
                            & pl.col("resident_id").is_in(reference["resident_id"].implode()))
    exact = result.filter(pl.col("method") == "exact")
    assert exact["record_id"].sort().to_list() == usable["record_id"].sort().to_list()
    assert (exact["resident_id"] == exact.join(usable, on="record_id")["resident_id_right"]).all()
    assert exact["match_weight"].is_null().all()
    assert (exact["match_probability"] == 1.0).all()


def test_result_has_one_row_per_record_in_input_order(linked) -> None:
    records, _, result = linked
    assert result["record_id"].to_list() == records["record_id"].to_list()
    assert result.schema == pl.Schema({
        "record_id": pl.String, "resident_id": pl.String, "method": pl.String, "match_weight": pl.Float64,
        "match_probability": pl.Float64, "candidates_considered": pl.Int64})
    linked_rows = result.filter(pl.col("method") == "probabilistic")
    assert linked_rows["resident_id"].is_not_null().all()
    assert result.filter(pl.col("method") == "unlinked")["resident_id"].is_null().all()


def test_persons_not_in_the_reference_stay_unlinked(linked) -> None:
    _, truth, result = linked
    strangers = result.join(truth, on="record_id").filter(pl.col("true_resident_id").is_null())
    assert strangers.height > 100
    assert strangers["resident_id"].is_not_null().sum() <= 2


def test_model_learns_m_from_exact_links(population) -> None:
    reference, outsiders = population
    records, _ = synthetic_records(reference, outsiders, count=3_000, unusable_share=0.3, seed=5)
    model, _ = _link(reference, records, threshold=0.9)
    assert model is not None
    assert model.training_pairs > 1_500
    name_m = model.m["name"]
    # About 8% of records carry a one-character variant and 1% a wholly different name.
    assert 0.85 < name_m[0] < 0.95 and 0.05 < name_m[1] < 0.12
    assert 0.0 < model.matchable_share <= 1.0
    weights = model.weights()
    assert weights.filter(pl.col("level") == "exact")["weight"].min() > 5


def test_same_input_gives_the_same_output(population) -> None:
    reference, outsiders = population
    records, _ = synthetic_records(reference, outsiders, count=2_000, unusable_share=0.5, seed=3)
    first = link_persons(reference, records)
    second = link_persons(reference.lazy(), records.lazy())
    assert first.equals(second)


def test_exact_homonyms_are_not_linked() -> None:
    twins = pl.DataFrame({
        "resident_id": ["330106199003071236", "330106199003071279"], "name": ["张伟", "张伟"],
        "birth_date": [dt.date(1990, 3, 7)] * 2, "sex": ["1", "1"],
        "hukou_division": ["330106"] * 2, "residence_division": ["330106"] * 2})
    record = pl.DataFrame({
        "record_id": ["d1"], "resident_id": [None], "resident_id_valid": [None], "name": ["张伟"],
        "birth_date": [dt.date(1990, 3, 7)], "sex": ["1"], "division": ["330106"]},
        schema_overrides={"resident_id": pl.String, "resident_id_valid": pl.Boolean})
    row = link_persons(twins, record).row(0, named=True)
    assert row["method"] == "unlinked" and row["resident_id"] is None
    assert row["candidates_considered"] == 2
    assert row["match_probability"] <= 0.5


def test_a_mistyped_id_is_evidence(population) -> None:
    reference, _ = population
    person = reference.row(123, named=True)
    mistyped = person["resident_id"][:10] + str((int(person["resident_id"][10]) + 1) % 10) + person["resident_id"][11:]
    record = pl.DataFrame({
        "record_id": ["x"], "resident_id": [mistyped], "resident_id_valid": [False],
        "name": ["欧阳娜娜"], "birth_date": [person["birth_date"]], "sex": [None],
        "division": [person["hukou_division"][:4] + "00"]},
        schema_overrides={"sex": pl.String})
    row = link_persons(reference, record).row(0, named=True)
    assert (row["method"], row["resident_id"]) == ("probabilistic", person["resident_id"])


def test_a_valid_id_missing_from_the_reference_is_linked_on_the_other_fields(population) -> None:
    reference, _ = population
    person = reference.row(456, named=True)
    body = "11010119800101123"
    stranger_id = body + resident_check_char(body)
    record = pl.DataFrame({
        "record_id": ["own", "stranger"], "resident_id": [person["resident_id"], stranger_id],
        "resident_id_valid": [True, True], "name": [person["name"], "诸葛亮"],
        "birth_date": [person["birth_date"], dt.date(1980, 1, 1)], "sex": [person["sex"], "1"],
        "division": [person["hukou_division"], "110101"]})
    trimmed = reference.filter(pl.col("resident_id") != person["resident_id"])
    result = link_persons(pl.concat([trimmed, reference.filter(pl.col("resident_id") == person["resident_id"])
                                     .with_columns(pl.lit("110101199001011238").alias("resident_id"))]), record)
    rows = {row["record_id"]: row for row in result.iter_rows(named=True)}
    # The person was re-registered under another ID: name, date, sex and county still find them.
    assert rows["own"]["method"] == "probabilistic"
    assert rows["own"]["resident_id"] == "110101199001011238"
    assert rows["stranger"]["method"] == "unlinked"


def test_records_with_every_field_missing_stay_unlinked(population) -> None:
    reference, _ = population
    blank = pl.DataFrame({"record_id": ["a", "b"], "resident_id": [None, None], "resident_id_valid": [None, None],
                          "name": [None, None], "birth_date": [None, None], "sex": [None, None],
                          "division": [None, None]},
                         schema={"record_id": pl.String, "resident_id": pl.String, "resident_id_valid": pl.Boolean,
                                 "name": pl.String, "birth_date": pl.Date, "sex": pl.String, "division": pl.String})
    result = link_persons(reference, blank)
    assert result["method"].to_list() == ["unlinked", "unlinked"]
    assert result["candidates_considered"].to_list() == [0, 0]
    assert result["match_probability"].to_list() == [0.0, 0.0]


def test_empty_inputs(population) -> None:
    reference, outsiders = population
    records, _ = synthetic_records(reference, outsiders, count=50, unusable_share=0.5, seed=1)
    assert link_persons(reference, records.clear()).is_empty()
    nobody = link_persons(reference.clear(), records)
    assert nobody.height == 50
    assert nobody["method"].to_list() == ["unlinked"] * 50


def test_missing_column_and_duplicate_record_ids_are_refused(population) -> None:
    reference, outsiders = population
    records, _ = synthetic_records(reference, outsiders, count=10, unusable_share=0.5, seed=2)
    with pytest.raises(ContractError, match="division"):
        link_persons(reference, records.drop("division"))
    with pytest.raises(ContractError, match="R0000000"):
        link_persons(reference, pl.concat([records, records.head(1)]))
    with pytest.raises(ValueError, match="threshold"):
        link_persons(reference, records, threshold=0)


def test_linkage_quality_counts() -> None:
    result = pl.DataFrame({
        "record_id": ["a", "b", "c", "d", "e"], "resident_id": ["1", "2", None, "9", None],
        "method": ["exact", "probabilistic", "unlinked", "probabilistic", "unlinked"]})
    truth = pl.DataFrame({"record_id": ["a", "b", "c", "d", "e"], "true_resident_id": ["1", "2", "3", "4", None]})
    assert linkage_quality(result, truth) == {"precision": 2 / 3, "recall": 2 / 4, "tp": 2, "fp": 1, "fn": 2}
    assert linkage_quality(result, truth, exclude_exact=True) == {
        "precision": 1 / 2, "recall": 1 / 3, "tp": 1, "fp": 1, "fn": 2}


def test_docs_explain_every_blocking_rule_and_comparison() -> None:
    text = (Path(__file__).parents[2] / "docs" / "linkage.md").read_text(encoding="utf-8")
    for name in [rule.name for rule in BLOCKING_RULES] + [c.name for c in COMPARISONS]:
        assert f"`{name}`" in text, f"docs/linkage.md does not explain `{name}`"


@pytest.mark.slow
def test_speed_at_two_hundred_thousand_persons() -> None:
    everyone = synthetic_persons(201_000, seed=13)
    reference, outsiders = everyone.head(200_000), everyone.tail(1_000)
    records, truth = synthetic_records(reference, outsiders, count=10_000, unusable_share=0.5, seed=17)
    started = time.perf_counter()
    result = link_persons(reference, records)
    elapsed = time.perf_counter() - started
    quality = linkage_quality(result, truth, exclude_exact=True)
    assert quality["precision"] >= 0.99, quality
    assert elapsed < 10, elapsed
