"""Objections (数据异议): a user disputes one value of one record; the authoritative department answers.

This module keeps the cases. Filing (who may object to what, and which department answers)
is decided in :mod:`views.objections`, where the user's governed view is known; a correction
is ingested and built by ``govlake objection resolve`` (govlake/commands/objection.py), which
records the result here.

A case names the governed view, the record key, the column and the value the user objects
to, the reason and the evidence, and it is addressed to the department of the attribute's
authoritative source (一数一源, lake/catalog/libraries.toml), due in that department's
``sla_days``. States::

    open ──resolve --correction FILE──▶ corrected   (the fix: an ingested batch, a build, Delta versions)
      └───resolve --reject REASON────▶ rejected

While a case is open the record is **under objection**: every governed view that carries
the record's key shows ``objection_status = '异议处理中'`` for it (views/masks.py). The views
read :func:`open_marks` when a session is set up and again whenever this ledger gains a
commit (:func:`marks_version`), so the marker is current on the next query.

Storage is the append-only ledger ``system.objections`` (:mod:`lake.ledger`): one row per
event holding the case's full state; the last row per case is its current state, all rows
are its history. Every change and every refused attempt is audited (``objection.*``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError, NotFound, PolicyDenied, StateError, did_you_mean
from lake import audit, ledger
from lake.locks import file_lock
from lake.system import OBJECTIONS

if TYPE_CHECKING:
    from govlake.home import Home

STATES = ("open", "corrected", "rejected")
STATE_LABELS = {"open": "处理中", "corrected": "已更正", "rejected": "已驳回"}
#: What governed views show for a record under objection.
MARK_LABEL = "异议处理中"
_DELTA_JSON = re.compile(r"^(\d{20})\.json$")


def _schema() -> dict[str, Any]:
    import polars as pl

    text = pl.String
    return {
        "seq": pl.Int64, "event_id": text, "at": pl.Datetime("us", "UTC"), "case_id": text, "action": text,
        "state": text, "actor": text, "note": text, "view": text, "key_column": text, "record_key": text,
        "column": text, "library": text, "attribute": text, "source_dataset": text, "department": text,
        "reason": text, "evidence": text, "value_at_filing": text, "value_seen": text, "value_source": text,
        "value_batch": text, "filed_by": text, "filed_at": pl.Datetime("us", "UTC"), "due_date": pl.Date,
        "resolution": text, "correction_file": text, "correction_batch": text, "raw_version": pl.Int64,
        "build_id": pl.Int64, "base_versions": text, "value_after": text,
    }


def ledger_path(home: Home) -> Path:
    return home.table_path("system", OBJECTIONS.name)


@dataclass(frozen=True)
class Target:
    """What an objection is about, as worked out by views.objections.locate (already checked)."""

    view: str
    key_column: str
    record_key: str
    column: str
    library: str
    attribute: str
    source_dataset: str
    department: str
    value_at_filing: str | None
    value_seen: str | None
    value_source: str | None = None
    value_batch: str | None = None


@dataclass(frozen=True)
class Case:
    """A case's current state (the last row of its history)."""

    case_id: str
    state: str
    view: str
    key_column: str
    record_key: str
    column: str
    library: str
    attribute: str
    source_dataset: str
    department: str
    reason: str
    evidence: str | None
    value_at_filing: str | None
    value_seen: str | None
    value_source: str | None
    value_batch: str | None
    filed_by: str
    filed_at: dt.datetime
    due_date: dt.date
    resolution: str | None
    correction_file: str | None
    correction_batch: str | None
    raw_version: int | None
    build_id: int | None
    base_versions: dict[str, int]
    value_after: str | None
    updated_at: dt.datetime
    actor: str

    @property
    def closed(self) -> bool:
        return self.state != "open"

    def overdue(self, today: dt.date | None = None) -> bool:
        return self.state == "open" and (today or ledger.beijing_date(ledger.now())) > self.due_date

    def as_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data.update(filed_at=self.filed_at.isoformat(), updated_at=self.updated_at.isoformat(),
                    due_date=self.due_date.isoformat(), overdue=self.overdue())
        return data


