"""Physical aggregation (物理汇聚): land department files in the raw zone, losing nothing.

For each file: work out its dataset, refuse it whole if it breaks the catalog contract
(nothing is written), quarantine the records that cannot be parsed, append the rest to
the dataset's raw-zone Delta table with lineage columns, and log the file with its
counts. For every file, rows read = rows loaded + rows quarantined.

Crash safety and idempotency: a file's batch id derives from its dataset and content
hash. Its three writes (quarantine, raw, log) each carry the Delta app transaction
``govlake.ingest/<batch id>``, so a re-run skips the writes that already landed and
finishes the rest; a file whose log entry exists is reported as already ingested. A
per-batch lock keeps two processes from ingesting the same file at the same moment.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import getpass
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from govlake.errors import ContractError, GovLakeError, NotFound
from govlake.home import Home
from lake import delta
from lake.catalog import Catalog, Dataset, load_catalog
from lake.locks import file_lock
from lake.sources import READERS, BadRecord, SourceRead, _fold_header
from lake.system import INGEST_LOG, LINEAGE_COLUMNS, QUARANTINE

if TYPE_CHECKING:
    import pyarrow as pa

Status = Literal["loaded", "already", "refused", "ignored", "registered"]


@dataclass
class FileOutcome:
    """What happened to one file."""

    path: Path
    status: Status
    dataset: str | None = None
    batch_id: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    encoding: str | None = None
    message: str = ""
    ignored_columns: list[str] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def batch_id_for(dataset: Dataset, sha256: str) -> str:
    return f"{dataset.id}-{sha256[:16]}"


def app_id_for(batch_id: str) -> str:
    return f"govlake.ingest/{batch_id}"


def match_dataset(catalog: Catalog, path: Path) -> Dataset | None:
    """The dataset whose ``file_pattern`` matches the file name, if exactly one does."""
    matches = [d for d in catalog.datasets.values() if fnmatch.fnmatch(path.name, d.file_pattern)]
    return matches[0] if len(matches) == 1 else None


def expand(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Files to consider, each with whether the user named it explicitly."""
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                yield child, False
        elif path.is_file():
            yield path, True
        else:
            raise NotFound(f"{path}: no such file or folder")


def _suggest(catalog: Catalog, headers: Sequence[str]) -> str:
    """Name the dataset whose headers best match, for a 'wrong dataset' message."""
    folded = set(headers)
    best, score = None, 0.0
    for dataset in catalog.datasets.values():
        sources = {_fold_header(item.source) for item in dataset.items}
        overlap = len(sources & folded) / max(1, len(sources))
        if overlap > score:
            best, score = dataset, overlap
    if best is not None and score >= 0.5:
        return f"; its headers look like dataset {best.id} ({best.code} {best.name})"
    return ""


@dataclass
class Contracted:
    table: pa.Table  # catalog columns in catalog order, text
    line_numbers: pa.Array
    bad: list[BadRecord]
    ignored_columns: list[str]


