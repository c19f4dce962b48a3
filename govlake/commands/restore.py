"""``govlake restore``: roll a table back to an earlier Delta version. (Being built; see the open issue.)"""

from __future__ import annotations

import argparse

from govlake.errors import StateError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("restore", help="roll a table back to an earlier Delta version (not built yet)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise StateError("govlake restore is not built yet in this version")
