"""``govlake doctor [--json]``: check a home and report each problem with the command that fixes it.

Exit status 0 when nothing is wrong, 1 when problems were found. The doctor only reads; see
govlake/doctor.py for the checks and docs/reliability.md for what each fix does.
"""

from __future__ import annotations

import argparse

from govlake.errors import StateError
from govlake.home import Home


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "doctor", help="check a home and report each problem with its fix",
        description="Check the catalog and policies, every table, the build manifest, the ingestion log against "
                    "the raw tables, the audit chain, leftover files, extracts past expiry and disk space. Each "
                    "problem comes with the command that fixes it. Exit status 1 when problems are found.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--min-free-gb", type=float, default=2.0, metavar="GB",
                        help="report a problem when the home's disk has less free space (default 2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from govlake.doctor import as_json, diagnose, render

    # Not home_of(): the doctor must not create a home, and must examine one that other commands refuse.
    home = Home.resolve(getattr(args, "home", None))
    if not home.root.is_dir():
        raise StateError(f"there is no GovLake home at {home.root}; pass --home or set GOVLAKE_HOME")
    diagnosis = diagnose(home, min_free_bytes=int(args.min_free_gb * 2**30))
    print(as_json(diagnosis) if args.json else render(diagnosis))
    return 0 if diagnosis.ok else 1
