"""The periodic aggregation and sharing report (归集共享通报), one per department, as Markdown and HTML.

A report is a list of :class:`Section`, each made by one function of :data:`SECTIONS`
``(home, period, department) -> Section``. Adding a section (the sharing engineer's "sharing
and demand") is one line in that list. Each section carries its figures twice: as text and
tables for the documents, and as plain ``figures`` for the dashboard's governance page and
for tests, so the page and the files always show the same numbers.

The report reads GovLake's own records, never a personal record: the catalog, the ingestion
log, the quality results, the feedback tickets and the objections. It is reproducible: every
figure is as of the end of the period (Beijing time), or now for the current period, because
those tables are append-only and their rows carry their time.

    govlake report --period 2026-11                  # every department, and the overview (all.md)
    govlake report --period 2026-11 --department 民政

Files go to ``<home>/reports/<period>/<department>.md`` and ``.html`` (``all`` for the overview).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError
from lake import delta, ledger
from lake.system import INGEST_LOG

if TYPE_CHECKING:
    import polars as pl

    from govlake.home import Home
    from lake.catalog import Catalog

#: Quality dimensions in report order, with their Chinese names (as transforms/quality/derive.py).
DIMENSION_LABELS: dict[str, str] = {
    "completeness": "完整性", "validity": "有效性", "uniqueness": "唯一性", "consistency": "一致性",
    "timeliness": "及时性", "referential": "关联性",
}
CHINESE_NUMERALS = "一二三四五六七八九十"
FRESHNESS = {"on_time": "按时", "overdue": "逾期", "missing": "未归集"}
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A calendar month in Beijing time; figures are as of its end, or as of now while it runs."""

    label: str  # 2026-11
    start: dt.date
    end: dt.date  # last day, inclusive

    @classmethod
    def parse(cls, text: str | None = None) -> Period:
        """``YYYY-MM``, or the current month (Beijing time) when None."""
        if text is None:
            today = ledger.beijing_date(ledger.now())
            text = f"{today.year:04d}-{today.month:02d}"
        match = _PERIOD.match(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise GovLakeError(f"period {text!r} is not a month; write YYYY-MM, e.g. 2026-11")
        year, month = int(match.group(1)), int(match.group(2))
        start = dt.date(year, month, 1)
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        return cls(f"{year:04d}-{month:02d}", start, following - dt.timedelta(days=1))

    @property
    def title(self) -> str:
        return f"{self.start.year} 年 {self.start.month} 月"

    @property
    def cutoff(self) -> dt.datetime:
        """The end of the period (Beijing midnight after its last day), as UTC; later rows are not counted."""
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=ledger.BEIJING)
        return min(end.astimezone(dt.UTC), ledger.now())

    @property
    def begin(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=ledger.BEIJING).astimezone(dt.UTC)

    @property
    def as_of(self) -> dt.date:
        """The day the figures hold for: the period's last day, or today while it runs."""
        return min(self.end, ledger.beijing_date(ledger.now()))


@dataclass
class Table:
    """A table of a section: Chinese column headers and rows of plain values."""

    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    """One part of a report: a title, summary lines, tables, notes and the figures behind them."""

    key: str
    title: str
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


SectionFunction = Callable[["Home", Period, "str | None"], Section]


# --------------------------------------------------------------------------- reading


def _catalog() -> Catalog:
    from lake.catalog import load_catalog

    return load_catalog()


def _ingest_log(home: Home, period: Period) -> pl.DataFrame:
    """Ingestion log rows up to the end of the period (empty with the right columns when none)."""
    import polars as pl

    path = home.table_path("system", INGEST_LOG.name)
    columns: dict[str, Any] = {
        "batch_id": pl.String, "dataset": pl.String, "department": pl.String, "rows_read": pl.Int64,
        "rows_loaded": pl.Int64, "rows_quarantined": pl.Int64, "finished_at": pl.Datetime("us", "UTC"),
    }
    if not delta.is_table(path):
        return pl.DataFrame(schema=columns)
    frame = delta.scan(path).select(list(columns)).filter(pl.col("finished_at") < period.cutoff).collect()
    return frame.cast(columns)  # type: ignore[arg-type]


