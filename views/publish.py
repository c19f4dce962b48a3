"""Delivered extracts: one user's governed views, materialized into a read-only DuckDB file.

:func:`publish` writes ``<home>/extracts/<user>-<UTC timestamp>.duckdb`` (or ``out``). The
file holds one plain DuckDB table per view granted to the user, created from the user's
own view definitions (:func:`views.session.governed_views`), so masks and the row scope
are already applied: a masked column holds masked text, a hidden column is NULL with its
type, and rows outside the scope were never read. The tables keep the view and column
comments. Nothing in the file refers to the lake: it opens in any DuckDB client, with no
GovLake code and no delta extension::

    duckdb -readonly extracts/hz_analyst-20261122T083000Z.duckdb "SELECT * FROM _govlake_extract"

How it is written, and why:

* **Pinned versions.** Every ``delta_scan`` is pinned to the Delta version resolved once at
  the start (:func:`views.session.table_locations`), so the versions the file lists are
  exactly the data it holds, even if a build commits meanwhile.
* **Atomic.** The file is written under a hidden temporary name next to the target
  (``.<name>.<pid>.part``), checkpointed, made read-only (0o444) and then hard-linked to
  its final name, which never overwrites an existing file. A publish that is killed leaves
  at most a ``.part`` file, never a half extract; the next publish into that folder removes
  ``.part`` files whose process is gone.
* **Audited.** The publish is an access by the user (共享过程可追溯): one ``system.audit``
  entry with ``statement_kind = 'PUBLISH'``, the views and ``view.column``s delivered, the
  total rows and the highest grade, and the statements run. It is recorded before the file
  is delivered; the file names that entry (``audit_seq``). A refusal (unknown user, no
  granted views) and a failure are audited too. A publish killed between its entry and the
  rename leaves an entry whose file never appeared: over-reporting, never under-reporting.

The metadata table ``_govlake_extract`` has one row:

==================  ==========================  ==============================================
column              type                        meaning
==================  ==========================  ==============================================
format_version      INTEGER                     :data:`EXTRACT_FORMAT` (readers refuse newer)
extract_id          VARCHAR                     also the audit entry's ``session_id``
user                VARCHAR                     the user it was built for (policies/users.toml)
user_name           VARCHAR                     their display name
scope               VARCHAR                     row scope name and prefix, e.g. ``杭州市 (3301)``
built_at            TIMESTAMP WITH TIME ZONE    when the data was read (UTC)
govlake_version     VARCHAR
duckdb_version      VARCHAR                     the release that wrote the file
sources             MAP(VARCHAR, BIGINT)        ``zone.table`` -> Delta version read
tables              MAP(VARCHAR, BIGINT)        table in this file -> rows
audit_seq           BIGINT                      the ``system.audit`` entry of this publish
grant_id            VARCHAR                     the sharing grant it serves (``publish --grant``), else NULL
expires_at          TIMESTAMP WITH TIME ZONE    the grant's expiry: when the recipient must delete it
==================  ==========================  ==============================================

An extract tied to a sharing grant (:func:`publish` with ``grant``) fills ``grant_id`` and
``expires_at``; :func:`check_grant` says whether it may still be used (``govlake publish
--verify``): not past the expiry the file records, and the grant neither expired nor
revoked in the home that issued it. Those two columns were added without a format bump:
the change is additive. Readers select columns by name, new columns are appended, and
``format_version`` goes up only for a change old readers would misread.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError, PolicyDenied, StateError
from govlake.home import Home
from lake.audit import AuditEntry, record
from lake.faults import point

if TYPE_CHECKING:
    import duckdb

    from lake.sharing import ShareGrant
    from policies import Policies
    from views.session import GovernedView, TableLocation

#: Version of the extract layout (the ``_govlake_extract`` table and what it promises).
EXTRACT_FORMAT = 1
METADATA_TABLE = "_govlake_extract"
_PART = re.compile(r"^\..+\.(?P<pid>\d+)\.part(?:\.wal)?$")


class ExtractInvalid(GovLakeError):
    """A file is not a GovLake extract, is of a newer format, or no longer matches its metadata."""


@dataclass(frozen=True)
class Extract:
    """What an extract holds and for whom, as written by :func:`publish` or read by :func:`read_extract`."""

    path: Path
    format_version: int
    extract_id: str
    user: str
    user_name: str
    scope: str
    built_at: dt.datetime
    govlake_version: str
    duckdb_version: str
    sources: dict[str, int]  # zone.table -> Delta version
    tables: dict[str, int]  # table -> rows
    audit_seq: int | None
    grant_id: str | None = None
    expires_at: dt.datetime | None = None
    #: granted views that could not be included (their tables are not built), with the missing tables
    unavailable: dict[str, list[str]] = field(default_factory=dict)
    #: problems :func:`read_extract` found (empty when the file matches its metadata)
    problems: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def publish(user: str, *, home: Home | str | os.PathLike[str] | None = None,
            out: str | os.PathLike[str] | None = None, grant: str | None = None) -> Extract:
    """Write ``user``'s extract and return what it holds (see the module docstring).

    ``out`` is the file to write, or an existing folder to write the default name into
    (default: ``<home>/extracts``). An existing file is never overwritten. Raises
    :class:`~govlake.errors.PolicyDenied` for an unknown user or one with no granted views,
    and :class:`~govlake.errors.StateError` when none of the granted views is built yet.

    With ``grant`` (a sharing grant of ``user``, lake/sharing.py), the extract holds only that
    grant's view and records the grant and its expiry (``grant_id``, ``expires_at``); a grant
    that is not the user's, or no longer active, is refused and audited. Without it, the
    extract holds the views the user's roles grant, never time-limited grants.

    >>> extract = publish("hz_analyst", home="govlake_home")              # doctest: +SKIP
    >>> extract.path, extract.tables["population"]
    """
    from policies import load_policies

    resolved = home if isinstance(home, Home) else Home.resolve(home)
    resolved.check_format()
    if not resolved.exists():
        raise StateError(f"there is no GovLake home at {resolved.root}; run `govlake demo` first or pass --home")
    policies = load_policies()
    shared = _shared_grant(resolved, user, grant) if grant is not None else None
    granted = [shared.view] if shared is not None else _granted(policies, user, resolved)
    started = time.perf_counter()
    built_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    target = _target(resolved, user, built_at, out)
    extract_id = uuid.uuid4().hex[:16]
    try:
        return _publish(policies, user, resolved, granted, target, built_at, extract_id, started, shared)
    except PolicyDenied:
        raise
    except BaseException as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0][:300]
        record(resolved, AuditEntry(user=user, sql=_audit_sql(target), decision="failed", session_id=extract_id,
                                    statement_kind="PUBLISH", reason=f"extract not delivered: {reason}",
                                    duration_ms=(time.perf_counter() - started) * 1000))
        raise


def _granted(policies: Policies, user: str, home: Home) -> list[str]:
    """The user's granted views; refuse (and audit) an unknown user or one with none."""
    if user not in policies.users:
        record(home, AuditEntry(user=user, sql="publish", decision="refused", statement_kind="PUBLISH",
                                reason="unknown user"))
        raise PolicyDenied(user, "unknown user; users are defined in policies/users.toml")
    granted = sorted(policies.views_of(policies.users[user]))
    if not granted:
        reason = ("no views are granted to you, so an extract would be empty; grants are in policies/grants.toml "
                  "(ask for a role that grants views)")
        record(home, AuditEntry(user=user, sql="publish", decision="refused", statement_kind="PUBLISH",
                                reason=reason))
        raise PolicyDenied(user, reason)
    return granted