def apply_contract(catalog: Catalog, dataset: Dataset, read: SourceRead, file: str,
                   original_text: list[str] | None = None) -> Contracted:
    """Map the file's headers to catalog columns; refuse or quarantine what breaks the contract."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    by_header = {_fold_header(item.source): item for item in dataset.items}
    present = {name for name in read.records.column_names}
    missing = [item for item in dataset.items if _fold_header(item.source) not in present and item.required]
    if missing:
        names = [f"{item.source} ({item.column})" for item in missing]
        raise ContractError(
            f"missing required column(s) {', '.join(names)} for dataset {dataset.id} ({dataset.code} "
            f"{dataset.name}, contract in {Path(dataset.file).name}){_suggest(catalog, read.headers)}; "
            "fix the export or pass the right --dataset",
            file=file,
            columns=[item.column for item in missing],
        )
    ignored = [name for name in read.records.column_names if name not in by_header]
    rows = read.records.num_rows
    arrays = []
    for item in dataset.items:
        header = _fold_header(item.source)
        if header in present:
            arrays.append(read.records.column(header).cast(pa.large_string()))
        else:
            arrays.append(pa.nulls(rows, pa.large_string()))
    table = pa.table(arrays, names=dataset.columns)
    # A record without its key cannot be identified downstream: quarantine it.
    empty_key = np.zeros(rows, dtype=bool)
    reasons = np.full(rows, "", dtype=object)
    for column in dataset.key:
        values = table.column(column)
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True).to_numpy(zero_copy_only=False)
        newly = blank & ~empty_key
        reasons[newly] = f"key column {column} ({dataset.item(column).source}) is empty"
        empty_key |= blank
    bad = list(read.bad)
    if empty_key.any():
        positions = np.flatnonzero(empty_key)
        texts = original_text if original_text is not None else _records_as_json(read, positions.tolist())
        for index, position in enumerate(positions):
            bad.append(BadRecord(int(read.line_numbers[position]), str(reasons[position]), texts[index]))
        keep = pa.array(~empty_key)
        table = table.filter(keep)
        line_numbers = pa.array(read.line_numbers[~empty_key])
    else:
        line_numbers = pa.array(read.line_numbers)
    return Contracted(table, line_numbers, sorted(bad, key=lambda r: r.line), ignored)


def _records_as_json(read: SourceRead, positions: Sequence[int]) -> list[str]:
    subset = read.records.take(list(positions)).to_pylist()
    return [json.dumps(row, ensure_ascii=False) for row in subset]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _quarantine_table(rows: list[BadRecord], *, batch_id: str, dataset: Dataset, file: str, sha: str,
                      at: dt.datetime) -> pa.Table:
    import pyarrow as pa

    n = len(rows)
    return pa.table({
        "batch_id": pa.array([batch_id] * n, pa.large_string()),
        "dataset": pa.array([dataset.id] * n, pa.large_string()),
        "source_file": pa.array([file] * n, pa.large_string()),
        "source_sha256": pa.array([sha] * n, pa.large_string()),
        "source_row": pa.array([r.line for r in rows], pa.int64()),
        "reason": pa.array([r.reason for r in rows], pa.large_string()),
        "original_text": pa.array([r.text for r in rows], pa.large_string()),
        "ingested_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
    })


def log_row(**values: object) -> pa.Table:
    """One ingestion-log row with the log's fixed schema."""
    import pyarrow as pa

    schema = pa.schema([
        ("batch_id", pa.large_string()), ("dataset", pa.large_string()), ("dataset_code", pa.large_string()),
        ("department", pa.large_string()), ("access", pa.large_string()), ("source_file", pa.large_string()),
        ("source_sha256", pa.large_string()), ("source_bytes", pa.int64()), ("encoding", pa.large_string()),
        ("rows_read", pa.int64()), ("rows_loaded", pa.int64()), ("rows_quarantined", pa.int64()),
        ("ignored_columns", pa.large_string()), ("raw_version", pa.int64()),
        ("started_at", pa.timestamp("us", tz="UTC")), ("finished_at", pa.timestamp("us", tz="UTC")),
        ("ingested_by", pa.large_string()),
    ])
    return pa.Table.from_pylist([values], schema=schema)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def ingest_file(home: Home, catalog: Catalog, path: Path, dataset: Dataset) -> FileOutcome:
    """Ingest one physical file for ``dataset``. Raises ContractError when refused."""
    started = _now()
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    batch_id = batch_id_for(dataset, sha)
    app_id = app_id_for(batch_id)
    log_path = home.table_path("system", INGEST_LOG.name)
    raw_path = home.table_path("raw", dataset.raw_table)
    quarantine_path = home.table_path("system", QUARANTINE.name)
    with file_lock(home, f"ingest-{sha}"):
        if delta.txn_version(log_path, app_id) is not None:
            return FileOutcome(path, "already", dataset.id, batch_id,
                               message=f"already ingested as batch {batch_id}; nothing added")
        read = READERS[dataset.format](path, data, declared_encoding=dataset.encoding)
        contracted = apply_contract(catalog, dataset, read, str(path))
        at = _now()
        source = str(path.absolute())
        if contracted.bad:
            delta.write(
                quarantine_path,
                _quarantine_table(contracted.bad, batch_id=batch_id, dataset=dataset, file=source, sha=sha, at=at),
                txn=(app_id, 1), description=QUARANTINE.description, comments=QUARANTINE.columns,
            )
        loaded = contracted.table.num_rows
        raw_version = delta.version(raw_path)
        if loaded:
            raw_version = delta.write(raw_path, _with_lineage(contracted, batch_id, source, sha, at),
                                      txn=(app_id, 1), description=f"{dataset.name}（原始区）：{dataset.abstract}",
                                      comments=_raw_comments(dataset), commit_info={"govlake.batch_id": batch_id})
        quarantined = len(contracted.bad)
        if read.rows_read != loaded + quarantined:  # the contract of this module; never silently lose a row
            raise GovLakeError(f"{path}: internal count mismatch ({read.rows_read} read, {loaded} loaded, "
                               f"{quarantined} quarantined); nothing was logged, please report this")
        delta.write(
            log_path,
            log_row(batch_id=batch_id, dataset=dataset.id, dataset_code=dataset.code,
                    department=dataset.provider.id, access="physical", source_file=source,
                    source_sha256=sha, source_bytes=len(data), encoding=read.encoding,
                    rows_read=read.rows_read, rows_loaded=loaded, rows_quarantined=quarantined,
                    ignored_columns=",".join(contracted.ignored_columns), raw_version=raw_version,
                    started_at=started, finished_at=_now(), ingested_by=_user()),
            txn=(app_id, 1), description=INGEST_LOG.description, comments=INGEST_LOG.columns,
        )
    message = ""
    if contracted.ignored_columns:
        message = f"ignored columns not in the catalog: {', '.join(contracted.ignored_columns)}"
    return FileOutcome(path, "loaded", dataset.id, batch_id, read.rows_read, loaded, quarantined,
                       read.encoding, message, contracted.ignored_columns)


