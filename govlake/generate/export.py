"""What a source builder hands on: a dataset's clean records as its department writes them.

Builders (one module per dataset, e.g. :mod:`govlake.generate.hukou`) turn the world
into an :class:`Export`: the catalog columns in catalog order, spelled the way the
department spells them (男/女 or 1/2, 存续 or 在营: all covered by the code tables'
aliases), plus hidden ``_`` columns that say whose record it is (``_person``,
``_entity`` and role keys such as ``_husband``) for the defect truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import polars as pl

    from lake.catalog import Dataset


@dataclass
class Export:
    """Clean records of one dataset. ``split`` names a hidden column giving each row's file part."""

    dataset: str
    frame: pl.DataFrame
    split: str | None = None


def build_frame(dataset: Dataset, columns: Mapping[str, Any], hidden: Mapping[str, Any]) -> pl.DataFrame:
    """Catalog columns in catalog order (text unless already typed), then hidden columns.

    A builder that forgets a catalog column, or invents one, fails here.
    """
    import polars as pl

    expected = dataset.columns
    if set(columns) != set(expected):
        missing = sorted(set(expected) - set(columns))
        extra = sorted(set(columns) - set(expected))
        raise ValueError(f"{dataset.id}: builder columns differ from the catalog (missing {missing}, extra {extra})")
    series = [_series(name, columns[name]) for name in expected]
    series += [_series(name, values) for name, values in hidden.items()]
    return pl.DataFrame(series)


def _series(name: str, values: Any) -> pl.Series:
    import polars as pl

    if isinstance(values, pl.Series):
        return values.alias(name)
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return pl.Series(name, array.astype("datetime64[D]")).dt.to_string("%Y-%m-%d")
    if array.dtype.kind in "OU":
        return pl.Series(name, array.astype(object).tolist(), dtype=pl.String)
    return pl.Series(name, array)


def spell(rng: np.random.Generator, codes: np.ndarray,
          table: Mapping[Any, tuple[tuple[str, float], ...]]) -> np.ndarray:
    """Write each code the way a department does: one of its spellings, by weight."""
    out = np.full(len(codes), None, dtype=object)
    for code, spellings in table.items():
        members = np.flatnonzero(codes == code)
        words = np.array([s for s, _ in spellings], dtype=object)
        weights = np.array([w for _, w in spellings], dtype=np.float64)
        out[members] = words[rng.choice(len(words), len(members), p=weights / weights.sum())]
    return out


def sequence_within(keys: np.ndarray) -> np.ndarray:
    """1-based running number of each element among equal keys, in array order."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
    run = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    out = np.zeros(len(keys), dtype=np.int64)
    out[order] = run + 1
    return out


def zero_pad(numbers: np.ndarray, width: int) -> np.ndarray:
    """Integers as zero-padded text."""
    return np.char.zfill(numbers.astype(str), width).astype(object)


def text(values: np.ndarray) -> np.ndarray:
    """Any array as an object array of ``str`` (``None`` stays ``None``)."""
    return np.array([None if v is None else str(v) for v in values.tolist()], dtype=object)
