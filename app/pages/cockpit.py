"""总览 (cockpit): the headline figures for the chosen division, each with a trend and the previous period.

Population, births and deaths this year, active market entities, new registrations this month,
the share of entities with a bad credit grade (D 差) against last month end (``credit_grade_history``,
twelve month ends re-graded by the build), and the datasets aggregated on the data date against
the day before (``aggregation_daily``, an exact count per day from the ingest log).
Figures the user's role does not grant are shown as "无权查看", never as an error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import streamlit as st

from app import charts
from app.data import Reader
from app.drill import Division
from app.format import BAD_GRADES, MARKET_CATEGORIES, count, last_months, month_start, percent, points, signed
from app.page import context, header


@dataclass(frozen=True)
class Figure:
    """One headline figure: its value, a change against the previous period, and a trend."""

    label: str
    value: str
    delta: str | None = None
    delta_description: str | None = None
    trend: tuple[float, ...] = ()
    help: str = ""
    chart_type: str = "area"
    #: "normal" (up is good), "inverse" (up is bad) or "off" (the delta is context, not a change)
    delta_color: str = "normal"


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _market_in(column: str = "category") -> str:
    return f"{column} IN ({', '.join(repr(c) for c in MARKET_CATEGORIES)})"


def population_figures(reader: Reader, division: Division) -> list[Figure]:
    """Living registered population, and births and deaths this year against the same months last year."""
    as_of = reader.as_of
    persons = reader.sql(f"SELECT sum(hukou_persons) AS hukou, sum(resident_persons) AS resident "
                         f"FROM population_structure WHERE {division.total_filter()}")
    monthly = reader.sql(
        "SELECT month, sum(births_registered) AS births, sum(deaths_registered) AS deaths "
        f"FROM vital_statistics WHERE {division.total_filter()} GROUP BY month ORDER BY month"
    )
    year_start, last_year_start = dt.date(as_of.year, 1, 1), dt.date(as_of.year - 1, 1, 1)
    same_day_last_year = dt.date(as_of.year - 1, as_of.month, 1)

    def total(column: str, start: dt.date, end: dt.date) -> int:
        rows = monthly.filter((pl.col("month") >= start) & (pl.col("month") <= end))
        return _int(rows[column].sum())

    births = total("births", year_start, as_of)
    deaths = total("deaths", year_start, as_of)
    births_before = total("births", last_year_start, same_day_last_year)
    deaths_before = total("deaths", last_year_start, same_day_last_year)
    recent = charts.complete(monthly, "month", last_months(as_of, 24), zero=("births", "deaths"))
    hukou = _int(persons["hukou"][0]) if persons.height else 0
    # Population at the end of each earlier year, from this year's figure and the natural change since.
    yearly = (monthly.with_columns(pl.col("month").dt.year().alias("year"))
              .group_by("year").agg((pl.col("births") - pl.col("deaths")).sum().alias("net")).sort("year"))
    path, running = [float(hukou)], hukou
    for net in reversed(yearly["net"].to_list()[1:]):
        running -= int(net)
        path.append(float(running))
    natural_change = births - deaths
    return [
        Figure("户籍人口（在世）", count(hukou, "人"), signed(natural_change, "人"), "较上年末",
               tuple(reversed(path)),
               help="户籍在本区划的在世人口。与上年末之差和趋势按各年出生、死亡登记推算（未计迁入迁出）。"),
        Figure(f"{as_of.year}年出生", count(births, "人"), signed(births - births_before, "人"),
               "较去年同期", tuple(float(v) for v in recent["births"].to_list()),
               help=f"人口库登记的出生人数（按户籍地），与去年1—{as_of.month}月比较；趋势为近24个月逐月出生数。"),
        Figure(f"{as_of.year}年死亡", count(deaths, "人"), signed(deaths - deaths_before, "人"),
               "较去年同期", tuple(float(v) for v in recent["deaths"].to_list()),
               help=f"人口库登记的死亡人数（按户籍地），与去年1—{as_of.month}月比较；趋势为近24个月逐月死亡数。",
               delta_color="inverse"),
    ]


def entity_figures(reader: Reader, division: Division) -> list[Figure]:
    """Active market entities and new registrations this month, against last month."""
    as_of = reader.as_of
    monthly = reader.sql(
        "SELECT month, sum(registered) AS registered, sum(cancelled) AS cancelled, sum(revoked) AS revoked "
        f"FROM entity_registrations WHERE {division.total_filter()} AND {_market_in()} "
        "GROUP BY month ORDER BY month"
    ).with_columns((pl.col("registered") - pl.col("cancelled") - pl.col("revoked")).alias("net"))
    monthly = monthly.with_columns(pl.col("net").cum_sum().alias("active"))
    active = _int(monthly["net"].sum())
    this_month, last_month = month_start(as_of), month_start(as_of, 1)

    def in_month(column: str, month: dt.date) -> int:
        return _int(monthly.filter(pl.col("month") == month)[column].sum())

    months = pl.DataFrame({"month": [month_start(as_of, back) for back in range(23, -1, -1)]})
    series = months.join(monthly, on="month", how="left").with_columns(
        pl.col("registered").fill_null(0), pl.col("active").forward_fill().fill_null(0))
    registered_now, registered_before = in_month("registered", this_month), in_month("registered", last_month)
    yearly = (monthly.with_columns(pl.col("month").dt.year().alias("year"))
              .filter(pl.col("year") > as_of.year - 10).group_by("year").agg(pl.col("registered").sum()).sort("year"))

    def year_to_date(year: int) -> int:
        rows = monthly.filter(pl.col("month").is_between(dt.date(year, 1, 1), dt.date(year, as_of.month, 1)))
        return _int(rows["registered"].sum())

    this_year, last_year = year_to_date(as_of.year), year_to_date(as_of.year - 1)
    return [
        Figure("存续市场主体", count(active, "户"), signed(in_month("net", this_month), "户"), "较上月末",
               tuple(float(v) for v in series["active"].to_list()),
               help="企业、个体工商户、农民专业合作社：累计成立减注销、吊销；趋势为近24个月月末存续数。"),
        Figure(f"{as_of.month}月新登记", count(registered_now, "户"), signed(registered_now - registered_before, "户"),
               "较上月", tuple(float(v) for v in series["registered"].to_list()),
               help=f"{as_of.year}年{as_of.month}月成立登记的市场主体（截至数据日期）；趋势为近24个月逐月新登记数。"),
        Figure(f"{as_of.year}年新登记", count(this_year, "户"), signed(this_year - last_year, "户"), "较去年同期",
               tuple(float(v) for v in yearly["registered"].to_list()),
               help=f"{as_of.year}年1月至数据日期成立登记的市场主体，与去年1—{as_of.month}月比较；"
                    "趋势为近10年逐年新登记数（本年截至数据日期）。", chart_type="bar"),
    ]


def credit_figure(reader: Reader, division: Division) -> Figure:
    """The share of rated entities graded D (差), with its month-end trend and the change since last month end."""
    grades = reader.sql(
        f"SELECT grade, sum(subjects) AS subjects FROM credit_grades WHERE {division.total_filter()} "
        "AND subject_type = 'entity' GROUP BY grade ORDER BY grade"
    )
    total = _int(grades["subjects"].sum())
    bad = _int(grades.filter(pl.col("grade").is_in(BAD_GRADES))["subjects"].sum())
    share = bad / total if total else None
    label, counts = "信用差（D级）单位占比", f"差级 {count(bad)} / 参评 {count(total)} 户"
    if not reader.has("credit_grade_history"):
        return Figure(label, percent(share), f"{count(bad)} / {count(total)} 户", "差级/参评", (), delta_color="off",
                      help="信用等级按构建参考日评定（A优、B良、C中、D差）。当前账号未获授权查看信用等级月度变化"
                           "（credit_grade_history），无趋势和上期对比。")
    history = bad_share_by_month(reader, division)
    previous = history.filter(pl.col("graded_on") < reader.as_of).tail(1)
    before = previous["bad_share"][0] if previous.height else None
    change = share - before if share is not None and before is not None else None
    return Figure(label, percent(share), points(change), "较上月末", tuple(history["bad_share"].fill_null(0).to_list()),
                  help=f"{counts}。信用等级按声明的规则评定（A优、B良、C中、D差）；趋势为近12个月各月末和数据日期的"
                       "差级单位占比，历史月份按现有信用事实和现行规则回溯评定。",
                  delta_color="inverse")


def bad_share_by_month(reader: Reader, division: Division) -> pl.DataFrame:
    """``graded_on`` and ``bad_share`` (D-graded / rated entities) per month end and the data date, oldest first."""
    return reader.sql(
        "SELECT graded_on, sum(subjects) FILTER (WHERE grade IN "
        f"({', '.join(repr(g) for g in BAD_GRADES)})) AS bad, sum(subjects) AS subjects FROM credit_grade_history "
        f"WHERE {division.total_filter()} GROUP BY graded_on ORDER BY graded_on"
    ).with_columns((pl.col("bad").fill_null(0) / pl.col("subjects")).alias("bad_share"))


#: Days of the daily aggregation trend.
AGGREGATION_DAYS = 30


def aggregation_figure(reader: Reader) -> Figure:
    """Datasets with a batch aggregated on the data date, against the day before, with a 30-day trend."""
    as_of = reader.as_of
    first = as_of - dt.timedelta(days=AGGREGATION_DAYS - 1)
    daily = reader.sql(
        "SELECT day, count(DISTINCT dataset) AS datasets, sum(batches) AS batches FROM aggregation_daily "
        f"WHERE day BETWEEN DATE '{first}' AND DATE '{as_of}' GROUP BY day ORDER BY day")
    days = [first + dt.timedelta(days=offset) for offset in range(AGGREGATION_DAYS)]
    series = charts.complete(daily, "day", days, zero=("datasets", "batches"))

    def on(day: dt.date, column: str = "datasets") -> int:
        return _int(series.filter(pl.col("day") == day)[column].sum())

    today, yesterday = on(as_of), on(as_of - dt.timedelta(days=1))
    catalogued = ""
    if reader.has("department_aggregation"):
        total = _int(reader.sql("SELECT sum(datasets_catalogued) AS n FROM department_aggregation")["n"].sum())
        catalogued = f"目录共编目 {total} 个数据集。"
    return Figure("当日归集数据集", count(today, "个"), signed(today - yesterday, "个"), "较前一日",
                  tuple(float(v) for v in series["datasets"].to_list()),
                  help=f"数据日期（{as_of.month}月{as_of.day}日）当天完成归集（物理汇聚或逻辑接入）的数据集数，"
                       f"共 {on(as_of, 'batches')} 批；{catalogued}趋势为近{AGGREGATION_DAYS}天逐日归集的数据集数。",
                  chart_type="bar")


def show(figures: list[Figure], columns: int = 4) -> None:
    """The figures as metric cards, ``columns`` per row."""
    for start in range(0, len(figures), columns):
        row = st.columns(columns)
        for slot, figure in zip(row, figures[start:start + columns], strict=False):
            slot.metric(figure.label, figure.value, figure.delta, help=figure.help or None, border=True,
                        chart_data=list(figure.trend) or None,
                        chart_type=figure.chart_type,  # type: ignore[arg-type]
                        delta_color=figure.delta_color,  # type: ignore[arg-type]
                        delta_arrow="off" if figure.delta_color == "off" else "auto",
                        delta_description=figure.delta_description)


def denied(label: str, view: str) -> Figure:
    return Figure(label, "无权查看", help=f"当前账号未获授权查看视图 {view}。")


def cockpit() -> None:
    reader, division = context()
    header("总览", "当前范围的人口、市场主体、信用和数据归集关键指标，及其趋势和与上期对比", reader, division)
    figures: list[Figure] = []
    figures += population_figures(reader, division) if reader.has("population_structure", "vital_statistics") \
        else [denied("户籍人口（在世）", "population_structure"), denied("本年出生", "vital_statistics")]
    figures += entity_figures(reader, division) if reader.has("entity_registrations") \
        else [denied("存续市场主体", "entity_registrations")]
    figures.append(credit_figure(reader, division) if reader.has("credit_grades")
                   else denied("信用差（D级）单位占比", "credit_grades"))
    figures.append(aggregation_figure(reader) if reader.has("aggregation_daily")
                   else denied("当日归集数据集", "aggregation_daily"))
    show(figures)

    if reader.has("vital_statistics", "entity_registrations"):
        left, right = st.columns(2)
        with left:
            monthly = reader.sql(
                "SELECT month, sum(births_registered) AS births, sum(deaths_registered) AS deaths FROM "
                f"vital_statistics WHERE {division.total_filter()} AND month >= DATE '{month_start(reader.as_of, 23)}'"
                " GROUP BY month ORDER BY month")
            monthly = charts.complete(monthly, "month", last_months(reader.as_of, 24), zero=("births", "deaths"))
            st.altair_chart(charts.line(monthly, x="month", series={"births": "出生", "deaths": "死亡"},
                                        title="近24个月出生与死亡", unit="人", as_of=reader.as_of,
                                        note=division.name), width="stretch")
        with right:
            registrations = reader.sql(
                "SELECT month, sum(registered) AS registered, sum(cancelled) + sum(revoked) AS closed FROM "
                f"entity_registrations WHERE {division.total_filter()} AND {_market_in()} "
                f"AND month >= DATE '{month_start(reader.as_of, 23)}' GROUP BY month ORDER BY month")
            registrations = charts.complete(registrations, "month", last_months(reader.as_of, 24),
                                            zero=("registered", "closed"))
            st.altair_chart(charts.line(registrations, x="month",
                                        series={"registered": "新登记", "closed": "注销和吊销"},
                                        title="近24个月市场主体登记", unit="户", as_of=reader.as_of,
                                        note=division.name), width="stretch")


if __name__ == "__main__":
    cockpit()
