"""``govlake restore TABLE --version N``: roll one table back with Delta RESTORE, recorded and audited.

A restore is a new commit whose data is version N's: nothing is deleted, the versions in
between stay readable by time travel (until vacuumed), and restoring forward again is
another restore. It is recorded three times over: the Delta commit (operation RESTORE, with
``govlake.restore.user`` and ``govlake.restore.from_version`` in its commit info), the
audit trail (``table.restore``, allowed or refused), and, for a build output, a manifest row
(transforms/manifest.py ``record_restore``, called by the command) so that readers switch to
the restored version at once.

Zones: build outputs (base, topic) and raw tables may be restored. The system zone may not:
the audit trail and the ingestion log are the record of what happened, and rolling them
back would make that record lie; restore the raw table and re-ingest instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from govlake.errors import GovLakeError, NotFound, StateError, did_you_mean
from govlake.home import ZONES, Home
from lake import delta

#: Zones whose tables may be restored (see the module docstring).
RESTORABLE_ZONES = ("raw", "base", "topic")


@dataclass(frozen=True)
class Restored:
    table: str
    from_version: int  # the table's version before the restore
    to_version: int  # the version whose data it now holds
    new_version: int  # the RESTORE commit


def restore(home: Home, table: str, version: int, *, user: str) -> Restored:
    """Restore ``table`` (``zone.table``) to ``version``; audited as ``table.restore`` either way.

    Refuses (and audits the refusal of) an unknown table, a zone that may not be restored,
    a version the table never had or its current version, and a version whose data files
    were vacuumed.
    """
    from lake.audit import record_event

    detail = json.dumps({"table": table, "version": version}, ensure_ascii=False)
    try:
        path = _path(home, table)
        current = delta.version(path)
        assert current is not None
        _check_version(path, table, version, current)
        new_version = delta.restore(path, version, commit_info={
            "govlake.restore.user": user, "govlake.restore.from_version": str(current)})
    except GovLakeError as error:
        record_event(home, user=user, action="table.restore", detail=detail, decision="refused", reason=str(error))
        raise
    result = Restored(table, current, version, new_version)
    record_event(home, user=user, action="table.restore", detail=json.dumps(
        {"table": table, "version": version, "from_version": current, "new_version": new_version}))
    return result


def _path(home: Home, table: str) -> Path:
    zone, _, name = table.partition(".")
    if zone not in ZONES or not name:
        raise NotFound(f"{table!r} is not a table name; give zone.table, e.g. base.population "
                       "(`govlake tables` lists them)")
    if zone not in RESTORABLE_ZONES:
        raise StateError(f"{table} is in the system zone, which is not restored: it records what happened (the "
                         "audit trail, the ingestion log, the build manifest); restore raw or built tables instead")
    path = home.table_path(zone, name)
    if not delta.is_table(path):
        known = [f"{z}.{p.name}" for z in RESTORABLE_ZONES if home.zone(z).is_dir()
                 for p in home.zone(z).iterdir() if delta.is_table(p)]
        raise NotFound(f"there is no table {table} in {home.root}{did_you_mean(table, known)}; "
                       "`govlake tables` lists them")
    return path


def _check_version(path: Path, table: str, version: int, current: int) -> None:
    from deltalake import DeltaTable

    from lake.boundary import translate

    if version < 0 or version > current:
        raise NotFound(f"table {table} has versions 0 to {current}; there is no version {version} "
                       f"(`govlake restore {table} --list` shows them)")
    if version == current:
        raise StateError(f"table {table} is at version {version} already; nothing to restore")
    with translate(table):
        old = DeltaTable(str(path), version=version)
        missing = [uri for uri in old.file_uris() if not Path(uri.removeprefix("file://")).exists()]
    if missing:
        raise StateError(f"version {version} of table {table} can no longer be restored: {len(missing)} of its data "
                         "files were vacuumed (retention); choose a newer version (`govlake restore "
                         f"{table} --list`)")


def history(home: Home, table: str) -> list[dict[str, object]]:
    """The table's versions, newest first: version, time, operation, and who restored it if a restore."""
    import datetime as dt

    from deltalake import DeltaTable

    from lake.boundary import translate

    path = _path(home, table)
    with translate(table):
        commits = DeltaTable(str(path)).history()
    rows = []
    for commit in commits:
        rows.append({
            "version": commit.get("version"),
            "at": dt.datetime.fromtimestamp(int(commit.get("timestamp", 0)) / 1000, dt.UTC),
            "operation": commit.get("operation"),
            "restored_by": commit.get("govlake.restore.user"),
        })
    return rows
