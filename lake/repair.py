"""Repair a table whose Delta log has a damaged commit file (``govlake restore TABLE --repair``).

Delta commits are written whole and renamed into place, so a crash never leaves a torn
commit; a damaged one comes from the disk, a bad copy or a hand edit. Readers replay the
log from the newest checkpoint, so a damaged commit after it makes the table unreadable
(every GovLake command then names the table and points to ``govlake doctor``).

The repair sets the damaged commit and every later one aside, under
``<home>/damaged/<zone>.<table>-<UTC time>/``: the table returns to the version before the
damage, which was a complete state (each commit is). The data files only the set-aside
commits added become orphans (``govlake vacuum --apply``). Nothing is deleted; the repair
is audited as ``table.repair``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from govlake.errors import StateError
from govlake.home import Home

_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")


@dataclass(frozen=True)
class Repaired:
    table: str
    damaged_version: int
    set_aside: list[str]
    folder: Path
    version: int | None  # the table's version now (None: no commit is left)


def _versions(log: Path, pattern: re.Pattern[str]) -> list[int]:
    return sorted(int(m.group(1)) for m in map(pattern.match, (p.name for p in log.iterdir())) if m)


def damaged_commit(path: Path) -> int | None:
    """The first commit after the newest checkpoint that is not a file of JSON lines, if any.

    Commits before the newest checkpoint are not read by readers, so their damage does not
    make the table unreadable and is not reported here.
    """
    log = path / "_delta_log"
    if not log.is_dir():
        return None
    checkpoints = _versions(log, _CHECKPOINT)
    after = checkpoints[-1] if checkpoints else -1
    for version in _versions(log, _COMMIT):
        if version <= after:
            continue
        try:
            text = (log / f"{version:020d}.json").read_text(encoding="utf-8")
            lines = [line for line in text.splitlines() if line.strip()]
            if not lines:
                return version
            for line in lines:
                if not isinstance(json.loads(line), dict):
                    return version
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return version
    return None


def repair(home: Home, table: str, *, user: str) -> Repaired:
    """Set the damaged commit of ``table`` and all later ones aside (see the module docstring); audited."""
    from lake import delta
    from lake.audit import record_event
    from lake.restore import _path

    path = _path(home, table)
    damaged = damaged_commit(path)
    if damaged is None:
        raise StateError(f"table {table} has no damaged commit after its newest checkpoint; nothing to repair "
                         "(`govlake doctor` says what is wrong with it)")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = home.root / "damaged" / f"{table}-{stamp}"
    moved: list[str] = []
    with delta.writing(path, exclusive=True):
        log = path / "_delta_log"
        folder.mkdir(parents=True, exist_ok=True)
        for version in reversed(_versions(log, _COMMIT)):  # newest first: the log always stays a prefix
            if version < damaged:
                break
            for companion in (log / f"{version:020d}.json", log / f"{version:020d}.crc"):
                if companion.exists():
                    companion.replace(folder / companion.name)
                    moved.append(companion.name)
        delta.forget(path)  # this process's cached snapshot is of the damaged log
    remaining = _versions(path / "_delta_log", _COMMIT)
    result = Repaired(table, damaged, sorted(moved), folder, remaining[-1] if remaining else None)
    record_event(home, user=user, action="table.repair", detail=json.dumps({
        "table": table, "damaged_version": damaged, "set_aside": result.set_aside, "folder": str(folder),
        "version": result.version}, ensure_ascii=False))
    return result
