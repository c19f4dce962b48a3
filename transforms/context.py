"""What every build step shares: the home, catalog, reference date and standardized sources."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from govlake.errors import EnvironmentProblem, NotFound
from govlake.home import Home
from lake import delta
from lake.catalog import Catalog, Dataset
from lake.catalog.libraries import Library
from transforms.rules.base import RuleContext
from transforms.standardize import standardize

if TYPE_CHECKING:
    from collections.abc import Mapping

LINEAGE = ["_batch_id", "_source_file", "_source_sha256", "_source_row", "_ingested_at"]
_LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "_batch_id": pl.String(), "_source_file": pl.String(), "_source_sha256": pl.String(),
    "_source_row": pl.Int64(), "_ingested_at": pl.Datetime("us", "UTC"),
}

#: The column of each dataset that names a legal entity (a USCC), for scoping entities.
ENTITY_CODES: dict[str, str] = {
    "market_entities": "uscc", "social_orgs": "uscc", "tax_credit": "uscc", "e_licences": "holder_code",
    "admin_licences": "party_id", "admin_penalties": "party_id", "dishonest_debtors": "debtor_id",
    "land_parcels": "holder_id",
}


@dataclass(frozen=True)
class Scope:
    """The records an incremental build looks at (see transforms/incremental.py).

    A raw record is in scope when it came in a new batch, when it is one of ``records``
    (``"<batch>:<row>"`` per dataset: older records of the persons being rebuilt), when it
    is a household-register record of one of ``person_ids``, or when it names one of
    ``entity_ids`` (exactly, or by the 17-character body of its code).
    """

    new_batches: frozenset[str]
    records: Mapping[str, frozenset[str]] = field(default_factory=dict)
    person_ids: frozenset[str] = frozenset()
    entity_ids: frozenset[str] = frozenset()


@dataclass
class BuildContext:
    """State of one build. Steps read sources and earlier outputs through it."""

    home: Home
    catalog: Catalog
    libraries: Mapping[str, Library]
    as_of: dt.date
    rules: RuleContext
    outputs: dict[str, pl.DataFrame] = field(default_factory=dict)
    scope: Scope | None = None
    #: Persons to link against instead of the household register (incremental builds pass
    #: the built population plus new register records).
    link_reference: pl.DataFrame | None = None
    #: Links already made (``base.person_links``), reused for records they cover.
    link_seed: pl.DataFrame | None = None
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
        """The raw records of a dataset, limited to the build's scope when it has one.

        Items the catalog gained after older batches were ingested read as missing there.
        """
        if self.scope is not None and dataset.access == "logical" and not self._scope_reads(dataset):
            # Reading a logical source means scanning the department's database in place;
            # skip it when the scope needs none of its records.
            return pl.LazyFrame(schema={**dict.fromkeys(dataset.columns, pl.String), **_LINEAGE_SCHEMA})
        frame = self._raw(dataset)
        present = frame.collect_schema()
        missing = [column for column in dataset.columns if column not in present]
        if missing:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column) for column in missing)
        return frame if self.scope is None else frame.filter(self._in_scope(dataset))

    def _scope_reads(self, dataset: Dataset) -> bool:
        """Whether the scope can include any record of ``dataset``."""
        scope = self.scope
        assert scope is not None
        return (bool(scope.records.get(dataset.id))
                or any(batch.startswith(f"{dataset.id}-") for batch in scope.new_batches)
                or (dataset.id == "hukou" and bool(scope.person_ids))
                or (dataset.id in ENTITY_CODES and bool(scope.entity_ids)))

    def _normalized(self, dataset: Dataset, column: str) -> pl.Expr:
        from transforms.standardize import rule_for

        element = self.catalog.element_of(dataset, column)
        return rule_for(element)(pl.col(column).cast(pl.String), element, self.rules).value

    def _in_scope(self, dataset: Dataset) -> pl.Expr:
        scope = self.scope
        assert scope is not None
        keep = pl.col("_batch_id").is_in(sorted(scope.new_batches))
        records = scope.records.get(dataset.id)
        if records:
            place = pl.concat_str([pl.col("_batch_id"), pl.lit(":"), pl.col("_source_row").cast(pl.String)])
            keep = keep | place.is_in(sorted(records))
        if dataset.id == "hukou" and scope.person_ids:
            keep = keep | self._normalized(dataset, "resident_id").is_in(sorted(scope.person_ids))
        code = ENTITY_CODES.get(dataset.id)
        if code and scope.entity_ids:
            value = self._normalized(dataset, code)
            bodies = sorted({uscc[:17] for uscc in scope.entity_ids})
            keep = keep | value.is_in(sorted(scope.entity_ids)) | value.str.slice(0, 17).is_in(bodies)
        return keep

    def _raw(self, dataset: Dataset) -> pl.LazyFrame:
        """The raw records of a dataset (logical sources are read in place through DuckDB)."""
        if dataset.access == "logical":
            import duckdb

            from lake.extensions import connect
            from lake.logical import current_location, logical_batch_id, select_sql

            location = current_location(self.home, dataset)
            con = connect(extensions=("sqlite_scanner",), extension_dir=self.home.extensions)
            try:
                table = con.execute(select_sql(dataset, location)).pl()
            except duckdb.Error as exc:
                raise EnvironmentProblem(
                    f"logical source {dataset.id} ({dataset.name}) cannot be read in place at {location}: "
                    f"{str(exc).splitlines()[0]}; make the department's database reachable there, or register "
                    "its new location with `govlake ingest PATH`"
                ) from exc
            finally:
                con.close()
            return table.lazy().with_columns(
                pl.lit(logical_batch_id(dataset, location)).alias("_batch_id"),
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
