"""``govlake share request|approve|reject|revoke|list|targets|stats``: sharing requests and grants.

Users act as themselves with ``--user`` (as ``govlake sql --user`` does; no password on the
command line). A request is routed by the catalog's share attribute: granted at once,
waiting for the owning department, or refused at once (exit status 2). A grant appears in
the requester's governed session as ``shared_<target>`` until it expires or is revoked.
See lake/sharing.py and docs/sharing.md.

    govlake share request --user hz_pubsec --target marriages --columns registration_no,husband_id \\
        --purpose 婚姻状况核验 --basis "《婚姻登记条例》第二条" --days 30
    govlake share list --inbox --user mca_officer
    govlake share approve --user mca_officer REQ-000001 --days 14
    govlake sql --user hz_pubsec "SELECT count(*) FROM shared_marriages"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

from govlake.commands import home_of
from govlake.errors import GovLakeError

if TYPE_CHECKING:
    import polars as pl

    from lake.sharing import ShareGrant


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("share", help="sharing requests, approvals and time-limited grants",
                            description="Request a dataset or governed view for a purpose; the owning department "
                                        "approves (possibly narrowing) or rejects; grants expire and can be revoked. "
                                        "Every step is audited.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    request = actions.add_parser("request", help="request columns of a dataset or view for a purpose")
    request.add_argument("--user", required=True, help="the requester (a user from policies/users.toml)")
    request.add_argument("--target", required=True,
                         help="a dataset id or resource code (marriages, 101003/00001) or a governed view "
                              "(population); write dataset:X or view:X if both exist")
    request.add_argument("--columns", required=True, help="comma-separated columns (items) wanted")
    request.add_argument("--unmask", default="", help="comma-separated requested columns to see unmasked")
    request.add_argument("--purpose", required=True, help="what the data is for")
    request.add_argument("--basis", required=True, help="the legal basis (law, regulation, duty)")
    request.add_argument("--days", type=int, required=True, help="how long the grant is needed, in days")
    request.add_argument("--scope", help="row scope: a division prefix (3301) or scope name (hangzhou); "
                                         "default: your own scope")

    approve = actions.add_parser("approve", help="approve a pending request of your department's data")
    approve.add_argument("--user", required=True, help="a data officer of the owning department")
    approve.add_argument("request_id", metavar="REQUEST", help="e.g. REQ-000001")
    approve.add_argument("--columns", help="narrow to these columns (comma-separated)")
    approve.add_argument("--unmask", help="narrow unmasking to these columns ('' for none)")
    approve.add_argument("--scope", help="narrow the row scope (a longer division prefix)")
    approve.add_argument("--days", type=int, help="shorten the period")

    reject = actions.add_parser("reject", help="reject a pending request, with a reason")
    reject.add_argument("--user", required=True, help="a data officer of the owning department")
    reject.add_argument("request_id", metavar="REQUEST")
    reject.add_argument("--reason", required=True)

    revoke = actions.add_parser("revoke", help="revoke a grant (effective on the grantee's next query)")
    revoke.add_argument("--user", required=True, help="a data officer of the owning department, or the grantee")
    revoke.add_argument("grant_id", metavar="GRANT", help="e.g. GR-000001")
    revoke.add_argument("--reason", required=True)

    listing = actions.add_parser("list", help="list requests (default), grants or a department's inbox")
    listing.add_argument("--user", help="requests made by (or grants made to) this user; with --inbox, whose inbox")
    listing.add_argument("--department", help="requests of this applicant department (grants: owning department)")
    listing.add_argument("--state", help="requests in this state: pending, granted, rejected, refused")
    what = listing.add_mutually_exclusive_group()
    what.add_argument("--grants", action="store_true", help="list grants (active ones unless --all)")
    what.add_argument("--inbox", action="store_true", help="pending requests the --user's department must decide")
    listing.add_argument("--all", action="store_true", help="with --grants: expired, revoked and superseded too")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    targets = actions.add_parser("targets", help="what can be requested: datasets and views, share type and owner")
    targets.add_argument("--json", action="store_true")

    stats = actions.add_parser("stats", help="the sharing report's figures")
    stats.add_argument("--period", help="YYYY, YYYY-MM or YYYY-MM-DD (default: all time)")
    stats.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    handler = {"request": _request, "approve": _approve, "reject": _reject, "revoke": _revoke, "list": _list,
               "targets": _targets, "stats": _stats}[args.action]
    return handler(args)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _request(args: argparse.Namespace) -> int:
    from lake import sharing

    made = sharing.request(home_of(args), user=args.user, target=args.target, columns=_split(args.columns) or [],
                           purpose=args.purpose, legal_basis=args.basis, period_days=args.days, scope=args.scope,
                           unmask=_split(args.unmask) or [])
    print(f"Request {made.id}: {made.target_kind} {made.target}, columns {', '.join(made.columns)}"
          + (f", unmasked {', '.join(made.unmask)}" if made.unmask else "") + f", scope {_scope(made.scope)}, "
          f"{made.period_days} days")
    print(f"route:    {made.route} — {made.route_reason}")
    if made.state == "refused":
        print(f"refused:  {made.decision_reason}", file=sys.stderr)
        return 2
    if made.state == "granted" and made.grant_id:
        grant = sharing.get_grant(home_of(args), made.grant_id)
        print(_granted(grant))
    else:
        print(f"pending:  {_department(made.owner_department)} decides (`govlake share list --inbox --user "
              "<their data officer>`)")
    return 0


def _approve(args: argparse.Namespace) -> int:
    from lake import sharing

    grant = sharing.approve(home_of(args), user=args.user, request_id=args.request_id, columns=_split(args.columns),
                            scope=args.scope, period_days=args.days, unmask=_split(args.unmask))
    print(f"Approved {args.request_id}.")
    print(_granted(grant))
    return 0


def _reject(args: argparse.Namespace) -> int:
    from lake import sharing

    rejected = sharing.reject(home_of(args), user=args.user, request_id=args.request_id, reason=args.reason)
    print(f"Rejected {rejected.id} ({rejected.requester}, {rejected.target}): {rejected.decision_reason}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from lake import sharing

    grant = sharing.revoke(home_of(args), user=args.user, grant_id=args.grant_id, reason=args.reason)
    print(f"Revoked {grant.id} ({grant.user}, {grant.view}) at {_when(grant.ended_at)}: {grant.end_reason}. "
          "It stops working on the grantee's next query; extracts of it fail `govlake publish --verify`.")
    return 0


def _list(args: argparse.Namespace) -> int:
    from lake import sharing
    from policies import load_policies

    home = home_of(args)
    if args.inbox:
        if not args.user:
            raise GovLakeError("--inbox lists the pending requests of the --user's department; give --user")
        department = load_policies().user(args.user).department
        if department is None:
            raise GovLakeError(f"user {args.user!r} belongs to no department, so has no inbox")
        frame = sharing.inbox(home, department=department)
        columns = ["id", "requester", "applicant_department", "target", "columns", "unmask", "scope", "period_days",
                   "purpose", "legal_basis", "requested_at"]
    elif args.grants:
        frame = sharing.grants(home, user=args.user, active_only=not args.all, department=args.department)
        columns = ["id", "user", "view", "columns", "unmask", "scope", "expires_at", "state", "approved_by",
                   "request_id"]
    else:
        frame = sharing.requests(home, user=args.user, department=args.department, state=args.state)
        columns = ["id", "requester", "target", "columns", "scope", "period_days", "route", "owner_department",
                   "state", "grant_id", "requested_at"]
    _print(frame, columns, as_json=args.json)
    return 0


def _targets(args: argparse.Namespace) -> int:
    import polars as pl

    from policies import load_policies
    from views.shares import describe_targets

    rows = describe_targets(load_policies())
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    frame = pl.DataFrame(rows).with_columns(pl.col("title").str.slice(0, 16))
    _print(frame, ["kind", "target", "title", "share_type", "route", "owner", "scope_column"], as_json=False)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from lake import sharing

    figures = sharing.stats(home_of(args), period=args.period)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1, default=str))
        return 0
    turnaround = figures["turnaround"]
    print(f"sharing, period {figures['period']}: {figures['requests']} requests "
          + ", ".join(f"{k} {v}" for k, v in figures["requests_by_route"].items()))
    print("  states: " + ", ".join(f"{k} {v}" for k, v in figures["requests_by_state"].items()))
    if turnaround["decided"]:
        print(f"  approval turnaround ({turnaround['decided']} decided by a person): median "
              f"{turnaround['median_hours']:.1f} h, max {turnaround['max_hours']:.1f} h")
    print(f"  grants: {figures['grants_issued']} issued, {figures['grants_active_now']} active now, "
          f"{figures['grants_expired']} expired, {figures['grants_revoked']} revoked, "
          f"{figures['grants_superseded']} superseded")
    for use in figures["usage_by_grant"]:
        print(f"  {use['grant_id']} {use['user']} {use['view']} ({use['state']}): {use['queries']} queries, "
              f"{use['publishes']} extracts, {use['rows']} rows, {use['refused']} refused")
    return 0


# --------------------------------------------------------------------------- output


def _granted(grant: ShareGrant) -> str:
    return (f"granted:  {grant.id} — {grant.user} may query {grant.view} ({', '.join(grant.columns)}"
            + (f"; unmasked {', '.join(grant.unmask)}" if grant.unmask else "")
            + f"), scope {_scope(grant.scope)}, until {_when(grant.expires_at)}; "
            f"`govlake sql --user {grant.user} \"SELECT * FROM {grant.view} LIMIT 10\"`")


def _scope(prefix: str) -> str:
    return prefix or "whole country"


def _when(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "?"


def _department(department_id: str) -> str:
    from lake.catalog import load_catalog

    found = load_catalog().departments.get(department_id)
    return f"{found.name} ({department_id})" if found else department_id


def _print(frame: pl.DataFrame, columns: list[str], *, as_json: bool) -> None:
    import polars as pl

    if as_json:
        for row in frame.iter_rows(named=True):
            print(json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False))
        return
    if frame.is_empty():
        print("(none)")
        return
    shown = frame.select(columns).with_columns(
        [pl.col(c).list.join(",") for c in columns if isinstance(frame.schema[c], pl.List)]
        + [pl.col(c).dt.strftime("%Y-%m-%d %H:%M") for c in columns if isinstance(frame.schema[c], pl.Datetime)])
    with pl.Config(tbl_rows=500, tbl_cols=len(columns), fmt_str_lengths=48, tbl_width_chars=240,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(shown)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value

