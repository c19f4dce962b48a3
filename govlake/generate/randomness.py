"""Named random streams, so that each part of the generator draws from its own sequence.

Every consumer asks for a stream by name (``stream(seed, "people.sex")``). Adding draws
to one stream never shifts another, so a change in, say, the tax-credit builder leaves
the persons of the same seed untouched. Streams are numpy ``PCG64`` generators seeded
with ``(seed, crc32(name))``: stable across runs, platforms and Python hash seeds.

>>> stream(42, "demo").integers(0, 10, 3).tolist() == stream(42, "demo").integers(0, 10, 3).tolist()
True
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """The random generator for ``name`` under ``seed``."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def pick_top(rng: np.random.Generator, weights: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` items drawn without replacement, with probability ~ ``weights``.

    Efraimidis–Spirakis keys (``-log(u) / w``, smallest first), vectorized; the indices come
    back sorted so that callers get a stable order.
    """
    count = int(min(count, int(np.count_nonzero(weights > 0))))
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(divide="ignore"):
        keys = -np.log(rng.random(len(weights))) / weights
    keys[~(weights > 0)] = np.inf
    chosen = np.argpartition(keys, count - 1)[:count]
    return np.sort(chosen)


def weighted_choice(rng: np.random.Generator, options: int, weights: np.ndarray | list[float],
                    size: int) -> np.ndarray:
    """``size`` draws from ``range(options)`` with the given (unnormalized) weights."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(options, size=size, p=p / p.sum())
