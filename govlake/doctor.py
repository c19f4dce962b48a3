"""``govlake doctor``: check a home and report each problem with the command that fixes it.

The checks are data (:data:`CHECKS`), run in order; each returns a one-line summary and its
problems. A :class:`Problem` names what is wrong, where, and the fix: a command to run, or
the one manual step when no command can do it. The doctor only reads: it never creates a
home, never flushes the audit spool, never deletes a file (``govlake vacuum --apply`` does).

It lives in the core layer (``govlake/``), not ``lake/``, because it checks every layer:
the catalog, the policies and the governed views' grants, the lake's tables and logs, and
the delivered extracts.

>>> diagnosis = diagnose(Home.resolve("govlake_home"))        # doctest: +SKIP
>>> [(p.check, p.subject, p.fix) for p in diagnosis.problems]
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from govlake.errors import GovLakeError
from govlake.home import ZONES, Home

#: Free space under which the doctor reports a problem: a 1M-person build needs about this much.
MIN_FREE_BYTES = 2 << 30


@dataclass(frozen=True)
class Problem:
    check: str
    subject: str  # the table, file, batch or setting concerned
    message: str
    fix: str  # the command that fixes it (or the one manual step)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Diagnosis:
    home: Path
    summaries: dict[str, str] = field(default_factory=dict)  # check -> one line
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"home": str(self.home), "ok": self.ok, "checks": self.summaries,
                "problems": [p.as_dict() for p in self.problems]}


@dataclass
class _State:
    """What earlier checks found that later ones need (tables that cannot be read are not reconciled)."""

    home: Home
    min_free_bytes: int
    unreadable: set[str] = field(default_factory=set)
    tables: list[tuple[str, Path]] = field(default_factory=list)


Check = Callable[[_State], tuple[str, list[Problem]]]


def diagnose(home: Home, *, min_free_bytes: int = MIN_FREE_BYTES) -> Diagnosis:
    """Run every check on ``home``; a check that itself fails becomes a problem, never a traceback."""
    diagnosis = Diagnosis(home.root)
    state = _State(home, min_free_bytes)
    for name, check in CHECKS:
        try:
            summary, problems = check(state)
        except GovLakeError as error:
            summary, problems = "could not finish", [Problem(name, name, str(error), _FIX_UNKNOWN)]
        diagnosis.summaries[name] = summary
        diagnosis.problems.extend(problems)
    return diagnosis


_FIX_UNKNOWN = "fix the cause above, then run `govlake doctor` again"


# --------------------------------------------------------------------------- setup


def check_environment(state: _State) -> tuple[str, list[Problem]]:
    """The home's format, duckdb and the extension packages."""
    from lake.extensions import DUCKDB_VERSION, check_environment, extension_file

    problems = []
    try:
        state.home.check_format()
    except GovLakeError as error:
        problems.append(Problem("environment", str(state.home.settings_file), str(error),
                                "use the GovLake release that wrote this home, or another --home"))
    try:
        check_environment()
        for name in ("delta", "spatial", "sqlite_scanner"):
            extension_file(name)
    except GovLakeError as error:
        problems.append(Problem("environment", "python packages", str(error),
                                f"pip install 'duckdb=={DUCKDB_VERSION}' 'duckdb-extension-delta=={DUCKDB_VERSION}' "
                                f"'duckdb-extension-spatial=={DUCKDB_VERSION}' "
                                f"'duckdb-extension-sqlite-scanner=={DUCKDB_VERSION}' (or `make install`)"))
    return ("ok" if not problems else "problems"), problems


def check_catalog(state: _State) -> tuple[str, list[Problem]]:
    """The catalog, data standards and library precedence load and validate."""
    from lake.catalog import load_catalog
    from lake.catalog.libraries import load_libraries

    try:
        catalog = load_catalog()
        libraries = load_libraries()
    except GovLakeError as error:
        return "invalid", [Problem("catalog", getattr(error, "location", None) or "catalog", str(error),
                                   "correct the file and key named above (`govlake catalog` lists the entries)")]
    return f"ok: {len(catalog.datasets)} datasets, {len(libraries)} libraries", []


