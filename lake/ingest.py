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

Speed: files are ingested a few at a time (:data:`FILE_THREADS`), each on its own
thread: *prepare* (read, hash, decode, parse, check the contract; no writes), then
*commit* (quarantine, raw, log, in that order, under the batch lock). Parsing and Delta
writes release the GIL, so files overlap on separate cores. Each file stays atomic and
ordered as above; files of one dataset commit in the order given, so its raw table's
versions follow the files; each system table (quarantine, ingestion log) is written by
one thread at a time. Datasets with the most bytes go first, so the cores stay busy to
the end. Source bytes in flight are bounded (:data:`IN_FLIGHT_BYTES`), which bounds
memory: a file's records are held from its prepare until its commit.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import getpass
import hashlib
import json
import os
import threading
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from govlake.errors import ContractError, GovLakeError, NotFound
from govlake.home import Home
from lake import delta
from lake.catalog import Catalog, Dataset, load_catalog
from lake.locks import file_lock
from lake.sources import READERS, BadRecord, SourceRead, _fold_header
from lake.system import INGEST_LOG, LINEAGE_COLUMNS, LOGICAL_SOURCES, QUARANTINE

if TYPE_CHECKING:
    import pyarrow as pa

Status = Literal["loaded", "already", "refused", "ignored", "registered"]

#: Files ingested at once, each on its own thread: one more than the cores, because parts of a
#: file's work hold the GIL or wait on the disk while another file's parse or write could run.
FILE_THREADS = min(4, (os.cpu_count() or 1) + 1)
#: Source bytes of the files being ingested at once; a file larger than this still goes,
#: alone. Memory in use is a small multiple of it (source, decoded text, parsed records).
IN_FLIGHT_BYTES = 512 << 20


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
    # A record without its key cannot be identified downstream: quarantine it. Vectorized:
    # only the few records with an empty key are looked at one by one.
    reasons: dict[int, str] = {}
    for column in dataset.key:
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(table.column(column)), ""), True)
        if pc.any(blank).as_py():
            reason = f"key column {column} ({dataset.item(column).source}) is empty"
            for position in pc.indices_nonzero(blank).to_numpy():
                reasons.setdefault(int(position), reason)
    bad = list(read.bad)
    if reasons:
        positions = sorted(reasons)
        texts = original_text if original_text is not None else _records_as_json(read, positions)
        for index, position in enumerate(positions):
            bad.append(BadRecord(int(read.line_numbers[position]), reasons[position], texts[index]))
        keep = np.ones(rows, dtype=bool)
        keep[positions] = False
        table = table.filter(pa.array(keep))
        line_numbers = pa.array(read.line_numbers[keep])
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


@dataclass
class Prepared:
    """A file read, hashed, parsed and checked against the contract; nothing written yet."""

    path: Path
    dataset: Dataset
    sha256: str
    source_bytes: int
    started: dt.datetime
    contracted: Contracted | None = None  # None when the file was already logged: not parsed
    rows_read: int = 0
    encoding: str = ""

    @property
    def batch_id(self) -> str:
        return batch_id_for(self.dataset, self.sha256)


def prepare_file(catalog: Catalog, path: Path, dataset: Dataset, *, logged: Container[str] = ()) -> Prepared:
    """Read, hash, parse and contract-check one file (no writes). Raises ContractError when refused.

    A file whose batch id is in ``logged`` (the batches the log held when ingest began) is
    not parsed: it will be reported as already ingested. The authoritative check is made
    again under the batch lock when committing.
    """
    started = _now()
    data = path.read_bytes()
    prepared = Prepared(path, dataset, hashlib.sha256(data).hexdigest(), len(data), started)
    if prepared.batch_id in logged:
        return prepared
    read = READERS[dataset.format](path, data, declared_encoding=dataset.encoding)
    del data
    prepared.contracted = apply_contract(catalog, dataset, read, str(path))
    prepared.rows_read, prepared.encoding = read.rows_read, read.encoding
    return prepared  # holds the contracted records only, not the source or the records as read


