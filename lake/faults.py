"""Named fault points: where the fault-injection tests kill or pause a real GovLake process.

GovLake's multi-step commands (ingest, build, publish, quality run) are made crash-safe by
ordering and idempotent Delta commits (docs/reliability.md). The tests prove it by killing
the real ``govlake`` process with SIGKILL. Random delays hit arbitrary instants (inside a
parquet write, between two commits); the points here make the interesting instants
reachable on purpose: just before and just after every Delta commit, between an audit
flush's commit and its spool clean-up, before and after an extract is given its name.

A point costs one dictionary lookup when no fault is configured. Configuration comes
from the environment, read once at import:

``GOVLAKE_KILL_AT=<point>[@<table>]:<n>``
    SIGKILL this process at the n-th pass of the point (``any`` matches every point;
    ``@zone.table`` counts only passes for that table). ``any:17`` is "the 17th commit
    boundary of the run", which is how the tests spread kills across a command.
``GOVLAKE_PAUSE_AT=<point>[@<table>]:<n>:<folder>``
    At the n-th pass, create ``<folder>/paused`` and wait (at most 120 s) until
    ``<folder>/resume`` exists: a slow writer, to make a concurrent commit conflict for sure.
``GOVLAKE_FAULT_TRACE=<file>``
    Append ``<point> <table>`` for every pass, so a test can count a command's points.

A SIGKILL is the real thing (no handler, no flush, no ``atexit``), exactly what a power
cut or the OOM killer does to the process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

KILL_ENV = "GOVLAKE_KILL_AT"
PAUSE_ENV = "GOVLAKE_PAUSE_AT"
TRACE_ENV = "GOVLAKE_FAULT_TRACE"

#: Every point GovLake passes, for the tests and docs/reliability.md.
POINTS = (
    "delta.commit.before",  # a Delta write is about to commit (its snapshot is loaded)
    "delta.commit.after",  # a Delta write committed
    "audit.spooled",  # an audit entry was appended to the spool
    "audit.flush.committed",  # a flush committed to system.audit; spool not yet removed
    "publish.ready",  # an extract's partial file is complete, not yet named
    "publish.linked",  # the extract has its final name; the partial not yet removed
)


def _parse(spec: str | None, parts: int) -> tuple[str, str | None, int, str] | None:
    if not spec:
        return None
    fields = spec.split(":", parts - 1)
    if len(fields) != parts or not fields[1].isdigit():
        raise ValueError(f"{spec!r}: expected <point>[@<table>]:<n>{':<folder>' if parts == 3 else ''}")
    name, _, table = fields[0].partition("@")
    return name, table or None, int(fields[1]), fields[2] if parts == 3 else ""


_KILL = _parse(os.environ.get(KILL_ENV), 2)
_PAUSE = _parse(os.environ.get(PAUSE_ENV), 3)
_TRACE = os.environ.get(TRACE_ENV) or None
_ACTIVE = bool(_KILL or _PAUSE or _TRACE)
_COUNTS: dict[tuple[str, str | None], int] = {}
_LOCK = threading.Lock()


def _matches(spec: tuple[str, str | None, int, str], name: str, table: str | None) -> bool:
    return spec[0] in (name, "any") and (spec[1] is None or spec[1] == table)


def point(name: str, table: str | None = None) -> None:
    """Pass the fault point ``name`` (for ``table``, when it concerns one); see the module docstring."""
    if not _ACTIVE:
        return
    with _LOCK:
        if _TRACE:
            with open(_TRACE, "a", encoding="utf-8") as trace:
                trace.write(f"{name} {table or '-'}\n")
        kill = pause = False
        for spec in (_KILL, _PAUSE):
            if spec is None or not _matches(spec, name, table):
                continue
            key = (f"{spec[0]}@{spec[1]}", "kill" if spec is _KILL else "pause")
            _COUNTS[key] = _COUNTS.get(key, 0) + 1
            if _COUNTS[key] == spec[2]:
                kill, pause = kill or spec is _KILL, pause or spec is _PAUSE
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)
    if pause and _PAUSE is not None:
        _wait(Path(_PAUSE[3]))


def _wait(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paused").touch()
    deadline = time.monotonic() + 120
    while not (folder / "resume").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
