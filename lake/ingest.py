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

Speed: files are *prepared* a few at a time (:data:`FILE_THREADS`), each on its own
thread: read, hash, decode, parse, check the contract, and write the raw rows as Parquet
into the raw table's folder (:class:`lake.delta.Staging`: written, not committed, so
invisible to every reader). Parsing and Parquet writing release the GIL, so files overlap
on separate cores, and a file's parsed rows leave memory as soon as they are written.
When every file of a dataset is prepared, whichever thread finished last *commits* the
dataset: one quarantine commit, one raw commit adding all its files (in the order given,
with every file's app transaction) and one log commit, in that order, under the files'
batch locks. A crash between the Parquet writes and the raw commit leaves files no commit
mentions: nobody reads them, ``govlake vacuum`` deletes them, and the re-run writes the
rows again. Datasets with the most bytes start first, so the cores stay busy to the end.
Source bytes being prepared are bounded (:data:`IN_FLIGHT_BYTES`), which bounds memory.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import gc
import getpass
import hashlib
import json
import os
import threading
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
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
    import numpy as np
    import pyarrow as pa

Status = Literal["loaded", "already", "refused", "ignored", "registered"]

#: Files ingested at once, each on its own thread: one more than the cores, because parts of a
#: file's work hold the GIL or wait on the disk while another file's parse or write could run.
FILE_THREADS = min(4, (os.cpu_count() or 1) + 1)
#: Source bytes of the files being prepared at once; a file larger than this still goes,
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
            column = read.records.column(header)
            text = column.type in (pa.large_string(), pa.string_view())  # views are written as they are
            arrays.append(column if text else column.cast(pa.large_string()))
        else:
            arrays.append(pa.nulls(rows, pa.large_string()))
    table = pa.table(arrays, names=dataset.columns)
    # A record without its key cannot be identified downstream: quarantine it. Vectorized:
    # only the few records with an empty key are looked at one by one.
    reasons: dict[int, str] = {}
    for column in dataset.key:
        key = table.column(column).cast(pa.large_string())  # the string functions take no views
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(key), ""), True)
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
        table = _without_rows(table, positions, keep)
        line_numbers = pa.array(read.line_numbers[keep])
    else:
        line_numbers = pa.array(read.line_numbers)
    return Contracted(table, line_numbers, sorted(bad, key=lambda r: r.line), ignored)


#: Past this many rows to drop, a filter (one copy) is cheaper than as many zero-copy slices.
SLICE_DROP_LIMIT = 1_000


def _without_rows(table: pa.Table, positions: Sequence[int], keep: np.ndarray) -> pa.Table:
    """``table`` without the rows at ``positions`` (sorted): zero-copy slices when they are few.

    Filtering copies every column of the file, for the sake of a handful of rows.
    """
    import pyarrow as pa

    if len(positions) > SLICE_DROP_LIMIT:
        return delta.plain_arrow(table).filter(pa.array(keep))  # Arrow cannot filter views
    pieces, start = [], 0
    for position in positions:
        if position > start:
            pieces.append(table.slice(start, position - start))
        start = position + 1
    if start < table.num_rows:
        pieces.append(table.slice(start))
    return pa.concat_tables(pieces) if pieces else table.slice(0, 0)


def _records_as_json(read: SourceRead, positions: Sequence[int]) -> list[str]:
    """The records at ``positions`` as JSON text (slices: Arrow cannot ``take`` from views)."""
    return [json.dumps(read.records.slice(position, 1).to_pylist()[0], ensure_ascii=False) for position in positions]


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
    """A file read, hashed, parsed, checked against the contract and its raw rows staged; nothing committed."""

    path: Path
    dataset: Dataset
    sha256: str
    source_bytes: int
    started: dt.datetime
    parsed: bool = False  # False when the file was already logged: not parsed, nothing staged
    rows_read: int = 0
    rows_loaded: int = 0
    encoding: str = ""
    bad: list[BadRecord] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    at: dt.datetime | None = None  # the rows' _ingested_at and the quarantine's ingested_at
    staging: delta.Staging | None = None  # the raw rows, written as Parquet, not committed

    @property
    def batch_id(self) -> str:
        return batch_id_for(self.dataset, self.sha256)

    def discard(self) -> None:
        """Delete the staged raw files (not committed, so nobody has seen them)."""
        if self.staging is not None:
            self.staging.discard()
            self.staging = None


