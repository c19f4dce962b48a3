"""``govlake vacuum``: find (and with ``apply``, delete) files nothing needs any more.

Three kinds of file are listed, each with its size and why it can go:

``expired``
    Data files a Delta commit removed from a table more than ``retention_hours`` ago
    (default 168 h, Delta's own default). deltalake's vacuum lists them (``dry_run=True``).
    Files of the versions the build manifest pins are kept whatever their age
    (``keep_versions``): governed sessions read those (lake/pinned.py).
``orphan``
    Data files in a table's folder that no commit of its log mentions: a writer was killed
    after writing a file and before committing it. Delta never reads them. A live writer
    holds its table's writer lock (lake/delta.py ``writing``) from writing its files until
    its commit, so vacuum takes that lock exclusively, without waiting, and skips a table
    that is being written; the kernel drops a killed writer's lock, so its files can go at
    once. A table whose log cannot be read is skipped (``govlake doctor`` reports it):
    without the log nothing can be called unreferenced.
``partial``
    Files a killed process left outside the tables: ``.part`` files of extracts whose process
    is gone, of governed databases whose user lock is free, of settings written aside, the
    audit tail, and other ``*.part`` files older than :data:`PARTIAL_GRACE_S`.

Deletion happens under each table's exclusive writer lock, file by file, without a Delta
commit: deltalake's own vacuum would add VACUUM commits, moving every table past the
version the manifest pins for no change in data. Nothing is deleted without ``apply``.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from govlake.errors import ConfigError
from govlake.home import ZONES, Home
from lake import delta
from lake.locks import is_free

#: Delta's default retention: time travel and ``govlake restore`` reach back this far.
DEFAULT_RETENTION_HOURS = 168
#: Never less: a lower retention could remove files a reader opened a moment ago still needs.
MIN_RETENTION_HOURS = 1
#: Partial files that name no process and no lock are leftovers once this old.
PARTIAL_GRACE_S = 15 * 60

_COMMIT = re.compile(r"^\d{20}\.json$")
_CHECKPOINT = re.compile(r"^\d{20}\.checkpoint(\.\d+\.\d+)?\.parquet$")
_PID_PART = re.compile(r"^\..+\.(?P<pid>\d+)\.part(?:\.wal)?$")
_GOVERNED_PART = re.compile(r"^\.(?P<user>.+)-[0-9a-f]+\.duckdb\.[0-9a-f]+\.part(?:\.wal)?$")


@dataclass(frozen=True)
class Leftover:
    """One file vacuum would delete (or deleted)."""

    path: Path
    size: int
    kind: str  # expired, orphan, partial
    table: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass
class VacuumReport:
    retention_hours: int
    applied: bool
    files: list[Leftover] = field(default_factory=list)
    #: tables not looked at, with why (being written, log unreadable)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {"retention_hours": self.retention_hours, "applied": self.applied, "bytes": self.size,
                "files": [f.as_dict() for f in self.files], "skipped": self.skipped}


def vacuum(home: Home, *, apply: bool = False, retention_hours: int = DEFAULT_RETENTION_HOURS) -> VacuumReport:
    """List (and with ``apply``, delete) expired, orphan and partial files; see the module docstring.

    >>> report = vacuum(Home.resolve("govlake_home"))            # doctest: +SKIP
    >>> [(f.kind, f.path.name, f.size) for f in report.files]
    """
    if retention_hours < MIN_RETENTION_HOURS:
        raise ConfigError(
            f"--retention-hours {retention_hours} is below the minimum of {MIN_RETENTION_HOURS} h: files a reader "
            f"opened a moment ago could go; keep the default {DEFAULT_RETENTION_HOURS} h unless disk is short")
    from lake.pinned import pinned_versions

    report = VacuumReport(retention_hours=retention_hours, applied=apply)
    pinned = pinned_versions(home)
    for zone in ZONES:
        folder = home.zone(zone)
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_dir()):
            name = f"{zone}.{path.name}"
            with delta.writing(path, exclusive=True, wait=False) as free:
                if not free:
                    report.skipped[name] = "a writer is committing to it; run vacuum again later"
                    continue
                found = _table_leftovers(path, name, retention_hours, pinned.get(name), report)
                if apply:
                    _delete(found, top=path)
                report.files.extend(found)
    partial = list(_partials(home))
    if apply:
        _delete(partial)
    report.files.extend(partial)
    return report


def _table_leftovers(path: Path, name: str, retention_hours: int, keep: int | None,
                     report: VacuumReport) -> list[Leftover]:
    found: list[Leftover] = []
    log = path / "_delta_log"
    if not log.is_dir():
        # a folder without a log: every file is a killed first write's (no table ever existed)
        return [Leftover(f, _size(f), "orphan", name, "no Delta log: a first write that never committed")
                for f in sorted(path.rglob("*")) if f.is_file()]
    try:
        referenced = referenced_files(path)
    except (OSError, ValueError) as error:
        report.skipped[name] = f"its Delta log cannot be read ({error}); run `govlake doctor`"
        return []
    expired = set(_expired(path, name, retention_hours, keep, report))
    for file in sorted(path.rglob("*")):
        if not file.is_file():
            continue
        relative = file.relative_to(path).as_posix()
        if relative.startswith("_delta_log/"):
            if "/" not in relative[len("_delta_log/"):] and _is_log_leftover(file.name):
                found.append(Leftover(file, _size(file), "partial", name, "a commit file a killed writer left"))
            continue
        if relative in expired:
            found.append(Leftover(file, _size(file), "expired", name,
                                  f"removed from the table more than {retention_hours} h ago"))
        elif relative not in referenced and not _hidden(relative):
            found.append(Leftover(file, _size(file), "orphan", name, "written but never committed (a killed writer)"))
    return found


def _expired(path: Path, name: str, retention_hours: int, keep: int | None, report: VacuumReport) -> list[str]:
    """Files deltalake's vacuum would delete (dry run), keeping the pinned version's files."""
    from deltalake import DeltaTable

    from govlake.errors import GovLakeError
    from lake.boundary import translate

    try:
        with translate(name):
            table = DeltaTable(str(path))
            listed = table.vacuum(retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False,
                                  keep_versions=[keep] if keep is not None else None)
    except GovLakeError as error:
        report.skipped[name] = str(error)
        return []
    root = str(path).rstrip("/") + "/"
    return [urllib.parse.unquote(item.removeprefix("file://").removeprefix(root)) for item in listed]


def referenced_files(path: Path) -> set[str]:
    """Every data file any commit or checkpoint in the table's log adds or removes (relative paths).

    Raises ValueError for a commit that is not JSON: then nothing can be called unreferenced.
    """
    import pyarrow.parquet as pq

    referenced: set[str] = set()
    log = path / "_delta_log"
    for entry in sorted(log.iterdir()):
        if _COMMIT.match(entry.name):
            for number, line in enumerate(entry.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    action = json.loads(line)
                except json.JSONDecodeError:
                    raise ValueError(f"{entry.name} line {number} is not JSON") from None
                for kind in ("add", "remove"):
                    if isinstance(action.get(kind), dict) and "path" in action[kind]:
                        referenced.add(urllib.parse.unquote(action[kind]["path"]))
        elif _CHECKPOINT.match(entry.name):
            columns = [c for c in ("add", "remove") if c in pq.read_schema(entry).names]
            checkpoint = pq.read_table(entry, columns=columns)
            for kind in columns:
                for item in checkpoint.column(kind).to_pylist():
                    if item and item.get("path"):
                        referenced.add(urllib.parse.unquote(item["path"]))
    return referenced


def _is_log_leftover(name: str) -> bool:
    """A temporary file of an interrupted commit or checkpoint (never a commit, checkpoint or CRC)."""
    return name.endswith((".tmp", ".part")) or "#" in name or name.startswith("_commit_")


def _hidden(relative: str) -> bool:
    """Delta's convention: a path with a part starting with ``_`` or ``.`` is not a data file."""
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def _partials(home: Home) -> Iterator[Leftover]:
    """Partial files outside the tables that their writer, now gone, would have renamed or removed."""
    now = time.time()
    skip = {home.lake.resolve()}
    for file in _walk(home.root, skip):
        name = file.name
        pid = _PID_PART.match(name)
        if pid is not None:
            if not _alive(int(pid.group("pid"))):
                yield Leftover(file, _size(file), "partial", None,
                               f"partial file of process {pid.group('pid')}, which is gone")
            continue
        governed = _GOVERNED_PART.match(name)
        if governed is not None and file.parent == home.cache / "governed":
            if is_free(home, f"governed-{governed.group('user')}"):
                yield Leftover(file, _size(file), "partial", None, "a governed database whose build was interrupted")
            continue
        if file == home.root / "spool" / "audit.tail.part":
            if is_free(home, "audit"):
                yield Leftover(file, _size(file), "partial", None, "an audit flush was interrupted")
            continue
        stale = now - _mtime(file) > PARTIAL_GRACE_S
        if stale and (name.endswith((".part", ".part.wal")) or name.startswith(".write-probe-")):
            yield Leftover(file, _size(file), "partial", None,
                           f"partial file untouched for over {PARTIAL_GRACE_S // 60} minutes")


def _walk(root: Path, skip: set[Path]) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() not in skip)
        for name in sorted(files):
            yield here / name


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _delete(files: list[Leftover], *, top: Path | None = None) -> None:
    folders = set()
    for leftover in files:
        try:
            leftover.path.unlink()
        except FileNotFoundError:
            pass
        folders.add(leftover.path.parent)
    if top is None:
        return
    for folder in sorted(folders, key=lambda p: -len(p.parts)):  # emptied partition folders
        while folder != top and folder.is_relative_to(top) and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
