"""Benchmarks, run as ``govlake bench NAME``. Figures go to docs/benchmarks.md.

Every timed trial runs in a fresh subprocess, so its peak RSS is its own and one trial's
caches do not flatter the next. Trials of the measured work and of its baseline are
interleaved in the same run, because this machine is shared and noisy: the ratio of
medians measured side by side is more trustworthy than either absolute figure.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Bench:
    name: str
    help: str
    run: Callable[..., dict[str, Any]]


def run_worker(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args...`` and parse the JSON object it prints last."""
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {module} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    import os

    import psutil

    memory = psutil.virtual_memory().total / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def save(home_bench: Path, name: str, result: dict[str, Any]) -> Path:
    home_bench.mkdir(parents=True, exist_ok=True)
    path = home_bench / f"{name}-results.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return path
