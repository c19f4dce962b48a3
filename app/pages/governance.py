"""数据治理 (data governance): the aggregation report (归集通报) per department, a catalog browser with
Chinese search, the cross-source conflicts, and the quality loop (质量与异议).

The report reads ``department_aggregation`` (granted to leaders). The catalog browser reads the
catalog's metadata files (``lake/catalog``): dataset descriptions, not data, so every signed-in user
may browse it. Conflicts read ``conflicts`` (granted to analysts; object keys masked).

The quality loop shows the figures of the periodic report (``govlake report``, lake/reporting.py)
to users granted ``department_aggregation``, and every user with a department (policies/users.toml)
their own department's feedback tickets and objections. Those are GovLake's governance records
(system.feedback_events, system.objections, quality results, ingestion log), read through
lake/reporting.py, lake/feedback.py and lake/objections.py rather than a governed view: the page
shows only counts, states, datasets, rules, batches and dates, never a record key or value (those
stay with ``govlake feedback show`` / ``govlake objection show``).
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


#: System tables the quality loop reads; their newest commits key its cache, so new tickets show at once.
_LOOP_TABLES = ("ingest_log", "quality_results", "feedback_events", "objections")


def _loop_stamp(root: str) -> str:
    import os

    names = []
    for table in _LOOP_TABLES:
        try:
            logs = [n for n in os.listdir(os.path.join(root, "lake", "system", table, "_delta_log"))
                    if n.endswith(".json")]
        except OSError:
            logs = []
        names.append(max(logs, default=""))
    return "|".join(names)


@st.cache_data(show_spinner=False, max_entries=32)
def _report(root: str, stamp: str, period: str, department: str | None) -> object:
    from govlake.home import Home
    from lake.reporting import Period, build_report

    return build_report(Home.resolve(root), Period.parse(period), department)


@st.cache_data(show_spinner=False, max_entries=32)
def _department_cases(root: str, stamp: str, department: str) -> tuple[list[object], list[object]]:
    from govlake.home import Home
    from lake import feedback, objections

    home = Home.resolve(root)
    return list(feedback.tickets(home, department=department)), list(objections.cases(home, department=department))


def _periods(today: object) -> list[str]:
    import datetime as dt

    assert isinstance(today, dt.date)
    months, year, month = [], today.year, today.month
    for _ in range(6):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def quality_loop(reader: Reader) -> None:
    """质量与异议: the report's figures (leaders, data officers), and the user's department's own cases."""
    from app.data import home
    from lake.ledger import beijing_date, now
    from lake.reporting import Report
    from policies import load_policies

    root = str(home().root)
    stamp = _loop_stamp(root)
    period = st.selectbox("统计期", _periods(beijing_date(now())), key="report_period",
                          format_func=lambda p: f"{p[:4]} 年 {int(p[5:])} 月")
    if reader.has("department_aggregation"):
        made = _report(root, stamp, period, None)
        assert isinstance(made, Report)
        figures = {section.key: section.figures for section in made.sections}
        aggregation, fresh, quality = figures["aggregation"], figures["freshness"], figures["quality"]
        tickets, cases = figures["feedback"], figures["objections"]
        cards = st.columns(5)
        catalogued, aggregated = aggregation["catalogued"], aggregation["aggregated"]
        cards[0].metric("已归集 / 编目", f"{aggregated} / {catalogued} 个", border=True)
        cards[1].metric("时效逾期", f"{fresh['overdue']} 个", border=True, help="最近一次归集距今超过声明的更新周期")
        scores = quality.get("scores") or {}
        previous = (quality.get("previous_scores") or {}).get("overall")
        overall = scores.get("overall")
        cards[2].metric("质量综合得分", "未检查" if overall is None else f"{overall * 100:.2f}%",
                        None if overall is None or previous is None else f"{(overall - previous) * 100:+.2f} 个百分点",
                        border=True, help="最近一次质量检查：1 − 不通过次数 ÷ 检查次数；变化为较上次检查")
        cards[3].metric("待办工单", f"{tickets['open'] + tickets['acknowledged']} 张", f"逾期 {tickets['overdue']} 张",
                        delta_color="off", delta_arrow="off", border=True)
        cards[4].metric("处理中异议", f"{cases['open']} 件", f"逾期 {cases['overdue']} 件", delta_color="off",
                        delta_arrow="off", border=True)
        for section in made.sections:
            with st.expander(section.title, expanded=section.key in ("quality", "feedback")):
                for line in section.summary:
                    st.markdown(line)
                for table in section.tables[:2]:
                    if table.rows:
                        st.dataframe(pl.DataFrame(table.rows, schema=table.columns, orient="row"), hide_index=True,
                                     width="stretch")
                for note in section.notes:
                    st.caption(note)
        st.caption(f"与 `govlake report --period {period}` 生成的通报（{home().reports / period}）数字一致。")
    else:
        not_granted("department_aggregation")
    department = getattr(load_policies().user(reader.user), "department", None)
    if department is None:
        st.info("当前账号未关联部门，没有需要本部门处理的问题数据工单和数据异议。", icon="ℹ️")
        return
    department_view(root, stamp, department)


