"""申请数据 (request data): find a dataset or governed view in the catalog and request it for a purpose.

The catalog browser searches datasets with the catalog's Chinese search and views by their
description. A request carries the columns, purpose, legal basis, period and row scope; the
catalog's share attribute decides the route (lake/sharing.py): granted at once, sent to the
owning department's inbox, or refused with the catalog's reason. The result is shown at once.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from app.sharing import ROUTES, SHARE_TYPES, TARGET_KINDS, department_name, sharing_home, signed_in, targets
from govlake.errors import GovLakeError


def matching(rows: list[dict], text: str) -> list[dict]:
    """Targets matching ``text``: datasets by catalog search, views by name or description."""
    from lake.catalog import load_catalog
    from lake.catalog.search import InvalidQuery, search

    if not text:
        return rows
    try:
        hits = [hit.dataset.id for hit in search(load_catalog(), text, limit=20)]
    except InvalidQuery:
        return rows
    order = {dataset: rank for rank, dataset in enumerate(hits)}
    datasets = sorted((r for r in rows if r["kind"] == "dataset" and r["target"] in order),
                      key=lambda r: order[r["target"]])
    views = [r for r in rows if r["kind"] == "view" and (text in r["title"] or text.lower() in r["target"])]
    return datasets + views


def request_page() -> None:
    user, account, policies = signed_in()
    st.title("申请数据")
    st.caption("从数据目录和受控视图中选择数据，说明用途、法律依据、期限和范围后提交共享申请。无条件共享自动授权；"
               "有条件共享由数据所属部门审批（可缩小数据项、范围或期限）；不予共享的当即说明理由。")
    if account.department is None:
        st.info("当前账号不属于任何部门，不能申请共享数据。", icon="🔒")
        return
    st.caption(f"申请部门：{department_name(account.department)}　|　申请人：{account.title}（{user}）")
    rows = targets(str(policies.folder))
    text = (st.text_input("搜索数据目录", key="share_search", max_chars=60,
                          placeholder="例如：婚姻登记、出生、纳税信用、人口") or "").strip()
    found = matching(rows, text)
    if not found:
        st.info("没有匹配的数据集或视图，换个说法试试；目录中没有的数据可以到“供需对接”提出需求。")
        return
    st.dataframe(pl.DataFrame({
        "类型": [TARGET_KINDS[r["kind"]] for r in found], "名称": [r["target"] for r in found],
        "说明": [r["title"].split("：")[0] for r in found],
        "共享属性": [SHARE_TYPES[r["share_type"]] for r in found],
        "审批部门": [department_name(r["owner"]) if r["route"] == "conditional" else "—" for r in found],
    }), hide_index=True, width="stretch", height=min(35 * (len(found) + 1) + 3, 320))
    by_key = {f"{r['kind']}:{r['target']}": r for r in found}
    chosen = st.selectbox("申请对象", list(by_key), key="share_target",
                          format_func=lambda key: f"{TARGET_KINDS[by_key[key]['kind']]} {by_key[key]['target']}："
                                                  f"{by_key[key]['title'].split('：')[0]}")
    if chosen is None:
        return
    target = by_key[chosen]
    st.caption(f"{target['title']}\n\n共享属性：{SHARE_TYPES[target['share_type']]}；申请全部数据项时的审批路径："
               f"{ROUTES[target['route']]}；" + (f"审批部门：{department_name(target['owner'])}"
                                                 if target["route"] == "conditional" else ""))
    hidden = set(target["hidden_by_default"])
    with st.form("share_request_form", border=True):
        columns = st.multiselect("申请的数据项（列）", target["columns"], key="share_columns",
                                 format_func=lambda c: f"{c}（默认隐藏，需审批）" if c in hidden else c)
        purpose = st.text_input("用途", key="share_purpose", placeholder="例如：婚姻状况核验")
        basis = st.text_area("法律依据", key="share_basis", placeholder="例如：《婚姻登记条例》第二条", height=80)
        days = st.number_input("期限（天）", min_value=1, max_value=366, value=90, step=1, key="share_days")
        scope = st.text_input("行政区划范围", key="share_scope",
                              placeholder=f"区划代码前缀，如 3301；留空为本人数据范围（{account.scope.title}）")
        submitted = st.form_submit_button("提交申请", type="primary")
    if not submitted:
        return
    from lake import sharing

    try:
        made = sharing.request(sharing_home(), user=user, target=target["target"], columns=list(columns),
                               purpose=purpose, legal_basis=basis, period_days=int(days),
                               scope=scope.strip() or None)
    except GovLakeError as error:
        st.error(f"申请未提交：{error}")
        return
    if made.state == "granted":
        st.success(f"申请 {made.id} 已自动授权（授权编号 {made.grant_id}）：请在“我的申请”查看，"
                   f"受控会话中的视图为 {made.view}。")
    elif made.state == "pending":
        st.success(f"申请 {made.id} 已提交，等待{department_name(made.owner_department)}审批。")
    else:
        st.error(f"申请 {made.id} 不予共享：{made.decision_reason or made.route_reason}")


if __name__ == "__main__":
    request_page()
