"""``govlake handback``: return flow (回流) of library slices from a higher-level node to a lower one.

    govlake --home PROVINCE handback export --to DIR --division 3301 --tables population --basis "..."
    govlake --home CITY handback receive DIR [--logical]
    govlake --home CITY handback list

``export`` writes the division's slice of the chosen tables as Delta tables with a manifest
(source node, source versions, grant or basis, division, time, file hashes). ``receive``
checks the package whole and ingests each table into this home (raw zone copy, or read in
place with ``--logical``) and registers it in this home's catalog (``<home>/catalog/received``).
See lake/handback.py and docs/return-flow.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "handback", help="return flow: export a division's slice of the libraries, or receive one",
        description="Return flow (回流): a higher-level node returns a slice of its libraries (e.g. the population "
                    "of one city) to a lower-level node, as Delta tables with provenance.",
    )
    actions = parser.add_subparsers(dest="handback_action", metavar="ACTION")
    actions.required = True

    export = actions.add_parser("export", help="write a division's slice of library tables to a package folder")
    export.add_argument("--to", type=Path, required=True, metavar="DIR", help="new (or empty) folder for the package")
    export.add_argument("--division", required=True, help="division code or prefix, e.g. 3301 or 330100 (杭州市)")
    export.add_argument("--tables", default="population",
                        help="comma-separated tables (default population): "
                             "population, legal_entity, credit_entity, credit_person, e_licence")
    export.add_argument("--grant", help="an active sharing grant id that authorizes the return")
    export.add_argument("--basis", help="the legal basis in words, when there is no grant")
    export.add_argument("--json", action="store_true", help="print the manifest as JSON")
    export.set_defaults(func=run_export)

    receive = actions.add_parser("receive", help="check a package and ingest it into this home")
    receive.add_argument("package", type=Path, metavar="DIR", help="the package folder")
    receive.add_argument("--logical", action="store_true",
                         help="register the tables where they lie (逻辑接入) instead of copying them (物理汇聚)")
    receive.set_defaults(func=run_receive)

    listing = actions.add_parser("list", help="datasets this home received, and packages it exported")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=run_list)


def run_export(args: argparse.Namespace) -> int:
    from lake.handback import MANIFEST, export
    from views.handback import grant_reader

    home = home_of(args)
    package = export(home, to=args.to, division=args.division, tables=args.tables.split(","), grant=args.grant,
                     basis=args.basis, reader=grant_reader(home, args.grant) if args.grant else None)
    if args.json:
        print((package.path / MANIFEST).read_text(encoding="utf-8"), end="")
        return 0
    print(f"Exported package {package.package_id} to {package.path}")
    print(f"  from node {package.source_node.name} ({package.source_node.id}), division {package.division} "
          f"({package.division_name})")
    print(f"  authority: {'grant ' + package.grant_id if package.grant_id else 'basis'}"
          f"{': ' + package.basis if package.basis else ''}")
    for table in package.tables.values():
        print(f"  {table.name:<14} {table.rows:>10,} rows  from {table.source_table} v{table.source_version}")
    print(f"Receive it with: govlake --home LOWER handback receive {package.path}")
    return 0


def run_receive(args: argparse.Namespace) -> int:
    from lake.handback import receive

    home = home_of(args)
    for result in receive(home, args.package, access="logical" if args.logical else "physical"):
        dataset = result.dataset
        if result.already:
            print(f"{dataset.id}: package {dataset.package_id} was already received; nothing written")
            continue
        where = "copied to" if dataset.access == "physical" else "registered in place at"
        print(f"{dataset.id}: {dataset.rows:,} rows of {dataset.source_table} v{dataset.source_version} from node "
              f"{dataset.source_node_name}, {where} {dataset.location}")
    print("`govlake handback list` shows the received datasets of this home.")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from lake.catalog.received import load_received
    from lake.handback import exports

    home = home_of(args)
    received = load_received(home)
    exported = exports(home)
    if args.json:
        print(json.dumps({"received": [d.as_dict() for d in received.values()],
                          "exported": exported.cast({"exported_at": str}).to_dicts()},
                         ensure_ascii=False, indent=2, default=str))
        return 0
    if not received and exported.height == 0:
        print(f"nothing received or exported in {home.root}")
        return 0
    for dataset in received.values():
        print(f"received {dataset.id}  {dataset.name}  {dataset.rows:,} rows  {dataset.access}  "
              f"from {dataset.source_node_name} {dataset.source_table} v{dataset.source_version}  "
              f"package {dataset.package_id[:12]}  {dataset.received_at:%Y-%m-%d %H:%M} UTC")
    for row in exported.iter_rows(named=True):
        print(f"exported {row['package_id'][:12]}  division {row['division']} ({row['division_name']})  "
              f"{row['tables']}  to {row['destination']}  {row['exported_at']:%Y-%m-%d %H:%M} UTC")
    return 0