def _as_of(path: Path, key: str, period: Period) -> pl.DataFrame | None:
    """Each case's state at the end of the period: its last ledger row written before then."""
    import polars as pl

    rows = ledger.read(path)
    if rows is None:
        return None
    rows = rows.filter(pl.col("at") < period.cutoff)
    return rows.group_by(key, maintain_order=True).last()


def _departments(catalog: Catalog, department: str | None) -> list[str]:
    return [department] if department else sorted(catalog.departments)


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


# --------------------------------------------------------------------------- sections


def aggregation(home: Home, period: Period, department: str | None) -> Section:
    """归集情况: datasets catalogued against aggregated, and what arrived in the period."""
    import polars as pl

    catalog = _catalog()
    log = _ingest_log(home, period)
    in_period = log.filter(pl.col("finished_at") >= period.begin)
    rows: list[list[Any]] = []
    figures: dict[str, dict[str, Any]] = {}
    for dept in _departments(catalog, department):
        datasets = sorted(d.id for d in catalog.datasets.values() if d.provider.id == dept)
        mine = log.filter(pl.col("dataset").is_in(datasets))
        now = in_period.filter(pl.col("dataset").is_in(datasets))
        read, quarantined = int(now["rows_read"].sum() or 0), int(now["rows_quarantined"].sum() or 0)
        figures[dept] = {
            "catalogued": len(datasets), "aggregated": mine["dataset"].n_unique(),
            "batches": now.height, "rows_loaded": int(now["rows_loaded"].sum() or 0),
            "rows_quarantined": quarantined, "quarantine_rate": quarantined / read if read else None,
        }
        f = figures[dept]
        rows.append([catalog.departments[dept].name, f["catalogued"], f["aggregated"], f["batches"], f["rows_loaded"],
                     f["rows_quarantined"], _pct(f["quarantine_rate"], 2)])
    total_catalogued = sum(f["catalogued"] for f in figures.values())
    total_aggregated = sum(f["aggregated"] for f in figures.values())
    section = Section("aggregation", "数据归集情况", figures={
        "departments": figures, "catalogued": total_catalogued, "aggregated": total_aggregated,
        "batches": sum(f["batches"] for f in figures.values()),
        "rows_loaded": sum(f["rows_loaded"] for f in figures.values())})
    section.summary.append(
        f"编目数据集 {total_catalogued} 个，已归集 {total_aggregated} 个"
        + (f"（归集率 {_pct(total_aggregated / total_catalogued)}）" if total_catalogued else "")
        + f"；本期归集批次 {section.figures['batches']} 个，入库 {section.figures['rows_loaded']:,} 行。")
    section.tables.append(Table(["部门", "编目数据集", "已归集数据集", "本期批次", "本期入库行数", "本期隔离行数",
                                 "隔离率"], rows))
    if department:
        per_dataset = []
        for dataset in sorted((d for d in catalog.datasets.values() if d.provider.id == department),
                              key=lambda d: d.code):
            mine = in_period.filter(pl.col("dataset") == dataset.id)
            per_dataset.append([dataset.code, dataset.name, mine.height, int(mine["rows_loaded"].sum() or 0),
                                int(mine["rows_quarantined"].sum() or 0)])
        section.tables.append(Table(["资源代码", "数据集", "本期批次", "入库行数", "隔离行数"], per_dataset))
    return section


