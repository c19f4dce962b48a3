"""Real-world mess, injected at known places and recorded as defects.

:class:`MessRates` sets how often each kind of defect happens. :func:`inject` applies a
dataset's :class:`~govlake.generate.profiles.Profile` to its clean records: cell defects
first (at most one per cell, in :data:`CELL_KINDS` order), then row defects (late
arrival, duplicates, structurally broken copies). Every change is recorded with the
value before and after, so ``truth/defects.parquet`` lists exactly what was written.

Cell defects never make a value *equal* to its clean spelling (a date "reformatted"
into ISO is not a defect), and the clean value always comes from the population, so the
authoritative sources carry true values apart from undoable formatting.

>>> MessRates().scaled(0).date_format
0.0
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from govlake.generate.dates import AS_OF
from govlake.generate.ids import RESIDENT_CHECK, USCC_ALPHABET, resident_check_char, uscc_check_char
from govlake.generate.names import name_variant

if TYPE_CHECKING:
    import polars as pl

    from govlake.generate.profiles import Profile

#: Cell defect kinds, in the order they are applied (earlier kinds win a cell).
CELL_KINDS = (
    "id_missing", "id_mistyped", "bad_check_char", "name_conflict", "birth_date_conflict",
    "lowercase_x", "fullwidth", "whitespace", "date_format", "missing_value",
)
#: Row defect kinds.
ROW_KINDS = ("late_record", "duplicate_row", "malformed_row")
KINDS = CELL_KINDS + ROW_KINDS
#: Cell kinds that break the link through an ID; the profile's ``protect`` columns of
#: such a row are left clean so that the record can still be linked by name and birth.
IDENTITY_BREAKING = frozenset({"id_missing", "id_mistyped", "bad_check_char"})
#: Records with an event on or before this day belong in the earlier export file.
EARLY_CUTOFF = AS_OF - dt.timedelta(days=7)
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
RESIDENT_ID = r"^\d{17}[\dX]$"


@dataclass(frozen=True)
class MessRates:
    """Probability of each defect kind, per eligible cell or record.

    ``lowercase_x`` applies to IDs ending in X only (about one in eleven), so its rate is
    higher; ``malformed_row`` is per record but at least one broken line is written for
    each CSV and JSON Lines dataset when the rate is above zero.
    """

    bad_check_char: float = 0.008
    lowercase_x: float = 0.15
    date_format: float = 0.02
    fullwidth: float = 0.005
    whitespace: float = 0.01
    duplicate_row: float = 0.005
    missing_value: float = 0.01
    late_record: float = 0.02
    id_missing: float = 0.02
    id_mistyped: float = 0.01
    name_conflict: float = 0.01
    birth_date_conflict: float = 0.01
    malformed_row: float = 0.0005

    def scaled(self, factor: float) -> MessRates:
        """Every rate multiplied by ``factor`` (capped at 1); ``scaled(0)`` gives clean data."""
        if factor < 0:
            raise ValueError(f"the mess scale must be 0 or more, got {factor}")
        return replace(self, **{f.name: min(1.0, getattr(self, f.name) * factor) for f in fields(self)})

    def rate(self, kind: str) -> float:
        return float(getattr(self, kind))


@dataclass
class Messy:
    """A dataset after mess: rows and defects.

    Rows carry ``_rid`` (row id, what defects point at), ``_source`` (the clean record a
    copy was made from), ``_phase`` (earlier or later file), ``_pos`` (order in the file)
    and ``_malformed`` (to be written broken).
    """

    frame: pl.DataFrame
    defects: pl.DataFrame  # _rid, field, kind, true_value, written_value


# --- cell transforms ---------------------------------------------------------------------

def _is_resident_id(value: str) -> bool:
    return len(value) == 18 and value[:17].isdigit()


def bad_check_char(value: str, rng: np.random.Generator) -> str:
    """The same 17-character body with a wrong check character."""
    if _is_resident_id(value):
        right = resident_check_char(value[:17])
        options = [c for c in RESIDENT_CHECK.tolist() if c != right]
    else:
        right = uscc_check_char(value[:17])
        options = [c for c in USCC_ALPHABET if c != right]
    return value[:17] + options[int(rng.integers(0, len(options)))]


def mistyped_id(value: str, rng: np.random.Generator) -> str:
    """One digit of the birth date or sequence typed wrong, or two neighbours swapped."""
    chars = list(value)
    for _ in range(20):
        i = int(rng.integers(6, 16))
        if rng.random() < 0.5 and chars[i] != chars[i + 1]:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars[i] = str((int(chars[i]) + int(rng.integers(1, 10))) % 10)
        if "".join(chars) != value:
            break
    return "".join(chars)


def whitespace(value: str, rng: np.random.Generator) -> str:
    """Stray spaces: leading, trailing, an ideographic space, or one inside a name."""
    choice = int(rng.integers(0, 5))
    if choice == 0:
        return " " + value
    if choice == 1:
        return value + " "
    if choice == 2:
        return value + "\u3000"
    if choice == 3 and 2 <= len(value) <= 4 and not value.isascii():
        return value[0] + " " + value[1:]
    return " " + value + " "


def date_format(value: str, rng: np.random.Generator) -> str:
    """An ISO date written as 2020/1/2, 20200102 or 2020年1月2日."""
    year, month, day = value.split("-")
    choice = int(rng.integers(0, 3))
    if choice == 0:
        return f"{year}/{int(month)}/{int(day)}"
    if choice == 1:
        return f"{year}{month}{day}"
    return f"{year}年{int(month)}月{int(day)}日"


def birth_date_conflict(value: str, rng: np.random.Generator) -> str:
    """Another department's birth date: month and day swapped, or off by a little."""
    day = dt.date.fromisoformat(value)
    if day.day <= 12 and day.day != day.month and rng.random() < 0.5:
        return day.replace(month=day.day, day=day.month).isoformat()
    shift = int(rng.choice([-3, -2, -1, 1, 2, 3, -365, 365]))
    moved = day + dt.timedelta(days=shift)
    return moved.isoformat() if moved <= AS_OF else (day - dt.timedelta(days=abs(shift))).isoformat()


