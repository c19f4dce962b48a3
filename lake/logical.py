"""Logical access (逻辑接入): datasets queried in place, never copied into the lake.

Registering a logical source checks it against the catalog contract (the table exists
and has the required columns), records its location in ``system.logical_sources`` and
logs it in the ingestion log, so it counts in the aggregation statistics. Readers reach
it through DuckDB's sqlite scanner with the catalog's column names (:func:`select_sql`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from govlake.errors import ContractError, NotFound
from govlake.home import Home
from lake import delta
from lake.catalog import Catalog, Dataset
from lake.sources import _fold_header
from lake.system import INGEST_LOG, LOGICAL_SOURCES

if TYPE_CHECKING:
    from lake.ingest import FileOutcome


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def inspect_sqlite(path: Path, table: str) -> tuple[list[str], int]:
    """Columns and row count of ``table`` in a SQLite file opened read-only."""
    try:
        con = sqlite3.connect(f"file:{path.absolute()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ContractError(f"cannot open as SQLite: {exc}", file=str(path)) from exc
    try:
        try:
            columns = [row[1] for row in con.execute(f"PRAGMA table_info({_quote_ident(table)})")]
        except sqlite3.DatabaseError as exc:
            raise ContractError(f"not a readable SQLite database: {exc}", file=str(path)) from exc
        if not columns:
            names = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            raise ContractError(
                f"table {table!r} not found (tables: {', '.join(names) or 'none'}); the catalog's "
                "source_table names the table to query",
                file=str(path),
            )
        count = int(con.execute(f"SELECT count(*) FROM {_quote_ident(table)}").fetchone()[0])
    finally:
        con.close()
    return columns, count


def register(home: Home, catalog: Catalog, dataset: Dataset, path: Path) -> FileOutcome:
    """Register a logical source after checking its contract; idempotent per location."""
    from lake.ingest import FileOutcome, log_row

    assert dataset.source_table is not None
    location = str(path.absolute())
    columns, count = inspect_sqlite(path, dataset.source_table)
    present = {_fold_header(c) for c in columns}
    missing = [i for i in dataset.items if i.required and _fold_header(i.source) not in present]
    if missing:
        raise ContractError(
            "missing required column(s) " + ", ".join(f"{i.source} ({i.column})" for i in missing)
            + f" in table {dataset.source_table!r} for dataset {dataset.id}",
            file=str(path), columns=[i.column for i in missing],
        )
    batch_id = logical_batch_id(dataset, location)
    app_id = f"govlake.logical/{batch_id}"
    sources_path = home.table_path("system", LOGICAL_SOURCES.name)
    log_path = home.table_path("system", INGEST_LOG.name)
    if delta.txn_version(log_path, app_id) is not None:
        return FileOutcome(path, "already", dataset.id, batch_id,
                           message=f"already registered for logical access as {batch_id}; nothing added")
    import pyarrow as pa

    now = dt.datetime.now(dt.UTC)
    delta.write(sources_path, pa.table({
        "dataset": pa.array([dataset.id], pa.large_string()),
        "location": pa.array([location], pa.large_string()),
        "source_table": pa.array([dataset.source_table], pa.large_string()),
        "registered_at": pa.array([now], pa.timestamp("us", tz="UTC")),
        "rows_at_registration": pa.array([count], pa.int64()),
    }), txn=(app_id, 1), description=LOGICAL_SOURCES.description, comments=LOGICAL_SOURCES.columns)
    delta.write(log_path, log_row(
        batch_id=batch_id, dataset=dataset.id, dataset_code=dataset.code, department=dataset.provider.id,
        access="logical", source_file=location, source_sha256=None, source_bytes=path.stat().st_size,
        encoding="sqlite", rows_read=count, rows_loaded=count, rows_quarantined=0, ignored_columns="",
        raw_version=None, started_at=now, finished_at=dt.datetime.now(dt.UTC), ingested_by="",
    ), txn=(app_id, 1), description=INGEST_LOG.description, comments=INGEST_LOG.columns)
    return FileOutcome(path, "registered", dataset.id, batch_id, count, count, 0, "sqlite",
                       "registered for logical access: queried in place, not copied")


def logical_batch_id(dataset: Dataset, location: str) -> str:
    """The batch id a logical source's records carry: one per registered location."""
    return f"{dataset.id}-logical-{hashlib.sha256(location.encode()).hexdigest()[:16]}"


def current_location(home: Home, dataset: Dataset) -> str:
    """The most recently registered location of a logical dataset."""
    import polars as pl

    path = home.table_path("system", LOGICAL_SOURCES.name)
    if not delta.is_table(path):
        raise NotFound(f"logical dataset {dataset.id} is not registered yet; run `govlake ingest` on its file")
    rows = (delta.scan(path).filter(pl.col("dataset") == dataset.id)
            .sort("registered_at").collect())
    if rows.height == 0:
        raise NotFound(f"logical dataset {dataset.id} is not registered yet; run `govlake ingest` on its file")
    return str(rows["location"][-1])


def select_sql(dataset: Dataset, location: str) -> str:
    """DuckDB SQL reading the source in place with catalog column names, all as text."""
    assert dataset.source_table is not None
    columns = ", ".join(
        f"CAST({_quote_ident(item.source)} AS VARCHAR) AS {item.column}" for item in dataset.items
    )
    return (f"SELECT {columns} FROM sqlite_scan({_quote_literal(location)}, "
            f"{_quote_literal(dataset.source_table)})")