def freshness(home: Home, period: Period, department: str | None) -> Section:
    """时效: each dataset's last batch against its declared update cycle, as of the period's end."""
    import polars as pl

    from lake.catalog.model import CYCLE_DAYS, CYCLE_LABELS

    catalog = _catalog()
    log = _ingest_log(home, period)
    last = {row["dataset"]: row["finished_at"] for row in
            log.group_by("dataset").agg(pl.col("finished_at").max()).iter_rows(named=True)}
    rows, counts = [], dict.fromkeys(FRESHNESS, 0)
    for dataset in sorted(catalog.datasets.values(), key=lambda d: (d.provider.id, d.code)):
        if department and dataset.provider.id != department:
            continue
        when = last.get(dataset.id)
        if when is None:
            status, lag = "missing", None
        else:
            lag = (period.as_of - ledger.beijing_date(when)).days
            status = "overdue" if lag > CYCLE_DAYS[dataset.update_cycle] else "on_time"
        counts[status] += 1
        if status != "on_time" or department:
            rows.append([dataset.provider.short_name, dataset.code, dataset.name, CYCLE_LABELS[dataset.update_cycle],
                         "—" if when is None else ledger.beijing_date(when).isoformat(),
                         "—" if lag is None else lag, FRESHNESS[status]])
    section = Section("freshness", "数据时效", figures=dict(counts))
    section.summary.append(f"截至 {period.as_of.isoformat()}，按时更新 {counts['on_time']} 个，"
                           f"逾期 {counts['overdue']} 个，尚未归集 {counts['missing']} 个"
                           "（按目录声明的更新周期判断：每日 1 天、每月 31 天等）。")
    if rows:
        section.tables.append(Table(["部门", "资源代码", "数据集", "更新周期", "最近归集", "距今天数", "状态"], rows))
    return section


def quality(home: Home, period: Period, department: str | None) -> Section:
    """质量: scores per dimension from the latest quality run of the period, and the change since the run before."""
    import polars as pl

    path = home.table_path("system", "quality_results")
    section = Section("quality", "数据质量")
    results = None
    if delta.is_table(path):
        results = delta.scan(path).filter(pl.col("run_at") < period.cutoff).collect()
        if department:
            results = results.filter(pl.col("department") == department)
    if results is None or results.height == 0:
        section.summary.append("本期暂无质量检查结果：运行 `govlake quality run` 后重新生成本通报。")
        section.figures = {"runs": 0}
        return section
    runs = results.group_by("run_id").agg(pl.col("run_at").max()).sort("run_at", "run_id")
    latest_id = runs["run_id"][-1]
    previous_id = runs["run_id"][-2] if runs.height > 1 else None
    in_period = runs.filter(pl.col("run_at") >= period.begin).height

    def scores(run_id: str | None) -> dict[str, float | None]:
        if run_id is None:
            return {}
        run = results.filter(pl.col("run_id") == run_id)
        out: dict[str, float | None] = {}
        for dimension in [*DIMENSION_LABELS, "overall"]:
            rows = run if dimension == "overall" else run.filter(pl.col("dimension") == dimension)
            checked, failed = int(rows["checked"].sum() or 0), int(rows["failed"].sum() or 0)
            out[dimension] = 1 - failed / checked if checked else None
        return out

    now, before = scores(latest_id), scores(previous_id)
    latest_at = runs["run_at"][-1]
    section.figures = {"runs": runs.height, "runs_in_period": in_period, "run_id": latest_id,
                       "run_at": latest_at.isoformat(), "previous_run_id": previous_id, "scores": now,
                       "previous_scores": before}
    change = ""
    if before.get("overall") is not None and now.get("overall") is not None:
        delta_points = (now["overall"] - before["overall"]) * 100  # type: ignore[operator]
        direction = "上升" if delta_points >= 0 else "下降"
        change = f"，较上次检查（{previous_id}）{direction} {abs(delta_points):.2f} 个百分点"
    section.summary.append(
        f"最近一次质量检查 {latest_id}（{ledger.beijing_date(latest_at).isoformat()}），综合得分 "
        f"{_pct(now.get('overall'), 2)}{change}；本期共检查 {in_period} 次。")
    rows = []
    for dimension, label in DIMENSION_LABELS.items():
        if now.get(dimension) is None and before.get(dimension) is None:
            continue
        trend = "—"
        if now.get(dimension) is not None and before.get(dimension) is not None:
            points = (now[dimension] - before[dimension]) * 100  # type: ignore[operator]
            trend = "持平" if abs(points) < 0.005 else f"{'↑' if points > 0 else '↓'} {abs(points):.2f}"
        rows.append([label, _pct(now.get(dimension), 2), _pct(before.get(dimension), 2), trend])
    section.tables.append(Table(["维度", "本次得分", "上次得分", "变化（百分点）"], rows))
    latest = results.filter(pl.col("run_id") == latest_id)
    worst = (latest.group_by("dataset").agg(pl.col("checked").sum(), pl.col("failed").sum())
             .filter(pl.col("checked") > 0)
             .with_columns((1 - pl.col("failed") / pl.col("checked")).alias("score")).sort("score", "dataset"))
    catalog = _catalog()
    section.tables.append(Table(["数据集", "检查记录次数", "不通过", "得分"], [
        [catalog.datasets[r["dataset"]].name if r["dataset"] in catalog.datasets else r["dataset"], r["checked"],
         r["failed"], _pct(r["score"], 2)] for r in worst.head(10).iter_rows(named=True)]))
    section.notes.append("得分 = 1 − 不通过次数 ÷ 检查次数（规则 × 记录）；维度与规则见 `govlake quality report`。")
    return section


