"""Signing in: a demo user and a password, checked against the scrypt hash in ``policies/users.toml``.

The signed-in user is kept in ``st.session_state`` under :data:`USER_KEY` and set only here,
after :func:`policies.verify_password` accepts the password. Every page reads through that
user's governed session, so the user decides what the dashboards show.
"""

from __future__ import annotations

import streamlit as st

#: Session-state key of the signed-in user's name.
USER_KEY = "signed_in_user"


def current_user() -> str | None:
    """The signed-in user, or None."""
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, str) else None


def check(user: str, password: str) -> bool:
    """Whether ``password`` is ``user``'s password (an unknown user is simply refused)."""
    from policies import load_policies, verify_password

    account = load_policies().users.get(user)
    return account is not None and verify_password(password, account.password_hash)


def signin() -> None:
    """The sign-in page: choose a user, enter the password."""
    from policies import load_policies

    users = load_policies().users
    st.title("GovLake 政务大数据看板")
    st.caption("全国一体化政务大数据体系 · 数据湖仓 · 受控访问：按账号权限脱敏、限定范围、全程审计")
    left, _ = st.columns([2, 3])
    with left, st.form("signin", border=True):
        st.subheader("登录")
        user = st.selectbox("用户", list(users), key="signin_user",
                            format_func=lambda name: f"{users[name].title}（{name}）")
        password = st.text_input("密码", type="password", key="signin_password",
                                 placeholder="演示账号密码见 docs/analysts.md")
        submitted = st.form_submit_button("登录", type="primary", width="stretch")
    if submitted:
        if user is not None and check(user, password):
            st.session_state[USER_KEY] = user
            st.rerun()
        else:
            left.error("用户名或密码不正确。")


def sign_out() -> None:
    """Forget the signed-in user and every choice made in this browser session."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
