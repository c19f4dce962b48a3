"""``govlake objection``: objections to one value of one record. (Being built; see the open issue.)"""

from __future__ import annotations

import argparse

from govlake.errors import StateError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("objection", help="objections to one value of one record (not built yet)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise StateError("govlake objection is not built yet in this version")