def feedback_tickets(home: Home, period: Period, department: str | None) -> Section:
    """问题数据反馈: tickets by state, opened and closed in the period, and the overdue ones."""
    import polars as pl

    from lake.feedback import PENDING, STATE_LABELS, STATES, events_path

    section = Section("feedback", "问题数据反馈")
    current = _as_of(events_path(home), "ticket_id", period)
    if current is not None and department:
        current = current.filter(pl.col("department") == department)
    if current is None or current.height == 0:
        section.summary.append("本期没有问题数据反馈工单。")
        section.figures = {"total": 0, "overdue": 0, "opened_in_period": 0, **dict.fromkeys(STATES, 0)}
        return section
    counts = {state: current.filter(pl.col("state") == state).height for state in STATES}
    overdue = current.filter(pl.col("state").is_in(PENDING) & (pl.col("due_date") < period.as_of)).sort("due_date")
    opened = current.filter(pl.col("opened_at") >= period.begin).height
    section.figures = {"total": current.height, "overdue": overdue.height, "opened_in_period": opened, **counts}
    section.summary.append(
        f"工单 {current.height} 张：" + "，".join(f"{STATE_LABELS[s]} {n} 张" for s, n in counts.items())
        + f"；本期新建 {opened} 张；逾期未办 {overdue.height} 张。")
    by_department = current.group_by("department").agg(
        *(pl.col("state").eq(s).sum().alias(s) for s in STATES),
        (pl.col("state").is_in(PENDING) & (pl.col("due_date") < period.as_of)).sum().alias("overdue"),
    ).sort("department")
    catalog = _catalog()
    section.tables.append(Table(["部门", *(STATE_LABELS[s] for s in STATES), "逾期"], [
        [catalog.departments[r["department"]].short_name, *(r[s] for s in STATES), r["overdue"]]
        for r in by_department.iter_rows(named=True)]))
    if overdue.height:
        headers = ["工单", "部门", "数据集", "规则", "问题记录数", "引入批次", "整改期限", "逾期天数"]
        section.tables.append(Table(headers, [
            [r["ticket_id"], catalog.departments[r["department"]].short_name, r["dataset"], r["rule_id"],
             r["failed_records"], r["batch_id"] or "—", r["due_date"].isoformat(), (period.as_of - r["due_date"]).days]
            for r in overdue.head(50).iter_rows(named=True)]))
    return section


