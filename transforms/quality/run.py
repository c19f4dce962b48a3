"""``govlake quality run``: evaluate every rule, append the results and the failing records.

A run is the pipeline :data:`CHECKS` (before → during/after record checks → freshness) over the
datasets in scope, written as two appends (three when feedback tickets await re-check):

1. ``system.quality_failures``: one row per failing record per rule (the contract with the
   feedback loop, ``lake.feedback.sync_tickets(home, run_id)``, called last when it exists);
2. ``system.quality_rechecks``, only when tickets are in state ``corrected``: one row per record
   of each such ticket, saying whether and where its rule re-checked it (:mod:`.rechecks`);
3. ``system.quality_results``: one row per rule × dataset × batch, with counts and sample keys.

**Crash safety and idempotency.** The run id is a digest of everything a run reads: the Delta
version of every input table, the logical sources' files, the catalog and rule files, the
tickets awaiting re-check, the scope and the run date. Running again on the same inputs is the
same run: each append carries the Delta app transaction ``govlake.quality/<run_id>``, so a run
killed between appends finishes the rest and adds nothing twice, and a completed run (its
results appended last) is reported, not repeated.
The run time of a run whose failures landed before a crash is read back, so both tables agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import hashlib
import importlib
import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from govlake.errors import NotFound
from govlake.home import Home
from lake import delta
from lake.catalog.load import CATALOG_DIR, STANDARDS_DIR
from lake.system import QUALITY_FAILURES, QUALITY_RECHECKS, QUALITY_RESULTS
from transforms.quality import rechecks
from transforms.quality.context import Findings, QualityContext
from transforms.quality.contract import contract
from transforms.quality.derive import QualityRule, derive
from transforms.quality.freshness import freshness
from transforms.quality.records import records

Check = Callable[[QualityContext], Findings]
#: The run, in order: the ingest contract (before), the record checks (during and after), freshness.
CHECKS: tuple[Check, ...] = (contract, records, freshness)
APP_PREFIX = "govlake.quality/"
AUDIT_ACTION = "quality.run"
#: Record keys kept per result row as examples.
SAMPLE_KEYS = 5
#: Tables a run reads besides the raw tables of its datasets: their versions make the run id.
INPUT_TABLES = (
    ("system", "ingest_log"), ("system", "quarantine"), ("system", "logical_sources"), ("system", "builds"),
    ("base", "conflicts"), ("base", "person_links"), ("base", "population"), ("base", "legal_entity"),
)

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "run_at": pl.Datetime("us", "UTC"), "rule_id": pl.String(), "stage": pl.String(),
    "dimension": pl.String(), "dataset": pl.String(), "batch_id": pl.String(), "source_file": pl.String(),
    "department": pl.String(), "checked": pl.Int64(), "failed": pl.Int64(), "sample_keys": pl.List(pl.String()),
}
FAILURE_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "run_at": pl.Datetime("us", "UTC"), "rule_id": pl.String(), "dimension": pl.String(),
    "dataset": pl.String(), "department": pl.String(), "batch_id": pl.String(), "source_file": pl.String(),
    "source_row": pl.Int64(), "record_key": pl.String(), "field": pl.String(), "value": pl.String(),
    "detail": pl.String(),
}


@dataclass
class RunReport:
    run_id: str
    run_at: dt.datetime
    status: str  # "recorded" (this process wrote it) or "already" (the same inputs were run before)
    datasets: tuple[str, ...]
    rules: int
    results: pl.DataFrame
    failures: int
    seconds: float = 0.0
    tickets: Any = None
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        by_dimension = (self.results.group_by("dimension").agg(pl.col("checked").sum(), pl.col("failed").sum())
                        .sort("dimension").to_dicts())
        return {"run_id": self.run_id, "run_at": self.run_at.isoformat(), "status": self.status,
                "datasets": list(self.datasets), "rules": self.rules, "result_rows": self.results.height,
                "failures": self.failures, "by_dimension": by_dimension, "seconds": round(self.seconds, 3),
                "timings": {k: round(v, 3) for k, v in self.timings.items()},
                "tickets": tickets_summary(self.tickets)}


def tickets_summary(report: Any) -> dict[str, Any] | None:
    """What the feedback loop reported, as counts (lists of ticket ids become their length)."""
    if report is None:
        return None
    fields = dataclasses.asdict(report) if dataclasses.is_dataclass(report) and not isinstance(report, type) else (
        report if isinstance(report, dict) else {"report": str(report)})
    return {key: len(value) if isinstance(value, list | tuple | set) else value for key, value in fields.items()}


def _files_digest() -> str:
    """Digest of what decides the rules: the catalog, the standards and the code that evaluates them.

    A changed catalog entry, code table, declared rule or standardization rule makes a new run.
    """
    import transforms.quality
    import transforms.rules

    code = [Path(transforms.quality.__file__).parent, Path(transforms.rules.__file__).parent]
    files = [
        *(path for folder in (CATALOG_DIR, STANDARDS_DIR) for path in folder.rglob("*")
          if path.suffix in {".toml", ".csv"}),
        *(path for folder in code for path in folder.glob("*.py")),
        CATALOG_DIR / "quality.py", Path(transforms.rules.__file__).parent.parent / "standardize.py",
    ]
    digest = hashlib.sha256()
    for path in sorted(set(files)):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(home: Home, scope: Sequence[str], run_date: dt.date) -> dict[str, Any]:
    """Everything a run reads, by version: equal fingerprints mean the same run.

    Corrections of feedback tickets (:func:`.rechecks.fingerprint`) enter only when there are
    some, so the run ids of homes where no ticket was ever corrected do not depend on the loop.
    """
    from lake.catalog import load_catalog

    catalog = load_catalog()
    tables = {f"{zone}.{name}": delta.version(home.table_path(zone, name)) for zone, name in INPUT_TABLES}
    logical: dict[str, Any] = {}
    for dataset_id in scope:
        dataset = catalog.dataset(dataset_id)
        if dataset.access == "logical":
            from lake.logical import current_location

            try:
                location = current_location(home, dataset)
            except NotFound:
                continue
            logical[dataset_id] = _logical_state(Path(location))
        else:
            tables[f"raw.{dataset.raw_table}"] = delta.version(home.table_path("raw", dataset.raw_table))
    inputs: dict[str, Any] = {"tables": tables, "logical": logical, "rules": _files_digest(), "datasets": sorted(scope),
              "run_date": run_date.isoformat()}
    corrections = rechecks.fingerprint(home, scope)
    if corrections:
        inputs["corrections"] = corrections
    return inputs


def _logical_state(location: Path) -> list[Any]:
    """What a run reads of a logical source's database in place: its content and the day it last changed.

    By content, not modification time: a database written again with the same content (``govlake
    demo`` regenerates its exports) is the same input. The day of the last change is kept because
    freshness counts a logical dataset as delivered that day. (About 0.1 s for the 100 MB database
    of the million-person demo.)
    """
    try:
        with location.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        changed = dt.datetime.fromtimestamp(location.stat().st_mtime, dt.UTC).date().isoformat()
    except OSError:
        return [str(location), None, None]
    return [str(location), digest, changed]


def run_id_of(inputs: dict[str, Any]) -> str:
    return "q-" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def resolve_scope(datasets: Sequence[str] | None) -> tuple[str, ...]:
    """Dataset ids from ids or resource codes (all datasets when none are given)."""
    from lake.catalog import load_catalog

    catalog = load_catalog()
    if not datasets:
        return tuple(sorted(catalog.datasets))
    return tuple(sorted({catalog.dataset(name).id for name in datasets}))


def _results(findings: Findings, rules: dict[str, QualityRule], run_id: str, run_at: dt.datetime) -> pl.DataFrame:
    samples = (
        findings.failures.with_columns(
            pl.coalesce("record_key", pl.concat_str([pl.lit("row:"), pl.col("source_row").cast(pl.String)]))
            .alias("sample"))
        .filter(pl.col("sample").is_not_null())
        .sort("rule_id", "dataset", "batch_id", "source_row", "sample", nulls_last=True)
        .group_by("rule_id", "dataset", "batch_id", maintain_order=True)
        .agg(pl.col("sample").unique(maintain_order=True).head(SAMPLE_KEYS).alias("sample_keys"))
    )
    stages = {rule_id: rule.stage for rule_id, rule in rules.items()}
    dimensions = {rule_id: rule.dimension for rule_id, rule in rules.items()}
    return (
        findings.counts.join(samples, on=["rule_id", "dataset", "batch_id"], how="left", nulls_equal=True)
        .with_columns(
            pl.lit(run_id).alias("run_id"), pl.lit(run_at).dt.cast_time_unit("us").alias("run_at"),
            pl.col("rule_id").replace_strict(stages).alias("stage"),
            pl.col("rule_id").replace_strict(dimensions).alias("dimension"),
            pl.col("sample_keys").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .select(list(RESULT_SCHEMA)).cast(RESULT_SCHEMA)  # type: ignore[arg-type]
        .sort("dataset", "rule_id", "batch_id", nulls_last=True)
    )


def _failures(findings: Findings, rules: dict[str, QualityRule], run_id: str, run_at: dt.datetime) -> pl.DataFrame:
    dimensions = {rule_id: rule.dimension for rule_id, rule in rules.items()}
    return (
        findings.failures.with_columns(
            pl.lit(run_id).alias("run_id"), pl.lit(run_at).dt.cast_time_unit("us").alias("run_at"),
            pl.col("rule_id").replace_strict(dimensions).alias("dimension"),
        )
        .select(list(FAILURE_TABLE_SCHEMA)).cast(FAILURE_TABLE_SCHEMA)  # type: ignore[arg-type]
        .sort("dataset", "rule_id", "batch_id", "source_row", nulls_last=True)
    )


def sync_tickets(home: Home, run_id: str) -> Any:
    """Hand the run to the feedback loop (``lake.feedback``) when this GovLake has one."""
    if importlib.util.find_spec("lake.feedback") is None:
        return None
    feedback = importlib.import_module("lake.feedback")
    return feedback.sync_tickets(home, run_id)


def _recorded_run_at(home: Home, run_id: str) -> dt.datetime | None:
    path = home.table_path("system", QUALITY_FAILURES.name)
    if delta.txn_version(path, APP_PREFIX + run_id) is None:
        return None
    found = delta.scan(path).filter(pl.col("run_id") == run_id).select("run_at").head(1).collect()
    return found["run_at"][0] if found.height else None


def run_results(home: Home, run_id: str) -> pl.DataFrame:
    """The result rows of one run (empty when there are none)."""
    path = home.table_path("system", QUALITY_RESULTS.name)
    if not delta.is_table(path):
        return pl.DataFrame(schema=RESULT_SCHEMA)
    return delta.scan(path).filter(pl.col("run_id") == run_id).collect()


def _audit(home: Home, run_id: str, scope: Sequence[str], result_rows: int, failures: int) -> None:
    from lake import audit

    audit.record_event(home, user=getpass.getuser(), action=AUDIT_ACTION, detail=json.dumps({
        "run_id": run_id, "datasets": list(scope), "result_rows": result_rows, "failures": failures},
        ensure_ascii=False))


def _audited(home: Home, run_id: str) -> bool:
    from lake import audit

    return any(entry.get("statement_kind") == AUDIT_ACTION and run_id in (entry.get("sql") or "")
               for entry in audit.entries(home, flush_first=False))


def make_quality_context(home: Home, scope: tuple[str, ...], run_date: dt.date,
                         versions: dict[str, int | None] | None = None,
                         waiting: tuple[rechecks.Target, ...] = ()) -> QualityContext:
    from lake.catalog.quality import load_quality_rules
    from transforms.build import make_context

    build = make_context(home)
    declared = load_quality_rules()
    versions = dict(versions or {})
    builds = home.table_path("system", "builds")
    built: frozenset[str] = frozenset()
    if delta.is_table(builds) and versions.get("system.builds", 0) is not None:
        manifests = delta.read(builds, version=versions.get("system.builds")).sort("build_id")
        built = frozenset(manifests.row(-1, named=True)["batches"] or []) if manifests.height else frozenset()
    return QualityContext(
        home=home, catalog=build.catalog, libraries=build.libraries, declared=declared,
        rules=derive(build.catalog, build.libraries, declared, set(scope)), datasets=scope, as_of=build.as_of,
        run_date=run_date, build=build, built_batches=built, versions=versions, recheck_targets=waiting,
    )


def run(home: Home, *, datasets: Sequence[str] | None = None, run_date: dt.date | None = None) -> RunReport:
    """Run the quality rules over ``datasets`` (default: all) and record the results.

    ``run_date`` (default: today, UTC) is what freshness is measured against; it is part of the
    run id, so the same inputs on another day make a new run.
    """
    from lake.locks import file_lock
    from transforms import manifest

    started = time.perf_counter()
    if not manifest.ingested_batches(home):
        raise NotFound(f"nothing to check in {home.root}: no dataset has been ingested yet; "
                       "run `govlake ingest PATH` or `govlake demo`")
    scope = resolve_scope(datasets)
    run_date = run_date or dt.datetime.now(dt.UTC).date()
    results_path = home.table_path("system", QUALITY_RESULTS.name)
    failures_path = home.table_path("system", QUALITY_FAILURES.name)
    rechecks_path = home.table_path("system", QUALITY_RECHECKS.name)
    timings: dict[str, float] = {}
    with file_lock(home, "quality.run"):
        waiting = rechecks.targets(home, scope)
        inputs = fingerprint(home, scope, run_date)
        run_id = run_id_of(inputs)
        app = (APP_PREFIX + run_id, 1)
        if delta.txn_version(results_path, app[0]) is not None:
            existing = run_results(home, run_id)
            report = RunReport(run_id, existing["run_at"][0], "already", scope, existing["rule_id"].n_unique(),
                               existing, int(existing["failed"].sum()))
            if not _audited(home, run_id):  # killed after the results landed, before the audit entry
                _audit(home, run_id, scope, existing.height, report.failures)
        else:
            run_at = _recorded_run_at(home, run_id) or dt.datetime.now(dt.UTC)
            ctx = make_quality_context(home, scope, run_date, inputs["tables"], waiting)
            findings = Findings()
            for check in CHECKS:
                began = time.perf_counter()
                findings = findings + check(ctx)
                timings[check.__name__] = time.perf_counter() - began
            rules = {rule.id: rule for rule in ctx.rules}
            began = time.perf_counter()
            failures = _failures(findings, rules, run_id, run_at)
            results = _results(findings, rules, run_id, run_at)
            commit_info = {"govlake.quality.run_id": run_id}
            delta.write(failures_path, failures.to_arrow(), txn=app, description=QUALITY_FAILURES.description,
                        comments=QUALITY_FAILURES.columns, commit_info=commit_info)
            rechecked = rechecks.table(findings.rechecks, waiting, run_id)
            if rechecked.height:
                delta.write(rechecks_path, rechecked.to_arrow(), txn=app, description=QUALITY_RECHECKS.description,
                            comments=QUALITY_RECHECKS.columns, commit_info=commit_info)
            delta.write(results_path, results.to_arrow(), txn=app, description=QUALITY_RESULTS.description,
                        comments=QUALITY_RESULTS.columns, commit_info=commit_info)
            timings["write"] = time.perf_counter() - began
            _audit(home, run_id, scope, results.height, failures.height)
            report = RunReport(run_id, run_at, "recorded", scope, results["rule_id"].n_unique(), results,
                               failures.height)
    began = time.perf_counter()
    report.tickets = sync_tickets(home, run_id)
    timings["tickets"] = time.perf_counter() - began
    report.seconds = time.perf_counter() - started
    report.timings = timings
    return report
