"""卫健 death certificates (UTF-8 CSV with BOM): everyone who died in the last three years.

Sex is mostly written as the code (1/2); the division is where the person lived.
"""

from __future__ import annotations

import numpy as np

from govlake.generate.dates import years
from govlake.generate.export import Export, build_frame, sequence_within, spell, zero_pad
from govlake.generate.randomness import stream
from govlake.generate.vocab import CAUSES_OF_DEATH, weighted_codes
from govlake.generate.world import World

SEX = {1: (("1", 0.7), ("男", 0.3)), 2: (("2", 0.7), ("女", 0.3))}


def deaths(world: World) -> list[Export]:
    people = world.population
    rng = stream(world.seed, "export.deaths")
    dead = np.flatnonzero(~np.isnat(people.death))
    dead = dead[np.lexsort((people.resident_id[dead].astype(str), people.death[dead]))]
    division = people.division(people.residence_county[dead])
    year = years(people.death[dead]).astype(str).astype(object)
    certificate = "S" + division + year + zero_pad(sequence_within(division + year), 5)
    columns = {
        "certificate_no": certificate,
        "resident_id": people.resident_id[dead],
        "name": people.name[dead],
        "sex": spell(rng, people.sex[dead], SEX),
        "birth_date": people.birth[dead],
        "death_date": people.death[dead],
        "death_division": division,
        "cause_of_death": weighted_codes(rng, CAUSES_OF_DEATH, len(dead)),
    }
    return [Export("deaths", build_frame(world.catalog.dataset("deaths"), columns,
                                         {"_person": people.resident_id[dead]}))]