def objection_cases(home: Home, period: Period, department: str | None) -> Section:
    """数据异议: cases by state, filed and resolved in the period, time to resolve, overdue ones."""
    import polars as pl

    from lake.objections import STATE_LABELS, STATES, ledger_path

    section = Section("objections", "数据异议处理")
    current = _as_of(ledger_path(home), "case_id", period)
    if current is not None and department:
        current = current.filter(pl.col("department") == department)
    if current is None or current.height == 0:
        section.summary.append("本期没有数据异议。")
        section.figures = {"total": 0, "filed_in_period": 0, "resolved_in_period": 0, "overdue": 0,
                           **dict.fromkeys(STATES, 0)}
        return section
    counts = {state: current.filter(pl.col("state") == state).height for state in STATES}
    filed = current.filter(pl.col("filed_at") >= period.begin).height
    resolved = current.filter((pl.col("state") != "open") & (pl.col("at") >= period.begin))
    overdue = current.filter((pl.col("state") == "open") & (pl.col("due_date") < period.as_of))
    days = resolved.select(((pl.col("at") - pl.col("filed_at")).dt.total_seconds() / 86400).alias("d"))["d"]
    median = float(days.median()) if days.len() else None  # type: ignore[arg-type]
    section.figures = {"total": current.height, "filed_in_period": filed, "resolved_in_period": resolved.height,
                       "overdue": overdue.height, "median_days_to_resolve": median, **counts}
    section.summary.append(
        f"异议 {current.height} 件：" + "，".join(f"{STATE_LABELS[s]} {n} 件" for s, n in counts.items())
        + f"；本期提出 {filed} 件，办结 {resolved.height} 件"
        + (f"（办理时长中位数 {median:.1f} 天）" if median is not None else "") + f"；逾期未办 {overdue.height} 件。")
    catalog = _catalog()
    shown = current.sort("filed_at")
    section.tables.append(Table(["异议编号", "处理部门", "视图.列", "状态", "提出日期", "办理期限", "办结说明"], [
        [r["case_id"], catalog.departments[r["department"]].short_name, f"{r['view']}.{r['column']}",
         STATE_LABELS[r["state"]], ledger.beijing_date(r["filed_at"]).isoformat(), r["due_date"].isoformat(),
         (r["resolution"] or "—")[:60]]
        for r in shown.head(100).iter_rows(named=True)]))
    section.notes.append("通报不列记录标识和取值；详情见 `govlake objection show 异议编号`（仅限经授权人员）。")
    return section


def sharing_and_demand(home: Home, period: Period, department: str | None) -> Section:
    """数据共享与供需对接: requests, grants, usage and demands (lake/sharing_report.py)."""
    from lake.sharing_report import sharing_and_demand as section

    return section(home, period, department)


#: The report, in order. Each function makes one section; append one to add a section.
SECTIONS: list[SectionFunction] = [aggregation, freshness, quality, feedback_tickets, objection_cases,
                                   sharing_and_demand]


# --------------------------------------------------------------------------- writing


@dataclass
class Report:
    """One department's report (``department`` None: the overview of all departments)."""

    period: Period
    department: str | None
    department_name: str
    generated_at: dt.datetime
    sections: list[Section]

    @property
    def slug(self) -> str:
        return self.department or "all"

    @property
    def title(self) -> str:
        return f"{self.period.title}数据归集共享通报（{self.department_name}）"


def build_report(home: Home, period: Period, department: str | None = None) -> Report:
    """Run every section of :data:`SECTIONS` for one department (id, name or short name) or all."""
    catalog = _catalog()
    department_id = catalog.department(department).id if department else None
    name = catalog.departments[department_id].name if department_id else "全部部门"
    return Report(period, department_id, name, ledger.now(), [make(home, period, department_id) for make in SECTIONS])


