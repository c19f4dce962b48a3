"""The answer key written next to the exports, in ``truth/``.

- ``persons.parquet``: every person as the world knows them (codes, not spellings).
- ``entities.parquet``: every market entity and social organisation.
- ``defects.parquet``: one row per injected defect, pointing at the file, the 1-based
  data row and the catalog column, with the value before and after.
- ``metadata.json``: seed, persons, reference date, rates and the file list.

Detection is scored against ``defects.parquet``, so it lists exactly what was written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from govlake.generate.dates import AS_OF

if TYPE_CHECKING:
    import polars as pl

    from govlake.generate.profiles import Profile
    from govlake.generate.world import World
    from lake.catalog import Dataset

DEFECT_COLUMNS = ("dataset", "file", "record_key", "row_number", "field", "kind", "true_value",
                  "written_value", "person_key", "entity_key")


def locate_defects(dataset: Dataset, profile: Profile, files: Sequence[tuple[str, pl.DataFrame]],
                   broken: dict[int, str], defects: pl.DataFrame) -> pl.DataFrame:
    """Give each defect its file, row number, record key and the person or entity it is about."""
    import polars as pl

    keys = [pl.col(column).cast(pl.String) for column in dataset.key]
    roles = sorted({*profile.person_of.values(), "_person"})
    placed = []
    for name, frame in files:
        present = [role for role in (*roles, "_entity") if role in frame.columns]
        placed.append(frame.select(
            pl.col("_rid"),
            pl.lit(name).alias("file"),
            pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("row_number"),
            pl.concat_str(keys, separator="|").alias("record_key"),
            *[pl.col(role).cast(pl.String) for role in present],
            *[pl.lit(None, dtype=pl.String).alias(role) for role in (*roles, "_entity") if role not in present],
        ))
    where = pl.concat(placed)
    located = defects.join(where, on="_rid", how="inner")
    person = pl.col("_person")
    for column, role in profile.person_of.items():
        person = pl.when(pl.col("field") == column).then(pl.col(role)).otherwise(person)
    written = pl.col("written_value")
    if broken:
        fixes = pl.DataFrame({"_rid": list(broken), "_broken": list(broken.values())},
                             schema={"_rid": pl.Int64, "_broken": pl.String})
        located = located.join(fixes, on="_rid", how="left")
        written = pl.when(pl.col("kind") == "malformed_row").then(pl.col("_broken")).otherwise(written)
    return located.select(
        pl.lit(dataset.id).alias("dataset"), "file", "record_key", "row_number", "field", "kind", "true_value",
        written.alias("written_value"), person.alias("person_key"), pl.col("_entity").alias("entity_key"),
    )


def _text(values: object) -> pl.Series:
    """Text column from any array (object arrays may start with many ``None``)."""
    import polars as pl

    return pl.Series(np.asarray(values, dtype=object).tolist(), dtype=pl.String)


def persons_table(world: World) -> pl.DataFrame:
    import polars as pl

    people, enrolled = world.population, world.enrolments
    n = len(people)
    schemes = (
        pl.DataFrame({"person": enrolled.person, "scheme": _text(enrolled.scheme)})
        .group_by("person").agg(pl.col("scheme").str.join("|"))
    )
    insurance = np.full(n, None, dtype=object)
    insurance[schemes["person"].to_numpy()] = schemes["scheme"].to_numpy()
    paying = np.zeros(n, dtype=bool)
    paying[enrolled.person[enrolled.status == 1]] = True
    dishonest = np.zeros(n, dtype=bool)
    dishonest[world.cases.person[world.cases.person >= 0]] = True

    def ids(index: np.ndarray) -> pl.Series:
        out = np.full(len(index), None, dtype=object)
        out[index >= 0] = people.resident_id[index[index >= 0]]
        return _text(out)

    return pl.DataFrame({
        "resident_id": _text(people.resident_id),
        "name": _text(people.name),
        "sex": _text(people.sex.astype(str)),
        "birth_date": pl.Series(people.birth, dtype=pl.Date),
        "ethnicity": _text(people.ethnicity),
        "hukou_division": _text(people.division(people.hukou_county)),
        "residence_division": _text(people.division(people.residence_county)),
        "id_address_code": _text(people.resident_id).str.slice(0, 6),
        "marital_status": _text(people.marital.astype(str)),
        "spouse_id": ids(people.spouse),
        "alive": pl.Series(people.alive),
        "death_date": pl.Series(people.death, dtype=pl.Date),
        "person_status": _text(people.status.astype(str)),
        "deregistered_date": pl.Series(people.deregistered, dtype=pl.Date),
        "phone": _text(people.phone),
        "mother_id": ids(people.mother),
        "father_id": ids(people.father),
        "insured": _text(insurance).is_not_null(),
        "insurance_types": _text(insurance),
        "insurance_paying_after_death": pl.Series(paying & ~people.alive),
        "dishonest": pl.Series(dishonest),
    })


def entities_table(world: World) -> pl.DataFrame:
    import polars as pl

    people, firms = world.population, world.entities
    n = len(firms)
    latest_grade = np.full(n, None, dtype=object)
    latest_year = np.zeros(n, dtype=np.int64)
    for entity, year, grade in zip(world.ratings.entity.tolist(), world.ratings.year.tolist(),
                                   world.ratings.grade.tolist(), strict=True):
        if year >= latest_year[entity]:
            latest_year[entity], latest_grade[entity] = year, grade
    dishonest = np.zeros(n, dtype=bool)
    dishonest[world.cases.entity[world.cases.entity >= 0]] = True
    parcels = np.bincount(world.parcels.entity, minlength=n)
    return pl.DataFrame({
        "uscc": _text(firms.uscc),
        "name": _text(firms.name),
        "sector": _text(firms.sector),
        "type": _text(firms.type_code),
        "status": _text(firms.status.astype(str)),
        "legal_rep_id": _text(people.resident_id[firms.legal_rep]),
        "registered_capital": pl.Series(firms.capital, dtype=pl.Float64).fill_nan(None),
        "industry": _text(firms.industry),
        "established_date": pl.Series(firms.established, dtype=pl.Date),
        "closed_date": pl.Series(firms.closed, dtype=pl.Date),
        "division": _text(people.division(firms.county)),
        "registration_division": _text(firms.registration_division),
        "longitude": pl.Series(firms.longitude, dtype=pl.Float64).fill_nan(None),
        "latitude": pl.Series(firms.latitude, dtype=pl.Float64).fill_nan(None),
        "tax_grade": _text(latest_grade),
        "tax_grade_year": pl.Series([y if y > 0 else None for y in latest_year.tolist()], dtype=pl.Int32),
        "dishonest": pl.Series(dishonest),
        "parcels": pl.Series(parcels, dtype=pl.Int32),
    })


def write_truth(folder: Path, world: World, defects: pl.DataFrame, metadata: dict[str, Any]) -> None:
    """Write the truth files into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    persons_table(world).write_parquet(folder / "persons.parquet", compression="zstd")
    entities_table(world).write_parquet(folder / "entities.parquet", compression="zstd")
    defects.sort(["dataset", "file", "row_number", "field", "kind"], nulls_last=True).write_parquet(
        folder / "defects.parquet", compression="zstd")
    payload = {"as_of": AS_OF.isoformat(), **metadata}
    (folder / "metadata.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")

