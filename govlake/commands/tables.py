"""``govlake tables [--json]``: every table with its zone, path, Delta version and row count."""

from __future__ import annotations

import argparse
import json

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("tables", help="list every table with zone, path, version and rows")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake.tables import list_tables

    tables = list_tables(home_of(args))
    if args.json:
        print(json.dumps([t.as_dict() for t in tables], ensure_ascii=False, indent=2))
        return 0
    if not tables:
        print("no tables yet; run `govlake demo` or `govlake ingest PATH`")
        return 0
    width = max(len(t.name) for t in tables)
    print(f"{'table':<{width}}  {'version':>7}  {'rows':>12}  path")
    for t in tables:
        version = "-" if t.version is None else str(t.version)
        rows = "?" if t.rows is None else f"{t.rows:,}"
        print(f"{t.name:<{width}}  {version:>7}  {rows:>12}  {t.path}")
    return 0
