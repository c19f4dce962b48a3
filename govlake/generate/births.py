"""卫健 birth certificates (UTF-8 CSV with BOM): every child born in the last three years.

The certificate number is a letter for the year's form series, the province and a
running number. The mother's and father's IDs are real adults' IDs.
"""

from __future__ import annotations

import numpy as np

from govlake.generate.dates import AS_OF_DAY, add_years, years
from govlake.generate.export import Export, build_frame, sequence_within, spell, zero_pad
from govlake.generate.randomness import stream
from govlake.generate.world import World

SERIES_LETTER = {2023: "T", 2024: "U", 2025: "V", 2026: "W"}
SEX = {1: (("男", 1.0),), 2: (("女", 1.0),)}


def _parent(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    out = np.full(len(index), None, dtype=object)
    known = index >= 0
    out[known] = values[index[known]]
    return out


def certificates(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Children born in the last three years (person indices, by birth) and their certificate numbers."""
    people = world.population
    born = np.flatnonzero(people.birth > add_years(np.array([AS_OF_DAY]), -3)[0])
    born = born[np.lexsort((people.resident_id[born].astype(str), people.birth[born]))]
    year = years(people.birth[born])
    province = people.counties.province[people.hukou_county[born]]
    letter = np.array([SERIES_LETTER.get(int(y), "S") for y in year], dtype=object)
    return born, letter + province + zero_pad(sequence_within(province), 7)


def births(world: World) -> list[Export]:
    people = world.population
    rng = stream(world.seed, "export.births")
    born, certificate = certificates(world)
    mother, father = people.mother[born], people.father[born]
    weight = np.clip(rng.normal(3300, 450, len(born)), 1500, 5000).astype(np.int64)
    columns = {
        "certificate_no": certificate,
        "name": people.name[born],
        "sex": spell(rng, people.sex[born], SEX),
        "birth_date": people.birth[born],
        "birth_division": people.division(people.residence_county[born]),
        "resident_id": people.resident_id[born],
        "mother_name": _parent(people.name, mother),
        "mother_id": _parent(people.resident_id, mother),
        "father_name": _parent(people.name, father),
        "father_id": _parent(people.resident_id, father),
        "birth_weight_g": weight.astype(str).astype(object),
    }
    hidden = {"_person": people.resident_id[born], "_mother": _parent(people.resident_id, mother),
              "_father": _parent(people.resident_id, father)}
    return [Export("births", build_frame(world.catalog.dataset("births"), columns, hidden))]
