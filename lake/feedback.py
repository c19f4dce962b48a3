"""Problem-data feedback (问题数据反馈): failing records go back, as tickets, to the department that owns them.

A quality run (``govlake quality run``) writes every failing record to
``system.quality_failures`` and ends by calling :func:`sync_tickets` with its run id. Each
failing record becomes, or joins, a **ticket** for one department × dataset × rule × batch:

- the department is the owner of the data item under one source per data item (一数一源),
  as the quality run attributed it;
- the batch and the source file that introduced the problem make it attributable (可定责);
- the ticket carries how many records fail, up to :data:`SAMPLES` sample records, and a due
  date: the day it was opened plus the department's ``sla_days`` (lake/catalog/departments.toml).

States::

    open ──ack──▶ acknowledged ──resolve --corrected-by-batch B──▶ corrected ──(next run)──▶ verified
      │                │                                              │
      └──resolve --reject REASON──▶ rejected                          └──(still failing)──▶ open

``verified`` is never set by hand: :func:`sync_tickets` sets it when a later quality run
re-checked each of the ticket's records with the same rule, in the correcting batch or a later
one, and they pass. The quality run records that record by record in ``system.quality_rechecks``
(the keys are its standardized keys, which this layer cannot rebuild; see
transforms/quality/rechecks.py). If records still fail, or the correcting batch left some out,
the ticket goes back to ``open`` with a note naming them and a new due date. ``verified``
and ``rejected`` are closed: acting on a closed ticket is refused and changes nothing.

Storage is the append-only ledger ``system.feedback_events`` (:mod:`lake.ledger`): each
row is a ticket's full state after one event, so the history is queryable and the current
state is the last row per ticket. A sync is one commit carrying the Delta app transaction
``govlake.feedback.sync/<run id>``: a crash and re-run of the same run id writes nothing
twice. Every change, and every refused attempt, is in the audit trail (``feedback.*``).

>>> # sync_tickets(home, run_id); acknowledge(home, "FB-…", user="…"); resolve(home, "FB-…", user="…", reject="…")
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError, NotFound, PolicyDenied, StateError, did_you_mean
from lake import audit, delta, ledger
from lake.locks import file_lock
from lake.system import FEEDBACK_EVENTS, INGEST_LOG, QUALITY_RECHECKS

if TYPE_CHECKING:
    import polars as pl

    from govlake.home import Home
    from lake.catalog import Catalog


#: Ticket states; the closed ones accept no further action.
STATES = ("open", "acknowledged", "corrected", "verified", "rejected")
CLOSED = ("verified", "rejected")
#: States in which the department still owes an answer (a due date applies).
PENDING = ("open", "acknowledged")
STATE_LABELS = {"open": "待处理", "acknowledged": "已签收", "corrected": "已整改待复核", "verified": "已复核通过",
                "rejected": "已驳回"}
#: Sample records kept on a ticket.
SAMPLES = 5
SYNC_APP = "govlake.feedback.sync"
SYSTEM_ACTOR = "govlake"
RESULTS_TABLE = "quality_results"
FAILURES_TABLE = "quality_failures"


def _schema() -> dict[str, Any]:
    import polars as pl

    return {
        "seq": pl.Int64, "event_id": pl.String, "at": pl.Datetime("us", "UTC"), "ticket_id": pl.String,
        "action": pl.String, "state": pl.String, "actor": pl.String, "note": pl.String, "run_id": pl.String,
        "department": pl.String, "dataset": pl.String, "rule_id": pl.String, "dimension": pl.String,
        "batch_id": pl.String, "source_file": pl.String, "failed_records": pl.Int64, "checked_records": pl.Int64,
        "sample_keys": pl.List(pl.String), "samples": pl.String, "opened_at": pl.Datetime("us", "UTC"),
        "due_date": pl.Date, "corrected_by_batch": pl.String, "reason": pl.String,
    }


def events_path(home: Home) -> Path:
    return home.table_path("system", FEEDBACK_EVENTS.name)


def ticket_id_for(department: str, dataset: str, rule_id: str, batch_id: str | None) -> str:
    """The ticket of one department × dataset × rule × batch: stable, so a re-run finds it again."""
    digest = hashlib.sha256(f"{department}|{dataset}|{rule_id}|{batch_id or ''}".encode()).hexdigest()
    return f"FB-{digest[:10].upper()}"


@dataclass(frozen=True)
class Ticket:
    """A ticket's current state (the last row of its history)."""

    ticket_id: str
    state: str
    department: str
    dataset: str
    rule_id: str
    dimension: str
    batch_id: str | None
    source_file: str | None
    failed_records: int
    checked_records: int | None
    sample_keys: tuple[str, ...]
    samples: tuple[dict[str, Any], ...]
    opened_at: dt.datetime
    due_date: dt.date
    run_id: str | None
    corrected_by_batch: str | None
    reason: str | None
    note: str | None
    updated_at: dt.datetime
    actor: str

    @property
    def closed(self) -> bool:
        return self.state in CLOSED

    def overdue(self, today: dt.date | None = None) -> bool:
        """Still owed by the department (open or acknowledged) and past its due date."""
        today = today or ledger.beijing_date(ledger.now())
        return self.state in PENDING and today > self.due_date

    def as_json(self, today: dt.date | None = None) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data.update(sample_keys=list(self.sample_keys), samples=list(self.samples), overdue=self.overdue(today),
                    opened_at=self.opened_at.isoformat(), updated_at=self.updated_at.isoformat(),
                    due_date=self.due_date.isoformat())
        return data


