"""``govlake bench ingest``: end-to-end ingest throughput against a bare ``polars.write_delta``.

The measured work is :func:`lake.ingest.ingest` over every physical file of a generated
export: read, detect encoding, parse, check the contract, quarantine, write raw Delta
tables with lineage, and log. The baseline is ``polars.DataFrame.write_delta`` of the
very rows ingest produced (already parsed, lineage included), one table per dataset.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from govlake.bench import machine, median, run_worker, save
from govlake.home import Home

WORKER = "govlake.bench.ingest"


def exports_for(home: Home, persons: int, seed: int) -> Path:
    """Generate (once) and return the export folder for this scale."""
    from govlake.generate import generate

    folder = home.root / "bench" / f"exports-p{persons}-s{seed}"
    marker = folder / ".complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, persons=persons, seed=seed)
        marker.write_text("ok")
    return folder


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def trial_ingest(trial_home: Path, exports: Path) -> dict[str, Any]:
    from lake.ingest import ingest

    shutil.rmtree(trial_home, ignore_errors=True)
    home = Home(trial_home).ensure()
    started = time.perf_counter()
    outcomes = ingest(home, [exports])
    elapsed = time.perf_counter() - started
    physical = [o for o in outcomes if o.status == "loaded"]
    refused = [o.message for o in outcomes if o.status == "refused"]
    if refused:
        raise SystemExit(f"files refused during the benchmark: {refused}")
    return {
        "seconds": elapsed,
        "rows_read": sum(o.rows_read for o in physical),
        "rows_loaded": sum(o.rows_loaded for o in physical),
        "files": len(physical),
        "peak_rss_bytes": _peak_rss_bytes(),
    }


def trial_bare_write(trial_home: Path, parsed: Path) -> dict[str, Any]:
    """Time ``write_delta`` of the rows ingest produced (loaded untimed from Parquet)."""
    import polars as pl

    shutil.rmtree(trial_home, ignore_errors=True)
    frames = {path.stem: pl.read_parquet(path) for path in sorted(parsed.glob("*.parquet"))}
    started = time.perf_counter()
    for name, frame in frames.items():
        frame.write_delta(str(trial_home / name), mode="append")
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": sum(f.height for f in frames.values()),
            "peak_rss_bytes": _peak_rss_bytes()}


def parsed_rows(home: Home, exports: Path) -> Path:
    """Materialize once, as Parquet, the rows a real ingest loaded (the baseline's input)."""
    folder = home.root / "bench" / f"parsed-{exports.name}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    trial_home = home.root / "bench" / "trial-parse"
    trial_ingest(trial_home, exports)
    from lake import delta

    folder.mkdir(parents=True)
    for table in sorted((trial_home / "lake" / "raw").iterdir()):
        delta.read(table).write_parquet(folder / f"{table.name}.parquet")
    shutil.rmtree(trial_home, ignore_errors=True)
    (folder / ".complete").write_text("ok")
    return folder


def run(home: Home, *, persons: int, seed: int, runs: int) -> dict[str, Any]:
    exports = exports_for(home, persons, seed)
    parsed = parsed_rows(home, exports)
    bench_dir = home.root / "bench"
    ingest_trials, bare_trials = [], []
    for index in range(runs):
        ingest_trials.append(run_worker(WORKER, "ingest", str(bench_dir / f"trial-{index}"), str(exports)))
        bare_trials.append(run_worker(WORKER, "bare", str(bench_dir / f"bare-{index}"), str(parsed)))
        shutil.rmtree(bench_dir / f"trial-{index}", ignore_errors=True)
        shutil.rmtree(bench_dir / f"bare-{index}", ignore_errors=True)
    ingest_s = median([t["seconds"] for t in ingest_trials])
    bare_s = median([t["seconds"] for t in bare_trials])
    rows = ingest_trials[0]["rows_read"]
    result = {
        "bench": "ingest",
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "command": f"govlake bench ingest --persons {persons} --seed {seed} --runs {runs}",
        "persons": persons,
        "files": ingest_trials[0]["files"],
        "rows_read": rows,
        "ingest_seconds_median": ingest_s,
        "ingest_seconds_all": [t["seconds"] for t in ingest_trials],
        "rows_per_second": rows / ingest_s,
        "peak_rss_bytes_max": max(t["peak_rss_bytes"] for t in ingest_trials),
        "bare_write_seconds_median": bare_s,
        "bare_write_seconds_all": [t["seconds"] for t in bare_trials],
        "ratio_ingest_over_bare": ingest_s / bare_s,
    }
    result["saved_to"] = str(save(bench_dir, "ingest", result))
    return result


def report(result: dict[str, Any]) -> str:
    return "\n".join([
        f"ingest of {result['persons']:,} persons ({result['files']} files, {result['rows_read']:,} rows), "
        f"median of {len(result['ingest_seconds_all'])} runs:",
        f"  end to end:       {result['ingest_seconds_median']:.2f} s = {result['rows_per_second']:,.0f} rows/s",
        f"  peak RSS:         {result['peak_rss_bytes_max'] / 2**30:.2f} GiB",
        f"  bare write_delta: {result['bare_write_seconds_median']:.2f} s",
        f"  ratio:            {result['ratio_ingest_over_bare']:.2f}x",
        f"  saved to {result['saved_to']}",
    ])


if __name__ == "__main__":
    kind, target, source = sys.argv[1:4]
    trial = trial_ingest if kind == "ingest" else trial_bare_write
    print(json.dumps(trial(Path(target), Path(source))))