def check_policies(state: _State) -> tuple[str, list[Problem]]:
    """Roles, users, grants, scopes and masks load, and every grant fits the governed views."""
    from policies import load_policies
    from views.definitions import shipped_views
    from views.masks import check_grants

    try:
        policies = load_policies()
        check_grants(policies, shipped_views())
    except GovLakeError as error:
        return "invalid", [Problem("policies", getattr(error, "location", None) or "policies", str(error),
                                   "correct the policy file and key named above")]
    return f"ok: {len(policies.users)} users", []


# --------------------------------------------------------------------------- tables


def check_tables(state: _State) -> tuple[str, list[Problem]]:
    """Every Delta table loads with deltalake, its data files exist, and polars and DuckDB read it."""
    import polars as pl
    from deltalake import DeltaTable

    from lake.boundary import translate
    from lake.extensions import connect

    problems: list[Problem] = []
    con = None
    for zone in ZONES:
        folder = state.home.zone(zone)
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if (p / "_delta_log").is_dir()):
            name = f"{zone}.{path.name}"
            state.tables.append((name, path))
            try:
                with translate(name):
                    uris = DeltaTable(str(path)).file_uris()
                missing = [u for u in uris if not Path(u.removeprefix("file://")).exists()]
                if missing:
                    raise GovLakeError(f"table {name}: {len(missing)} data file(s) of its current version are missing "
                                       f"(e.g. {Path(missing[0]).name})")
                with translate(name):
                    pl.scan_delta(str(path)).select(pl.len()).collect()
                    if con is None:
                        con = connect(":memory:", extensions=("delta",), extension_dir=state.home.extensions)
                    con.execute(f"SELECT count(*) FROM delta_scan('{_sql_text(str(path))}')").fetchone()
            except GovLakeError as error:
                state.unreadable.add(name)
                message = str(error).removesuffix("; run `govlake doctor` to diagnose and fix it")
                problems.append(Problem("tables", name, message, _table_fix(state.home, name, path)))
    if con is not None:
        con.close()
    return f"{len(state.tables) - len(state.unreadable)} of {len(state.tables)} tables readable", problems


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _table_fix(home: Home, name: str, path: Path) -> str:
    """The fix for an unreadable table: drop a damaged log tail, rebuild, or restore."""
    from lake.repair import damaged_commit

    damaged = damaged_commit(path)
    if damaged is not None:
        back = f"the table returns to version {damaged - 1}" if damaged else "no version is left: the table is gone"
        then = ("; then `govlake build --full`" if name.startswith(("base.", "topic.")) else
                "; then `govlake doctor` again: it names any batch those commits held (the ingestion log still "
                "lists them)")
        return f"`govlake restore {name} --repair` sets commit {damaged} and the later ones aside ({back}){then}"
    if name.startswith(("base.", "topic.")):
        return "`govlake build --full` rewrites it from the raw zone"
    return (f"`govlake restore {name} --list`, then `govlake restore {name} --version N` to the newest version that "
            "reads; or restore the folder from a backup")


def check_builds(state: _State) -> tuple[str, list[Problem]]:
    """The build manifest against the tables: an output newer than the manifest means an unfinished build."""
    from lake.locks import is_free
    from lake.pinned import newest_commit, pinned_versions

    if "system.builds" in state.unreadable:
        return "manifest unreadable", []
    pinned = pinned_versions(state.home)
    if not pinned:
        return "no build yet", []
    running = not is_free(state.home, "build")
    problems = []
    for name, version in sorted(pinned.items()):
        if name in state.unreadable:
            continue
        newest = newest_commit(state.home.table_path(*name.split(".", 1)))
        if newest is None:
            problems.append(Problem("builds", name, f"table {name} is in the last build's manifest but is gone",
                                    "`govlake build --full`"))
        elif newest > version and not running:
            problems.append(Problem(
                "builds", name, f"table {name} is at version {newest} but the last finished build recorded "
                f"version {version}: a build was interrupted (readers still see version {version})",
                "`govlake build` finishes it"))
    if problems:
        return "an unfinished build", problems
    return ("a build is running" if running else f"ok: {len(pinned)} outputs pinned"), []


