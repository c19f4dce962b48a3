"""The governed session: one user's DuckDB connection, where only granted views exist.

:func:`open_session` gives a :class:`GovernedSession` for a user of ``policies/``. Its
DuckDB database holds one view per grant, defined by :func:`views.masks.governed_sql`
with the user's masks and row scope inlined over the lake's Delta tables, plus the view
and column comments from the view files and the catalog. Every query:

1. goes through the guard (:func:`views.guard.check`): one read-only SELECT over those
   views, or a :class:`~govlake.errors.PolicyDenied` (exit status 2) naming the reason;
2. runs the guard's own regenerated text (``sql_for_duckdb``) on a fresh cursor, under the
   role's time limit (a watchdog interrupts it) and row limit (``limit + 1`` rows are
   fetched, so the result can say it was cut);
3. is appended to the hash-chained audit trail (:mod:`lake.audit`), allowed or not.

Defence in depth below the guard, in this order (extensions first, then lock-down):
the database is a per-user file opened **read-only**, with the delta extension loaded
from the home; then ``allowed_directories`` is the lake, ``enable_external_access`` is
false and ``lock_configuration`` is true, with extension autoload and autoinstall off.
Each setting is read back and the session refuses to start if one did not take.

The database file is built once per (user, policies, views, lake versions, active sharing
grants) under ``<home>/cache/governed`` and reused; in one process, sessions of the same
user share one DuckDB connection (each query gets its own cursor). Sharing grants
(lake/sharing.py) add ``shared_<target>`` views; before every query the session re-reads
its user's small grant file (:class:`lake.sharing.GrantWatch`) and re-plans when a grant
was made, revoked or has expired, so the change takes effect on that query. The user's
last :data:`KEEP_DATABASES` databases and connections are kept, so a grant that ends
returns the session to its previous database at once.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import EnvironmentProblem, GovLakeError, PolicyDenied, TableCorrupt
from govlake.home import Home
from lake.audit import AuditEntry, record

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow as pa

    from lake.sharing import ShareGrant
    from policies import Policies, User
    from views.guard import CheckedQuery
    from views.masks import ViewAccess

#: Bump when the shape of the governed database changes, so cached files are rebuilt.
SESSION_FORMAT = 2  # 2: views read attached, pinned snapshots (_attach_pinned)
#: Governed database files kept per user (the newest one and the most recently used others).
KEEP_DATABASES = 3
_DELTA_JSON = re.compile(r"^(\d{20})\.json$")


class QueryFailed(GovLakeError):
    """A governed query passed the guard but DuckDB could not run it (message sanitized)."""


class RowLimitWarning(UserWarning):
    """The result was cut at the role's row limit."""


@dataclass(frozen=True)
class TableLocation:
    """Where a governed view reads a table: its path, and the Delta version seen at setup."""

    name: str
    path: Path
    version: int | None


@dataclass(frozen=True)
class QueryResult:
    """A governed query's result and what the governance layer did to it."""

    table: pa.Table
    truncated: bool
    row_limit: int
    views: frozenset[str]
    columns: dict[str, frozenset[str]]
    duration_ms: float
    sql_run: str

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


def table_locations(home: Home, tables: list[str] | tuple[str, ...] | set[str]) -> dict[str, TableLocation]:
    """Resolve ``zone.table`` names to their Delta tables in ``home`` — the one place that does.

    A table the latest build manifest (``system.builds``) lists is read at the version the
    manifest records, so every view of a session (and every table of an extract) reads one
    build's consistent set, even while a newer build is writing its tables one by one: the
    next build becomes visible all at once when its manifest row commits. Other tables (raw,
    system) are read at their newest commit; each commit is atomic on its own.
    """
    from lake.pinned import pinned_versions

    pinned = pinned_versions(home)
    locations = {}
    for name in sorted(set(tables)):
        zone, table = name.split(".", 1)
        path = home.table_path(zone, table)
        latest = _latest_version(path)
        # min: a manifest never names a version the table does not have, unless its log was cut
        locations[name] = TableLocation(name, path, None if latest is None else min(pinned.get(name, latest), latest))
    return locations


