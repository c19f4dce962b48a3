"""Shared parts of the two 双公示 exports: parties, authorities and decision numbers.

Each issuing department sends its own file; ``数据来源单位`` holds its id from
departments.toml and the file name carries its short name.
"""

from __future__ import annotations

import numpy as np

from govlake.generate.dates import years
from govlake.generate.decisions import Decisions
from govlake.generate.export import sequence_within, spell, zero_pad
from govlake.generate.world import World

#: Department id → (authority name after the county's name, abbreviation in decision numbers).
AUTHORITIES = {
    "market_regulation": ("市场监督管理局", "市监"),
    "health": ("卫生健康局", "卫"),
    "public_security": ("公安局", "公"),
    "natural_resources": ("自然资源局", "自然资"),
    "hrss": ("人力资源和社会保障局", "人社"),
    "tax": ("税务局", "税"),
}
PARTY_TYPE = {
    "1": (("法人及非法人组织", 0.7), ("法人", 0.2), ("法人或其他组织", 0.1)),
    "2": (("个体工商户", 1.0),),
}


def county_short(name: str) -> str:
    """The county's name without its suffix, as used in document numbers (西湖区 → 西湖)."""
    return name[:-1] if len(name) > 2 else name


def decision_parts(world: World, decisions: Decisions, rng: np.random.Generator, word: str) -> dict[str, np.ndarray]:
    """Columns common to licences and penalties, plus the file part (department short name)."""
    firms, places = world.entities, world.population.counties
    county = firms.county[decisions.entity]
    county_name = places.name[county]
    authority = np.array([AUTHORITIES[d][0] for d in decisions.department], dtype=object)
    authority_name = np.where(decisions.department == "tax", "国家税务总局" + county_name + authority,
                              county_name + authority)
    abbreviation = np.array([county_short(c) + AUTHORITIES[d][1] for c, d in zip(county_name, decisions.department,
                                                                               strict=True)], dtype=object)
    year = years(decisions.decided).astype(str).astype(object)
    running = sequence_within(abbreviation + year).astype(str).astype(object)
    number = abbreviation + word + "〔" + year + "〕" + running + "号"
    party_type = np.where(firms.prefix[decisions.entity] == "92", "2", "1").astype(object)
    short_names = {d.id: d.short_name for d in world.catalog.departments.values()}
    return {
        "decision_no": number,
        "party_name": firms.name[decisions.entity],
        "party_type": spell(rng, party_type, PARTY_TYPE),
        "party_id": firms.uscc[decisions.entity],
        "authority": authority_name,
        "authority_department": decisions.department,
        "division": places.code[county],
        "_year": year,
        "_file": np.array([short_names[d] for d in decisions.department], dtype=object),
        "_sequence": zero_pad(sequence_within(decisions.department), 6),
    }
