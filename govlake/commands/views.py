"""``govlake views export --dialect spark|trino (--user U | --raw) --out DIR``: portable view definitions.

Writes one ``<view>.sql`` per view, transpiled by sqlglot, over catalog tables
(``[--catalog.]--schema.<zone>_<table>``, default ``govlake.base_population``) instead of
Delta paths. ``--user`` exports that user's governed definitions (masks and row scope
inside); ``--raw`` exports the view files as written, without masks or scopes. See
views/export.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from govlake.commands import home_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("views", help="work with the governed view definitions (export to Spark or Trino)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    export = actions.add_parser(
        "export", help="write the view definitions for Spark or Trino",
        description="Transpile the governed views with sqlglot into one CREATE VIEW file per view, reading "
                    "catalog tables instead of Delta paths.",
    )
    export.add_argument("--dialect", required=True, choices=("spark", "trino"))
    whose = export.add_mutually_exclusive_group(required=True)
    whose.add_argument("--user", help="export this user's definitions, with their masks and row scope inside")
    whose.add_argument("--raw", action="store_true",
                       help="export the view files as written: no masks, no row scope (for an engine that masks)")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the .sql files")
    export.add_argument("--catalog", help="catalog of the tables and views (default: none)")
    export.add_argument("--schema", default="govlake", help="schema of the GovLake tables (default: govlake)")
    export.add_argument("--view-schema", help="schema for the views (default: <schema>_<user>, or "
                                              "<schema>_ungoverned with --raw)")
    export.add_argument("--overwrite", action="store_true", help="replace .sql files already in DIR")
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from views.export import export

    exported = export(args.dialect, user=args.user, raw=args.raw, home=home_of(args) if args.user else None,
                      out=args.out, catalog=args.catalog, schema=args.schema, view_schema=args.view_schema,
                      overwrite=args.overwrite)
    whose = f"user {args.user} (masks and row scope inside)" if args.user else "the view files (NO masks or scopes)"
    print(f"Wrote {len(exported)} {args.dialect} view definitions for {whose} to {args.out}")
    for view in exported.values():
        print(f"  {view.name}.sql  reads {', '.join(view.tables)}")
    return 0