def check_ingest_log(state: _State) -> tuple[str, list[Problem]]:
    """Each logged batch's rows: raw rows = rows_loaded, quarantined rows = rows_quarantined; no stray batch."""
    import polars as pl

    from lake import delta
    from lake.catalog import load_catalog
    from lake.locks import is_free
    from lake.system import INGEST_LOG, QUARANTINE

    home = state.home
    log_path = home.table_path("system", INGEST_LOG.name)
    if f"system.{INGEST_LOG.name}" in state.unreadable or not delta.is_table(log_path):
        return "no ingestion log", []
    log = delta.read(log_path)
    problems: list[Problem] = []
    repeated = log.group_by("batch_id").len().filter(pl.col("len") > 1)
    for batch, count in repeated.iter_rows():
        problems.append(Problem("ingest_log", batch, f"the ingestion log lists batch {batch} {count} times",
                                "restore system.ingest_log from a backup (GovLake writes a batch once)"))
    catalog = load_catalog()
    physical = log.filter(pl.col("access") == "physical")
    quarantine_path = home.table_path("system", QUARANTINE.name)
    quarantined: dict[str, int] = {}
    if delta.is_table(quarantine_path) and f"system.{QUARANTINE.name}" not in state.unreadable:
        quarantined = dict(delta.scan(quarantine_path).group_by("batch_id").len().collect().iter_rows())
    logged = set(log["batch_id"])
    for dataset_id, rows in physical.group_by("dataset", maintain_order=True):
        if str(dataset_id[0]) not in catalog.datasets:
            continue
        table = catalog.dataset(str(dataset_id[0])).raw_table
        name = f"raw.{table}"
        if name in state.unreadable:
            continue
        raw_path = home.table_path("raw", table)
        counts: dict[str, int] = {}
        if delta.is_table(raw_path):
            counts = dict(delta.scan(raw_path).group_by("_batch_id").len().collect().iter_rows())
        for row in rows.iter_rows(named=True):
            batch, loaded = row["batch_id"], row["rows_loaded"]
            found = counts.get(batch, 0)
            if found != loaded:
                fix = (f"`govlake restore {name} --list`, then `govlake restore {name} --version {row['raw_version']}` "
                       "(the version the log recorded for it)" if found > loaded else
                       f"`govlake restore {name} --list`, then restore a version that has the batch")
                problems.append(Problem("ingest_log", batch, f"{name} holds {found:,} rows of batch {batch} but the "
                                        f"ingestion log says {loaded:,} were loaded", fix))
            if quarantined.get(batch, 0) != row["rows_quarantined"]:
                problems.append(Problem(
                    "ingest_log", batch, f"system.quarantine holds {quarantined.get(batch, 0):,} rows of batch {batch} "
                    f"but the ingestion log says {row['rows_quarantined']:,}",
                    "restore system.quarantine from a backup"))
    strays = _stray_batches(home, catalog, logged, quarantined, state)
    for batch, source, sha in strays:
        if not is_free(home, f"ingest-{sha}"):
            continue  # being ingested right now
        problems.append(Problem("ingest_log", batch, f"batch {batch} landed partly but is not in the ingestion log: "
                                "an ingest was interrupted", f"`govlake ingest {source}` finishes it"))
    return f"{len(log):,} batches, {'reconciled' if not problems else 'not reconciled'}", problems


def _stray_batches(home: Home, catalog: Any, logged: set[str], quarantined: dict[str, int],
                   state: _State) -> list[tuple[str, str, str]]:
    """(batch, source file, sha256) of batches in raw or quarantine tables that the log does not list."""
    import polars as pl

    from lake import delta
    from lake.system import QUARANTINE

    strays: dict[str, tuple[str, str]] = {}
    for dataset in catalog.datasets.values():
        name = f"raw.{dataset.raw_table}"
        path = home.table_path("raw", dataset.raw_table)
        if name in state.unreadable or not delta.is_table(path):
            continue
        found = (delta.scan(path).filter(~pl.col("_batch_id").is_in(sorted(logged)))
                 .select("_batch_id", "_source_file", "_source_sha256").unique().collect())
        for batch, source, sha in found.iter_rows():
            strays.setdefault(batch, (source, sha))
    quarantine_path = home.table_path("system", QUARANTINE.name)
    if set(quarantined) - logged:
        found = (delta.scan(quarantine_path).filter(~pl.col("batch_id").is_in(sorted(logged)))
                 .select("batch_id", "source_file", "source_sha256").unique().collect())
        for batch, source, sha in found.iter_rows():
            strays.setdefault(batch, (source, sha))
    return [(batch, source, sha) for batch, (source, sha) in sorted(strays.items())]