def pin_versions(sql: str, locations: Mapping[str, TableLocation]) -> str:
    """``sql`` with every ``delta_scan('<path>')`` of a resolved table read at its resolved version."""
    import sqlglot
    from sqlglot import exp

    by_path = {str(location.path): location for location in locations.values()}
    tree = sqlglot.parse_one(sql, read="duckdb")
    for scan in tree.find_all(exp.Anonymous):
        if scan.name.lower() != "delta_scan" or not scan.expressions:
            continue
        location = by_path.get(scan.expressions[0].name)
        if location is not None and location.version is not None:
            scan.append("expressions", exp.PropertyEQ(this=exp.to_identifier("version"),
                                                      expression=exp.Literal.number(location.version)))
    return str(tree.sql(dialect="duckdb", pretty=True))


def _alias(location: TableLocation) -> str:
    """The catalog name under which a table's pinned version is attached (never a view's name)."""
    digest = hashlib.sha256(str(location.path).encode("utf-8")).hexdigest()[:16]
    return f"__govlake_{digest}_v{location.version}"


def _attach_pinned(con: duckdb.DuckDBPyConnection, locations: Iterable[TableLocation], *,
                   strict: bool) -> None:
    """ATTACH each table at its resolved version with ``PIN_SNAPSHOT``.

    A session reads one build's versions (:func:`table_locations`), which never change under
    it, so the Delta log need not be read again on every query: that replay was 1.5 ms of a
    5–6 ms dashboard query at 1M persons. Not strict (a session opening its database): a table
    that cannot be attached is skipped, so the views over the other tables still answer, and a
    query on one over the damaged table fails in :meth:`GovernedSession._run`, which names it.
    """
    import duckdb

    attached = {str(row[0]) for row in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
    for location in locations:
        if location.version is None or _alias(location) in attached:
            continue
        try:
            con.execute(f'ATTACH {_literal(str(location.path))} AS "{_alias(location)}" '
                        f"(TYPE delta, PIN_SNAPSHOT, VERSION {int(location.version)})")
        except duckdb.Error:
            if strict:
                raise
        attached.add(_alias(location))


def _detach_pinned(con: duckdb.DuckDBPyConnection, locations: Iterable[TableLocation]) -> None:
    for location in locations:
        if location.version is not None:
            con.execute(f'DETACH DATABASE IF EXISTS "{_alias(location)}"')


def read_attached(sql: str, locations: Mapping[str, TableLocation]) -> str:
    """``sql`` with each ``delta_scan('<path>')`` of a resolved table read from its attached snapshot
    (:func:`_attach_pinned`); any other scan of a resolved table is pinned by :func:`pin_versions`."""
    import sqlglot
    from sqlglot import exp

    by_path = {str(location.path): location for location in locations.values()}
    tree = sqlglot.parse_one(sql, read="duckdb")
    for scan in list(tree.find_all(exp.Anonymous)):
        if scan.name.lower() != "delta_scan" or len(scan.expressions) != 1:
            continue
        location = by_path.get(scan.expressions[0].name)
        table = scan.parent
        if location is None or location.version is None or not isinstance(table, exp.Table) or table.this is not scan:
            continue
        table.set("this", exp.to_identifier(_alias(location), quoted=True))
        table.set("db", exp.to_identifier(_alias(location), quoted=True))
    return pin_versions(str(tree.sql(dialect="duckdb")), locations)


@contextlib.contextmanager
def _naming_damaged(locations: Iterable[TableLocation]) -> Iterator[None]:
    """Turn a DuckDB error caused by a damaged table into :class:`TableCorrupt` naming that table."""
    try:
        yield
    except Exception as error:
        if type(error).__module__.split(".")[0] not in {"duckdb", "_duckdb"}:
            raise
        corrupt = unreadable(locations)
        if corrupt is None:
            raise
        raise corrupt from None


def unreadable(locations: Iterable[TableLocation]) -> TableCorrupt | None:
    """The error for the first table that cannot be read at its resolved version, if one cannot.

    Used after DuckDB failed, to name the table and point to ``govlake doctor`` instead of
    passing DuckDB's message (or a traceback) on: the Delta log is replayed with deltalake and
    every data file of that version must exist.
    """
    from deltalake import DeltaTable

    from lake.boundary import translate

    for location in locations:
        if location.version is None:
            continue
        try:
            with translate(location.name):
                files = DeltaTable(str(location.path), version=location.version).file_uris()
                missing = [uri for uri in files if not Path(uri.removeprefix("file://")).exists()]
        except TableCorrupt as error:
            return error
        except GovLakeError:
            continue
        if missing:
            return TableCorrupt(f"table {location.name} cannot be read: {len(missing)} data file(s) of version "
                                f"{location.version} are missing (e.g. {Path(missing[0]).name}); run `govlake doctor`")
    return None


def _latest_version(path: Path) -> int | None:
    """The newest commit in ``_delta_log`` (a directory listing: cheap enough for every connect)."""
    try:
        names = os.listdir(path / "_delta_log")
    except OSError:
        return None
    versions = [int(m.group(1)) for m in map(_DELTA_JSON.match, names) if m]
    return max(versions) if versions else None


@dataclass(frozen=True)
class GovernedView:
    """One user's final definition of one view, as run and as exported."""

    name: str
    sql: str
    description: str
    column_comments: dict[str, str]


@dataclass
class _Plan:
    """Everything a user's database is built from; its digest names the cached file."""

    policies: Policies
    user: User
    access: dict[str, ViewAccess]
    locations: dict[str, TableLocation]
    available: list[str]
    unavailable: dict[str, list[str]]  # view -> missing tables
    digest: str = ""
    #: record keys under objection per library, and the objections ledger's version they were read at
    objections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    objections_version: int | None = None


def _plan(policies: Policies, user: User, home: Home, shared: tuple[ShareGrant, ...] = ()) -> _Plan:
    """The user's views: those their roles grant, plus ``shared_<target>`` for each active sharing grant."""
    access = {**_access(policies, user.name), **{g.view: shared_access(policies, g) for g in shared}}
    locations = table_locations(home, {t for a in access.values() for t in a.view.tables})
    available, unavailable = [], {}
    for name, item in access.items():
        missing = [t for t in item.view.tables if locations[t].version is None]
        if missing:
            unavailable[name] = missing
        else:
            available.append(name)
    plan = _Plan(policies, user, access, locations, available, unavailable)
    if any(access[name].objection_marker for name in available):
        plan.objections_version, plan.objections = _objection_marks(home)
    grants = {g.view: g for g in shared}
    key = {
        "format": SESSION_FORMAT,
        "grants": sorted(g.id for g in shared),
        "objections": plan.objections,
        "duckdb": _duckdb_version(),
        "scope": user.scope.division_prefix,
        "masks": {name: kind.description for name, kind in policies.masks.kinds.items()},
        "views": {
            name: {
                # the definition as generated (any change to masks or scopes in code shows here)
                "sql": _generated(policies, user.name, name,
                                  tuple((t, str(locations[t].path)) for t in access[name].view.tables))
                if name not in grants else _shared_sql(policies, grants[name],
                                                       tuple((t, str(locations[t].path))
                                                             for t in access[name].view.tables)),
                "description": access[name].view.description,
                "comments": access[name].view.column_comments,
                "columns": {c: [a.treatment, a.why, a.column.flags.comment] for c, a in access[name].columns.items()},
                "versions": {t: locations[t].version for t in access[name].view.tables},
            }
            for name in available
        },
    }
    plan.digest = hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]
    return plan