def _case(row: dict[str, Any]) -> Case:
    return Case(
        case_id=row["case_id"], state=row["state"], view=row["view"], key_column=row["key_column"],
        record_key=row["record_key"], column=row["column"], library=row["library"], attribute=row["attribute"],
        source_dataset=row["source_dataset"], department=row["department"], reason=row["reason"],
        evidence=row["evidence"], value_at_filing=row["value_at_filing"], value_seen=row["value_seen"],
        value_source=row["value_source"], value_batch=row["value_batch"], filed_by=row["filed_by"],
        filed_at=row["filed_at"], due_date=row["due_date"], resolution=row["resolution"],
        correction_file=row["correction_file"], correction_batch=row["correction_batch"],
        raw_version=row["raw_version"], build_id=row["build_id"],
        base_versions=json.loads(row["base_versions"]) if row["base_versions"] else {},
        value_after=row["value_after"], updated_at=row["at"], actor=row["actor"],
    )


def _row_of(case: Case) -> dict[str, Any]:
    row = {name: getattr(case, name) for name in case.__dataclass_fields__ if name not in ("updated_at",)}
    row["base_versions"] = json.dumps(case.base_versions, sort_keys=True) if case.base_versions else None
    return row


# --------------------------------------------------------------------------- reading


def cases(home: Home, *, department: str | None = None, state: str | None = None) -> list[Case]:
    """Current cases, optionally of one department (id, name or short name) or state (or ``overdue``)."""
    if state is not None and state not in (*STATES, "overdue"):
        raise GovLakeError(f"unknown objection state {state!r}{did_you_mean(state, STATES)}; states are "
                           f"{', '.join(STATES)} (or overdue)")
    department_id = None
    if department:
        from lake.catalog import load_catalog

        department_id = load_catalog().department(department).id
    rows = ledger.current(ledger_path(home), "case_id")
    if rows is None:
        return []
    found = [_case(row) for row in rows.iter_rows(named=True)]
    return [c for c in found
            if (department_id is None or c.department == department_id)
            and (state is None or (c.overdue() if state == "overdue" else c.state == state))]


def case(home: Home, case_id: str) -> Case:
    rows = ledger.current(ledger_path(home), "case_id")
    known = [] if rows is None else rows["case_id"].to_list()
    if case_id not in known:
        raise NotFound(f"no objection {case_id!r}{did_you_mean(case_id, known)}; `govlake objection list` shows them")
    assert rows is not None
    return _case(rows.row(known.index(case_id), named=True))


def history(home: Home, case_id: str) -> list[dict[str, Any]]:
    """Every event of one case, oldest first."""
    import polars as pl

    case(home, case_id)
    rows = ledger.read(ledger_path(home))
    assert rows is not None
    return rows.filter(pl.col("case_id") == case_id).to_dicts()


def marks_version(home: Home) -> int | None:
    """The ledger's latest Delta version from a directory listing (cheap enough for every query)."""
    try:
        names = os.listdir(ledger_path(home) / "_delta_log")
    except OSError:
        return None
    versions = [int(m.group(1)) for m in map(_DELTA_JSON.match, names) if m]
    return max(versions) if versions else None


