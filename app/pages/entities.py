"""法人 (legal entities): registrations, cancellations and revocations by month, by industry (GB/T 4754
sections) and by division, and the entities on a map.

Reads ``entity_registrations`` and ``geo_division_stats`` (aggregates, every leader and analyst);
users granted the detail views also see each entity as a point (``geo_entity``) and the register
itself (``legal_entity``, legal representatives masked).
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from app import charts
from app.data import Reader
from app.drill import Division
from app.format import MARKET_CATEGORIES, count, month_start
from app.maps import division_map
from app.page import context, header, not_granted

#: The periods a user can choose: label -> months back from the data date's month (None: this year).
PERIODS: dict[str, int | None] = {"近12个月": 11, "本年": None, "近36个月": 35}
#: Which entities to count.
KINDS: dict[str, str] = {"market": "市场主体", "all": "全部法人"}
MEASURES: dict[str, str] = {"registered": "成立登记", "cancelled": "注销", "revoked": "吊销"}
COLOURS: tuple[str, ...] = ("#3b7dd8", "#f0ad4e", "#d9534f")


def period_start(as_of: dt.date, period: str) -> dt.date:
    """The first month of ``period`` ending with the data date's month."""
    back = PERIODS[period]
    return dt.date(as_of.year, 1, 1) if back is None else month_start(as_of, back)


def kind_filter(kind: str) -> str:
    if kind == "market":
        return "category IN (" + ", ".join(repr(c) for c in MARKET_CATEGORIES) + ")"
    return "TRUE"


def entities() -> None:
    reader, division = context()
    header("法人", "市场主体登记、注销和吊销的月度变化，行业和区划分布，主体空间分布", reader, division)
    if not reader.has("entity_registrations"):
        not_granted("entity_registrations")
        return
    left, right = st.columns(2)
    period = left.segmented_control("统计期", list(PERIODS), default="近12个月", key="entities_period") or "近12个月"
    kind = right.segmented_control("主体范围", list(KINDS), default="market", key="entities_kind",
                                   format_func=KINDS.__getitem__) or "market"
    start = period_start(reader.as_of, period)
    where = f"{division.total_filter()} AND {kind_filter(kind)}"
    period_note = f"{start.year}年{start.month}月至数据日期 · {KINDS[kind]}"

    monthly = reader.sql(
        "SELECT month, sum(registered) AS registered, sum(cancelled) AS cancelled, sum(revoked) AS revoked "
        f"FROM entity_registrations WHERE {where} GROUP BY month ORDER BY month")
    active = int((monthly["registered"] - monthly["cancelled"] - monthly["revoked"]).sum() or 0)
    in_period = monthly.filter(pl.col("month") >= start)
    cards = st.columns(4)
    cards[0].metric(f"存续{KINDS[kind]}", count(active, "户"), border=True,
                    help="累计成立登记减注销、吊销")
    for slot, (column, label) in zip(cards[1:], MEASURES.items(), strict=True):
        slot.metric(f"{period}{label}", count(int(in_period[column].sum() or 0), "户"), border=True)

    months = pl.DataFrame({"month": pl.date_range(start, month_start(reader.as_of), "1mo", eager=True)})
    series = months.join(in_period, on="month", how="left").fill_null(0)
    st.altair_chart(charts.line(series, x="month", series=MEASURES, title="逐月成立登记、注销和吊销", unit="户",
                                as_of=reader.as_of, note=f"{division.name} · {period_note}", colours=COLOURS),
                    width="stretch")

    by_industry = reader.sql(
        "SELECT coalesce(industry_section_name, '未登记行业') AS section, "
        "sum(registered) AS registered, sum(cancelled) AS cancelled, sum(revoked) AS revoked "
        f"FROM entity_registrations WHERE {where} AND month >= DATE '{start}' GROUP BY ALL")
    long = by_industry.unpivot(index="section", on=list(MEASURES), variable_name="measure", value_name="entities") \
        .with_columns(pl.col("measure").replace_strict(MEASURES, return_dtype=pl.String))
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.bars(long, category="section", value="entities", title="分行业（GB/T 4754 门类）",
                                    unit="户", as_of=reader.as_of, category_title="行业门类", note=period_note,
                                    colour_field="measure", colour_title="指标", grouped=True,
                                    colour_scale=alt_scale()), width="stretch")
    by_division = reader.sql(
        "SELECT division AS code, any_value(division_name) AS name, sum(registered) AS registered, "
        "sum(cancelled) AS cancelled, sum(revoked) AS revoked FROM entity_registrations "
        f"WHERE {division.children_filter()} AND {kind_filter(kind)} AND month >= DATE '{start}' "
        "GROUP BY division ORDER BY registered DESC, division LIMIT 15")
    with right:
        if by_division.height:
            long = by_division.unpivot(index=["code", "name"], on=list(MEASURES), variable_name="measure",
                                       value_name="entities") \
                .with_columns(pl.col("measure").replace_strict(MEASURES, return_dtype=pl.String))
            st.altair_chart(charts.bars(long, category="name", value="entities", title="分区划（成立登记最多的15个）",
                                        unit="户",
                                        as_of=reader.as_of, category_title="区划", note=period_note,
                                        colour_field="measure", colour_title="指标", grouped=True,
                                        colour_scale=alt_scale()), width="stretch")
        else:
            st.info(f"{division.name}没有下级区划。")

    st.subheader("主体分布地图")
    entity_map(reader, division)
    if reader.has("legal_entity"):
        register(reader, division)