@lru_cache(maxsize=64)
def _access(policies: Policies, user: str) -> dict[str, ViewAccess]:
    """What ``user`` may see of each granted view (computed once per process and policies)."""
    from views.definitions import shipped_views
    from views.masks import user_access

    _checked_grants(policies)
    return user_access(policies.user(user), policies, shipped_views())


@lru_cache(maxsize=1024)
def _generated(policies: Policies, user: str, view: str, paths: tuple[tuple[str, str], ...]) -> str:
    """The user's definition of ``view`` without column types, for the cache key (memoized)."""
    from views.masks import governed_sql

    return governed_sql(_access(policies, user)[view], dict(paths))


@lru_cache(maxsize=256)
def shared_access(policies: Policies, grant: ShareGrant) -> ViewAccess:
    """What a sharing grant shows (lake/sharing.py, views/shares.py): its columns, masks and scope."""
    from views.shares import grant_access, resolve_target

    target = resolve_target(f"{grant.target_kind}:{grant.target}", policies)
    return grant_access(target, view_name=grant.view, columns=grant.columns, unmask=grant.unmask, scope=grant.scope,
                        basis=grant.basis)


@lru_cache(maxsize=1024)
def _shared_sql(policies: Policies, grant: ShareGrant, paths: tuple[tuple[str, str], ...]) -> str:
    from views.masks import governed_sql

    return governed_sql(shared_access(policies, grant), dict(paths))


