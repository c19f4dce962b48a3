"""``govlake vacuum [--apply] [--retention-hours H] [--json]``: remove files nothing needs any more.

A dry run by default: it lists what it would delete (expired, orphan and partial files, with
sizes and why) and deletes nothing. ``--apply`` deletes them. The retention (default 168 h,
as Delta's) is how far back time travel and ``govlake restore`` keep working. See lake/vacuum.py.
"""

from __future__ import annotations

import argparse
import json

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lake.vacuum import DEFAULT_RETENTION_HOURS, MIN_RETENTION_HOURS

    parser = sub.add_parser(
        "vacuum", help="list (or with --apply, delete) expired, orphan and partial files",
        description="Dry run by default: list the files vacuum would delete and why. Expired: removed from a table "
                    "more than the retention ago (the build manifest's versions are always kept). Orphan: written "
                    "by a writer that was killed before committing. Partial: temporary files of killed processes.",
    )
    parser.add_argument("--apply", action="store_true", help="delete the files (default: only list them)")
    parser.add_argument("--retention-hours", type=int, default=DEFAULT_RETENTION_HOURS, metavar="H",
                        help=f"keep what time travel needs for H hours (default {DEFAULT_RETENTION_HOURS}, "
                             f"minimum {MIN_RETENTION_HOURS})")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake.vacuum import DEFAULT_RETENTION_HOURS, vacuum

    home = home_of(args)
    report = vacuum(home, apply=args.apply, retention_hours=args.retention_hours)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return 0
    verb = "deleted" if args.apply else "would delete"
    for leftover in report.files:
        where = leftover.path.relative_to(home.root) if leftover.path.is_relative_to(home.root) else leftover.path
        print(f"{verb} {leftover.kind:<8} {leftover.size:>12,} B  {where}  ({leftover.reason})")
    for table, why in sorted(report.skipped.items()):
        print(f"skipped {table}: {why}")
    if args.retention_hours < DEFAULT_RETENTION_HOURS:
        print(f"note: retention {args.retention_hours} h: time travel and `govlake restore` reach back "
              f"{args.retention_hours} h only (the last build's versions are always kept)")
    total = f"{len(report.files)} file(s), {report.size:,} bytes"
    if args.apply:
        print(f"deleted {total}")
    elif report.files:
        print(f"dry run: nothing deleted; `govlake vacuum --apply` deletes these {total}")
    else:
        print("nothing to delete")
    return 0
