"""Return flow (数据回流): a higher-level node returns a slice of its libraries to a lower-level one.

A province's GovLake returns, for example, the population records of one city to that
city's GovLake. :func:`export` writes the slice as a *package*, a folder of Delta tables
written through :mod:`lake.delta`, with a manifest (``handback.json``) holding the
provenance: the source node, each source table's Delta version (the latest build's), the
division filter, the grant or legal basis, when and by whom, and the SHA-256 of every file.

:func:`receive` checks a package whole (manifest, hashes, row counts, and that every row is
inside the division) and refuses it whole if anything is wrong; only then does it ingest
each table as a dataset of the receiving home, either

* ``physical`` (物理汇聚): copied into the receiving home's raw zone as ``raw.<id>``, with the
  raw zone's lineage columns (the package is the batch), or
* ``logical`` (逻辑接入): registered where it lies in the package and read in place,

and registers it in the receiving home's own catalog (:mod:`lake.catalog.received`,
``<home>/catalog/received/<id>.toml``), never in the shipped catalog. Both sides log to a
system table (``handback_exports`` / ``handback_received``) and to the audit trail.

Authority: an export needs a legal basis in words (``basis``: the higher-level node returns its
own libraries' records as stored, e.g. under a provincial regulation on data return), or a
sharing grant (``grant``, :mod:`lake.sharing`). A grant is only as wide as what it approved: it
must be active, name the table as its target (the governed view of the same name), cover the
division with its row scope, and include the division column; the rows are then read through
the grantee's governed session (``reader``, :func:`views.handback.grant_reader`), so the package
holds exactly the granted columns, masked as granted, and each read counts as use of the grant.

Safe defaults: an export never writes into a folder that has files, and a package is never
received twice or over a newer slice.

>>> # package = export(province, to=Path("to-hangzhou"), division="3301", basis="...")
>>> # receive(hangzhou, package.path)
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import shutil
import tomllib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import ContractError, GovLakeError, NotFound, PolicyDenied, StateError, did_you_mean
from govlake.home import Home
from lake import audit, delta
from lake.catalog.received import ReceivedDataset, load_received, write_received
from lake.locks import file_lock
from lake.system import BUILDS, HANDBACK_EXPORTS, HANDBACK_RECEIVED, LINEAGE_COLUMNS

if TYPE_CHECKING:
    import polars as pl

#: Bumped when the package layout changes; a newer package is refused rather than half-read.
PACKAGE_FORMAT = 1
MANIFEST = "handback.json"
NODE_FILE = "node.toml"
_DIVISION = re.compile(r"^\d{2}(\d{2}(\d{2})?)?$")


@dataclass(frozen=True)
class HandbackTable:
    """A library table that can be returned, and the column that places each row in a division."""

    name: str
    table: str  # zone.table
    division_column: str
    title: str


#: The tables a node can return, by name. A literal table: add a row to return another library.
HANDBACK_TABLES: dict[str, HandbackTable] = {
    table.name: table for table in (
        HandbackTable("population", "base.population", "hukou_division", "人口基础库"),
        HandbackTable("legal_entity", "base.legal_entity", "division", "法人基础库"),
        HandbackTable("credit_entity", "base.credit_entity", "division", "法人信用"),
        HandbackTable("credit_person", "base.credit_person", "hukou_division", "个人信用"),
        HandbackTable("e_licence", "base.e_licence", "division", "电子证照库"),
    )
}


#: Reads one table's slice: (table, division prefix, source version) -> (rows, version actually read).
Reader = Callable[[HandbackTable, str, "int | None"], "tuple[pl.DataFrame, int]"]


@dataclass(frozen=True)
class Node:
    """This GovLake's identity as a node of the national system (``<home>/node.toml``)."""

    id: str
    name: str


@dataclass(frozen=True)
class PackageTable:
    name: str
    source_table: str
    source_version: int
    division_column: str
    title: str
    rows: int
    columns: dict[str, str]  # column -> comment
    files: dict[str, str]  # path relative to the package -> sha256