@lru_cache(maxsize=4)
def _checked_grants(policies: Policies) -> bool:
    from views.definitions import shipped_views
    from views.masks import check_grants

    check_grants(policies, shipped_views())
    return True


def _duckdb_version() -> str:
    from lake.extensions import duckdb_version

    return duckdb_version()


def governed_views(user: str, *, home: Home | str | None = None,
                   grants: tuple[ShareGrant, ...] = ()) -> dict[str, GovernedView]:
    """For ``user``: each granted view's final SELECT, masks and scope inlined over resolved table paths.

    This is what the session creates; exports and benchmarks can run or translate it
    (``sqlglot.transpile(view.sql, read="duckdb", write=...)``). Hidden columns keep their
    DuckDB type, which needs one look at the tables (a scratch DuckDB connection).
    Time-limited sharing ``grants`` are included only when passed (an extract tied to a grant).
    """
    from policies import load_policies

    resolved = home if isinstance(home, Home) else Home.resolve(home)
    policies = load_policies()
    plan = _plan(policies, policies.user(user), resolved, grants)
    with _scratch(resolved) as con, _naming_damaged(plan.locations.values()):
        return {name: _definition(plan, name, con) for name in plan.available}


_SCRATCH: dict[str, Any] = {}
_SCRATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _scratch(home: Home) -> Iterator[duckdb.DuckDBPyConnection]:
    """GovLake's own in-memory connection (delta loaded once per process) to describe and build
    governed databases. Never handed to a user; used under a lock."""
    from lake.extensions import connect

    with _SCRATCH_LOCK:
        key = str(home.extensions)
        if key not in _SCRATCH:
            _SCRATCH[key] = connect(":memory:", extensions=("delta",), extension_dir=home.extensions)
        yield _SCRATCH[key]


def _objection_marks(home: Home) -> tuple[int | None, tuple[tuple[str, tuple[str, ...]], ...]]:
    """(ledger version, keys under objection): the version first, so a change in between shows next query."""
    from lake.objections import marks_version, open_marks

    return marks_version(home), open_marks(home)


def _definition(plan: _Plan, name: str, con: duckdb.DuckDBPyConnection) -> GovernedView:
    from views.masks import body_sql, column_comment, governed_sql

    access = plan.access[name]
    paths = {t: str(plan.locations[t].path) for t in access.view.tables}
    described = con.execute(f"DESCRIBE {body_sql(access.view, paths)}").fetchall()
    types = {str(row[0]): str(row[1]) for row in described}
    masks = {name: kind.description for name, kind in plan.policies.masks.kinds.items()}
    comments = {
        column: column_comment(item, access.view.column_comments.get(column) or item.column.flags.comment, masks)
        for column, item in access.columns.items()
    }
    description = access.view.description
    if access.scope_prefix:
        description += f"〔行范围：{access.view.scope} 以 {access.scope_prefix} 开头〕"
    return GovernedView(name, governed_sql(access, paths, types=types, objections=dict(plan.objections)),
                        description, comments)


# --------------------------------------------------------------------------- the database


