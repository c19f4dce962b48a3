"""Administrative licences and penalties (双公示), decided by five departments each.

Licences follow the business: food-business licences for shops and restaurants (市场监管),
public-place hygiene licences for hotels and personal services (卫健), special-trade
licences for hotels (公安), land-use planning permits for parcel holders (自然资源) and
labour-dispatch licences for business services (人社). Penalties: ordinary market
penalties and the revocation of every revoked entity's licence (市场监管), late filing by
low-rated taxpayers (税务), hotel registration breaches (公安), hygiene breaches (卫健)
and illegal land occupation (自然资源).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from govlake.generate.credit import Ratings
from govlake.generate.dates import AS_OF_DAY, random_between
from govlake.generate.entities import REVOKED, Entities
from govlake.generate.parcels import Parcels
from govlake.generate.randomness import stream


@dataclass(frozen=True)
class LicenceRule:
    department: str
    licence: str
    number_prefix: str
    content: str
    industries: tuple[str, ...]  # GB/T 4754 divisions; empty means "parcel holders"
    share: float
    valid_years: int  # 0: long-term


@dataclass(frozen=True)
class PenaltyRule:
    department: str
    selector: str  # "random", "revoked", "low_grade", an industry division, or "parcel"
    share: float
    violation: str
    facts: str
    basis: str
    penalty_types: tuple[tuple[str, float], ...]  # penalty_type.csv code, weight


LICENCE_RULES = (
    LicenceRule("market_regulation", "食品经营许可证", "JY", "预包装食品销售（含冷藏冷冻食品）、热食类食品制售",
                ("F52", "H62", "H61"), 0.6, 5),
    LicenceRule("health", "公共场所卫生许可证", "WG", "住宿场所、美容美发场所卫生许可", ("H61", "O80"), 0.7, 4),
    LicenceRule("public_security", "特种行业许可证", "TH", "旅馆业特种行业经营", ("H61",), 0.8, 0),
    LicenceRule("natural_resources", "建设用地规划许可证", "DZ", "建设用地规划许可", (), 0.6, 0),
    LicenceRule("hrss", "劳务派遣经营许可证", "LP", "劳务派遣经营", ("L72",), 0.15, 3),
)
PENALTY_RULES = (
    PenaltyRule("market_regulation", "random", 0.015, "虚假宣传",
                "在经营活动中对商品的性能、质量作虚假或者引人误解的商业宣传",
                "《中华人民共和国反不正当竞争法》第二十条", (("01", 0.35), ("02", 0.55), ("03", 0.10))),
    PenaltyRule("market_regulation", "revoked", 1.0, "无正当理由超过六个月未开业或者停业",
                "成立后无正当理由超过六个月未开业，或者开业后自行停业连续六个月以上",
                "《中华人民共和国市场主体登记管理条例》第四十六条", (("05", 1.0),)),
    PenaltyRule("tax", "low_grade", 0.5, "未按期办理纳税申报", "未按照规定的期限办理纳税申报和报送纳税资料",
                "《中华人民共和国税收征收管理法》第六十二条", (("02", 0.8), ("01", 0.2))),
    PenaltyRule("public_security", "H61", 0.08, "未按规定登记住宿旅客信息", "接待旅客住宿未按规定登记旅客身份信息",
                "《旅馆业治安管理办法》第六条", (("01", 0.4), ("02", 0.6))),
    PenaltyRule("health", "H62", 0.03, "从业人员未取得健康证明",
                "安排未取得有效健康合格证明的从业人员从事直接为顾客服务的工作",
                "《公共场所卫生管理条例实施细则》第三十八条", (("01", 0.3), ("02", 0.7))),
    PenaltyRule("natural_resources", "parcel", 0.03, "非法占用土地", "未经批准擅自占用集体土地建设厂房",
                "《中华人民共和国土地管理法》第七十七条", (("02", 0.7), ("04", 0.3))),
)
#: Publicity period after the decision, in days, by penalty type (警告 three months,
#: fines and confiscations one year, suspensions and revocations three years).
PUBLICITY_DAYS = {"01": 92, "02": 365, "03": 365, "04": 1095, "05": 1095, "06": 365, "99": 365}


@dataclass
class Decisions:
    """Licences or penalties: one entry per decision, ordered by department then date."""

    department: np.ndarray
    entity: np.ndarray
    decided: np.ndarray  # datetime64[D]
    title: np.ndarray  # licence name or violation type
    detail: np.ndarray  # licence content or facts
    number_prefix: np.ndarray  # licence number prefix, or the legal basis for penalties
    valid_to: np.ndarray  # datetime64[D] (NaT long-term), or the publicity end date
    penalty_type: np.ndarray  # penalty_type.csv code, None for licences
    fine: np.ndarray  # 万元, NaN unless a fine

    def __len__(self) -> int:
        return len(self.entity)


def _decided(rng: np.random.Generator, entities: Entities, chosen: np.ndarray) -> np.ndarray:
    end = np.fmin(entities.closed[chosen], AS_OF_DAY)
    start = np.minimum(entities.established[chosen] + 30, end)
    return random_between(rng, start, end)


def _assemble(parts: list[dict[str, np.ndarray]]) -> Decisions:
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((merged["entity"], merged["decided"], merged["department"].astype(str)))
    return Decisions(**{key: value[order] for key, value in merged.items()})


def licences(seed: int, entities: Entities, parcels: Parcels) -> Decisions:
    """Licences granted to market entities."""
    rng = stream(seed, "decisions.licences")
    market = entities.market
    holders = np.unique(parcels.entity)
    parts = []
    for rule in LICENCE_RULES:
        pool = holders if not rule.industries else market[np.isin(entities.industry[market], rule.industries)]
        chosen = pool[rng.random(len(pool)) < rule.share]
        decided = _decided(rng, entities, chosen)
        long_term = np.full(len(chosen), np.datetime64("NaT", "D"))
        valid_to = decided + rule.valid_years * 365 - 1 if rule.valid_years else long_term
        parts.append({
            "department": np.full(len(chosen), rule.department, dtype=object), "entity": chosen,
            "decided": decided, "title": np.full(len(chosen), rule.licence, dtype=object),
            "detail": np.full(len(chosen), rule.content, dtype=object),
            "number_prefix": np.full(len(chosen), rule.number_prefix, dtype=object),
            "valid_to": valid_to, "penalty_type": np.full(len(chosen), None, dtype=object),
            "fine": np.full(len(chosen), np.nan),
        })
    return _assemble(parts)


def penalties(seed: int, entities: Entities, parcels: Parcels, ratings: Ratings) -> Decisions:
    """Penalties imposed on market entities."""
    rng = stream(seed, "decisions.penalties")
    market = entities.market
    low_grade = np.unique(ratings.entity[np.isin(ratings.grade, ["C", "D"])])
    parts = []
    for rule in PENALTY_RULES:
        if rule.selector == "random":
            pool = market
        elif rule.selector == "revoked":
            pool = market[entities.status[market] == REVOKED]
        elif rule.selector == "low_grade":
            pool = low_grade
        elif rule.selector == "parcel":
            pool = np.unique(parcels.entity)
        else:
            pool = market[entities.industry[market] == rule.selector]
        chosen = pool[rng.random(len(pool)) < rule.share]
        if rule.selector == "revoked":
            decided = entities.closed[chosen]
        else:
            decided = _decided(rng, entities, chosen)
        codes = np.array([c for c, _ in rule.penalty_types], dtype=object)
        weights = np.array([w for _, w in rule.penalty_types])
        penalty_type = codes[rng.choice(len(codes), len(chosen), p=weights / weights.sum())]
        fine = np.where(penalty_type == "02", np.round(np.exp(rng.normal(np.log(0.5), 1.0, len(chosen))), 2), np.nan)
        fine = np.where(penalty_type == "02", np.maximum(fine, 0.01), np.nan)
        publicity = np.array([PUBLICITY_DAYS[c] for c in penalty_type], dtype=np.int64)
        parts.append({
            "department": np.full(len(chosen), rule.department, dtype=object), "entity": chosen,
            "decided": decided, "title": np.full(len(chosen), rule.violation, dtype=object),
            "detail": np.full(len(chosen), rule.facts, dtype=object),
            "number_prefix": np.full(len(chosen), rule.basis, dtype=object),
            "valid_to": decided + publicity, "penalty_type": penalty_type, "fine": fine,
        })
    return _assemble(parts)
