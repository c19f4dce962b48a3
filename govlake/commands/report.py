"""``govlake report [--period YYYY-MM] [--department D]``: the aggregation and sharing report (归集共享通报).

Writes, per department and for the overview (``all``), Markdown and HTML under
``<home>/reports/<period>/``, plus the figures as JSON: datasets catalogued against
aggregated, freshness, quality scores and their change, feedback tickets (open, overdue)
and objections. The sections are :data:`lake.reporting.SECTIONS`.
"""

from __future__ import annotations

import argparse

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report", help="the periodic aggregation and sharing report (归集共享通报), Markdown and HTML",
        description="Write the period's report per department and an overview, as Markdown and HTML under "
                    "<home>/reports/<period>/.",
    )
    parser.add_argument("--period", metavar="YYYY-MM", help="the month to report (default: the current month, "
                                                           "Beijing time)")
    parser.add_argument("--department", help="only this department (id, name or short name, e.g. 民政)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake.reporting import report

    home = home_of(args)
    made = report(home, period=args.period, department=args.department)
    shown = made[-1]  # the overview, or the one department asked for
    print(shown.title)
    for section in shown.sections:
        print(f"  {section.title}: {' '.join(section.summary)}")
    folder = home.reports / shown.period.label
    print(f"Wrote {len(made)} reports ({', '.join(m.slug for m in made)}) as Markdown, HTML and JSON to {folder}")
    return 0
