"""自然资源 land parcels (GeoJSON, EPSG:4490): one feature per parcel, its boundary as geometry."""

from __future__ import annotations

import numpy as np
import polars as pl

from govlake.generate.export import Export, build_frame, spell
from govlake.generate.randomness import stream
from govlake.generate.world import World

LAND_USE = {"01": (("耕地", 1.0),), "05": (("商服用地", 0.8), ("商业服务业用地", 0.2)),
            "06": (("工矿仓储用地", 0.7), ("工业用地", 0.3)), "07": (("住宅用地", 1.0),)}


def land_parcels(world: World) -> list[Export]:
    firms, land = world.entities, world.parcels
    rng = stream(world.seed, "export.land_parcels")
    columns = {
        "parcel_code": land.code,
        "location_text": firms.address[land.entity],
        "division": world.population.counties.code[land.county],
        "land_use": spell(rng, land.land_use, LAND_USE),
        "area_m2": pl.Series(land.area, dtype=pl.Float64),
        "holder_name": firms.name[land.entity],
        "holder_id": firms.uscc[land.entity],
        "right_type": np.full(len(land), "国有建设用地使用权", dtype=object),
        "registered_date": land.registered,
        "geometry": land.geometry,
    }
    hidden = {"_entity": firms.uscc[land.entity]}
    return [Export("land_parcels", build_frame(world.catalog.dataset("land_parcels"), columns, hidden))]
