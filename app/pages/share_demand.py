"""供需对接 (supply and demand): post a data demand, see the proposed datasets, turn one into a request.

A demand is matched against the catalog at once (lake/demand.py): ranked candidates with their
relevance; a matched demand becomes a sharing request from here; an unmet one goes onto the
responsible department's list of data it should provide, shown on the same page to that
department.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from app.sharing import DEMAND_STATES, SHARE_TYPES, beijing, department_name, sharing_home, signed_in
from govlake.errors import GovLakeError


def demands_table(rows: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame({
        "需求编号": rows["demand_id"], "需求": rows["title"],
        "所需数据项": ["、".join(items or []) for items in rows["items"].to_list()],
        "需求部门": [department_name(d) for d in rows["department"].to_list()],
        "状态": [DEMAND_STATES.get(s, s) for s in rows["state"].to_list()],
        "责任部门": [department_name(d) if d else "—" for d in rows["responsible_department"].to_list()],
        "说明": rows["note"], "提出时间": [beijing(t) for t in rows["posted_at"].to_list()],
    })


def post_form(user: str) -> None:
    from lake import demand

    with st.form("demand_post", border=True):
        st.markdown("**提出数据需求**")
        title = st.text_input("需要什么数据", key="demand_title",
                              placeholder="用本部门的说法即可，例如：新生儿出生信息")
        items = st.text_input("所需数据项（用逗号分隔）", key="demand_items", placeholder="例如：出生日期，母亲姓名")
        description = st.text_area("需求说明", key="demand_description", height=80)
        purpose = st.text_input("用途", key="demand_purpose", placeholder="例如：新生儿落户办理")
        submitted = st.form_submit_button("提交并匹配目录", type="primary")
    if not submitted:
        return
    try:
        posted = demand.post(sharing_home(), user=user, title=title, purpose=purpose, description=description,
                             items=[i.strip() for i in items.replace("，", ",").split(",")])
    except GovLakeError as error:
        st.error(f"需求未提交：{error}")
        return
    if posted.state == "matched":
        st.success(f"需求 {posted.demand_id} 已匹配到目录数据集：{posted.note}。可在下方选择候选数据集转为共享申请。")
    else:
        st.warning(f"需求 {posted.demand_id} 在目录中没有足够相关的数据集，已列入"
                   f"{department_name(posted.responsible_department)}的应提供数据清单（{posted.responsible_reason}）。")
    st.session_state["demand_chosen"] = posted.demand_id


def candidates_and_request(user: str, department: str, chosen: dict) -> None:
    from lake import demand
    from lake.catalog import load_catalog

    home = sharing_home()
    found = demand.candidates(home, chosen["demand_id"])
    if found.height == 0:
        st.info("没有候选数据集。")
    else:
        st.dataframe(pl.DataFrame({
            "名次": found["rank"], "数据集": found["dataset"], "名称": found["dataset_name"],
            "相关度": found["relevance"].round(2), "提供部门": [department_name(p) for p in found["provider"]],
            "共享属性": [SHARE_TYPES[s] for s in found["share_type"]],
            "匹配上的短语": ["、".join(m or []) for m in found["matched_items"].to_list()],
        }), hide_index=True, width="stretch")
    if chosen["department"] != department or chosen["state"] not in ("matched", "unmet", "open"):
        return
    catalog = load_catalog()
    options = found["dataset"].to_list() if found.height else sorted(catalog.datasets)
    with st.form("demand_request", border=True):
        st.markdown("**转为共享申请**")
        dataset_id = st.selectbox("数据集", options, key="demand_dataset",
                                  format_func=lambda d: f"{d} {catalog.datasets[d].name}")
        basis = st.text_area("法律依据", key="demand_basis", height=80)
        days = st.number_input("期限（天）", min_value=1, max_value=366, value=90, key="demand_days")
        submitted = st.form_submit_button("提交共享申请", type="primary")
    if submitted and dataset_id:
        try:
            changed, share = demand.request_share(home, user=user, demand_id=chosen["demand_id"], dataset=dataset_id,
                                                  legal_basis=basis, period_days=int(days))
        except GovLakeError as error:
            st.error(f"未能转为申请：{error}")
            return
        st.success(f"需求 {changed.demand_id} 已转为共享申请 {share.id}（数据项：{', '.join(share.columns)}）。"
                   "请在“我的申请”查看进度。")


def demand_page() -> None:
    from lake import demand

    user, account, _ = signed_in()
    st.title("供需对接")
    st.caption("提出本部门需要的数据，系统用中文检索与数据目录匹配并给出候选数据集；匹配的需求可直接转为共享申请，"
               "目录中没有的需求列入责任部门的应提供数据清单。")
    if account.department is None:
        st.info("当前账号不属于任何部门，不能提出数据需求。", icon="🔒")
        return
    department = account.department
    home = sharing_home()
    post_form(user)
    tab_mine, tab_supply = st.tabs(["本部门的需求", "本部门应提供的数据"])
    with tab_mine:
        mine = demand.demands(home, department=department)
        if mine.height == 0:
            st.info("本部门还没有提出数据需求。")
        else:
            st.dataframe(demands_table(mine), hide_index=True, width="stretch")
            by_id = {row["demand_id"]: row for row in mine.iter_rows(named=True)}
            ids = list(by_id)
            remembered = st.session_state.get("demand_chosen")
            chosen = st.selectbox("查看需求", ids, key="demand_view", index=ids.index(remembered)
                                  if remembered in ids else 0,
                                  format_func=lambda d: f"{d} {by_id[d]['title']}")
            if chosen is not None:
                candidates_and_request(user, department, by_id[chosen])
    with tab_supply:
        supply = demand.supply_list(home, department=department)
        st.caption(f"其他部门提出、目录中尚无、应由{department_name(department)}提供的数据。")
        if supply.height == 0:
            st.success("没有待提供的数据需求。")
        else:
            st.dataframe(demands_table(supply).with_columns(pl.Series("确定依据", supply["responsible_reason"])),
                         hide_index=True, width="stretch")


if __name__ == "__main__":
    demand_page()