@dataclass(frozen=True)
class Package:
    """A return-flow package as its manifest describes it."""

    path: Path
    package_id: str
    source_node: Node
    division: str
    division_name: str
    grant_id: str
    basis: str
    exported_at: dt.datetime
    exported_by: str
    tables: dict[str, PackageTable]

    def table_path(self, name: str) -> Path:
        return self.path / "tables" / name


@dataclass(frozen=True)
class Received:
    """What :func:`receive` did with one table of a package."""

    dataset: ReceivedDataset
    already: bool  # the package had been received before: nothing was written


# --------------------------------------------------------------------------- node identity


def node(home: Home) -> Node:
    """The home's node identity, created on first use (edit ``name`` in ``<home>/node.toml``)."""
    path = home.root / NODE_FILE
    if not path.exists():
        home.root.mkdir(parents=True, exist_ok=True)
        fresh = Node(id=uuid.uuid4().hex, name=home.root.name)
        partial = path.with_suffix(".part")
        partial.write_text(
            "# This GovLake's identity as a node, recorded in the provenance of return-flow packages.\n"
            f"id = {json.dumps(fresh.id)}\nname = {json.dumps(fresh.name, ensure_ascii=False)}\n",
            encoding="utf-8",
        )
        try:
            os.link(partial, path)  # first writer wins; a concurrent one reads the winner's id
        except FileExistsError:
            pass
        finally:
            partial.unlink(missing_ok=True)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return Node(id=str(raw["id"]), name=str(raw.get("name") or home.root.name))
    except (tomllib.TOMLDecodeError, KeyError) as exc:
        raise GovLakeError(f"{path}: not a node file ({exc}); delete it to get a new node id") from exc


# --------------------------------------------------------------------------- divisions


def division_prefix(code: str) -> str:
    """The code prefix of a division: ``3301`` and ``330100`` both give ``3301``; ``330000`` gives ``33``."""
    text = code.strip()
    if not _DIVISION.match(text):
        raise GovLakeError(
            f"division {code!r} is not a division code: give 2, 4 or 6 digits of a GB/T 2260 code, "
            "e.g. 33 (浙江省), 3301 (杭州市) or 330106 (西湖区)"
        )
    if len(text) == 6:
        text = text[:4] if text.endswith("00") else text
        text = text[:2] if len(text) == 4 and text.endswith("00") else text
    return text


def division_name(prefix: str) -> str:
    from lake.reference import division_names

    names = division_names()
    code = prefix.ljust(6, "0")
    if code not in names:
        raise NotFound(f"division {prefix!r} ({code}) is not in the division list (lake/reference_data/divisions.csv)")
    return names[code]


# --------------------------------------------------------------------------- export


def export(home: Home, *, to: Path, division: str, tables: Sequence[str] = ("population",),
           grant: str | None = None, basis: str | None = None, by: str | None = None,
           reader: Reader | None = None) -> Package:
    """Write the ``division`` slice of ``tables`` to a new package folder ``to``; return its manifest.

    Needs ``basis`` (the legal basis, in words; rows as stored) or ``grant`` (an active sharing
    grant) with ``reader`` reading through the grantee's governed session (see the module docs).
    """
    prefix = division_prefix(division)
    place = division_name(prefix)
    by = by or getpass.getuser()
    chosen = _chosen_tables(tables)
    grant_id, basis_text = _authority(home, grant=grant, basis=basis, prefix=prefix, by=by, tables=chosen)
    if grant_id and reader is None:
        raise StateError("an export under a grant reads through the grantee's governed session: pass "
                         "reader=views.handback.grant_reader(home, grant), as `govlake handback export --grant` does")
    to = Path(to).absolute()
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise StateError(f"{to} already exists and is not an empty folder; a package is never written over "
                         "files: choose a new folder")
    versions = _built_versions(home)
    missing = [t.table for t in chosen if not delta.is_table(home.table_path(*t.table.split(".", 1)))]
    if missing:
        raise StateError(f"{', '.join(missing)} not built in {home.root}; run `govlake build` first")

    source = node(home)
    package_id = uuid.uuid4().hex
    exported_at = dt.datetime.now(dt.UTC)
    staging = to.with_name(f".{to.name}.partial-{package_id[:8]}")
    staging.mkdir(parents=True)
    try:
        written: dict[str, PackageTable] = {}
        for spec in chosen:
            written[spec.name] = _export_table(home, spec, staging, prefix=prefix, version=versions.get(spec.table),
                                               reader=reader or stored_rows(home),
                                               provenance={"govlake.handback.package": package_id,
                                                           "govlake.handback.source_node": source.id,
                                                           "govlake.handback.division": prefix})
        package = Package(to, package_id, source, prefix, place, grant_id, basis_text, exported_at, by, written)
        (staging / MANIFEST).write_text(json.dumps(_manifest(package), ensure_ascii=False, indent=2) + "\n",
                                        encoding="utf-8")
        if to.exists():
            to.rmdir()  # empty, checked above
        staging.rename(to)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _log_export(home, package)
    return package


