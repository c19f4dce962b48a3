"""The population base library (人口基础库): one row per person."""

from __future__ import annotations

import polars as pl

from transforms.context import BuildContext
from transforms.library import build_library
from transforms.projections import latest_marriages, person_links

MARRIED, WIDOWED = "20", "30"
#: The census's broad age groups (inclusive bounds, label).
AGE_BANDS = [(0, 14, "0-14"), (15, 59, "15-59"), (60, 200, "60+")]


def _widowhood(ctx: BuildContext, golden: pl.DataFrame) -> pl.DataFrame:
    """A person whose latest registration is a marriage and whose spouse has died is widowed.

    Civil affairs registers marriages and divorces, not widowhood (丧偶); that status
    follows from two authoritative sources: the marriage (民政) and the spouse's death
    (卫健, then 公安). The derived value keeps the marriage's provenance.
    """
    if not ctx.has_source("marriages"):
        return golden
    latest = latest_marriages(ctx).filter(pl.col("registration_type") == "1").collect()
    deaths = golden.select(pl.col("resident_id").alias("spouse_id"), pl.col("death_date").alias("_spouse_died"))
    widowed = (
        latest.join(deaths, on="spouse_id", how="inner")
        .filter(pl.col("_spouse_died").is_not_null()
                & (pl.col("_spouse_died") >= pl.col("registration_date").fill_null(pl.col("_spouse_died"))))
        .select("resident_id", pl.lit(True).alias("_widowed"))
    )
    return (
        golden.join(widowed, on="resident_id", how="left")
        .with_columns(
            pl.when(pl.col("_widowed") & (pl.col("marital_status") == MARRIED) & pl.col("death_date").is_null())
            .then(pl.lit(WIDOWED)).otherwise(pl.col("marital_status")).alias("marital_status")
        )
        .drop("_widowed")
    )


def population(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    golden, conflicts = build_library(ctx, "population")
    golden = _widowhood(ctx, golden)
    as_of = pl.lit(ctx.as_of)
    insured_known = ctx.has_source("social_insurance")
    golden = golden.with_columns(
        pl.col("resident_id").str.slice(0, 2).alias("province"),
        pl.col("death_date").is_null().alias("alive"),
        pl.when(pl.col("birth_date").is_not_null()).then(
            (as_of.dt.year() - pl.col("birth_date").dt.year())
            - ((as_of.dt.month().cast(pl.Int32) * 100 + as_of.dt.day())
               < (pl.col("birth_date").dt.month().cast(pl.Int32) * 100 + pl.col("birth_date").dt.day()))
            .cast(pl.Int32)
        ).cast(pl.Int16).alias("age"),
        # Not enrolled anywhere means not insured, once the insurance register is connected.
        *([pl.col("insured").fill_null(False), pl.col("insurance_paying").fill_null(False)] if insured_known else []),
    )
    columns = ["resident_id", "name", "sex", "birth_date", "age", "ethnicity", "hukou_division",
               "residence_division", "marital_status", "alive", "death_date", "insured", "insurance_types",
               "insurance_paying", "phone", "province", "provenance"]
    return {
        "base.population": golden.select(columns),
        "base.conflicts.population": conflicts,
        "base.person_links": person_links(ctx),
    }
