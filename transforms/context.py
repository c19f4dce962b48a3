"""What every build step shares: the home, catalog, reference date and standardized sources."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from govlake.errors import NotFound
from govlake.home import Home
from lake import delta
from lake.catalog import Catalog, Dataset
from lake.catalog.libraries import Library
from transforms.rules.base import RuleContext
from transforms.standardize import standardize

if TYPE_CHECKING:
    from collections.abc import Mapping

LINEAGE = ["_batch_id", "_source_file", "_source_sha256", "_source_row", "_ingested_at"]


@dataclass
class BuildContext:
    """State of one build. Steps read sources and earlier outputs through it."""

    home: Home
    catalog: Catalog
    libraries: Mapping[str, Library]
    as_of: dt.date
    rules: RuleContext
    outputs: dict[str, pl.DataFrame] = field(default_factory=dict)
    _standardized: dict[str, pl.DataFrame] = field(default_factory=dict)

    def has_source(self, dataset_id: str) -> bool:
        dataset = self.catalog.dataset(dataset_id)
        if dataset.access == "logical":
            from lake.logical import current_location

            try:
                current_location(self.home, dataset)
            except NotFound:
                return False
            return True
        return delta.is_table(self.home.table_path("raw", dataset.raw_table))

    def raw(self, dataset: Dataset) -> pl.LazyFrame:
        """The raw records of a dataset (logical sources are read in place through DuckDB)."""
        if dataset.access == "logical":
            from lake.extensions import connect
            from lake.logical import current_location, select_sql

            con = connect(extensions=("sqlite_scanner",), extension_dir=self.home.extensions)
            try:
                table = con.execute(select_sql(dataset, current_location(self.home, dataset))).pl()
            finally:
                con.close()
            return table.lazy().with_columns(
                pl.lit(f"{dataset.id}-logical").alias("_batch_id"),
                pl.lit(None, pl.String).alias("_source_file"),
                pl.lit(None, pl.String).alias("_source_sha256"),
                pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_source_row"),
                pl.lit(None, pl.Datetime("us", "UTC")).alias("_ingested_at"),
            )
        return delta.scan(self.home.table_path("raw", dataset.raw_table))

    def standardized(self, dataset_id: str) -> pl.LazyFrame:
        """Standardized records, exact re-sends collapsed: the latest record per dataset key.

        Computed once per build and kept in memory: many projections read the same source,
        and a lazy plan would standardize it again for each.
        """
        if dataset_id not in self._standardized:
            dataset = self.catalog.dataset(dataset_id)
            frame = standardize(self.raw(dataset), dataset, self.rules)
            frame = (
                frame.sort(["_ingested_at", "_batch_id", "_source_row"], nulls_last=False)
                .unique(subset=list(dataset.key), keep="last", maintain_order=True)
            )
            self._standardized[dataset_id] = frame.collect()
        return self._standardized[dataset_id].lazy()

    def output(self, name: str) -> pl.DataFrame:
        if name not in self.outputs:
            raise NotFound(f"build output {name!r} is not produced by an earlier step")
        return self.outputs[name]
