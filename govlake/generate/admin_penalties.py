"""双公示 administrative penalties (UTF-8 CSV), one file per deciding department.

The fine is in 万元 and written only for fines.
"""

from __future__ import annotations

import numpy as np

from govlake.generate.admin_decisions import decision_parts
from govlake.generate.export import Export, build_frame, spell
from govlake.generate.randomness import stream
from govlake.generate.world import World

PENALTY_TYPE = {
    "01": (("警告", 1.0),), "02": (("罚款", 1.0),),
    "03": (("没收违法所得", 0.8), ("没收违法所得、没收非法财物", 0.2)),
    "04": (("责令停产停业", 1.0),), "05": (("吊销许可证", 0.3), ("暂扣或者吊销许可证、暂扣或者吊销执照", 0.7)),
}


def admin_penalties(world: World) -> list[Export]:
    decided = world.penalties
    rng = stream(world.seed, "export.admin_penalties")
    parts = decision_parts(world, decided, rng, "罚决字")
    fine = np.array([None if np.isnan(f) else f"{f:.2f}" for f in decided.fine], dtype=object)
    columns = {
        "decision_no": parts["decision_no"],
        "party_name": parts["party_name"],
        "party_type": parts["party_type"],
        "party_id": parts["party_id"],
        "violation_type": decided.title,
        "facts": decided.detail,
        "legal_basis": decided.number_prefix,
        "penalty_type": spell(rng, decided.penalty_type, PENALTY_TYPE),
        "fine_amount": fine,
        "decision_date": decided.decided,
        "authority": parts["authority"],
        "authority_department": parts["authority_department"],
        "division": parts["division"],
        "publicity_until": decided.valid_to,
    }
    hidden = {"_entity": parts["party_id"], "_file": parts["_file"]}
    frame = build_frame(world.catalog.dataset("admin_penalties"), columns, hidden)
    return [Export("admin_penalties", frame, split="_file")] if len(fine) else []