def _database(plan: _Plan, home: Home) -> Path:
    """The user's governed database file, built now unless a file with the same digest exists."""
    from lake.locks import file_lock

    folder = home.cache / "governed"
    target = folder / f"{plan.user.name}-{plan.digest}.duckdb"
    if target.exists():
        with contextlib.suppress(OSError):
            os.utime(target)  # recently used: kept by the clean-up below
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(home, f"governed-{plan.user.name}"):
        if target.exists():
            return target
        partial = folder / f".{target.name}.{uuid.uuid4().hex}.part"
        try:
            _build_database(plan, home, partial)
        except BaseException:  # e.g. a damaged table: leave no partial file behind
            partial.unlink(missing_ok=True)
            partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
            raise
        partial.replace(target)
        # Keep the few most recently used: when a sharing grant ends, the user is back to a set
        # of views they had moments ago, and reopening that file beats rebuilding it.
        older = sorted((f for f in folder.glob(f"{plan.user.name}-*.duckdb") if f != target),
                       key=lambda f: f.stat().st_mtime_ns if f.exists() else 0, reverse=True)
        for old in older[KEEP_DATABASES - 1:]:
            old.unlink(missing_ok=True)  # an open reader keeps its inode
    return target


def _build_database(plan: _Plan, home: Home, path: Path) -> None:
    with _scratch(home) as con:
        con.execute(f"ATTACH {_literal(str(path))} AS governed_build")
        used = [plan.locations[t] for name in plan.available for t in plan.access[name].view.tables]
        try:
            _attach_pinned(con, used, strict=True)
            for name in plan.available:
                view = _definition(plan, name, con)
                con.execute(f'CREATE VIEW governed_build."{name}" AS\n{read_attached(view.sql, plan.locations)}')
                con.execute(f'COMMENT ON VIEW governed_build."{name}" IS {_literal(view.description)}')
                for column, comment in view.column_comments.items():
                    con.execute(f'COMMENT ON COLUMN governed_build."{name}"."{column}" IS {_literal(comment)}')
        finally:
            con.execute("DETACH governed_build")
            _detach_pinned(con, used)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _open(database: Path, home: Home, locations: Iterable[TableLocation] = ()) -> duckdb.DuckDBPyConnection:
    """Open the user's database read-only, attach the pinned tables its views read, and lock it
    down; refuse if a setting did not take."""
    from lake.extensions import connect

    con = connect(str(database), read_only=True, extensions=("delta",), extension_dir=home.extensions)
    try:
        _attach_pinned(con, locations, strict=False)  # while GovLake itself still sets the connection up
        lake = str(home.lake).rstrip("/") + "/"
        con.execute(f"SET allowed_directories = [{_literal(lake)}]")
        con.execute("SET allow_community_extensions = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        expected = {
            "enable_external_access": False, "lock_configuration": True, "access_mode": "read_only",
            "autoload_known_extensions": False, "autoinstall_known_extensions": False,
            "allow_community_extensions": False, "allow_unsigned_extensions": False,
        }
        for name, value in expected.items():
            row = con.execute(f"SELECT current_setting('{name}')").fetchone()
            found = row[0] if row else None
            if str(found).lower() != str(value).lower():
                raise EnvironmentProblem(f"the governed session could not set {name} = {value} (DuckDB reports "
                                         f"{found!r}); refusing to open it")
        row = con.execute("SELECT current_setting('allowed_directories')").fetchone()
        allowed = [str(d) for d in (row[0] if row else [])]
        if lake not in allowed or any(not d.startswith((lake, str(database))) for d in allowed):
            raise EnvironmentProblem(f"unexpected allowed_directories {allowed!r}; refusing to open the session")
    except Exception:
        con.close()
        raise
    return con


_SHARED: dict[tuple[str, str, str], Any] = {}
_SHARED_LOCK = threading.Lock()


def _shared_connection(plan: _Plan, home: Home) -> duckdb.DuckDBPyConnection:
    key = (str(home.root), plan.user.name, plan.digest)
    with _SHARED_LOCK:
        if key in _SHARED:
            _SHARED[key] = _SHARED.pop(key)  # most recently used last
        else:
            # The user's last few plans stay open (a grant that ends returns the user to one of
            # them); older ones are dropped, not closed: sessions still using them keep them.
            stale = [k for k in _SHARED if k[:2] == key[:2]]
            for old in stale[:max(0, len(stale) - (KEEP_DATABASES - 1))]:
                _SHARED.pop(old)
            with _naming_damaged(plan.locations.values()):
                used = {t: plan.locations[t] for name in plan.available for t in plan.access[name].view.tables}
                _SHARED[key] = _open(_database(plan, home), home, used.values())
        connection: duckdb.DuckDBPyConnection = _SHARED[key]
        return connection


