"""``govlake feedback``: problem-data tickets sent back to the departments that own the data.

    govlake feedback list [--department D] [--state S|overdue] [--json]
    govlake feedback show TICKET [--json]             # a ticket, its sample records and its history
    govlake feedback ack TICKET --user U [--note N]
    govlake feedback resolve TICKET --user U (--corrected-by-batch BATCH | --reject REASON)
    govlake feedback sync RUN_ID                      # what `govlake quality run` does at its end

Tickets are opened by quality runs (lake/feedback.py). ``verified`` is never set by hand:
the next quality run that re-checks the correcting batch sets it, or reopens the ticket.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from govlake.commands import home_of

if TYPE_CHECKING:
    from lake.feedback import Ticket


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "feedback", help="problem-data tickets sent back to source departments",
        description="Tickets for records that fail quality rules, addressed to the department that owns the data "
                    "item (one source per data item). States: open → acknowledged → corrected → verified (set only "
                    "by the next quality run), or rejected with a reason.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="current tickets")
    listing.add_argument("--department", help="department id, name or short name (e.g. civil_affairs, 民政)")
    listing.add_argument("--state", help="open, acknowledged, corrected, verified, rejected, or overdue")
    listing.add_argument("--dataset", help="only tickets about this dataset")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    show = actions.add_parser("show", help="one ticket with its sample records and full history")
    show.add_argument("ticket")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    ack = actions.add_parser("ack", help="acknowledge a ticket for its department (open → acknowledged)")
    ack.add_argument("ticket")
    ack.add_argument("--user", required=True, help="the user acting for the department")
    ack.add_argument("--note", default="", help="a note kept in the ticket's history")
    resolve = actions.add_parser("resolve", help="answer a ticket: corrected in a new batch, or rejected")
    resolve.add_argument("ticket")
    resolve.add_argument("--user", required=True, help="the user acting for the department")
    answer = resolve.add_mutually_exclusive_group(required=True)
    answer.add_argument("--corrected-by-batch", metavar="BATCH",
                        help="batch id of the ingested corrected file (`govlake ingest` prints it)")
    answer.add_argument("--reject", metavar="REASON", help="reject the ticket, giving the reason")
    resolve.add_argument("--note", default="", help="a note kept in the ticket's history")
    sync = actions.add_parser("sync", help="open, update, verify or reopen tickets from a quality run (idempotent)")
    sync.add_argument("run_id", help="run id of a quality run (system.quality_results)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake import feedback

    home = home_of(args)
    if args.action == "list":
        found = feedback.tickets(home, department=args.department, state=args.state, dataset=args.dataset)
        if args.json:
            print(json.dumps([t.as_json() for t in found], ensure_ascii=False, indent=2, default=str))
            return 0
        print(listing(found))
        return 0
    if args.action == "show":
        current = feedback.ticket(home, args.ticket)
        events = feedback.history(home, args.ticket)
        if args.json:
            print(json.dumps({"ticket": current.as_json(), "history": events}, ensure_ascii=False, indent=2,
                             default=str))
            return 0
        print(describe(current, events))
        return 0
    if args.action == "ack":
        ticket = feedback.acknowledge(home, args.ticket, user=args.user, note=args.note)
        print(f"{ticket.ticket_id}: {ticket.state} ({feedback.STATE_LABELS[ticket.state]}) by {args.user}")
        return 0
    if args.action == "resolve":
        ticket = feedback.resolve(home, args.ticket, user=args.user, corrected_by_batch=args.corrected_by_batch,
                                  reject=args.reject, note=args.note)
        print(f"{ticket.ticket_id}: {ticket.state} ({feedback.STATE_LABELS[ticket.state]}) by {args.user}")
        if ticket.state == "corrected":
            print(f"The next `govlake quality run` re-checks batch {ticket.corrected_by_batch} and verifies the "
                  "ticket, or reopens it if the records still fail.")
        return 0
    report = feedback.sync_tickets(home, args.run_id)
    print(report.summary())
    return 0


def listing(found: list[Ticket]) -> str:
    from lake.feedback import STATE_LABELS

    if not found:
        return "no tickets"
    today = _today()
    widths = {name: max(len(str(getattr(t, name))) for t in found) for name in ("department", "dataset", "rule_id")}
    lines = []
    for t in found:
        due = f"due {t.due_date}" + (" OVERDUE" if t.overdue(today) else "")
        lines.append(f"{t.ticket_id}  {t.state:<12} {t.department:<{widths['department']}}  "
                     f"{t.dataset:<{widths['dataset']}}  {t.rule_id:<{widths['rule_id']}}  "
                     f"{t.failed_records:>7,} records  batch {t.batch_id or '-'}  {due}")
    counts: dict[str, int] = {}
    for t in found:
        counts[t.state] = counts.get(t.state, 0) + 1
    overdue = sum(t.overdue(today) for t in found)
    lines.append(f"{len(found)} tickets: " + ", ".join(f"{n} {s} ({STATE_LABELS[s]})" for s, n in counts.items())
                 + f"; {overdue} overdue")
    return "\n".join(lines)


def describe(ticket: Ticket, events: list[dict[str, Any]]) -> str:
    from lake.feedback import STATE_LABELS

    lines = [
        f"ticket:      {ticket.ticket_id}  {ticket.state} ({STATE_LABELS[ticket.state]})"
        + ("  OVERDUE" if ticket.overdue(_today()) else ""),
        f"department:  {ticket.department}",
        f"problem:     rule {ticket.rule_id} ({ticket.dimension}) on dataset {ticket.dataset}",
        f"introduced:  batch {ticket.batch_id or '-'}, file {ticket.source_file or '-'}",
        f"records:     {ticket.failed_records:,} failing"
        + (f" of {ticket.checked_records:,} checked" if ticket.checked_records is not None else ""),
        f"opened:      {ticket.opened_at:%Y-%m-%d %H:%M} UTC, due {ticket.due_date}",
    ]
    if ticket.corrected_by_batch:
        lines.append(f"corrected:   by batch {ticket.corrected_by_batch}")
    if ticket.reason:
        lines.append(f"rejected:    {ticket.reason}")
    lines.append("samples:")
    lines.extend(f"  row {s.get('source_row')}  key {s.get('record_key')}  {s.get('field')} = {s.get('value')!r}  "
                 f"{s.get('detail') or ''}" for s in ticket.samples)
    lines.append("history:")
    lines.extend(f"  #{e['seq']} {e['at']:%Y-%m-%d %H:%M:%S} {e['action']:<11} → {e['state']:<12} {e['actor']}: "
                 f"{e['note']}" for e in events)
    return "\n".join(lines)


def _today() -> dt.date:
    from lake.ledger import beijing_date, now

    return beijing_date(now())