def prepare_file(home: Home, catalog: Catalog, path: Path, dataset: Dataset, *,
                 logged: Container[str] = ()) -> Prepared:
    """Read, hash, parse, contract-check one file and stage its raw rows. Raises ContractError when refused.

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
    contracted = apply_contract(catalog, dataset, read, str(path))
    prepared.parsed = True
    prepared.rows_read, prepared.encoding = read.rows_read, read.encoding
    del read
    prepared.bad, prepared.ignored_columns = contracted.bad, contracted.ignored_columns
    prepared.rows_loaded = contracted.table.num_rows
    if prepared.rows_read != prepared.rows_loaded + len(prepared.bad):  # never silently lose a row
        raise GovLakeError(f"{path}: internal count mismatch ({prepared.rows_read} read, {prepared.rows_loaded} "
                           f"loaded, {len(prepared.bad)} quarantined); nothing was written, please report this")
    prepared.at = _now()
    if prepared.rows_loaded:
        rows = _with_lineage(contracted, prepared.batch_id, str(path.absolute()), prepared.sha256, prepared.at)
        del contracted
        # Dictionary encoding costs about the same as plain on columns of unique values (the writer
        # gives up on it after 1 MB of them) and shrinks repeated ones; a row number never repeats.
        staging = delta.Staging(home.table_path("raw", dataset.raw_table), rows.schema,
                                dictionary=[name for name in rows.column_names if name != "_source_row"],
                                statistics=[*dataset.key, "_batch_id", "_source_row"])
        try:
            staging.write(rows)
            del rows
            staging.close()
        except BaseException:
            staging.discard()
            raise
        prepared.staging = staging
    return prepared  # holds the bad records only: the source and the rows are gone


def commit_group(home: Home, catalog: Catalog, group: Sequence[Prepared], *,
                 lock_for: Callable[[str], AbstractContextManager[object]] | None = None) -> list[FileOutcome]:
    """Commit prepared files of one dataset, under their batch locks: quarantine, raw, log, one commit each.

    Each commit carries the app transaction of every file in it, and files whose step is
    already recorded (an interrupted earlier run) are left out of that step, so a re-run
    completes exactly what is missing. A file already in the log is reported as such and
    its staged rows deleted. ``lock_for(table name)`` is held around every use of a system
    table (the ingestion log, the quarantine), for callers that commit from several threads.
    Staged files are committed or deleted, whatever happens.
    """
    lock_for = lock_for or (lambda name: nullcontext())
    group = list(group)
    if not group:
        return []
    dataset = group[0].dataset
    log_path = home.table_path("system", INGEST_LOG.name)
    outcomes: dict[int, FileOutcome] = {}
    try:
        with ExitStack() as held:
            for sha in sorted({prepared.sha256 for prepared in group}):  # sorted: no deadlock between processes
                held.enter_context(file_lock(home, f"ingest-{sha}"))
            todo: list[int] = []
            for index, prepared in enumerate(group):
                batch_id = prepared.batch_id
                with lock_for(INGEST_LOG.name):
                    already = (any(group[i].batch_id == batch_id for i in todo)
                               or delta.txn_version(log_path, app_id_for(batch_id)) is not None)
                if already:
                    prepared.discard()
                    outcomes[index] = FileOutcome(prepared.path, "already", dataset.id, batch_id,
                                                  message=f"already ingested as batch {batch_id}; nothing added")
                    continue
                if not prepared.parsed:  # skipped as logged, yet not in the log now
                    group[index] = prepared = prepare_file(home, catalog, prepared.path, dataset)
                    if prepared.batch_id != batch_id:
                        raise GovLakeError(f"{prepared.path}: the file changed while it was being ingested; "
                                           "run ingest again")
                todo.append(index)
            if todo:
                files = [group[index] for index in todo]
                _commit_quarantine(home, files, lock_for)
                raw_version = _commit_raw(home, files)
                _commit_log(home, files, raw_version, lock_for)
                for index in todo:
                    outcomes[index] = _loaded(group[index])
    finally:
        for prepared in group:
            prepared.discard()  # what was not committed (committed files were handed to the table)
    return [outcomes[index] for index in range(len(group))]


def _commit_quarantine(home: Home, files: list[Prepared],
                       lock_for: Callable[[str], AbstractContextManager[object]]) -> None:
    import pyarrow as pa

    path = home.table_path("system", QUARANTINE.name)
    with lock_for(QUARANTINE.name):
        pending = [p for p in files if p.bad and delta.txn_version(path, app_id_for(p.batch_id)) is None]
        if not pending:
            return
        rows = pa.concat_tables([
            _quarantine_table(p.bad, batch_id=p.batch_id, dataset=p.dataset, file=str(p.path.absolute()),
                              sha=p.sha256, at=p.at or _now()) for p in pending]).combine_chunks()
        txns = [(app_id_for(p.batch_id), 1) for p in pending]
        delta.write(path, rows, txn=txns[0], txns=txns[1:], description=QUARANTINE.description,
                    comments=QUARANTINE.columns)


def _commit_raw(home: Home, files: list[Prepared]) -> int | None:
    """Add every file's staged rows to the raw table in one commit; return the table's version."""
    dataset = files[0].dataset
    path = home.table_path("raw", dataset.raw_table)
    staged = [p for p in files if p.staging is not None]
    if not staged:
        return delta.version(path)
    parts = [delta.Staged((app_id_for(p.batch_id), 1), p.staging.files) for p in staged if p.staging]
    first = staged[0].staging
    assert first is not None
    try:
        version, _ = delta.commit_staged(
            path, parts, schema=first.schema, description=f"{dataset.name}（原始区）：{dataset.abstract}",
            comments=_raw_comments(dataset), commit_info={"govlake.batch_ids": [p.batch_id for p in staged]})
    except BaseException:
        for prepared in staged:  # never delete files a commit may reference: vacuum sorts out orphans
            try:
                committed = delta.txn_version(path, app_id_for(prepared.batch_id)) is not None
            except Exception:
                committed = True  # cannot tell: keep them
            if committed and prepared.staging is not None:
                prepared.staging.release()
                prepared.staging = None
        raise
    for prepared in staged:  # committed (or, already there, deleted by commit_staged): no longer ours
        assert prepared.staging is not None
        prepared.staging.release()
        prepared.staging = None
    return version


def _commit_log(home: Home, files: list[Prepared], raw_version: int | None,
                lock_for: Callable[[str], AbstractContextManager[object]]) -> None:
    import pyarrow as pa

    entries = pa.concat_tables([
        log_row(batch_id=p.batch_id, dataset=p.dataset.id, dataset_code=p.dataset.code,
                department=p.dataset.provider.id, access="physical", source_file=str(p.path.absolute()),
                source_sha256=p.sha256, source_bytes=p.source_bytes, encoding=p.encoding, rows_read=p.rows_read,
                rows_loaded=p.rows_loaded, rows_quarantined=len(p.bad), ignored_columns=",".join(p.ignored_columns),
                raw_version=raw_version, started_at=p.started, finished_at=_now(), ingested_by=_user())
        for p in files]).combine_chunks()  # one chunk: delta-rs would interleave several
    txns = [(app_id_for(p.batch_id), 1) for p in files]
    with lock_for(INGEST_LOG.name):
        delta.write(home.table_path("system", INGEST_LOG.name), entries, txn=txns[0], txns=txns[1:],
                    description=INGEST_LOG.description, comments=INGEST_LOG.columns)


def _loaded(prepared: Prepared) -> FileOutcome:
    message = ""
    if prepared.ignored_columns:
        message = f"ignored columns not in the catalog: {', '.join(prepared.ignored_columns)}"
    return FileOutcome(prepared.path, "loaded", prepared.dataset.id, prepared.batch_id, prepared.rows_read,
                       prepared.rows_loaded, len(prepared.bad), prepared.encoding, message,
                       list(prepared.ignored_columns))


def ingest_file(home: Home, catalog: Catalog, path: Path, dataset: Dataset) -> FileOutcome:
    """Ingest one physical file for ``dataset``. Raises ContractError when refused."""
    prepared = prepare_file(home, catalog, path, dataset, logged=_logged_batches(home))
    return commit_group(home, catalog, [prepared])[0]


def _raw_comments(dataset: Dataset) -> dict[str, str]:
    comments = {item.column: f"{item.source}：{item.description}" for item in dataset.items}
    comments.update(LINEAGE_COLUMNS)
    return comments


def _constant(value: object, type_: pa.DataType, lengths: Sequence[int]) -> pa.ChunkedArray:
    """A column of one repeated value, chunked like the data: dictionary-encoded, one value.

    Readers see an ordinary column (the table stores the value type; Parquet stores it
    dictionary-encoded, as it would anyway). The value is neither copied nor, by the
    Parquet writer, hashed once per row.
    """
    import numpy as np
    import pyarrow as pa

    indices = pa.array(np.zeros(max(lengths, default=0), dtype=np.int32))
    block = pa.DictionaryArray.from_arrays(indices, pa.array([value], type_))
    return pa.chunked_array([block.slice(0, length) for length in lengths], type=block.type)


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
    group: _Group | None = None
    index: int = 0  # in its group


class _Group:
    """The files of one dataset in this run: prepared at once, committed together by the thread that
    prepares the last of them (no thread ever waits for another's work)."""

    def __init__(self, items: list[_Planned]) -> None:
        self.items = items
        self.results: list[Prepared | FileOutcome | BaseException | None] = [None] * len(items)
        self.remaining = len(items)
        self.abandoned = False
        self.guard = threading.Lock()
        self.outcomes: Future[list[FileOutcome]] = Future()

    def settle(self, index: int, result: Prepared | FileOutcome | BaseException) -> bool:
        """Record a file's result; True for the file that completes the group (it commits the group)."""
        with self.guard:
            self.results[index] = result
            self.remaining -= 1
            if self.abandoned and isinstance(result, Prepared):
                result.discard()
            return self.remaining == 0 and not self.abandoned

    def commit(self, home: Home, catalog: Catalog, lock_for: _TableLocks) -> None:
        prepared = [r for r in self.results if isinstance(r, Prepared)]
        failures = [r for r in self.results if isinstance(r, BaseException)]
        try:
            if failures:  # an unexpected error in one file: the dataset's other files do not land either
                for item in prepared:
                    item.discard()
                raise failures[0]
            committed = iter(commit_group(home, catalog, prepared, lock_for=lock_for))
            outcomes = [next(committed) if isinstance(r, Prepared) else r for r in self.results]
            self.outcomes.set_result([o for o in outcomes if isinstance(o, FileOutcome)])
        except BaseException as exc:
            self.outcomes.set_exception(exc)

    def abandon(self) -> None:
        """After an error elsewhere: delete what is staged; files still being prepared delete their own."""
        with self.guard:
            self.abandoned = True
            for result in self.results:
                if isinstance(result, Prepared):
                    result.discard()
            if not self.outcomes.done():
                self.outcomes.set_exception(GovLakeError("ingest stopped after an error in another file"))


def _prepare_one(home: Home, catalog: Catalog, item: _Planned, *, ticket: int, in_flight: _InFlight,
                 logged: Container[str], lock_for: _TableLocks) -> None:
    """Prepare one physical file; the last file of its dataset to be prepared commits the dataset."""
    assert item.dataset is not None and item.group is not None
    result: Prepared | FileOutcome | BaseException
    try:
        size = _size(item.path)
        in_flight.admit(ticket, size)
        try:
            result = prepare_file(home, catalog, item.path, item.dataset, logged=logged)
        except ContractError as exc:
            result = FileOutcome(item.path, "refused", item.dataset.id, message=str(exc))
        finally:
            in_flight.release(size)
    except BaseException as exc:
        result = exc
    if item.group.settle(item.index, result):
        item.group.commit(home, catalog, lock_for)


def ingest(home: Home, paths: Sequence[Path], *, dataset: str | None = None,
           catalog: Catalog | None = None) -> list[FileOutcome]:
    """Ingest files and folders. A refused file is reported; the others still land.

    Physical files are prepared a few at a time and committed a dataset at a time (see the
    module docstring); logical sources are registered on the calling thread meanwhile.
    Outcomes come in the order of the files. On an unexpected error in a file, its dataset
    does not land, and files not yet started are not ingested.
    """
    # Parsing builds many short-lived Python objects (GeoJSON above all) and no cycles worth collecting:
    # the collector would only walk them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _ingest(home, paths, dataset=dataset, catalog=catalog or load_catalog())
    finally:
        if collecting:
            gc.enable()


def _ingest(home: Home, paths: Sequence[Path], *, dataset: str | None, catalog: Catalog) -> list[FileOutcome]:
    from lake import logical

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
    members: dict[str, list[_Planned]] = {}
    for item in physical:
        assert item.dataset is not None
        members.setdefault(item.dataset.id, []).append(item)
    groups = [_Group(items) for items in members.values()]
    for group in groups:
        for index, item in enumerate(group.items):
            item.group, item.index = group, index
    logged = _logged_batches(home) if physical else set()
    lock_for = _TableLocks()
    in_flight = _InFlight(IN_FLIGHT_BYTES)
    outcomes: list[FileOutcome] = []
    with ThreadPoolExecutor(max_workers=FILE_THREADS, thread_name_prefix="govlake-ingest") as pool:
        futures = [pool.submit(_prepare_one, home, catalog, item, ticket=ticket, in_flight=in_flight,
                               logged=logged, lock_for=lock_for)
                   for ticket, item in enumerate(_largest_datasets_first(physical))]
        try:
            if physical:
                _import_libraries()
            for item in plan:  # logical sources: registered here while the files are ingested
                if item.outcome is None and item.group is None:
                    assert item.dataset is not None
                    try:
                        with lock_for(INGEST_LOG.name), lock_for(LOGICAL_SOURCES.name):
                            item.outcome = logical.register(home, catalog, item.dataset, item.path)
                    except ContractError as exc:
                        item.outcome = FileOutcome(item.path, "refused", item.dataset.id, message=str(exc))
            for item in plan:
                outcome = item.outcome if item.group is None else item.group.outcomes.result()[item.index]
                assert outcome is not None
                outcomes.append(outcome)
        except BaseException:
            for future in futures:
                future.cancel()
            in_flight.abort()
            raise
        finally:
            pool.shutdown(wait=True)
            for group in groups:
                if not group.outcomes.done():
                    group.abandon()
    return outcomes


def _import_libraries() -> None:
    """Import what parsing and writing need, on the calling thread, while the first files are read and
    hashed (which import nothing): otherwise the first parse waits for the imports, holding a core idle.
    """
    import deltalake  # noqa: F401
    import numpy  # noqa: F401
    import polars  # noqa: F401
    import pyarrow as pa
    import pyarrow.compute
    import pyarrow.csv
    import pyarrow.parquet

    pa.array([0])  # pyarrow imports pandas, when installed, on its first conversion of Python values


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