ENTITY_SUFFIX_VARIANTS = (
    ("股份有限公司", "股份公司"), ("有限责任公司", "有限公司"), ("有限公司", "有限责任公司"),
    ("专业合作社", "合作社"), ("慈善基金会", "基金会"),
)
#: Legal-form endings kept intact when a character of the name is misspelt.
ENTITY_SUFFIXES = ("有限责任公司", "股份有限公司", "有限公司", "合伙企业（有限合伙）", "商行", "专业合作社",
                   "慈善基金会", "协会", "有限责任公司(自然人投资或控股)")


def entity_name_variant(value: str, rng: np.random.Generator) -> str:
    """Another department's spelling of an organisation name: another legal-form ending, or a
    misspelt character before the ending."""
    if rng.random() < 0.5:
        for old, new in ENTITY_SUFFIX_VARIANTS:
            if value.endswith(old):
                return value[: -len(old)] + new
        if "记" in value:
            return value.replace("记", "", 1)
    ending = next((s for s in sorted(ENTITY_SUFFIXES, key=len, reverse=True) if value.endswith(s)), "")
    head = value[: len(value) - len(ending)]
    return (name_variant(head, rng) if len(head) > 1 else name_variant(value, rng)) + ending


def transform(kind: str, value: str, rng: np.random.Generator, *, person: bool) -> str | None:
    """The written value for a clean ``value`` under a cell defect ``kind``."""
    if kind in ("id_missing", "missing_value"):
        return None
    if kind == "id_mistyped":
        return mistyped_id(value, rng)
    if kind == "name_conflict":
        return name_variant(value, rng) if person else entity_name_variant(value, rng)
    if kind == "birth_date_conflict":
        return birth_date_conflict(value, rng)
    if kind == "bad_check_char":
        return bad_check_char(value, rng)
    if kind == "lowercase_x":
        return value[:-1] + "x"
    if kind == "fullwidth":
        return value.translate(FULLWIDTH)
    if kind == "whitespace":
        return whitespace(value, rng)
    if kind == "date_format":
        return date_format(value, rng)
    raise ValueError(f"unknown cell defect kind {kind!r}")


