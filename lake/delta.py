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
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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


def plain_arrow(table: pa.Table) -> pa.Table:
    """Cast view types (also nested) to their plain large equivalents (see module docstring)."""
    import pyarrow as pa

    fields = [pa.field(f.name, _plain_type(f.type), f.nullable, f.metadata) for f in table.schema]
    schema = pa.schema(fields, metadata=table.schema.metadata)
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


def _commit_properties(txn: tuple[str, int] | None, commit_info: Mapping[str, Any] | None) -> Any:
    from deltalake import CommitProperties, Transaction

    return CommitProperties(
        custom_metadata=dict(commit_info or {}),
        app_transactions=[Transaction(app_id=txn[0], version=txn[1])] if txn else None,
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
) -> int:
    """Append to (or, with ``mode="overwrite"``, replace) a Delta table; return its new version.

    ``mode`` defaults to append: overwriting is an explicit choice. ``txn`` makes the
    write idempotent: if the table already records that app transaction, nothing is
    written and the current version is returned.
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
            if existing is not None and txn is not None and (existing.transaction_version(txn[0]) or -1) >= txn[1]:
                return int(existing.version())
            properties = _commit_properties(txn, commit_info)
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
