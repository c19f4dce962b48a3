"""我的申请 (my requests): the signed-in user's sharing requests and their grants, with states and reasons."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app.sharing import grants_table, requests_table, sharing_home, signed_in


def mine_page() -> None:
    from lake import sharing

    user, account, _ = signed_in()
    st.title("我的申请")
    st.caption(f"{account.title}（{user}）提交的共享申请及其授权。授权有效期内，受控会话中出现视图 shared_<对象>，"
               "只含批准的数据项和范围；到期或撤销后下一次查询即失效。")
    home = sharing_home()
    requested = sharing.requests(home, user=user)
    granted = sharing.grants(home, user=user, active_only=False)
    cards = st.columns(4)
    cards[0].metric("申请", f"{requested.height} 件", border=True)
    cards[1].metric("待审批", f"{requested.filter(pl.col('state') == 'pending').height} 件", border=True)
    cards[2].metric("有效授权", f"{granted.filter(pl.col('state') == 'active').height} 项", border=True)
    cards[3].metric("已过期或撤销", f"{granted.filter(pl.col('state').is_in(['expired', 'revoked'])).height} 项",
                    border=True)
    st.subheader("申请")
    if requested.height == 0:
        st.info("还没有共享申请。可在“申请数据”页从数据目录中选择数据提交申请。")
    else:
        st.dataframe(requests_table(requested), hide_index=True, width="stretch")
    st.subheader("授权")
    if granted.height == 0:
        st.info("还没有授权。")
    else:
        st.dataframe(grants_table(granted), hide_index=True, width="stretch")


if __name__ == "__main__":
    mine_page()
