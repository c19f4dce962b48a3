"""Golden records by one source per data item (一数一源), with provenance and conflicts.

Input: for each dataset a *projection* onto the library key — rows keyed by the library
key (a source may hold several records per key, e.g. insurance enrolments) with the
attribute columns the catalog's ``libraries.toml`` names, their ``<column>__valid``
flags when standardization produced them, and the lineage ``_batch_id``,
``_ingested_at`` and ``_source_row``. Among several records of the winning source the
latest wins; a disagreement in ANY record of another source is a conflict. Output: one row per key of the library's universe with, for each
attribute, the first valid value in the declared order, a ``provenance`` struct
(source dataset, batch, ingestion time per attribute), and a long table of every
disagreement between sources. The order comes from the catalog, never from here.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from govlake.errors import ConfigError
from lake.catalog.libraries import Attribute, Library

CONFLICT_SCHEMA: dict[str, pl.DataType] = {
    "library": pl.String(),
    "key": pl.String(),
    "attribute": pl.String(),
    "chosen_source": pl.String(),
    "chosen_value": pl.String(),
    "chosen_batch": pl.String(),
    "other_source": pl.String(),
    "other_value": pl.String(),
    "other_batch": pl.String(),
}


def _candidates(attribute: Attribute, key: str, projections: Mapping[str, pl.LazyFrame],
                schemas: Mapping[str, pl.Schema]) -> pl.LazyFrame:
    """Every valid, present value of ``attribute`` from every source, ranked by precedence."""
    parts = []
    target_type: pl.DataType | None = None
    for rank, ref in enumerate(attribute.sources):
        if ref.dataset not in projections:
            continue
        schema = schemas[ref.dataset]
        if ref.column not in schema:
            raise ConfigError(
                f"source {ref} of attribute {attribute.name}: the {ref.dataset} projection has no column "
                f"{ref.column!r} (it has {', '.join(c for c in schema if not c.startswith('_'))}); "
                "fix lake/catalog/libraries.toml or the projection in transforms/projections.py"
            )
        dtype = schema[ref.column]
        target_type = target_type or dtype
        valid_column = f"{ref.column}__valid"
        valid = pl.col(valid_column).fill_null(True) if valid_column in schema else pl.lit(True)
        parts.append(
            projections[ref.dataset]
            .filter(pl.col(ref.column).is_not_null() & valid & pl.col(key).is_not_null())
            .select(
                pl.col(key),
                pl.col(ref.column).cast(target_type).alias("value"),
                pl.lit(rank, pl.Int16).alias("rank"),
                pl.lit(ref.dataset).alias("source"),
                pl.col("_batch_id").cast(pl.String).alias("batch"),
                pl.col("_ingested_at").alias("ingested_at"),
                (pl.col("_source_row") if "_source_row" in schema else pl.lit(0)).cast(pl.Int64).alias("row"),
                # A source may order its own records by event date (the latest registration wins).
                (pl.col("_event_order") if "_event_order" in schema else pl.lit(0)).cast(pl.Int64).alias("event"),
            )
        )
    if not parts:
        raise ConfigError(f"attribute {attribute.name}: none of its sources were projected")
    return pl.concat(parts, how="vertical_relaxed")


def _choose(candidates: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """Per key, the value of the first source in order; within it, the latest record.

    Most keys have one record at their best rank, so only the rest are sorted.
    """
    best = candidates.filter(pl.col("rank") == pl.col("rank").min().over(key))
    several = pl.len().over(key) > 1
    tied = (
        best.filter(several)
        .sort([key, "event", "ingested_at", "batch", "row"], descending=[False, True, True, True, True],
              nulls_last=True)
        .unique(subset=[key], keep="first", maintain_order=True)
    )
    return pl.concat([best.filter(~several), tied])


def resolve(library: Library, projections: Mapping[str, pl.LazyFrame]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Golden records and conflicts for ``library`` (both lazy; collect them together)."""
    key = library.key
    schemas = {name: frame.collect_schema() for name, frame in projections.items()}
    universe = pl.concat(
        [projections[name].select(pl.col(key).cast(pl.String)) for name in library.anchor if name in projections]
    ).filter(pl.col(key).is_not_null()).unique()
    golden = universe
    conflicts = []
    provenance_fields = []
    for attribute in library.attributes:
        candidates = _candidates(attribute, key, projections, schemas)
        chosen = _choose(candidates, key)
        golden = golden.join(
            chosen.select(
                pl.col(key),
                pl.col("value").alias(attribute.name),
                pl.struct(
                    pl.col("source"), pl.col("batch"), pl.col("ingested_at")
                ).alias(f"_prov_{attribute.name}"),
            ),
            on=key, how="left",
        )
        provenance_fields.append(attribute.name)
        if attribute.compare and len(attribute.sources) > 1:
            others = candidates.filter(pl.col("rank") != pl.col("rank").min().over(key))
            conflicts.append(
                chosen.join(others, on=key, suffix="_other")
                .filter(pl.col("value") != pl.col("value_other"))
                .sort([key, "source_other", "value_other", "batch_other", "row_other"])
                .unique(subset=[key, "source_other", "value_other"], keep="first", maintain_order=True)
                .select(
                    pl.lit(library.id).alias("library"),
                    pl.col(key).cast(pl.String).alias("key"),
                    pl.lit(attribute.name).alias("attribute"),
                    pl.col("source").alias("chosen_source"),
                    pl.col("value").cast(pl.String).alias("chosen_value"),
                    pl.col("batch").alias("chosen_batch"),
                    pl.col("source_other").alias("other_source"),
                    pl.col("value_other").cast(pl.String).alias("other_value"),
                    pl.col("batch_other").alias("other_batch"),
                )
            )
    golden = golden.with_columns(
        pl.struct([pl.col(f"_prov_{name}").alias(name) for name in provenance_fields]).alias("provenance")
    ).drop([f"_prov_{name}" for name in provenance_fields]).sort(key)
    conflict_frame = (
        pl.concat(conflicts).sort(["key", "attribute", "other_source", "other_value"])
        if conflicts else pl.LazyFrame(schema=CONFLICT_SCHEMA)
    )
    return golden, conflict_frame