def _chosen_tables(names: Sequence[str]) -> list[HandbackTable]:
    chosen = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        if name not in HANDBACK_TABLES:
            raise NotFound(f"no returnable table {name!r}{did_you_mean(name, HANDBACK_TABLES)}; "
                           f"tables are {', '.join(HANDBACK_TABLES)}")
        chosen.append(HANDBACK_TABLES[name])
    if not chosen:
        raise GovLakeError(f"give at least one table to return, e.g. --tables population; tables are "
                           f"{', '.join(HANDBACK_TABLES)}")
    return chosen


def _authority(home: Home, *, grant: str | None, basis: str | None, prefix: str, by: str,
               tables: list[HandbackTable]) -> tuple[str, str]:
    """(grant id, basis): a return needs a legal basis in words, or an active grant that covers it."""
    basis_text = (basis or "").strip()
    if not grant:
        if len(basis_text) < 4:
            raise PolicyDenied(by, "a return-flow export needs --basis TEXT (the legal basis, e.g. "
                               "《浙江省公共数据条例》…回流…) or --grant G (an active sharing grant); "
                               "nothing was written")
        return "", basis_text
    from lake import sharing

    found = sharing.get_grant(home, grant)
    if found.state != "active":
        raise PolicyDenied(by, f"{found.explain_end(sharing.now())}; a return under it is refused")
    for spec in tables:
        if found.target != spec.name:
            raise PolicyDenied(by, f"grant {grant} is for {found.target!r}, not {spec.name!r}; return only the "
                               f"table it grants (--tables {found.target}) or request a grant for {spec.name}")
        if spec.division_column not in found.columns:
            raise PolicyDenied(by, f"grant {grant} does not include {spec.division_column}, the column that places "
                               "rows in a division, so the slice cannot be checked; request it with that column")
    if not prefix.startswith(found.scope):
        raise PolicyDenied(by, f"grant {grant} covers rows of division {found.scope!r}, not {prefix}; return its "
                           f"scope or narrower")
    return grant, basis_text or f"共享授权 {found.id}：{found.legal_basis}"


def _built_versions(home: Home) -> dict[str, int]:
    """zone.table -> Delta version of the latest build (a consistent set), from ``system.builds``."""
    path = home.table_path("system", BUILDS.name)
    if not delta.is_table(path):
        return {}
    builds = delta.read(path, columns=["build_id", "outputs"]).sort("build_id")
    if builds.height == 0:
        return {}
    outputs: dict[str, int] = json.loads(builds["outputs"][-1])
    return outputs


def stored_rows(home: Home) -> Reader:
    """The default reader: a table's slice as stored, at the given (build) version."""
    import polars as pl

    def read(spec: HandbackTable, prefix: str, version: int | None) -> tuple[pl.DataFrame, int]:
        path = home.table_path(*spec.table.split(".", 1))
        chosen = version if version is not None else delta.version(path)
        assert chosen is not None
        frame = delta.scan(path, version=chosen).filter(pl.col(spec.division_column).str.starts_with(prefix))
        return frame.collect(), chosen

    return read