def alt_scale() -> alt.Scale:
    """The same colour for each measure on every chart."""
    return alt.Scale(domain=list(MEASURES.values()), range=list(COLOURS))


def entity_map(reader: Reader, division: Division) -> None:
    """Active entities per child division, with each entity as a point when the user may see them."""
    if not reader.has("geo_division_stats"):
        not_granted("geo_division_stats")
        return
    values = reader.sql(
        "SELECT division AS code, division_name AS name, entities_active FROM geo_division_stats "
        f"WHERE {division.children_filter()}")
    if values.height == 0 and division.code is not None:
        values = reader.sql("SELECT division AS code, division_name AS name, entities_active FROM geo_division_stats "
                            f"WHERE {division.total_filter()}")
    points = None
    if reader.has("geo_entity"):
        points = reader.sql(
            "SELECT entity_name, category, status, longitude, latitude FROM geo_entity "
            f"WHERE {division.prefix_filter()} AND longitude IS NOT NULL AND latitude IS NOT NULL LIMIT 20000")
    division_map(reader, division, values, value="entities_active", title="各区划存续法人主体", unit="户",
                 value_title="存续主体（户）", key="entities_map", points=points,
                 point_tooltip=(("entity_name", "主体名称"), ("category", "主体类别")))
    if points is None:
        st.caption("主体点位需要法人点位（geo_entity）视图权限；当前显示各区划存续主体数。")
    else:
        st.caption(f"红点为主体住所坐标（共 {points.height:,} 个）。")


def register(reader: Reader, division: Division) -> None:
    """The legal-entity register for the division, legal representatives masked."""
    st.subheader("法人主体名录（脱敏）")
    st.caption("法定代表人公民身份号码保留前6位和后4位，姓名保留姓氏；仅显示最近成立的 100 个主体。")
    rows = reader.sql(
        "SELECT uscc, entity_name, category, status_name, industry_section, legal_rep_name, legal_rep_id, "
        f"established_date, division FROM legal_entity WHERE {division.prefix_filter()} "
        "ORDER BY established_date DESC NULLS LAST, uscc LIMIT 100")
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "uscc": "统一社会信用代码", "entity_name": "主体名称", "category": "主体类别", "status_name": "登记状态",
        "industry_section": "行业门类", "legal_rep_name": "法定代表人", "legal_rep_id": "法定代表人身份号码",
        "established_date": st.column_config.DateColumn("成立日期", format="YYYY-MM-DD"), "division": "住所区划"})


if __name__ == "__main__":
    entities()
