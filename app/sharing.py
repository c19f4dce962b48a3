"""What the sharing, supply-and-demand and open-data pages share: the signed-in account, labels, formats.

These pages show the sharing workflow (requests, grants, demands) and the open-data area, not
lake records: they call :mod:`lake.sharing`, :mod:`lake.demand` and :mod:`lake.opendata`, which
hold workflow state and published files. Data itself is still read only through governed
sessions (a grant appears as a ``shared_<target>`` view in the grantee's session, shown on the
other pages), so nothing here widens what a user can see.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl
import streamlit as st

from app.data import home
from app.signin import current_user

if TYPE_CHECKING:
    from policies import Policies, User

REQUEST_STATES = {"pending": "待审批", "granted": "已授权", "rejected": "已驳回", "refused": "不予共享"}
GRANT_STATES = {"active": "有效", "expired": "已过期", "revoked": "已撤销", "superseded": "已被新授权替代"}
ROUTES = {"unconditional": "无条件共享（自动授权）", "conditional": "有条件共享（部门审批）", "none": "不予共享"}
SHARE_TYPES = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
DEMAND_STATES = {"open": "待匹配", "matched": "已匹配", "unmet": "未满足（列入应提供清单）",
                 "requested": "已转共享申请", "closed": "已关闭"}
TARGET_KINDS = {"dataset": "数据集", "view": "受控视图"}


def signed_in() -> tuple[str, User, Policies]:
    """The signed-in user, their account and the policies; stops the page when signed out."""
    from policies import load_policies

    user = current_user()
    if user is None:
        st.warning("请先登录。")
        st.stop()
    assert user is not None
    policies = load_policies()
    return user, policies.user(user), policies


def department_name(department_id: str | None) -> str:
    """A department's Chinese name (its id when unknown, 无 for none)."""
    from lake.catalog import load_catalog

    if not department_id:
        return "无"
    found = load_catalog().departments.get(department_id)
    return found.name if found else department_id


def beijing(value: dt.datetime | None) -> str:
    """A UTC time as Beijing time, to the minute (— for none)."""
    if value is None:
        return "—"
    return value.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def scope_label(prefix: str | None) -> str:
    """A division prefix as its name: '' is the whole country."""
    from lake.reference import division_names

    if not prefix:
        return "全国"
    name = division_names().get(prefix.ljust(6, "0"))
    return f"{name}（{prefix}）" if name else prefix


@st.cache_data(show_spinner=False, max_entries=4)
def targets(policies_key: str) -> list[dict[str, Any]]:
    """Every requestable target with its share type, owner and columns (``views.shares.describe_targets``)."""
    from policies import load_policies
    from views.shares import describe_targets

    del policies_key  # the cache key: one entry per policies folder
    return describe_targets(load_policies())


def sharing_home() -> Any:
    """The home the sharing state lives in (the dashboards' home)."""
    return home()


def requests_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Requests as shown on the pages (Chinese headers and states)."""
    return pl.DataFrame({
        "申请编号": rows["id"], "对象": rows["target"],
        "数据项": [", ".join(c or []) for c in rows["columns"].to_list()],
        "范围": [p or "全国" for p in rows["scope"].to_list()], "期限（天）": rows["period_days"],
        "路径": [ROUTES.get(r, r) for r in rows["route"].to_list()],
        "审批部门": [department_name(d) for d in rows["owner_department"].to_list()],
        "状态": [REQUEST_STATES.get(s, s) for s in rows["state"].to_list()],
        "申请时间": [beijing(t) for t in rows["requested_at"].to_list()],
        "处理时间": [beijing(t) for t in rows["decided_at"].to_list()],
        "说明": [reason or route_reason for reason, route_reason in
               zip(rows["decision_reason"].to_list(), rows["route_reason"].to_list(), strict=True)],
        "授权编号": [g or "—" for g in rows["grant_id"].to_list()],
    })


def grants_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Grants as shown on the pages."""
    return pl.DataFrame({
        "授权编号": rows["id"], "申请编号": rows["request_id"], "被授权人": rows["user"], "对象": rows["target"],
        "视图": rows["view"], "数据项": [", ".join(c or []) for c in rows["columns"].to_list()],
        "范围": [p or "全国" for p in rows["scope"].to_list()],
        "授权时间": [beijing(t) for t in rows["granted_at"].to_list()],
        "到期时间": [beijing(t) for t in rows["expires_at"].to_list()],
        "状态": [GRANT_STATES.get(s, s) for s in rows["state"].to_list()],
        "审批人": rows["approved_by"], "用途": rows["purpose"],
    })
