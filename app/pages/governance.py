"""数据治理 (data governance): the aggregation report (归集通报) per department, a catalog browser with
Chinese search, and the cross-source conflicts.

The report reads ``department_aggregation`` (granted to leaders). The catalog browser reads the
catalog's metadata files (``lake/catalog``): dataset descriptions, not data, so every signed-in user
may browse it. Conflicts read ``conflicts`` (granted to analysts; object keys masked).
"""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from app import charts
from app.data import Reader
from app.drill import Division
from app.format import FRESHNESS_LABELS, chinese_date, count, percent
from app.page import context, header, not_granted


def report(reader: Reader) -> None:
    """归集通报: per department, catalogued vs aggregated datasets, rows, freshness, quarantine, conflicts."""
    rows = reader.sql(
        "SELECT department_name, short_name, datasets_catalogued, datasets_aggregated, files, rows_read, rows_loaded, "
        "rows_quarantined, quarantine_rate, last_ingested_at, days_since_last_ingestion, datasets_overdue, "
        "datasets_missing, freshness, conflicts_authoritative, conflicts_overruled FROM department_aggregation "
        "ORDER BY datasets_catalogued DESC, department_name")
    catalogued, aggregated = int(rows["datasets_catalogued"].sum() or 0), int(rows["datasets_aggregated"].sum() or 0)
    cards = st.columns(5)
    cards[0].metric("提供部门", f"{rows.filter(pl.col('datasets_catalogued') > 0).height} 个", border=True)
    cards[1].metric("已归集数据集", f"{aggregated} / {catalogued} 个", percent(aggregated / catalogued if catalogued
                                                                             else None),
                    delta_color="off", delta_arrow="off", delta_description="归集率", border=True)
    cards[2].metric("入库行数", count(int(rows["rows_loaded"].sum() or 0), "行"), border=True)
    quarantined, read = int(rows["rows_quarantined"].sum() or 0), int(rows["rows_read"].sum() or 0)
    cards[3].metric("隔离行数", count(quarantined, "行"), percent(quarantined / read if read else None, 2),
                    delta_color="off", delta_arrow="off", delta_description="隔离率", border=True)
    overdue = int(rows["datasets_overdue"].sum() or 0)
    cards[4].metric("逾期数据集", f"{overdue} 个", border=True, help="最近一次归集距数据日期超过声明的更新周期")

    shown = rows.with_columns(
        pl.col("freshness").replace_strict(FRESHNESS_LABELS, default="未编目", return_dtype=pl.String),
        pl.col("last_ingested_at").dt.convert_time_zone("Asia/Shanghai").dt.strftime("%m-%d %H:%M").fill_null("—"),
        pl.format("{}%", (pl.col("quarantine_rate") * 100).round(2)).fill_null("—").alias("quarantine_rate"),
    )
    st.dataframe(
        shown.select("department_name", "datasets_catalogued", "datasets_aggregated", "rows_loaded",
                     "rows_quarantined", "quarantine_rate", "last_ingested_at", "freshness", "datasets_overdue",
                     "conflicts_authoritative", "conflicts_overruled"),
        hide_index=True, width="stretch", height=35 * (shown.height + 1) + 3,
        column_config={
            "department_name": "部门", "datasets_catalogued": "编目", "datasets_aggregated": "已归集",
            "rows_loaded": st.column_config.NumberColumn("入库行数", format="%d"),
            "rows_quarantined": st.column_config.NumberColumn("隔离行数", format="%d"),
            "quarantine_rate": "隔离率",
            "last_ingested_at": "最近归集", "freshness": "时效",
            "datasets_overdue": "逾期",
            "conflicts_authoritative": "冲突·权威来源", "conflicts_overruled": "冲突·待核查",
        },
    )
    st.caption("数据集单位为个；最近归集为北京时间；时效按目录声明的更新周期判断（每日 1 天、每月 31 天等）；"
               "冲突·权威来源：本部门为权威来源、其他来源不一致的条数；冲突·待核查：本部门取值与权威来源不一致、需本部门核查的条数。")
    catalogued_rows = rows.filter(pl.col("datasets_catalogued") > 0)
    long = catalogued_rows.select("short_name", "datasets_catalogued", "datasets_aggregated").unpivot(
        index="short_name", variable_name="measure", value_name="datasets").with_columns(
        pl.col("measure").replace_strict({"datasets_catalogued": "编目", "datasets_aggregated": "已归集"},
                                         return_dtype=pl.String))
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.bars(long, category="short_name", value="datasets", title="各部门编目与归集数据集",
                                    unit="个", as_of=reader.as_of, category_title="部门", colour_field="measure",
                                    colour_title="指标", grouped=True,
                                    colour_scale=alt.Scale(domain=["编目", "已归集"], range=["#8fb3e8", "#1f5fbf"])),
                    width="stretch")
    conflicts = catalogued_rows.select("short_name", "conflicts_authoritative", "conflicts_overruled").unpivot(
        index="short_name", variable_name="measure", value_name="conflicts").with_columns(
        pl.col("measure").replace_strict({"conflicts_authoritative": "本部门为权威来源",
                                          "conflicts_overruled": "需本部门核查"}, return_dtype=pl.String))
    with right:
        st.altair_chart(charts.bars(conflicts, category="short_name", value="conflicts", title="各部门跨来源冲突",
                                    unit="条", as_of=reader.as_of, category_title="部门", colour_field="measure",
                                    colour_title="类型", grouped=True,
                                    colour_scale=alt.Scale(domain=["本部门为权威来源", "需本部门核查"],
                                                           range=["#1f5fbf", "#f0ad4e"])), width="stretch")


