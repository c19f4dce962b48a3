"""``govlake build [--full]``: the base libraries and topic marts from the raw zone."""

from __future__ import annotations

import argparse

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("build", help="build the base libraries and topic marts from the raw zone")
    parser.add_argument("--full", action="store_true",
                        help="rebuild everything from raw (default: only what new batches touch)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transforms.build import build

    report = build(home_of(args), full=args.full)
    if report.kind == "up_to_date":
        print(f"up to date: no new batches since build {report.build_id}; `govlake build --full` rebuilds anyway")
        return 0
    detail = f", {report.keys_rebuilt:,} persons and entities rebuilt" if report.kind == "incremental" else ""
    print(f"build {report.build_id} ({report.kind}, {report.new_batches} new batches{detail}), "
          f"reference date {report.as_of}")
    for name, rows in sorted(report.tables.items()):
        print(f"  {name:<28} {rows:>12,} rows  version {report.versions[name]}")
    print("  " + ", ".join(f"{step} {seconds:.1f}s" for step, seconds in report.seconds.items()))
    return 0
