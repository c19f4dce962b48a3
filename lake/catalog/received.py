"""The home's own catalog entries: datasets this node received from a higher-level node (回流).

The shipped catalog (``lake/catalog``) describes the source datasets of departments and is
under version control; a node does not edit it when it receives data. A received dataset is
recorded instead as ``<home>/catalog/received/<id>.toml``, one file per dataset, written by
:func:`lake.handback.receive` and read back, validated, by :func:`load_received`. The home's
catalog is the shipped catalog plus these entries (``govlake handback list`` shows them).

A received entry is not a :class:`~lake.catalog.model.Dataset`: it has no department
contract, file pattern or data elements to check a source file against. It records what a
reader needs instead: where the data is (``access`` physical = a copy in this home's raw
zone; logical = read in place from the package), the source node, the source table and its
Delta version, the division slice, the grant or legal basis, and the column comments.

The home's whole catalog is a :class:`HomeCatalog` (:func:`lake.catalog.load.load_home_catalog`):
``govlake catalog list / show / search`` show the received datasets with the shipped ones,
marked as received (回流) with their source node, and search ranks both together.

>>> # load_received(home)["population_3301"].location
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import ConfigError, NotFound, did_you_mean
from govlake.home import Home
from lake.catalog.load import IDENTIFIER, need, read_toml
from lake.catalog.model import Catalog, Dataset, Department, Item, Open, Share

if TYPE_CHECKING:
    from lake.catalog.search import SearchHit

ACCESS = ("physical", "logical")
REQUIRED_KEYS = (
    "id", "name", "abstract", "access", "location", "source_node_id", "source_node_name", "source_table",
    "source_version", "division", "division_name", "package_id", "exported_at", "received_at", "rows",
)
OPTIONAL_KEYS = ("grant_id", "basis", "table_version", "columns")
_DIVISION = re.compile(r"^(\d{2}|\d{4}|\d{6})$")


@dataclass(frozen=True)
class ReceivedDataset:
    """One dataset received from a higher-level node, as this home's catalog records it."""

    id: str
    name: str
    abstract: str
    access: str  # physical | logical
    location: str  # physical: this home's raw table; logical: the package's Delta table
    source_node_id: str
    source_node_name: str
    source_table: str  # zone.table at the source node
    source_version: int
    division: str  # division code prefix of the slice
    division_name: str
    package_id: str
    exported_at: dt.datetime
    received_at: dt.datetime
    rows: int
    grant_id: str = ""
    basis: str = ""
    table_version: int | None = None
    columns: dict[str, str] = field(default_factory=dict)  # column -> comment
    file: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = {key: getattr(self, key) for key in (*REQUIRED_KEYS, *OPTIONAL_KEYS)}
        data["exported_at"] = _timestamp(self.exported_at)
        data["received_at"] = _timestamp(self.received_at)
        return data


@dataclass(frozen=True)
class HomeCatalog:
    """A home's catalog: the shipped catalog of source datasets, and the datasets received by return flow."""

    catalog: Catalog
    received: dict[str, ReceivedDataset]

    def find(self, key: str) -> ReceivedDataset | None:
        """The received dataset named by id or exact name (full-width tolerated), else None."""
        from lake.catalog.search import normalize

        wanted = normalize(key).strip().replace(" ", "")
        return next((d for d in self.received.values() if wanted in (d.id, normalize(d.name))), None)

    def search(self, text: str, *, limit: int = 10) -> list[tuple[SearchHit, ReceivedDataset | None]]:
        """Shipped and received datasets matching ``text``, ranked together, best first.

        Each hit comes with its received dataset (None for a shipped one). Received datasets
        are indexed by their name, abstract, source node, division and columns
        (:func:`search_entry`); with none received this is :func:`lake.catalog.search.search`.
        """
        from lake.catalog.search import search

        if not self.received:
            return [(hit, None) for hit in search(self.catalog, text, limit=limit)]
        entries = {d.id: search_entry(d) for d in self.received.values()}
        combined = Catalog(datasets={**self.catalog.datasets, **entries}, departments=self.catalog.departments,
                           elements=self.catalog.elements, code_tables=self.catalog.code_tables,
                           classification=self.catalog.classification)
        return [(hit, self.received[hit.dataset.id] if hit.dataset.id in entries else None)
                for hit in search(combined, text, limit=limit)]


#: The classification a received dataset is searched under (it has no resource code of its own).
RECEIVED_CLASS = "回流数据"


