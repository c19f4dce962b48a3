"""The "before" stage: what the ingest contract refused to load, and whether the counts reconcile.

Ingest already quarantined every record it could not parse or identify (``system.quarantine``)
and logged every file with its counts (``system.ingest_log``). This check reports them as
quality results, per batch, so they are scored and sent back like any other finding:

- ``contract.parse.D``: records that could not be parsed (wrong field count, broken JSON...);
- ``contract.key.D``: records without their key;
- ``contract.reconcile.D``: the batch's counts do not add up: rows read ≠ loaded + quarantined,
  or the raw table or quarantine holds another number of the batch's rows than the log says.

A file refused whole leaves nothing in the lake (by design), so it has no result here; the
ingest command reported it to whoever ran it.
"""

from __future__ import annotations

import polars as pl

from lake import delta
from lake.system import QUARANTINE
from transforms.quality.context import COUNT_SCHEMA, FAILURE_SCHEMA, Findings, QualityContext

#: How lake/ingest.py words the reason of a record quarantined for an empty key.
KEY_REASON_PREFIX = "key column "
#: Characters of a quarantined record's original text kept as the failure's value.
ORIGINAL_TEXT_CHARS = 1000


def _log(ctx: QualityContext) -> pl.DataFrame:
    log = ctx.system("system.ingest_log")
    if log.is_empty():
        return log
    return (log.filter(pl.col("dataset").is_in(list(ctx.datasets)))
            .sort("finished_at").unique("batch_id", keep="last", maintain_order=True))


def _raw_rows(ctx: QualityContext, log: pl.DataFrame) -> pl.DataFrame:
    """Rows per batch in the raw tables (physical datasets)."""
    parts = []
    for dataset_id in log.filter(pl.col("access") == "physical")["dataset"].unique().sort():
        path = ctx.home.table_path("raw", ctx.dataset(dataset_id).raw_table)
        if delta.is_table(path):
            parts.append(delta.scan(path).group_by("_batch_id").agg(pl.len().cast(pl.Int64).alias("raw_rows"))
                         .collect())
    if not parts:
        return pl.DataFrame(schema={"_batch_id": pl.String, "raw_rows": pl.Int64})
    return pl.concat(parts)


def contract(ctx: QualityContext) -> Findings:
    log = _log(ctx)
    if log.is_empty():
        return Findings()
    owners = {d.id: d.provider.id for d in ctx.catalog.datasets.values()}
    quarantine = ctx.system(f"system.{QUARANTINE.name}")
    if quarantine.is_empty():
        quarantine = pl.DataFrame(schema={"batch_id": pl.String, "dataset": pl.String, "source_file": pl.String,
                                          "source_row": pl.Int64, "reason": pl.String, "original_text": pl.String})
    quarantine = quarantine.join(log.select("batch_id"), on="batch_id", how="semi").with_columns(
        pl.when(pl.col("reason").str.starts_with(KEY_REASON_PREFIX))
        .then(pl.concat_str([pl.lit("contract.key."), pl.col("dataset")]))
        .otherwise(pl.concat_str([pl.lit("contract.parse."), pl.col("dataset")])).alias("rule_id"),
    )
    failures = quarantine.select(
        "rule_id", "dataset", pl.col("dataset").replace_strict(owners).alias("department"), "batch_id",
        "source_file", "source_row", pl.lit(None, pl.String).alias("record_key"),
        pl.lit(None, pl.String).alias("field"),
        pl.col("original_text").str.slice(0, ORIGINAL_TEXT_CHARS).alias("value"), pl.col("reason").alias("detail"),
    )
    batches = log.select(
        "dataset", pl.col("dataset").replace_strict(owners).alias("department"), "batch_id", "source_file",
        "rows_read", "rows_loaded", "rows_quarantined", "access",
    )
    failed = failures.group_by("rule_id", "batch_id").agg(pl.len().cast(pl.Int64).alias("failed"))
    quarantine_counts = pl.concat([
        batches.select(pl.concat_str([pl.lit(f"contract.{kind}."), pl.col("dataset")]).alias("rule_id"),
                       "dataset", "department", "batch_id", "source_file", pl.col("rows_read").alias("checked"))
        for kind in ("parse", "key")
    ]).join(failed, on=["rule_id", "batch_id"], how="left").with_columns(pl.col("failed").fill_null(0))

    # Reconciliation: one check per batch.
    held = quarantine.group_by("batch_id").agg(pl.len().cast(pl.Int64).alias("quarantine_rows"))
    reconciled = (
        batches.join(held, on="batch_id", how="left")
        .join(_raw_rows(ctx, log), left_on="batch_id", right_on="_batch_id", how="left")
        .with_columns(pl.col("quarantine_rows").fill_null(0),
                      pl.when(pl.col("access") == "physical").then(pl.col("raw_rows").fill_null(0))
                      .otherwise(pl.col("rows_loaded")).alias("raw_rows"))
        .with_columns(
            ((pl.col("rows_read") != pl.col("rows_loaded") + pl.col("rows_quarantined"))
             | (pl.col("raw_rows") != pl.col("rows_loaded"))
             | (pl.col("quarantine_rows") != pl.col("rows_quarantined"))).alias("off"),
            pl.concat_str([pl.lit("contract.reconcile."), pl.col("dataset")]).alias("rule_id"),
        )
    )
    counts = pl.concat([
        quarantine_counts.select(list(COUNT_SCHEMA)),
        reconciled.select("rule_id", "dataset", "department", "batch_id", "source_file",
                          pl.lit(1, pl.Int64).alias("checked"), pl.col("off").cast(pl.Int64).alias("failed")),
    ])
    mismatches = reconciled.filter(pl.col("off")).select(
        "rule_id", "dataset", "department", "batch_id", "source_file", pl.lit(None, pl.Int64).alias("source_row"),
        pl.lit(None, pl.String).alias("record_key"), pl.lit(None, pl.String).alias("field"),
        pl.lit(None, pl.String).alias("value"),
        pl.format("归集日志记录读取 {} 行、入库 {} 行、隔离 {} 行；原始表实有 {} 行、隔离区实有 {} 行，数量不一致",
                  "rows_read", "rows_loaded", "rows_quarantined", "raw_rows", "quarantine_rows").alias("detail"),
    )
    return Findings(counts.cast(COUNT_SCHEMA).filter(pl.col("checked") > 0),  # type: ignore[arg-type]
                    pl.concat([failures, mismatches]).cast(FAILURE_SCHEMA))  # type: ignore[arg-type]
