"""``govlake publish --user U [--out PATH]``: a read-only DuckDB extract of what U may see.

The file holds one table per view granted to U, masked and scoped as U sees it, plus the
``_govlake_extract`` metadata table (for whom, when, source Delta versions, rows). It opens in
the stock DuckDB CLI with no GovLake code: ``duckdb -readonly FILE``. ``--grant G`` delivers one
sharing grant of U instead (docs/sharing.md): the file holds that grant's view and records the
grant and its expiry. ``--verify FILE`` reads an extract's metadata back and checks the file
still matches it and, for a grant's extract, that the grant is still active in the home (exit 1
if not).
See views/publish.py and docs/analysts.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from govlake.commands import home_of
from govlake.errors import GovLakeError

if TYPE_CHECKING:
    from views.publish import Extract


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "publish", help="write a read-only DuckDB extract of a user's governed views",
        description="Materialize every view granted to USER, with masks and row scope applied, into a read-only "
                    ".duckdb file that opens in any DuckDB client (duckdb -readonly FILE). The publish is audited.",
    )
    parser.add_argument("--user", help="a user from policies/users.toml, e.g. hz_analyst")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="file to write, or an existing folder for it (default: <home>/extracts/); "
                             "an existing file is never overwritten")
    parser.add_argument("--grant", metavar="GRANT",
                        help="deliver this sharing grant of USER (e.g. GR-000001) instead of the role's views; "
                             "the file records the grant and its expiry")
    parser.add_argument("--verify", type=Path, metavar="FILE",
                        help="instead of publishing: say what an extract holds and for whom, and check it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from govlake.home import Home
    from views.publish import check_grant, publish, read_extract

    if args.verify is not None:
        if args.user or args.out or args.grant:
            raise GovLakeError("--verify FILE reads an extract; give it without --user, --out and --grant")
        extract = read_extract(args.verify)
        print(f"extract:  {extract.path}")
        print(describe(extract))
        for problem in extract.problems:
            print(f"problem: {problem}")
        print("ok: the file matches its metadata" if not extract.problems
              else f"not ok: {len(extract.problems)} problem(s); do not trust this file, publish it again")
        home = Home.resolve(getattr(args, "home", None))
        valid, reason = check_grant(extract, home if home.exists() else None)
        print(f"{'ok' if valid else 'not valid'}: {reason}" + (
            "" if valid else "; stop using the file and delete it, or request the data again"))
        return 1 if extract.problems or not valid else 0
    if not args.user:
        raise GovLakeError("give --user USER to publish an extract, or --verify FILE to check one")
    extract = publish(args.user, home=home_of(args), out=args.out, grant=args.grant)
    print(f"Published {extract.path}")
    print(describe(extract))
    for view, missing in sorted(extract.unavailable.items()):
        print(f"note: view {view} is granted but not included: table {', '.join(missing)} has not been built")
    print(f"Open it with the DuckDB CLI: duckdb -readonly {extract.path}")
    return 0


def describe(extract: Extract) -> str:
    """What an extract holds and for whom, as printed by ``publish`` and ``publish --verify``."""
    width = max(len(name) for name in [*extract.tables, "table"])
    lines = [
        f"for:      {extract.user} ({extract.user_name}), rows in {extract.scope}",
        f"built at: {extract.built_at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC by GovLake "
        f"{extract.govlake_version} (DuckDB {extract.duckdb_version}), audit entry "
        f"#{extract.audit_seq if extract.audit_seq is not None else '?'}",
        textwrap.fill(", ".join(f"{name} v{version}" for name, version in extract.sources.items()), width=110,
                      initial_indent="sources:  ", subsequent_indent=" " * 10, break_on_hyphens=False),
        f"expires:  {extract.expires_at or 'not set'}; grant: {extract.grant_id or 'not set'}",
        f"  {'table':<{width}}  {'rows':>10}",
    ]
    lines.extend(f"  {name:<{width}}  {rows:>10,}" for name, rows in extract.tables.items())
    lines.append(f"  {len(extract.tables)} tables, {extract.rows:,} rows")
    return "\n".join(lines)