def commit_file(home: Home, catalog: Catalog, prepared: Prepared, *,
                lock_for: Callable[[str], AbstractContextManager[object]] | None = None) -> FileOutcome:
    """Write a prepared file: quarantine, raw, log, each with the batch's app transaction, under its lock.

    ``lock_for(table name)`` is held around every use of a system table (the ingestion log,
    the quarantine), for callers that commit several files at once from threads.
    """
    lock_for = lock_for or (lambda name: nullcontext())
    path, dataset, sha = prepared.path, prepared.dataset, prepared.sha256
    batch_id = prepared.batch_id
    app_id = app_id_for(batch_id)
    log_path = home.table_path("system", INGEST_LOG.name)
    raw_path = home.table_path("raw", dataset.raw_table)
    quarantine_path = home.table_path("system", QUARANTINE.name)
    with file_lock(home, f"ingest-{sha}"):
        with lock_for(INGEST_LOG.name):
            already = delta.txn_version(log_path, app_id) is not None
        if already:
            return FileOutcome(path, "already", dataset.id, batch_id,
                               message=f"already ingested as batch {batch_id}; nothing added")
        if prepared.contracted is None:  # skipped as logged, yet not in the log now
            prepared = prepare_file(catalog, path, dataset)
            if prepared.sha256 != sha:
                raise GovLakeError(f"{path}: the file changed while it was being ingested; run ingest again")
        contracted = prepared.contracted
        assert contracted is not None
        at = _now()
        source = str(path.absolute())
        if contracted.bad:
            quarantine = _quarantine_table(contracted.bad, batch_id=batch_id, dataset=dataset, file=source, sha=sha,
                                           at=at)
            with lock_for(QUARANTINE.name):
                delta.write(quarantine_path, quarantine, txn=(app_id, 1), description=QUARANTINE.description,
                            comments=QUARANTINE.columns)
        loaded = contracted.table.num_rows
        raw_version = delta.version(raw_path)
        if loaded:
            raw_version = delta.write(raw_path, _with_lineage(contracted, batch_id, source, sha, at),
                                      txn=(app_id, 1), description=f"{dataset.name}（原始区）：{dataset.abstract}",
                                      comments=_raw_comments(dataset), commit_info={"govlake.batch_id": batch_id})
        quarantined = len(contracted.bad)
        if prepared.rows_read != loaded + quarantined:  # the contract of this module; never silently lose a row
            raise GovLakeError(f"{path}: internal count mismatch ({prepared.rows_read} read, {loaded} loaded, "
                               f"{quarantined} quarantined); nothing was logged, please report this")
        entry = log_row(batch_id=batch_id, dataset=dataset.id, dataset_code=dataset.code,
                        department=dataset.provider.id, access="physical", source_file=source,
                        source_sha256=sha, source_bytes=prepared.source_bytes, encoding=prepared.encoding,
                        rows_read=prepared.rows_read, rows_loaded=loaded, rows_quarantined=quarantined,
                        ignored_columns=",".join(contracted.ignored_columns), raw_version=raw_version,
                        started_at=prepared.started, finished_at=_now(), ingested_by=_user())
        with lock_for(INGEST_LOG.name):
            delta.write(log_path, entry, txn=(app_id, 1), description=INGEST_LOG.description,
                        comments=INGEST_LOG.columns)
    message = ""
    if contracted.ignored_columns:
        message = f"ignored columns not in the catalog: {', '.join(contracted.ignored_columns)}"
    return FileOutcome(path, "loaded", dataset.id, batch_id, prepared.rows_read, loaded, quarantined,
                       prepared.encoding, message, contracted.ignored_columns)


def ingest_file(home: Home, catalog: Catalog, path: Path, dataset: Dataset) -> FileOutcome:
    """Ingest one physical file for ``dataset``. Raises ContractError when refused."""
    return commit_file(home, catalog, prepare_file(catalog, path, dataset, logged=_logged_batches(home)))


def _raw_comments(dataset: Dataset) -> dict[str, str]:
    comments = {item.column: f"{item.source}：{item.description}" for item in dataset.items}
    comments.update(LINEAGE_COLUMNS)
    return comments


def _constant(value: object, type_: pa.DataType, lengths: Sequence[int]) -> pa.ChunkedArray:
    """A column of one repeated value, chunked like the data: the chunks share one buffer.

    Readers see an ordinary column; the value is not copied once per row in memory.
    """
    import pyarrow as pa

    block = pa.array([value] * max(lengths, default=0), type_)
    return pa.chunked_array([block.slice(0, length) for length in lengths], type=type_)


def _with_lineage(contracted: Contracted, batch_id: str, source: str, sha: str, at: dt.datetime) -> pa.Table:
    import pyarrow as pa

    table = contracted.table
    lengths = [len(chunk) for chunk in table.column(0).chunks] if table.num_columns else [table.num_rows]
    return (
        table.append_column("_batch_id", _constant(batch_id, pa.large_string(), lengths))
        .append_column("_source_file", _constant(source, pa.large_string(), lengths))
        .append_column("_source_sha256", _constant(sha, pa.large_string(), lengths))
        .append_column("_source_row", contracted.line_numbers.cast(pa.int64()))
        .append_column("_ingested_at", _constant(at, pa.timestamp("us", tz="UTC"), lengths))
    )


def _logged_batches(home: Home) -> set[str]:
    """Batch ids in the ingestion log now: files with these ids need not be parsed."""
    log_path = home.table_path("system", INGEST_LOG.name)
    if not delta.is_table(log_path):
        return set()
    return set(delta.read(log_path, columns=["batch_id"])["batch_id"].to_list())


