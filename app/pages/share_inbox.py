"""审批待办 (approval inbox): a department's data officer decides the requests for its data.

Approve as requested or narrower (fewer columns, a narrower division, a shorter period), or
reject with a reason. GovLake refuses wider approvals, approving one's own request, and
deciding another department's request (lake/sharing.py); the refusal is shown as it is.
"""

from __future__ import annotations

import streamlit as st

from app.sharing import department_name, requests_table, scope_label, sharing_home, signed_in
from govlake.errors import GovLakeError


def inbox_page() -> None:
    from lake import sharing

    user, account, policies = signed_in()
    st.title("审批待办")
    if not policies.approves_sharing(account):
        st.info("只有部门数据管理员可以审批共享申请。当前账号的申请请在“我的申请”查看。", icon="🔒")
        return
    st.caption(f"{department_name(account.department)}的数据共享申请，由数据管理员 {account.title}（{user}）审批。"
               "可按申请批准，或缩小数据项、区划范围和期限后批准；驳回须说明理由。")
    home = sharing_home()
    pending = sharing.inbox(home, department=str(account.department))
    if pending.height == 0:
        st.success("没有待审批的申请。")
        return
    st.dataframe(requests_table(pending), hide_index=True, width="stretch")
    by_id = {row["id"]: row for row in pending.iter_rows(named=True)}
    chosen = st.selectbox("处理申请", list(by_id), key="inbox_request",
                          format_func=lambda rid: f"{rid} {by_id[rid]['requester']}：{by_id[rid]['target']}")
    if chosen is None:
        return
    row = by_id[chosen]
    st.markdown(f"**{row['id']}** · 申请人 {row['requester']}（{department_name(row['applicant_department'])}）· "
                f"对象 {row['target']} · 范围 {scope_label(row['scope'])} · 期限 {row['period_days']} 天")
    st.caption(f"用途：{row['purpose']}　|　法律依据：{row['legal_basis']}　|　路径说明：{row['route_reason']}")
    left, right = st.columns(2)
    with left, st.form("inbox_approve", border=True):
        st.markdown("**批准**")
        columns = st.multiselect("批准的数据项", list(row["columns"]), default=list(row["columns"]),
                                 key="inbox_columns")
        scope = st.text_input("区划范围", value=row["scope"] or "", key="inbox_scope",
                              help="区划代码前缀；只能与申请相同或更小，留空为全国（仅当申请为全国时）")
        days = st.number_input("期限（天）", min_value=1, max_value=int(row["period_days"]),
                               value=int(row["period_days"]), key="inbox_days")
        approve = st.form_submit_button("批准", type="primary")
    with right, st.form("inbox_reject", border=True):
        st.markdown("**驳回**")
        reason = st.text_area("驳回理由", key="inbox_reason", height=120)
        reject = st.form_submit_button("驳回")
    try:
        if approve:
            grant = sharing.approve(home, user=user, request_id=chosen, columns=list(columns),
                                    scope=scope.strip() or "national", period_days=int(days))
            st.success(f"已批准 {chosen}：授权 {grant.id}，数据项 {', '.join(grant.columns)}，"
                       f"范围 {scope_label(grant.scope)}，有效期至 {grant.expires_at:%Y-%m-%d}。")
        elif reject:
            sharing.reject(home, user=user, request_id=chosen, reason=reason)
            st.success(f"已驳回 {chosen}。")
    except GovLakeError as error:
        st.error(f"未能处理：{error}")


if __name__ == "__main__":
    inbox_page()
