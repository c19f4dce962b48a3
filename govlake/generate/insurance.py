"""Social-insurance enrolments: about 80 % of adults, one to three schemes each.

Employees (about 55 % of insured adults under 60, fewer above) have the employees'
pension (110) and medical insurance (310), and half of those under 60 also unemployment
insurance (210); their employer is an enterprise of their province. Everyone else has
the residents' medical insurance (390) and often the residents' pension (120). People
who died or emigrated are terminated (终止参保), except a few dead people whose
contributions were never stopped, a real audit finding that truth records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from govlake.generate.dates import AS_OF_DAY, add_years, random_between
from govlake.generate.entities import ACTIVE, Entities
from govlake.generate.people import DEAD, EMIGRATED, Population
from govlake.generate.randomness import stream

INSURED_SHARE = 0.8
STILL_PAYING_AFTER_DEATH = 0.04
# enrolment_status.csv codes
PAYING, SUSPENDED, TERMINATED = 1, 2, 3


@dataclass
class Enrolments:
    """One entry per person and scheme, ordered by person then scheme."""

    person: np.ndarray
    scheme: np.ndarray  # insurance_type.csv code text
    status: np.ndarray  # int8 enrolment status
    enrolled: np.ndarray  # datetime64[D]
    employer: np.ndarray  # USCC text or None
    county: np.ndarray  # county index where insured (the residence)

    def __len__(self) -> int:
        return len(self.person)


def enrolments(seed: int, population: Population, entities: Entities) -> Enrolments:
    """Draw the enrolments of ``population``; employers come from ``entities``."""
    rng = stream(seed, "insurance")
    age = population.age
    adults = np.flatnonzero(age >= 18)
    insured = adults[rng.random(len(adults)) < INSURED_SHARE]
    employee_p = np.where(age[insured] < 60, 0.55, 0.35)
    employee = rng.random(len(insured)) < employee_p
    unemployment = employee & (age[insured] < 60) & (rng.random(len(insured)) < 0.5)
    resident_pension = ~employee & (rng.random(len(insured)) < 0.6)
    plans = [
        (insured[employee], "110"), (insured[employee], "310"), (insured[unemployment], "210"),
        (insured[resident_pension], "120"), (insured[~employee], "390"),
    ]
    person = np.concatenate([p for p, _ in plans])
    scheme = np.concatenate([np.full(len(p), code, dtype=object) for p, code in plans])
    order = np.lexsort((scheme.astype(str), person))
    person, scheme = person[order], scheme[order]
    worker = np.isin(scheme, ["110", "310", "210"])

    birth = population.birth[person]
    start = np.where(worker, np.maximum(add_years(birth, 18), np.datetime64("1995-01-01")),
                     np.maximum(add_years(birth, 18), np.datetime64("2009-01-01")))
    end = np.minimum(np.fmin(population.death[person], AS_OF_DAY), AS_OF_DAY)
    start = np.minimum(start, end)
    # one enrolment date per person and kind of scheme (workers' schemes start together)
    first = random_between(rng, start, np.minimum(start + 8 * 365, end))
    key = person * 2 + worker
    _, first_of_key = np.unique(key, return_index=True)
    enrolled = first[first_of_key][np.searchsorted(key[first_of_key], key)] if len(key) else first

    status = np.where(worker & (rng.random(len(person)) < 0.1), SUSPENDED, PAYING).astype(np.int8)
    dead = ~np.isnat(population.death)
    gone = dead | np.isin(population.status, [DEAD, EMIGRATED])
    still_paying = dead & (rng.random(len(population)) < STILL_PAYING_AFTER_DEATH)
    status[(gone & ~still_paying)[person]] = TERMINATED

    employer = _employers(rng, population, entities, person, worker)
    return Enrolments(person, scheme, status, enrolled, employer, population.residence_county[person])


def _employers(rng: np.random.Generator, population: Population, entities: Entities,
               person: np.ndarray, worker: np.ndarray) -> np.ndarray:
    """An active enterprise of the worker's province (the same one for all their schemes)."""
    places = population.counties
    employer = np.full(len(person), None, dtype=object)
    firms = np.flatnonzero((entities.prefix == "91") & (entities.status == ACTIVE))
    if len(firms) == 0:
        return employer
    firm_province = places.province[entities.county[firms]]
    people_rows = np.flatnonzero(worker)
    unique_people = np.unique(person[people_rows])
    province = places.province[population.residence_county[unique_people]]
    chosen = np.full(len(unique_people), -1, dtype=np.int64)
    for code in np.unique(province):
        members = np.flatnonzero(province == code)
        local = firms[firm_province == code]
        pool = local if len(local) else firms
        chosen[members] = pool[rng.integers(0, len(pool), len(members))]
    lookup = np.searchsorted(unique_people, person[people_rows])
    employer[people_rows] = entities.uscc[chosen[lookup]]
    return employer
