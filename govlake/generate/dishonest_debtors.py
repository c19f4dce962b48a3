"""法院 dishonest-debtor list (UTF-8 CSV): entities and people, with the court's case number.

Case numbers look like ``（2024）浙0106执1234号``: year filed, the province's one-character
abbreviation, the court's four digits (here the county code's last four) and a number.
"""

from __future__ import annotations

import numpy as np

from govlake.generate.dates import years
from govlake.generate.export import Export, build_frame, sequence_within
from govlake.generate.world import World

PROVINCE_ABBREVIATIONS = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "内", "21": "辽", "22": "吉", "23": "黑", "31": "沪",
    "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣", "37": "鲁", "41": "豫", "42": "鄂", "43": "湘",
    "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕",
    "62": "甘", "63": "青", "64": "宁", "65": "新",
}


def _pick(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    out = np.full(len(index), None, dtype=object)
    known = index >= 0
    out[known] = values[index[known]]
    return out


def dishonest_debtors(world: World) -> list[Export]:
    people, firms, cases = world.population, world.entities, world.cases
    places = people.counties
    division = places.code[cases.county]
    year = years(cases.filed).astype(str).astype(object)
    abbreviation = np.array([PROVINCE_ABBREVIATIONS[d[:2]] for d in division], dtype=object)
    court_code = np.array([d[2:] for d in division], dtype=object)
    number = sequence_within(division + year) + 1000
    case_no = "（" + year + "）" + abbreviation + court_code + "执" + number.astype(str).astype(object) + "号"
    is_entity = cases.entity >= 0
    prefix = _pick(firms.prefix, cases.entity)
    organisation = np.where(prefix == "92", "个体工商户", "法人或其他组织")
    debtor_type = np.where(~is_entity, "自然人", organisation).astype(object)
    entity_name, person_name = _pick(firms.name, cases.entity), _pick(people.name, cases.person)
    entity_code, person_code = _pick(firms.uscc, cases.entity), _pick(people.resident_id, cases.person)
    columns = {
        "case_no": case_no,
        "debtor_name": np.where(is_entity, entity_name, person_name),
        "debtor_id": np.where(is_entity, entity_code, person_code),
        "debtor_type": debtor_type,
        "court": places.name[cases.county] + "人民法院",
        "court_division": division,
        "filed_date": cases.filed,
        "published_date": cases.published,
        "conduct": cases.conduct,
        "performance": cases.performance,
        "removed_date": cases.removed,
    }
    hidden = {"_person": person_code, "_entity": entity_code}
    return [Export("dishonest_debtors", build_frame(world.catalog.dataset("dishonest_debtors"), columns, hidden))]
