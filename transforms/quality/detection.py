"""Quality detection scored against the generator's ``truth/defects.parquet``.

**Granularity.** A finding and a defect match on the *cell*: (dataset, source file name, line
in the file, field). Row-level kinds (``duplicate_row``, ``malformed_row``) and row-level
findings (a repeated key, a quarantined line) have no field and match on the row. The generator
numbers data rows from 1; in a CSV file the line also counts the header, so a CSV defect on
data row *n* is on line *n* + 1 (the ingest's ``_source_row``); other formats use the row.

- **Predicted cells**: the failing records of the latest quality run covering each dataset
  that name a row (dataset-level findings, such as a stale delivery, name none).
- **Defect cells**: every injected defect in a file that was ingested.
- **Precision** = predicted cells that are defect cells / predicted cells.
- **Recall** = defect cells that are predicted / defect cells, overall and per kind.

Every defect kind maps to the dimension that should find it (:data:`KIND_DIMENSIONS`); the
figures per kind also say how many were found by a rule of that dimension.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from govlake.home import Home
from lake import delta
from lake.system import QUALITY_FAILURES, QUALITY_RESULTS

#: Defect kind (govlake/generate/mess.py) -> the dimension of the rules that should find it.
KIND_DIMENSIONS: dict[str, str] = {
    "bad_check_char": "validity",      # the check character (GB 11643 / GB 32100) is wrong
    "id_mistyped": "validity",         # a digit typed wrong or two swapped: the check character catches it
    "lowercase_x": "validity",         # format: written otherwise than the standard spells it
    "fullwidth": "validity",           # format
    "whitespace": "validity",          # format
    "date_format": "validity",         # format
    "missing_value": "completeness",   # an expected or required item is empty
    "id_missing": "completeness",      # the identity number is empty
    "duplicate_row": "uniqueness",     # the key repeats within the batch
    "malformed_row": "validity",       # quarantined at ingest: the record cannot be parsed
    "late_record": "timeliness",       # an earlier delivery already covered its date
    "name_conflict": "consistency",    # differs from the authoritative source
    "birth_date_conflict": "consistency",
}


def _line(file: pl.Expr, row: pl.Expr) -> pl.Expr:
    return pl.when(file.str.ends_with(".csv")).then(row + 1).otherwise(row)


def latest_failures(home: Home) -> pl.DataFrame:
    """The failing records of the latest run covering each dataset."""
    results_path = home.table_path("system", QUALITY_RESULTS.name)
    failures_path = home.table_path("system", QUALITY_FAILURES.name)
    if not delta.is_table(results_path) or not delta.is_table(failures_path):
        return pl.DataFrame()
    runs = (delta.scan(results_path).group_by("dataset", "run_id").agg(pl.col("run_at").max())
            .sort("run_at", "run_id").group_by("dataset").last().select("dataset", "run_id").collect())
    return delta.scan(failures_path).join(runs.lazy(), on=["dataset", "run_id"], how="semi").collect()


def detection(home: Home, defects: pl.DataFrame) -> dict[str, Any]:
    """Precision and recall of the latest quality findings against ``defects`` (truth/defects.parquet)."""
    failures = latest_failures(home)
    if failures.is_empty():
        return {"runs": 0, "note": "no quality run yet; run `govlake quality run`"}
    log = delta.read(home.table_path("system", "ingest_log"), columns=["source_file"])
    delivered = log.select(pl.col("source_file").str.split("/").list.last().alias("file")).unique()
    cell = ["dataset", "file", "line", "field"]
    truth = (
        defects.join(delivered, on="file", how="semi")
        .with_columns(_line(pl.col("file"), pl.col("row_number")).alias("line"), pl.col("field").fill_null(""),
                      pl.col("kind").replace_strict(KIND_DIMENSIONS, default="unmapped").alias("expected"))
    )
    predicted = (
        failures.filter(pl.col("source_row").is_not_null())
        .select("dataset", pl.col("source_file").str.split("/").list.last().alias("file"),
                pl.col("source_row").alias("line"), pl.col("field").fill_null(""), "dimension", "rule_id")
    )
    cells = predicted.group_by(cell).agg(pl.col("dimension").unique().sort().alias("dimensions"))
    truth_cells = truth.select(cell).unique()
    hit = cells.join(truth_cells, on=cell, how="semi")
    found = truth.join(cells, on=cell, how="left").with_columns(
        pl.col("dimensions").is_not_null().alias("found"),
        pl.col("dimensions").list.contains(pl.col("expected")).fill_null(False).alias("by_dimension"),
    )
    found_cells = found.group_by(cell).agg(pl.col("found").any())
    per_kind = (
        found.group_by("kind").agg(pl.len().alias("defects"), pl.col("found").sum().alias("found"),
                                   pl.col("by_dimension").sum().alias("found_by_dimension"),
                                   pl.col("expected").first().alias("dimension"))
        .with_columns((pl.col("found") / pl.col("defects")).alias("recall")).sort("kind")
    )
    per_dimension = (
        predicted.select(*cell, "dimension").unique()
        .join(truth_cells.with_columns(pl.lit(True).alias("true")), on=cell, how="left")
        .group_by("dimension").agg(pl.len().alias("predicted"), pl.col("true").fill_null(False).sum().alias("correct"))
        .with_columns((pl.col("correct") / pl.col("predicted")).alias("precision")).sort("dimension")
    )
    false_positives = (
        predicted.join(truth_cells, on=cell, how="anti").group_by("rule_id").len().sort("len", descending=True)
    )
    missed = found.filter(~pl.col("found")).group_by("dataset", "field", "kind").len().sort("len", descending=True)
    return {
        "granularity": "cell = (dataset, file, line, field); row-level kinds and findings match on the row",
        "predicted_cells": cells.height, "defect_cells": truth_cells.height, "true_positive_cells": hit.height,
        "precision": hit.height / cells.height if cells.height else 1.0,
        "recall": int(found_cells["found"].sum()) / found_cells.height if found_cells.height else 1.0,
        "by_kind": per_kind.to_dicts(), "precision_by_dimension": per_dimension.to_dicts(),
        "false_positives_by_rule": false_positives.head(10).to_dicts(),
        "missed_by_field": missed.head(10).to_dicts(),
    }


def detection_from(home: Home, truth_dir: Path) -> dict[str, Any]:
    return detection(home, pl.read_parquet(truth_dir / "defects.parquet"))


def render(figures: dict[str, Any]) -> list[str]:
    """Lines for ``govlake score``."""
    if "precision" not in figures:
        return [f"Quality detection: {figures.get('note', 'not measured')}"]
    lines = [
        f"Quality detection against truth/defects.parquet ({figures['defect_cells']:,} defect cells, "
        f"{figures['predicted_cells']:,} flagged): precision {figures['precision']:.2%}, "
        f"recall {figures['recall']:.2%}",
        "    kind                 dimension     defects    found   recall",
    ]
    lines += [f"    {row['kind']:<20} {row['dimension']:<12} {row['defects']:>8,} {row['found']:>8,}  "
              f"{row['recall']:7.2%}" for row in figures["by_kind"]]
    lines.append("    precision by dimension: " + ", ".join(
        f"{row['dimension']} {row['precision']:.2%}" for row in figures["precision_by_dimension"]))
    return lines
