"""``govlake quality report``: scorecards per dataset, department and dimension, and the change since the last run.

A score is ``1 − failed / checked`` over the result rows it covers, shown as a percentage.

**Which rows a scorecard reads.** A run may cover some datasets only (``--dataset``). The state
after a run is, for each dataset, the rows of the latest run up to then that covered it. The
report compares the state after the latest run with the state after the run before it, so a
partial run changes the figures of its datasets only.

>>> # print(render(scorecard(home)))
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from govlake.home import Home
from lake import delta
from lake.system import QUALITY_RESULTS
from transforms.quality.derive import DIMENSION_LABELS, DIMENSIONS

#: Rules with the most failures listed in the report.
TOP_RULES = 10


@dataclass
class Scorecard:
    run_id: str | None = None
    run_at: dt.datetime | None = None
    previous_run_id: str | None = None
    previous_run_at: dt.datetime | None = None
    runs: int = 0
    overall: dict[str, Any] = field(default_factory=dict)
    by_dimension: pl.DataFrame = field(default_factory=pl.DataFrame)
    by_department: pl.DataFrame = field(default_factory=pl.DataFrame)
    by_dataset: pl.DataFrame = field(default_factory=pl.DataFrame)
    top_rules: pl.DataFrame = field(default_factory=pl.DataFrame)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "run_at": self.run_at.isoformat() if self.run_at else None,
            "previous_run_id": self.previous_run_id,
            "previous_run_at": self.previous_run_at.isoformat() if self.previous_run_at else None,
            "runs": self.runs, "overall": self.overall,
            "by_dimension": self.by_dimension.to_dicts(), "by_department": self.by_department.to_dicts(),
            "by_dataset": self.by_dataset.to_dicts(), "top_rules": self.top_rules.to_dicts(),
        }


def runs(results: pl.DataFrame) -> pl.DataFrame:
    """Every run, oldest first: run_id, run_at."""
    return results.group_by("run_id").agg(pl.col("run_at").min()).sort("run_at", "run_id")


def state(results: pl.DataFrame, until: dt.datetime) -> pl.DataFrame:
    """The result rows standing after the run at ``until``: per dataset, its latest run up to then."""
    upto = results.filter(pl.col("run_at") <= until)
    latest = upto.group_by("dataset").agg(pl.col("run_at").max().alias("latest"))
    return upto.join(latest, on="dataset").filter(pl.col("run_at") == pl.col("latest")).drop("latest")


def _scores(rows: pl.DataFrame, by: str) -> pl.DataFrame:
    return (rows.group_by(by).agg(pl.col("checked").sum(), pl.col("failed").sum())
            .with_columns((1 - pl.col("failed") / pl.col("checked")).alias("score")))


def _with_change(now: pl.DataFrame, before: pl.DataFrame | None, by: str) -> pl.DataFrame:
    if before is None or before.is_empty():
        return now.with_columns(pl.lit(None, pl.Float64).alias("previous_score"),
                                pl.lit(None, pl.Float64).alias("change"))
    return now.join(before.select(by, pl.col("score").alias("previous_score")), on=by, how="left").with_columns(
        (pl.col("score") - pl.col("previous_score")).alias("change"))


def scorecard(home: Home) -> Scorecard:
    """Scorecards of the latest state, with the change since the previous run."""
    from lake.catalog import load_catalog
    from lake.catalog.quality import load_quality_rules

    path = home.table_path("system", QUALITY_RESULTS.name)
    if not delta.is_table(path):
        return Scorecard()
    results = delta.read(path)
    if results.is_empty():
        return Scorecard()
    ordered = runs(results)
    card = Scorecard(runs=ordered.height)
    card.run_id, card.run_at = ordered.row(-1)
    now = state(results, card.run_at)
    before = None
    if ordered.height > 1:
        card.previous_run_id, card.previous_run_at = ordered.row(-2)
        before = state(results, card.previous_run_at)
    catalog = load_catalog()
    declared = load_quality_rules()
    departments = {d.id: d.short_name for d in catalog.departments.values()}
    names = {d.id: d.name for d in catalog.datasets.values()}
    owners = {d.id: d.provider.id for d in catalog.datasets.values()}

    def both(by: str) -> pl.DataFrame:
        return _with_change(_scores(now, by), None if before is None else _scores(before, by), by)

    order = {name: i for i, name in enumerate(DIMENSIONS)}
    card.by_dimension = both("dimension").with_columns(
        pl.col("dimension").replace_strict(DIMENSION_LABELS, default="").alias("label"),
        pl.col("dimension").replace_strict(order, default=len(order)).alias("_order"),
    ).sort("_order").drop("_order")
    card.by_department = both("department").with_columns(
        pl.col("department").replace_strict(departments, default=pl.col("department")).alias("name"),
    ).sort("score", "department")
    card.by_dataset = both("dataset").with_columns(
        pl.col("dataset").replace_strict(names, default=pl.col("dataset")).alias("name"),
        pl.col("dataset").replace_strict(owners, default=None).replace_strict(departments, default=None)
        .alias("department"),
        pl.col("dataset").map_elements(declared.threshold, return_dtype=pl.Float64).alias("pass_mark"),
    ).with_columns((pl.col("score") >= pl.col("pass_mark")).alias("passing")).sort("score", "dataset")
    total = now.select(pl.col("checked").sum(), pl.col("failed").sum()).row(0, named=True)
    previous_total = None if before is None else before.select(pl.col("checked").sum(), pl.col("failed").sum()).row(
        0, named=True)
    score = 1 - total["failed"] / total["checked"] if total["checked"] else None
    previous = (1 - previous_total["failed"] / previous_total["checked"]
                if previous_total and previous_total["checked"] else None)
    card.overall = {"checked": total["checked"], "failed": total["failed"], "score": score,
                    "previous_score": previous,
                    "change": score - previous if score is not None and previous is not None else None}
    card.top_rules = (
        now.group_by("rule_id", "dataset", "dimension", "department")
        .agg(pl.col("checked").sum(), pl.col("failed").sum())
        .filter(pl.col("failed") > 0).sort("failed", "rule_id", descending=[True, False]).head(TOP_RULES)
    )
    return card


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _change(value: float | None) -> str:
    if value is None:
        return "-"
    points = value * 100
    return "0.00 pp" if abs(points) < 0.005 else f"{points:+.2f} pp"


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Han characters and full-width forms take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def _table(frame: pl.DataFrame, label: str, header: str, extra: list[tuple[str, str]] | None = None) -> list[str]:
    extra = extra or []
    rows = [(str(row[label]), f"{row['checked']:,}", f"{row['failed']:,}", _percent(row["score"]),
             _change(row["change"]), *[fmt.format(row[col]) for col, fmt in extra])
            for row in frame.iter_rows(named=True)]
    heads = (header, "checked", "failed", "score", "change", *[col for col, _ in extra])
    widths = [max(display_width(cells[i]) for cells in (heads, *rows)) for i in range(len(heads))]

    def line(cells: tuple[str, ...]) -> str:
        return "  " + "  ".join(_pad(cell, width, right=i > 0) for i, (cell, width) in enumerate(zip(cells, widths,
                                                                                                        strict=True)))
    return [line(heads), *(line(r) for r in rows)]


def render(card: Scorecard) -> str:
    """The scorecards as plain text tables."""
    if card.run_id is None:
        return "No quality results yet: run `govlake quality run` first."
    stamp = card.run_at.strftime("%Y-%m-%d %H:%M:%S UTC") if card.run_at else "?"
    lines = [f"Quality scorecards after run {card.run_id} ({stamp}); {card.runs} run(s) recorded."]
    if card.previous_run_id and card.previous_run_at:
        lines.append(f"Change since the previous run {card.previous_run_id} "
                     f"({card.previous_run_at.strftime('%Y-%m-%d %H:%M:%S UTC')}), in percentage points.")
    else:
        lines.append("No previous run to compare with.")
    lines.append("Score = 1 - failed/checked.")
    overall = card.overall
    lines += ["", f"Overall: {overall['checked']:,} checked, {overall['failed']:,} failed, score "
                  f"{_percent(overall['score'])}, change {_change(overall['change'])}"]
    dimension = card.by_dimension.with_columns(
        pl.concat_str([pl.col("dimension"), pl.lit(" "), pl.col("label")]).alias("shown"))
    lines += ["", "By dimension", *_table(dimension, "shown", "dimension")]
    department = card.by_department.with_columns(
        pl.concat_str([pl.col("department"), pl.lit(" "), pl.col("name")]).alias("shown"))
    lines += ["", "By department (owner of the data item, one source per data item)",
              *_table(department, "shown", "department")]
    dataset = card.by_dataset.with_columns(
        pl.concat_str([pl.col("dataset"), pl.lit(" "), pl.col("name")]).alias("shown"),
        pl.when(pl.col("passing")).then(pl.lit("ok")).otherwise(pl.lit("BELOW")).alias("status"),
    )
    lines += ["", "By dataset", *_table(dataset, "shown", "dataset", [("pass_mark", "{:.0%}"), ("status", "{}")])]
    if card.top_rules.height:
        lines += ["", f"Rules with the most failures (top {TOP_RULES})"]
        width = max(len(r) for r in card.top_rules["rule_id"])
        lines += [f"  {row['rule_id']:<{width}}  {row['failed']:>9,} of {row['checked']:>11,}  ({row['dimension']}, "
                  f"{row['department']})" for row in card.top_rules.iter_rows(named=True)]
    return "\n".join(lines)
