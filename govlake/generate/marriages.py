"""民政 marriage registrations (JSON Lines): every couple's marriage, and their divorce.

Registration numbers follow the certificate style ``J330106-2015-000123`` (``L`` for a
divorce): the registry's division, the year and a running number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from govlake.generate.dates import years
from govlake.generate.export import Export, build_frame, sequence_within, spell, zero_pad
from govlake.generate.randomness import stream
from govlake.generate.world import World

TYPE = {1: (("结婚登记", 0.5), ("结婚", 0.45), ("1", 0.05)), 2: (("离婚登记", 0.5), ("离婚", 0.45), ("2", 0.05))}


@dataclass
class Registrations:
    """Marriage (kind 1) and divorce (kind 2) registrations, by date."""

    couple: np.ndarray
    kind: np.ndarray
    date: np.ndarray
    division: np.ndarray
    number: np.ndarray


def registrations(world: World) -> Registrations:
    """Every couple's marriage and, for divorced couples, the divorce, numbered."""
    people, couples = world.population, world.population.couples
    divorced = np.flatnonzero(~np.isnat(couples.divorced))
    couple = np.concatenate([np.arange(len(couples)), divorced])
    kind = np.concatenate([np.ones(len(couples), dtype=np.int64), np.full(len(divorced), 2)])
    date = np.concatenate([couples.married, couples.divorced[divorced]])
    order = np.lexsort((kind, couple, date))
    couple, kind, date = couple[order], kind[order], date[order]
    division = people.division(couples.registry_county[couple])
    year = years(date).astype(str).astype(object)
    letter = np.where(kind == 1, "J", "L").astype(object)
    number = letter + division + "-" + year + "-" + zero_pad(sequence_within(letter + division + year), 6)
    return Registrations(couple, kind, date, division, number)


def marriages(world: World) -> list[Export]:
    people, couples = world.population, world.population.couples
    rng = stream(world.seed, "export.marriages")
    registered = registrations(world)
    husband, wife = couples.husband[registered.couple], couples.wife[registered.couple]
    columns = {
        "registration_no": registered.number,
        "registration_type": spell(rng, registered.kind, TYPE),
        "husband_id": people.resident_id[husband],
        "husband_name": people.name[husband],
        # The registration form (结婚登记审查处理表) records each party's birth date.
        "husband_birth_date": people.birth[husband],
        "wife_id": people.resident_id[wife],
        "wife_name": people.name[wife],
        "wife_birth_date": people.birth[wife],
        "registration_date": registered.date,
        "registry_division": registered.division,
    }
    hidden = {"_husband": people.resident_id[husband], "_wife": people.resident_id[wife]}
    return [Export("marriages", build_frame(world.catalog.dataset("marriages"), columns, hidden))]
