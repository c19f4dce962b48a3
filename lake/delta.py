"""The only module that writes Delta tables.

Every write goes through here so that the rules hold everywhere:

- stored columns are plain Arrow types (``large_string``, never ``string_view``), so
  Arrow-schema readers such as Daft can read what polars and deltalake 1.6 would
  otherwise write as views;
- conflicting concurrent commits are retried with bounded, jittered backoff, and past
  the bound a :class:`~govlake.errors.ConflictError` says nothing was written;
- a write can carry a Delta *app transaction* (``txn``), which commits atomically
  with the data. Multi-step commands use it to make every step idempotent: a step
  whose ``txn`` is already in the table is skipped on re-run;
- tables carry their description and column comments as Delta metadata, so
  ``deltalake.DeltaTable(path).metadata()`` / ``.schema()`` show them to notebook users.
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from govlake.errors import ConfigError, ConflictError
from lake.boundary import translate
from lake.faults import point

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

T = TypeVar("T")

#: Bound on retries of a conflicting commit. With the backoff below this waits at most
#: about 10 seconds in total before giving up. ``GOVLAKE_COMMIT_ATTEMPTS`` overrides it (the
#: tests set 1 to reach the bound on purpose; an operator may raise it on a busy lake).
ATTEMPTS_ENV = "GOVLAKE_COMMIT_ATTEMPTS"
DEFAULT_ATTEMPTS = 8


def _attempts_from_env() -> int:
    value = os.environ.get(ATTEMPTS_ENV, "")
    if not value:
        return DEFAULT_ATTEMPTS
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{ATTEMPTS_ENV}={value!r} must be a whole number of at least 1 (default "
                          f"{DEFAULT_ATTEMPTS}); unset it or set e.g. {ATTEMPTS_ENV}=8")
    return int(value)


MAX_ATTEMPTS = _attempts_from_env()
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0


def _label(path: Path) -> str:
    """zone.table for messages, from .../lake/<zone>/<table>."""
    return f"{path.parent.name}.{path.name}"


def with_retry(action: Callable[[], T], *, table: str, attempts: int | None = None) -> T:
    """Run a Delta commit, retrying ``CommitFailedError`` with bounded exponential backoff."""
    from deltalake.exceptions import CommitFailedError

    attempts = attempts or MAX_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except CommitFailedError as exc:
            if attempt == attempts:
                raise ConflictError(
                    f"table {table}: {attempts} attempt(s) to commit all conflicted with concurrent "
                    f"writers ({str(exc).splitlines()[0][:200]}); this step committed nothing, and the "
                    f"steps before it are recorded so that re-running the command finishes the work "
                    f"(raise {ATTEMPTS_ENV} if the lake is this busy)"
                ) from exc
            delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            time.sleep(delay * (0.5 + random.random()))
    raise AssertionError("unreachable")


def _plain_type(type_: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if type_ in (pa.string_view(), pa.string()):
        return pa.large_string()
    if type_ in (pa.binary_view(), pa.binary()):
        return pa.large_binary()
    if pa.types.is_struct(type_):
        return pa.struct([field.with_type(_plain_type(field.type)) for field in type_.fields])
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_list_view(type_):
        return pa.large_list(type_.value_field.with_type(_plain_type(type_.value_type)))
    return type_


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with view types (also nested) replaced by their plain large equivalents."""
    import pyarrow as pa

    fields = [pa.field(f.name, _plain_type(f.type), f.nullable, f.metadata) for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def _stored_schema(schema: pa.Schema) -> pa.Schema:
    """What a table stores for rows of ``schema``: plain types, dictionary columns as their values."""
    import pyarrow as pa

    fields = [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema]
    return plain_schema(pa.schema(fields, metadata=schema.metadata))


def plain_arrow(table: pa.Table) -> pa.Table:
    """Cast view types (also nested) to their plain large equivalents (see module docstring)."""
    schema = plain_schema(table.schema)
    return table if schema.equals(table.schema) else table.cast(schema)


def with_comments(table: pa.Table, comments: Mapping[str, str]) -> pa.Table:
    """Attach column comments as field metadata (Delta stores them in the schema)."""
    import pyarrow as pa

    fields = [
        field.with_metadata({**(field.metadata or {}), b"comment": comments[field.name].encode()})
        if field.name in comments
        else field
        for field in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _writer_lock_file(path: Path) -> Path | None:
    """``<home>/locks/table-<zone>.<table>.lock`` for a table in a home's lake, else None."""
    from govlake.home import ZONES

    if path.parent.name in ZONES and path.parent.parent.name == "lake":
        return path.parent.parent.parent / "locks" / f"table-{path.parent.name}.{path.name}.lock"
    return None


@contextmanager
def writing(path: Path, *, exclusive: bool = False, wait: bool = True) -> Iterator[bool]:
    """Hold the table's writer lock: shared by writers, exclusive for ``govlake vacuum``.

    Writers do not block each other (Delta resolves concurrent commits); the lock only
    tells vacuum that a writer may be between writing a data file and committing it, so
    an unreferenced file is not yet an orphan. The kernel drops the lock of a killed
    process, so the files a killed writer left become sweepable at once. Yields False
    (without the lock) when ``wait`` is off and another holder has it.
    """
    lock_file = _writer_lock_file(path)
    if lock_file is None:
        yield True
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(handle, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_table(path: Path) -> bool:
    return (path / "_delta_log").is_dir() and any((path / "_delta_log").glob("*.json"))


#: Open tables by path. Loading a table replays its log; refreshing a cached one reads only
#: the commits since, which keeps many small steps (a folder of files) cheap.
_OPEN: dict[str, Any] = {}


def _open(path: Path) -> Any:
    """The table at ``path`` at its latest version (cached, refreshed), or None."""
    from deltalake import DeltaTable

    key = str(path)
    if not is_table(path):
        _OPEN.pop(key, None)
        return None
    table = _OPEN.get(key)
    if table is None:
        table = _OPEN[key] = DeltaTable(key)
    else:
        try:
            table.update_incremental()
        except Exception:  # replaced or vacuumed underneath us: load afresh
            table = _OPEN[key] = DeltaTable(key)
    return table


def forget(path: Path) -> None:
    """Drop this process's cached snapshot of ``path`` (after its log changed outside a commit: a repair)."""
    _OPEN.pop(str(path), None)


def version(path: Path) -> int | None:
    """Current Delta version, or None when there is no table yet."""
    with translate(_label(path)):
        table = _open(path)
        return None if table is None else int(table.version())


def txn_version(path: Path, app_id: str) -> int | None:
    """The version recorded for an app transaction, or None (also when no table exists)."""
    with translate(_label(path)):
        table = _open(path)
        return None if table is None else table.transaction_version(app_id)


def _commit_properties(txn: tuple[str, int] | None, commit_info: Mapping[str, Any] | None,
                       txns: Sequence[tuple[str, int]] = ()) -> Any:
    from deltalake import CommitProperties, Transaction

    every = ([txn] if txn else []) + list(txns)
    return CommitProperties(
        custom_metadata=dict(commit_info or {}),
        app_transactions=[Transaction(app_id=app_id, version=number) for app_id, number in every] or None,
    )


def write(
    path: Path,
    data: pa.Table,
    *,
    mode: str = "append",
    txn: tuple[str, int] | None = None,
    description: str | None = None,
    comments: Mapping[str, str] | None = None,
    partition_by: list[str] | None = None,
    commit_info: Mapping[str, Any] | None = None,
    predicate: str | None = None,
    txns: Sequence[tuple[str, int]] = (),
) -> int:
    """Append to (or, with ``mode="overwrite"``, replace) a Delta table; return its new version.

    ``mode`` defaults to append: overwriting is an explicit choice. ``txn`` makes the
    write idempotent: if the table already records that app transaction, nothing is
    written and the current version is returned. ``txns`` are more app transactions
    committed with the same rows (several steps' rows in one commit); the write is skipped
    when all of them are recorded, and refused when only some are, since its rows cannot be split.
    """
    from deltalake import write_deltalake

    if mode not in {"append", "overwrite"}:
        raise ValueError(f"mode must be 'append' or 'overwrite', got {mode!r}")
    label = _label(path)
    table = plain_arrow(data)
    if comments:
        table = with_comments(table, comments)
    path.parent.mkdir(parents=True, exist_ok=True)

    def commit() -> int:
        # One snapshot per attempt: it answers the txn check and is the commit's read version.
        with translate(label, "written"):
            existing = _open(path)
            every = ([txn] if txn else []) + list(txns)
            recorded = [existing is not None and (existing.transaction_version(app_id) or -1) >= number
                        for app_id, number in every]
            if every and all(recorded):
                return int(existing.version())
            if any(recorded):
                from govlake.errors import StateError

                done = [app_id for (app_id, _), was in zip(every, recorded, strict=True) if was]
                raise StateError(f"table {label}: the app transactions {done} are recorded but the others of "
                                 "the same write are not; this write cannot be split, so nothing was written: "
                                 "write each step on its own")
            properties = _commit_properties(txn, commit_info, txns)
            target: Any = existing if existing is not None else str(path)
            point("delta.commit.before", label)
            if mode == "overwrite":
                write_deltalake(target, table, mode="overwrite", name=label, description=description,
                                partition_by=partition_by, predicate=predicate,
                                schema_mode="overwrite" if predicate is None else None,
                                commit_properties=properties)
            else:
                # A catalog entry may gain items over time: new columns merge into the table.
                write_deltalake(target, table, mode="append", name=label, description=description,
                                partition_by=partition_by, schema_mode="merge", commit_properties=properties)
            point("delta.commit.after", label)
            return int(_open(path).version())

    with writing(path):
        return with_retry(commit, table=label)


# --- staged appends: Parquet written first, committed later in one transaction ----------------

#: Text statistics longer than this (UTF-8 bytes) are left out of a file's Delta statistics, as
#: delta-rs truncates them: a long minimum or maximum only makes the log larger.
STATS_TEXT_BYTES = 64


@dataclass(frozen=True)
class StagedFile:
    """A Parquet file written into a table's folder and not committed yet (see :class:`Staging`)."""

    path: str  # relative to the table's folder, as the Delta log records it
    size: int
    rows: int
    stats: str  # Delta statistics JSON: numRecords, and minValues/maxValues/nullCount of the chosen columns
    modified_ms: int


@dataclass
class Staged:
    """One idempotent step's files: committed with its app transaction ``txn``, or dropped when the
    table already records that transaction (the step landed in an earlier, interrupted run)."""

    txn: tuple[str, int]
    files: list[StagedFile]


#: Writer locks held for stagings, one per table in this process, with how many stagings hold it:
#: a folder of a thousand files of one dataset must not open a thousand lock files at once.
_HELD: dict[str, tuple[int, ExitStack]] = {}
_HELD_GUARD = threading.Lock()


def _hold_writing(path: Path) -> Callable[[], None]:
    """Take (or share) this process's writer lock on ``path``; return the function that gives it back."""
    key = str(path)
    with _HELD_GUARD:
        count, stack = _HELD.get(key, (0, None))
        if stack is None:
            stack = ExitStack()
            stack.enter_context(writing(path))
        _HELD[key] = (count + 1, stack)
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        with _HELD_GUARD:
            count, stack = _HELD[key]
            if count == 1:
                del _HELD[key]
                stack.close()
            else:
                _HELD[key] = (count - 1, stack)

    return release


class Staging:
    """Parquet files written into a table's folder now, added to the table later by :func:`commit_staged`.

    Why: encoding and compressing Parquet is most of the cost of an append, and it need not
    wait for the commit. ``govlake ingest`` writes a source file's raw rows while it still
    holds them, on its own thread, before the quarantine commit that must land first; the
    commit then only adds the files, several source files in one transaction.

    The writer is pyarrow's, with deltalake's default codec (Snappy); on the same rows it
    costs about half of deltalake's own writer: pyarrow's encoder is cheaper, and minimum
    and maximum statistics are computed only for ``statistics`` columns (those worth
    skipping files on: keys, batch ids), not for every text column. ``dictionary`` names
    the columns to dictionary-encode. The rows written may hold ``string_view`` columns
    (polars hands them over without a copy) and dictionary columns (a value repeated on
    every row costs one copy and no hashing): the files do not store an Arrow schema, so
    every reader sees Parquet's own types, text as plain strings, whatever the writer was
    given. The table's schema has the plain types (:func:`plain_schema`), dictionaries as
    their values.

    Until :func:`commit_staged` adds them, the files are invisible: no commit mentions them.
    The table's writer lock (:func:`writing`, shared) is held from the first file on, so
    ``govlake vacuum`` does not take them for a killed writer's orphans, and is released by
    :meth:`release` (after the commit) or :meth:`discard` (which deletes the files). A
    killed process leaves its files to vacuum, exactly as a killed delta-rs write does.
    """

    def __init__(self, path: Path, schema: pa.Schema, *, dictionary: Collection[str] = (),
                 statistics: Collection[str] = ()) -> None:
        self.path, self.schema = path, _stored_schema(schema)
        self.dictionary = [name for name in schema.names if name in dictionary]
        self.statistics = [name for name in schema.names if name in statistics]
        self.files: list[StagedFile] = []
        self._writer: Any = None
        self._current: Path | None = None
        self._metadata: list[Any] = []
        self._rows = 0
        path.mkdir(parents=True, exist_ok=True)
        self._release = _hold_writing(path)

    def write(self, data: pa.Table) -> None:
        """Append ``data`` (of the staging's schema, views allowed) to the current file, opening one if needed."""
        import pyarrow.parquet as pq

        if data.num_rows == 0:
            return
        if not _stored_schema(data.schema).equals(self.schema):
            data = data.select(self.schema.names).cast(self.schema)
        if self._writer is None:
            name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
            self._current = self.path / name
            self._metadata = []
            self._writer = pq.ParquetWriter(
                self._current, data.schema, compression="snappy", use_dictionary=self.dictionary or False,
                write_statistics=self.statistics or False, store_schema=False, metadata_collector=self._metadata)
            self._rows = 0
        elif not data.schema.equals(self._writer.schema):
            data = data.cast(self._writer.schema)
        with translate(_label(self.path), "written"):
            self._writer.write_table(data)
        self._rows += data.num_rows

    def close(self) -> list[StagedFile]:
        """Finish the current file; return every file written so far."""
        if self._writer is not None:
            with translate(_label(self.path), "written"):
                self._writer.close()
            assert self._current is not None
            info = self._current.stat()
            self.files.append(StagedFile(self._current.name, info.st_size, self._rows,
                                         _file_stats(self._metadata[-1], self.statistics),
                                         int(info.st_mtime * 1000)))
            self._writer = self._current = None
        return list(self.files)

    def release(self) -> None:
        """Drop the writer lock once the files are committed (or handed to another staging's commit)."""
        self._release()

    def discard(self) -> None:
        """Delete the files written (never committed) and drop the lock; safe to call more than once."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # a half-written file is deleted below all the same
                pass
            self._writer = None
        doomed = [self.path / f.path for f in self.files] + ([self._current] if self._current else [])
        self.files, self._current = [], None
        for file in doomed:
            file.unlink(missing_ok=True)
        self._release()


def _stat_value(value: Any) -> Any:
    """A Parquet statistic as Delta's JSON statistics hold it, or None to leave it out."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        return value if len(value.encode("utf-8")) <= STATS_TEXT_BYTES else None
    return None  # dates and times: left out rather than risk a rounding that would skip a file wrongly


def _file_stats(metadata: Any, columns: list[str]) -> str:
    """Delta statistics of one Parquet file from its footer: the writer has already computed them."""
    import json

    stats: dict[str, Any] = {"numRecords": int(metadata.num_rows)}
    minimum: dict[str, Any] = {}
    maximum: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    for name in columns:
        index = names.index(name)
        groups = [metadata.row_group(g).column(index).statistics for g in range(metadata.num_row_groups)]
        if not groups or any(s is None or not s.has_null_count for s in groups):
            continue
        nulls[name] = sum(int(s.null_count) for s in groups)
        bounded = [s for s in groups if s.has_min_max]
        if not bounded:
            continue
        low = [_stat_value(s.min) for s in bounded]
        high = [_stat_value(s.max) for s in bounded]
        if any(v is None for v in low + high) or len(bounded) != sum(1 for s in groups if s.num_values):
            continue
        minimum[name], maximum[name] = min(low), max(high)
    if minimum:
        stats["minValues"], stats["maxValues"] = minimum, maximum
    if nulls:
        stats["nullCount"] = nulls
    return json.dumps(stats, ensure_ascii=False, separators=(",", ":"))


def commit_staged(
    path: Path,
    parts: Sequence[Staged],
    *,
    schema: pa.Schema,
    description: str | None = None,
    comments: Mapping[str, str] | None = None,
    commit_info: Mapping[str, Any] | None = None,
) -> tuple[int, list[Staged]]:
    """Add staged files to the table in ONE commit carrying every part's app transaction.

    Parts whose transaction the table already records are left out and their files deleted
    (they were never committed). Creates the table (with ``description`` and column
    ``comments``) when there is none; columns of ``schema`` the table lacks are added first
    (a catalog entry may gain items). Conflicting commits are retried like :func:`write`.
    Returns the table's version afterwards and the parts committed now. The caller releases
    its :class:`Staging` locks after this returns.
    """
    from deltalake import CommitProperties, Transaction
    from deltalake import Schema as DeltaSchema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    label = _label(path)
    stored = _stored_schema(schema)
    table_schema = with_comments(stored.empty_table(), comments).schema if comments else stored
    landed: list[Staged] = []
    skipped: list[Staged] = []

    def commit() -> int:
        with translate(label, "written"):
            existing = _open(path)
            pending = [p for p in parts
                       if existing is None or (existing.transaction_version(p.txn[0]) or -1) < p.txn[1]]
            skipped[:] = [p for p in parts if p not in pending]
            landed[:] = []
            if not pending:
                return int(existing.version()) if existing is not None else -1
            actions = [AddAction(f.path, f.size, {}, f.modified_ms, True, f.stats) for p in pending for f in p.files]
            properties = CommitProperties(
                custom_metadata=dict(commit_info or {}),
                app_transactions=[Transaction(app_id=p.txn[0], version=p.txn[1]) for p in pending])
            point("delta.commit.before", label)
            if existing is None:
                try:
                    create_table_with_add_actions(str(path), DeltaSchema.from_arrow(table_schema), actions,
                                                  mode="error", name=label, description=description,
                                                  commit_properties=properties)
                except Exception:
                    if _open(path) is None:
                        raise
                    from deltalake.exceptions import CommitFailedError

                    # another process created the table first: append to it on the next attempt
                    raise CommitFailedError(f"table {label} was created concurrently") from None
            else:
                _add_missing_columns(existing, table_schema, properties)
                existing.create_write_transaction(actions, "append", existing.schema(),
                                                  commit_properties=properties)
            point("delta.commit.after", label)
            landed[:] = pending
            return int(_open(path).version())

    with writing(path):
        version = with_retry(commit, table=label)
    for part in skipped:
        for file in part.files:
            (path / file.path).unlink(missing_ok=True)
    return version, list(landed)


def _add_missing_columns(table: Any, schema: pa.Schema, properties: Any) -> None:
    """Add the columns of ``schema`` the table lacks (nullable, with their comments) in their own commit."""
    from deltalake import CommitProperties
    from deltalake.schema import Field

    present = {field.name for field in table.schema().fields}
    missing = [Field.from_arrow(field) for field in schema if field.name not in present]
    if missing:
        table.alter.add_columns(missing, commit_properties=CommitProperties(
            custom_metadata=dict(properties.custom_metadata or {})))
        table.update_incremental()


def merge_upsert(
    path: Path,
    data: pa.Table,
    *,
    keys: list[str],
    commit_info: Mapping[str, Any] | None = None,
) -> int:
    """Upsert ``data`` by ``keys`` with Delta MERGE (retrying conflicts); return the new version.

    deltalake 1.6's MERGE writes the files it touches with ``string_view`` columns, which
    Arrow-schema readers such as Daft reject, so the table is then rewritten plain with
    ``optimize.z_order`` on the keys (which also clusters it for key lookups).
    """
    from deltalake import DeltaTable

    label = _label(path)
    table = plain_arrow(data)
    predicate = " AND ".join(f"t.{key} = s.{key}" for key in keys)

    def commit() -> int:
        with translate(label, "merged"):
            target = DeltaTable(str(path))
            point("delta.commit.before", label)
            (
                target.merge(table, predicate=predicate, source_alias="s", target_alias="t",
                             commit_properties=_commit_properties(None, commit_info))
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
            point("delta.commit.after", label)
            return int(DeltaTable(str(path)).version())

    def rewrite() -> int:
        with translate(label, "rewritten"):
            target = DeltaTable(str(path))
            point("delta.commit.before", label)
            target.optimize.z_order(keys, commit_properties=_commit_properties(None, commit_info))
            point("delta.commit.after", label)
            return int(DeltaTable(str(path)).version())

    with writing(path):
        with_retry(commit, table=label)
        return with_retry(rewrite, table=label)


def restore(path: Path, version: int, *, commit_info: Mapping[str, Any] | None = None) -> int:
    """Roll the table back to ``version`` with Delta RESTORE (a new commit); return the new version.

    Nothing is deleted: the versions in between stay readable by time travel until vacuumed.
    """
    from deltalake import DeltaTable

    label = _label(path)

    def commit() -> int:
        with translate(label, "restored"):
            target = DeltaTable(str(path))
            point("delta.commit.before", label)
            target.restore(version, commit_properties=_commit_properties(None, commit_info))
            point("delta.commit.after", label)
            return int(DeltaTable(str(path)).version())

    with writing(path):
        return with_retry(commit, table=label)


def scan(path: Path, *, version: int | None = None) -> pl.LazyFrame:
    """A lazy polars scan of a Delta table (never ``to_pyarrow_table``: delta-rs#2184)."""
    import polars as pl

    with translate(_label(path)):
        # The log is read now, not when the plan runs, so a damaged table is named here: a lazy
        # frame's errors would surface later, outside any translation, as a traceback.
        if version is None:
            if _open(path) is None:
                from deltalake import DeltaTable

                DeltaTable(str(path))  # raises the library's "not a table" error, translated below
        else:
            from deltalake import DeltaTable

            DeltaTable(str(path), version=version)
        return pl.scan_delta(str(path), version=version)


def read(path: Path, *, version: int | None = None, columns: list[str] | None = None) -> pl.DataFrame:
    frame = scan(path, version=version)
    if columns is not None:
        frame = frame.select(columns)
    with translate(_label(path)):
        return frame.collect()


def row_count(path: Path) -> int:
    """Rows in the current version, from the Delta log's file statistics when present."""
    import polars as pl

    with translate(_label(path)):
        return int(pl.scan_delta(str(path)).select(pl.len()).collect().item())


def metadata(path: Path) -> dict[str, Any]:
    """Name, description and column comments as notebook users see them via deltalake."""
    from deltalake import DeltaTable

    with translate(_label(path)):
        table = DeltaTable(str(path))
        meta = table.metadata()
        comments = {
            field.name: (field.metadata or {}).get("comment", "") for field in table.schema().fields
        }
        return {"name": meta.name, "description": meta.description, "columns": comments}
