"""Everything that is true before any department writes it down: the generator's world.

:func:`world` draws the population first, then the entities (whose representatives are
people), then the facts that hang off both. Each part has its own random stream, so
the parts stay stable when another part changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from govlake.generate.credit import Cases, Ratings, dishonest, ratings
from govlake.generate.decisions import Decisions, licences, penalties
from govlake.generate.entities import Entities, entities
from govlake.generate.geo import Boundaries
from govlake.generate.insurance import Enrolments, enrolments
from govlake.generate.parcels import Parcels, parcels
from govlake.generate.people import Population, people
from lake.catalog import Catalog, load_catalog


@dataclass
class World:
    seed: int
    catalog: Catalog
    population: Population
    entities: Entities
    enrolments: Enrolments
    cases: Cases
    ratings: Ratings
    parcels: Parcels
    licences: Decisions
    penalties: Decisions


def world(seed: int, persons: int) -> World:
    """Draw the world of ``persons`` people for ``seed``."""
    population = people(seed, persons)
    boundaries = Boundaries()
    firms = entities(seed, population, boundaries)
    cases = dishonest(seed, population, firms)
    rated = ratings(seed, firms, cases)
    land = parcels(seed, population, firms, boundaries)
    return World(
        seed=seed,
        catalog=load_catalog(),
        population=population,
        entities=firms,
        enrolments=enrolments(seed, population, firms),
        cases=cases,
        ratings=rated,
        parcels=land,
        licences=licences(seed, firms, land),
        penalties=penalties(seed, firms, land, rated),
    )
