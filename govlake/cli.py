"""The ``govlake`` command line.

Each subcommand lives in ``govlake/commands/<name>.py`` and exposes ``add_parser``. The
registry below is a literal table, as datasette does for its default plugins. Heavy
libraries (duckdb, polars, deltalake, streamlit) are imported inside the handlers, so
``govlake --help`` starts quickly.

Errors: :class:`~govlake.errors.GovLakeError` is caught once here. It prints a one-line
``Error:`` in red and exits with the error's ``exit_code``. Set ``GOVLAKE_DEBUG=1`` for
the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from govlake.errors import GovLakeError

#: subcommand -> module. Order is the order `govlake --help` lists them in.
COMMANDS: dict[str, str] = {
    "demo": "govlake.commands.demo",
    "generate": "govlake.commands.generate",
    "catalog": "govlake.commands.catalog",
    "ingest": "govlake.commands.ingest",
    "build": "govlake.commands.build",
    "score": "govlake.commands.score",
    "tables": "govlake.commands.tables",
    "sql": "govlake.commands.sql",
    "audit": "govlake.commands.audit",
    "publish": "govlake.commands.publish",
    "views": "govlake.commands.views",
    "quality": "govlake.commands.quality",
    "feedback": "govlake.commands.feedback",
    "objection": "govlake.commands.objection",
    "report": "govlake.commands.report",
    "share": "govlake.commands.share",
    "demand": "govlake.commands.demand",
    "opendata": "govlake.commands.opendata",
    "handback": "govlake.commands.handback",
    "doctor": "govlake.commands.doctor",
    "vacuum": "govlake.commands.vacuum",
    "restore": "govlake.commands.restore",
    "bench": "govlake.commands.bench",
    "app": "govlake.commands.app",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govlake",
        description="GovLake: a lakehouse for the integrated government big-data system.",
    )
    parser.add_argument(
        "--home",
        help="GovLake home directory (default: $GOVLAKE_HOME, else ./govlake_home)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(sub)
    return parser


def _red(text: str) -> str:
    return f"\033[31m{text}\033[0m" if sys.stderr.isatty() else text


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except GovLakeError as exc:
        if os.environ.get("GOVLAKE_DEBUG"):
            raise
        print(_red(f"Error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(_red("Error: interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `govlake tables | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # The last line of defence: lake/boundary.py names the table for errors it sees; one a
        # data library raised elsewhere (a lazy plan run late) still gets a line, not a traceback.
        if os.environ.get("GOVLAKE_DEBUG") or type(exc).__module__.split(".")[0] not in _DATA_LIBRARIES:
            raise
        detail = "".join(c if c.isprintable() else "?" for c in (str(exc).splitlines() or [""])[0][:300])
        print(_red(f"Error: {type(exc).__name__}: {detail}; a table may be damaged: run `govlake doctor` to find "
                   "it (GOVLAKE_DEBUG=1 shows the traceback)"), file=sys.stderr)
        return 1
    return int(result or 0)


#: Modules whose errors reach the user as one line (deltalake's are raised from ``_internal``).
_DATA_LIBRARIES = frozenset({"polars", "duckdb", "_duckdb", "deltalake", "_internal", "pyarrow"})


if __name__ == "__main__":
    sys.exit(main())