def _shared_grant(home: Home, user: str, grant_id: str) -> ShareGrant:
    """The sharing grant an extract is to serve; refuse (and audit) one not the user's or not active."""
    from govlake.errors import NotFound
    from lake.sharing import get_grant, now

    try:
        grant = get_grant(home, grant_id)
    except NotFound as error:
        reason = str(error)
    else:
        if grant.user != user:
            reason = f"grant {grant_id} is not yours (it was made to {grant.user})"
        elif grant.state != "active":
            reason = grant.explain_end(now())
        else:
            return grant
    record(home, AuditEntry(user=user, sql=f"publish --grant {grant_id}", decision="refused",
                            statement_kind="PUBLISH", reason=reason))
    raise PolicyDenied(user, reason)


def _target(home: Home, user: str, built_at: dt.datetime, out: str | os.PathLike[str] | None) -> Path:
    name = f"{user}-{built_at.strftime('%Y%m%dT%H%M%SZ')}.duckdb"
    if out is None:
        return home.extracts / name
    path = Path(out).expanduser().absolute()
    return path / name if path.is_dir() else path


def _publish(policies: Policies, user: str, home: Home, granted: list[str], target: Path, built_at: dt.datetime,
             extract_id: str, started: float, shared: ShareGrant | None = None) -> Extract:
    from lake.extensions import connect, duckdb_version
    from views.definitions import shipped_views
    from views.masks import user_access
    from views.session import governed_views, shared_access, table_locations

    if target.exists():
        raise StateError(f"{target} already exists; an extract is never overwritten: pass another --out or "
                         "delete the old file")
    # The views delivered, as this user sees them (a sharing grant's view alone, with ``shared``).
    access = user_access(policies.users[user], policies, shipped_views()) if shared is None else {
        shared.view: shared_access(policies, shared)}
    views = {name: item.view for name, item in access.items()}
    # Resolved once: the versions the extract pins and lists.
    locations = table_locations(home, {t for name in granted for t in views[name].tables})
    definitions = governed_views(user, home=home, grants=(shared,) if shared else ())
    definitions = {name: view for name, view in definitions.items() if name in granted}
    unavailable = {name: [t for t in views[name].tables if locations[t].version is None]
                   for name in granted if name not in definitions}
    if not definitions:
        missing = sorted({t for tables in unavailable.values() for t in tables})
        raise StateError(f"none of the views granted to {user!r} can be published from this home: table "
                         f"{', '.join(missing)} has not been built; run `govlake build`")
    account = policies.users[user]

    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_parts(target.parent)
    partial = target.parent / f".{target.name}.{os.getpid()}.part"
    statements: list[str] = []
    tables: dict[str, int] = {}
    con = connect(str(partial), extensions=("delta",), extension_dir=home.extensions)
    try:
        for name, view in definitions.items():
            statement = f"CREATE TABLE {_ident(name)} AS\n{_pinned(view.sql, locations)}"
            con.execute(statement)
            statements.append(statement)
            _comment(con, view)
            row = con.execute(f"SELECT count(*) FROM {_ident(name)}").fetchone()
            tables[name] = int(row[0]) if row else 0
        read = {t for name in definitions for t in views[name].tables}
        sources = {t: int(locations[t].version or 0) for t in sorted(read)}
        columns = tuple(f"{v}.{c}" for v in definitions for c in access[v].columns)
        grades = [access[v].max_grade(set(access[v].columns)) for v in definitions]
        from views.columns import GRADE_ORDER

        known = [g for g in grades if g]
        audited = record(home, AuditEntry(
            user=user, sql=_audit_sql(target), decision="allowed", session_id=extract_id,
            sql_run=";\n".join(statements), statement_kind="PUBLISH", views=tuple(definitions), columns=columns,
            max_grade=max(known, key=GRADE_ORDER.__getitem__) if known else None, rows=sum(tables.values()),
            duration_ms=(time.perf_counter() - started) * 1000, at=built_at,
        ))
        scope = account.scope
        extract = Extract(
            path=target, format_version=EXTRACT_FORMAT, extract_id=extract_id, user=user,
            user_name=account.title, scope=f"{scope.title} ({scope.division_prefix or '*'})",
            built_at=built_at, govlake_version=_govlake_version(), duckdb_version=duckdb_version(),
            sources=sources, tables=tables, audit_seq=int(audited["seq"]), unavailable=unavailable,
            grant_id=shared.id if shared else None, expires_at=shared.expires_at if shared else None,
        )
        _write_metadata(con, extract)
        con.execute("CHECKPOINT")
        con.close()
        os.chmod(partial, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # 0o444
        point("publish.ready")
        _deliver(partial, target)
    except BaseException:
        con.close()
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
        raise
    return extract


def _pinned(sql: str, locations: Mapping[str, TableLocation]) -> str:
    """``sql`` with every ``delta_scan('<path>')`` read at the version in ``locations``.

    A scan of a path that is not among ``locations`` is refused: the file could not say
    which version it holds.
    """
    import sqlglot
    from sqlglot import exp

    by_path = {str(location.path): location for location in locations.values()}
    tree = sqlglot.parse_one(sql, read="duckdb")
    for scan in tree.find_all(exp.Anonymous):
        if scan.name.lower() != "delta_scan":
            continue
        path = scan.expressions[0].name if scan.expressions else ""
        location = by_path.get(path)
        if location is None or location.version is None:
            raise StateError("a governed view reads a table GovLake did not resolve; run `govlake build` and "
                             "publish again")
        scan.append("expressions", exp.PropertyEQ(this=exp.to_identifier("version"),
                                                  expression=exp.Literal.number(location.version)))
    return str(tree.sql(dialect="duckdb", pretty=True))


def _comment(con: duckdb.DuckDBPyConnection, view: GovernedView) -> None:
    con.execute(f"COMMENT ON TABLE {_ident(view.name)} IS {_literal(view.description)}")
    for column, comment in view.column_comments.items():
        con.execute(f"COMMENT ON COLUMN {_ident(view.name)}.{_ident(column)} IS {_literal(comment)}")


def _write_metadata(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    con.execute(f"""
        CREATE TABLE {METADATA_TABLE} (
            format_version INTEGER NOT NULL, extract_id VARCHAR NOT NULL, "user" VARCHAR NOT NULL,
            user_name VARCHAR, scope VARCHAR, built_at TIMESTAMP WITH TIME ZONE NOT NULL,
            govlake_version VARCHAR, duckdb_version VARCHAR, sources MAP(VARCHAR, BIGINT),
            tables MAP(VARCHAR, BIGINT), audit_seq BIGINT, grant_id VARCHAR,
            expires_at TIMESTAMP WITH TIME ZONE)""")
    con.execute(
        f"INSERT INTO {METADATA_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, MAP(?::VARCHAR[], ?::BIGINT[]), "
        "MAP(?::VARCHAR[], ?::BIGINT[]), ?, ?, ?)",
        [extract.format_version, extract.extract_id, extract.user, extract.user_name, extract.scope,
         extract.built_at, extract.govlake_version, extract.duckdb_version, list(extract.sources),
         list(extract.sources.values()), list(extract.tables), list(extract.tables.values()), extract.audit_seq,
         extract.grant_id, extract.expires_at],
    )
    description = ("GovLake 交付数据副本的元数据：为谁生成、生成时间、来源表的 Delta 版本、各表行数、审计序号，"
                   "以及所依据的共享授权编号和到期时间（到期或撤销后不得继续使用，用 govlake publish --verify 核验）。")
    con.execute(f"COMMENT ON TABLE {METADATA_TABLE} IS {_literal(description)}")


def _deliver(partial: Path, target: Path) -> None:
    """Give ``partial`` its final name atomically, never replacing an existing file."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise StateError(f"{target} already exists; an extract is never overwritten: pass another --out or "
                         "delete the old file") from None
    except OSError:  # a filesystem without hard links: check, then rename (atomic, but racy on the check)
        if target.exists():
            raise StateError(f"{target} already exists; an extract is never overwritten") from None
        partial.replace(target)
    else:
        point("publish.linked")
        partial.unlink()
    try:
        folder = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def _sweep_parts(folder: Path) -> None:
    """Remove ``.part`` files left by publishes that were killed (their process is gone)."""
    for path in folder.glob(".*.part*"):
        match = _PART.match(path.name)
        if match is None:
            continue
        pid = int(match.group("pid"))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:  # alive, another user's process
            continue


def _audit_sql(target: Path) -> str:
    return f"publish extract {target}"


def _govlake_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("govlake")
    except PackageNotFoundError:
        return "unknown"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- reading back


def read_extract(path: str | os.PathLike[str]) -> Extract:
    """Read an extract's metadata and check the file still matches it (``govlake publish --verify``).

    Opens the file read-only with plain DuckDB (no extensions). Raises
    :class:`ExtractInvalid` when it is not an extract or is of a newer format; otherwise
    returns the metadata with ``problems`` listing any mismatch: a table missing, added or
    with another row count, a view (an extract holds plain tables only), or a writable file.
    """
    import duckdb

    from lake.extensions import connect

    file = Path(path).expanduser().absolute()
    if not file.is_file():
        raise ExtractInvalid(f"{file} does not exist or is not a file")
    try:
        con = connect(str(file), extensions=(), read_only=True)
    except duckdb.Error as error:
        raise ExtractInvalid(f"{file} is not a DuckDB database ({str(error).splitlines()[0][:200]})") from None
    try:
        names = {str(row[0]) for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
        if METADATA_TABLE not in names:
            raise ExtractInvalid(f"{file} is not a GovLake extract: it has no {METADATA_TABLE} table")
        meta = _metadata_row(con, file)
        if int(meta["format_version"]) > EXTRACT_FORMAT:
            raise ExtractInvalid(f"{file} is an extract of format {meta['format_version']}; this GovLake reads up "
                                 f"to format {EXTRACT_FORMAT}: upgrade GovLake")
        tables = {str(k): int(v) for k, v in (meta["tables"] or {}).items()}
        problems = []
        for name, expected in tables.items():
            if name not in names:
                problems.append(f"table {name} is listed but missing")
                continue
            found = con.execute(f"SELECT count(*) FROM {_ident(name)}").fetchone()
            if found is None or int(found[0]) != expected:
                problems.append(f"table {name} has {found[0] if found else '?'} rows, the metadata says {expected}")
        extra = sorted(names - set(tables) - {METADATA_TABLE})
        problems.extend(f"table {name} is not listed in the metadata" for name in extra)
        views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        problems.extend(f"view {row[0]} is not expected in an extract" for row in views)
    finally:
        con.close()
    if file.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        problems.append("the file is writable (it was published read-only, 0444)")
    return Extract(
        path=file, format_version=int(meta["format_version"]), extract_id=str(meta["extract_id"]),
        user=str(meta["user"]), user_name=str(meta.get("user_name") or ""), scope=str(meta.get("scope") or ""),
        built_at=meta["built_at"], govlake_version=str(meta.get("govlake_version") or ""),
        duckdb_version=str(meta.get("duckdb_version") or ""),
        sources={str(k): int(v) for k, v in (meta.get("sources") or {}).items()}, tables=tables,
        audit_seq=None if meta.get("audit_seq") is None else int(meta["audit_seq"]),
        grant_id=meta.get("grant_id"), expires_at=meta.get("expires_at"), problems=tuple(problems),
    )


def _metadata_row(con: duckdb.DuckDBPyConnection, file: Path) -> dict[str, Any]:
    """The metadata row by column name; instants as UTC datetimes (without needing pytz)."""
    described = con.execute(f"DESCRIBE {METADATA_TABLE}").fetchall()
    instants = {str(row[0]) for row in described if str(row[1]) == "TIMESTAMP WITH TIME ZONE"}
    selects = [f"epoch_us({_ident(str(row[0]))})" if str(row[0]) in instants else _ident(str(row[0]))
               for row in described]
    rows = con.execute(f"SELECT {', '.join(selects)} FROM {METADATA_TABLE}").fetchall()
    if len(rows) != 1:
        raise ExtractInvalid(f"{file}: {METADATA_TABLE} must hold one row, found {len(rows)}")
    meta = {str(row[0]): value for row, value in zip(described, rows[0], strict=True)}
    for name in instants:
        if meta[name] is not None:
            meta[name] = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(meta[name]))
    return meta


def check_grant(extract: Extract, home: Home | None, *, at: dt.datetime | None = None) -> tuple[bool, str]:
    """Whether an extract may still be used as far as its sharing grant goes, and why (``publish --verify``).

    An extract not tied to a grant is valid here. One tied to a grant is valid only before the
    expiry the file records and while the grant is active in ``home``, the issuing home, which
    knows about revocations; without that home's record it cannot be confirmed (not valid).
    An invalid grant-bound extract checked against its home is audited as a refused use.
    """
    from lake import sharing
    from lake.audit import record_event

    if extract.grant_id is None:
        return True, "not tied to a sharing grant (an extract of the user's role-based views)"
    when = at or sharing.now()
    if home is None or not home.exists() or not sharing.table_path(home).exists():
        where = home.root if home is not None else "no home"
        if extract.expires_at is not None and when >= extract.expires_at:
            return False, f"grant {extract.grant_id} expired at {extract.expires_at:%Y-%m-%d %H:%M:%S %Z}"
        return False, (f"cannot confirm grant {extract.grant_id}: {where} has no sharing records; verify with "
                       "--home set to the GovLake home that issued the extract")
    valid, reason = sharing.grant_validity(home, extract.grant_id, at=when)
    if valid and extract.expires_at is not None and when >= extract.expires_at:
        valid, reason = False, f"the extract's recorded expiry {extract.expires_at:%Y-%m-%d %H:%M:%S %Z} has passed"
    if not valid:
        record_event(home, user=extract.user, action="extract.verify", decision="refused", reason=reason,
                     detail=f"publish --verify {extract.path} (extract {extract.extract_id}, grant {extract.grant_id})")
    return valid, reason