def _ticket(row: dict[str, Any]) -> Ticket:
    return Ticket(
        ticket_id=row["ticket_id"], state=row["state"], department=row["department"], dataset=row["dataset"],
        rule_id=row["rule_id"], dimension=row["dimension"] or "", batch_id=row["batch_id"],
        source_file=row["source_file"], failed_records=int(row["failed_records"] or 0),
        checked_records=row["checked_records"], sample_keys=tuple(row["sample_keys"] or ()),
        samples=tuple(json.loads(row["samples"] or "[]")), opened_at=row["opened_at"], due_date=row["due_date"],
        run_id=row["run_id"], corrected_by_batch=row["corrected_by_batch"], reason=row["reason"], note=row["note"],
        updated_at=row["at"], actor=row["actor"],
    )


# --------------------------------------------------------------------------- reading


def tickets(home: Home, *, department: str | None = None, state: str | None = None,
            dataset: str | None = None) -> list[Ticket]:
    """Current tickets, optionally of one department (id, name or short name), state or dataset."""
    if state is not None and state not in (*STATES, "overdue"):
        raise GovLakeError(f"unknown ticket state {state!r}{did_you_mean(state, STATES)}; states are "
                           f"{', '.join(STATES)} (or overdue)")
    department_id = _department_id(department) if department else None
    rows = ledger.current(events_path(home), "ticket_id")
    if rows is None:
        return []
    found = [_ticket(row) for row in rows.iter_rows(named=True)]
    today = ledger.beijing_date(ledger.now())
    return sorted(
        (t for t in found
         if (department_id is None or t.department == department_id)
         and (dataset is None or t.dataset == dataset)
         and (state is None or (t.overdue(today) if state == "overdue" else t.state == state))),
        key=lambda t: (t.department, t.due_date, t.ticket_id),
    )


def ticket(home: Home, ticket_id: str) -> Ticket:
    """One ticket's current state, or NotFound naming the close matches."""
    rows = ledger.current(events_path(home), "ticket_id")
    known = [] if rows is None else rows["ticket_id"].to_list()
    if ticket_id not in known:
        raise NotFound(f"no feedback ticket {ticket_id!r}{did_you_mean(ticket_id, known)}; "
                       "`govlake feedback list` shows the tickets")
    assert rows is not None
    return _ticket(rows.row(known.index(ticket_id), named=True))


def history(home: Home, ticket_id: str) -> list[dict[str, Any]]:
    """Every event of one ticket, oldest first (each row the ticket's state after the event)."""
    ticket(home, ticket_id)  # NotFound for an unknown id
    rows = ledger.read(events_path(home))
    assert rows is not None
    import polars as pl

    return rows.filter(pl.col("ticket_id") == ticket_id).to_dicts()


def corrections(home: Home) -> list[dict[str, Any]]:
    """Each ticket's latest correction (``resolve --corrected-by-batch``), whatever its state now.

    One dict per ticket ever corrected: ``ticket_id``, ``dataset``, ``corrected_by_batch``, ``at``.
    A quality run takes these as inputs: a new correction makes a new run, while the verdicts a
    run's own sync adds (verify, reopen) do not, so running again on unchanged data is the same run.
    """
    import polars as pl

    rows = ledger.read(events_path(home))
    if rows is None:
        return []
    return (rows.filter(pl.col("action") == "correct")
            .group_by("ticket_id", maintain_order=True).last()
            .select("ticket_id", "dataset", "corrected_by_batch", "at").sort("ticket_id").to_dicts())


