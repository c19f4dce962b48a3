"""``govlake ingest PATH...``: physical aggregation of department files (and logical registration)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from govlake.commands import home_of

if TYPE_CHECKING:
    from lake.ingest import FileOutcome


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ingest", help="aggregate department files into the raw zone",
        description="Ingest files or folders. Each file's dataset comes from the catalog's file "
                    "patterns, or from --dataset. Re-ingesting a file adds nothing.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--dataset", help="catalog id or resource code for every file given")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake.ingest import ingest

    home = home_of(args)
    outcomes = ingest(home, args.paths, dataset=args.dataset)
    print_outcomes(outcomes)
    return 1 if any(o.status == "refused" for o in outcomes) else 0


def print_outcomes(outcomes: list[FileOutcome]) -> None:
    import sys

    labels = {"loaded": "已入库", "already": "已存在", "refused": "已拒收", "ignored": "已忽略",
              "registered": "已登记"}
    for o in outcomes:
        if o.status == "ignored":
            continue
        line = f"{labels[o.status]:<4} {o.path.name}"
        if o.status in {"loaded", "registered"}:
            line += (f"  dataset={o.dataset} rows read={o.rows_read} loaded={o.rows_loaded} "
                     f"quarantined={o.rows_quarantined} encoding={o.encoding}")
        if o.message:
            line += f"  {o.message}"
        print(line, file=sys.stderr if o.status == "refused" else sys.stdout)
    ignored = [o for o in outcomes if o.status == "ignored"]
    if ignored:
        print(f"ignored {len(ignored)} file(s) that match no catalog entry "
              f"(e.g. {ignored[0].path}); name them explicitly with --dataset to ingest them")
    loaded = [o for o in outcomes if o.status in {"loaded", "registered"}]
    print(f"{len(loaded)} file(s) ingested: {sum(o.rows_loaded for o in loaded):,} rows loaded, "
          f"{sum(o.rows_quarantined for o in loaded):,} quarantined; "
          f"{sum(o.status == 'already' for o in outcomes)} already present; "
          f"{sum(o.status == 'refused' for o in outcomes)} refused")
