"""人社 social-insurance enrolments (SQLite, read in place): one row per person and scheme.

The database stores the scheme as its code (110, 310, …) and the status by name.
"""

from __future__ import annotations

from govlake.generate.export import Export, build_frame, spell
from govlake.generate.randomness import stream
from govlake.generate.world import World

STATUS = {1: (("参保缴费", 0.85), ("正常参保", 0.15)), 2: (("暂停缴费", 0.8), ("中断缴费", 0.2)),
          3: (("终止参保", 1.0),)}


def social_insurance(world: World) -> list[Export]:
    people, enrolled = world.population, world.enrolments
    rng = stream(world.seed, "export.social_insurance")
    columns = {
        "resident_id": people.resident_id[enrolled.person],
        "name": people.name[enrolled.person],
        "insurance_type": enrolled.scheme,
        "enrolment_status": spell(rng, enrolled.status, STATUS),
        "enrolled_date": enrolled.enrolled,
        "division": people.division(enrolled.county),
        "employer_uscc": enrolled.employer,
    }
    return [Export("social_insurance", build_frame(world.catalog.dataset("social_insurance"), columns,
                                                   {"_person": people.resident_id[enrolled.person]}))]