def _department_id(key: str) -> str:
    from lake.catalog import load_catalog

    return load_catalog().department(key).id


# --------------------------------------------------------------------------- syncing with a quality run


@dataclass
class SyncReport:
    """What :func:`sync_tickets` did for one quality run."""

    run_id: str
    already: bool = False  # this run was synced before; nothing was written
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    failing_records: int = 0

    def summary(self) -> str:
        if self.already:
            return f"quality run {self.run_id} was already synced; nothing changed"
        return (f"quality run {self.run_id}: {self.failing_records:,} failing records; {len(self.opened)} tickets "
                f"opened, {len(self.updated)} updated, {len(self.verified)} verified, {len(self.reopened)} reopened")


def _quality_rows(home: Home, name: str, run_id: str) -> pl.DataFrame | None:
    import polars as pl

    path = home.table_path("system", name)
    if not delta.is_table(path):
        return None
    return delta.scan(path).filter(pl.col("run_id") == run_id).collect()


def sync_tickets(home: Home, run_id: str) -> SyncReport:
    """Open, update, verify or reopen tickets from the failures of quality run ``run_id``.

    Idempotent: the events of one run are one commit carrying the app transaction
    ``govlake.feedback.sync/<run_id>``, so calling this again for the same run (after a crash,
    or by ``govlake feedback sync``) writes nothing twice. The call is audited either way.
    """
    report = SyncReport(run_id)
    path = events_path(home)
    app_id = f"{SYNC_APP}/{run_id}"
    with file_lock(home, "feedback"):
        if delta.txn_version(path, app_id) is not None:
            report.already = True
        else:
            results = _quality_rows(home, RESULTS_TABLE, run_id)
            if results is None or results.height == 0:
                raise NotFound(f"quality run {run_id!r} has no rows in system.{RESULTS_TABLE}; run "
                               "`govlake quality run` first, or check the run id with `govlake quality report`")
            failures = _quality_rows(home, FAILURES_TABLE, run_id)
            rows = _sync_events(home, run_id, results, failures, report)
            if rows:
                ledger.append(path, rows, schema=_schema(), table=FEEDBACK_EVENTS, txn=(app_id, 1))
            else:
                # Nothing to record still marks the run as synced, so a re-run is recognised.
                _mark_synced(path, app_id)
    audit.record_event(home, user=SYSTEM_ACTOR, action="feedback.sync", detail=json.dumps({
        "run_id": run_id, "already_synced": report.already, "opened": report.opened, "updated": len(report.updated),
        "verified": report.verified, "reopened": report.reopened, "failing_records": report.failing_records,
    }, ensure_ascii=False))
    return report


def _mark_synced(path: Path, app_id: str) -> None:
    """Record the run's app transaction with no rows (an empty append is a valid Delta commit)."""
    import polars as pl

    empty = pl.DataFrame(schema=_schema())
    delta.write(path, empty.to_arrow(), mode="append", txn=(app_id, 1), description=FEEDBACK_EVENTS.description,
                comments=FEEDBACK_EVENTS.columns)