def _eligible(kind: str, series: pl.Series) -> np.ndarray:
    """Cells that ``kind`` can apply to, judged on the clean values."""
    mask = series.is_not_null() & (series.str.len_chars() > 0)
    if kind == "lowercase_x":
        mask &= series.str.ends_with("X")
    elif kind == "bad_check_char":
        mask &= series.str.len_chars() == 18
    elif kind == "id_mistyped":
        mask &= series.str.contains(RESIDENT_ID)
    elif kind == "fullwidth":
        mask &= series.str.contains(r"\d")
    elif kind in ("date_format", "birth_date_conflict"):
        mask &= series.str.contains(ISO_DATE)
    return mask.fill_null(False).to_numpy()


# --- injection ---------------------------------------------------------------------------

def inject(frame: pl.DataFrame, profile: Profile, rates: MessRates, rng: np.random.Generator,
           *, broken_lines: bool) -> Messy:
    """Apply ``profile`` to clean ``frame``; ``broken_lines`` when the format has lines to break."""
    import polars as pl

    n = frame.height
    touched = {column: np.zeros(n, dtype=bool) for column in profile.cells}
    updates: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {column: [] for column in profile.cells}
    log: list[pl.DataFrame] = []
    for kind in CELL_KINDS:
        rate = rates.rate(kind)
        if rate <= 0:
            continue
        for column, kinds in profile.cells.items():
            if kind not in kinds:
                continue
            candidates = np.flatnonzero(_eligible(kind, frame[column]) & ~touched[column])
            rows = candidates[rng.random(len(candidates)) < rate]
            if len(rows) == 0:
                continue
            # a cell is changed at most once, so an untouched cell still holds its clean value
            before = np.array(frame[column].gather(rows).to_list(), dtype=object)
            is_person = _describes_person(frame, profile, column, rows)
            after = np.array([
                transform(kind, value, rng, person=bool(person))
                for value, person in zip(before, is_person, strict=True)
            ], dtype=object)
            changed = np.array([a != b for a, b in zip(after, before, strict=True)], dtype=bool)
            rows, before, after = rows[changed], before[changed], after[changed]
            updates[column].append((rows, after))
            touched[column][rows] = True
            if kind in IDENTITY_BREAKING:
                for other in profile.protect.get(column, ()):
                    touched[other][rows] = True
            log.append(_defects(rows, column, kind, before, after))
    changed_columns = []
    for column, parts in updates.items():
        if parts:
            rows = np.concatenate([r for r, _ in parts])
            written = pl.Series(np.concatenate([a for _, a in parts]).tolist(), dtype=pl.String)
            changed_columns.append(frame[column].clone().scatter(rows, written))
    messy = frame.with_columns(changed_columns).with_columns(
        pl.int_range(0, n, dtype=pl.Int64).alias("_rid"),
        pl.int_range(0, n, dtype=pl.Int64).alias("_source"),
        pl.lit("", dtype=pl.String).alias("_phase"),
        pl.int_range(0, n, dtype=pl.Int64).cast(pl.Float64).alias("_pos"),
        pl.lit(False).alias("_malformed"),
    )
    defects = pl.concat(log) if log else _defects(np.zeros(0, dtype=np.int64), "", "", np.zeros(0), np.zeros(0))
    messy, defects = _late(messy, defects, profile, rates, rng, frame)
    messy, defects = _duplicates(messy, defects, rates, rng)
    if broken_lines:
        messy, defects = _malformed(messy, defects, rates, rng)
    return Messy(messy, defects)


def _describes_person(frame: pl.DataFrame, profile: Profile, column: str, rows: np.ndarray) -> np.ndarray:
    """Whether the cells of ``column`` at ``rows`` belong to a person (else an organisation)."""
    key = profile.person_of.get(column, "_person")
    if key not in frame.columns:
        return np.zeros(len(rows), dtype=bool)
    return np.array([value is not None for value in frame[key].gather(rows).to_list()], dtype=bool)