def search_entry(dataset: ReceivedDataset) -> Dataset:
    """A received dataset as a catalog entry, only for searching: no code, contract or open grade.

    Its provider is the source node, its classification 回流数据 / the division / the source
    table, and its items the received columns with their comments.
    """
    node = Department(id=dataset.source_node_id, name=dataset.source_node_name,
                      short_name=dataset.source_node_name, code="", sla_days=1)
    items = tuple(Item(column=name, source=name, element="", description=comment)
                  for name, comment in dataset.columns.items())
    return Dataset(
        id=dataset.id, code="", name=dataset.name, provider=node, abstract=dataset.abstract, format="parquet",
        file_pattern="", update_cycle="yearly", publish_date=dataset.exported_at.date(), grade="general",
        access="physical" if dataset.access == "physical" else "logical", key=(), share=Share("none"),
        open=Open("none"), items=items,
        classification=(RECEIVED_CLASS, f"{dataset.division} {dataset.division_name}", dataset.source_table),
        file=dataset.file,
    )


def received_dir(home: Home) -> Path:
    """Where the home keeps its catalog entries for received datasets."""
    return home.root / "catalog" / "received"


def load_received(home: Home) -> dict[str, ReceivedDataset]:
    """Every received dataset of ``home``, validated; errors name the file, the key and the fix."""
    folder = received_dir(home)
    if not folder.is_dir():
        return {}
    datasets: dict[str, ReceivedDataset] = {}
    for path in sorted(folder.glob("*.toml")):
        dataset = _load_one(path)
        datasets[dataset.id] = dataset
    return datasets


def received_dataset(home: Home, dataset_id: str) -> ReceivedDataset:
    datasets = load_received(home)
    if dataset_id not in datasets:
        raise NotFound(
            f"no received dataset {dataset_id!r} in {received_dir(home)}{did_you_mean(dataset_id, datasets)}; "
            "`govlake handback list` shows what this home has received"
        )
    return datasets[dataset_id]


def _load_one(path: Path) -> ReceivedDataset:
    table = read_toml(path)
    where = str(path)
    unknown = sorted(set(table) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}{did_you_mean(unknown[0], (*REQUIRED_KEYS, *OPTIONAL_KEYS))}; "
            "docs/return-flow.md lists the keys of a received dataset",
            location=f"{where}: {unknown[0]}",
        )
    dataset_id = need(table, "id", str, where)
    if not IDENTIFIER.match(dataset_id) or path.stem != dataset_id:
        raise ConfigError(
            f"id {dataset_id!r} must be lower_snake_case ASCII and match the file name {path.name!r}",
            location=f"{where}: id",
        )
    access = need(table, "access", str, where)
    if access not in ACCESS:
        raise ConfigError(f"access {access!r} is not one of {', '.join(ACCESS)}", location=f"{where}: access")
    division = need(table, "division", str, where)
    if not _DIVISION.match(division):
        raise ConfigError(f"division {division!r} must be a 2, 4 or 6 digit code prefix",
                          location=f"{where}: division")
    columns = table.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ConfigError("columns must be a table of column = \"comment\"", location=f"{where}: columns")
    table_version = table.get("table_version")
    if table_version is not None and not isinstance(table_version, int):
        raise ConfigError(f"table_version must be an integer, got {table_version!r}",
                          location=f"{where}: table_version")
    return ReceivedDataset(
        id=dataset_id,
        name=need(table, "name", str, where),
        abstract=need(table, "abstract", str, where),
        access=access,
        location=need(table, "location", str, where),
        source_node_id=need(table, "source_node_id", str, where),
        source_node_name=need(table, "source_node_name", str, where),
        source_table=need(table, "source_table", str, where),
        source_version=need(table, "source_version", int, where),
        division=division,
        division_name=need(table, "division_name", str, where),
        package_id=need(table, "package_id", str, where),
        exported_at=_parse_time(need(table, "exported_at", str, where), f"{where}: exported_at"),
        received_at=_parse_time(need(table, "received_at", str, where), f"{where}: received_at"),
        rows=need(table, "rows", int, where),
        grant_id=str(table.get("grant_id", "")),
        basis=str(table.get("basis", "")),
        table_version=table_version,
        columns=dict(columns),
        file=where,
    )


def write_received(home: Home, dataset: ReceivedDataset) -> Path:
    """Write (or replace) the catalog entry of a received dataset, atomically."""
    folder = received_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dataset.id}.toml"
    lines = [
        "# A dataset received from a higher-level node (回流). Written by `govlake handback receive`;",
        "# docs/return-flow.md describes the keys. The data itself is not in this file.",
    ]
    data = dataset.as_dict()
    columns = data.pop("columns")
    for key, value in data.items():
        if value is None:
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    lines.append("")
    lines.append("[columns]")
    lines.extend(f"{_toml_key(name)} = {_toml_value(comment)}" for name, comment in columns.items())
    partial = path.with_suffix(".toml.part")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a valid TOML basic string (same escapes; control characters as \\uXXXX).
    return json.dumps(str(value), ensure_ascii=False)


def _toml_key(name: str) -> str:
    return name if IDENTIFIER.match(name) else json.dumps(name, ensure_ascii=False)


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str, where: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ConfigError(f"{text!r} is not a UTC time like 2026-11-22T08:00:00.000000Z", location=where) from None