def _sync_events(home: Home, run_id: str, results: pl.DataFrame, failures: pl.DataFrame | None,
                 report: SyncReport) -> list[dict[str, Any]]:
    import polars as pl

    from lake.catalog import load_catalog

    catalog = load_catalog()
    run_at: dt.datetime = results["run_at"].max()  # type: ignore[assignment]
    current = {t.ticket_id: t for t in tickets(home)}
    seq = ledger.next_seq(events_path(home))
    events: list[dict[str, Any]] = []

    def add(ticket: Ticket | None, values: dict[str, Any], action: str, state: str, note: str) -> None:
        nonlocal seq
        base = _row_of(ticket) if ticket is not None else {}
        base.update(values)
        # run_id stays the last run that found the ticket's own batch failing: its failures are the
        # ticket's records (see ticket_keys)
        base.update(seq=seq, event_id=f"{run_id}:{base['ticket_id']}:{action}", at=run_at, action=action,
                    state=state, actor=SYSTEM_ACTOR, note=note,
                    run_id=run_id if action in ("open", "update") else base["run_id"])
        events.append(base)
        seq += 1

    if failures is None:
        failures = pl.DataFrame(schema={"rule_id": pl.String, "dataset": pl.String, "department": pl.String,
                                        "batch_id": pl.String, "record_key": pl.String})
    report.failing_records = failures.height
    checked = _checked_by_batch(results)
    for group in _failure_groups(failures, catalog):
        tid = ticket_id_for(group["department"], group["dataset"], group["rule_id"], group["batch_id"])
        existing = current.get(tid)
        values = {**group, "ticket_id": tid,
                  "checked_records": checked.get((group["rule_id"], group["dataset"], group["batch_id"]))}
        if existing is None:
            sla = catalog.department(group["department"]).sla_days
            values.update(opened_at=run_at, due_date=ledger.beijing_date(run_at) + dt.timedelta(days=sla))
            add(None, values, "open", "open", f"quality run {run_id} found {group['failed_records']:,} failing records")
            report.opened.append(tid)
        elif existing.state in PENDING and group["failed_records"] != existing.failed_records:
            add(existing, values, "update", existing.state,
                f"quality run {run_id} found {group['failed_records']:,} failing records again")
            report.updated.append(tid)
        # corrected tickets are judged below on their correcting batch; closed tickets stay closed
        # (a rejected ticket's records fail every run by design; a verified one's batch was superseded)
    corrected = [t for t in current.values() if t.state == "corrected"]
    rechecks = _rechecks(home, run_id)
    for existing in corrected:
        # A ticket of record findings has record keys (its samples name some); a finding on a whole
        # line, batch or dataset has none.
        verdict = _recheck(existing, run_id, results, failures, rechecks, bool(existing.sample_keys))
        if verdict is None:
            continue
        still_failing, note = verdict
        if still_failing:
            sla = catalog.department(existing.department).sla_days
            add(existing, {"due_date": ledger.beijing_date(run_at) + dt.timedelta(days=sla)}, "reopen", "open", note)
            report.reopened.append(existing.ticket_id)
        else:
            add(existing, {}, "verify", "verified", note)
            report.verified.append(existing.ticket_id)
    return events


def _rechecks(home: Home, run_id: str) -> pl.DataFrame:
    """The run's re-check rows (one per record of each ticket that was corrected when it started)."""
    import polars as pl

    found = _quality_rows(home, QUALITY_RECHECKS.name, run_id)
    if found is None:
        return pl.DataFrame(schema={"ticket_id": pl.String, "corrected_by_batch": pl.String,
                                    "record_key": pl.String, "checked": pl.Boolean, "batch_id": pl.String,
                                    "failed": pl.Boolean})
    return found


def _checked_by_batch(results: pl.DataFrame) -> dict[tuple[str, str, str | None], int]:
    import polars as pl

    totals = results.group_by("rule_id", "dataset", "batch_id").agg(pl.col("checked").sum())
    return {(r["rule_id"], r["dataset"], r["batch_id"]): int(r["checked"] or 0) for r in totals.iter_rows(named=True)}


def _failure_groups(failures: pl.DataFrame, catalog: Catalog) -> list[dict[str, Any]]:
    """One dict per department × dataset × rule × batch: counts, the source file and sample records."""
    import polars as pl

    if failures.height == 0:
        return []
    departments = {key: catalog.department(key).id for key in failures["department"].unique().drop_nulls()}
    unknown = failures.filter(pl.col("department").is_null())
    if unknown.height:
        raise GovLakeError(f"{unknown.height:,} rows of system.{FAILURES_TABLE} have no department "
                           f"(e.g. rule {unknown['rule_id'][0]!r}, dataset {unknown['dataset'][0]!r}); every failing "
                           "record must name the department that owns the data item — fix the quality rule")
    fields = ("source_row", "record_key", "field", "value", "detail")
    grouped = (
        failures.with_columns(pl.col("department").replace_strict(departments, return_dtype=pl.String))
        .sort("source_row", nulls_last=True)
        .group_by("department", "dataset", "rule_id", "batch_id", maintain_order=True)
        .agg(
            pl.col("dimension").first(),
            # the file most of the group's records came from (a batch is one file; ties break by name)
            pl.col("source_file").drop_nulls().mode().sort().first(),
            pl.col("record_key").drop_nulls().n_unique().alias("keys"),
            pl.len().alias("rows"),
            pl.col("record_key").drop_nulls().unique(maintain_order=True).head(SAMPLES).alias("sample_keys"),
            pl.struct(fields).head(SAMPLES).alias("samples"),
        )
    )
    return [
        {"department": row["department"], "dataset": row["dataset"], "rule_id": row["rule_id"],
         "batch_id": row["batch_id"], "dimension": row["dimension"], "source_file": row["source_file"],
         "failed_records": row["keys"] or row["rows"], "sample_keys": row["sample_keys"] or [],
         "samples": json.dumps(row["samples"], ensure_ascii=False, default=str)}
        for row in grouped.iter_rows(named=True)
    ]


