"""What every quality check shares: the catalog, the rules, the reference dates, and the data read once.

Raw records are read and standardized with the build's own reader and rules
(:class:`transforms.context.BuildContext`, :func:`transforms.standardize.standardize`), so the
"during" findings are exactly the validity flags the build computes. Unlike the build, nothing
is collapsed: every record of every batch is judged, re-sends and duplicates included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from govlake.home import Home
from lake import delta
from lake.catalog.libraries import Library
from lake.catalog.model import Catalog, Dataset
from lake.catalog.quality import QualityRules
from transforms.context import BuildContext
from transforms.quality.derive import QualityRule

if TYPE_CHECKING:
    from pathlib import Path

    from transforms.quality.rechecks import Target

#: Prefix of the copy of each item column as written (the item column itself becomes standardized).
RAW = "__raw__"
RECORD_KEY = "__record_key"
LINEAGE = ["_batch_id", "_source_file", "_source_row"]

COUNT_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(), "dataset": pl.String(), "department": pl.String(), "batch_id": pl.String(),
    "source_file": pl.String(), "checked": pl.Int64(), "failed": pl.Int64(),
}
FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(), "dataset": pl.String(), "department": pl.String(), "batch_id": pl.String(),
    "source_file": pl.String(), "source_row": pl.Int64(), "record_key": pl.String(), "field": pl.String(),
    "value": pl.String(), "detail": pl.String(),
}


#: What a run saw of the records of tickets awaiting re-check (transforms/quality/rechecks.py).
RECHECK_SCHEMA: dict[str, pl.DataType] = {
    "ticket_id": pl.String(), "record_key": pl.String(), "batch_id": pl.String(), "failed": pl.Boolean(),
}


@dataclass
class Findings:
    """What checks found. ``counts``: per rule × dataset × batch; ``failures``: per failing record;
    ``rechecks``: where the records of corrected tickets were checked (only when tickets await re-check)."""

    counts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=COUNT_SCHEMA))
    failures: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FAILURE_SCHEMA))
    rechecks: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RECHECK_SCHEMA))

    def __add__(self, other: Findings) -> Findings:
        return Findings(
            pl.concat([self.counts, other.counts.select(list(COUNT_SCHEMA)).cast(COUNT_SCHEMA)]),  # type: ignore[arg-type]
            pl.concat([self.failures, other.failures.select(list(FAILURE_SCHEMA)).cast(FAILURE_SCHEMA)]),  # type: ignore[arg-type]
            pl.concat([self.rechecks, other.rechecks.select(list(RECHECK_SCHEMA)).cast(RECHECK_SCHEMA)]),  # type: ignore[arg-type]
        )


@dataclass
class QualityContext:
    """State of one quality run.

    ``as_of`` is the data's reference date, the date of the latest ingestion, as the build uses
    it (validity flags then match the build's). ``run_date`` is the day of the run, which the
    update-cycle check measures freshness against. ``built_batches`` are the batches of the
    latest build: rules that read a library (consistency, referential) judge those only. Tables
    are read at ``versions``, the versions the run id was computed from.
    """

    home: Home
    catalog: Catalog
    libraries: Mapping[str, Library]
    declared: QualityRules
    rules: tuple[QualityRule, ...]
    datasets: tuple[str, ...]
    as_of: dt.date
    run_date: dt.date
    build: BuildContext
    built_batches: frozenset[str]
    #: ``zone.table`` -> the Delta version the run reads (the versions its id was computed from).
    versions: dict[str, int | None] = field(default_factory=dict)
    #: Feedback tickets awaiting re-check: the run records where their records were checked.
    recheck_targets: tuple[Target, ...] = ()
    _tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    def rules_of(self, check: str, dataset: str | None = None) -> list[QualityRule]:
        return [r for r in self.rules if r.check == check and (dataset is None or r.dataset == dataset)]

    def dataset(self, dataset_id: str) -> Dataset:
        return self.catalog.dataset(dataset_id)

    def has_source(self, dataset_id: str) -> bool:
        return self.build.has_source(dataset_id)

    def system(self, name: str, columns: list[str] | None = None) -> pl.DataFrame:
        """A system or base table (``zone.table``), read once per run at its pinned version; empty when
        it does not exist."""
        cache = f"{name}:{','.join(columns or [])}"
        if cache not in self._tables:
            zone, table = name.split(".", 1)
            path: Path = self.home.table_path(zone, table)
            exists = delta.is_table(path) and self.versions.get(name, 0) is not None
            self._tables[cache] = (delta.read(path, columns=columns, version=self.versions.get(name))
                                   if exists else pl.DataFrame())
        return self._tables[cache]

    def person_links(self) -> pl.DataFrame:
        """``base.person_links`` by record place: dataset, role, ``_batch_id``, ``_source_row``, resident_id.

        The build names a linked record ``dataset:role:batch:row``; splitting it once lets checks
        join on the record's lineage columns instead of building that text for every record.
        """
        if "person_links:parsed" not in self._tables:
            links = self.system("base.person_links", ["record_id", "resident_id"])
            if links.is_empty():
                parsed = pl.DataFrame(schema={"dataset": pl.String, "role": pl.String, "_batch_id": pl.String,
                                              "_source_row": pl.Int64, "resident_id": pl.String})
            else:
                parts = pl.col("record_id").str.split_exact(":", 3)
                parsed = links.select(
                    parts.struct.field("field_0").alias("dataset"), parts.struct.field("field_1").alias("role"),
                    parts.struct.field("field_2").alias("_batch_id"),
                    parts.struct.field("field_3").cast(pl.Int64, strict=False).alias("_source_row"), "resident_id",
                )
            self._tables["person_links:parsed"] = parsed
        return self._tables["person_links:parsed"]

    def library_keys(self, library_id: str) -> pl.Series | None:
        """The keys of a built base library, or None when it has not been built."""
        key = self.libraries[library_id].key
        table = self.system(f"base.{library_id}", [key])
        return None if table.is_empty() else table[key]

    def records(self, dataset: Dataset) -> pl.DataFrame:
        """Every raw record of ``dataset``: each item standardized (``C``, ``C__valid``) and as written
        (``__raw__C``), with lineage and the standardized record key. Logical sources name their
        location as source file."""
        from transforms.standardize import standardize

        frame = self.build.raw(dataset)
        pinned = self.versions.get(f"raw.{dataset.raw_table}")
        if dataset.access == "physical" and pinned is not None:
            # The version the run id was computed from, even if an ingest has committed since.
            frame = delta.scan(self.home.table_path("raw", dataset.raw_table), version=pinned)
            present = frame.collect_schema()
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column)
                                       for column in dataset.columns if column not in present)
        if dataset.access == "logical":
            from lake.logical import current_location

            frame = frame.with_columns(pl.lit(current_location(self.home, dataset)).alias("_source_file"))
        frame = frame.select(
            *dataset.columns, *LINEAGE, *[pl.col(column).alias(RAW + column) for column in dataset.columns]
        )
        standardized = standardize(frame, dataset, self.build.rules)
        key = pl.concat_str([pl.col(column).cast(pl.String).fill_null("") for column in dataset.key], separator="|")
        return standardized.with_columns(key.alias(RECORD_KEY)).collect()
