"""The audit trail of governed queries (共享过程可追溯): an append-only, hash-chained system table.

Every governed query, allowed or refused, becomes one entry: who and when, the SQL as
written and as run, the views and columns it touched, rows returned, the decision, the
reason and the duration. Entries are chained: each carries ``prev_hash`` (the previous
entry's hash) and ``hash = sha256(prev_hash + canonical JSON of the entry)``, so
:func:`verify` finds an edited, deleted or reordered entry.

Appending must be cheap (a governed dashboard query may cost at most 1.2× the raw
one), so an entry is chained and appended to a spool file under ``<home>/spool`` while
holding the ``audit`` lock (well under a millisecond), and spooled entries move into the
``system.audit`` Delta table in one commit when :data:`FLUSH_AT` are pending, when a
session closes, and before the audit is listed or verified. Each flush commit carries
the Delta app transaction ``govlake.audit`` with the last sequence number it holds, so
a flush repeated after a crash writes nothing twice, and its commit info records the
chain head, so deleting rows at the end of the table is detected too.

>>> # record(home, AuditEntry(...)); flush(home); verify(home).entries
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError
from lake import delta
from lake.faults import point
from lake.locks import file_lock, held_file_lock
from lake.system import SystemTable

if TYPE_CHECKING:
    import pyarrow as pa

    from govlake.home import Home

AUDIT = SystemTable(
    "audit",
    "审计日志：每次受控查询（允许或拒绝）一条，哈希链相连，可追溯谁在何时看到了什么。",
    {
        "seq": "序号（从 1 开始连续）",
        "entry_id": "条目标识",
        "at": "查询时间（UTC）",
        "user": "用户",
        "session_id": "会话标识",
        "sql": "用户提交的 SQL",
        "sql_run": "实际执行的 SQL（拒绝时为空）",
        "statement_kind": "语句类型",
        "views": "读取的视图",
        "columns": "读取的列（视图.列）",
        "max_grade": "读取列的最高数据级别",
        "rows": "返回行数（拒绝或失败时为空）",
        "truncated": "结果是否因行数上限被截断",
        "decision": "决定：allowed 允许，refused 拒绝，failed 执行失败",
        "reason": "拒绝或失败的原因",
        "duration_ms": "耗时（毫秒）",
        "prev_hash": "上一条目的哈希",
        "hash": "本条目的哈希：sha256(prev_hash + 条目的规范 JSON)",
    },
)
APP_ID = "govlake.audit"
GENESIS = "0" * 64
#: Pending entries that trigger a flush into the Delta table.
FLUSH_AT = 256
HASHED_FIELDS = (
    "seq", "entry_id", "at", "user", "session_id", "sql", "sql_run", "statement_kind", "views", "columns",
    "max_grade", "rows", "truncated", "decision", "reason", "duration_ms", "prev_hash",
)
DECISIONS = ("allowed", "refused", "failed")


class AuditChainBroken(GovLakeError):
    """The audit trail was edited or entries were deleted; ``seq`` is the first broken entry."""

    def __init__(self, message: str, *, seq: int) -> None:
        self.seq = seq
        super().__init__(message)


@dataclass(frozen=True)
class AuditEntry:
    """What happened to one governed query, as the session reports it."""

    user: str
    sql: str
    decision: str
    reason: str = ""
    session_id: str = ""
    sql_run: str | None = None
    statement_kind: str | None = None
    views: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()  # view.column
    max_grade: str | None = None
    rows: int | None = None
    truncated: bool = False
    duration_ms: float = 0.0
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head_seq: int
    head_hash: str
    pending: int  # entries still in the spool


def _timestamp(value: dt.datetime) -> str:
    # what strftime("%Y-%m-%dT%H:%M:%S.%fZ") gives, at a fraction of its cost on the query path
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical(row: dict[str, Any]) -> str:
    """The canonical JSON of an entry: the hashed fields, sorted keys, no whitespace."""
    return json.dumps({key: row[key] for key in HASHED_FIELDS}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))


def entry_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256((row["prev_hash"] + canonical(row)).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- paths


def table_path(home: Home) -> Path:
    return home.table_path("system", AUDIT.name)


def _spool(home: Home) -> Path:
    return home.root / "spool" / "audit.jsonl"


def _tail_file(home: Home) -> Path:
    return home.root / "spool" / "audit.tail.json"


# --------------------------------------------------------------------------- appending


def record(home: Home, entry: AuditEntry) -> dict[str, Any]:
    """Chain ``entry`` after the current head and append it to the spool; return the row."""
    if entry.decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {entry.decision!r}")
    spool = _spool(home)
    with held_file_lock(home, "audit"):
        seq, prev_hash = _cached_head(spool) or _head(home)
        row: dict[str, Any] = {
            "seq": seq + 1, "entry_id": uuid.uuid4().hex, "at": _timestamp(entry.at), "user": entry.user,
            "session_id": entry.session_id, "sql": entry.sql, "sql_run": entry.sql_run,
            "statement_kind": entry.statement_kind, "views": list(entry.views), "columns": list(entry.columns),
            "max_grade": entry.max_grade, "rows": entry.rows, "truncated": entry.truncated,
            "decision": entry.decision, "reason": entry.reason, "duration_ms": round(float(entry.duration_ms), 3),
            "prev_hash": prev_hash,
        }
        hashed = canonical(row)
        row["hash"] = hashlib.sha256((prev_hash + hashed).encode("utf-8")).hexdigest()
        # the spooled line is the canonical JSON with the hash added (one encoding, not two)
        line = (hashed[:-1] + ',"hash":"' + row["hash"] + '"}\n').encode("utf-8")
        try:
            handle = os.open(spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except FileNotFoundError:
            spool.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(handle, line)
            stat = os.fstat(handle)
        finally:
            os.close(handle)
        _HEADS[str(spool)] = (stat.st_ino, stat.st_size, stat.st_mtime_ns, row["seq"], row["hash"])
        point("audit.spooled", "system.audit")
        # ~1 KB an entry: flush once about FLUSH_AT are pending (amortized, not per query).
        if stat.st_size >= FLUSH_AT * 1024:
            _flush_locked(home)
    return row


def record_event(home: Home, *, user: str, action: str, detail: str, decision: str = "allowed",
                 reason: str = "", views: tuple[str, ...] = (), columns: tuple[str, ...] = ()) -> dict[str, Any]:
    """Audit a state change that is not a query (a grant approved, an objection filed, a restore).

    ``action`` is a dotted event name (``share.approve``, ``objection.file``, ``table.restore``)
    and goes in ``statement_kind``; ``detail`` is a human-readable or JSON account of the change
    and goes in ``sql``. Refused attempts are audited too, with ``decision="refused"``.

    >>> # record_event(home, user="hz_analyst", action="objection.file", detail='{"case": "OBJ-1"}')
    """
    return record(home, AuditEntry(user=user, sql=detail, decision=decision, reason=reason,
                                   statement_kind=action, views=views, columns=columns))


#: spool path -> (inode, size, mtime_ns, seq, hash) after this process's last append, so the
#: next append need not re-read the spool when no other process has touched it since.
_HEADS: dict[str, tuple[int, int, int, int, str]] = {}


def _cached_head(spool: Path) -> tuple[int, str] | None:
    cached = _HEADS.get(str(spool))
    if cached is None:
        return None
    try:
        stat = os.stat(spool)
    except OSError:
        return None
    if (stat.st_ino, stat.st_size, stat.st_mtime_ns) != cached[:3]:
        return None
    return cached[3], cached[4]


def _head(home: Home) -> tuple[int, str]:
    """(seq, hash) of the newest entry: spool, else tail file, else the Delta commit info."""
    last = _last_spool_row(home)
    if last is not None:
        return int(last["seq"]), str(last["hash"])
    tail = _tail_file(home)
    if tail.exists():
        saved = json.loads(tail.read_text(encoding="utf-8"))
        return int(saved["seq"]), str(saved["hash"])
    committed = _committed_head(home)
    return committed if committed is not None else (0, GENESIS)


def _committed_head(home: Home) -> tuple[int, str] | None:
    """The chain head recorded by the newest flush commit of the Delta table, if any."""
    path = table_path(home)
    if not delta.is_table(path):
        return None
    from deltalake import DeltaTable

    for commit in DeltaTable(str(path)).history():
        if "govlake.audit.last_seq" in commit:
            return int(commit["govlake.audit.last_seq"]), str(commit["govlake.audit.last_hash"])
    return None


def _last_spool_row(home: Home) -> dict[str, Any] | None:
    """The last complete line of the spool; a torn final line (a crash mid-write) is cut off."""
    spool = _spool(home)
    if not spool.exists():
        return None
    with spool.open("rb+") as handle:
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return None
        chunk = 4096
        while True:
            start = max(0, end - chunk)
            handle.seek(start)
            data = handle.read(end - start)
            body = data if data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
            if not data.endswith(b"\n"):
                # torn: never acknowledged (its query got no answer), so drop it
                handle.truncate(start + len(body))
                end = start + len(body)
                if end == 0:
                    return None
                continue
            lines = body[:-1].split(b"\n")
            if len(lines) > 1 or start == 0:
                row: dict[str, Any] = json.loads(lines[-1])
                return row
            chunk *= 4


def _spool_rows(home: Home) -> list[dict[str, Any]]:
    spool = _spool(home)
    if not spool.exists():
        return []
    rows = []
    for line in spool.read_bytes().split(b"\n"):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a torn last line
                break
    return rows


# --------------------------------------------------------------------------- flushing


def flush(home: Home) -> int:
    """Move spooled entries into ``system.audit`` (one idempotent commit); return how many."""
    if not _spool(home).exists():
        return 0
    with file_lock(home, "audit"):
        return _flush_locked(home)


def _flush_locked(home: Home) -> int:
    rows = _spool_rows(home)
    if not rows:
        _spool(home).unlink(missing_ok=True)
        return 0
    path = table_path(home)
    committed = delta.txn_version(path, APP_ID) or 0
    todo = [row for row in rows if int(row["seq"]) > committed]
    if todo:
        last = todo[-1]
        delta.write(
            path, _arrow(todo), mode="append", txn=(APP_ID, int(last["seq"])),
            description=AUDIT.description, comments=AUDIT.columns,
            commit_info={"govlake.audit.last_seq": str(last["seq"]), "govlake.audit.last_hash": last["hash"]},
        )
        point("audit.flush.committed", "system.audit")
    tail = _tail_file(home)
    partial = tail.with_suffix(".part")
    partial.write_text(json.dumps({"seq": rows[-1]["seq"], "hash": rows[-1]["hash"]}), encoding="utf-8")
    partial.replace(tail)
    _spool(home).unlink(missing_ok=True)
    _HEADS.pop(str(_spool(home)), None)
    return len(todo)


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    text, texts = pa.large_string(), pa.large_list(pa.large_string())
    schema = pa.schema([
        ("seq", pa.int64()), ("entry_id", text), ("at", pa.timestamp("us", tz="UTC")), ("user", text),
        ("session_id", text), ("sql", text), ("sql_run", text), ("statement_kind", text), ("views", texts),
        ("columns", texts), ("max_grade", text), ("rows", pa.int64()), ("truncated", pa.bool_()),
        ("decision", text), ("reason", text), ("duration_ms", pa.float64()), ("prev_hash", text), ("hash", text),
    ])
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for name in schema.names:
            value = row[name]
            if name == "at":
                value = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
            columns[name].append(value)
    return pa.table(columns, schema=schema)


# --------------------------------------------------------------------------- reading


def committed_rows(home: Home) -> list[dict[str, Any]]:
    """Rows of the Delta table, oldest first, as the dicts that were hashed."""
    path = table_path(home)
    if not delta.is_table(path):
        return []
    frame = delta.read(path).sort("seq")
    rows = []
    for row in frame.iter_rows(named=True):
        row["at"] = _timestamp(row["at"])
        row["views"] = list(row["views"] or [])
        row["columns"] = list(row["columns"] or [])
        rows.append(row)
    return rows


def entries(home: Home, *, user: str | None = None, flush_first: bool = True) -> list[dict[str, Any]]:
    """Every audit entry (committed, then pending in the spool), optionally of one user."""
    if flush_first:
        flush(home)
    rows = committed_rows(home)
    committed = rows[-1]["seq"] if rows else 0
    rows.extend(row for row in _spool_rows(home) if row["seq"] > committed)
    return [row for row in rows if user is None or row["user"] == user]


def verify(home: Home) -> VerifyReport:
    """Recompute the chain; raise :class:`AuditChainBroken` at the first broken entry.

    Read-only: pending spool entries are checked in place, not flushed.
    """
    rows = committed_rows(home)
    pending = [row for row in _spool_rows(home) if row["seq"] > (rows[-1]["seq"] if rows else 0)]
    committed = _committed_head(home)
    last_committed = rows[-1]["seq"] if rows else 0
    prev_hash, expected = GENESIS, 1
    for row in _iterate(rows, pending):
        seq = int(row["seq"])
        who = f"audit entry {seq} ({row['at']}, user {row['user']!r})"
        if seq != expected:
            gap = f"entries {expected}–{seq - 1} are" if seq > expected + 1 else f"entry {expected} is"
            if seq < expected:
                gap = f"entry {seq} appears twice or out of order; entry {expected} is"
            raise AuditChainBroken(
                f"{gap} missing before {who}: entries were deleted or reordered; the trail after entry "
                f"{expected - 1} cannot be trusted — restore system.audit from a backup", seq=expected)
        if row["prev_hash"] != prev_hash:
            raise AuditChainBroken(
                f"{who} does not chain to entry {seq - 1} (prev_hash differs): entry {seq - 1} was changed or "
                "replaced; restore system.audit from a backup", seq=seq)
        if entry_hash(row) != row["hash"]:
            raise AuditChainBroken(
                f"{who} was edited: its hash does not match its contents; restore system.audit from a backup",
                seq=seq)
        prev_hash, expected = row["hash"], seq + 1
    if committed is not None and committed[0] > last_committed:
        raise AuditChainBroken(
            f"entries {last_committed + 1}–{committed[0]} were deleted from the end of system.audit (the last flush "
            f"committed up to entry {committed[0]}); restore system.audit from a backup", seq=last_committed + 1)
    return VerifyReport(entries=expected - 1, head_seq=expected - 1, head_hash=prev_hash, pending=len(pending))


def _iterate(*groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for group in groups:
        yield from group


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as plain data (for tests and JSON output)."""
    data = asdict(entry)
    data["at"] = _timestamp(entry.at)
    return data
