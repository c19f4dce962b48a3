"""``govlake opendata``: open data by grade (分级开放).

    govlake opendata list                      # every catalog dataset's open grade, every release, what is published
    govlake opendata publish                   # publish every release the catalog opens
    govlake opendata publish open_entities     # one release (an @open view) ...
    govlake opendata publish market_entities   # ... or the releases drawing on one catalog dataset
    govlake opendata publish admin_penalties   # the 双公示 penalties in their publicity period (open_admin_penalties)

A release is published only when the catalog opens every dataset it draws on unconditionally;
otherwise it is refused with the catalog's reason (exit status 2) and the refusal is audited.
Files land in ``<home>/open_data/<release>/v<N>/`` as Parquet, CSV (UTF-8 with BOM), a data
dictionary and metadata. See lake/opendata.py, views/opendata.py and docs/open-data.md.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "opendata", help="open data by grade: list open grades and releases, publish to the open-data area",
        description="Open data by grade (分级开放): the catalog's open attribute decides what may be published to "
                    "the open-data area; published releases are suppressed aggregates, or the records the law makes "
                    "public (双公示 licences and penalties, the dishonest-debtor list) with natural persons masked, "
                    "read from governed open views.",
    )
    actions = parser.add_subparsers(dest="opendata_action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="open grade of every catalog dataset, the releases and what is published")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)
    publish = actions.add_parser("publish", help="publish releases (default: all) to the open-data area")
    publish.add_argument("names", nargs="*", metavar="NAME",
                         help="a release (open view, e.g. open_entities) or a catalog dataset (e.g. market_entities)")
    publish.add_argument("--json", action="store_true", help="print JSON")
    publish.set_defaults(func=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    from views.opendata import publish

    home = home_of(args)
    outcomes = publish(home, args.names)
    if args.json:
        print(json.dumps([{"subject": o.subject, "published": _published(o.published) if o.published else None,
                           "refused": o.reason or None} for o in outcomes], ensure_ascii=False, indent=2))
    else:
        for outcome in outcomes:
            if outcome.published:
                release = outcome.published
                print(f"published {release.meta.release} v{release.version}: {release.rows:,} rows -> {release.folder}")
                print(f"    {', '.join(sorted(release.files))}")
            else:
                print(f"refused   {outcome.subject}: {outcome.reason}")
    # Exit 2 (as a refused query) when something asked for by name was refused.
    return 2 if args.names and any(not o.ok for o in outcomes) else 0


def run_list(args: argparse.Namespace) -> int:
    from lake.catalog import load_catalog
    from lake.catalog.model import OPEN_LABELS
    from lake.opendata import decide, published
    from views.opendata import releases

    home = home_of(args)
    catalog = load_catalog()
    known = releases()
    out = published(home)
    if args.json:
        print(json.dumps({
            "datasets": [{"id": d.id, "code": d.code, "name": d.name, "open": d.open.type,
                          "decision": decide(d).reason,
                          "releases": [r.name for r in known.values() if d.id in r.datasets]}
                         for d in sorted(catalog.datasets.values(), key=lambda d: d.code)],
            "releases": [{"release": r.name, "title": r.title, "datasets": list(r.datasets)} for r in known.values()],
            "published": [_published(p) for p in out],
        }, ensure_ascii=False, indent=2))
        return 0
    print("Catalog datasets and their open grade:")
    for dataset in sorted(catalog.datasets.values(), key=lambda d: d.code):
        drawing = ", ".join(r.name for r in known.values() if dataset.id in r.datasets) or "-"
        print(f"  {dataset.code}  {dataset.id:<18} {OPEN_LABELS[dataset.open.type]:<6}  releases: {drawing}")
    print("\nReleases (governed open-data views):")
    for release in known.values():
        print(f"  {release.name:<18} {release.title}  from {', '.join(release.datasets)}")
    print("\nPublished in " + str(home.open_data) + ":" + ("" if out else " nothing yet"))
    for version in out:
        print(f"  {version.meta.release} v{version.version}  {version.rows:,} rows  data date {version.meta.as_of}  "
              f"published {version.published_at:%Y-%m-%d %H:%M} UTC  {os.path.relpath(version.folder, home.root)}")
    return 0


def _published(release: Any) -> dict[str, Any]:
    return {"release": release.meta.release, "version": release.version, "rows": release.rows,
            "folder": str(release.folder), "files": release.files, "as_of": release.meta.as_of,
            "published_at": release.published_at.isoformat()}
