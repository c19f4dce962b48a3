"""``govlake bench build``: a full build of every library, then an incremental build of a 1% batch.

Each timed build runs in its own subprocess (peak RSS is its own). The 1% batch is
death certificates for 1% of the living population, a fifth of them without the ID so
linkage has work to do; it is ingested (untimed) before the incremental build is timed.
Trials alternate full and incremental builds on fresh copies of the same ingested home.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from govlake.bench import machine, median, run_worker, save
from govlake.home import Home

WORKER = "govlake.bench.build"


def one_percent_batch(home: Path, out: Path) -> int:
    """Write a deaths batch for 1% of the living persons of a built home; return its rows."""
    import polars as pl

    from lake import delta

    people = delta.read(Path(home) / "lake" / "base" / "population",
                        columns=["resident_id", "name", "sex", "birth_date", "residence_division", "alive"])
    chosen = people.filter(pl.col("alive")).sort("resident_id").gather_every(100)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    from lake.catalog import load_catalog

    # certificate_no, resident_id, name, sex, birth_date, death_date, death_division, cause_of_death
    writer.writerow([item.source for item in load_catalog().dataset("deaths").items])
    for index, row in enumerate(chosen.iter_rows(named=True)):
        writer.writerow([f"BENCH{index:09d}", row["resident_id"] if index % 5 else "", row["name"],
                         "男" if row["sex"] == "1" else "女", row["birth_date"], "2026-11-21",
                         row["residence_division"], "I21.9"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "卫健_死亡医学证明_29991231.csv").write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return chosen.height


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def trial(home: Path, *, full: bool) -> dict[str, Any]:
    from transforms.build import build

    started = time.perf_counter()
    report = build(Home(home), full=full)
    return {"seconds": time.perf_counter() - started, "kind": report.kind, "peak_rss_bytes": _peak_rss(),
            "steps": report.seconds, "keys_rebuilt": report.keys_rebuilt}


def run(home: Home, *, persons: int, seed: int, runs: int) -> dict[str, Any]:
    from govlake.bench.ingest import exports_for
    from lake.ingest import ingest

    bench = home.root / "bench"
    exports = exports_for(home, persons, seed)
    base = bench / f"build-base-p{persons}-s{seed}"
    if not (base / ".complete").exists():
        shutil.rmtree(base, ignore_errors=True)
        ingest(Home(base).ensure(), [exports])
        (base / ".complete").write_text("ok")
    full_trials, incremental_trials = [], []
    batch_rows = 0
    for index in range(runs):
        trial_home = bench / f"build-trial-{index}"
        shutil.rmtree(trial_home, ignore_errors=True)
        shutil.copytree(base, trial_home, symlinks=True)
        full_trials.append(run_worker(WORKER, "full", str(trial_home)))
        batch = bench / f"batch-{index}"
        shutil.rmtree(batch, ignore_errors=True)
        batch_rows = one_percent_batch(trial_home, batch)
        ingest(Home(trial_home), [batch])
        incremental_trials.append(run_worker(WORKER, "incremental", str(trial_home)))
        shutil.rmtree(trial_home, ignore_errors=True)
        shutil.rmtree(batch, ignore_errors=True)
    full_s = median([t["seconds"] for t in full_trials])
    incremental_s = median([t["seconds"] for t in incremental_trials])
    result = {
        "bench": "build", "date": dt.date.today().isoformat(), "machine": machine(),
        "command": f"govlake bench build --persons {persons} --seed {seed} --runs {runs}",
        "persons": persons, "batch_rows": batch_rows,
        "full_seconds_median": full_s, "full_seconds_all": [t["seconds"] for t in full_trials],
        "full_steps_last": full_trials[-1]["steps"],
        "incremental_seconds_median": incremental_s,
        "incremental_seconds_all": [t["seconds"] for t in incremental_trials],
        "incremental_share_of_full": incremental_s / full_s,
        "keys_rebuilt": incremental_trials[-1]["keys_rebuilt"],
        "peak_rss_bytes_max": max(t["peak_rss_bytes"] for t in full_trials + incremental_trials),
    }
    result["saved_to"] = str(save(bench, "build", result))
    return result


def report(result: dict[str, Any]) -> str:
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in result["full_steps_last"].items())
    return "\n".join([
        f"build of {result['persons']:,} persons, median of {len(result['full_seconds_all'])} runs:",
        f"  full build:        {result['full_seconds_median']:.1f} s  ({steps})",
        f"  incremental build: {result['incremental_seconds_median']:.1f} s for a {result['batch_rows']:,}-row "
        f"batch ({result['keys_rebuilt']:,} keys rebuilt) = {result['incremental_share_of_full']:.1%} of full",
        f"  peak RSS:          {result['peak_rss_bytes_max'] / 2**30:.2f} GiB",
        f"  saved to {result['saved_to']}",
    ])


if __name__ == "__main__":
    kind, target = sys.argv[1:3]
    print(json.dumps(trial(Path(target), full=kind == "full"), default=str))
