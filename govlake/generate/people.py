"""The synthetic population: who exists, where, and what happened to them.

:func:`people` draws every person once, with all the facts the departments later report
differently: demographics, hukou and residence county, marriages and divorces, deaths,
births (with parents) and the resident ID. The exports read from this; nothing here
knows about files or mess.

Realism, in brief (figures in docs/data-sources.md):

- Province by the 2020 census shares; county uniform within the province.
- Sex ratio 105.07; ages 0–14 / 15–59 / 60+ in the census shares 17.95 / 63.35 / 18.70 %,
  with fewer births in recent years and fewer people at each older age.
- Ethnicity by province (Han about 91 % overall); name style follows ethnicity.
- About 17 % live outside their hukou county (60 % within the province).
- About 2 % died in the last three years, older people far more often.
- Couples are formed from people of similar age; about 7 % of later marriages ended in
  divorce; the partner of a person who died is widowed; older people whose spouse died
  long ago are widowed without a partner in the data.
- Children born in the last three years have married parents from the population, take
  the father's surname (usually) and the father's hukou county.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from govlake.generate import names as name_lists
from govlake.generate.address_codes import FIRST_YEAR, id_address_table
from govlake.generate.counties import Counties, counties
from govlake.generate.dates import AS_OF_DAY, add_years, age_on, random_between, years, ymd
from govlake.generate.ids import resident_ids
from govlake.generate.randomness import pick_top, stream, weighted_choice
from govlake.generate.vocab import ROADS, TOWNS, VILLAGES

NAT = np.datetime64("NaT", "D")
SEX_RATIO = 105.07
#: Census 2020 age bands (0–14, 15–59, 60+) and their shares.
AGE_BANDS = ((0, 14, 0.1795), (15, 59, 0.6335), (60, 100, 0.1870))
MIGRANT_SHARE = 0.17
MIGRANT_WITHIN_PROVINCE = 0.6
#: Destinations of inter-province migrants, with weights (the rest by population).
MIGRANT_DESTINATIONS = {"44": 0.22, "33": 0.13, "32": 0.11, "31": 0.09, "11": 0.07, "35": 0.04, "12": 0.03}
DEATH_SHARE = 0.02
DEATH_WINDOW_YEARS = 3
#: Ethnicity shares (GB/T 3304 code → share) for provinces with large minorities; the
#: rest use DEFAULT_ETHNICITY. Rough figures from the 2020 census provincial bulletins.
PROVINCE_ETHNICITY: dict[str, dict[str, float]] = {
    "65": {"05": 0.45, "01": 0.42, "17": 0.065, "03": 0.045, "29": 0.008, "02": 0.007, "38": 0.005},
    "54": {"04": 0.86, "01": 0.12, "03": 0.01, "54": 0.005, "55": 0.005},
    "45": {"01": 0.62, "08": 0.32, "13": 0.03, "06": 0.012, "12": 0.008, "49": 0.01},
    "64": {"01": 0.64, "03": 0.35, "11": 0.01},
    "15": {"01": 0.79, "02": 0.17, "11": 0.02, "03": 0.01, "31": 0.01},
    "52": {"01": 0.62, "06": 0.11, "09": 0.07, "15": 0.04, "12": 0.04, "07": 0.02, "25": 0.02, "37": 0.08},
    "53": {"01": 0.66, "07": 0.11, "16": 0.04, "14": 0.04, "18": 0.03, "08": 0.03, "06": 0.03,
           "20": 0.03, "24": 0.02, "21": 0.01},
    "63": {"01": 0.50, "04": 0.25, "03": 0.15, "30": 0.04, "35": 0.02, "02": 0.04},
    "43": {"01": 0.89, "15": 0.04, "06": 0.03, "12": 0.02, "13": 0.02},
    "22": {"01": 0.92, "10": 0.04, "11": 0.03, "02": 0.01},
    "21": {"01": 0.84, "11": 0.125, "02": 0.015, "03": 0.01, "10": 0.01},
    "13": {"01": 0.96, "11": 0.03, "03": 0.008, "02": 0.002},
    "46": {"01": 0.84, "19": 0.15, "06": 0.01},
    "51": {"01": 0.94, "07": 0.03, "04": 0.02, "33": 0.01},
    "42": {"01": 0.955, "15": 0.04, "06": 0.005},
    "50": {"01": 0.93, "15": 0.05, "06": 0.02},
    "62": {"01": 0.90, "03": 0.05, "04": 0.02, "26": 0.02, "48": 0.01},
    "35": {"01": 0.98, "22": 0.01, "03": 0.01},
}
DEFAULT_ETHNICITY = {"01": 0.975, "03": 0.012, "11": 0.007, "02": 0.003, "15": 0.003}
#: Probability of ever having married, by sex and age (lower bound of the age group).
EVER_MARRIED = {
    1: ((22, 0.15), (25, 0.45), (30, 0.76), (35, 0.88), (40, 0.93)),
    2: ((20, 0.20), (25, 0.62), (30, 0.86), (35, 0.93), (40, 0.96)),
}
MOBILE_PREFIXES = (130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156,
                   157, 158, 159, 166, 173, 175, 176, 177, 178, 180, 181, 182, 183, 185, 186, 187,
                   188, 189, 191, 198, 199)

# Marital status codes (GB/T 2261.2) and person status codes (person_status.csv).
SINGLE, MARRIED, WIDOWED, DIVORCED = 10, 20, 30, 40
NORMAL, DEAD, EMIGRATED = 1, 2, 3


@dataclass
class Couples:
    """Registered marriages: one entry per couple, partners as person indices."""

    husband: np.ndarray
    wife: np.ndarray
    married: np.ndarray  # datetime64[D]
    divorced: np.ndarray  # datetime64[D], NaT if still married
    registry_county: np.ndarray  # county index where they registered

    def __len__(self) -> int:
        return len(self.husband)


@dataclass
class Population:
    """Every person, as parallel arrays indexed by person number (0 … n-1)."""

    counties: Counties
    resident_id: np.ndarray  # 18-character text
    name: np.ndarray
    surname: np.ndarray  # Han surname, or the first character of a minority name
    sex: np.ndarray  # int8: 1 male, 2 female
    birth: np.ndarray  # datetime64[D]
    ethnicity: np.ndarray  # 2-digit code text
    hukou_county: np.ndarray  # index into counties
    residence_county: np.ndarray
    hukou_address: np.ndarray
    marital: np.ndarray  # int16 marital status code
    spouse: np.ndarray  # person index or -1
    death: np.ndarray  # datetime64[D], NaT if alive
    status: np.ndarray  # int8 person status in hukou (1 normal, 2 dead, 3 emigrated)
    deregistered: np.ndarray  # datetime64[D], NaT if not deregistered
    phone: np.ndarray
    mother: np.ndarray  # person index or -1 (set for children born in the last three years)
    father: np.ndarray
    updated: np.ndarray  # datetime64[D]: last change of the hukou record
    couples: Couples

    def __len__(self) -> int:
        return len(self.resident_id)

    @property
    def alive(self) -> np.ndarray:
        return np.isnat(self.death)

    @property
    def age(self) -> np.ndarray:
        return age_on(self.birth)

    def division(self, county: np.ndarray) -> np.ndarray:
        """County indices as 6-digit division codes."""
        return self.counties.code[county]


def _age_weights() -> np.ndarray:
    """Probability of each single year of age 0–100 at the reference date."""
    ages = np.arange(101)
    shape = np.ones(101)
    shape[ages <= 2] = 0.6  # recent birth cohorts are smaller
    shape[(ages >= 3) & (ages <= 5)] = 0.8
    shape[(ages >= 15) & (ages <= 24)] = 0.85
    shape[(ages >= 50) & (ages <= 59)] = 1.15
    shape[ages >= 60] = np.exp(-(ages[ages >= 60] - 60) / 11.0)
    weights = np.zeros(101)
    for low, high, share in AGE_BANDS:
        band = (ages >= low) & (ages <= high)
        weights[band] = shape[band] / shape[band].sum() * share
    return weights


def _choose_counties(rng: np.random.Generator, places: Counties, n: int) -> np.ndarray:
    province = rng.choice(len(places.province_codes), size=n, p=places.province_share)
    county = np.zeros(n, dtype=np.int64)
    for p, code in enumerate(places.province_codes):
        members = np.flatnonzero(province == p)
        options = places.in_province(code)
        county[members] = options[rng.integers(0, len(options), len(members))]
    return county


def _ethnicities(rng: np.random.Generator, places: Counties, county: np.ndarray) -> np.ndarray:
    out = np.empty(len(county), dtype=object)
    province = places.province_index[county]
    for index in np.unique(province):
        members = np.flatnonzero(province == index)
        table = PROVINCE_ETHNICITY.get(str(places.province_codes[index]), DEFAULT_ETHNICITY)
        options = np.array(list(table), dtype=object)
        out[members] = options[weighted_choice(rng, len(options), list(table.values()), len(members))]
    return out


def _name_styles(ethnicity: np.ndarray) -> np.ndarray:
    style = np.full(len(ethnicity), name_lists.STYLE_HAN, dtype=np.int8)
    style[np.isin(ethnicity, name_lists.TURKIC_ETHNICITIES)] = name_lists.STYLE_TURKIC
    style[np.isin(ethnicity, name_lists.TIBETAN_ETHNICITIES)] = name_lists.STYLE_TIBETAN
    return style


def _residences(rng: np.random.Generator, places: Counties, hukou: np.ndarray) -> np.ndarray:
    n = len(hukou)
    residence = hukou.copy()
    migrant = np.flatnonzero(rng.random(n) < MIGRANT_SHARE)
    within = rng.random(len(migrant)) < MIGRANT_WITHIN_PROVINCE
    # within the province: another county of the same province
    local = migrant[within]
    local_province = places.province_index[hukou[local]]
    for index in np.unique(local_province):
        movers = local[local_province == index]
        options = places.in_province(str(places.province_codes[index]))
        residence[movers] = options[rng.integers(0, len(options), len(movers))]
    # across provinces: the big destinations, else by population
    movers = migrant[~within]
    weights = places.province_share.copy() * 0.3
    for code, share in MIGRANT_DESTINATIONS.items():
        weights[np.flatnonzero(places.province_codes == code)] += share
    target = weighted_choice(rng, len(weights), weights, len(movers))
    for index in np.unique(target):
        group = movers[target == index]
        options = places.in_province(str(places.province_codes[index]))
        residence[group] = options[rng.integers(0, len(options), len(group))]
    return residence


def _deaths(rng: np.random.Generator, birth: np.ndarray, age: np.ndarray) -> np.ndarray:
    n = len(birth)
    weights = np.exp(0.095 * (age - 80.0)) + 0.0005
    chosen = pick_top(rng, weights, round(DEATH_SHARE * n))
    death = np.full(n, NAT)
    window_start = add_years(np.array([AS_OF_DAY]), -DEATH_WINDOW_YEARS)[0] + 1
    start = np.maximum(birth[chosen] + 1, window_start)
    death[chosen] = random_between(rng, start, np.full(len(chosen), AS_OF_DAY))
    return death


def _ever_married(rng: np.random.Generator, sex: np.ndarray, age: np.ndarray) -> np.ndarray:
    p = np.zeros(len(sex))
    for code, steps in EVER_MARRIED.items():
        for low, share in steps:
            p[(sex == code) & (age >= low)] = share
    return rng.random(len(sex)) < p


def _couples(rng: np.random.Generator, sex: np.ndarray, birth: np.ndarray, age: np.ndarray,
             death: np.ndarray, hukou: np.ndarray) -> tuple[Couples, np.ndarray, np.ndarray]:
    """Pair people into couples; return the couples, marital status and spouse index."""
    n = len(sex)
    marital = np.full(n, SINGLE, dtype=np.int16)
    spouse = np.full(n, -1, dtype=np.int64)
    ever = _ever_married(rng, sex, age)
    # older people whose spouse died long before the data begins
    widow_p = np.where(sex == 2, np.where(age >= 75, 0.45, 0.25), np.where(age >= 75, 0.2, 0.08))
    long_widowed = ever & (age >= 60) & (rng.random(n) < widow_p)
    marital[long_widowed] = WIDOWED
    men = np.flatnonzero(ever & ~long_widowed & (sex == 1))
    women = np.flatnonzero(ever & ~long_widowed & (sex == 2))
    size = min(len(men), len(women))
    men = np.sort(rng.choice(men, size=size, replace=False)) if len(men) > size else men
    women = np.sort(rng.choice(women, size=size, replace=False)) if len(women) > size else women
    # husbands are about two and a half years older: line up birth dates shifted by that
    men_key = birth[men].astype(np.int64) + 900 + rng.normal(0, 700, size).astype(np.int64)
    women_key = birth[women].astype(np.int64) + rng.normal(0, 300, size).astype(np.int64)
    husband = men[np.argsort(men_key, kind="stable")]
    wife = women[np.argsort(women_key, kind="stable")]
    start = np.maximum(add_years(birth[husband], 22), add_years(birth[wife], 20))
    end = np.fmin(np.fmin(death[husband], death[wife]), AS_OF_DAY)
    delay = (rng.gamma(2.0, 1.6, size) * 365.2425).astype(np.int64)
    married = start + delay
    late = married > end
    married[late] = random_between(rng, start[late], end[late])
    keep = married <= end
    husband, wife, married, end = husband[keep], wife[keep], married[keep], end[keep]
    divorce_p = np.where(years(married) >= 1985, 0.07, 0.03)
    divorced = np.full(len(husband), NAT)
    may_divorce = (rng.random(len(husband)) < divorce_p) & (married + 366 < end)
    divorced[may_divorce] = random_between(rng, married[may_divorce] + 366, end[may_divorce])
    registry = np.where(rng.random(len(husband)) < 0.5, hukou[husband], hukou[wife])
    spouse[husband], spouse[wife] = wife, husband
    is_divorced = ~np.isnat(divorced)
    marital[husband] = np.where(is_divorced, DIVORCED, MARRIED)
    marital[wife] = np.where(is_divorced, DIVORCED, MARRIED)
    # the survivor of a couple is widowed; the one who died stays married in the records
    widower = ~is_divorced & ~np.isnat(death[wife]) & np.isnat(death[husband])
    widow = ~is_divorced & ~np.isnat(death[husband]) & np.isnat(death[wife])
    marital[husband[widower]] = WIDOWED
    marital[wife[widow]] = WIDOWED
    leftovers = ever & ~long_widowed & (spouse < 0)
    marital[leftovers] = np.where(age[leftovers] >= 60, WIDOWED, SINGLE)
    return Couples(husband, wife, married, divorced, registry), marital, spouse


def _parents(rng: np.random.Generator, couples: Couples, birth: np.ndarray,
             death: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mother and father (person indices) of each child born in the last three years."""
    n = len(birth)
    mother = np.full(n, -1, dtype=np.int64)
    father = np.full(n, -1, dtype=np.int64)
    newborn = np.flatnonzero(birth > add_years(np.array([AS_OF_DAY]), -DEATH_WINDOW_YEARS)[0])
    wife_age = age_on(birth[couples.wife])
    eligible = np.flatnonzero(
        np.isnat(couples.divorced) & np.isnat(death[couples.wife]) & np.isnat(death[couples.husband])
        & (wife_age >= 23) & (wife_age <= 47)
    )
    if len(eligible) == 0 or len(newborn) == 0:
        return newborn, mother, father
    chosen = eligible[rng.integers(0, len(eligible), len(newborn))]
    mother[newborn] = couples.wife[chosen]
    father[newborn] = couples.husband[chosen]
    return newborn, mother, father


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = np.array(MOBILE_PREFIXES, dtype=np.int64)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    number = prefix * 10**8 + rng.integers(0, 10**8, n)
    return number.astype(str).astype(object)


