"""``govlake share``: sharing requests, approvals and grants. (Being built; see the open issue.)"""

from __future__ import annotations

import argparse

from govlake.errors import StateError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("share", help="sharing requests, approvals and grants (not built yet)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise StateError("govlake share is not built yet in this version")
