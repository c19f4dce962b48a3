"""授权清单 (grants in force): the grants a user may see, and revocation by the owner's data officer.

A data officer sees the grants of their department's data; an officer of the coordinating
department (the data bureau) sees every grant; every user sees their own. Revocation takes
effect on the grantee's next query (lake/sharing.py).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from app.sharing import department_name, grants_table, sharing_home, signed_in
from govlake.errors import GovLakeError


def grants_page() -> None:
    from lake import sharing
    from lake.demand import COORDINATOR

    user, account, policies = signed_in()
    st.title("授权清单")
    home = sharing_home()
    officer = policies.approves_sharing(account)
    if officer and account.department == COORDINATOR:
        shown, whose = sharing.grants(home, active_only=True), "全部部门"
    elif officer:
        shown, whose = sharing.grants(home, active_only=True, department=account.department), \
            f"{department_name(account.department)}的数据"
    else:
        shown, whose = sharing.grants(home, user=user, active_only=True), "本人"
    st.caption(f"当前有效的共享授权（{whose}）。授权到期或被撤销后，被授权人的下一次查询即不能再使用。")
    if shown.height == 0:
        st.info("没有有效的授权。")
        return
    st.dataframe(grants_table(shown), hide_index=True, width="stretch")
    revocable = shown if officer else shown.filter(pl.col("user") == user)
    if revocable.height == 0:
        return
    with st.form("grant_revoke", border=True):
        st.markdown("**撤销授权**" if officer else "**放弃授权**")
        grant_id = st.selectbox("授权", revocable["id"].to_list(), key="revoke_grant")
        reason = st.text_input("理由", key="revoke_reason", placeholder="例如：用途已完成")
        revoke = st.form_submit_button("撤销")
    if revoke and grant_id:
        try:
            ended = sharing.revoke(home, user=user, grant_id=grant_id, reason=reason)
            st.success(f"授权 {ended.id} 已撤销，自下一次查询起失效。")
        except GovLakeError as error:
            st.error(f"未能撤销：{error}")


if __name__ == "__main__":
    grants_page()
