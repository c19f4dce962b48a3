"""Land parcels (宗地) held by about 20 % of enterprises, drawn inside their county.

A parcel is a rectangle of roughly 30–240 m a side around the enterprise's location,
rotated at random and redrawn until it lies wholly inside the county boundary. The
parcel code follows GB/T 37346: division (6) + cadastral zone (3) + sub-zone (3) +
ownership/right type (``GB``: state-owned land, construction-land use right) + parcel
number (5), 19 characters in all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from govlake.generate.dates import AS_OF_DAY, random_between
from govlake.generate.entities import CANCELLED, Entities
from govlake.generate.geo import Boundaries
from govlake.generate.people import Population
from govlake.generate.randomness import pick_top, stream

PARCEL_SHARE_OF_ENTERPRISES = 0.2


@dataclass
class Parcels:
    code: np.ndarray
    entity: np.ndarray  # holder (entity index)
    county: np.ndarray
    land_use: np.ndarray  # land_use.csv code
    area: np.ndarray  # square metres
    registered: np.ndarray  # datetime64[D]
    geometry: np.ndarray  # GeoJSON Polygon coordinates as JSON text

    def __len__(self) -> int:
        return len(self.code)


def parcels(seed: int, population: Population, entities: Entities, boundaries: Boundaries) -> Parcels:
    """Parcels for a fifth of the enterprises (those still registered first)."""
    rng = stream(seed, "parcels")
    firms = np.flatnonzero(entities.prefix == "91")
    weights = np.where(entities.status[firms] == CANCELLED, 0.2, 1.0)
    holder = firms[pick_top(rng, weights, round(PARCEL_SHARE_OF_ENTERPRISES * len(firms)))]
    county = entities.county[holder]
    codes = population.counties.code[county]
    rings, area = boundaries.parcels(rng, codes, entities.longitude[holder], entities.latitude[holder])
    section = np.array([(code or "L")[0] for code in entities.industry[holder]], dtype=object)
    land_use = np.select([section == "C", section == "K", section == "A"], ["06", "07", "01"], "05").astype(object)
    order = np.lexsort((holder, codes.astype(str)))
    holder, county, codes, land_use, area = holder[order], county[order], codes[order], land_use[order], area[order]
    rings = [rings[i] for i in order]
    rank = np.zeros(len(codes), dtype=np.int64)
    if len(codes):
        starts = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1]
        group = np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
        rank = np.arange(len(codes)) - group
    parcel_code = np.array([f"{c}001{r // 99_999 + 1:03d}GB{r % 99_999 + 1:05d}"
                            for c, r in zip(codes, rank, strict=True)], dtype=object)
    registered = random_between(rng, entities.established[holder], np.full(len(holder), AS_OF_DAY))
    geometry = np.array([json.dumps([ring], separators=(",", ":")) for ring in rings], dtype=object)
    return Parcels(parcel_code, holder, county, land_use, area, registered, geometry)
