"""``govlake handback``: return flow to a lower-level node. (Being built; see the open issue.)"""

from __future__ import annotations

import argparse

from govlake.errors import StateError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("handback", help="return flow to a lower-level node (not built yet)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise StateError("govlake handback is not built yet in this version")
