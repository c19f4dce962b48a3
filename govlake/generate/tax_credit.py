"""税务 tax-credit ratings (Parquet): typed columns, the grade written A or A级."""

from __future__ import annotations

import numpy as np
import polars as pl

from govlake.generate.export import Export, build_frame
from govlake.generate.randomness import stream
from govlake.generate.world import World


def tax_credit(world: World) -> list[Export]:
    firms, rated = world.entities, world.ratings
    places = world.population.counties
    rng = stream(world.seed, "export.tax_credit")
    grade = rated.grade.copy()
    suffixed = rng.random(len(grade)) < 0.3
    grade[suffixed] = grade[suffixed] + "级"
    county = firms.county[rated.entity]
    columns = {
        "uscc": firms.uscc[rated.entity],
        "taxpayer_name": firms.name[rated.entity],
        "rating_year": pl.Series(rated.year, dtype=pl.Int32),
        "tax_credit_grade": grade,
        "rated_date": pl.Series(rated.rated, dtype=pl.Date),
        "tax_authority": "国家税务总局" + places.name[county] + "税务局",
    }
    return [Export("tax_credit", build_frame(world.catalog.dataset("tax_credit"), columns,
                                             {"_entity": np.asarray(firms.uscc[rated.entity])}))]
