"""双公示 administrative licences (UTF-8 CSV), one file per issuing department."""

from __future__ import annotations

import numpy as np

from govlake.generate.admin_decisions import decision_parts
from govlake.generate.export import Export, build_frame
from govlake.generate.randomness import stream
from govlake.generate.world import World


def admin_licences(world: World) -> list[Export]:
    decided = world.licences
    rng = stream(world.seed, "export.admin_licences")
    parts = decision_parts(world, decided, rng, "许")
    licence_no = decided.number_prefix + parts["division"] + parts["_year"] + parts["_sequence"]
    columns = {
        "decision_no": parts["decision_no"],
        "party_name": parts["party_name"],
        "party_type": parts["party_type"],
        "party_id": parts["party_id"],
        "licence_name": decided.title,
        "licence_no": licence_no,
        "content": decided.detail,
        "decision_date": decided.decided,
        "valid_from": decided.decided,
        "valid_to": decided.valid_to,
        "authority": parts["authority"],
        "authority_department": parts["authority_department"],
        "division": parts["division"],
    }
    hidden = {"_entity": parts["party_id"], "_file": parts["_file"]}
    frame = build_frame(world.catalog.dataset("admin_licences"), columns, hidden)
    return [Export("admin_licences", frame, split="_file")] if len(np.asarray(licence_no)) else []
