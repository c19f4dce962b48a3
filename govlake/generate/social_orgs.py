"""民政 social-organisation register (JSON Lines): associations, private non-profits, foundations."""

from __future__ import annotations

import numpy as np

from govlake.generate.export import Export, build_frame, spell
from govlake.generate.randomness import stream
from govlake.generate.world import World

TYPE = {"1": (("社会团体", 1.0),), "2": (("民办非企业单位", 0.6), ("社会服务机构", 0.4)), "3": (("基金会", 1.0),)}
STATUS = {1: (("存续", 1.0),), 2: (("撤销", 1.0),), 3: (("注销", 1.0),)}


def social_orgs(world: World) -> list[Export]:
    people, orgs = world.population, world.entities
    rng = stream(world.seed, "export.social_orgs")
    rows = orgs.social
    rows = rows[np.lexsort((orgs.uscc[rows].astype(str), orgs.established[rows]))]
    rep = orgs.legal_rep[rows]
    columns = {
        "uscc": orgs.uscc[rows],
        "org_name": orgs.name[rows],
        "org_type": spell(rng, orgs.type_code[rows], TYPE),
        "registry_authority": orgs.registry_authority[rows],
        "established_date": orgs.established[rows],
        "legal_rep_name": people.name[rep],
        "legal_rep_id": people.resident_id[rep],
        "division": people.division(orgs.county[rows]),
        "business_scope": orgs.scope[rows],
        "status": spell(rng, orgs.status[rows], STATUS),
    }
    hidden = {"_entity": orgs.uscc[rows], "_rep": people.resident_id[rep]}
    return [Export("social_orgs", build_frame(world.catalog.dataset("social_orgs"), columns, hidden))]
