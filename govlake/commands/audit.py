"""``govlake audit [--user U] [--json]`` lists governed queries; ``govlake audit verify`` checks the chain.

The audit trail is the hash-chained ``system.audit`` table (lake/audit.py). ``verify``
recomputes every hash and exits non-zero at the first edited, deleted or reordered entry.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("audit", help="list governed queries, or verify the audit chain")
    parser.add_argument("action", nargs="?", choices=("list", "verify"), default="list",
                        help="list entries (default) or verify the hash chain")
    parser.add_argument("--user", help="only this user's queries")
    parser.add_argument("--limit", type=int, default=50, help="newest N entries (default 50; 0 = all)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake import audit

    home = home_of(args)
    if args.action == "verify":
        report = audit.verify(home)
        print(f"audit chain intact: {report.entries:,} entries ({report.pending:,} not yet flushed); "
              f"head {report.head_seq} hash {report.head_hash}")
        return 0
    rows = audit.entries(home, user=args.user)
    if args.limit:
        rows = rows[-args.limit:]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no audit entries" + (f" for user {args.user!r}" if args.user else ""))
        return 0
    for row in rows:
        print(_line(row))
    return 0


def _line(row: dict[str, Any]) -> str:
    rows = "" if row["rows"] is None else f" {row['rows']:,} rows" + (" (cut)" if row["truncated"] else "")
    touched = ", ".join(row["columns"]) or ", ".join(row["views"]) or "-"
    reason = f" — {row['reason']}" if row["reason"] else ""
    sql = " ".join(str(row["sql"]).split())
    sql = sql if len(sql) <= 100 else sql[:97] + "..."
    return (f"#{row['seq']} {row['at']} {row['user']} {row['decision']}{rows} {row['duration_ms']:.1f} ms{reason}\n"
            f"    sql: {sql}\n    read: {touched}")