@atexit.register
def _close_shared() -> None:
    with _SHARED_LOCK, _SCRATCH_LOCK:
        for connection in [*_SHARED.values(), *_SCRATCH.values()]:
            try:
                connection.close()
            except Exception:  # closing at exit must never raise
                pass
        _SHARED.clear()
        _SCRATCH.clear()


# --------------------------------------------------------------------------- the session


class GovernedSession:
    """One user's governed session. Use :func:`govlake.connect` or :func:`open_session`.

    >>> with open_session("hz_analyst", home="/tmp/home") as session:     # doctest: +SKIP
    ...     session.sql("SELECT count(*) AS n FROM population")
    """

    def __init__(self, user: str, home: Home, policies: Policies) -> None:
        self.user = user
        self.home = home
        self.session_id = uuid.uuid4().hex[:16]
        self._policies = policies
        self._closed = False
        started = time.perf_counter()
        account = policies.user(user)
        self._account = account
        self.row_limit, self.time_limit_s = policies.limits_of(account)
        from lake.sharing import GrantWatch

        # Sharing grants (lake/sharing.py): re-checked before every query, see _refresh.
        self._watch = GrantWatch(home, user)
        self._replan_lock = threading.Lock()
        self._replan()
        self.setup_ms = (time.perf_counter() - started) * 1000

    def _replan(self) -> None:
        """Plan (and open) the database for the roles' views plus the active sharing grants."""
        plan = _plan(self._policies, self._account, self.home, self._watch.active)
        connection = _shared_connection(plan, self.home)
        grants = {name: list(plan.access[name].columns) for name in plan.available}
        self._plan, self._connection, self._grants = plan, connection, grants

    def _refresh(self) -> None:
        """Pick up a grant, revocation or expiry since the last query: one small file read when nothing changed."""
        if self._objections_moved():  # an objection filed or resolved: the under-objection marker changes
            with self._replan_lock:
                if self._objections_moved():
                    self._replan()
        if not self._watch.changed():
            return
        with self._replan_lock:
            if self._watch.changed():
                self._watch.reload()
                self._replan()

    def _objections_moved(self) -> bool:
        """Whether system.objections has a commit this session's views have not read (a directory listing)."""
        from lake.objections import marks_version

        plan = self._plan
        return (any(plan.access[name].objection_marker for name in plan.available)
                and plan.objections_version != marks_version(self.home))

    # --- what the user may read -----------------------------------------------------
    def access_stamp(self) -> str:
        """A stamp that changes whenever what this user may see changes without a new build.

        A grant, a revocation, an expiry or an objection re-plans the session; the plan's digest
        names all of it. Callers that cache query results (the dashboards) put it in their key.
        """
        self._refresh()
        return self._plan.digest

    def views(self) -> dict[str, str]:
        """Granted views available in this home, with their descriptions."""
        self._refresh()
        return {name: self._plan.access[name].view.description for name in self._plan.available}

    def columns(self, view: str) -> dict[str, str]:
        """The columns of a granted view and how each is shown to this user."""
        self._refresh()
        if view not in self._grants:
            raise PolicyDenied(self.user, f"view {view!r} is not granted to you")
        return {name: item.treatment for name, item in self._plan.access[view].columns.items()}

    @property
    def unavailable(self) -> dict[str, list[str]]:
        """Granted views whose tables are not built in this home, with the missing tables."""
        return dict(self._plan.unavailable)

    # --- queries ---------------------------------------------------------------------
    def sql(self, query: str) -> pl.DataFrame:
        """Run a governed query; the result as a Polars DataFrame."""
        import polars as pl

        frame = pl.from_arrow(self.arrow(query))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def arrow(self, query: str) -> pa.Table:
        """Run a governed query; the result as an Arrow table (warns when cut at the row limit)."""
        result = self.query(query)
        if result.truncated:
            warnings.warn(f"the result was cut at {result.row_limit:,} rows, the row limit of your role; "
                          "aggregate or filter to see everything", RowLimitWarning, stacklevel=2)
        return result.table

    def query(self, query: str) -> QueryResult:
        """Run a governed query and say what governance did (truncation, views, columns)."""
        if self._closed:
            raise GovLakeError("this governed session is closed; open a new one with govlake.connect()")
        started = time.perf_counter()
        try:
            self._refresh()
            checked = self._check(query)
        except PolicyDenied as refusal:
            reason = self._clean(refusal.reason)
            self._audit(query, started, decision="refused", reason=reason)
            raise PolicyDenied(self.user, reason) from None
        try:
            table, truncated = self._run(checked)
        except PolicyDenied as refusal:
            self._audit(query, started, decision="refused", reason=refusal.reason, checked=checked)
            raise
        except QueryFailed as failure:
            self._audit(query, started, decision="failed", reason=str(failure), checked=checked)
            raise
        duration = (time.perf_counter() - started) * 1000
        self._audit(query, started, decision="allowed", checked=checked, rows=table.num_rows, truncated=truncated)
        return QueryResult(table, truncated, self.row_limit, checked.views, checked.columns, duration,
                           checked.sql_for_duckdb)

    def _check(self, query: str) -> CheckedQuery:
        try:
            return _check_cached(query, self.user, _freeze(self._grants))
        except PolicyDenied as refusal:
            for grant in self._watch.grants:
                ended = self._watch.ended(grant.view)
                if ended is not None and f"view {grant.view!r} is not granted to you" in refusal.reason.lower():
                    raise PolicyDenied(self.user, f"{ended.explain_end(_sharing_now())}; request it again with "
                                       "`govlake share request`") from None
            for view, missing in self._plan.unavailable.items():
                if f"view {view!r} is not granted to you" in refusal.reason:
                    raise PolicyDenied(self.user, f"view {view!r} is granted to you but not available in this home: "
                                       f"table {', '.join(missing)} has not been built; run `govlake build`") from None
            raise

    def _run(self, checked: CheckedQuery) -> tuple[pa.Table, bool]:
        import duckdb
        import pyarrow as pa

        cursor = self._connection.cursor()
        ticket = _WATCHDOG.watch(self.time_limit_s, cursor.interrupt)
        try:
            reader = cursor.execute(checked.sql_for_duckdb).to_arrow_reader(min(self.row_limit + 1, 65_536))
            batches, rows = [], 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > self.row_limit:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
        except duckdb.InterruptException:
            raise PolicyDenied(self.user, f"the query ran longer than {self.time_limit_s:g} s, the time limit of "
                               "your role, and was stopped; filter or aggregate more") from None
        except duckdb.Error as error:
            corrupt = unreadable(self._plan.locations[t] for v in sorted(checked.views) if v in self._plan.access
                                 for t in self._plan.access[v].view.tables)
            if corrupt is not None:
                raise QueryFailed(self._clean(str(corrupt))) from None
            raise QueryFailed(f"the query failed in DuckDB: {self._clean(str(error))}") from None
        finally:
            _WATCHDOG.cancel(ticket)
            cursor.close()
        truncated = table.num_rows > self.row_limit
        return (table.slice(0, self.row_limit) if truncated else table), truncated

    def _clean(self, message: str) -> str:
        """A message fit for the user: first line, no paths, no quoted values (they could be
        another row's data), never the home directory."""
        first = message.strip().splitlines()[0] if message.strip() else "unknown error"
        if not first.startswith(("refused", "view ", "column ", "function ")) and "Error" in first:
            first = re.sub(r"'[^']*'", "'…'", first)
            first = re.sub(r'"[^"]*"', '"…"', first)
        first = re.sub(r"(?<![\w<>])/[^\s'\"]+", "<path>", first)  # any absolute path, the home's included
        return first.replace(str(self.home.root), "<home>")[:300]

    def _audit(self, query: str, started: float, *, decision: str, reason: str = "",
               checked: CheckedQuery | None = None, rows: int | None = None, truncated: bool = False) -> None:
        views: tuple[str, ...] = ()
        columns: tuple[str, ...] = ()
        grade = None
        if checked is not None:
            views = tuple(sorted(checked.views))
            columns = tuple(f"{v}.{c}" for v, cs in sorted(checked.columns.items()) for c in sorted(cs))
            grades = [self._plan.access[v].max_grade(set(cs)) for v, cs in checked.columns.items()
                      if v in self._plan.access]
            from views.columns import GRADE_ORDER

            known = [g for g in grades if g]
            grade = max(known, key=GRADE_ORDER.__getitem__) if known else None
        record(self.home, AuditEntry(
            user=self.user, sql=query, decision=decision, reason=reason, session_id=self.session_id,
            sql_run=checked.sql_for_duckdb if checked else None,
            statement_kind=checked.statement_kind if checked else None, views=views, columns=columns,
            max_grade=grade, rows=rows, truncated=truncated, duration_ms=(time.perf_counter() - started) * 1000,
            at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=time.perf_counter() - started),
        ))

    # --- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        """Close the session and move its audit entries into ``system.audit``."""
        if self._closed:
            return
        self._closed = True
        from lake.audit import flush

        try:
            flush(self.home)
        except GovLakeError as error:  # the entries stay in the spool; the next flush moves them
            warnings.warn(f"audit entries stay in the spool for now: {error}", stacklevel=2)

    def __enter__(self) -> GovernedSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GovernedSession(user={self.user!r}, views={len(self._grants)}, home={str(self.home.root)!r})"


