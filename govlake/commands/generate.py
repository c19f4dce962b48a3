"""``govlake generate``: realistic department exports plus the truth to score against.

    govlake generate --out exports --persons 100000 --seed 42
    govlake generate --out clean --persons 5000 --mess-scale 0   # no defects at all
"""

from __future__ import annotations

import argparse
from pathlib import Path

from govlake.commands import home_of
from govlake.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "generate", help="write synthetic department exports and their truth",
        description="Write one export per catalog dataset (as each department sends it, with realistic "
                    "defects) and the truth in OUT/truth. The same seed gives byte-identical files.",
    )
    parser.add_argument("--out", type=Path, help="folder for the files (default: the home's exports/)")
    parser.add_argument("--persons", type=int, default=100_000, help="persons to generate (default 100000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--mess-scale", type=float, default=1.0, metavar="K",
                        help="multiply every defect rate by K: 0 gives clean data, 2 twice the mess (default 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from govlake.generate import MessRates, generate

    if args.mess_scale < 0:
        raise ConfigError(f"--mess-scale must be 0 or more, got {args.mess_scale}", location="generate --mess-scale")
    out = args.out if args.out is not None else home_of(args).exports
    summary = generate(out, persons=args.persons, seed=args.seed, rates=MessRates().scaled(args.mess_scale))
    print(f"Wrote {summary.files} files for {summary.persons:,} persons "
          f"(seed {summary.seed}, as of {summary.as_of.isoformat()}) in {summary.out}")
    files: dict[str, list[str]] = {}
    for output in summary.outputs:
        files.setdefault(output.dataset, []).append(output.name)
    for dataset, rows in summary.rows_by_dataset().items():
        names = files[dataset]
        shown = names[0] if len(names) == 1 else f"{len(names)} files"
        print(f"  {dataset:<18} {rows:>10,} rows  {shown}")
    print(f"Truth: {summary.truth} (persons.parquet, entities.parquet, defects.parquet with "
          f"{summary.defects:,} defects, metadata.json)")
    if summary.stale:
        print(f"Note: {len(summary.stale)} older export files in {summary.out} were not rewritten and may be "
              f"ingested with these: {', '.join(summary.stale[:5])}{' …' if len(summary.stale) > 5 else ''}")
    return 0