def _raw_comments(dataset: Dataset) -> dict[str, str]:
    comments = {item.column: f"{item.source}：{item.description}" for item in dataset.items}
    comments.update(LINEAGE_COLUMNS)
    return comments


def _with_lineage(contracted: Contracted, batch_id: str, source: str, sha: str, at: dt.datetime) -> pa.Table:
    import pyarrow as pa

    table = contracted.table
    n = table.num_rows
    return (
        table.append_column("_batch_id", pa.array([batch_id] * n, pa.large_string()))
        .append_column("_source_file", pa.array([source] * n, pa.large_string()))
        .append_column("_source_sha256", pa.array([sha] * n, pa.large_string()))
        .append_column("_source_row", contracted.line_numbers.cast(pa.int64()))
        .append_column("_ingested_at", pa.array([at] * n, pa.timestamp("us", tz="UTC")))
    )


def ingest(home: Home, paths: Sequence[Path], *, dataset: str | None = None,
           catalog: Catalog | None = None) -> list[FileOutcome]:
    """Ingest files and folders. A refused file is reported; the others still land."""
    from lake import logical

    catalog = catalog or load_catalog()
    forced = catalog.dataset(dataset) if dataset else None
    outcomes: list[FileOutcome] = []
    for path, explicit in expand(paths):
        target = forced or match_dataset(catalog, path)
        if target is None:
            patterns = ", ".join(sorted(d.file_pattern for d in catalog.datasets.values()))
            if explicit:
                outcomes.append(FileOutcome(path, "refused", message=(
                    f"{path}: no catalog entry's file pattern matches {path.name!r}; pass --dataset CODE "
                    f"or rename the file (patterns: {patterns})")))
            else:
                outcomes.append(FileOutcome(path, "ignored", message="no catalog entry matches this file name"))
            continue
        try:
            if target.access == "logical":
                outcomes.append(logical.register(home, catalog, target, path))
            else:
                outcomes.append(ingest_file(home, catalog, path, target))
        except ContractError as exc:
            outcomes.append(FileOutcome(path, "refused", target.id, message=str(exc)))
    return outcomes
