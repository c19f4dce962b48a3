"""市场监管 market-entity register (JSON Lines): the authority for entities.

Status is written 存续 or 在营 (both mean active), 吊销 or 注销; the entity type by name
(sometimes a short alias); the industry as ``F52`` or just ``52``. Capital and
coordinates are JSON numbers.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from govlake.generate.export import Export, build_frame, spell
from govlake.generate.randomness import stream
from govlake.generate.world import World

STATUS = {1: (("存续", 0.7), ("在营", 0.3)), 2: (("吊销", 0.9), ("吊销营业执照", 0.1)),
          3: (("注销", 0.95), ("已注销", 0.05))}
TYPE = {
    "1100": (("有限责任公司", 0.8), ("有限责任公司(自然人投资或控股)", 0.2)),
    "1200": (("股份有限公司", 1.0),), "4000": (("个人独资企业", 1.0),), "4100": (("合伙企业", 1.0),),
    "9100": (("个体工商户", 0.9), ("个体户", 0.1)), "9300": (("农民专业合作社", 0.9), ("合作社", 0.1)),
}


def market_entities(world: World) -> list[Export]:
    people, firms = world.population, world.entities
    rng = stream(world.seed, "export.market_entities")
    rows = firms.market
    rows = rows[np.lexsort((firms.uscc[rows].astype(str), firms.established[rows]))]
    industry = firms.industry[rows].copy()
    short = rng.random(len(rows)) < 0.2
    industry[short] = np.array([code[1:] for code in industry[short]], dtype=object)
    rep = firms.legal_rep[rows]
    columns = {
        "uscc": firms.uscc[rows],
        "entity_name": firms.name[rows],
        "entity_type": spell(rng, firms.type_code[rows], TYPE),
        "legal_rep_name": people.name[rep],
        "legal_rep_id": people.resident_id[rep],
        "registered_capital": pl.Series(firms.capital[rows], dtype=pl.Float64),
        "established_date": firms.established[rows],
        "status": spell(rng, firms.status[rows], STATUS),
        "closed_date": firms.closed[rows],
        "industry_code": industry,
        "address": firms.address[rows],
        "division": people.division(firms.county[rows]),
        "longitude": pl.Series(firms.longitude[rows], dtype=pl.Float64),
        "latitude": pl.Series(firms.latitude[rows], dtype=pl.Float64),
        "business_scope": firms.scope[rows],
        "registry_authority": firms.registry_authority[rows],
    }
    hidden = {"_entity": firms.uscc[rows], "_rep": people.resident_id[rep]}
    return [Export("market_entities", build_frame(world.catalog.dataset("market_entities"), columns, hidden))]
