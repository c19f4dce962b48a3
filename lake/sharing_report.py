"""The report's "sharing and demand" section (数据共享与供需对接), registered in :data:`lake.reporting.SECTIONS`.

Figures: requests by route and state, approval turnaround, grants issued, expired and revoked,
usage by grant (from :func:`lake.sharing.stats`, which counts usage from the audit trail), and
demands posted in the period by state, with the unmet ones and their responsible departments
(:mod:`lake.demand`). For one department: its requests as applicant, the requests for its data,
its demands and its list of data to provide.

The sharing figures use :func:`lake.sharing.stats` for the period's calendar month in UTC; the
report's other sections count Beijing-time months, so an event in the first eight hours of a
month (Beijing) may fall in the previous month here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govlake.home import Home
    from lake.reporting import Period, Section

ROUTE_LABELS = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
REQUEST_STATE_LABELS = {"pending": "待审批", "granted": "已授权", "rejected": "已驳回", "refused": "不予共享"}
DEMAND_STATE_LABELS = {"open": "待匹配", "matched": "已匹配", "unmet": "未满足", "requested": "已转申请",
                       "closed": "已关闭"}


def sharing_and_demand(home: Home, period: Period, department: str | None) -> Section:
    """数据共享与供需对接: see the module docs."""
    import polars as pl

    from lake import demand, sharing
    from lake.catalog import load_catalog
    from lake.reporting import Section, Table

    catalog = load_catalog()
    figures = sharing.stats(home, period=period.label)
    turnaround = figures["turnaround"]
    section = Section("sharing", "数据共享与供需对接")
    by_route = figures["requests_by_route"]
    median = turnaround["median_hours"]
    routes = "，".join(f"{ROUTE_LABELS[r]} {n} 件" for r, n in by_route.items())
    took = f"，审批用时中位数 {median:.1f} 小时" if median is not None else ""
    section.summary.append(
        f"本期共享申请 {figures['requests']} 件：{routes}；部门审批 {turnaround['decided']} 件{took}。"
        f"本期新授权 {figures['grants_issued']} 项，到期 {figures['grants_expired']} 项，"
        f"撤销 {figures['grants_revoked']} 项；当前有效授权 {figures['grants_active_now']} 项。")
    section.tables.append(Table(["共享路径", "申请数"], [[ROUTE_LABELS[r], n] for r, n in by_route.items()]))
    usage = figures["usage_by_grant"]
    if usage:
        headers = ["授权编号", "被授权人", "对象", "状态", "查询次数", "导出次数", "返回行数", "失效后被拒"]
        section.tables.append(Table(headers, [
            [u["grant_id"], u["user"], u["target"], u["state"], u["queries"], u["publishes"], u["rows"], u["refused"]]
            for u in usage[:50]]))

    demands = demand.demands(home)
    posted = demands.filter((pl.col("posted_at") >= period.begin) & (pl.col("posted_at") < period.cutoff))
    by_state = {state: posted.filter(pl.col("state") == state).height for state in demand.STATES}
    unmet = demands.filter(pl.col("state") == "unmet")
    states = "，".join(f"{DEMAND_STATE_LABELS[s]} {n} 项" for s, n in by_state.items())
    section.summary.append(f"本期提出数据需求 {posted.height} 项：{states}；"
                           f"目前未满足、列入各部门应提供数据清单的需求共 {unmet.height} 项。")
    result: dict[str, Any] = {**figures, "demands_posted": posted.height, "demands_by_state": by_state,
                              "demands_unmet": unmet.height}
    if department:
        mine = sharing.requests(home, department=department)
        owned = sharing.requests(home, owner=department)
        supply = demand.supply_list(home, department=department)
        result.update(requests_as_applicant=mine.height, requests_for_its_data=owned.height,
                      pending_for_its_data=owned.filter(pl.col("state") == "pending").height,
                      demands_posted_by_it=demands.filter(pl.col("department") == department).height,
                      supply_list=supply.height)
        section.summary.append(
            f"本部门作为申请方提出共享申请 {mine.height} 件；本部门数据被申请 {owned.height} 件，"
            f"其中待本部门审批 {result['pending_for_its_data']} 件；本部门应提供的数据需求 {supply.height} 项。")
        unmet = supply
    if unmet.height:
        section.tables.append(Table(["需求编号", "需求", "需求部门", "责任部门", "确定依据"], [
            [r["demand_id"], r["title"], catalog.departments[r["department"]].short_name,
             catalog.departments[r["responsible_department"]].short_name, r["responsible_reason"]]
            for r in unmet.head(50).iter_rows(named=True)]))
    section.notes.append("授权使用情况来自审计日志；共享申请和授权按协调世界时（UTC）的自然月统计。")
    section.figures = result
    return section