def _defects(rows: np.ndarray, column: str, kind: str, before: np.ndarray, after: np.ndarray) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame({
        "_rid": pl.Series(rows.astype(np.int64), dtype=pl.Int64),
        "field": pl.Series([column or None] * len(rows), dtype=pl.String),
        "kind": pl.Series([kind] * len(rows), dtype=pl.String),
        "true_value": pl.Series([None if v is None else str(v) for v in before], dtype=pl.String),
        "written_value": pl.Series([None if v is None else str(v) for v in after], dtype=pl.String),
    })


def _late(messy: pl.DataFrame, defects: pl.DataFrame, profile: Profile, rates: MessRates,
          rng: np.random.Generator, clean: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split event datasets into an earlier and a later file; some old records arrive late."""
    import polars as pl

    if profile.event is None:
        return messy, defects
    event = clean[profile.event].to_numpy().astype(str)
    early = event <= EARLY_CUTOFF.isoformat()
    rows = np.flatnonzero(early)
    late = rows[rng.random(len(rows)) < rates.rate("late_record")] if rates.rate("late_record") > 0 else rows[:0]
    early[late] = False
    position = messy["_pos"].to_numpy().copy()
    position[late] = rng.uniform(0, max(messy.height, 1), len(late))
    messy = messy.with_columns(
        pl.Series("_phase", np.where(early, "early", "later"), dtype=pl.String),
        pl.Series("_pos", position, dtype=pl.Float64),
    )
    written = messy[profile.event].to_numpy()[late]
    log = _defects(late, profile.event, "late_record", event[late], written)
    return messy, pl.concat([defects, log])


def _duplicates(messy: pl.DataFrame, defects: pl.DataFrame, rates: MessRates,
                rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Copies of some records, a little further down the same file, with the same mess."""
    import polars as pl

    rate = rates.rate("duplicate_row")
    if rate <= 0 or messy.height == 0:
        return messy, defects
    source = np.flatnonzero(rng.random(messy.height) < rate)
    if len(source) == 0:
        return messy, defects
    first = messy.height
    new_rid = np.arange(first, first + len(source), dtype=np.int64)
    copies = messy[source].with_columns(
        pl.Series("_rid", new_rid, dtype=pl.Int64),
        (pl.col("_pos") + pl.Series(rng.uniform(0.1, 40.0, len(source)))).alias("_pos"),
    )
    mapping = pl.DataFrame({"_rid": source.astype(np.int64), "_copy": new_rid})
    copied = defects.join(mapping, on="_rid", how="inner").drop("_rid").rename({"_copy": "_rid"})
    marks = _defects(new_rid, "", "duplicate_row", np.full(len(source), None), np.full(len(source), None))
    return pl.concat([messy, copies]), pl.concat([defects, copied.select(defects.columns), marks])


def _malformed(messy: pl.DataFrame, defects: pl.DataFrame, rates: MessRates,
               rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Extra, structurally broken copies of a few records (the writer breaks the line)."""
    import polars as pl

    rate = rates.rate("malformed_row")
    if rate <= 0 or messy.height == 0:
        return messy, defects
    originals = np.flatnonzero(~messy["_malformed"].to_numpy())
    count = max(1, int(rng.binomial(len(originals), rate)))
    source = np.sort(rng.choice(originals, size=min(count, len(originals)), replace=False))
    first = int(messy["_rid"].max()) + 1  # type: ignore[arg-type]
    new_rid = np.arange(first, first + len(source), dtype=np.int64)
    copies = messy[source].with_columns(
        pl.Series("_rid", new_rid, dtype=pl.Int64),
        pl.Series("_pos", rng.uniform(0, messy.height, len(source)), dtype=pl.Float64),
        pl.lit(True).alias("_malformed"),
    )
    marks = _defects(new_rid, "", "malformed_row", np.full(len(source), None), np.full(len(source), None))
    return pl.concat([messy, copies]), pl.concat([defects, marks])
