"""公安 hukou export (GBK CSV): every registered person, the authority for identity facts.

Sex is written 男/女 (sometimes 男性/女性 or 1/2), ethnicity and marital status by name,
person status 正常/在册, 死亡 or 迁出/户口迁出. Rows come by hukou division, then ID.
"""

from __future__ import annotations

import numpy as np

from govlake.generate.export import Export, build_frame, spell
from govlake.generate.randomness import stream
from govlake.generate.world import World

SEX = {1: (("男", 0.93), ("男性", 0.04), ("1", 0.03)), 2: (("女", 0.93), ("女性", 0.04), ("2", 0.03))}
MARITAL = {10: (("未婚", 1.0),), 20: (("已婚", 0.95), ("有配偶", 0.05)), 30: (("丧偶", 1.0),), 40: (("离婚", 1.0),)}
STATUS = {1: (("正常", 0.9), ("在册", 0.1)), 2: (("死亡", 1.0),), 3: (("迁出", 0.7), ("户口迁出", 0.3))}


def hukou(world: World) -> list[Export]:
    people = world.population
    rng = stream(world.seed, "export.hukou")
    ethnicity_names = world.catalog.code_table("ethnicity").codes
    ethnicity = np.array([ethnicity_names[c] for c in people.ethnicity], dtype=object)
    as_code = rng.random(len(people)) < 0.03
    ethnicity[as_code] = people.ethnicity[as_code]
    hukou_division = people.division(people.hukou_county)
    order = np.lexsort((people.resident_id.astype(str), hukou_division.astype(str)))
    columns = {
        "resident_id": people.resident_id,
        "name": people.name,
        "sex": spell(rng, people.sex, SEX),
        "birth_date": people.birth,
        "ethnicity": ethnicity,
        "hukou_division": hukou_division,
        "hukou_address": people.hukou_address,
        "residence_division": people.division(people.residence_county),
        "marital_status": spell(rng, people.marital, MARITAL),
        "person_status": spell(rng, people.status, STATUS),
        "deregistered_date": people.deregistered,
        "phone": people.phone,
        "updated_at": people.updated,
    }
    dataset = world.catalog.dataset("hukou")
    frame = build_frame(dataset, {k: np.asarray(v)[order] for k, v in columns.items()},
                        {"_person": people.resident_id[order]})
    return [Export("hukou", frame)]
