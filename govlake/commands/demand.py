"""``govlake demand``: supply and demand (供需对接): post data demands and match them to the catalog.

    govlake demand post --user hz_analyst --title 新生儿出生信息 --items 出生日期,母亲姓名 --purpose 新生儿落户
    govlake demand list [--department D] [--state S] [--supply DEPT]
    govlake demand match DEM-000001 --user hz_analyst [--assign DEPT]
    govlake demand request DEM-000001 --user hz_analyst --dataset births --basis "..." --days 90
    govlake demand close DEM-000001 --user hz_analyst --reason "..."

A posted demand is matched at once: ranked candidate datasets with their relevance, and the
demand is *matched* (turn it into a sharing request with ``request``) or *unmet* (it goes onto
the responsible department's list of data to provide: ``list --supply DEPT``). See
lake/demand.py (how matching and the responsible department work) and docs/dashboards.md (the 供需对接 page).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from govlake.commands import home_of

STATE_LABELS = {"open": "待匹配", "matched": "已匹配", "unmet": "未满足", "requested": "已转申请", "closed": "已关闭"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demand", help="supply and demand: post data demands and match them to the catalog",
        description="Supply and demand (供需对接): a department posts the data it needs; GovLake proposes catalog "
                    "datasets, turns a matched demand into a sharing request, and lists unmet demands for the "
                    "department that should provide the data.",
    )
    actions = parser.add_subparsers(dest="demand_action", metavar="ACTION")
    actions.required = True

    post = actions.add_parser("post", help="post a demand for your department (matched at once)")
    post.add_argument("--user", required=True, help="who posts it (a user with a department)")
    post.add_argument("--title", required=True, help="what data is needed, in your words")
    post.add_argument("--items", default="", help="comma-separated items wanted, e.g. 出生日期,母亲姓名")
    post.add_argument("--description", default="", help="more about the need")
    post.add_argument("--purpose", required=True, help="what the data is for")
    post.add_argument("--json", action="store_true", help="print JSON")
    post.set_defaults(func=run_post)

    listing = actions.add_parser("list", help="demands as they stand, or a department's list of data to provide")
    listing.add_argument("--department", help="demands posted by this department")
    listing.add_argument("--state", choices=list(STATE_LABELS), help="only demands in this state")
    listing.add_argument("--supply", metavar="DEPT", help="the unmet demands DEPT is responsible for providing")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)

    match = actions.add_parser("match", help="match a demand against the catalog again (it may have grown)")
    match.add_argument("demand_id", metavar="DEMAND")
    match.add_argument("--user", required=True)
    match.add_argument("--assign", metavar="DEPT", help="coordinator only: the department responsible if unmet")
    match.add_argument("--json", action="store_true", help="print JSON")
    match.set_defaults(func=run_match)

    request = actions.add_parser("request", help="turn a demand into a sharing request for one dataset")
    request.add_argument("demand_id", metavar="DEMAND")
    request.add_argument("--user", required=True)
    request.add_argument("--dataset", required=True, help="a candidate (or any catalog dataset)")
    request.add_argument("--columns", help="comma-separated columns (default: those the demand's items name)")
    request.add_argument("--basis", required=True, help="the legal basis of the request")
    request.add_argument("--days", type=int, default=90, help="period of the grant in days (default 90)")
    request.add_argument("--scope", help="row scope (division prefix or scope name; default: your scope)")
    request.set_defaults(func=run_request)

    close = actions.add_parser("close", help="close a demand with a reason")
    close.add_argument("demand_id", metavar="DEMAND")
    close.add_argument("--user", required=True)
    close.add_argument("--reason", required=True)
    close.set_defaults(func=run_close)


def run_post(args: argparse.Namespace) -> int:
    from lake import demand

    home = home_of(args)
    posted = demand.post(home, user=args.user, title=args.title, purpose=args.purpose,
                         items=args.items.split(",") if args.items else (), description=args.description)
    return _show_match(posted, demand.candidates(home, posted.demand_id).to_dicts(), as_json=args.json)


def run_match(args: argparse.Namespace) -> int:
    from lake import demand

    home = home_of(args)
    matched, found = demand.match(home, user=args.user, demand_id=args.demand_id, assign=args.assign)
    return _show_match(matched, [{"rank": rank, **vars_of(c)} for rank, c in enumerate(found, start=1)],
                       as_json=args.json)


def vars_of(candidate: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(candidate)


def _show_match(posted: Any, found: list[dict[str, Any]], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"demand_id": posted.demand_id, "state": posted.state,
                          "responsible_department": posted.responsible_department or None,
                          "responsible_reason": posted.responsible_reason or None,
                          "candidates": [{k: v for k, v in c.items() if k not in ("matched_at",)} for c in found]},
                         ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"{posted.demand_id} {posted.title}: {STATE_LABELS[posted.state]} ({posted.state})")
    for candidate in found:
        print(f"  {candidate['rank']}. {candidate['dataset']:<18} {candidate['dataset_name']}  relevance "
              f"{candidate['relevance']:.2f}  share: {candidate['share_type']}  provider: {candidate['provider']}")
    if posted.state == "matched":
        print(f"Turn it into a sharing request: govlake demand request {posted.demand_id} --user {posted.posted_by} "
              f"--dataset {found[0]['dataset']} --basis \"...\"")
    elif posted.state == "unmet":
        print(f"Unmet: on the list of {posted.responsible_department} ({posted.responsible_reason})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from lake import demand

    home = home_of(args)
    if args.supply:
        rows = demand.supply_list(home, department=args.supply)
    else:
        rows = demand.demands(home, department=args.department, state=args.state)
    if args.json:
        print(json.dumps(rows.to_dicts(), ensure_ascii=False, indent=2, default=str))
        return 0
    if rows.height == 0:
        print("no demands" + (f" for {args.supply} to provide" if args.supply else ""))
        return 0
    for row in rows.iter_rows(named=True):
        extra = f"  -> {row['responsible_department']}" if row["state"] == "unmet" else ""
        extra += f"  request {row['request_id']}" if row["request_id"] else ""
        print(f"{row['demand_id']}  {STATE_LABELS[row['state']]:<4}  {row['department']:<18} {row['title']}  "
              f"[{'、'.join(row['items'] or [])}]{extra}")
    return 0


def run_request(args: argparse.Namespace) -> int:
    from lake import demand

    home = home_of(args)
    changed, share = demand.request_share(home, user=args.user, demand_id=args.demand_id, dataset=args.dataset,
                                          legal_basis=args.basis, period_days=args.days, scope=args.scope,
                                          columns=args.columns.split(",") if args.columns else None)
    print(f"{changed.demand_id} became sharing request {share.id} for {share.target} ({', '.join(share.columns)}): "
          f"{share.state}, route {share.route}")
    if share.state == "pending":
        print(f"  waiting for {share.owner_department} to decide (govlake share approve|reject {share.id})")
    elif share.state == "refused":
        print(f"  refused: {share.decision_reason or share.route_reason}")
    return 0


def run_close(args: argparse.Namespace) -> int:
    from lake import demand

    home = home_of(args)
    closed = demand.close(home, user=args.user, demand_id=args.demand_id, reason=args.reason)
    print(f"{closed.demand_id} closed: {closed.note}")
    return 0
