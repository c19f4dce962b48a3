"""``govlake feedback``: problem-data tickets sent back to source departments. (Being built; see the open issue.)"""

from __future__ import annotations

import argparse

from govlake.errors import StateError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("feedback", help="problem-data tickets sent back to source departments (not built yet)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise StateError("govlake feedback is not built yet in this version")
