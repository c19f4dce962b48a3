"""The population base library (人口基础库): one row per person."""

from __future__ import annotations

import polars as pl

from transforms.context import BuildContext
from transforms.library import build_library

AGE_BANDS = [(0, 14, "0-14"), (15, 59, "15-59"), (60, 200, "60+")]


def population(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    golden, conflicts = build_library(ctx, "population")
    as_of = pl.lit(ctx.as_of)
    golden = golden.with_columns(
        pl.col("resident_id").str.slice(0, 2).alias("province"),
        pl.col("death_date").is_null().alias("alive"),
        pl.when(pl.col("birth_date").is_not_null()).then(
            (as_of.dt.year() - pl.col("birth_date").dt.year())
            - ((as_of.dt.month() * 100 + as_of.dt.day())
               < (pl.col("birth_date").dt.month() * 100 + pl.col("birth_date").dt.day())).cast(pl.Int32)
        ).cast(pl.Int16).alias("age"),
    )
    columns = ["resident_id", "name", "sex", "birth_date", "age", "ethnicity", "hukou_division",
               "residence_division", "marital_status", "alive", "death_date", "insured", "insurance_types",
               "phone", "province", "provenance"]
    return {"base.population": golden.select(columns), "base.conflicts.population": conflicts}
