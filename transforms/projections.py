"""Projections: each source dataset seen as rows keyed by a base library's key.

``libraries.toml`` names sources as ``<dataset>.<column>``; this module says how a
dataset becomes rows keyed by the library key with those columns. Records that name
a person without a usable resident ID are linked first (transforms/linkage.py), so a
death certificate with a mistyped ID still reaches the right person.

Every projection returns one row per key (the latest record wins, deterministically)
with the lineage columns ``_batch_id`` and ``_ingested_at`` for provenance.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from transforms.context import BuildContext

Projection = Callable[[BuildContext], pl.LazyFrame]
LATEST = ["_ingested_at", "_batch_id", "_source_row"]


def _latest_per(frame: pl.LazyFrame, key: str, order: list[str] | None = None) -> pl.LazyFrame:
    order = [*(order or []), *LATEST]
    return frame.sort(order, nulls_last=False).unique(subset=[key], keep="last", maintain_order=True)


def _person_reference(ctx: BuildContext) -> pl.DataFrame:
    """The persons records are linked against: the household register's valid IDs."""
    if "link.reference" not in ctx.outputs:
        ctx.outputs["link.reference"] = (
            ctx.standardized("hukou")
            .filter(pl.col("resident_id__valid"))
            .select("resident_id", "name", "birth_date", "sex", "hukou_division", "residence_division")
            .collect()
        )
    return ctx.outputs["link.reference"]


def link(ctx: BuildContext, name: str, records: pl.LazyFrame) -> pl.LazyFrame:
    """Attach ``linked_id`` (and ``link_method``) to records with record_id/resident_id/name/…"""
    from transforms.linkage import link_persons

    collected = records.collect()
    result = link_persons(
        _person_reference(ctx),
        collected.select("record_id", "resident_id", "resident_id_valid", "name", "birth_date", "sex", "division"),
    )
    ctx.outputs[f"link.{name}"] = result
    return collected.lazy().join(
        result.lazy().select("record_id", pl.col("resident_id").alias("linked_id"),
                             pl.col("method").alias("link_method"), "match_probability"),
        on="record_id", how="left",
    )


# --- population ------------------------------------------------------------------------

def population_hukou(ctx: BuildContext) -> pl.LazyFrame:
    return (
        ctx.standardized("hukou")
        .filter(pl.col("resident_id__valid"))
        .with_columns(
            pl.when(pl.col("person_status") == "2").then(pl.col("deregistered_date")).alias("death_date"),
            pl.when(pl.col("person_status") == "2").then(pl.col("deregistered_date__valid"))
            .alias("death_date__valid"),
        )
    )


def population_deaths(ctx: BuildContext) -> pl.LazyFrame:
    deaths = ctx.standardized("deaths").select(
        pl.col("certificate_no").alias("record_id"),
        pl.col("resident_id"), pl.col("resident_id__valid").alias("resident_id_valid"),
        "name", "name__valid", "birth_date", "birth_date__valid", "sex", "sex__valid",
        pl.col("death_division").alias("division"), "death_date", "death_date__valid", *LATEST,
    )
    linked = link(ctx, "deaths", deaths)
    return _latest_per(linked.filter(pl.col("linked_id").is_not_null())
                       .drop("resident_id").rename({"linked_id": "resident_id"}), "resident_id", ["death_date"])


def population_births(ctx: BuildContext) -> pl.LazyFrame:
    births = ctx.standardized("births").filter(pl.col("resident_id__valid"))
    return _latest_per(births, "resident_id")


def population_marriages(ctx: BuildContext) -> pl.LazyFrame:
    marriages = ctx.standardized("marriages")
    status = pl.when(pl.col("registration_type") == "1").then(pl.lit("20")).when(
        pl.col("registration_type") == "2").then(pl.lit("40"))
    spouses = pl.concat([
        marriages.select(
            (pl.col("registration_no") + ":" + side).alias("record_id"),
            pl.col(f"{role}_id").alias("resident_id"), pl.col(f"{role}_id__valid").alias("resident_id_valid"),
            pl.col(f"{role}_name").alias("name"), pl.col(f"{role}_name__valid").alias("name__valid"),
            pl.lit(None, pl.Date).alias("birth_date"), pl.lit(sex).alias("sex"),
            pl.col("registry_division").alias("division"),
            "registration_date", status.alias("marital_status"), *LATEST,
        )
        for role, side, sex in (("husband", "H", "1"), ("wife", "W", "2"))
    ])
    linked = link(ctx, "marriages", spouses)
    return _latest_per(linked.filter(pl.col("linked_id").is_not_null())
                       .drop("resident_id").rename({"linked_id": "resident_id"}),
                       "resident_id", ["registration_date"])


def population_social_insurance(ctx: BuildContext) -> pl.LazyFrame:
    enrolments = ctx.standardized("social_insurance").filter(pl.col("resident_id__valid"))
    return (
        enrolments.sort(["resident_id", "insurance_type"])
        .group_by("resident_id", maintain_order=True)
        .agg(
            pl.col("name").drop_nulls().last().alias("name"),
            (pl.col("enrolment_status") == "1").any().alias("insured"),
            pl.col("insurance_type").filter(pl.col("enrolment_status") == "1").unique().sort()
            .str.join(",").alias("insurance_types"),
            pl.col("_batch_id").max(), pl.col("_ingested_at").max(),
        )
        .with_columns(pl.when(pl.col("insurance_types") != "").then(pl.col("insurance_types")))
    )


def _legal_reps(ctx: BuildContext, dataset: str) -> pl.LazyFrame:
    reps = ctx.standardized(dataset).filter(pl.col("legal_rep_id__valid")).select(
        pl.col("legal_rep_id").alias("resident_id"), "legal_rep_name", "legal_rep_name__valid", *LATEST)
    return _latest_per(reps, "resident_id")


def population_market_entities(ctx: BuildContext) -> pl.LazyFrame:
    return _legal_reps(ctx, "market_entities")


def population_social_orgs(ctx: BuildContext) -> pl.LazyFrame:
    return _legal_reps(ctx, "social_orgs")


# --- legal entities --------------------------------------------------------------------

def legal_entity_market(ctx: BuildContext) -> pl.LazyFrame:
    types = ctx.catalog.code_table("entity_type").codes
    return ctx.standardized("market_entities").filter(pl.col("uscc__valid")).with_columns(
        pl.col("entity_type").replace_strict(types, default=None).alias("entity_type"),
    )


def legal_entity_social_orgs(ctx: BuildContext) -> pl.LazyFrame:
    types = ctx.catalog.code_table("org_type").codes
    return ctx.standardized("social_orgs").filter(pl.col("uscc__valid")).with_columns(
        pl.col("org_type").replace_strict(types, default=None).alias("entity_type"),
    )


def legal_entity_tax(ctx: BuildContext) -> pl.LazyFrame:
    return _latest_per(ctx.standardized("tax_credit").filter(pl.col("uscc__valid")), "uscc", ["rating_year"])


#: library -> dataset -> projection. A library uses the datasets its attributes name.
PROJECTIONS: dict[str, dict[str, Projection]] = {
    "population": {
        "hukou": population_hukou,
        "deaths": population_deaths,
        "births": population_births,
        "marriages": population_marriages,
        "social_insurance": population_social_insurance,
        "market_entities": population_market_entities,
        "social_orgs": population_social_orgs,
    },
    "legal_entity": {
        "market_entities": legal_entity_market,
        "social_orgs": legal_entity_social_orgs,
        "tax_credit": legal_entity_tax,
    },
}