def _addresses(rng: np.random.Generator, places: Counties, county: np.ndarray) -> np.ndarray:
    """Street addresses (70 %) or village addresses, under the county's full name."""
    import polars as pl

    n = len(county)
    prefecture = np.where(places.prefecture == np.char.add(places.province.astype(str), "0000"), "",
                          places.prefecture_name)
    heads = pl.Series((places.province_name + prefecture + places.name).tolist(), dtype=pl.String)

    def words(options: tuple[str, ...]) -> pl.Series:
        return pl.Series(options, dtype=pl.String).gather(rng.integers(0, len(options), n))

    frame = pl.DataFrame({
        "head": heads.gather(county), "road": words(ROADS), "town": words(TOWNS), "village": words(VILLAGES),
        "number": pl.Series(rng.integers(1, 400, n)).cast(pl.String),
        "group": pl.Series(rng.integers(1, 12, n)).cast(pl.String),
        "urban": pl.Series(rng.random(n) < 0.7),
    })
    address = frame.select(
        pl.when(pl.col("urban"))
        .then(pl.concat_str(["head", "road", "number", pl.lit("号")]))
        .otherwise(pl.concat_str(["head", "town", pl.lit("镇"), "village", pl.lit("村"), "group", pl.lit("组"),
                                  "number", pl.lit("号")]))
    ).to_series()
    return address.to_numpy()