def _export_table(home: Home, spec: HandbackTable, staging: Path, *, prefix: str, version: int | None,
                  reader: Reader, provenance: dict[str, str]) -> PackageTable:
    source_path = home.table_path(*spec.table.split(".", 1))
    frame, version = reader(spec, prefix, version)
    meta = delta.metadata(source_path)
    comments = {name: comment for name, comment in meta["columns"].items() if comment}
    target = staging / "tables" / spec.name
    description = f"回流：{spec.title}（区划 {prefix}），来自 {spec.table} v{version}。{meta['description'] or ''}"
    delta.write(target, frame.to_arrow(), mode="overwrite", description=description,
                comments=comments,
                commit_info={**provenance, "govlake.handback.source_table": spec.table,
                             "govlake.handback.source_version": str(version)})
    files = {str(path.relative_to(staging)): _sha256(path) for path in sorted(target.rglob("*")) if path.is_file()}
    return PackageTable(spec.name, spec.table, version, spec.division_column, spec.title, frame.height,
                        {name: comments.get(name, "") for name in frame.columns}, files)


def _manifest(package: Package) -> dict[str, Any]:
    return {
        "format": PACKAGE_FORMAT,
        "package_id": package.package_id,
        "source_node": {"id": package.source_node.id, "name": package.source_node.name},
        "division": package.division,
        "division_name": package.division_name,
        "grant_id": package.grant_id,
        "basis": package.basis,
        "exported_at": _timestamp(package.exported_at),
        "exported_by": package.exported_by,
        "tables": {
            name: {"source_table": t.source_table, "source_version": t.source_version,
                   "division_column": t.division_column, "title": t.title, "rows": t.rows,
                   "columns": t.columns, "files": t.files}
            for name, t in package.tables.items()
        },
    }


def _log_export(home: Home, package: Package) -> None:
    import polars as pl

    tables = {name: {"source_table": t.source_table, "source_version": t.source_version, "rows": t.rows}
              for name, t in package.tables.items()}
    row = {
        "package_id": package.package_id, "source_node_id": package.source_node.id,
        "source_node_name": package.source_node.name, "division": package.division,
        "division_name": package.division_name, "tables": json.dumps(tables, ensure_ascii=False, sort_keys=True),
        "grant_id": package.grant_id, "basis": package.basis, "destination": str(package.path),
        "exported_at": package.exported_at, "exported_by": package.exported_by,
    }
    frame = pl.DataFrame([row], schema={**dict.fromkeys(row, pl.String), "exported_at": pl.Datetime("us", "UTC")})
    delta.write(home.table_path("system", HANDBACK_EXPORTS.name), frame.to_arrow(),
                txn=(f"govlake.handback.export/{package.package_id}", 1),
                description=HANDBACK_EXPORTS.description, comments=HANDBACK_EXPORTS.columns)
    audit.record_event(home, user=package.exported_by, action="handback.export",
                       detail=json.dumps({"package_id": package.package_id, "division": package.division,
                                          "tables": tables, "grant_id": package.grant_id, "basis": package.basis,
                                          "to": str(package.path)}, ensure_ascii=False),
                       views=tuple(t.source_table for t in package.tables.values()))


# --------------------------------------------------------------------------- reading a package


