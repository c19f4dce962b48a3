"""Every table in a home: zone, name, path, Delta version and row count."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from govlake.home import ZONES, Home
from lake import delta


@dataclass(frozen=True)
class TableInfo:
    name: str  # zone.table
    zone: str
    path: str
    version: int | None
    rows: int | None
    description: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_tables(home: Home, *, with_rows: bool = True) -> list[TableInfo]:
    """All Delta tables by zone, then logical sources (zone ``logical``, queried in place)."""
    tables: list[TableInfo] = []
    for zone in ZONES:
        folder = home.zone(zone)
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if delta.is_table(p)):
            meta = delta.metadata(path)
            tables.append(TableInfo(
                name=f"{zone}.{path.name}", zone=zone, path=str(path), version=delta.version(path),
                rows=delta.row_count(path) if with_rows else None, description=meta["description"] or "",
            ))
    tables.extend(_logical_tables(home))
    return tables


def _logical_tables(home: Home) -> list[TableInfo]:
    import polars as pl

    from lake.catalog import load_catalog
    from lake.logical import inspect_sqlite
    from lake.system import LOGICAL_SOURCES

    path = home.table_path("system", LOGICAL_SOURCES.name)
    if not delta.is_table(path):
        return []
    catalog = load_catalog()
    latest = delta.read(path).sort("registered_at").group_by("dataset", maintain_order=True).last()
    infos = []
    for row in latest.iter_rows(named=True):
        dataset = catalog.dataset(row["dataset"])
        rows: int | None
        try:
            from pathlib import Path

            _, rows = inspect_sqlite(Path(row["location"]), row["source_table"])
        except Exception:  # the source may be offline; show it without a count
            rows = None
        infos.append(TableInfo(name=f"logical.{dataset.id}", zone="logical", path=row["location"],
                               version=None, rows=rows, description=dataset.name))
    del pl
    return infos