def _unique_ids(rng: np.random.Generator, address: np.ndarray, birth: np.ndarray,
                male: np.ndarray) -> np.ndarray:
    """Resident IDs with sequences redrawn until every number is unique."""
    y, m, d = ymd(birth)
    yyyymmdd = y * 10_000 + m * 100 + d
    base = address * 10**11 + yyyymmdd * 1000
    sequence = np.where(male, 2 * rng.integers(0, 500, len(male)) + 1, 2 * rng.integers(1, 500, len(male)))
    while True:
        body = base + sequence
        order = np.argsort(body, kind="stable")
        clash = np.zeros(len(body), dtype=bool)
        clash[order[1:]] = body[order[1:]] == body[order[:-1]]
        if not clash.any():
            break
        redo = np.flatnonzero(clash)
        sequence[redo] = np.where(male[redo], 2 * rng.integers(0, 500, len(redo)) + 1,
                                  2 * rng.integers(1, 500, len(redo)))
    return resident_ids(address, yyyymmdd, sequence).astype(object)


def people(seed: int, persons: int) -> Population:
    """Draw ``persons`` people for ``seed``."""
    places = counties()
    n = persons
    hukou = _choose_counties(stream(seed, "people.county"), places, n)
    rng = stream(seed, "people.demographics")
    male = rng.random(n) < SEX_RATIO / (100 + SEX_RATIO)
    sex = np.where(male, 1, 2).astype(np.int8)
    age = rng.choice(101, size=n, p=_age_weights())
    upper = add_years(np.full(n, AS_OF_DAY), -age)
    lower = add_years(np.full(n, AS_OF_DAY), -age - 1) + 1
    birth = random_between(rng, lower, upper)
    ethnicity = _ethnicities(stream(seed, "people.ethnicity"), places, hukou)
    residence = _residences(stream(seed, "people.migration"), places, hukou)
    death = _deaths(stream(seed, "people.deaths"), birth, age)
    couples, marital, spouse = _couples(stream(seed, "people.couples"), sex, birth, age, death, hukou)
    newborn, mother, father = _parents(stream(seed, "people.parents"), couples, birth, death)

    # children follow their parents: hukou with the father (usually), home with the mother
    rng = stream(seed, "people.children")
    has_parents = newborn[father[newborn] >= 0]
    with_father = rng.random(len(has_parents)) < 0.8
    dad, mum = father[has_parents], mother[has_parents]
    hukou[has_parents] = np.where(with_father, hukou[dad], hukou[mum])
    residence[has_parents] = residence[mum]
    ethnicity[has_parents] = np.where(rng.random(len(has_parents)) < 0.7, ethnicity[dad], ethnicity[mum])
    style = _name_styles(ethnicity)

    rng = stream(seed, "people.names")
    surnames, surname_p = name_lists.surname_table()
    surname = surnames[rng.choice(len(surnames), size=n, p=surname_p)]
    given = name_lists.given_names(rng, male)
    minority = name_lists.minority_names(rng, style, male)
    takes_father = rng.random(len(has_parents)) < 0.92
    surname[has_parents] = np.where(takes_father, surname[dad], surname[mum])
    name = np.where(style == name_lists.STYLE_HAN, surname + given, minority)
    # a Turkic child's second name is the father's own name
    turkic_child = has_parents[(style[has_parents] == name_lists.STYLE_TURKIC)
                               & (style[father[has_parents]] == name_lists.STYLE_TURKIC)]
    for child in turkic_child:
        name[child] = name[child].split("·")[0] + "·" + name[father[child]].split("·")[0]
    surname = np.where(style == name_lists.STYLE_HAN, surname, np.array([s[0] for s in name], dtype=object))

    table = id_address_table(list(places.code), list(places.name))
    address_code = table[hukou, years(birth) - FIRST_YEAR]
    resident_id = _unique_ids(stream(seed, "people.ids"), address_code, birth, male)

    rng = stream(seed, "people.status")
    status = np.full(n, NORMAL, dtype=np.int8)
    deregistered = np.full(n, NAT)
    dead = np.flatnonzero(~np.isnat(death))
    reported = death[dead] + rng.integers(3, 60, len(dead))
    on_file = (reported <= AS_OF_DAY) & (rng.random(len(dead)) < 0.92)
    status[dead[on_file]] = DEAD
    deregistered[dead[on_file]] = reported[on_file]
    candidates = np.flatnonzero(np.isnat(death) & (age >= 25) & (spouse < 0))
    emigrants = candidates[rng.random(len(candidates)) < 0.001]
    status[emigrants] = EMIGRATED
    window_start = add_years(np.array([AS_OF_DAY]), -DEATH_WINDOW_YEARS)[0]
    deregistered[emigrants] = random_between(rng, np.full(len(emigrants), window_start),
                                             np.full(len(emigrants), AS_OF_DAY))

    phone = _phones(stream(seed, "people.phones"), n)
    phone[has_parents] = phone[mum]
    hukou_address = _addresses(stream(seed, "people.addresses"), places, hukou)

    rng = stream(seed, "people.updated")
    touched = random_between(rng, np.maximum(birth, add_years(np.full(n, AS_OF_DAY), -5)),
                             np.full(n, AS_OF_DAY))
    updated = np.fmax(touched, deregistered)
    last_marriage = np.full(n, NAT)
    for partner in (couples.husband, couples.wife):
        last_marriage[partner] = np.fmax(couples.married, couples.divorced)
    updated = np.fmax(updated, last_marriage)
    updated = np.fmin(updated, AS_OF_DAY)

    return Population(
        counties=places, resident_id=resident_id, name=name, surname=surname, sex=sex, birth=birth,
        ethnicity=ethnicity, hukou_county=hukou, residence_county=residence, hukou_address=hukou_address,
        marital=marital, spouse=spouse, death=death, status=status, deregistered=deregistered,
        phone=phone, mother=mother, father=father, updated=updated, couples=couples,
    )
