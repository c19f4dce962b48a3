"""Legal entities: market entities (市场主体) and social organisations (社会组织).

Market entities number about 12.8 % of persons (1.81 亿 entities for 14.1 亿 people):
31 % enterprises (USCC prefix 91), 67 % individual businesses (92) and 1.2 % farmer
cooperatives (93). Social organisations (51/52/53) are about 0.06 % of persons.

Every legal representative is a real adult from the population (an ID in hukou). An
entity sits where its representative lives (mostly), at a random point inside that
county's real boundary. Establishment dates grow more frequent towards the reference
date, so every recent month has registrations; older entities are more often closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from govlake.generate.counties import Counties
from govlake.generate.dates import AS_OF_DAY, add_years, random_between
from govlake.generate.geo import Boundaries
from govlake.generate.ids import USCC_ALPHABET, usccs
from govlake.generate.people import Population
from govlake.generate.randomness import stream, weighted_choice
from govlake.generate.vocab import (
    BRANDS,
    COOPERATIVE_INDUSTRIES,
    COOPERATIVE_WORDS,
    ENTERPRISE_INDUSTRIES,
    INDIVIDUAL_INDUSTRIES,
    PRIVATE_NONPROFITS,
    ROADS,
    SECTION_WORDS,
    SHOP_WORDS,
    SOCIAL_TOPICS,
    pick,
    weighted_codes,
)

NAT = np.datetime64("NaT", "D")
MARKET_SHARE_OF_PERSONS = 0.128
SOCIAL_SHARE_OF_PERSONS = 0.0006
MIN_SOCIAL_ORGS = 5
#: USCC prefix → share of market entities (市场监管总局, end of September 2023).
MARKET_PREFIXES = {"91": 0.31, "92": 0.67, "93": 0.012}
SOCIAL_PREFIXES = {"51": 0.45, "52": 0.53, "53": 0.02}
#: Enterprise types (entity_type.csv codes) for prefix 91.
ENTERPRISE_TYPES = {"1100": 0.86, "1200": 0.03, "4000": 0.06, "4100": 0.05}
#: Organisation codes issued after the USCC reform (October 2015) are alphanumeric.
USCC_REFORM = np.datetime64("2015-10-01")
# Registration status codes (entity_status.csv).
ACTIVE, REVOKED, CANCELLED = 1, 2, 3


@dataclass
class Entities:
    """Every legal entity, as parallel arrays. ``sector`` is ``market`` or ``social``."""

    uscc: np.ndarray
    name: np.ndarray
    sector: np.ndarray
    prefix: np.ndarray  # "91", "92", "93", "51", "52", "53"
    type_code: np.ndarray  # entity_type.csv code for market entities, org_type.csv code for social ones
    status: np.ndarray  # int8: 1 active, 2 revoked, 3 cancelled
    established: np.ndarray  # datetime64[D]
    closed: np.ndarray  # datetime64[D], NaT while active
    legal_rep: np.ndarray  # person index
    capital: np.ndarray  # 万元, NaN for social organisations
    industry: np.ndarray  # GB/T 4754 division code, None for social organisations
    county: np.ndarray  # county index of the domicile
    registration_division: np.ndarray  # positions 3–8 of the USCC
    registry_authority: np.ndarray
    address: np.ndarray
    scope: np.ndarray
    longitude: np.ndarray  # NaN for social organisations
    latitude: np.ndarray

    def __len__(self) -> int:
        return len(self.uscc)

    @property
    def market(self) -> np.ndarray:
        return np.flatnonzero(self.sector == "market")

    @property
    def social(self) -> np.ndarray:
        return np.flatnonzero(self.sector == "social")


def _from_table(rng: np.random.Generator, table: dict[str, float], size: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    return keys[weighted_choice(rng, len(keys), list(table.values()), size)]


def _representatives(rng: np.random.Generator, population: Population, size: int, centre: float) -> np.ndarray:
    age = population.age
    weights = np.where(age >= 20, np.exp(-(((age - centre) / 13.0) ** 2)), 0.0)
    return rng.choice(len(age), size=size, p=weights / weights.sum())


def _established(rng: np.random.Generator, prefix: np.ndarray, population: Population,
                 rep: np.ndarray) -> np.ndarray:
    """Establishment dates: growing year on year, after the representative turned 18."""
    n = len(prefix)
    year = np.zeros(n, dtype=np.int64)
    for code, first, growth in (("91", 1995, 1.13), ("92", 2000, 1.16), ("93", 2007, 1.0),
                                ("51", 1990, 1.05), ("52", 1995, 1.08), ("53", 2000, 1.06)):
        members = np.flatnonzero(prefix == code)
        span = np.arange(first, 2027)
        weights = growth ** (span - first)
        weights[-1] *= (AS_OF_DAY - np.datetime64("2026-01-01")).astype(int) / 365
        year[members] = span[rng.choice(len(span), size=len(members), p=weights / weights.sum())]
    start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    end = np.minimum((year - 1969).astype("datetime64[Y]").astype("datetime64[D]") - 1, AS_OF_DAY)
    established = random_between(rng, start, end)
    adult = add_years(population.birth[rep], 18)
    early = established < adult
    established[early] = random_between(rng, adult[early], np.full(int(early.sum()), AS_OF_DAY))
    death = population.death[rep]
    after_death = ~np.isnat(death) & (established >= death)
    established[after_death] = random_between(rng, np.minimum(adult[after_death], death[after_death] - 1),
                                              death[after_death] - 1)
    return established


def _organisation_codes(rng: np.random.Generator, established: np.ndarray, reform_letters: str) -> np.ndarray:
    """n × 8 alphabet indices: 8 digits before the reform, ``reform_letters`` + 6 characters after."""
    n = len(established)
    body = rng.integers(0, 10, (n, 8))
    modern = established >= USCC_REFORM
    tail = rng.integers(0, len(USCC_ALPHABET), (n, 6))
    letters = [USCC_ALPHABET.index(ch) for ch in reform_letters]
    body[modern] = np.concatenate([np.tile(letters, (int(modern.sum()), 1)), tail[modern]], axis=1)
    return body


def _unique_usccs(rng: np.random.Generator, prefix: np.ndarray, division: np.ndarray,
                  established: np.ndarray, reform_letters: np.ndarray, taken: set[str]) -> np.ndarray:
    body = np.zeros((len(prefix), 8), dtype=np.int64)
    for letters in np.unique(reform_letters):
        members = np.flatnonzero(reform_letters == letters)
        body[members] = _organisation_codes(rng, established[members], str(letters))
    while True:
        codes = usccs(prefix, division, body).astype(object)
        _, first = np.unique(codes, return_index=True)
        clash = np.ones(len(codes), dtype=bool)
        clash[first] = False
        clash |= np.isin(codes, list(taken)) if taken else False
        if not clash.any():
            return codes
        redo = np.flatnonzero(clash)
        body[redo, 2:] = rng.integers(0, 10, (len(redo), 6))


def _statuses(rng: np.random.Generator, prefix: np.ndarray, established: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(prefix)
    age_years = (AS_OF_DAY - established).astype(np.int64) / 365.2425
    half_life = np.where(prefix == "92", 12.0, np.where(np.isin(prefix, ["51", "52", "53"]), 40.0, 25.0))
    closes = rng.random(n) < 1 - np.exp(-age_years / half_life)
    status = np.full(n, ACTIVE, dtype=np.int8)
    status[closes] = np.where(rng.random(int(closes.sum())) < 0.7, CANCELLED, REVOKED)
    closed = np.full(n, NAT)
    closed[closes] = random_between(rng, np.minimum(established[closes] + 60, AS_OF_DAY),
                                    np.full(int(closes.sum()), AS_OF_DAY))
    return status, closed


def _addresses(rng: np.random.Generator, places: Counties, county: np.ndarray) -> np.ndarray:
    n = len(county)
    prefecture = np.where(places.prefecture[county] == places.province[county] + "0000", "",
                          places.prefecture_name[county])
    return (places.province_name[county] + prefecture + places.name[county] + pick(rng, ROADS, n)
            + rng.integers(1, 999, n).astype(str).astype(object) + "号")


def _market_names(rng: np.random.Generator, places: Counties, population: Population, county: np.ndarray,
                  type_code: np.ndarray, industry: np.ndarray, rep: np.ndarray) -> np.ndarray:
    n = len(county)
    section = np.array([code[0] for code in industry], dtype=object)
    word = np.array([SECTION_WORDS.get(s, ("科技", ""))[0] for s in section], dtype=object)
    head = places.city_short(county) + pick(rng, BRANDS, n) + word
    suffix = {"1100": "有限公司", "1200": "股份有限公司", "4000": "商行", "4100": "合伙企业（有限合伙）"}
    names = np.empty(n, dtype=object)
    for code, tail in suffix.items():
        members = type_code == code
        names[members] = head[members] + tail
    individual = np.flatnonzero(type_code == "9100")
    shops = np.array([SHOP_WORDS.get(code, ("经营部",))[k % len(SHOP_WORDS.get(code, ("经营部",)))]
                      for code, k in zip(industry[individual], rng.integers(0, 60, len(individual)),
                                         strict=True)], dtype=object)
    names[individual] = places.name[county[individual]] + population.surname[rep[individual]] + "记" + shops
    cooperative = np.flatnonzero(type_code == "9300")
    names[cooperative] = (places.name[county[cooperative]] + pick(rng, BRANDS, len(cooperative))
                          + pick(rng, COOPERATIVE_WORDS, len(cooperative)) + "专业合作社")
    return names


def _market(seed: int, population: Population, boundaries: Boundaries) -> dict[str, np.ndarray]:
    places = population.counties
    n = max(1, round(MARKET_SHARE_OF_PERSONS * len(population)))
    rng = stream(seed, "entities.market")
    prefix = _from_table(rng, MARKET_PREFIXES, n)
    type_code = np.where(prefix == "92", "9100", np.where(prefix == "93", "9300", "1100")).astype(object)
    enterprise = np.flatnonzero(prefix == "91")
    type_code[enterprise] = _from_table(rng, ENTERPRISE_TYPES, len(enterprise))
    rep = _representatives(rng, population, n, centre=45.0)
    county = np.where(rng.random(n) < 0.85, population.residence_county[rep], population.hukou_county[rep])
    established = _established(rng, prefix, population, rep)
    status, closed = _statuses(rng, prefix, established)
    industry = np.empty(n, dtype=object)
    for code, table in (("91", ENTERPRISE_INDUSTRIES), ("92", INDIVIDUAL_INDUSTRIES), ("93", COOPERATIVE_INDUSTRIES)):
        members = np.flatnonzero(prefix == code)
        industry[members] = weighted_codes(rng, table, len(members))
    log_capital = np.select(
        [type_code == "1200", np.isin(type_code, ["4000", "4100"]), prefix == "92", prefix == "93"],
        [np.log(5000.0), np.log(50.0), np.log(5.0), np.log(100.0)], np.log(100.0))
    capital = np.round(np.exp(log_capital + rng.normal(0, 1.1, n)), 2)
    capital = np.maximum(capital, 0.1)
    # enterprises are often registered with the prefecture's bureau, the rest with the county's
    at_prefecture = (prefix == "91") & (rng.random(n) < 0.5)
    registration = np.where(at_prefecture, places.prefecture[county], places.code[county])
    authority_name = np.where(at_prefecture, places.prefecture_name[county], places.name[county])
    codes = _unique_usccs(rng, prefix, registration, established, np.full(n, "MA", dtype=object), set())
    lon, lat = boundaries.sample_points(stream(seed, "entities.points"), places.code[county])
    section = np.array([code[0] for code in industry], dtype=object)
    return {
        "uscc": codes,
        "name": _market_names(rng, places, population, county, type_code, industry, rep),
        "sector": np.full(n, "market", dtype=object),
        "prefix": prefix, "type_code": type_code, "status": status, "established": established,
        "closed": closed, "legal_rep": rep, "capital": capital, "industry": industry, "county": county,
        "registration_division": registration,
        "registry_authority": authority_name + "市场监督管理局",
        "address": _addresses(rng, places, county),
        "scope": np.array([SECTION_WORDS.get(s, ("", "技术服务"))[1] for s in section], dtype=object),
        "longitude": lon, "latitude": lat,
    }


def _social(seed: int, population: Population, taken: set[str]) -> dict[str, np.ndarray]:
    places = population.counties
    n = max(MIN_SOCIAL_ORGS, round(SOCIAL_SHARE_OF_PERSONS * len(population)))
    rng = stream(seed, "entities.social")
    prefix = _from_table(rng, SOCIAL_PREFIXES, n)
    type_code = np.array([p[1] for p in prefix], dtype=object)
    rep = _representatives(rng, population, n, centre=55.0)
    county = population.residence_county[rep]
    established = _established(rng, prefix, population, rep)
    status, closed = _statuses(rng, prefix, established)
    level = np.where(prefix == "53", 1, np.where(prefix == "52", 3, rng.choice([1, 2, 3], n, p=[0.2, 0.4, 0.4])))
    province_code = np.array([p + "0000" for p in places.province[county]], dtype=object)
    registration = np.select([level == 1, level == 2], [province_code, places.prefecture[county]],
                             places.code[county])
    place_name = np.select([level == 1, level == 2], [places.province_name[county], places.prefecture_name[county]],
                           places.name[county])
    authority = place_name + np.where(level == 1, "民政厅", "民政局")
    short_place = np.array([_short_place(p) for p in place_name], dtype=object)
    names = np.select(
        [prefix == "51", prefix == "52"],
        [short_place + pick(rng, SOCIAL_TOPICS, n) + "协会",
         places.name[county] + pick(rng, BRANDS, n) + pick(rng, PRIVATE_NONPROFITS, n)],
        short_place + pick(rng, BRANDS, n) + "慈善基金会",
    )
    scope = np.select([prefix == "51", prefix == "52"], ["行业交流、业务培训、咨询服务", "非营利性社会服务"],
                      "资助公益慈善项目")
    codes = _unique_usccs(rng, prefix, registration, established, np.full(n, "MJ", dtype=object), taken)
    return {
        "uscc": codes, "name": names, "sector": np.full(n, "social", dtype=object), "prefix": prefix,
        "type_code": type_code, "status": status, "established": established, "closed": closed,
        "legal_rep": rep, "capital": np.full(n, np.nan), "industry": np.full(n, None, dtype=object),
        "county": county, "registration_division": registration, "registry_authority": authority,
        "address": _addresses(rng, places, county), "scope": scope.astype(object),
        "longitude": np.full(n, np.nan), "latitude": np.full(n, np.nan),
    }


def _short_place(name: str) -> str:
    suffixes = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "省", "市", "区", "县", "地区", "盟")
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def entities(seed: int, population: Population, boundaries: Boundaries) -> Entities:
    """Market entities and social organisations for ``population``."""
    market = _market(seed, population, boundaries)
    social = _social(seed, population, set(market["uscc"].tolist()))
    return Entities(**{key: np.concatenate([market[key], social[key]]) for key in market})