def report(home: Home, *, period: str | None = None, department: str | None = None) -> list[Report]:
    """Write the period's reports (Markdown and HTML, plus the figures as JSON); return them, the overview last.

    With ``department``, that department's report only; else one per department and the overview.
    """
    chosen = Period.parse(period)
    catalog = _catalog()
    targets: list[str | None] = [catalog.department(department).id] if department else [*sorted(catalog.departments),
                                                                                         None]
    made = [build_report(home, chosen, target) for target in targets]
    for one in made:
        write(home, one)
    return made


def write(home: Home, made: Report) -> list[Path]:
    """Write one report as ``<home>/reports/<period>/<department|all>.md``, ``.html`` and ``.json``."""
    folder = home.reports / made.period.label
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in ((".md", markdown(made)), (".html", to_html(made)), (".json", figures_json(made))):
        path = folder / f"{made.slug}{suffix}"
        partial = path.with_name(f".{path.name}.part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # a reader never sees half a report
        written.append(path)
    return written


def _header(made: Report) -> list[str]:
    return [f"统计期：{made.period.start.isoformat()} 至 {made.period.end.isoformat()}（北京时间），数据截至 "
            f"{made.period.as_of.isoformat()}",
            f"生成时间：{made.generated_at.astimezone(ledger.BEIJING):%Y-%m-%d %H:%M}（北京时间），由 GovLake 生成"]


def _cell(value: Any) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(made: Report) -> str:
    lines = [f"# {made.title}", "", *(f"{line}  " for line in _header(made)), ""]
    for number, section in enumerate(made.sections):
        lines += [f"## {CHINESE_NUMERALS[number] if number < 10 else number + 1}、{section.title}", ""]
        lines += [*section.summary, ""] if section.summary else []
        for table in section.tables:
            if not table.rows:
                continue
            lines.append("| " + " | ".join(table.columns) + " |")
            lines.append("|" + "|".join("---:" if isinstance(table.rows[0][i], int | float) else "---"
                                        for i in range(len(table.columns))) + "|")
            lines += ["| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |" for row in table.rows]
            lines.append("")
        lines += [*(f"> {note}" for note in section.notes), ""] if section.notes else []
    return "\n".join(lines).rstrip() + "\n"


_STYLE = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1f2933}
h1{color:#1f5fbf;font-size:1.6em}
h2{border-bottom:2px solid #1f5fbf;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.8em 0;width:100%}
th,td{border:1px solid #cbd2d9;padding:.35em .6em;font-size:.92em}
th{background:#eef4fc;text-align:left}
td.n{text-align:right}
.meta{color:#616e7c;font-size:.9em}
.note{color:#616e7c;font-size:.88em;border-left:3px solid #cbd2d9;padding-left:.6em}
"""


def _inline(text: str) -> str:
    """Escape, then show `code` spans as <code> (the only Markdown the sections use)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def to_html(made: Report) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
             f"<title>{html.escape(made.title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(made.title)}</h1>"]
    parts += [f'<p class="meta">{html.escape(line)}</p>' for line in _header(made)]
    for number, section in enumerate(made.sections):
        label = CHINESE_NUMERALS[number] if number < 10 else str(number + 1)
        parts.append(f'<section id="{html.escape(section.key)}"><h2>{label}、{html.escape(section.title)}</h2>')
        parts += [f"<p>{_inline(line)}</p>" for line in section.summary]
        for table in section.tables:
            if not table.rows:
                continue
            parts.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
                         + "</tr></thead><tbody>")
            for row in table.rows:
                parts.append("<tr>" + "".join(
                    f'<td class="n">{html.escape(_cell(v))}</td>' if isinstance(v, int | float)
                    else f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>")
            parts.append("</tbody></table>")
        parts += [f'<p class="note">{_inline(note)}</p>' for note in section.notes]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def figures_json(made: Report) -> str:
    return json.dumps({
        "period": made.period.label, "department": made.department, "generated_at": made.generated_at.isoformat(),
        "as_of": made.period.as_of.isoformat(), "sections": {s.key: s.figures for s in made.sections},
    }, ensure_ascii=False, indent=2, default=str) + "\n"
