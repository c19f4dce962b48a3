"""Freshness (``timeliness.cycle.D``): has each dataset been delivered within its update cycle?

One check per dataset in scope: the days from its latest delivery to the run date, against
the catalog's ``update_cycle`` (:data:`lake.catalog.model.CYCLE_DAYS`). A physical dataset is
delivered when a file of it is ingested; a logical one, when its database in place last changed
(or was registered, if later). A catalogued dataset never delivered fails too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from lake.catalog.model import CYCLE_DAYS, CYCLE_LABELS
from transforms.quality.context import COUNT_SCHEMA, FAILURE_SCHEMA, Findings, QualityContext


def _delivered(ctx: QualityContext, dataset_id: str, latest: dict[str, object]) -> dt.date:
    finished = latest["finished_at"]
    assert isinstance(finished, dt.datetime)
    day = finished.date()
    if latest.get("access") == "logical":
        location = Path(str(latest["source_file"]))
        try:
            changed = dt.datetime.fromtimestamp(location.stat().st_mtime, dt.UTC).date()
        except OSError:
            return day
        day = max(day, changed)
    return day


def freshness(ctx: QualityContext) -> Findings:
    log = ctx.system("system.ingest_log")
    counts, failures = [], []
    for rule in ctx.rules_of("freshness"):
        assert rule.dataset is not None
        dataset = ctx.dataset(rule.dataset)
        cycle = CYCLE_DAYS[dataset.update_cycle]
        rows = log.filter(pl.col("dataset") == dataset.id).sort("finished_at") if not log.is_empty() else log
        base = {"rule_id": rule.id, "dataset": dataset.id, "department": rule.department}
        if rows.is_empty():
            counts.append({**base, "batch_id": None, "source_file": None, "checked": 1, "failed": 1})
            failures.append({**base, "batch_id": None, "source_file": None, "source_row": None, "record_key": None,
                             "field": None, "value": None, "detail": "目录已编制但尚未归集任何数据"})
            continue
        latest = rows.row(-1, named=True)
        delivered = _delivered(ctx, dataset.id, latest)
        age = (ctx.run_date - delivered).days
        stale = age > cycle
        place = {"batch_id": latest["batch_id"], "source_file": latest["source_file"]}
        counts.append({**base, **place, "checked": 1, "failed": int(stale)})
        if stale:
            detail = (f"最近一次报送为 {delivered.isoformat()}，距 {ctx.run_date.isoformat()} 已 {age} 天，"
                      f"超过更新周期（{CYCLE_LABELS[dataset.update_cycle]}，{cycle} 天）")
            failures.append({**base, **place, "source_row": None, "record_key": None, "field": None,
                             "value": delivered.isoformat(), "detail": detail})
    return Findings(pl.DataFrame(counts, schema=COUNT_SCHEMA), pl.DataFrame(failures, schema=FAILURE_SCHEMA))
