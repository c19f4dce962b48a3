"""Build contexts for step tests: sources are rows given in the test, not raw Delta tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from govlake.home import Home
from lake.catalog import load_catalog
from lake.catalog.libraries import load_libraries
from transforms.context import BuildContext
from transforms.rules.base import RuleContext
from transforms.standardize import standardize

Rows = Sequence[Mapping[str, str | None]]


class FakeContext(BuildContext):
    """A build context whose sources are frames given in the test, not raw Delta tables."""

    def has_source(self, dataset_id: str) -> bool:
        return dataset_id in self._standardized


def make_context(sources: Mapping[str, Rows], outputs: Mapping[str, pl.DataFrame] | None = None, *,
                 as_of: dt.date, home: Path | None = None, file_name: str = "test.csv") -> BuildContext:
    """A context whose ``standardized(id)`` gives ``sources[id]`` (raw text rows) after standardization."""
    catalog = load_catalog()
    rules = RuleContext.from_catalog(catalog, as_of)
    ctx = FakeContext(home=Home(home or Path("/nonexistent-govlake-home")), catalog=catalog,
                      libraries=load_libraries(), as_of=as_of, rules=rules, outputs=dict(outputs or {}))
    for dataset_id, rows in sources.items():
        dataset = catalog.dataset(dataset_id)
        raw = pl.DataFrame(
            {column: [row.get(column) for row in rows] for column in dataset.columns},
            schema={column: pl.String for column in dataset.columns},
        ).with_columns(
            pl.lit(f"{dataset_id}-batch").alias("_batch_id"),
            pl.lit(file_name).alias("_source_file"),
            pl.lit("0" * 64).alias("_source_sha256"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_source_row"),
            pl.lit(dt.datetime(2026, 11, 20, tzinfo=dt.UTC)).alias("_ingested_at"),
        )
        ctx._standardized[dataset_id] = standardize(raw.lazy(), dataset, rules).collect()
    return ctx
