"""``govlake bench quality``: a full quality run over a built home, against reading and standardizing alone.

The measured work is :func:`transforms.quality.run.run` over every dataset: the ingest contract
(before), every record judged by the rules (during and after: standardization flags, format,
completeness, ranges, uniqueness, late records, referential integrity, consistency from
``base.conflicts``), freshness, and the two appends (results and failing records). The
feedback tickets the run hands over (``lake.feedback.sync_tickets``, when present) are timed
apart, as ``tickets``: they are the feedback loop's work, not the rules'.

The baseline, measured in the same run and interleaved with it, is the floor of that work:
reading every raw dataset and standardizing every item (what the build's standardization does),
with no rule evaluated and nothing written.

The home is the one given by ``--home`` when it is a built demo of ``--persons`` persons (make it
once with ``govlake --home H demo --persons N``); otherwise one is generated, ingested and built
under ``<home>/bench``. Each trial runs in its own subprocess on a scratch home whose lake
zones and input system tables are symbolic links to the built home's, so only the trial's own
results are written and the built home is never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from govlake.bench import machine, median, run_worker, save
from govlake.home import Home

WORKER = "govlake.bench.quality"
#: System tables a run reads; a trial home links to the built home's.
INPUT_SYSTEM_TABLES = ("ingest_log", "quarantine", "logical_sources", "builds")


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def built_persons(home: Home) -> int | None:
    """Persons of the demo this home was built from, or None when it is not a built demo."""
    metadata = home.exports / "truth" / "metadata.json"
    if not metadata.exists() or not (home.table_path("system", "builds") / "_delta_log").is_dir():
        return None
    return int(json.loads(metadata.read_text(encoding="utf-8"))["persons"])


def source_home(home: Home, persons: int, seed: int) -> Home:
    """The built home to measure: ``home`` itself when it fits, else one made (once) under bench/."""
    if built_persons(home) == persons:
        return home
    from govlake.bench.ingest import exports_for
    from lake.ingest import ingest
    from transforms.build import build

    base = Home(home.root / "bench" / f"quality-base-p{persons}-s{seed}")
    if not (base.root / ".complete").exists():
        shutil.rmtree(base.root, ignore_errors=True)
        ingest(base.ensure(), [exports_for(home, persons, seed)])
        build(base)
        (base.root / ".complete").write_text("ok")
    return base


def scratch_home(source: Home, target: Path) -> Home:
    """A home reading ``source``'s lake through symbolic links, writing only its own system tables."""
    shutil.rmtree(target, ignore_errors=True)
    home = Home(target)
    (target / "lake" / "system").mkdir(parents=True)
    shutil.copy(source.settings_file, home.settings_file)
    for zone in ("raw", "base", "topic"):
        (target / "lake" / zone).symlink_to(source.zone(zone), target_is_directory=True)
    for name in INPUT_SYSTEM_TABLES:
        if source.table_path("system", name).exists():
            home.table_path("system", name).symlink_to(source.table_path("system", name), target_is_directory=True)
    for folder in ("exports", "duckdb_extensions"):
        if (source.root / folder).exists():
            (target / folder).symlink_to(source.root / folder, target_is_directory=True)
    return home


def trial(target: Path, kind: str) -> dict[str, Any]:
    home = Home(target)
    load, cpu = os.getloadavg()[0], _cpu_seconds()
    started = time.perf_counter()
    figures: dict[str, Any] = {}
    if kind == "quality":
        from transforms.quality.run import run

        report = run(home, run_date=dt.date.today())
        figures = {"result_rows": report.results.height, "failures": report.failures, "rules": report.rules,
                   "steps": report.timings}
        seconds = time.perf_counter() - started - report.timings.get("tickets", 0.0)
    else:
        from lake.catalog import load_catalog
        from transforms.build import make_context
        from transforms.standardize import standardize

        ctx = make_context(home)
        rows = 0
        for dataset in load_catalog().datasets.values():
            if ctx.has_source(dataset.id):
                rows += standardize(ctx.raw(dataset), dataset, ctx.rules).collect().height
        figures = {"rows": rows}
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu, "load": [load, os.getloadavg()[0]],
            "peak_rss_bytes": _peak_rss_bytes(), **figures}