def catalog_browser() -> None:
    """Search the catalog in Chinese; show a dataset's metadata, grade, share and open attributes, and columns."""
    from lake.catalog import load_catalog
    from lake.catalog.model import CYCLE_LABELS, GRADE_LABELS, OPEN_LABELS, PI_LABELS, SHARE_LABELS
    from lake.catalog.search import InvalidQuery, search

    catalog = load_catalog()
    text = (st.text_input("搜索数据目录", key="catalog_search", max_chars=60,
                          placeholder="例如：户籍、营业执照、失信、101001、纳税信用") or "").strip()
    if text:
        try:
            found = [hit.dataset for hit in search(catalog, text, limit=20)]
        except InvalidQuery:
            st.warning("请输入要搜索的文字。")
            return
        st.caption(f"找到 {len(found)} 个数据集。" if found else "没有匹配的数据集，换个说法试试。")
    else:
        found = sorted(catalog.datasets.values(), key=lambda d: d.code)
        st.caption(f"共 {len(found)} 个编目数据集。")
    if not found:
        return
    st.dataframe(
        pl.DataFrame({
            "代码": [d.code for d in found], "名称": [d.name for d in found],
            "提供部门": [d.provider.name for d in found], "更新周期": [CYCLE_LABELS[d.update_cycle] for d in found],
            "分级": [GRADE_LABELS[d.grade] for d in found], "共享属性": [SHARE_LABELS[d.share.type] for d in found],
            "开放属性": [OPEN_LABELS[d.open.type] for d in found],
        }),
        hide_index=True, width="stretch",
    )
    by_id = {d.id: d for d in found}
    chosen = st.selectbox("查看数据集", list(by_id), key="catalog_dataset",
                          format_func=lambda key: f"{by_id[key].code} {by_id[key].name}")
    if chosen is None:
        return
    dataset = by_id[chosen]
    st.markdown(f"#### {dataset.name}")
    st.caption(dataset.abstract)
    meta = {
        "信息资源代码": dataset.code,
        "分类": " / ".join(dataset.classification),
        "提供方": f"{dataset.provider.name}（{dataset.provider.code}）",
        "更新周期": CYCLE_LABELS[dataset.update_cycle],
        "格式 / 接入方式": f"{dataset.format} / {'物理汇聚' if dataset.access == 'physical' else '逻辑接入'}",
        "发布日期": chinese_date(dataset.publish_date),
        "数据分级": GRADE_LABELS[dataset.grade],
        "共享属性": SHARE_LABELS[dataset.share.type] + (f"：{dataset.share.conditions}" if dataset.share.conditions
                                                       else ""),
        "共享方式": dataset.share.method or "—",
        "开放属性": OPEN_LABELS[dataset.open.type] + (f"：{dataset.open.conditions}" if dataset.open.conditions
                                                     else ""),
        "主键": "、".join(dataset.key),
    }
    st.dataframe(pl.DataFrame({"元数据": list(meta), "内容": list(meta.values())}), hide_index=True, width="stretch")
    st.dataframe(
        pl.DataFrame({
            "信息项": [item.source for item in dataset.items],
            "列名": [item.column for item in dataset.items],
            "数据元": [catalog.elements[item.element].name if item.element in catalog.elements else item.element
                    for item in dataset.items],
            "说明": [item.description for item in dataset.items],
            "必填": ["是" if item.required else "否" for item in dataset.items],
            "个人信息": [PI_LABELS[item.pi] for item in dataset.items],
            "分级": [GRADE_LABELS[item.grade or dataset.grade] for item in dataset.items],
        }),
        hide_index=True, width="stretch",
    )


def conflicts(reader: Reader, division: Division) -> None:
    """Cross-source conflicts in scope: counts by attribute and sources, and the records (keys masked)."""
    counts = reader.sql(
        "SELECT library, attribute, chosen_source, other_source, count(*) AS conflicts FROM conflicts "
        f"WHERE {division.prefix_filter()} GROUP BY ALL ORDER BY conflicts DESC")
    st.caption(f"当前范围共 {int(counts['conflicts'].sum() or 0):,} 条跨来源冲突；采用值来自权威来源（一数一源），"
               "其他来源的不一致取值反馈提供部门核查。")
    st.dataframe(counts, hide_index=True, width="stretch", column_config={
        "library": "基础库", "attribute": "属性", "chosen_source": "采用来源", "other_source": "不一致来源",
        "conflicts": "冲突数"})
    sample = reader.sql(
        "SELECT library, key, attribute, chosen_source, chosen_value, other_source, other_value, division "
        f"FROM conflicts WHERE {division.prefix_filter()} ORDER BY library, attribute, key LIMIT 100")
    st.dataframe(sample, hide_index=True, width="stretch", column_config={
        "library": "基础库", "key": "对象标识（脱敏）", "attribute": "属性", "chosen_source": "采用来源",
        "chosen_value": "采用值", "other_source": "不一致来源", "other_value": "不一致值", "division": "区划"})


def governance() -> None:
    reader, division = context()
    header("数据治理", "各部门数据归集通报（编目、归集、时效、隔离、冲突）与数据目录", reader, division)
    tab_report, tab_catalog, tab_conflicts = st.tabs(["归集通报", "数据目录", "跨来源冲突"])
    with tab_report:
        if reader.has("department_aggregation"):
            report(reader)
        else:
            not_granted("department_aggregation")
    with tab_catalog:
        catalog_browser()
    with tab_conflicts:
        if reader.has("conflicts"):
            conflicts(reader, division)
        else:
            not_granted("conflicts")


if __name__ == "__main__":
    governance()
