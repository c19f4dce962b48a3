"""``govlake sql --user USER [--format table|csv|json] "SQL"``: a governed query.

Only read-only queries over the views granted to USER are answered; anything else is
refused with the reason and exit status 2. Every query is audited (``govlake audit``).
``-`` reads the query from standard input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from govlake.commands import home_of

if TYPE_CHECKING:
    import polars as pl

FORMATS = ("table", "csv", "json")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("sql", help="run a governed SQL query as a user (masked, scoped, audited)")
    parser.add_argument("--user", required=True, help="a user from policies/users.toml, e.g. hz_analyst")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--views", action="store_true",
                        help="list your views and how each column is shown to you, instead of running a query")
    parser.add_argument("query", nargs="?", help="one read-only SELECT over your views, or - to read it from stdin")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from govlake.errors import GovLakeError
    from views.session import open_session

    if args.views:
        with open_session(args.user, home=home_of(args)) as session:
            for name, description in session.views().items():
                print(f"{name}: {description}")
                shown = ", ".join(f"{column} ({treatment})" for column, treatment in session.columns(name).items())
                print(f"    {shown}")
        return 0
    if args.query is None:
        raise GovLakeError("give a query (or - to read it from stdin), or --views to list your views")
    query = sys.stdin.read() if args.query == "-" else args.query
    with open_session(args.user, home=home_of(args)) as session:
        result = session.query(query)
    import polars as pl

    frame = pl.from_arrow(result.table)
    assert isinstance(frame, pl.DataFrame)
    print_frame(frame, args.format)
    if result.truncated:
        print(f"note: the result was cut at {result.row_limit:,} rows, the row limit of your role",
              file=sys.stderr)
    return 0


def print_frame(frame: pl.DataFrame, output: str) -> None:
    """Write a result to stdout as an aligned table, CSV or JSON (one object per row)."""
    import polars as pl

    if output == "json":
        rows = frame.to_dicts()
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=_json_value))
        return
    if output == "csv":
        flat = frame.with_columns(
            pl.Series(name, [_csv_value(v) for v in frame[name].to_list()], dtype=pl.String)
            for name, dtype in frame.schema.items() if dtype.is_nested() or dtype == pl.Binary
        )
        sys.stdout.write(flat.write_csv())
        return
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=80, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=False):
        print(frame)
    print(f"({frame.height:,} row{'s' if frame.height != 1 else ''})")


def _csv_value(value: Any) -> str | None:
    """A nested value as JSON, bytes as hex: CSV cells are text."""
    if value is None or isinstance(value, bytes):
        return value.hex() if value is not None else None
    return json.dumps(value, ensure_ascii=False, default=_json_value)


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)  # dates, times, decimals
