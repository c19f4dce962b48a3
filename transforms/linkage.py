"""Person linkage: attach other departments' records to persons of the household register.

The population base library has one row per person, keyed by resident ID, from the
household register (the *reference*). Death certificates, marriage registrations, social
insurance enrolments and legal representatives name persons too (the *records*). A record
whose resident ID is valid and present in the reference links **exactly**. Every other record
(ID missing, mistyped, or valid but unknown) is linked **probabilistically** with a
Fellegi–Sunter model on name, birth date, sex, division and what is left of the ID.

How, in five steps (docs/linkage.md argues each choice and reports the measured quality):

1. **Blocking.** Candidate pairs are the union of :data:`BLOCKING_RULES`: equi-joins of the
   records against the reference on a few keys each (surname + birth date, name + birth year,
   county + birth date, ..., three fragments of a mistyped ID). Together they catch the pairs
   that could reach the threshold, about six candidates per record out of a million persons.
2. **Comparison.** Each pair gets one level per :data:`COMPARISONS` entry (name exact / one
   character apart / same surname / else, and so on); a missing value gives no level and so
   no evidence either way. A mistyped ID is read for what it still says: its county, birth
   date and sex are a second reading of the record's own, and its sequence number is compared
   on its own, so no information is counted twice.
3. **Estimation.** m-probabilities (how often a level occurs for the same person) are counted
   on the *exactly linked* records: labelled true pairs that went through the same
   department's data entry as the rest. u-probabilities (how often for different persons) are
   counted on seeded random pairs of an exactly linked record and another person, and on
   name, birth date and county they follow the record's own value's frequency in the
   reference (term-frequency adjustment: sharing the name 王伟 is weak evidence, sharing a
   rare name is strong). The ID sequence cannot be learned from exact links (their IDs agree
   by construction); its m-probabilities come from the records that link surely without it.
4. **Scoring.** A pair's weight is Σ log2(m/u). A record matches at most one person, so the
   probability of a candidate is normalized over all of the record's candidates: two homonyms
   that fit equally well each get at most 0.5 and neither is linked. The share of records that
   have a match at all is estimated by EM.
5. **Resolution.** Each record takes its best candidate when that probability reaches
   ``threshold``. Several records may link to the same person (a person has several insurance
   enrolments and may marry more than once).

Everything is deterministic: the random pairs come from a fixed seed and ties are broken by
resident ID.

>>> import datetime as dt
>>> reference = pl.DataFrame({
...     "resident_id": ["330106199003071236"], "name": ["张伟"], "birth_date": [dt.date(1990, 3, 7)],
...     "sex": ["1"], "hukou_division": ["330106"], "residence_division": ["330106"]})
>>> records = pl.DataFrame({
...     "record_id": ["d1"], "resident_id": ["330106199003071236"], "resident_id_valid": [True],
...     "name": ["张伟"], "birth_date": [dt.date(1990, 3, 7)], "sex": ["1"], "division": ["330106"]})
>>> link_persons(reference, records).select("record_id", "resident_id", "method").row(0)
('d1', '330106199003071236', 'exact')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from govlake.errors import ContractError

__all__ = [
    "BLOCKING_RULES",
    "COMPARISONS",
    "DEFAULT_THRESHOLD",
    "BlockingRule",
    "Comparison",
    "LinkageModel",
    "link_persons",
    "linkage_quality",
]

#: Link a record when its best candidate's probability reaches this. Chosen for precision:
#: see the threshold table in docs/linkage.md.
DEFAULT_THRESHOLD = 0.9
#: Seed of the random pairs the u-probabilities are counted on.
SEED = 20_240_101
#: Random record–person pairs drawn to estimate u-probabilities.
RANDOM_PAIRS = 200_000
#: At most this many exactly linked records train the m-probabilities (a systematic sample).
TRAINING_PAIRS = 100_000
#: Weight of the prior m-probabilities, in pseudo-pairs: they matter only when few records
#: link exactly (a small department, or a test).
PRIOR_PAIRS = 20.0
#: Floor of every m-probability, so a level never seen among true pairs (a sex mismatch in a
#: clean department) costs at most log2(MIN_M / u) bits instead of ruling a pair out.
MIN_M = 1e-4
#: Pass-1 probability above which a record counts as a sure link when learning the ID
#: comparison's m-probabilities.
SURE_LINK = 0.999
#: Common prefix and suffix of two names are counted up to this many characters each, so
#: the one-edit level sees names of up to 25 characters (transliterated names included).
MAX_NAME_CHARS = 12

REFERENCE_COLUMNS = ("resident_id", "name", "birth_date", "sex", "hukou_division", "residence_division")
RECORD_COLUMNS = ("record_id", "resident_id", "resident_id_valid", "name", "birth_date", "sex", "division")
RESULT_SCHEMA = pl.Schema({
    "record_id": pl.String,
    "resident_id": pl.String,
    "method": pl.String,
    "match_weight": pl.Float64,
    "match_probability": pl.Float64,
    "candidates_considered": pl.Int64,
})


# --- derived tables --------------------------------------------------------------------------
#
# Both sides are reduced once to integer columns: hashes of names, days and YYYYMMDD numbers
# of dates, division codes and the 17-digit ID body as numbers. Joins and comparisons on
# integers are several times faster than on text, and the reference side is a million rows.


def _hashed(text: pl.Expr) -> pl.Expr:
    """A 64-bit hash of a text, NULL for NULL.

    Used as a join key and for equality. A collision (odds about 2^-64 per pair) could only
    add a candidate or call two names equal; both sides are hashed in the same process.
    """
    return pl.when(text.is_not_null()).then(text.hash(seed=0))


def _division_number(code: pl.Expr) -> pl.Expr:
    """A 6-digit GB/T 2260 code as an integer (county = n, city = n // 100, province = n // 10000)."""
    return pl.when(code.str.len_chars() == 6).then(code.str.to_integer(strict=False, dtype=pl.Int32))


def _masked(frame: pl.DataFrame, missing: np.ndarray) -> pl.DataFrame:
    """``frame`` with every column NULL where ``missing``."""
    if not missing.any():
        return frame
    keep = pl.lit(pl.Series(~missing))
    return frame.select(pl.when(keep).then(pl.col(c)).alias(c) for c in frame.columns)


def _date_numbers(dates: pl.Series) -> pl.DataFrame:
    """``birth_day`` (days since 1970), ``birth_year``, ``birth_month_day`` (MMDD), ``ymd`` (YYYYMMDD).

    The civil calendar from day numbers with integer arithmetic (H. Hinnant's
    ``civil_from_days``) in numpy: ten times faster than Polars' ``dt.year/month/day`` or
    numpy's ``datetime64`` unit casts on a million dates.
    """
    days = dates.cast(pl.Date).cast(pl.Int32)
    day_number = days.fill_null(0).to_numpy().astype(np.int64)
    shifted = day_number + 719_468
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = np.where(month_index < 10, month_index + 3, month_index - 9)
    year = year_of_era + era * 400 + (month <= 2)
    frame = pl.DataFrame({
        "birth_day": day_number.astype(np.int32),
        "birth_year": year.astype(np.int32),
        "birth_month_day": (month * 100 + day).astype(np.int32),
        "ymd": (year * 10_000 + month * 100 + day).astype(np.int32),
    })
    return _masked(frame, days.is_null().to_numpy())


def _id_numbers(bodies: pl.Series) -> pl.DataFrame:
    """The 17-digit ID body as a number, and three overlapping fragments of it for blocking.

    A one-character slip leaves one fragment intact: address+date (digits 1–14), date+sequence
    (7–17) or address+sequence (1–6 and 15–17).
    """
    body = bodies.fill_null(0).to_numpy().astype(np.int64)
    frame = pl.DataFrame({
        "id_body": body,
        "id_address_date": body // 1_000,
        "id_date_sequence": body % 10**11,
        "id_address_sequence": (body // 10**11) * 1_000 + body % 1_000,
        "id_sequence": body % 1_000,
    })
    return _masked(frame, bodies.is_null().to_numpy())


def _person_table(persons: pl.DataFrame) -> pl.DataFrame:
    """The reference reduced to what blocking and comparison read, one row per ``person_index``."""
    base = persons.select(
        pl.col("name"),
        _hashed(pl.col("name")).alias("name_key"),
        _hashed(pl.col("name").str.head(1)).alias("surname_key"),
        pl.col("sex"),
        _division_number(pl.col("hukou_division")).alias("hukou"),
        _division_number(pl.col("residence_division")).alias("residence"),
    )
    body = persons.select(pl.col("resident_id").str.head(17).str.to_integer(strict=False, dtype=pl.Int64))
    return pl.concat(
        [base, _date_numbers(persons["birth_date"]), _id_numbers(body.to_series())], how="horizontal"
    ).with_row_index("person_index")


def _record_table(records: pl.DataFrame, *, to_link: bool) -> pl.DataFrame:
    """Records reduced to what comparison (and for records ``to_link``, blocking) reads.

    A mistyped ID still says where and when the person was born and their sex: digits 1–6,
    7–14 and the parity of digit 17. For records to link these are a second reading
    (``id_ymd``, ``id_division``) next to the record's own birth date and place, and fill in a
    missing sex; a comparison takes the better of the two readings. The ID itself is then
    compared only on its sequence number (digits 15–17), so nothing in it is counted twice:
    comparing the whole ID *and* the date and county would count them twice, and two
    different persons of one county born on one day have IDs only a sequence number apart.
    Only 18-character IDs are read: a dropped or extra digit shifts every position after it.

    Training records (exactly linked) keep their own fields only, so the m-probabilities
    describe what the department itself writes.
    """
    text_id = pl.when(pl.col("resident_id").str.len_chars() == 18).then(pl.col("resident_id"))
    parity = text_id.str.slice(16, 1)
    id_sex = (
        pl.when(parity.str.contains("^[13579]$")).then(pl.lit("1"))
        .when(parity.str.contains("^[02468]$")).then(pl.lit("2"))
    )
    division = _division_number(pl.col("division"))
    base = records.select(
        pl.col("name"),
        _hashed(pl.col("name")).alias("name_key"),
        _hashed(pl.col("name").str.head(1)).alias("surname_key"),
        (pl.coalesce(pl.col("sex"), id_sex) if to_link else pl.col("sex")).alias("sex"),
        division.alias("division"),
    )
    body = text_id.str.head(17).str.to_integer(strict=False, dtype=pl.Int64)
    ids = _id_numbers(records.select(body).to_series())
    own_dates = _date_numbers(records["birth_date"])
    if not to_link:
        return pl.concat([base, own_dates.select("ymd"), ids.select("id_sequence")], how="horizontal")
    id_date = text_id.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    id_dates = _date_numbers(records.select(id_date).to_series())
    id_division = records.select(_division_number(text_id.str.head(6)).alias("id_division"))
    # Blocking reads the record's own date and place, else the ID's.
    block_date = records.select(pl.coalesce(pl.col("birth_date"), id_date)).to_series()
    block_dates = _date_numbers(block_date).drop("ymd")
    place = pl.coalesce(pl.col("division"), pl.col("id_division"))
    places = pl.concat([base.select("division"), id_division], how="horizontal").select(
        pl.when(place % 100 != 0).then(place).alias("county"),
        (place // 10_000).alias("province"),
    )
    return pl.concat([
        base, own_dates.select("ymd"), id_dates.select(pl.col("ymd").alias("id_ymd")), id_division,
        ids, places, block_dates,
    ], how="horizontal")


# --- blocking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockingRule:
    """Candidate pairs: a record and a person that agree on every key.

    Keys are columns of both :func:`_record_table` and :func:`_person_table`. With
    ``by_place``, ``county`` and ``province`` on the person side are those of the hukou and,
    in a second join, of the residence, so the record's place may match either.
    """

    name: str
    keys: tuple[str, ...]
    by_place: bool = False


#: The union of these blocks is the candidate set. Each catches a kind of error the others
#: miss; a pair no block catches could not reach the threshold anyway (docs/linkage.md).
BLOCKING_RULES: tuple[BlockingRule, ...] = (
    # name variant, place elsewhere
    BlockingRule("surname_birth_date", ("surname_key", "birth_day")),
    # birth date typo or swap, place elsewhere
    BlockingRule("name_birth_year", ("name_key", "birth_year")),
    # birth date missing or far off
    BlockingRule("name_province", ("name_key", "province"), by_place=True),
    # surname variant
    BlockingRule("county_birth_date", ("county", "birth_day"), by_place=True),
    # name variant and a typo in the birth year
    BlockingRule("county_birth_month_day", ("county", "birth_month_day"), by_place=True),
    # name variant and a typo in the birth month or day
    BlockingRule("county_birth_year_surname", ("county", "birth_year", "surname_key"), by_place=True),
    # a mistyped ID: one wrong character leaves one of these intact
    BlockingRule("id_address_date", ("id_address_date",)),
    BlockingRule("id_date_sequence", ("id_date_sequence",)),
    BlockingRule("id_address_sequence", ("id_address_sequence",)),
)


def _person_sides(persons: pl.LazyFrame, rule: BlockingRule) -> list[pl.LazyFrame]:
    """The person side(s) of a blocking rule: one frame, or one per kind of division."""
    if not rule.by_place:
        return [persons.select("person_index", *rule.keys)]
    others = [k for k in rule.keys if k not in ("county", "province")]
    sides = []
    # A person living in the hukou county is joined once.
    second_place = pl.col("hukou").ne_missing(pl.col("residence"))
    for division, keep in (("hukou", pl.lit(True)), ("residence", second_place)):
        place = pl.col(division)
        sides.append(persons.filter(keep).select(
            "person_index", *others, place.alias("county"), (place // 10_000).alias("province")
        ).select("person_index", *rule.keys))
    return sides


def _candidates(records: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    """Distinct (record_index, person_index) pairs caught by at least one blocking rule, sorted."""
    blocks = []
    person_lazy = persons.lazy()
    for rule in BLOCKING_RULES:
        keys = list(rule.keys)
        left = records.lazy().select("record_index", *keys).drop_nulls()
        for right in _person_sides(person_lazy, rule):
            blocks.append(left.join(right, on=keys, how="inner").select("record_index", "person_index"))
    return pl.concat(blocks).unique().sort("record_index", "person_index").collect()


# --- comparisons -----------------------------------------------------------------------------


def _digit_matrix(values: np.ndarray, digits: int) -> np.ndarray:
    """The lowest ``digits`` decimal digits of each int64, most significant first (n × digits)."""
    powers = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers[None, :]) % 10


def _digits_differing(left: np.ndarray, right: np.ndarray, digits: int) -> np.ndarray:
    """How many of the lowest ``digits`` decimal digits of two int64 arrays differ."""
    return (_digit_matrix(left, digits) != _digit_matrix(right, digits)).sum(axis=1).astype(np.int8)


def _slips(left: np.ndarray, right: np.ndarray, digits: int) -> np.ndarray:
    """Slips between two ``digits``-digit numbers: differing digits, a swap of neighbours counting 1."""
    left_digits, right_digits = _digit_matrix(left, digits), _digit_matrix(right, digits)
    differing = left_digits != right_digits
    distance = differing.sum(axis=1)
    swapped = (
        differing[:, :-1] & differing[:, 1:]
        & (left_digits[:, :-1] == right_digits[:, 1:]) & (left_digits[:, 1:] == right_digits[:, :-1])
    ).any(axis=1)
    return np.where((distance == 2) & swapped, 1, distance).astype(np.int8)


def _one_edit_apart(left: pl.Series, right: pl.Series) -> pl.Series:
    """Levenshtein distance ≤ 1 in characters (one character substituted, added or dropped).

    True when the lengths differ by at most one and the common prefix and suffix together
    cover all but one character of the longer name. Prefix and suffix are counted up to
    :data:`MAX_NAME_CHARS` characters each. DuckDB's ``levenshtein`` and
    ``jaro_winkler_similarity`` count UTF-8 bytes (王伟 and 王玮 are 3 apart), and
    Jaro–Winkler scores a one-character slip in a two-character name 0.7, so neither
    separates a clerk's homophone from a different person.
    """
    frame = pl.DataFrame({"a": left, "b": right})
    a, b = pl.col("a"), pl.col("b")
    observed = frame.select(pl.max_horizontal(a.str.len_chars(), b.str.len_chars()).max()).item()
    longest = min(MAX_NAME_CHARS, max(int(observed or 1), 1))

    def common(cut: Callable[[pl.Expr, int], pl.Expr]) -> pl.Expr:
        return pl.sum_horizontal([
            ((cut(a, k) == cut(b, k)) & (a.str.len_chars() >= k) & (b.str.len_chars() >= k)).cast(pl.Int8)
            for k in range(1, longest + 1)
        ])

    return frame.select(
        ((a.str.len_chars().cast(pl.Int32) - b.str.len_chars().cast(pl.Int32)).abs() <= 1)
        & (common(lambda s, k: s.str.head(k)) + common(lambda s, k: s.str.tail(k))
           >= pl.max_horizontal(a.str.len_chars(), b.str.len_chars()) - 1)
    ).to_series().fill_null(False)


#: Record columns (``l_*``) and person columns (``r_*``) a pair frame carries.
_RECORD_FIELDS = (
    "name", "name_key", "surname_key", "ymd", "id_ymd", "sex", "division", "id_division", "id_sequence",
)
_PERSON_FIELDS = ("name", "name_key", "surname_key", "ymd", "sex", "hukou", "residence", "id_sequence")


def _pair_frame(records: pl.DataFrame, persons: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Both sides of each pair side by side, plus the costly features computed once.

    ``name_one_edit`` is computed only where names differ and could be one edit apart;
    ``date_digits`` and ``id_distance`` count differing decimal digits (numpy: an order of
    magnitude faster than the same arithmetic as Polars expressions).
    """
    left = records.select(_RECORD_FIELDS)[pairs["record_index"]]
    right = persons.select(_PERSON_FIELDS)[pairs["person_index"]]
    frame = pl.concat([
        left.rename({c: f"l_{c}" for c in _RECORD_FIELDS}),
        right.rename({c: f"r_{c}" for c in _PERSON_FIELDS}),
    ], how="horizontal")
    # One edit apart implies equal lengths ±1 and, for names of two or more characters, the
    # same first or last character: a cheap filter that leaves ~6% of random pairs.
    left_len = pl.col("l_name").str.len_chars().cast(pl.Int32)
    right_len = pl.col("r_name").str.len_chars().cast(pl.Int32)
    maybe = frame.select(
        (pl.col("l_name_key") != pl.col("r_name_key"))
        & ((left_len - right_len).abs() <= 1)
        & (
            (pl.col("l_surname_key") == pl.col("r_surname_key"))
            | (pl.col("l_name").str.tail(1) == pl.col("r_name").str.tail(1))
            | (pl.max_horizontal(left_len, right_len) <= 1)
        )
    ).to_series().fill_null(False)
    one_edit = np.zeros(frame.height, dtype=bool)
    if maybe.any():
        subset = frame.filter(maybe)
        one_edit[maybe.to_numpy()] = _one_edit_apart(subset["l_name"], subset["r_name"]).to_numpy()

    def digits(
        column: str, person_column: str, count: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> pl.Series:
        left_values, right_values = frame[f"l_{column}"], frame[f"r_{person_column}"]
        missing = (left_values.is_null() | right_values.is_null()).to_numpy()
        counted = pl.Series(count(
            left_values.fill_null(0).cast(pl.Int64).to_numpy(),
            right_values.fill_null(0).cast(pl.Int64).to_numpy(),
        ))
        return counted.scatter(np.flatnonzero(missing), None) if missing.any() else counted

    return frame.with_columns(
        pl.Series("name_one_edit", one_edit),
        digits("ymd", "ymd", lambda a, b: _digits_differing(a, b, 8)).alias("date_digits"),
        digits("id_ymd", "ymd", lambda a, b: _digits_differing(a, b, 8)).alias("id_date_digits"),
        digits("id_sequence", "id_sequence", lambda a, b: _slips(a, b, 3)).alias("id_distance"),
    )


def _name_level() -> pl.Expr:
    """0 same name, 1 one character apart, 2 same surname (first character), 3 else."""
    return (
        pl.when(pl.col("l_name_key").is_null() | pl.col("r_name_key").is_null()).then(None)
        .when(pl.col("l_name_key") == pl.col("r_name_key")).then(0)
        .when(pl.col("name_one_edit")).then(1)
        .when(pl.col("l_surname_key") == pl.col("r_surname_key")).then(2)
        .otherwise(3)
    )


def _date_level(left: pl.Expr, right: pl.Expr, digits: pl.Expr) -> pl.Expr:
    swapped = (
        (left // 10_000 == right // 10_000)
        & ((left // 100) % 100 == right % 100)
        & (left % 100 == (right // 100) % 100)
    )
    return (
        pl.when(left.is_null() | right.is_null()).then(None)
        .when(left == right).then(0)
        .when((digits == 1) | swapped).then(1)
        .when(left // 10_000 == right // 10_000).then(2)
        .otherwise(3)
    )


def _birth_date_level() -> pl.Expr:
    """0 same date, 1 one digit of YYYYMMDD wrong or month and day swapped, 2 same year, 3 else.

    The better of the record's own date and its ID's (:func:`_record_table`).
    """
    return pl.min_horizontal(
        _date_level(pl.col("l_ymd"), pl.col("r_ymd"), pl.col("date_digits")),
        _date_level(pl.col("l_id_ymd"), pl.col("r_ymd"), pl.col("id_date_digits")),
    )


def _sex_level() -> pl.Expr:
    """0 same sex, 1 different."""
    left, right = pl.col("l_sex"), pl.col("r_sex")
    return pl.when(left.is_null() | right.is_null()).then(None).when(left == right).then(0).otherwise(1)


def _place_level(place: pl.Expr) -> pl.Expr:
    hukou, residence = pl.col("r_hukou"), pl.col("r_residence")

    def same(divisor: int) -> pl.Expr:
        head = place // divisor
        return (head == hukou // divisor).fill_null(False) | (head == residence // divisor).fill_null(False)

    return (
        pl.when(place.is_null() | (hukou.is_null() & residence.is_null())).then(None)
        .when(same(1)).then(0)
        .when(same(100)).then(1)
        .when(same(10_000)).then(2)
        .otherwise(3)
    )


def _division_level() -> pl.Expr:
    """The record's place against the person's hukou or residence: 0 county, 1 city, 2 province, 3 else.

    The better of the record's own place and the county coded in its ID.
    """
    return pl.min_horizontal(_place_level(pl.col("l_division")), _place_level(pl.col("l_id_division")))


def _id_sequence_level() -> pl.Expr:
    """A record's ID sequence number (digits 15–17) against the person's: 0 same, 1 one slip, 2 else.

    The rest of the ID is read as a second birth date and place and fills in a missing sex
    (:func:`_record_table`). Two different persons' sequence numbers agree about once in
    1,000 pairs whatever else they share, so this evidence is independent of the others
    (apart from the sex parity of digit 17, worth one bit). No ID: no level.
    """
    distance = pl.col("id_distance")
    return (
        pl.when(distance.is_null()).then(None)
        .when(distance == 0).then(0)
        .when(distance == 1).then(1)
        .otherwise(2)
    )


@dataclass(frozen=True)
class Comparison:
    """One field compared on a pair: levels best first, how to compute them, and prior m.

    ``level`` builds an expression over a :func:`_pair_frame` giving the level index, NULL
    when a value is missing (no evidence either way). ``term_frequency`` maps an exact level
    to the column of :func:`_frequencies` holding that level's u for the record's own value.
    ``scaled_frequency`` maps a fuzzy level to a frequency its u is proportional to: a name
    one character away from 王伟 is far more common than one away from 覃伟, because the
    neighbours share the surname; u = (average u) · frequency / (average frequency).
    ``prior_m`` enters the estimate as :data:`PRIOR_PAIRS` pseudo-pairs. ``learned_from_exact``
    is False for the ID, whose m cannot be counted on pairs linked by an identical ID.
    """

    name: str
    levels: tuple[str, ...]
    level: Callable[[], pl.Expr]
    prior_m: tuple[float, ...]
    term_frequency: Mapping[int, str] = field(default_factory=dict)
    scaled_frequency: Mapping[int, str] = field(default_factory=dict)
    learned_from_exact: bool = True


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "name", ("exact", "one character apart", "same surname", "else"), _name_level,
        prior_m=(0.88, 0.09, 0.02, 0.01), term_frequency={0: "tf_name"},
        scaled_frequency={1: "tf_surname", 2: "tf_surname"},
    ),
    Comparison(
        "birth_date", ("exact", "one digit or month/day swapped", "same year", "else"), _birth_date_level,
        prior_m=(0.93, 0.05, 0.01, 0.01), term_frequency={0: "tf_birth_date"},
    ),
    Comparison("sex", ("same", "different"), _sex_level, prior_m=(0.99, 0.01)),
    Comparison(
        "division", ("same county", "same city", "same province", "else"), _division_level,
        prior_m=(0.8, 0.12, 0.05, 0.03), term_frequency={0: "tf_county"},
    ),
    Comparison(
        "id_sequence", ("same", "one slip apart", "else"), _id_sequence_level,
        prior_m=(0.8, 0.15, 0.05), learned_from_exact=False,
    ),
)


def _levels(records: pl.DataFrame, persons: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """One Int8 level column per comparison for each pair (``record_index``, ``person_index``)."""
    if pairs.is_empty():
        return pl.DataFrame(schema={c.name: pl.Int8 for c in COMPARISONS})
    frame = _pair_frame(records, persons, pairs)
    return frame.select([c.level().cast(pl.Int8).alias(c.name) for c in COMPARISONS])


# --- estimation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkageModel:
    """Estimated parameters: per comparison, m and u by level, and the share of matchable records.

    ``u`` holds averages over random pairs; a pair's u on a frequency-adjusted level is the
    record value's frequency (exact levels) or that times ``frequency_scale`` (fuzzy levels).
    ``training_pairs`` counts the exactly linked records the m-probabilities were learned on
    (0 means the priors alone); ``id_training_pairs`` the sure pass-1 links for the ID.
    """

    m: dict[str, tuple[float, ...]]
    u: dict[str, tuple[float, ...]]
    frequency_scale: dict[str, dict[int, float]]
    matchable_share: float
    training_pairs: int
    id_training_pairs: int

    def weights(self) -> pl.DataFrame:
        """A table of comparison, level, m, u and weight log2(m/u): the model as documentation."""
        rows = [
            (c.name, label, m, u, math.log2(m / u))
            for c in COMPARISONS
            for label, m, u in zip(c.levels, self.m[c.name], self.u[c.name], strict=True)
        ]
        return pl.DataFrame(rows, schema=["comparison", "level", "m", "u", "weight"], orient="row")


def _level_shares(
    levels: pl.DataFrame, comparison: Comparison, prior: tuple[float, ...], strength: float,
) -> tuple[float, ...]:
    """(count + strength · prior) / (n + strength) for each level, missing values left out."""
    counts = levels[comparison.name].drop_nulls().value_counts()
    by_level = dict(zip(counts[comparison.name].to_list(), counts["count"].to_list(), strict=True))
    total = sum(by_level.values())
    return tuple((by_level.get(i, 0) + strength * p) / (total + strength) for i, p in enumerate(prior))


def _estimate_u(levels: pl.DataFrame) -> dict[str, tuple[float, ...]]:
    """u by level from random pairs, with half a pseudo-pair per level so none is zero."""
    u = {}
    for comparison in COMPARISONS:
        size = len(comparison.levels)
        u[comparison.name] = _level_shares(levels, comparison, (1 / size,) * size, 0.5 * size)
    return u


def _estimate_scale(
    levels: pl.DataFrame, frequencies: pl.DataFrame, u: Mapping[str, tuple[float, ...]],
) -> dict[str, dict[int, float]]:
    """For each scaled level: average u over random pairs / average frequency over the same pairs."""
    scale: dict[str, dict[int, float]] = {}
    for c in COMPARISONS:
        scale[c.name] = {}
        for level, column in c.scaled_frequency.items():
            mean = frequencies.filter(levels[c.name].is_not_null())[column].mean()
            scale[c.name][level] = u[c.name][level] / mean if isinstance(mean, float) and mean > 0 else 1.0
    return scale


def _m_shares(levels: pl.DataFrame, comparison: Comparison) -> tuple[float, ...]:
    """m by level: counted on true pairs behind :data:`PRIOR_PAIRS` pseudo-pairs of the prior,
    and never below :data:`MIN_M`: no disagreement is impossible for the same person, even
    when the training records never showed it."""
    shares = _level_shares(levels, comparison, comparison.prior_m, PRIOR_PAIRS)
    return tuple(max(share, MIN_M) for share in shares)


def _estimate_m(levels: pl.DataFrame) -> dict[str, tuple[float, ...]]:
    """m by level from exactly linked pairs (the prior alone for the ID sequence)."""
    return {c.name: _m_shares(levels, c) if c.learned_from_exact else c.prior_m for c in COMPARISONS}


def _random_pairs(exact: pl.DataFrame, records: int, persons: int) -> pl.DataFrame:
    """Seeded random record–person pairs that are known not to be the same person.

    Records are drawn from the exactly linked ones and a draw of the record's own person is
    dropped, so no true pair inflates u (at 20,000 persons, 1 random pair in 20,000 would
    otherwise be a match, enough to dwarf the true u of a near-identical ID). Without exact
    links, records are drawn from all records and the contamination (about 1/N) is accepted.
    """
    rng = np.random.default_rng(SEED)
    size = min(RANDOM_PAIRS, records * persons)
    person_index = rng.integers(0, persons, size, dtype=np.int64)
    if exact.is_empty():
        record_index = rng.integers(0, records, size, dtype=np.int64)
        own = np.full(size, -1, dtype=np.int64)
    else:
        drawn = rng.integers(0, exact.height, size, dtype=np.int64)
        record_index = exact["record_index"].to_numpy().astype(np.int64)[drawn]
        own = exact["person_index"].to_numpy().astype(np.int64)[drawn]
    keep = person_index != own
    return pl.DataFrame({
        "record_index": record_index[keep], "person_index": person_index[keep],
    }).with_columns(pl.all().cast(pl.UInt32))


# --- scoring ---------------------------------------------------------------------------------


def _pair_weights(
    levels: pl.DataFrame, frequencies: pl.DataFrame, model_m: Mapping[str, tuple[float, ...]],
    model_u: Mapping[str, tuple[float, ...]], scale: Mapping[str, Mapping[int, float]],
    comparisons: tuple[Comparison, ...],
) -> pl.Series:
    """Σ log2(m/u) over comparisons; a missing level adds 0; u from frequencies where defined."""
    parts = []
    for c in comparisons:
        level = levels[c.name]
        m = pl.Series(model_m[c.name], dtype=pl.Float64)
        u = pl.Series(model_u[c.name], dtype=pl.Float64)
        index = level.fill_null(0).cast(pl.Int64)
        m_value, u_value = m.gather(index), u.gather(index)
        adjusted = [(lv, frequencies[col], 1.0) for lv, col in c.term_frequency.items()] + [
            (lv, frequencies[col], scale[c.name][lv]) for lv, col in c.scaled_frequency.items()
        ]
        for tf_level, frequency, factor in adjusted:
            u_value = pl.select(
                pl.when(index == tf_level).then(frequency * factor).otherwise(u_value)
            ).to_series()
        parts.append(pl.select(pl.when(level.is_null()).then(0.0).otherwise((m_value / u_value).log(2)))
                     .to_series())
    if not parts:
        return pl.Series([0.0] * len(levels))
    return pl.select(pl.sum_horizontal(parts)).to_series()


def _record_posteriors(
    pairs: pl.DataFrame, weights: pl.Series, records: int, persons: int, share: float | None = None,
) -> tuple[pl.DataFrame, float]:
    """The best candidate of each record with its probability, and the matchable share π.

    A record matches one of the ``persons`` with prior π/N each, or none (1 − π). Given the
    likelihood ratios 2^w of its candidates (non-candidates taken as 0),
    P(match = j) = (π/N)·2^w_j / ((1 − π) + (π/N)·Σ_k 2^w_k). π is estimated by EM over all
    records to link unless given.
    """
    scored = pairs.with_columns(weights.alias("weight"))
    per_record = (
        scored.sort(["record_index", "weight", "person_id"], descending=[False, True, False])
        .group_by("record_index", maintain_order=True)
        .agg(
            pl.col("person_index").first(),
            pl.col("person_id").first(),
            pl.col("weight").first().alias("best_weight"),
            # log2 Σ 2^w, stabilized by the best weight
            (pl.col("weight").first() + (2.0 ** (pl.col("weight") - pl.col("weight").first())).sum().log(2))
            .alias("log2_total"),
            pl.len().cast(pl.Int64).alias("candidates"),
        )
    )
    log2_total = per_record["log2_total"].to_numpy()
    if share is None:
        share = 0.5
        for _ in range(50):
            posterior_any = _posterior(log2_total, share, persons)
            updated = float(np.clip(posterior_any.sum() / max(records, 1), 0.01, 0.99))
            if abs(updated - share) < 1e-6:
                share = updated
                break
            share = updated
    log2_prior = math.log2(share / persons)
    best = per_record["best_weight"].to_numpy()
    probability = _posterior(log2_total, share, persons) * np.exp2(best - log2_total)
    prior_odds = log2_prior - math.log2(1 - share / persons)
    per_record = per_record.with_columns(
        pl.Series("match_probability", probability, dtype=pl.Float64),
        (pl.col("best_weight") + prior_odds).alias("match_weight"),
    )
    return per_record, share


def _posterior(log2_total: np.ndarray, share: float, persons: int) -> np.ndarray:
    """P(the record matches some candidate) = λS / ((1 − π) + λS), with λ = π/N, S = Σ 2^w."""
    evidence = math.log2(share / persons) + log2_total
    against = math.log2(1 - share)
    return 1.0 / (1.0 + np.exp2(against - evidence))


# --- the entry points ------------------------------------------------------------------------


def _frame(data: pl.DataFrame | pl.LazyFrame, columns: tuple[str, ...], what: str) -> pl.DataFrame:
    schema = data.collect_schema()
    missing = [c for c in columns if c not in schema]
    if missing:
        raise ContractError(
            f"lacks column {', '.join(map(repr, missing))}; link_persons needs {', '.join(columns)}",
            file=what, columns=missing,
        )
    types = {"birth_date": pl.Date, "resident_id_valid": pl.Boolean}
    return data.lazy().select(pl.col(c).cast(types.get(c, pl.String)) for c in columns).collect()


def _empty_result() -> pl.DataFrame:
    return pl.DataFrame(schema=RESULT_SCHEMA)


def link_persons(
    reference: pl.DataFrame | pl.LazyFrame,
    records: pl.DataFrame | pl.LazyFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> pl.DataFrame:
    """Link each record to a person of ``reference``, exactly by resident ID or probabilistically.

    ``reference`` has one row per person: ``resident_id`` (valid), ``name``, ``birth_date``,
    ``sex`` (GB/T 2261.1 ``'1'``/``'2'``), ``hukou_division``, ``residence_division``. A
    repeated resident ID keeps its last row; a row without one is ignored.

    ``records`` are standardized department records: ``record_id`` (unique), ``resident_id``
    and ``resident_id_valid`` (from standardization), ``name``, ``birth_date``, ``sex`` and
    ``division`` (the record's place), any of them NULL.

    Returns one row per record, in input order: ``record_id``, ``resident_id`` (the linked
    person, or NULL), ``method`` (``exact``: valid ID found in the reference; ``probabilistic``:
    linked by the model; ``unlinked``), ``match_weight`` (the best candidate's Fellegi–Sunter
    weight in bits including the prior; NULL for exact links and records without candidates),
    ``match_probability`` (1.0 for exact links; else the best candidate's probability, also
    for unlinked records, so near misses can be reviewed) and ``candidates_considered``.

    ``threshold`` is the probability a candidate needs to be linked (0 < threshold ≤ 1).
    """
    _, result = _link(reference, records, threshold=threshold)
    return result


def _link(
    reference: pl.DataFrame | pl.LazyFrame,
    records: pl.DataFrame | pl.LazyFrame,
    *,
    threshold: float,
) -> tuple[LinkageModel | None, pl.DataFrame]:
    """:func:`link_persons`, also returning the fitted model (None when nothing was scored)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    persons = _frame(reference, REFERENCE_COLUMNS, "link_persons(reference=...)")
    recs = _frame(records, RECORD_COLUMNS, "link_persons(records=...)")
    if recs.is_empty():
        return None, _empty_result()
    if recs["record_id"].is_duplicated().any():
        duplicated = recs.filter(pl.col("record_id").is_duplicated())["record_id"][0]
        raise ContractError(
            f"has record_id {duplicated!r} more than once; give each record a unique record_id",
            file="link_persons(records=...)", columns=["record_id"],
        )
    persons = persons.filter(pl.col("resident_id").is_not_null())
    # Hashes first: a collision only costs the exact check below, which is then a no-op.
    if persons["resident_id"].hash().n_unique() < persons.height:
        persons = persons.unique(subset="resident_id", keep="last", maintain_order=True)
    persons = persons.with_row_index("person_index")
    recs = recs.with_row_index("record_index")

    exact = recs.filter(pl.col("resident_id_valid").fill_null(False)).join(
        persons.select("resident_id", "person_index"), on="resident_id", how="inner"
    ).select("record_index", "person_index", "resident_id")
    to_link = recs.join(exact.select("record_index"), on="record_index", how="anti").sort("record_index")

    results = [
        recs.join(exact, on="record_index", how="inner").select(
            "record_index", "resident_id",
            pl.lit("exact").alias("method"),
            pl.lit(None, pl.Float64).alias("match_weight"),
            pl.lit(1.0).alias("match_probability"),
            pl.lit(1, pl.Int64).alias("candidates_considered"),
        )
    ]
    model = None
    if not to_link.is_empty():
        model, linked = _link_probabilistic(persons, recs, exact, to_link, threshold)
        results.append(linked)
    combined = pl.concat(results).sort("record_index")
    return model, recs.select("record_index", "record_id").join(
        combined, on="record_index", how="left"
    ).sort("record_index").select(RESULT_SCHEMA.names()).cast(RESULT_SCHEMA)


def _unlinked(to_link: pl.DataFrame) -> pl.DataFrame:
    return to_link.select(
        "record_index",
        pl.lit(None, pl.String).alias("resident_id"),
        pl.lit("unlinked").alias("method"),
        pl.lit(None, pl.Float64).alias("match_weight"),
        pl.lit(0.0).alias("match_probability"),
        pl.lit(0, pl.Int64).alias("candidates_considered"),
    )


def _frequencies(persons: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Per record: the share of reference persons with its name, surname, birth date and county.

    These are the u-probabilities of the exact levels for the record's own value
    (term-frequency adjustment). The date and county are the record's own, else its ID's (the
    reading a comparison falls back on). Only the values the records carry are counted. A
    county counts persons whose hukou or residence is there, each person once.
    """
    size = persons.height
    values = records.select(
        "name_key",
        "surname_key",
        pl.coalesce("ymd", "id_ymd").alias("ymd"),
        pl.coalesce("division", "id_division").alias("division"),
    )

    def share(column: str, alias: str, person_columns: tuple[str, ...] = ()) -> pl.Series:
        # Names have ~10^5 distinct values: count only the records' own. The other columns
        # have few values, and counting them all is cheaper than filtering first.
        wanted = values[column].drop_nulls().unique().implode()
        keep = pl.col(column).is_in(wanted) if column == "name_key" else pl.lit(True)
        parts = []
        seen: pl.Expr | None = None
        for person_column in person_columns or (column,):
            value = pl.col(person_column)
            once = pl.lit(True) if seen is None else value.ne_missing(seen)
            parts.append(persons.filter(once).select(value.alias(column)).filter(keep).group_by(column).len())
            seen = value
        counts = pl.concat(parts).group_by(column).agg(pl.col("len").sum())
        return values.select(column).join(counts, on=column, how="left", maintain_order="left").select(
            (pl.col("len").fill_null(1).clip(lower_bound=1) / size).alias(alias)
        ).to_series()

    return pl.DataFrame([
        share("name_key", "tf_name"),
        share("surname_key", "tf_surname"),
        share("ymd", "tf_birth_date"),
        share("division", "tf_county", ("hukou", "residence")),
    ])


def _link_probabilistic(
    persons: pl.DataFrame, recs: pl.DataFrame, exact: pl.DataFrame, to_link: pl.DataFrame, threshold: float,
) -> tuple[LinkageModel | None, pl.DataFrame]:
    """Fellegi–Sunter linkage of the records in ``to_link`` (rows of ``recs``) against ``persons``.

    The record table holds the records to link (rows 0..n-1) followed by the training sample
    of exactly linked records, so that one derivation serves blocking, training and scoring.
    """
    if persons.is_empty():
        return None, _unlinked(to_link)
    # m from exactly linked records: a systematic sample keeps the cost bounded.
    training = exact.select("record_index", "person_index")
    if training.height > TRAINING_PAIRS:
        training = training.gather_every(math.ceil(training.height / TRAINING_PAIRS))
    count = to_link.height
    record_table = pl.concat([
        _record_table(recs[to_link["record_index"]], to_link=True),
        _record_table(recs[training["record_index"]], to_link=False),
    ], how="diagonal").with_row_index("record_index")
    person_table = _person_table(persons)

    training = training.with_columns(
        pl.int_range(count, count + training.height, dtype=pl.UInt32).alias("record_index")
    )
    frequencies = _frequencies(person_table, record_table)
    m = _estimate_m(_levels(record_table, person_table, training))
    random_pairs = _random_pairs(training, record_table.height, persons.height)
    random_levels = _levels(record_table, person_table, random_pairs)
    u = _estimate_u(random_levels)
    scale = _estimate_scale(random_levels, frequencies[random_pairs["record_index"]], u)

    pairs = _candidates(record_table.head(count), person_table)
    if pairs.is_empty():
        return LinkageModel(m, u, scale, 0.0, training.height, 0), _unlinked(to_link)
    levels = _levels(record_table, person_table, pairs)
    pair_frequencies = frequencies[pairs["record_index"]]
    pairs = pairs.with_columns(persons["resident_id"][pairs["person_index"]].alias("person_id"))

    # Pass 1 without the ID: its sure links teach the ID comparison's m-probabilities.
    without_id = tuple(c for c in COMPARISONS if c.learned_from_exact)
    pass_one, _ = _record_posteriors(
        pairs, _pair_weights(levels, pair_frequencies, m, u, scale, without_id), count, persons.height
    )
    sure = pass_one.filter(pl.col("match_probability") >= SURE_LINK).select("record_index", "person_index")
    sure_levels = pl.concat([pairs, levels], how="horizontal").join(
        sure, on=["record_index", "person_index"], how="semi"
    )
    id_training = 0
    for comparison in COMPARISONS:
        if not comparison.learned_from_exact:
            m[comparison.name] = _m_shares(sure_levels, comparison)
            id_training = int(sure_levels[comparison.name].drop_nulls().len())

    best, share = _record_posteriors(
        pairs, _pair_weights(levels, pair_frequencies, m, u, scale, COMPARISONS), count, persons.height
    )
    model = LinkageModel(m, u, scale, share, training.height, id_training)
    accepted = pl.col("match_probability") >= threshold
    linked = best.select(
        "record_index",
        pl.when(accepted).then(pl.col("person_id")).alias("resident_id"),
        pl.when(accepted).then(pl.lit("probabilistic")).otherwise(pl.lit("unlinked")).alias("method"),
        "match_weight",
        "match_probability",
        pl.col("candidates").alias("candidates_considered"),
    )
    result = (
        to_link.select("record_index").with_row_index("local_index")
        .join(linked.rename({"record_index": "local_index"}), on="local_index", how="left")
        .select(
            "record_index",
            "resident_id",
            pl.col("method").fill_null("unlinked"),
            "match_weight",
            pl.col("match_probability").fill_null(0.0),
            pl.col("candidates_considered").fill_null(0),
        )
    )
    return model, result


def linkage_quality(
    result: pl.DataFrame, truth: pl.DataFrame, *, exclude_exact: bool = False,
) -> dict[str, float | int]:
    """Precision and recall of links against truth, for ``govlake score`` and the tests.

    ``truth`` has ``record_id`` and ``true_resident_id`` (NULL for a record whose person is not
    in the reference). A link is a true positive when it names the true person and a false
    positive otherwise; a record with a true person that is not linked to it is a false
    negative (so a wrong link counts against both precision and recall). With
    ``exclude_exact`` only records not linked by ID are scored: the ones the model decided.
    Precision is 1.0 when nothing was linked, recall 1.0 when nothing could be.
    """
    joined = result.select("record_id", "resident_id", "method").join(
        truth.select("record_id", "true_resident_id"), on="record_id", how="inner"
    )
    if exclude_exact:
        joined = joined.filter(pl.col("method") != "exact")
    linked = pl.col("resident_id").is_not_null()
    correct = linked & (pl.col("resident_id") == pl.col("true_resident_id")).fill_null(False)
    counts = joined.select(
        correct.sum().alias("tp"),
        (linked & ~correct).sum().alias("fp"),
        (pl.col("true_resident_id").is_not_null() & ~correct).sum().alias("fn"),
    ).row(0, named=True)
    tp, fp, fn = int(counts["tp"]), int(counts["fp"]), int(counts["fn"])
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }
