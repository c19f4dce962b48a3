"""Re-checks of corrected feedback tickets: which of each ticket's records a run checked, and where.

A department answers a feedback ticket by sending the records again in a new batch
(``govlake feedback resolve T --corrected-by-batch B``). The ticket may be verified only when a
later run re-checked *each* of its records in B, or in a later batch of the dataset, and they
passed. Counts per batch cannot show that (a batch that leaves a record out passes as well), and
the feedback loop in ``lake/`` cannot rebuild the standardized record keys, so the run records it:

- at its start it reads the tickets in state ``corrected`` of the datasets in scope and each
  ticket's record keys (:func:`lake.feedback.ticket_keys`). Corrections are inputs of the run
  (:func:`fingerprint`): resolving a ticket makes the next run a new run, even on unchanged data,
  while the verdicts of a run's own sync do not, so running again is still the same run;
- while a dataset's record rules are evaluated it notes, for those keys only, in which batch at
  or after B the ticket's rule checked each record and whether it failed there
  (:func:`observe`); when several batches did, the latest counts, as it is the one the libraries
  take;
- it appends one row per ticket × record to ``system.quality_rechecks`` (:func:`table`), whether
  checked or not, in the same Delta app transaction as its other appends.

``lake.feedback.sync_tickets`` reads those rows. No corrected ticket, no work and no row: an
ordinary run pays nothing, and only the keys of tickets awaiting re-check are written, never
every key a run checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from govlake.home import Home
from transforms.quality.context import RECHECK_SCHEMA, RECORD_KEY

if TYPE_CHECKING:
    from transforms.quality.context import QualityContext

#: ``system.quality_rechecks`` (lake/system.py QUALITY_RECHECKS has the column comments).
TABLE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "ticket_id": pl.String(), "rule_id": pl.String(), "dataset": pl.String(),
    "corrected_by_batch": pl.String(), "record_key": pl.String(), "checked": pl.Boolean(),
    "batch_id": pl.String(), "failed": pl.Boolean(),
}


@dataclass(frozen=True)
class Target:
    """A ticket awaiting re-check: its rule, dataset, correcting batch and the keys of its records."""

    ticket_id: str
    rule_id: str
    dataset: str
    corrected_by_batch: str
    keys: tuple[str, ...]


def targets(home: Home, scope: Sequence[str]) -> tuple[Target, ...]:
    """The corrected tickets of the datasets in ``scope``, with their record keys (sorted by ticket)."""
    from lake import feedback

    waiting = [t for t in feedback.tickets(home, state="corrected")
               if t.dataset in scope and t.corrected_by_batch]
    if not waiting:
        return ()
    # Tickets of findings on a line, batch or dataset have no record keys (their samples name none).
    keys = feedback.ticket_keys(home, [t for t in waiting if t.sample_keys])
    return tuple(sorted(
        (Target(t.ticket_id, t.rule_id, t.dataset, t.corrected_by_batch or "", tuple(keys.get(t.ticket_id, ())))
         for t in waiting),
        key=lambda target: target.ticket_id))


def fingerprint(home: Home, scope: Sequence[str]) -> list[list[str]]:
    """The corrections of tickets of the datasets in ``scope`` as inputs of a run: the latest correction
    of each ticket ever corrected (ticket, batch, when), whatever its state now.

    A ticket awaiting re-check has its latest correction here, so resolving one makes a new run.
    A run's sync turning a corrected ticket into verified or open adds no correction, so the run
    after it, on unchanged data, is the same run. (A ticket's record keys are fixed by its ticket
    and the run that found them, which do not change while it is corrected.)
    """
    from lake import feedback

    return [[str(row["ticket_id"]), str(row["corrected_by_batch"]), row["at"].isoformat()]
            for row in feedback.corrections(home) if row["dataset"] in scope]


def batch_ranks(ctx: QualityContext, target: Target) -> dict[str, int]:
    """The correcting batch and the later batches of its dataset, by order of ingestion (0 = the correction)."""
    log = ctx.system("system.ingest_log", ["batch_id", "dataset", "finished_at"])
    if log.is_empty():
        return {target.corrected_by_batch: 0}
    order = (log.filter(pl.col("dataset") == target.dataset).sort("finished_at", "batch_id", nulls_last=True)
             .unique("batch_id", keep="last", maintain_order=True)["batch_id"].to_list())
    if target.corrected_by_batch not in order:
        return {target.corrected_by_batch: 0}
    start = order.index(target.corrected_by_batch)
    return {batch: rank for rank, batch in enumerate(order[start:])}


def observe(frame: pl.DataFrame, flags: pl.DataFrame, rules: Sequence[str],
            waiting: Sequence[tuple[Target, dict[str, int]]]) -> pl.DataFrame:
    """For each ticket's records: the latest batch (at or after the correction) whose rule checked it, and if it failed.

    ``flags`` are :func:`transforms.quality.records.evaluate`'s per-record ``checked_i`` and
    ``failed_i`` columns, aligned with ``frame``; ``rules[i]`` is the rule of column ``i``. A
    rule looking at several items of a record (a birth names child, mother and father) checks
    the record when any item applies and fails it when any fails. Only records whose key is a
    ticket's are looked at (one ``is_in`` over the dataset, then work on those few rows).
    """
    wanted = sorted({key for target, _ in waiting for key in target.keys})
    if not wanted or frame.height == 0:
        return pl.DataFrame(schema=RECHECK_SCHEMA)
    near = flags.with_columns(frame[RECORD_KEY]).filter(pl.col(RECORD_KEY).is_in(wanted))
    parts = []
    for target, ranks in waiting:
        columns = [index for index, rule in enumerate(rules) if rule == target.rule_id]
        if not columns or near.height == 0:
            continue
        parts.append(
            near.filter(pl.col("_batch_id").is_in(list(ranks)) & pl.col(RECORD_KEY).is_in(list(target.keys)))
            .select(pl.col(RECORD_KEY).alias("record_key"), pl.col("_batch_id").alias("batch_id"),
                    pl.any_horizontal([pl.col(f"checked_{i}") for i in columns]).alias("checked"),
                    pl.any_horizontal([pl.col(f"failed_{i}") for i in columns]).alias("failed"))
            .filter(pl.col("checked"))
            .group_by("record_key", "batch_id").agg(pl.col("failed").any())
            .with_columns(pl.col("batch_id").replace_strict(ranks, return_dtype=pl.Int64).alias("rank"))
            .sort("record_key", "rank").group_by("record_key", maintain_order=True).last()
            .select(pl.lit(target.ticket_id).alias("ticket_id"), "record_key", "batch_id", "failed")
        )
    if not parts:
        return pl.DataFrame(schema=RECHECK_SCHEMA)
    return pl.concat(parts).cast(RECHECK_SCHEMA)  # type: ignore[arg-type]


def table(found: pl.DataFrame, waiting: Sequence[Target], run_id: str) -> pl.DataFrame:
    """One row per ticket × record: checked (in which batch, failed or not) or not checked at all."""
    expected: list[dict[str, Any]] = [
        {"ticket_id": t.ticket_id, "rule_id": t.rule_id, "dataset": t.dataset,
         "corrected_by_batch": t.corrected_by_batch, "record_key": key}
        for t in waiting for key in t.keys
    ]
    if not expected:
        return pl.DataFrame(schema=TABLE_SCHEMA)
    frame = pl.DataFrame(expected, schema={name: TABLE_SCHEMA[name] for name in expected[0]})
    return (
        frame.join(found, on=["ticket_id", "record_key"], how="left")
        .with_columns(pl.lit(run_id).alias("run_id"), pl.col("batch_id").is_not_null().alias("checked"))
        .select(list(TABLE_SCHEMA)).cast(TABLE_SCHEMA)  # type: ignore[arg-type]
        .sort("ticket_id", "record_key")
    )