def open_marks(home: Home) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Record keys under objection, per library: ``(("population", ("3301...",)), ...)`` (sorted, hashable)."""
    rows = ledger.current(ledger_path(home), "case_id")
    if rows is None:
        return ()
    import polars as pl

    open_rows = rows.filter(pl.col("state") == "open")
    marks: dict[str, set[str]] = {}
    for library, key in open_rows.select("library", "record_key").iter_rows():
        marks.setdefault(library, set()).add(key)
    return tuple((library, tuple(sorted(keys))) for library, keys in sorted(marks.items()))


# --------------------------------------------------------------------------- changing


def file_case(home: Home, target: Target, *, user: str, reason: str, evidence: str | None = None) -> Case:
    """Record a checked objection (see views.objections.file_objection, which checks it first)."""
    from lake.catalog import load_catalog

    sla = load_catalog().department(target.department).sla_days
    with file_lock(home, "objections"):
        seq = ledger.next_seq(ledger_path(home))
        at = ledger.now()
        case_id = f"OBJ-{seq:06d}"
        row = {
            **{name: getattr(target, name) for name in target.__dataclass_fields__},
            "seq": seq, "event_id": uuid.uuid4().hex, "at": at, "case_id": case_id, "action": "file",
            "state": "open", "actor": user, "note": f"filed by {user}; addressed to {target.department}",
            "reason": reason, "evidence": evidence, "filed_by": user, "filed_at": at,
            "due_date": ledger.beijing_date(at) + dt.timedelta(days=sla),
        }
        ledger.append(ledger_path(home), [row], schema=_schema(), table=OBJECTIONS)
    audit.record_event(home, user=user, action="objection.file", views=(target.view,),
                       columns=(f"{target.view}.{target.column}",), detail=json.dumps({
                           "case_id": case_id, "view": target.view, "column": target.column,
                           "department": target.department, "reason": reason}, ensure_ascii=False))
    return case(home, case_id)


def check_can_resolve(home: Home, case_id: str, *, user: str, action: str) -> Case:
    """The case is open and ``user`` may answer it for its department; else refused (audited), nothing changes."""
    try:
        current = case(home, case_id)
        _check_actor(user, current)
        if current.closed:
            raise StateError(f"objection {case_id} is already {current.state} ({STATE_LABELS[current.state]}) and "
                             "closed; it cannot be resolved again; nothing was changed")
    except (StateError, PolicyDenied, NotFound) as refusal:
        audit.record_event(home, user=user, action=f"objection.{action}", decision="refused", reason=str(refusal),
                           detail=json.dumps({"case_id": case_id}, ensure_ascii=False))
        raise
    return current


def reject(home: Home, case_id: str, *, user: str, reason: str) -> Case:
    """Close a case with the department's reason for keeping the value."""
    if not reason.strip():
        raise GovLakeError("a rejection needs a reason: --reject \"...\" must not be empty")
    return _close(home, case_id, user=user, action="reject", state="rejected",
                  values={"resolution": reason.strip()}, note=f"rejected by {user}: {reason.strip()}")


def record_correction(home: Home, case_id: str, *, user: str, file: str, batch_id: str, raw_version: int | None,
                      build_id: int | None, base_versions: dict[str, int], value_after: str | None,
                      note: str = "") -> Case:
    """Close a case with the correction that went through the pipeline: batch, build and Delta versions."""
    values = {"correction_file": file, "correction_batch": batch_id, "raw_version": raw_version,
              "build_id": build_id, "base_versions": json.dumps(base_versions, sort_keys=True),
              "value_after": value_after, "resolution": note or f"corrected by batch {batch_id}"}
    return _close(home, case_id, user=user, action="correct", state="corrected", values=values,
                  note=note or f"corrected by {user}: batch {batch_id}, build {build_id}")


def _close(home: Home, case_id: str, *, user: str, action: str, state: str, values: dict[str, Any],
           note: str) -> Case:
    with file_lock(home, "objections"):
        current = check_can_resolve(home, case_id, user=user, action=action)
        row = _row_of(current)
        row.update(values)
        row.update(seq=ledger.next_seq(ledger_path(home)), event_id=uuid.uuid4().hex, at=ledger.now(),
                   action=action, state=state, actor=user, note=note)
        ledger.append(ledger_path(home), [row], schema=_schema(), table=OBJECTIONS)
    audit.record_event(home, user=user, action=f"objection.{action}", views=(current.view,),
                       columns=(f"{current.view}.{current.column}",), detail=json.dumps(
                           {"case_id": case_id, "from": current.state, "to": state,
                            **{k: v for k, v in values.items() if v is not None}}, ensure_ascii=False, default=str))
    return case(home, case_id)


def _check_actor(user: str, current: Case) -> None:
    ledger.check_actor(user, current.department, f"objection {current.case_id}", "resolve it")