def _recheck(existing: Ticket, run_id: str, results: pl.DataFrame, failures: pl.DataFrame,
             rechecks: pl.DataFrame, has_keys: bool) -> tuple[bool, str] | None:
    """Did run ``run_id`` re-check a corrected ticket? (still failing, note), or None if it did not.

    A ticket with record keys is judged record by record, from what the run recorded in
    ``system.quality_rechecks`` (written by the quality run for every ticket that was corrected
    when it started): each of the ticket's records must have been checked by the ticket's rule in
    the correcting batch or a later batch of the dataset, and pass there. A record the correcting
    batch left out is named, and the ticket goes back to open: a batch-level count cannot tell a
    corrected record from a missing one. Without those rows (the run did not know the ticket was
    corrected, or its scope left the dataset out) nothing is decided.

    A ticket without record keys (a quarantined line, a stale delivery, counts that do not
    reconcile) is judged on its batch: the run has a result of the rule for the correcting batch
    with records checked (or, for a rule on a whole dataset, a result without a batch) and no
    failure of the rule there.
    """
    import polars as pl

    batch = existing.corrected_by_batch
    same_rule = results.filter((pl.col("rule_id") == existing.rule_id) & (pl.col("dataset") == existing.dataset))
    batch_checked = int(same_rule.filter(pl.col("batch_id") == batch)["checked"].sum() or 0)
    # rows for this correction (a ticket re-corrected with another batch since the run started has none)
    mine = rechecks.filter((pl.col("ticket_id") == existing.ticket_id) & (pl.col("corrected_by_batch") == batch))
    if mine.height:
        return _judge_records(existing, run_id, mine, batch_checked)
    if has_keys:
        return None  # the run did not record these records, so it cannot confirm the correction
    whole = same_rule.filter(pl.col("batch_id").is_null())
    if batch_checked > 0:
        where, what = pl.col("batch_id") == batch, f"re-checked the correcting batch {batch}"
    elif int(whole["checked"].sum() or 0) > 0:
        where, what = pl.col("batch_id").is_null(), "re-checked the dataset"
    else:
        return None
    failing = failures.filter((pl.col("rule_id") == existing.rule_id) & (pl.col("dataset") == existing.dataset)
                              & where)
    if failing.height:
        return True, (f"quality run {run_id} {what}: {failing.height:,} records still fail rule {existing.rule_id}; "
                      "correct them and resolve again")
    return False, f"quality run {run_id} {what}: rule {existing.rule_id} passes"


#: Record keys a reopened ticket's note names; `system.quality_rechecks` has them all.
NAMED_KEYS = 20


def _judge_records(existing: Ticket, run_id: str, mine: pl.DataFrame, batch_checked: int) -> tuple[bool, str] | None:
    """The verdict on a corrected ticket from the run's re-check rows of its records (one per key)."""
    import polars as pl

    batch = existing.corrected_by_batch
    total = mine.height
    checked = mine.filter(pl.col("checked"))
    if checked.height == 0 and batch_checked == 0:
        # The rule has not looked at the correcting batch yet (a rule on the libraries judges built
        # batches only: `govlake build` first); wait for a run that does.
        return None
    later = sorted(set(checked["batch_id"].drop_nulls().to_list()) - {batch})
    where = f"batch {batch}" + (f" and later batches ({', '.join(later)})" if later else "")
    failing = checked.filter(pl.col("failed").fill_null(False))["record_key"].sort().to_list()
    missing = mine.filter(~pl.col("checked"))["record_key"].sort().to_list()
    if not failing and not missing:
        return False, (f"quality run {run_id} re-checked {where}: rule {existing.rule_id} passes for all "
                       f"{total:,} records")
    parts = []
    if failing:
        parts.append(f"{len(failing):,} of the {total:,} records still fail rule {existing.rule_id}"
                     f" ({_named(failing)})")
    if missing:
        parts.append(f"{len(missing):,} of the {total:,} records are missing from the correcting batch {batch} "
                     f"and later batches, so rule {existing.rule_id} could not re-check them ({_named(missing)})")
    return True, (f"quality run {run_id} re-checked {where}: " + "; ".join(parts)
                  + "; correct and re-send them, then resolve again")