def read_package(path: Path) -> Package:
    """Read and check a package: manifest, file hashes, rows and division. Refuses it whole (ContractError)."""
    import polars as pl

    path = Path(path).absolute()
    manifest_path = path / MANIFEST
    where = str(manifest_path)
    if not manifest_path.is_file():
        raise ContractError(f"no {MANIFEST}: not a return-flow package (make one with `govlake handback export`)",
                            file=str(path))
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read the manifest ({exc}); export the package again", file=where) from exc
    fmt = raw.get("format")
    if not isinstance(fmt, int) or fmt > PACKAGE_FORMAT:
        raise ContractError(f"package format {fmt!r} is not one this GovLake reads (up to {PACKAGE_FORMAT}); "
                            "upgrade GovLake or export with the same version", file=where)
    try:
        source = Node(str(raw["source_node"]["id"]), str(raw["source_node"]["name"]))
        package = Package(
            path=path, package_id=str(raw["package_id"]), source_node=source, division=str(raw["division"]),
            division_name=str(raw["division_name"]), grant_id=str(raw.get("grant_id") or ""),
            basis=str(raw.get("basis") or ""), exported_at=_parse_time(str(raw["exported_at"])),
            exported_by=str(raw.get("exported_by") or ""),
            tables={name: PackageTable(name, str(t["source_table"]), int(t["source_version"]),
                                       str(t["division_column"]), str(t["title"]), int(t["rows"]),
                                       dict(t["columns"]), dict(t["files"]))
                    for name, t in dict(raw["tables"]).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(f"the manifest lacks or mangles {exc}; export the package again", file=where) from exc
    if not _DIVISION.match(package.division) or not package.tables:
        raise ContractError(f"division {package.division!r} or the table list is not valid", file=where)
    if not package.grant_id and not package.basis:
        raise ContractError("the package records neither a grant nor a legal basis; it cannot be received",
                            file=where)
    for name, table in package.tables.items():
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise ContractError(f"table name {name!r} is not lower_snake_case", file=where)
        folder = package.table_path(name)
        on_disk = {str(p.relative_to(path)) for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()
        if on_disk != set(table.files):
            extra, lost = sorted(on_disk - set(table.files)), sorted(set(table.files) - on_disk)
            raise ContractError(f"table {name}: files differ from the manifest (missing {lost[:3]}, unexpected "
                                f"{extra[:3]}); the package is incomplete or was changed: export it again",
                                file=str(folder))
        for relative, expected in table.files.items():
            if _sha256(path / relative) != expected:
                raise ContractError(f"{relative} does not match its SHA-256 in the manifest: the package was "
                                    "changed after export; export it again", file=str(path / relative))
        frame = delta.scan(folder)
        counts = frame.select(pl.len().alias("rows"),
                              (~pl.col(table.division_column).fill_null("").str.starts_with(package.division))
                              .sum().alias("outside")).collect().row(0, named=True)
        if counts["rows"] != table.rows:
            raise ContractError(f"table {name} has {counts['rows']:,} rows, the manifest says {table.rows:,}",
                                file=str(folder))
        if counts["outside"]:
            raise ContractError(f"table {name}: {counts['outside']:,} rows are outside division {package.division} "
                                f"({table.division_column}); the package is not the slice it claims to be",
                                file=str(folder))
    return package


# --------------------------------------------------------------------------- receiving


def receive(home: Home, path: Path, *, access: str = "physical", by: str | None = None) -> list[Received]:
    """Check the package at ``path`` and ingest each of its tables as a dataset of ``home``."""
    if access not in ("physical", "logical"):
        raise GovLakeError(f"access must be physical or logical, got {access!r}")
    package = read_package(path)
    by = by or getpass.getuser()
    here = node(home)
    if here.id == package.source_node.id:
        raise StateError(f"package {package.package_id} was exported by this node ({here.name}); receive it in the "
                         "lower-level node's home (govlake --home LOWER handback receive DIR)")
    results = []
    with file_lock(home, "handback"):
        known = load_received(home)
        for name, table in package.tables.items():
            dataset_id = f"{name}_{package.division}"
            current = known.get(dataset_id)
            if current is not None and current.package_id == package.package_id:
                results.append(Received(current, already=True))
                continue
            if current is not None and current.exported_at > package.exported_at:
                raise StateError(
                    f"{dataset_id} already holds a newer slice (package {current.package_id}, exported "
                    f"{_timestamp(current.exported_at)}) than this one ({_timestamp(package.exported_at)}); "
                    "nothing was written")
            results.append(Received(_receive_table(home, package, table, dataset_id, access, by), already=False))
    return results


def _receive_table(home: Home, package: Package, table: PackageTable, dataset_id: str, access: str,
                   by: str) -> ReceivedDataset:
    import polars as pl

    received_at = dt.datetime.now(dt.UTC)
    source = package.table_path(table.name)
    authority = package.basis or f"共享授权 {package.grant_id}"
    table_version: int | None
    if access == "physical":
        frame = delta.read(source).with_columns(
            pl.lit(f"handback-{package.package_id}").alias("_batch_id"),
            pl.lit(str(source)).alias("_source_file"),
            pl.lit(_sha256(package.path / MANIFEST)).alias("_source_sha256"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_source_row"),
            pl.lit(received_at).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
        )
        location = home.table_path("raw", dataset_id)
        table_version = delta.write(
            location, frame.to_arrow(), mode="overwrite",
            txn=(f"govlake.handback/{dataset_id}", int(package.exported_at.timestamp() * 1000)),
            description=f"回流数据集：{table.title}（{package.division_name}），来自节点 {package.source_node.name} 的 "
                        f"{table.source_table} v{table.source_version}",
            comments={**{k: v for k, v in table.columns.items() if v}, **LINEAGE_COLUMNS},
            commit_info={"govlake.handback.package": package.package_id,
                         "govlake.handback.source_node": package.source_node.id},
        )
    else:
        location = source
        table_version = delta.version(source)
    dataset = ReceivedDataset(
        id=dataset_id,
        name=f"{table.title}（{package.division_name}·回流）",
        abstract=(f"由上级节点 {package.source_node.name} 回流的{table.title}，区划 {package.division}"
                  f"（{package.division_name}），{table.rows:,} 行；依据：{authority}。"),
        access=access, location=str(location), source_node_id=package.source_node.id,
        source_node_name=package.source_node.name, source_table=table.source_table,
        source_version=table.source_version, division=package.division, division_name=package.division_name,
        package_id=package.package_id, exported_at=package.exported_at, received_at=received_at, rows=table.rows,
        grant_id=package.grant_id, basis=package.basis, table_version=table_version, columns=table.columns,
    )
    write_received(home, dataset)
    _log_receive(home, dataset, by)
    return dataset


def _log_receive(home: Home, dataset: ReceivedDataset, by: str) -> None:
    import polars as pl

    row = {key: getattr(dataset, key) for key in (
        "package_id", "access", "location", "source_node_id", "source_node_name", "source_table", "division",
        "grant_id", "basis")}
    row.update(dataset=dataset.id, table_version=dataset.table_version, source_version=dataset.source_version,
               rows=dataset.rows, exported_at=dataset.exported_at, received_at=dataset.received_at, received_by=by)
    schema: dict[str, Any] = {**dict.fromkeys(row, pl.String), "table_version": pl.Int64, "source_version": pl.Int64,
              "rows": pl.Int64, "exported_at": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC")}
    frame = pl.DataFrame([row], schema=schema).select(list(HANDBACK_RECEIVED.columns))
    delta.write(home.table_path("system", HANDBACK_RECEIVED.name), frame.to_arrow(),
                txn=(f"govlake.handback.receive/{dataset.package_id}/{dataset.id}", 1),
                description=HANDBACK_RECEIVED.description, comments=HANDBACK_RECEIVED.columns)
    audit.record_event(home, user=by, action="handback.receive",
                       detail=json.dumps({"package_id": dataset.package_id, "dataset": dataset.id,
                                          "access": dataset.access, "rows": dataset.rows,
                                          "source_node": dataset.source_node_name,
                                          "source_table": f"{dataset.source_table} v{dataset.source_version}",
                                          "grant_id": dataset.grant_id, "basis": dataset.basis},
                                         ensure_ascii=False))


def read_received(home: Home, dataset_id: str) -> pl.DataFrame:
    """The rows of a received dataset, wherever it is (this home's raw zone, or the package in place)."""
    from lake.catalog.received import received_dataset

    dataset = received_dataset(home, dataset_id)
    path = Path(dataset.location)
    if not delta.is_table(path):
        raise NotFound(f"received dataset {dataset_id} ({dataset.access}) is not at {path} any more; "
                       "receive its package again" if dataset.access == "logical" else
                       f"received dataset {dataset_id} has no table at {path}; receive its package again")
    return delta.read(path, version=dataset.table_version if dataset.access == "logical" else None)


def exports(home: Home) -> pl.DataFrame:
    """Every package this home exported (``system.handback_exports``), newest first."""
    import polars as pl

    path = home.table_path("system", HANDBACK_EXPORTS.name)
    if not delta.is_table(path):
        return pl.DataFrame(schema={name: pl.String for name in HANDBACK_EXPORTS.columns})
    return delta.read(path).sort("exported_at", descending=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