def department_view(root: str, stamp: str, department: str) -> None:
    """本部门: the department's feedback tickets and objections (states, dates; no record keys or values)."""
    from lake.catalog import load_catalog
    from lake.feedback import STATE_LABELS as TICKET_STATES
    from lake.feedback import Ticket
    from lake.ledger import beijing_date, now
    from lake.objections import STATE_LABELS as CASE_STATES
    from lake.objections import Case

    name = load_catalog().departments[department].name
    st.subheader(f"本部门待办：{name}")
    tickets, cases = _department_cases(root, stamp, department)
    today = beijing_date(now())
    pending = [t for t in tickets if isinstance(t, Ticket) and t.state in ("open", "acknowledged")]
    overdue = [t for t in pending if t.overdue(today)]
    open_cases = [c for c in cases if isinstance(c, Case) and c.state == "open"]
    cards = st.columns(4)
    cards[0].metric("本部门工单", f"{len(tickets)} 张", border=True)
    cards[1].metric("待处理工单", f"{len(pending)} 张", f"逾期 {len(overdue)} 张", delta_color="off", delta_arrow="off",
                    border=True)
    cards[2].metric("本部门异议", f"{len(cases)} 件", border=True)
    cards[3].metric("处理中异议", f"{len(open_cases)} 件", border=True)
    shown = sorted((t for t in tickets if isinstance(t, Ticket)),
                   key=lambda t: (t.state not in ("open", "acknowledged"), t.due_date, t.ticket_id))
    if shown:
        st.dataframe(pl.DataFrame({
            "工单": [t.ticket_id for t in shown], "状态": [TICKET_STATES[t.state] for t in shown],
            "数据集": [t.dataset for t in shown], "规则": [t.rule_id for t in shown],
            "问题记录数": [t.failed_records for t in shown], "引入批次": [t.batch_id or "—" for t in shown],
            "整改期限": [t.due_date.isoformat() for t in shown],
            "逾期": ["是" if t.overdue(today) else "" for t in shown],
        }), hide_index=True, width="stretch")
        st.caption("签收和办理：`govlake feedback ack 工单 --user 用户`，`govlake feedback resolve 工单 --user 用户 "
                   "--corrected-by-batch 批次`（复核通过由下一次质量检查自动确认）或 `--reject 理由`。")
    else:
        st.caption("本部门没有问题数据反馈工单。")
    listed = [c for c in cases if isinstance(c, Case)]
    if listed:
        st.dataframe(pl.DataFrame({
            "异议编号": [c.case_id for c in listed], "状态": [CASE_STATES[c.state] for c in listed],
            "视图.列": [f"{c.view}.{c.column}" for c in listed], "提出日期": [beijing_date(c.filed_at).isoformat()
                                                                          for c in listed],
            "办理期限": [c.due_date.isoformat() for c in listed],
            "逾期": ["是" if c.overdue(today) else "" for c in listed],
        }), hide_index=True, width="stretch")
        st.caption("办理：`govlake objection resolve 异议编号 --user 用户 --correction 文件`（作为新批次归集并构建）"
                   "或 `--reject 理由`。")
    else:
        st.caption("本部门没有数据异议。")


def governance() -> None:
    reader, division = context()
    header("数据治理", "各部门数据归集通报（编目、归集、时效、隔离、冲突）与数据目录", reader, division)
    tab_report, tab_loop, tab_catalog, tab_conflicts = st.tabs(["归集通报", "质量与异议", "数据目录", "跨来源冲突"])
    with tab_report:
        if reader.has("department_aggregation"):
            report(reader)
        else:
            not_granted("department_aggregation")
    with tab_loop:
        quality_loop(reader)
    with tab_catalog:
        catalog_browser()
    with tab_conflicts:
        if reader.has("conflicts"):
            conflicts(reader, division)
        else:
            not_granted("conflicts")


if __name__ == "__main__":
    governance()
