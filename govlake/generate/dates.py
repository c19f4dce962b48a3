"""The fixed reference date and small vectorized date helpers.

The generator never reads the wall clock: every date is relative to :data:`AS_OF`, so
the same seed gives byte-identical files on any day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

#: The reference date of every generated export ("today" for the departments).
AS_OF = dt.date(2026, 11, 20)
#: Days from the epoch, as numpy stores ``datetime64[D]``.
AS_OF_DAY = np.datetime64(AS_OF.isoformat(), "D")
DAYS_PER_YEAR = 365.2425


def years(dates: np.ndarray) -> np.ndarray:
    """Calendar year of each ``datetime64[D]``."""
    return dates.astype("datetime64[Y]").astype(np.int64) + 1970


def ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of each ``datetime64[D]`` as int64 arrays."""
    months = dates.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months).astype(np.int64) + 1
    return year, month, day


def age_on(birth: np.ndarray, on: np.datetime64 = AS_OF_DAY) -> np.ndarray:
    """Completed years of age on ``on`` for each birth date."""
    by, bm, bd = ymd(birth)
    oy, om, od = ymd(np.array([on], dtype="datetime64[D]"))
    before_birthday = (bm > om[0]) | ((bm == om[0]) & (bd > od[0]))
    return oy[0] - by - before_birthday.astype(np.int64)


def add_years(dates: np.ndarray, count: np.ndarray | int) -> np.ndarray:
    """Dates moved by whole years (29 February becomes 28 February when needed)."""
    year, month, day = ymd(dates)
    target_year = year + count
    first = (target_year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    month_len = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    return first.astype("datetime64[D]") + (np.minimum(day, month_len) - 1)


def random_between(rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A uniformly random day in ``[start, end]`` for each pair (``end < start`` gives ``start``)."""
    span = np.maximum((end - start).astype(np.int64), 0)
    return start + np.floor(rng.random(len(span)) * (span + 1)).astype(np.int64)
