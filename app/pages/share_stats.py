"""共享统计 (sharing report): requests by route, approval turnaround, ended grants, usage by grant, demands.

Figures come from :func:`lake.sharing.stats` (usage is counted from the audit trail) and
:func:`lake.demand.stats`, for a chosen period.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from app.sharing import DEMAND_STATES, ROUTES, department_name, sharing_home, signed_in
from govlake.errors import GovLakeError


def _hours(value: float | None) -> str:
    return "—" if value is None else (f"{value:.1f} 小时" if value < 48 else f"{value / 24:.1f} 天")


def stats_page() -> None:
    from lake import demand, sharing

    signed_in()
    st.title("共享统计")
    today = dt.datetime.now(dt.UTC).date()
    periods = {"all": "全部", str(today.year): f"{today.year} 年", f"{today:%Y-%m}": f"{today:%Y 年 %m 月}"}
    period = st.selectbox("统计期间", list(periods), key="share_stats_period", format_func=periods.__getitem__)
    home = sharing_home()
    try:
        figures = sharing.stats(home, period=period)
    except GovLakeError as error:
        st.error(f"无法统计：{error}")
        return
    cards = st.columns(5)
    cards[0].metric("共享申请", f"{figures['requests']} 件", border=True)
    cards[1].metric("审批用时（中位数）", _hours(figures["turnaround"]["median_hours"]), border=True,
                    help=f"有条件共享由部门审批的申请，共 {figures['turnaround']['decided']} 件")
    cards[2].metric("当前有效授权", f"{figures['grants_active_now']} 项", border=True)
    cards[3].metric("期内到期授权", f"{figures['grants_expired']} 项", border=True)
    cards[4].metric("期内撤销授权", f"{figures['grants_revoked']} 项", border=True)

    left, right = st.columns(2)
    with left:
        st.subheader("按共享路径的申请")
        st.dataframe(pl.DataFrame({"路径": [ROUTES[r] for r in figures["requests_by_route"]],
                                   "申请数": list(figures["requests_by_route"].values())}),
                     hide_index=True, width="stretch")
    with right:
        st.subheader("审批用时")
        turnaround = figures["turnaround"]
        st.dataframe(pl.DataFrame({"指标": ["已审批件数", "中位数", "平均", "最长"],
                                   "数值": [str(turnaround["decided"]), _hours(turnaround["median_hours"]),
                                          _hours(turnaround["mean_hours"]), _hours(turnaround["max_hours"])]}),
                     hide_index=True, width="stretch")
    st.subheader("各授权的使用情况")
    usage = figures["usage_by_grant"]
    if usage:
        st.dataframe(pl.DataFrame(usage).select(
            pl.col("grant_id").alias("授权编号"), pl.col("user").alias("被授权人"), pl.col("target").alias("对象"),
            pl.col("state").alias("状态"), pl.col("queries").alias("查询次数"), pl.col("publishes").alias("导出次数"),
            pl.col("rows").alias("返回行数"), pl.col("refused").alias("失效后被拒次数"),
            pl.col("last_used").alias("最近使用"),
        ), hide_index=True, width="stretch")
        st.caption("使用情况来自审计日志：授权有效期内读取授权视图的查询和导出；授权失效后的尝试计为被拒。")
    else:
        st.info("本期没有授权记录。")

    st.subheader("供需对接")
    figures_demand = demand.stats(home)
    demand_cards = st.columns(4)
    demand_cards[0].metric("数据需求", f"{figures_demand['demands']} 项", border=True)
    share = figures_demand["matched_share"]
    demand_cards[1].metric("目录匹配率", "—" if share is None else f"{share:.0%}", border=True)
    demand_cards[2].metric("已转共享申请", f"{figures_demand['became_requests']} 项", border=True)
    demand_cards[3].metric("未满足", f"{figures_demand['by_state']['unmet']} 项", border=True)
    st.dataframe(pl.DataFrame({"状态": [DEMAND_STATES[s] for s in figures_demand["by_state"]],
                               "需求数": list(figures_demand["by_state"].values())}), hide_index=True, width="stretch")
    if figures_demand["unmet_by_department"]:
        st.dataframe(pl.DataFrame({
            "责任部门": [department_name(d) for d in figures_demand["unmet_by_department"]],
            "应提供的数据（项）": list(figures_demand["unmet_by_department"].values())}),
            hide_index=True, width="stretch")


if __name__ == "__main__":
    stats_page()