def run(home: Home, *, persons: int, seed: int, runs: int) -> dict[str, Any]:
    source = source_home(home, persons, seed)
    bench_dir = home.root / "bench"
    quality_trials, baseline_trials = [], []
    for index in range(runs):
        scratch = scratch_home(source, bench_dir / f"quality-trial-{index}")
        quality_trials.append(run_worker(WORKER, "quality", str(scratch.root)))
        baseline_trials.append(run_worker(WORKER, "baseline", str(scratch.root)))
        shutil.rmtree(scratch.root, ignore_errors=True)
    quality_s = median([t["seconds"] for t in quality_trials])
    baseline_s = median([t["seconds"] for t in baseline_trials])
    last = quality_trials[-1]
    result = {
        "bench": "quality", "date": dt.date.today().isoformat(), "machine": machine(),
        "command": f"govlake bench quality --persons {persons} --seed {seed} --runs {runs}",
        "persons": persons, "home": str(source.root), "records": baseline_trials[0]["rows"],
        "rules": last["rules"], "result_rows": last["result_rows"], "failing_records": last["failures"],
        "quality_seconds_median": quality_s, "quality_seconds_all": [t["seconds"] for t in quality_trials],
        "quality_cpu_seconds_median": median([t["cpu_seconds"] for t in quality_trials]),
        "steps_last": last["steps"],
        "tickets_seconds_all": [t["steps"].get("tickets", 0.0) for t in quality_trials],
        "baseline_seconds_median": baseline_s, "baseline_seconds_all": [t["seconds"] for t in baseline_trials],
        "baseline_cpu_seconds_median": median([t["cpu_seconds"] for t in baseline_trials]),
        "ratio_quality_over_baseline": quality_s / baseline_s,
        "peak_rss_bytes_max": max(t["peak_rss_bytes"] for t in quality_trials),
        "load_average_1min": [t["load"] for pair in zip(quality_trials, baseline_trials, strict=True) for t in pair],
    }
    result["saved_to"] = str(save(bench_dir, "quality", result))
    return result


def report(result: dict[str, Any]) -> str:
    loads = [load for pair in result["load_average_1min"] for load in pair]
    steps = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result["steps_last"].items())
    return "\n".join([
        f"quality run over {result['persons']:,} persons ({result['records']:,} records, {result['rules']} rules "
        f"with results), median of {len(result['quality_seconds_all'])} runs:",
        f"  full rule run:    {result['quality_seconds_median']:.1f} s "
        f"(runs: {', '.join(f'{s:.1f}' for s in result['quality_seconds_all'])}; "
        f"CPU {result['quality_cpu_seconds_median']:.1f} s; {result['result_rows']:,} result rows, "
        f"{result['failing_records']:,} failing records)",
        f"  steps (last run): {steps}",
        f"  baseline:         {result['baseline_seconds_median']:.1f} s to read and standardize every dataset "
        f"(runs: {', '.join(f'{s:.1f}' for s in result['baseline_seconds_all'])}; "
        f"CPU {result['baseline_cpu_seconds_median']:.1f} s)",
        f"  ratio:            {result['ratio_quality_over_baseline']:.2f}x",
        f"  peak RSS:         {result['peak_rss_bytes_max'] / 2**30:.2f} GiB",
        f"  load average:     {min(loads):.1f} to {max(loads):.1f} (1 minute, around each trial)",
        f"  saved to {result['saved_to']}",
    ])


if __name__ == "__main__":
    kind, target = sys.argv[1:3]
    print(json.dumps(trial(Path(target), kind), default=str))
