"""Credit facts: tax-credit ratings of enterprises and the courts' list of dishonest debtors.

Ratings cover the years 2023–2025 for enterprises (prefix 91) in business during the
year; they are published in April of the next year. An enterprise's first year is rated
M (newly established); otherwise grades persist from year to year around the shares in
:data:`GRADE_SHARES`, and an enterprise on the dishonest list is rated D.

About 0.5 % of market entities (revoked ones far more often) and about 0.05 % of adults
(plus half of the dishonest entities' representatives) are dishonest debtors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from govlake.generate.dates import AS_OF_DAY, add_years, random_between
from govlake.generate.entities import REVOKED, Entities
from govlake.generate.people import Population
from govlake.generate.randomness import pick_top, stream

RATING_YEARS = (2023, 2024, 2025)
GRADE_SHARES = {"A": 0.10, "B": 0.62, "M": 0.14, "C": 0.09, "D": 0.05}
DISHONEST_ENTITY_SHARE = 0.005
DISHONEST_PERSON_SHARE = 0.0005
CONDUCTS = (
    "有履行能力而拒不履行生效法律文书确定义务",
    "以伪造证据、暴力、威胁等方法妨碍、抗拒执行",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
    "违反财产报告制度",
    "违反限制消费令",
    "无正当理由拒不履行执行和解协议",
)


@dataclass
class Ratings:
    entity: np.ndarray
    year: np.ndarray
    grade: np.ndarray
    rated: np.ndarray  # datetime64[D]

    def __len__(self) -> int:
        return len(self.entity)


@dataclass
class Cases:
    """Dishonest-debtor cases: ``entity`` or ``person`` is set (the other is -1)."""

    entity: np.ndarray
    person: np.ndarray
    county: np.ndarray  # court county index
    filed: np.ndarray
    published: np.ndarray
    removed: np.ndarray  # NaT while listed
    conduct: np.ndarray
    performance: np.ndarray

    def __len__(self) -> int:
        return len(self.entity)


def dishonest(seed: int, population: Population, entities: Entities) -> Cases:
    """The dishonest debtors' cases."""
    rng = stream(seed, "credit.dishonest")
    market = entities.market
    # a court case takes time: only entities at least a year old
    weights = np.where(entities.status[market] == REVOKED, 6.0, 1.0)
    weights[entities.established[market] > AS_OF_DAY - 365] = 0.0
    listed = market[pick_top(rng, weights, max(1, round(DISHONEST_ENTITY_SHARE * len(market))))]
    reps = entities.legal_rep[listed[rng.random(len(listed)) < 0.5]]
    adults = np.flatnonzero((population.age >= 20) & population.alive)
    people = np.union1d(reps, adults[rng.random(len(adults)) < DISHONEST_PERSON_SHARE])
    people = people[population.alive[people]]
    entity = np.concatenate([listed, np.full(len(people), -1)]).astype(np.int64)
    person = np.concatenate([np.full(len(listed), -1), people]).astype(np.int64)
    county = np.concatenate([entities.county[listed], population.hukou_county[people]])
    earliest = np.concatenate([entities.established[listed] + 180, add_years(population.birth[people], 20)])
    earliest = np.maximum(earliest, AS_OF_DAY - 6 * 365)
    latest = np.full(len(entity), AS_OF_DAY - 45)
    filed = random_between(rng, np.minimum(earliest, latest), latest)
    published = np.minimum(filed + rng.integers(30, 300, len(filed)), AS_OF_DAY)
    removed = np.full(len(filed), np.datetime64("NaT", "D"))
    leaves = (rng.random(len(filed)) < 0.25) & (published + 60 < AS_OF_DAY)
    removed[leaves] = random_between(rng, published[leaves] + 60, np.full(int(leaves.sum()), AS_OF_DAY))
    conduct = np.array(CONDUCTS, dtype=object)[rng.choice(len(CONDUCTS), len(filed), p=[.55, .05, .1, .12, .13, .05])]
    performance = np.where(rng.random(len(filed)) < 0.85, "全部未履行", "部分未履行").astype(object)
    order = np.argsort(published, kind="stable")
    return Cases(entity[order], person[order], county[order], filed[order], published[order], removed[order],
                 conduct[order], performance[order])


def ratings(seed: int, entities: Entities, cases: Cases) -> Ratings:
    """Tax-credit ratings of enterprises for :data:`RATING_YEARS`."""
    rng = stream(seed, "credit.tax")
    firms = np.flatnonzero(entities.prefix == "91")
    grades = np.array(list(GRADE_SHARES), dtype=object)
    shares = np.array(list(GRADE_SHARES.values()))
    base = grades[rng.choice(len(grades), len(firms), p=shares)]
    listed_on = np.full(len(entities), np.datetime64("NaT", "D"))
    listed = cases.entity >= 0
    listed_on[cases.entity[listed]] = cases.published[listed]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for year in RATING_YEARS:
        year_end = np.datetime64(f"{year}-12-31")
        rated = np.datetime64(f"{year + 1}-04-01") + rng.integers(0, 25, len(firms))
        in_business = (entities.established[firms] <= year_end) & (
            np.isnat(entities.closed[firms]) | (entities.closed[firms] > rated))
        in_business &= rated <= AS_OF_DAY
        grade = np.where(rng.random(len(firms)) < 0.8, base, grades[rng.choice(len(grades), len(firms), p=shares)])
        grade = np.where(entities.established[firms] > np.datetime64(f"{year}-01-01"), "M", grade)
        on_list = ~np.isnat(listed_on[firms]) & (listed_on[firms] <= year_end)
        grade = np.where(on_list, "D", grade)
        keep = np.flatnonzero(in_business)
        parts.append((firms[keep], np.full(len(keep), year), grade[keep].astype(object), rated[keep]))
    entity = np.concatenate([p[0] for p in parts])
    order = np.lexsort((np.concatenate([p[1] for p in parts]), entity))
    return Ratings(entity[order], np.concatenate([p[1] for p in parts])[order],
                   np.concatenate([p[2] for p in parts])[order], np.concatenate([p[3] for p in parts])[order])
