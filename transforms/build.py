"""``govlake build``: the base libraries and topic marts from the raw zone.

A build is data, not control flow: :data:`STEPS` lists the steps in order, each a
function of the :class:`~transforms.context.BuildContext` returning named output
tables (``zone.table``). Reordering or adding a step is a one-line change.

Outputs are sorted by key before writing so that building twice from the same raw
data gives identical tables. Each build is one new Delta version of every table it
writes, and the build manifest (``system.builds``) records those versions together,
so readers can pin a consistent set (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from govlake.errors import NotFound
from govlake.home import Home
from lake.catalog import load_catalog
from lake.catalog.libraries import load_libraries
from transforms.context import BuildContext
from transforms.credit import credit
from transforms.e_licence import e_licence
from transforms.geospatial import geospatial
from transforms.history import history
from transforms.legal_entity import legal_entity
from transforms.population import population
from transforms.rules.base import RuleContext
from transforms.topics import topics

Step = Callable[[BuildContext], dict[str, pl.DataFrame]]

#: The base libraries keyed by person or entity: an incremental build reruns these on the
#: touched keys only (transforms/incremental.py).
LIBRARY_STEPS: tuple[tuple[str, Step], ...] = (
    ("population", population),
    ("legal_entity", legal_entity),
)
#: Steps that read the libraries whole; every build recomputes them.
DOWNSTREAM_STEPS: tuple[tuple[str, Step], ...] = (
    ("geospatial", geospatial),
    ("credit", credit),
    ("e_licence", e_licence),
    ("topics", topics),
    ("history", history),
)
#: The build, in order. Later steps may read earlier outputs through ctx.output().
STEPS: tuple[tuple[str, Step], ...] = LIBRARY_STEPS + DOWNSTREAM_STEPS


@dataclass
class BuildReport:
    kind: str = "full"  # full, incremental or up_to_date
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows
    versions: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    as_of: dt.date | None = None
    new_batches: int = 0
    keys_rebuilt: int = 0
    build_id: int | None = None


def reference_date(home: Home) -> dt.date:
    """The build's "today": the date of the latest ingestion, so a rebuild is reproducible."""
    from lake import delta
    from lake.system import INGEST_LOG

    path = home.table_path("system", INGEST_LOG.name)
    if not delta.is_table(path):
        return dt.date.today()
    latest = delta.scan(path).select(pl.col("finished_at").max()).collect().item()
    return latest.date() if latest is not None else dt.date.today()


def make_context(home: Home) -> BuildContext:
    catalog = load_catalog()
    as_of = reference_date(home)
    return BuildContext(home=home, catalog=catalog, libraries=load_libraries(), as_of=as_of,
                        rules=RuleContext.from_catalog(catalog, as_of))


def run_steps(ctx: BuildContext, steps: tuple[tuple[str, Step], ...] = STEPS) -> BuildReport:
    report = BuildReport(as_of=ctx.as_of)
    # The data fits in memory by design (docs/benchmarks.md); polars 2's default streaming
    # engine measured up to twice as slow on these join- and window-heavy plans.
    with pl.Config(engine_affinity="in-memory"):
        for name, step in steps:
            started = time.perf_counter()
            ctx.outputs.update(step(ctx))
            report.seconds[name] = time.perf_counter() - started
    conflicts = [frame for key, frame in ctx.outputs.items() if key.startswith("base.conflicts.")]
    if conflicts:
        ctx.outputs["base.conflicts"] = pl.concat(conflicts).sort(["library", "key", "attribute", "other_source"])
    return report


def build(home: Home, *, full: bool = False) -> BuildReport:
    """Build the libraries: incrementally when an earlier build exists, else (or with ``full``) from raw.

    Every build ends by recording the manifest (``system.builds``). One build runs at a
    time per home (a second waits for the ``build`` lock, then finds itself up to date or
    builds what is new): two builds overwriting the same tables would otherwise record
    one manifest for the other's outputs. After a ``govlake restore`` of an output table,
    the next build with new batches is a full one: an incremental build merges into the
    libraries as the last build left them, which a restore no longer is.
    """
    from lake.locks import file_lock

    with file_lock(home, "build"):
        return _build(home, full=full)


def _check_outputs_readable(home: Home) -> None:
    """Load every existing output table's log first: a damaged one fails the build before minutes of work."""
    from lake import delta
    from transforms.tables import all_tables

    for name in all_tables():
        delta.version(home.table_path(*name.split(".", 1)))


def _build(home: Home, *, full: bool) -> BuildReport:
    from transforms import manifest
    from transforms.incremental import run_incremental
    from transforms.write import write_outputs

    started_at = dt.datetime.now(dt.UTC)
    batches = manifest.ingested_batches(home)
    if not batches:
        raise NotFound(f"nothing to build in {home.root}: no dataset has been ingested yet; "
                       "run `govlake ingest PATH` or `govlake demo`")
    previous = manifest.latest(home)
    _check_outputs_readable(home)
    ctx = make_context(home)
    if not full and previous is not None and not (batches - previous.batches):
        if manifest.current_versions(home, previous.outputs) == previous.outputs:
            return BuildReport(kind="up_to_date", as_of=ctx.as_of, build_id=previous.build_id,
                               versions=previous.outputs)
        # Outputs moved past the manifest with nothing new to build: a `--full` build was
        # interrupted (an incremental one always has new batches). Finish it.
        full = True
    if not full and previous is not None and previous.kind != "restore":
        new_batches = batches - previous.batches
        started = time.perf_counter()
        report = BuildReport(kind="incremental", as_of=ctx.as_of, new_batches=len(new_batches))
        with pl.Config(engine_affinity="in-memory"):
            report.versions, report.keys_rebuilt = run_incremental(ctx, new_batches, inputs=previous.outputs)
        report.seconds["incremental"] = time.perf_counter() - started
        outputs = {**previous.outputs, **report.versions}
    else:
        new_batches = batches - (previous.batches if previous else frozenset())
        report = run_steps(ctx)
        report.new_batches = len(new_batches)
        started = time.perf_counter()
        report.versions = write_outputs(ctx)
        report.seconds["write"] = time.perf_counter() - started
        outputs = report.versions
    # The versions readers will pin are the tables' versions now, under the build lock: a step
    # that found its write already committed (a re-run after a crash) reports no new version.
    outputs = manifest.current_versions(home, outputs)
    report.tables = {name: frame.height for name, frame in ctx.outputs.items() if name in report.versions}
    from lake.extensions import install_all

    install_all(home.extensions)  # so a stock DuckDB can read the built tables offline
    report.build_id = manifest.record(home, kind=report.kind, as_of=ctx.as_of, batches=batches,
                                      new_batches=new_batches, outputs=outputs,
                                      keys_rebuilt=report.keys_rebuilt, started_at=started_at)
    return report
