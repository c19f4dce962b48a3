"""``govlake bench ingest``: end-to-end ingest throughput against a bare ``polars.write_delta``.

The measured work is :func:`lake.ingest.ingest` over the whole generated export folder:
read, hash, detect encoding, parse, check the contract, quarantine, write raw Delta
tables with lineage, and log, plus registering the logical (SQLite) source, which counts
its rows in place. Rows per second count the rows of the physical files only: the
logical source's rows are counted, not read or copied (they are reported separately).

The baseline is ``polars.DataFrame.write_delta`` with default settings of the very rows
ingest produced (already parsed, lineage included, loaded untimed), one table per raw
dataset: the same rows and the same tables, without reading, parsing, quarantine or the
log. Both sides write Snappy-compressed Parquet: the baseline with deltalake's writer,
ingest with pyarrow's, staged and committed as add actions (lake/delta.py ``Staging``),
which is the cheaper of the two; that is part of what is measured.

Each trial also records its CPU time and the 1-minute load average around it: the
machine these figures come from is shared, and the load says how far to trust them.
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


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def trial_ingest(trial_home: Path, exports: Path) -> dict[str, Any]:
    from lake.ingest import ingest

    shutil.rmtree(trial_home, ignore_errors=True)
    home = Home(trial_home).ensure()
    load, cpu = os.getloadavg()[0], _cpu_seconds()
    started = time.perf_counter()
    outcomes = ingest(home, [exports])
    elapsed = time.perf_counter() - started
    physical = [o for o in outcomes if o.status == "loaded"]
    refused = [o.message for o in outcomes if o.status == "refused"]
    if refused:
        raise SystemExit(f"files refused during the benchmark: {refused}")
    return {
        "seconds": elapsed,
        "cpu_seconds": _cpu_seconds() - cpu,
        "load": [load, os.getloadavg()[0]],
        "rows_read": sum(o.rows_read for o in physical),
        "rows_loaded": sum(o.rows_loaded for o in physical),
        "rows_quarantined": sum(o.rows_quarantined for o in physical),
        "files": len(physical),
        "logical_rows": sum(o.rows_read for o in outcomes if o.status == "registered"),
        "peak_rss_bytes": _peak_rss_bytes(),
    }


def trial_bare_write(trial_home: Path, parsed: Path) -> dict[str, Any]:
    """Time ``write_delta`` of the rows ingest produced (loaded untimed from Parquet)."""
    import polars as pl

    shutil.rmtree(trial_home, ignore_errors=True)
    frames = {path.stem: pl.read_parquet(path) for path in sorted(parsed.glob("*.parquet"))}
    load, cpu = os.getloadavg()[0], _cpu_seconds()
    started = time.perf_counter()
    for name, frame in frames.items():
        frame.write_delta(str(trial_home / name), mode="append")
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "cpu_seconds": _cpu_seconds() - cpu, "load": [load, os.getloadavg()[0]],
            "rows": sum(f.height for f in frames.values()), "tables": len(frames),
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
    if bare_trials[0]["rows"] != ingest_trials[0]["rows_loaded"]:
        raise SystemExit(f"the baseline writes {bare_trials[0]['rows']} rows but ingest loaded "
                         f"{ingest_trials[0]['rows_loaded']}: delete {parsed} and run again")
    result = {
        "bench": "ingest",
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "command": f"govlake bench ingest --persons {persons} --seed {seed} --runs {runs}",
        "persons": persons,
        "files": ingest_trials[0]["files"],
        "rows_read": rows,
        "rows_loaded": ingest_trials[0]["rows_loaded"],
        "rows_quarantined": ingest_trials[0]["rows_quarantined"],
        "logical_rows_registered": ingest_trials[0]["logical_rows"],
        "ingest_seconds_median": ingest_s,
        "ingest_seconds_all": [t["seconds"] for t in ingest_trials],
        "ingest_cpu_seconds_median": median([t["cpu_seconds"] for t in ingest_trials]),
        "rows_per_second": rows / ingest_s,
        "peak_rss_bytes_max": max(t["peak_rss_bytes"] for t in ingest_trials),
        "bare_write_tables": bare_trials[0]["tables"],
        "bare_write_seconds_median": bare_s,
        "bare_write_seconds_all": [t["seconds"] for t in bare_trials],
        "bare_write_cpu_seconds_median": median([t["cpu_seconds"] for t in bare_trials]),
        "bare_write_peak_rss_bytes_max": max(t["peak_rss_bytes"] for t in bare_trials),
        "ratio_ingest_over_bare": ingest_s / bare_s,
        "load_average_1min": [t["load"] for pair in zip(ingest_trials, bare_trials, strict=True) for t in pair],
    }
    result["saved_to"] = str(save(bench_dir, "ingest", result))
    return result


def report(result: dict[str, Any]) -> str:
    loads = [load for pair in result["load_average_1min"] for load in pair]
    return "\n".join([
        f"ingest of {result['persons']:,} persons ({result['files']} files, {result['rows_read']:,} rows; "
        f"plus {result['logical_rows_registered']:,} rows registered in place), "
        f"median of {len(result['ingest_seconds_all'])} runs:",
        f"  end to end:       {result['ingest_seconds_median']:.2f} s = {result['rows_per_second']:,.0f} rows/s "
        f"(runs: {', '.join(f'{s:.2f}' for s in result['ingest_seconds_all'])}; "
        f"CPU {result['ingest_cpu_seconds_median']:.1f} s)",
        f"  peak RSS:         {result['peak_rss_bytes_max'] / 2**30:.2f} GiB",
        f"  bare write_delta: {result['bare_write_seconds_median']:.2f} s "
        f"(runs: {', '.join(f'{s:.2f}' for s in result['bare_write_seconds_all'])}; "
        f"CPU {result['bare_write_cpu_seconds_median']:.1f} s; {result['bare_write_tables']} tables)",
        f"  ratio:            {result['ratio_ingest_over_bare']:.2f}x",
        f"  load average:     {min(loads):.1f} to {max(loads):.1f} (1 minute, around each trial)",
        f"  saved to {result['saved_to']}",
    ])


if __name__ == "__main__":
    kind, target, source = sys.argv[1:4]
    trial = trial_ingest if kind == "ingest" else trial_bare_write
    print(json.dumps(trial(Path(target), Path(source))))