class _TableLocks:
    """One lock per system table: threads of one ingest write each table one at a time."""

    def __init__(self) -> None:
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()

    def __call__(self, table: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(table, threading.Lock())


class _InFlight:
    """Admits files in order while their source bytes fit in a budget (always one at least)."""

    def __init__(self, budget: int) -> None:
        self.budget, self.used, self.next_ticket, self.aborted = budget, 0, 0, False
        self.changed = threading.Condition()

    def admit(self, ticket: int, size: int) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.aborted or (
                ticket == self.next_ticket and (self.used == 0 or self.used + size <= self.budget)))
            if self.aborted:
                raise GovLakeError("ingest stopped after an error in another file")
            self.used += size
            self.next_ticket += 1
            self.changed.notify_all()

    def release(self, size: int) -> None:
        with self.changed:
            self.used -= size
            self.changed.notify_all()

    def abort(self) -> None:
        with self.changed:
            self.aborted = True
            self.changed.notify_all()


@dataclass
class _Planned:
    path: Path
    dataset: Dataset | None = None
    outcome: FileOutcome | None = None  # decided without reading the file
    future: Future[FileOutcome] | None = None


def _ingest_one(home: Home, catalog: Catalog, item: _Planned, *, ticket: int, in_flight: _InFlight,
                after: Future[FileOutcome] | None, logged: Container[str], lock_for: _TableLocks) -> FileOutcome:
    """Prepare and commit one physical file, after the previous file of its dataset."""
    assert item.dataset is not None
    size = _size(item.path)
    in_flight.admit(ticket, size)
    try:
        try:
            prepared = prepare_file(catalog, item.path, item.dataset, logged=logged)
        except ContractError as exc:
            return FileOutcome(item.path, "refused", item.dataset.id, message=str(exc))
        if after is not None:
            after.result()  # raises if an earlier file of this dataset failed: never commit out of order
        try:
            return commit_file(home, catalog, prepared, lock_for=lock_for)
        except ContractError as exc:
            return FileOutcome(item.path, "refused", item.dataset.id, message=str(exc))
    finally:
        in_flight.release(size)


def ingest(home: Home, paths: Sequence[Path], *, dataset: str | None = None,
           catalog: Catalog | None = None) -> list[FileOutcome]:
    """Ingest files and folders. A refused file is reported; the others still land.

    Physical files are ingested a few at a time (see the module docstring); logical
    sources are registered on the calling thread meanwhile. Outcomes come in the order
    of the files. On an unexpected error, files not yet started are not ingested.
    """
    from lake import logical

    catalog = catalog or load_catalog()
    forced = catalog.dataset(dataset) if dataset else None
    plan: list[_Planned] = []
    for path, explicit in expand(paths):
        target = forced or match_dataset(catalog, path)
        if target is None:
            patterns = ", ".join(sorted(d.file_pattern for d in catalog.datasets.values()))
            if explicit:
                plan.append(_Planned(path, outcome=FileOutcome(path, "refused", message=(
                    f"{path}: no catalog entry's file pattern matches {path.name!r}; pass --dataset CODE "
                    f"or rename the file (patterns: {patterns})"))))
            else:
                plan.append(_Planned(path, outcome=FileOutcome(path, "ignored",
                                                               message="no catalog entry matches this file name")))
            continue
        plan.append(_Planned(path, target))
    physical = [item for item in plan if item.dataset is not None and item.dataset.access != "logical"]
    logged = _logged_batches(home) if physical else set()
    lock_for = _TableLocks()
    in_flight = _InFlight(IN_FLIGHT_BYTES)
    outcomes: list[FileOutcome] = []
    with ThreadPoolExecutor(max_workers=FILE_THREADS, thread_name_prefix="govlake-ingest") as pool:
        try:
            last: dict[str, Future[FileOutcome]] = {}
            for ticket, item in enumerate(_largest_datasets_first(physical)):
                assert item.dataset is not None
                item.future = pool.submit(_ingest_one, home, catalog, item, ticket=ticket, in_flight=in_flight,
                                          after=last.get(item.dataset.id), logged=logged, lock_for=lock_for)
                last[item.dataset.id] = item.future
            for item in plan:  # logical sources: registered here while the files are ingested
                if item.outcome is None and item.future is None:
                    assert item.dataset is not None
                    try:
                        with lock_for(INGEST_LOG.name), lock_for(LOGICAL_SOURCES.name):
                            item.outcome = logical.register(home, catalog, item.dataset, item.path)
                    except ContractError as exc:
                        item.outcome = FileOutcome(item.path, "refused", item.dataset.id, message=str(exc))
            for item in plan:
                outcome = item.outcome if item.future is None else item.future.result()
                assert outcome is not None
                outcomes.append(outcome)
        except BaseException:
            for item in physical:
                if item.future is not None:
                    item.future.cancel()
            in_flight.abort()
            raise
    return outcomes


def _largest_datasets_first(items: list[_Planned]) -> list[_Planned]:
    """Schedule the datasets with the most bytes first, so no large file is left to run alone at the
    end; a dataset's files keep their order (a file never waits on one submitted after it)."""
    total: dict[str, int] = {}
    for item in items:
        assert item.dataset is not None
        total[item.dataset.id] = total.get(item.dataset.id, 0) + _size(item.path)
    return sorted(items, key=lambda item: -total[item.dataset.id] if item.dataset else 0)  # stable


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
