"""``govlake demo``: the main job. Generate department exports, aggregate them, build the libraries,
and run the quality rules.

The quality run ends the pipeline so that a fresh home (``make run``) opens on populated quality
scorecards, feedback tickets for the departments and the dashboards' governance page.

Idempotent: the same seed gives byte-identical exports, which ingest recognises by
content hash, so a second run adds nothing; the build is then up to date, and the quality run
(same inputs, same day) is the one already recorded. Later stages join the pipeline in
:data:`STAGES` as they land.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from govlake.commands import home_of
from govlake.home import Home


@dataclass
class DemoRun:
    home: Home
    persons: int
    seed: int
    results: dict[str, Any] = field(default_factory=dict)


def stage_generate(run: DemoRun) -> str:
    from govlake.generate import generate

    summary = generate(run.home.exports, persons=run.persons, seed=run.seed)
    run.results["generate"] = summary
    return f"{summary.files} files for {run.persons:,} persons in {run.home.exports}"


def stage_ingest(run: DemoRun) -> str:
    from lake.ingest import ingest

    outcomes = ingest(run.home, [run.home.exports])
    run.results["ingest"] = outcomes
    refused = [o for o in outcomes if o.status == "refused"]
    landed = [o for o in outcomes if o.status in {"loaded", "registered"}]
    already = sum(o.status == "already" for o in outcomes)
    text = (f"{len(landed)} files landed ({sum(o.rows_loaded for o in landed):,} rows, "
            f"{sum(o.rows_quarantined for o in landed):,} quarantined), {already} already present")
    if refused:
        text += f", {len(refused)} refused: " + "; ".join(o.message for o in refused)
    return text


def stage_build(run: DemoRun) -> str:
    from transforms.build import build

    report = build(run.home)
    run.results["build"] = report
    if report.kind == "up_to_date":
        return f"up to date (build {report.build_id})"
    return (f"build {report.build_id} ({report.kind}): "
            + ", ".join(f"{name} {rows:,}" for name, rows in sorted(report.tables.items())
                        if name in {"base.population", "base.legal_entity", "base.conflicts"}))


def stage_quality(run: DemoRun) -> str:
    """Every quality rule over every dataset (docs/quality.md); its sync opens the feedback tickets."""
    from transforms.quality.run import run as quality_run

    report = quality_run(run.home)
    run.results["quality"] = report
    checked, failed = int(report.results["checked"].sum()), int(report.results["failed"].sum())
    score = 1 - failed / checked if checked else 1.0
    if report.status != "recorded":
        return f"up to date (run {report.run_id}, score {score:.2%})"
    opened = len(getattr(report.tickets, "opened", ()) or ())
    return (f"run {report.run_id}: {report.rules} rules, {failed:,} failures in {checked:,} checks "
            f"(score {score:.2%}), {opened:,} feedback tickets opened")


#: The demo pipeline, in order. A stage is a function of the run returning one line.
STAGES: tuple[tuple[str, Callable[[DemoRun], str]], ...] = (
    ("generate", stage_generate),
    ("ingest", stage_ingest),
    ("build", stage_build),
    ("quality", stage_quality),
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run the main job on generated department data")
    parser.add_argument("--persons", type=int, default=100_000, help="persons to generate (default 100000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    home = home_of(args)
    demo = DemoRun(home, args.persons, args.seed)
    for name, stage in STAGES:
        started = time.perf_counter()
        line = stage(demo)
        print(f"[{name}] {line} ({time.perf_counter() - started:.1f} s)")
    print_summary(demo)
    return 0


def print_summary(demo: DemoRun) -> None:
    import polars as pl

    from lake import delta
    from lake.system import INGEST_LOG

    log_path = demo.home.table_path("system", INGEST_LOG.name)
    if not delta.is_table(log_path):
        return
    log = delta.read(log_path)
    per_dataset = (log.group_by("dataset").agg(pl.col("rows_loaded").sum(), pl.col("rows_quarantined").sum(),
                                                pl.len().alias("files")).sort("dataset"))
    print("\nSummary")
    print(f"  datasets aggregated: {per_dataset.height}")
    print(f"  rows loaded:         {int(log['rows_loaded'].sum()):,}")
    print(f"  rows quarantined:    {int(log['rows_quarantined'].sum()):,}")
    quality = demo.results.get("quality")
    if quality is not None:
        from lake import feedback

        pending = [t for t in feedback.tickets(demo.home) if t.state in feedback.PENDING]
        print(f"  quality run:         {quality.run_id} ({quality.failures:,} failing records)")
        print(f"  feedback tickets:    {len(pending):,} awaiting the departments "
              f"({len({t.department for t in pending})} departments)")
    print(f"  home:                {demo.home.root}")
    print("Next: `govlake tables` lists the tables; `govlake score` measures the libraries against the truth; "
          "`govlake sql --user hz_analyst \"SELECT count(*) FROM population\"` queries as an analyst; "
          "quarantined rows and their reasons are in system.quarantine; `govlake quality report` shows the "
          "quality scorecards and `govlake feedback list` the tickets sent back to the departments; "
          "`govlake app` shows them on the governance page (数据治理).")
