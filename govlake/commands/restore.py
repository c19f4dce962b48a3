"""``govlake restore TABLE --version N``: roll a table back with Delta RESTORE, recorded and audited.

``--list`` shows the table's versions; ``--repair`` sets a damaged commit and the later ones
aside (when ``govlake doctor`` says so). Restoring a build output also pins the restored
version in the build manifest, so governed readers switch to it, and makes the next build
with new batches a full one (docs/reliability.md). See lake/restore.py and lake/repair.py.
"""

from __future__ import annotations

import argparse
import getpass

from govlake.commands import home_of
from govlake.errors import GovLakeError
from govlake.home import Home


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "restore", help="roll a table back to an earlier Delta version (recorded and audited)",
        description="Restore TABLE (zone.table, e.g. base.population) to version N with Delta RESTORE: a new "
                    "commit holding version N's data; nothing is deleted. Audited as table.restore.",
    )
    parser.add_argument("table", metavar="TABLE", help="zone.table, e.g. base.population (`govlake tables`)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--version", type=int, metavar="N", help="the version to restore")
    action.add_argument("--list", action="store_true", help="list the table's versions instead")
    action.add_argument("--repair", action="store_true",
                        help="set a damaged commit and the later ones aside (as `govlake doctor` advises)")
    parser.add_argument("--user", help="who restores, for the audit trail (default: the operating-system user)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake.locks import file_lock

    home = home_of(args)
    user = args.user or _os_user()
    if args.list:
        from lake.restore import history

        for row in history(home, args.table):
            who = f"  restored by {row['restored_by']}" if row["restored_by"] else ""
            print(f"version {row['version']:>5}  {row['at']:%Y-%m-%d %H:%M:%S} UTC  {row['operation']}{who}")
        return 0
    # Under the build lock: a build output is not rolled back while a build writes it, and the
    # manifest row below is not interleaved with a build's.
    with file_lock(home, "build"):
        if args.repair:
            from lake.repair import repair

            repaired = repair(home, args.table, user=user)
            now = "no version is left" if repaired.version is None else f"now at version {repaired.version}"
            print(f"repaired {repaired.table}: commit {repaired.damaged_version} was damaged; set aside "
                  f"{', '.join(repaired.set_aside)} in {repaired.folder}; {now}")
            print("next: `govlake vacuum --apply` removes the data files only those commits added; "
                  + ("`govlake build --full` rebuilds the table" if args.table.startswith(("base.", "topic."))
                     else "`govlake doctor` says whether batches must be ingested again"))
            _flush(home)
            return 0
        from lake.restore import restore
        from transforms.manifest import record_restore

        if args.version is None:
            raise GovLakeError("give --version N, --list or --repair")
        result = restore(home, args.table, args.version, user=user)
        build_id = record_restore(home, table=result.table, version=result.new_version)
    _flush(home)
    print(f"restored {result.table} to the data of version {result.to_version} (was version {result.from_version}; "
          f"the restore is version {result.new_version}); audited as table.restore by {user}")
    if build_id is not None:
        print(f"governed readers now read it (build manifest entry {build_id}); the next build with new batches "
              "is a full build")
    return 0


def _flush(home: Home) -> None:
    from lake.audit import flush

    flush(home)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