def _named(keys: list[str]) -> str:
    shown = ", ".join(keys[:NAMED_KEYS])
    return shown + (f" and {len(keys) - NAMED_KEYS:,} more, listed in system.quality_rechecks"
                    if len(keys) > NAMED_KEYS else "")


def ticket_keys(home: Home, found: Sequence[Ticket]) -> dict[str, list[str]]:
    """ticket id -> keys of the ticket's failing records as of the last run that found them failing.

    Read from ``system.quality_failures`` of that run (every key, not only the samples), in one
    scan for all the tickets given; a ticket whose run left no keys falls back to its samples.
    The quality run asks this for the tickets awaiting re-check, so that it records, record by
    record, which of these keys it checked (``system.quality_rechecks``).
    """
    import polars as pl

    keys = {t.ticket_id: list(t.sample_keys) for t in found}
    path = home.table_path("system", FAILURES_TABLE)
    wanted = [t for t in found if t.run_id is not None]
    if not wanted or not delta.is_table(path):
        return keys
    tickets_frame = pl.DataFrame(
        [{"ticket_id": t.ticket_id, "run_id": t.run_id, "rule_id": t.rule_id, "dataset": t.dataset,
          "batch_id": t.batch_id, "owner": t.department} for t in wanted],
        schema={"ticket_id": pl.String, "run_id": pl.String, "rule_id": pl.String, "dataset": pl.String,
                "batch_id": pl.String, "owner": pl.String})
    frame = (delta.scan(path)
             .filter(pl.col("run_id").is_in(sorted({t.run_id for t in wanted if t.run_id}))
                     & pl.col("rule_id").is_in(sorted({t.rule_id for t in wanted}))
                     & pl.col("record_key").is_not_null())
             .select("run_id", "rule_id", "dataset", "batch_id", "department", "record_key").collect()
             .join(tickets_frame, on=["run_id", "rule_id", "dataset", "batch_id"], nulls_equal=True))
    if frame.height:  # departments may be written as names or ids: keep each ticket's own department's rows
        ids = {key: _department_id(key) for key in frame["department"].unique().drop_nulls()}
        frame = frame.filter(pl.col("department").replace_strict(ids, return_dtype=pl.String) == pl.col("owner"))
    for ticket_id, group in frame.group_by("ticket_id"):
        keys[str(ticket_id[0])] = group["record_key"].unique().sort().to_list()
    return keys


def _row_of(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.ticket_id, "department": ticket.department, "dataset": ticket.dataset,
        "rule_id": ticket.rule_id, "dimension": ticket.dimension, "batch_id": ticket.batch_id,
        "source_file": ticket.source_file, "failed_records": ticket.failed_records,
        "checked_records": ticket.checked_records, "sample_keys": list(ticket.sample_keys),
        "samples": json.dumps(list(ticket.samples), ensure_ascii=False, default=str), "opened_at": ticket.opened_at,
        "due_date": ticket.due_date, "corrected_by_batch": ticket.corrected_by_batch, "reason": ticket.reason,
        "run_id": ticket.run_id, "state": ticket.state,
    }


# --------------------------------------------------------------------------- acting on a ticket


def acknowledge(home: Home, ticket_id: str, *, user: str, note: str = "") -> Ticket:
    """The department takes the ticket on (open → acknowledged)."""
    return _act(home, ticket_id, user=user, action="acknowledge", note=note)


def resolve(home: Home, ticket_id: str, *, user: str, corrected_by_batch: str | None = None,
            reject: str | None = None, note: str = "") -> Ticket:
    """The department answers: the records were corrected in a new batch, or the ticket is rejected with a reason.

    Exactly one of ``corrected_by_batch`` and ``reject``. A corrected ticket waits for the next
    quality run to verify it. Resolving a ticket that is closed (verified, rejected) or already
    corrected is refused with :class:`StateError`, audited, and changes nothing.
    """
    if (corrected_by_batch is None) == (reject is None):
        raise GovLakeError("resolve needs exactly one of --corrected-by-batch BATCH (the records were corrected in "
                           "that new batch) and --reject REASON")
    if reject is not None and not reject.strip():
        raise GovLakeError("a rejection needs a reason: --reject \"...\" must not be empty")
    if corrected_by_batch is not None:
        return _act(home, ticket_id, user=user, action="correct", note=note, batch=corrected_by_batch)
    return _act(home, ticket_id, user=user, action="reject", note=note, reason=(reject or "").strip())


