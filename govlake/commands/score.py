"""``govlake score``: accuracy of the base libraries against the generator's truth files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("score", help="score the base libraries against the generator's truth files")
    parser.add_argument("--truth", type=Path, help="truth folder (default: <home>/exports/truth)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transforms.score import report, score

    result = score(home_of(args), args.truth)
    print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str) if args.json else report(result))
    return 0