def check_audit(state: _State) -> tuple[str, list[Problem]]:
    """The audit trail's hash chain, committed entries and spool."""
    from lake import audit

    if "system.audit" in state.unreadable:
        return "audit table unreadable", []
    try:
        report = audit.verify(state.home)
    except audit.AuditChainBroken as error:
        return "broken", [Problem("audit", f"system.audit entry {error.seq}", str(error),
                                  "restore system.audit from a backup; entries from the one named cannot be trusted")]
    return f"intact: {report.entries:,} entries", []


def check_leftovers(state: _State) -> tuple[str, list[Problem]]:
    """Orphan and partial files killed writers left (``govlake vacuum`` lists and deletes them)."""
    from lake.vacuum import vacuum

    report = vacuum(state.home)
    leftovers = [f for f in report.files if f.kind in ("orphan", "partial")]
    expired = [f for f in report.files if f.kind == "expired"]
    summary = f"{len(leftovers)} leftover file(s), {len(expired)} expired file(s) past retention"
    if not leftovers:
        return summary, []
    size = sum(f.size for f in leftovers)
    where = sorted({f.table or str(f.path.parent.relative_to(state.home.root)) for f in leftovers})
    return summary, [Problem("leftovers", ", ".join(where[:5]) + (" ..." if len(where) > 5 else ""),
                             f"{len(leftovers)} file(s), {size:,} bytes, left by writers that were killed "
                             "(never committed, never renamed)", "`govlake vacuum --apply`")]


def check_extracts(state: _State) -> tuple[str, list[Problem]]:
    """Delivered extracts under the home: past their expiry, or no longer matching their metadata."""
    from views.publish import ExtractInvalid, read_extract

    folder = state.home.extracts
    files = sorted(folder.glob("*.duckdb")) if folder.is_dir() else []
    now = dt.datetime.now(dt.UTC)
    problems = []
    for file in files:
        try:
            extract = read_extract(file)
        except ExtractInvalid as error:
            problems.append(Problem("extracts", str(file), str(error), f"rm -f '{file}'"))
            continue
        if extract.expires_at is not None and extract.expires_at < now:
            grant = f" (grant {extract.grant_id})" if extract.grant_id else ""
            problems.append(Problem(
                "extracts", str(file), f"extract for {extract.user}{grant} expired at "
                f"{extract.expires_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
                f"rm -f '{file}' (and have {extract.user} delete their copy)"))
        elif extract.problems:
            problems.append(Problem("extracts", str(file), "; ".join(extract.problems),
                                    f"rm -f '{file}', then `govlake publish --user {extract.user}` again"))
    return f"{len(files)} extract(s)", problems


def check_disk(state: _State) -> tuple[str, list[Problem]]:
    """Free space on the home's filesystem."""
    usage = shutil.disk_usage(state.home.root)
    summary = f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB"
    if usage.free >= state.min_free_bytes:
        return summary, []
    return summary, [Problem("disk", str(state.home.root),
                             f"only {usage.free / 2**30:.2f} GiB free (less than {state.min_free_bytes / 2**30:.1f} "
                             "GiB): builds and ingests may fail part-way",
                             "`govlake vacuum --apply` frees leftover files; else free space or move the home")]


#: The checks, in order: setup before tables, tables before what reads them.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("environment", check_environment),
    ("catalog", check_catalog),
    ("policies", check_policies),
    ("tables", check_tables),
    ("builds", check_builds),
    ("ingest_log", check_ingest_log),
    ("audit", check_audit),
    ("leftovers", check_leftovers),
    ("extracts", check_extracts),
    ("disk", check_disk),
)


def render(diagnosis: Diagnosis) -> str:
    """The doctor's report as text: one line per check, then each problem with its fix."""
    width = max(len(name) for name in diagnosis.summaries)
    lines = [f"home {diagnosis.home}"]
    lines += [f"  {name:<{width}}  {summary}" for name, summary in diagnosis.summaries.items()]
    if diagnosis.ok:
        lines.append("no problems found")
        return "\n".join(lines)
    lines.append(f"{len(diagnosis.problems)} problem(s):")
    for number, problem in enumerate(diagnosis.problems, 1):
        lines.append(f"{number}. [{problem.check}] {problem.subject}: {problem.message}")
        lines.append(f"   fix: {problem.fix}")
    return "\n".join(lines)


def as_json(diagnosis: Diagnosis) -> str:
    return json.dumps(diagnosis.as_dict(), ensure_ascii=False, indent=2)

