"""``govlake quality run|report|rules``: quality rules from the catalog, run before, during and after aggregation.

- ``run [--dataset D ...] [--date YYYY-MM-DD]`` evaluates every rule and appends to
  ``system.quality_results`` and ``system.quality_failures``; running again on unchanged inputs
  (the same day) is the same run and adds nothing.
- ``report`` prints scorecards per dimension, department and dataset, and the change since the
  previous run.
- ``rules [--dataset D]`` lists the rules, derived from the catalog plus quality_rules.toml.

All three take ``--json``. See docs/quality.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "quality", help="quality rules: run them, report scorecards, list them",
        description="Quality checks before (ingest contract), during (standardization) and after (rules over the "
                    "raw data and the base libraries) aggregation. See docs/quality.md.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    run_parser = actions.add_parser("run", help="run the rules and record results and failing records")
    run_parser.add_argument("--dataset", action="append", metavar="D",
                            help="a dataset id or resource code (repeatable; default: every dataset)")
    run_parser.add_argument("--date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                            help="the day freshness is measured against (default: today, UTC)")
    run_parser.add_argument("--json", action="store_true")
    run_parser.set_defaults(func=run)
    report_parser = actions.add_parser("report", help="scorecards per dataset, department and dimension")
    report_parser.add_argument("--json", action="store_true")
    report_parser.set_defaults(func=report)
    rules_parser = actions.add_parser("rules", help="list the rules derived from the catalog")
    rules_parser.add_argument("--dataset", action="append", metavar="D", help="only the rules of these datasets")
    rules_parser.add_argument("--json", action="store_true")
    rules_parser.set_defaults(func=rules)


def run(args: argparse.Namespace) -> int:
    from transforms.quality.run import run as quality_run

    result = quality_run(home_of(args), datasets=args.dataset, run_date=args.date)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str))
        return 0
    verb = "recorded" if result.status == "recorded" else "already recorded (same inputs); nothing added"
    print(f"Quality run {result.run_id} {verb}: {len(result.datasets)} dataset(s), {result.rules} rules, "
          f"{result.results.height:,} result rows, {result.failures:,} failing records ({result.seconds:.1f} s)")
    summary = result.as_dict()["by_dimension"]
    for row in summary:
        score = 1 - row["failed"] / row["checked"] if row["checked"] else 1.0
        print(f"  {row['dimension']:<13} {row['checked']:>12,} checked {row['failed']:>10,} failed  {score:8.2%}")
    tickets = result.as_dict()["tickets"]
    if tickets is not None:
        print("Feedback tickets: " + ", ".join(f"{key} {value}" for key, value in tickets.items() if key != "run_id"))
    print("Next: `govlake quality report` for the scorecards; failing records are in system.quality_failures.")
    return 0


def report(args: argparse.Namespace) -> int:
    from transforms.quality.scorecard import render, scorecard

    card = scorecard(home_of(args))
    print(json.dumps(card.as_dict(), ensure_ascii=False, indent=2, default=str) if args.json else render(card))
    return 0


def rules(args: argparse.Namespace) -> int:
    from lake.catalog import load_catalog
    from lake.catalog.libraries import load_libraries
    from lake.catalog.quality import load_quality_rules
    from transforms.quality.derive import derive
    from transforms.quality.run import resolve_scope

    scope = set(resolve_scope(args.dataset)) if args.dataset else None
    derived = derive(load_catalog(), load_libraries(), load_quality_rules(), scope)
    rows = [{"rule_id": r.id, "dimension": r.dimension, "stage": r.stage, "dataset": r.dataset,
             "column": r.column, "department": r.department, "description": r.description} for r in derived]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    width = max(len(str(row["rule_id"])) for row in rows)
    for row in rows:
        print(f"{row['rule_id']:<{width}}  {row['stage']:<6}  {row['dimension']:<12}  {row['department']:<18}  "
              f"{row['description']}")
    print(f"{len(rows)} rules")
    return 0