#: action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("open",), "acknowledged"),
    "correct": (PENDING, "corrected"),
    "reject": (PENDING, "rejected"),
}


def _act(home: Home, ticket_id: str, *, user: str, action: str, note: str = "", batch: str | None = None,
         reason: str | None = None) -> Ticket:
    allowed, target = TRANSITIONS[action]
    event = f"feedback.{action}"
    detail: dict[str, Any] = {"ticket_id": ticket_id, "action": action}
    if batch:
        detail["corrected_by_batch"] = batch
    if reason:
        detail["reason"] = reason
    try:
        with file_lock(home, "feedback"):
            current = ticket(home, ticket_id)
            _check_actor(user, current)
            if current.state not in allowed:
                raise StateError(_state_message(current, action))
            values = _row_of(current)
            if action == "correct":
                assert batch is not None
                _check_batch(home, current, batch)
                values["corrected_by_batch"] = batch
            if action == "reject":
                values["reason"] = reason
            values.update(seq=ledger.next_seq(events_path(home)), event_id=uuid.uuid4().hex,
                          at=ledger.now(), action=action, state=target, actor=user,
                          note=note or _default_note(action, batch, reason))
            ledger.append(events_path(home), [values], schema=_schema(), table=FEEDBACK_EVENTS)
    except (StateError, PolicyDenied, NotFound) as refusal:
        audit.record_event(home, user=user, action=event, detail=json.dumps(detail, ensure_ascii=False),
                           decision="refused", reason=str(refusal))
        raise
    audit.record_event(home, user=user, action=event, detail=json.dumps(
        {**detail, "from": current.state, "to": target}, ensure_ascii=False))
    return ticket(home, ticket_id)


def _default_note(action: str, batch: str | None, reason: str | None) -> str:
    if action == "correct":
        return f"corrected in batch {batch}; the next quality run re-checks it"
    if action == "reject":
        return f"rejected: {reason}"
    return "acknowledged by the department"


def _state_message(current: Ticket, action: str) -> str:
    label = f"ticket {current.ticket_id} is {current.state} ({STATE_LABELS[current.state]})"
    if current.closed:
        return f"{label}, which is closed: it cannot be {action}d again; nothing was changed"
    if current.state == "corrected":
        return (f"{label}: the next `govlake quality run` re-checks batch {current.corrected_by_batch} and verifies "
                "or reopens it; nothing was changed")
    return f"{label}: only an open ticket can be acknowledged; nothing was changed"


def _check_actor(user: str, current: Ticket) -> None:
    ledger.check_actor(user, current.department, f"ticket {current.ticket_id}", "acknowledge or resolve it")


def _check_batch(home: Home, current: Ticket, batch: str) -> None:
    """The correcting batch must be an ingested batch of the ticket's dataset, other than the one at fault."""
    import polars as pl

    if batch == current.batch_id:
        raise StateError(f"batch {batch} is the batch that introduced the problem; a correction is a new batch — "
                         "ingest the corrected file and give its batch id (`govlake ingest` prints it)")
    path = home.table_path("system", INGEST_LOG.name)
    logged = delta.read(path, columns=["batch_id", "dataset"]) if delta.is_table(path) else None
    match = None if logged is None else logged.filter(pl.col("batch_id") == batch)
    if match is None or match.height == 0:
        known = [] if logged is None else logged.filter(pl.col("dataset") == current.dataset)["batch_id"].to_list()
        raise NotFound(f"batch {batch!r} is not in system.ingest_log{did_you_mean(batch, known)}; ingest the "
                       "corrected file first (`govlake ingest FILE`) and give the batch id it prints")
    if match["dataset"][0] != current.dataset:
        raise StateError(f"batch {batch} is of dataset {match['dataset'][0]!r}, but ticket {current.ticket_id} is "
                         f"about dataset {current.dataset!r}; give a batch of {current.dataset!r}")