class _Watchdog:
    """One thread that interrupts queries past their deadline (cheaper than a timer per query).

    The thread sleeps until the earliest deadline it knows of and is woken only when a query
    arrives with an earlier one, typically the first query after an idle spell. Waking it for
    every query cost a thread switch on the query's path: about 0.4 ms of a 10 ms dashboard
    query on two cores. A cancelled ticket is just forgotten; the thread finds nothing due
    when it wakes.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._deadlines: dict[int, tuple[float, Any]] = {}
        self._next = 0
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, interrupt: Any) -> int:
        deadline = time.monotonic() + seconds
        with self._lock:
            self._next += 1
            self._deadlines[self._next] = (deadline, interrupt)
            if self._thread is None or not self._thread.is_alive():
                self._wake_at = math.inf
                self._thread = threading.Thread(target=self._loop, name="govlake-query-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._wake_at:
                self._lock.notify()
            return self._next

    def cancel(self, ticket: int) -> None:
        with self._lock:
            self._deadlines.pop(ticket, None)

    def _loop(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                due = [t for t, (deadline, _) in self._deadlines.items() if deadline <= now]
                for ticket in due:
                    _, interrupt = self._deadlines.pop(ticket)
                    try:
                        interrupt()
                    except Exception:  # the cursor may have closed in between
                        pass
                self._wake_at = min((deadline for deadline, _ in self._deadlines.values()), default=math.inf)
                self._lock.wait(timeout=None if self._wake_at == math.inf else max(0.0, self._wake_at - now))


_WATCHDOG = _Watchdog()


def _sharing_now() -> dt.datetime:
    from lake.sharing import now

    return now()


def _freeze(grants: Mapping[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(columns)) for name, columns in sorted(grants.items()))


@lru_cache(maxsize=2048)
def _check_cached(query: str, user: str, grants: tuple[tuple[str, tuple[str, ...]], ...]) -> CheckedQuery:
    """The guard, memoized: dashboards send the same text again and again (refusals are not cached)."""
    from views.guard import check

    return check(query, user=user, views=dict(grants))


def open_session(user: str, *, home: Home | str | os.PathLike[str] | None = None) -> GovernedSession:
    """Open ``user``'s governed session on ``home`` (``--home`` / ``GOVLAKE_HOME`` / default).

    An unknown user is refused (and audited) like any other request.
    """
    from policies import load_policies

    resolved = home if isinstance(home, Home) else Home.resolve(home)
    resolved.check_format()
    if not resolved.exists():
        raise EnvironmentProblem(f"there is no GovLake home at {resolved.root}; run `govlake demo` first "
                                 "or pass --home")
    policies = load_policies()
    if user not in policies.users:
        record(resolved, AuditEntry(user=user, sql="", decision="refused", reason="unknown user"))
        raise PolicyDenied(user, "unknown user; users are defined in policies/users.toml")
    return GovernedSession(user, resolved, policies)
