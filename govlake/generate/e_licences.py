"""电子证照 licence directory (JSON Lines): business licences, marriage and divorce
certificates (one per spouse, for registrations since 2000) and birth certificates.

Identifiers follow the shape of GB/T 36904 [recalled, provisional]:
``1.2.156.3005.2.<type code>.<issuer code>.<licence number>.<copy>``. Type codes are the
issuing ministry's (synthetic) credit code plus a serial; issuers' credit codes are
synthetic but valid (prefix 11 for bureaus, 12 for hospitals).
"""

from __future__ import annotations

import zlib

import numpy as np

from govlake.generate.births import certificates
from govlake.generate.entities import ACTIVE, CANCELLED
from govlake.generate.export import Export, build_frame, spell
from govlake.generate.ids import usccs
from govlake.generate.marriages import registrations
from govlake.generate.randomness import stream
from govlake.generate.world import World

CODE_TYPE = {"1": (("统一社会信用代码", 0.8), ("1", 0.2)),
             "2": (("公民身份号码", 0.7), ("居民身份证", 0.2), ("2", 0.1))}
STATUS = {"1": (("有效", 0.9), ("正常", 0.1)), "2": (("注销", 1.0),), "3": (("废止", 0.8), ("作废", 0.2))}
E_LICENCE_FROM = np.datetime64("2000-01-01")


def issuer_codes(prefix: str, salt: str, divisions: np.ndarray) -> np.ndarray:
    """A stable, valid synthetic credit code for each issuing office (one per division)."""
    numbers = np.array([zlib.crc32(f"{salt}:{d}".encode()) % 10**8 for d in divisions], dtype=np.int64)
    digits = (numbers[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    return usccs(np.full(len(divisions), prefix, dtype=object), divisions, digits).astype(object)


def _block(**columns: np.ndarray) -> dict[str, np.ndarray]:
    return columns


def e_licences(world: World) -> list[Export]:
    people, firms, catalog = world.population, world.entities, world.catalog
    places = people.counties
    rng = stream(world.seed, "export.e_licences")
    ministries = catalog.departments
    blocks = []

    rows = firms.market
    status = np.where(firms.status[rows] == ACTIVE, "1", np.where(firms.status[rows] == CANCELLED, "2", "3"))
    division = firms.registration_division[rows]
    blocks.append(_block(
        type_code=np.full(len(rows), ministries["market_regulation"].code + "001", dtype=object),
        type_name=np.full(len(rows), "营业执照", dtype=object), number=firms.uscc[rows], copy=np.ones(len(rows), int),
        holder=firms.name[rows], code=firms.uscc[rows], code_type=np.full(len(rows), "1", dtype=object),
        issuer=firms.registry_authority[rows], issuer_code=issuer_codes("11", "amr", division),
        issued=firms.established[rows], status=status.astype(object), division=division,
        person=np.full(len(rows), None, dtype=object), entity=firms.uscc[rows],
    ))

    registered = registrations(world)
    couples = people.couples
    recent = np.flatnonzero(registered.date >= E_LICENCE_FROM)
    later_divorce = ~np.isnat(couples.divorced[registered.couple[recent]]) & (registered.kind[recent] == 1)
    for partner, copy_number in ((couples.husband, 1), (couples.wife, 2)):
        holder = partner[registered.couple[recent]]
        kind = registered.kind[recent]
        blocks.append(_block(
            type_code=np.where(kind == 1, ministries["civil_affairs"].code + "001",
                               ministries["civil_affairs"].code + "002").astype(object),
            type_name=np.where(kind == 1, "结婚证", "离婚证").astype(object), number=registered.number[recent],
            copy=np.full(len(recent), copy_number), holder=people.name[holder], code=people.resident_id[holder],
            code_type=np.full(len(recent), "2", dtype=object),
            issuer=places.name[couples.registry_county[registered.couple[recent]]] + "民政局",
            issuer_code=issuer_codes("11", "civil", registered.division[recent]),
            issued=registered.date[recent], status=np.where(later_divorce, "2", "1").astype(object),
            division=registered.division[recent], person=people.resident_id[holder],
            entity=np.full(len(recent), None, dtype=object),
        ))

    born, certificate = certificates(world)
    division = people.division(people.residence_county[born])
    blocks.append(_block(
        type_code=np.full(len(born), ministries["health"].code + "001", dtype=object),
        type_name=np.full(len(born), "出生医学证明", dtype=object), number=certificate,
        copy=np.ones(len(born), int), holder=people.name[born], code=people.resident_id[born],
        code_type=np.full(len(born), "2", dtype=object),
        issuer=places.name[people.residence_county[born]] + "妇幼保健院",
        issuer_code=issuer_codes("12", "mch", division), issued=people.birth[born],
        status=np.full(len(born), "1", dtype=object), division=division,
        person=people.resident_id[born], entity=np.full(len(born), None, dtype=object),
    ))

    merged = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    order = np.lexsort((merged["copy"], merged["number"].astype(str), merged["issued"]))
    merged = {key: value[order] for key, value in merged.items()}
    copy = np.char.zfill(merged["copy"].astype(str), 3).astype(object)
    licence_id = ("1.2.156.3005.2." + merged["type_code"] + "." + merged["issuer_code"] + "." + merged["number"]
                  + "." + copy)
    columns = {
        "licence_id": licence_id,
        "licence_type_code": merged["type_code"],
        "licence_type": merged["type_name"],
        "licence_no": merged["number"],
        "holder_name": merged["holder"],
        "holder_code": merged["code"],
        "holder_code_type": spell(rng, merged["code_type"], CODE_TYPE),
        "issuer": merged["issuer"],
        "issuer_code": merged["issuer_code"],
        "issued_date": merged["issued"],
        "valid_from": merged["issued"],
        "valid_to": np.full(len(licence_id), np.datetime64("NaT", "D")),
        "licence_status": spell(rng, merged["status"], STATUS),
        "division": merged["division"],
    }
    hidden = {"_person": merged["person"], "_entity": merged["entity"]}
    return [Export("e_licences", build_frame(catalog.dataset("e_licences"), columns, hidden))]
