"""GovLake dashboards (政务大数据看板): the Streamlit entry point. ``govlake app`` runs it.

Signed out, the app shows the sign-in page and the public open-data portal (:data:`PUBLIC_PAGES`)
only. Signed in, the sidebar shows the user, their scope and the data date, with the division
drill, and :data:`PAGES` are the pages. Every data page reads through the signed-in user's
governed session (app/data.py). Errors a user can act on (no built home, a refused query) are
shown in Chinese, not as tracebacks.

    streamlit run app/main.py        # with GOVLAKE_HOME set; `govlake app` does this
"""

from __future__ import annotations

import streamlit as st

from app.data import Reader, home, lake_version
from app.drill import drill
from app.format import chinese_date
from app.signin import current_user, sign_out, signin
from govlake.errors import GovLakeError

#: The pages, in the order of the navigation: (file under app/, title, icon, url path).
#:
#: The url paths deliberately differ from the file names. Streamlit treats a ``pages/`` folder next
#: to the entry point as the old file-based navigation until ``st.navigation`` has run once in the
#: process (and AppTest, on every run). A url path equal to a file name would then run that page
#: file directly, skipping this script: no sign-in gate, no sidebar. With distinct paths, every
#: request goes through :func:`main` (and each page still refuses to render without a signed-in user).
PAGES: tuple[tuple[str, str, str, str], ...] = (
    ("pages/cockpit.py", "总览", ":material/dashboard:", "overview"),
    ("pages/population.py", "人口", ":material/groups:", "demography"),
    ("pages/entities.py", "法人", ":material/apartment:", "legal-entities"),
    ("pages/credit.py", "信用", ":material/verified_user:", "credit-ratings"),
    ("pages/geo.py", "空间", ":material/map:", "spatial"),
    ("pages/governance.py", "数据治理", ":material/fact_check:", "data-governance"),
    ("pages/share_request.py", "申请数据", ":material/add_task:", "data-request"),
    ("pages/share_mine.py", "我的申请", ":material/assignment_ind:", "my-requests"),
    ("pages/share_inbox.py", "审批待办", ":material/inbox:", "approvals"),
    ("pages/share_grants.py", "授权清单", ":material/key:", "grants-in-force"),
    ("pages/share_demand.py", "供需对接", ":material/handshake:", "supply-demand"),
    ("pages/share_stats.py", "共享统计", ":material/query_stats:", "sharing-report"),
    ("pages/open_data.py", "开放数据", ":material/public:", "open-data"),
)

#: Pages shown without sign-in, as well as in :data:`PAGES`: the open-data portal, which reads only
#: files already published to the public (app/pages/open_data.py). Every other page needs sign-in.
PUBLIC_PAGES: tuple[tuple[str, str, str, str], ...] = tuple(page for page in PAGES if page[0] == "pages/open_data.py")


def no_lake() -> None:
    """Shown when the home has no build yet: what to run."""
    st.title("GovLake 政务大数据看板")
    st.error(
        f"数据湖尚未构建：在 {home().root} 没有找到构建记录。\n\n"
        "请先运行 `govlake demo`（生成并归集演示数据、构建基础库），或对已有数据运行 `govlake build`，"
        "然后刷新本页。若数据湖在其他目录，请用 `govlake --home 目录 app` 启动。"
    )


def sidebar(reader: Reader) -> None:
    """Who is signed in, what they may see, the data date, the division drill and sign-out."""
    from policies import load_policies

    policies = load_policies()
    account = policies.user(reader.user)
    with st.sidebar:
        st.markdown(f"**{account.title}**  \n`{account.name}`")
        roles = "、".join(role.description.split("：")[0] for role in policies.roles_of(account))
        st.caption(f"角色：{roles}  \n数据范围：{account.scope.title}  \n"
                   f"数据日期：{chinese_date(reader.as_of)}（第 {reader.version.build_id} 次构建）")
        drill(reader)
        st.button("退出登录", on_click=sign_out, key="sign_out", icon=":material/logout:")


def main() -> None:
    st.set_page_config(page_title="GovLake 政务大数据看板", page_icon="🏛️", layout="wide")
    try:
        version = lake_version()
    except GovLakeError as error:
        st.error(f"无法读取数据湖：{error}")
        return
    if version is None:
        st.navigation([st.Page(no_lake, title="未构建", url_path="setup")], position="hidden").run()
        return
    user = current_user()
    if user is None:
        # Signed out: the sign-in page, and the pages the public may see (PUBLIC_PAGES) and nothing else.
        st.navigation([st.Page(signin, title="登录", icon=":material/login:", url_path="signin", default=True),
                       *(st.Page(path, title=title, icon=icon, url_path=url)
                         for path, title, icon, url in PUBLIC_PAGES)]).run()
        return
    reader = Reader(user, version)
    try:
        sidebar(reader)
        page = st.navigation([st.Page(path, title=title, icon=icon, url_path=url, default=index == 0)
                              for index, (path, title, icon, url) in enumerate(PAGES)])
        page.run()
    except GovLakeError as error:
        st.error(f"数据读取失败：{error}")


if __name__ == "__main__":
    main()
