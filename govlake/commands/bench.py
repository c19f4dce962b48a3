"""``govlake bench NAME``: measure the figures the issues ask for (see docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import importlib

from govlake.commands import home_of

#: bench name -> module with run(home, **options) and report(result)
BENCHES: dict[str, str] = {
    "ingest": "govlake.bench.ingest",
    "build": "govlake.bench.build",
    "sql": "govlake.bench.sql",
    "app": "govlake.bench.app",
    "quality": "govlake.bench.quality",
    "share": "govlake.bench.share",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and print its figures")
    parser.add_argument("name", choices=sorted(BENCHES))
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=3, help="trials per measurement; medians are reported")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(BENCHES[args.name])
    result = module.run(home_of(args), persons=args.persons, seed=args.seed, runs=args.runs)
    print(module.report(result))
    return 0
