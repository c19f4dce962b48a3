"""Append-only case ledgers: the storage shared by feedback tickets and objections.

A ledger is a ``system`` Delta table where every row is the full state of one case (a ticket,
an objection) right after one event, numbered by ``seq``. Nothing is ever updated in place:

- the **history** of a case is its rows in ``seq`` order, so "who did what, when" is a plain
  query (``SELECT * FROM delta_scan('.../system/feedback_events') WHERE ticket_id = ...``);
- the **current state** is the last row of each case (:func:`current`);
- an event is **one Delta commit**, so a crash leaves either the whole event or none of it,
  and a commit may carry an app transaction so that repeating a step writes nothing twice.

Writers hold the ledger's :func:`lake.locks.file_lock` from reading the current state to
committing, so two commands cannot both move a case out of the same state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake import delta
from lake.system import SystemTable

if TYPE_CHECKING:
    import polars as pl

#: China Standard Time (no daylight saving): due dates and periods are Beijing calendar days.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")


def now() -> dt.datetime:
    """The current time in UTC, at microsecond precision as Delta stores it."""
    return dt.datetime.now(dt.UTC)


def beijing_date(moment: dt.datetime) -> dt.date:
    """The Beijing calendar date of a UTC timestamp (a due date counts Beijing days)."""
    return moment.astimezone(BEIJING).date()


def read(path: Path) -> pl.DataFrame | None:
    """Every row of the ledger in ``seq`` order, or None when nothing was ever recorded."""
    if not delta.is_table(path):
        return None
    return delta.read(path).sort("seq")


def current(path: Path, key: str) -> pl.DataFrame | None:
    """The last row of each case (its current state), or None when the ledger is empty."""
    rows = read(path)
    if rows is None:
        return None
    return rows.group_by(key, maintain_order=True).last().sort(key)


def next_seq(path: Path) -> int:
    rows = read(path)
    if rows is None or rows.height == 0:
        return 1
    return int(rows["seq"].max()) + 1  # type: ignore[arg-type]


def append(path: Path, rows: Sequence[dict[str, Any]], *, schema: dict[str, Any], table: SystemTable,
           txn: tuple[str, int] | None = None, commit_info: dict[str, str] | None = None) -> int:
    """Append event rows (already numbered) in one commit; return the new Delta version."""
    import polars as pl

    frame = pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema, orient="row")
    return delta.write(path, frame.to_arrow(), mode="append", txn=txn, description=table.description,
                       comments=table.columns, commit_info=commit_info)


def check_actor(user: str, department: str, case: str, may: str) -> None:
    """Refuse ``user`` unless they exist and act for ``department``, the one ``case`` is addressed to.

    ``may`` says what only that department may do ("acknowledge or resolve it").
    """
    from govlake.errors import PolicyDenied, did_you_mean
    from policies import load_policies

    policies = load_policies()
    if user not in policies.users:
        raise PolicyDenied(user, f"unknown user; users are defined in policies/users.toml"
                                 f"{did_you_mean(user, policies.users)}")
    acts_for = policies.users[user].department
    if acts_for != department:
        raise PolicyDenied(user, f"{case} is addressed to department {department!r}, and you act for "
                                 f"{acts_for or 'no department'!r}; only that department may {may}")
