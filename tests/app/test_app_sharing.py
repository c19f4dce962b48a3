"""The sharing pages headless (AppTest), with two users: a requester and the owning department's officer.

A public-security analyst requests marriage records on 申请数据; the civil-affairs data officer
sees it in 审批待办 and approves it narrowed; the requester sees the grant on 我的申请; 共享统计
counts it. 供需对接 posts a demand and shows its candidates. 开放数据 works signed out, and is
the only page that does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from govlake.home import Home
from lake import sharing
from tests.app.conftest import APP_MAIN, home_for_the_app

SHARING_PAGES = ("pages/share_request.py", "pages/share_mine.py", "pages/share_inbox.py", "pages/share_grants.py",
                 "pages/share_demand.py", "pages/share_stats.py", "pages/open_data.py")


@pytest.fixture(scope="module")
def home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """A copy of the demo home (the pages write sharing state), with open data published; GOVLAKE_HOME set."""
    from views.opendata import publish

    root = tmp_path_factory.mktemp("sharing-app") / "home"
    shutil.copytree(built_home.root, root, ignore=shutil.ignore_patterns("cache", "spool", "duckdb_extensions"))
    shutil.copytree(built_home.extensions, root / "duckdb_extensions", copy_function=os.link)
    copy = Home(root)
    publish(copy, ["open_entities"])
    with home_for_the_app(copy):
        yield copy


def app_as(user: str | None, page: str) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_MAIN), default_timeout=120)
    if user is not None:
        at.session_state["signed_in_user"] = user
    at.run()
    return at.switch_page(page).run()


def submit(at: Any, label: str) -> Any:
    return next(button for button in at.button if button.label == label).click().run()


def texts(at: Any) -> str:
    return " ".join(str(e.value) for kind in ("success", "error", "info", "warning", "markdown", "caption")
                    for e in at.get(kind))


@pytest.mark.parametrize("page", SHARING_PAGES)
def test_every_sharing_page_renders_for_both_users(home: Home, page: str) -> None:
    for user in ("hz_pubsec", "mca_officer"):
        at = app_as(user, page)
        assert not at.exception and not at.error, (user, page, [e.value for e in at.exception])
        assert at.title and at.title[0].value


def test_request_approve_narrowed_and_see_the_grant(home: Home) -> None:
    at = app_as("hz_pubsec", "pages/share_request.py")
    at.text_input(key="share_search").input("婚姻登记").run()
    assert "数据集 marriages：婚姻登记信息" in at.selectbox(key="share_target").options  # the catalog search found it
    at.selectbox(key="share_target").set_value("dataset:marriages").run()
    at.multiselect(key="share_columns").set_value(["registration_no", "registration_type", "registration_date"])
    at.text_input(key="share_purpose").input("婚姻状况核验")
    at.text_area(key="share_basis").input("《婚姻登记条例》第二条：婚姻状况核验")
    submit(at, "提交申请")
    assert not at.exception, [e.value for e in at.exception]
    assert any("等待民政部审批" in s.value for s in at.success), texts(at)
    pending = sharing.requests(home, user="hz_pubsec", state="pending").row(0, named=True)  # newest first
    assert pending["target"] == "marriages" and pending["columns"] == ["registration_no", "registration_type",
                                                                       "registration_date"]

    # The requester is not an officer: the inbox says so instead of offering decisions.
    assert "只有部门数据管理员" in texts(app_as("hz_pubsec", "pages/share_inbox.py"))

    officer = app_as("mca_officer", "pages/share_inbox.py")
    assert f"{pending['id']} hz_pubsec：marriages" in officer.selectbox(key="inbox_request").options
    officer.multiselect(key="inbox_columns").set_value(["registration_no", "registration_type"])
    officer.number_input(key="inbox_days").set_value(30)
    submit(officer, "批准")
    assert any("已批准" in s.value for s in officer.success), texts(officer)
    [grant] = sharing.grants(home, user="hz_pubsec").iter_rows(named=True)
    assert grant["columns"] == ["registration_no", "registration_type"] and grant["period_days"] == 30

    mine = app_as("hz_pubsec", "pages/share_mine.py")
    granted = mine.dataframe[1].value
    assert grant["id"] in granted["授权编号"].tolist() and "有效" in granted["状态"].tolist()
    listed = app_as("mca_officer", "pages/share_grants.py").dataframe[0].value
    assert grant["id"] in listed["授权编号"].tolist()
    stats = app_as("mca_officer", "pages/share_stats.py")
    assert {m.label: m.value for m in stats.metric}["当前有效授权"] == "1 项"


def test_widening_an_approval_is_refused_on_the_page(home: Home) -> None:
    made = sharing.request(home, user="hz_pubsec", target="marriages", columns=["registration_no"],
                           purpose="婚姻状况核验", legal_basis="《婚姻登记条例》第二条：婚姻状况核验", period_days=10,
                           scope="3301")
    officer = app_as("mca_officer", "pages/share_inbox.py")
    officer.selectbox(key="inbox_request").set_value(made.id).run()
    officer.text_input(key="inbox_scope").input("33")  # wider than the requested 3301
    submit(officer, "批准")
    assert any("未能处理" in e.value for e in officer.error), texts(officer)
    assert sharing.get_request(home, made.id).state == "pending"


def test_post_a_demand_and_see_candidates(home: Home) -> None:
    at = app_as("hz_analyst", "pages/share_demand.py")
    at.text_input(key="demand_title").input("新生儿出生信息")
    at.text_input(key="demand_items").input("出生日期，母亲姓名")
    at.text_input(key="demand_purpose").input("新生儿落户办理")
    submit(at, "提交并匹配目录")
    assert not at.exception and any("已匹配" in s.value for s in at.success), texts(at)
    candidates = at.dataframe[1].value
    assert candidates["数据集"].tolist()[0] == "births"


def test_open_data_portal_needs_no_sign_in(home: Home) -> None:
    at = app_as(None, "pages/open_data.py")
    assert not at.exception and at.title[0].value == "开放数据"
    assert "开放数据·法人主体" in [s.value for s in at.subheader]
    downloads = at.get("download_button")
    assert len(downloads) == 4
    assert "不予开放" in at.dataframe[-1].value["开放属性"].tolist()


@pytest.mark.parametrize("page", ["pages/cockpit.py", "pages/share_request.py", "pages/share_mine.py",
                                  "pages/population.py"])
def test_every_other_page_still_needs_sign_in(home: Home, page: str) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_MAIN), default_timeout=60).run()
    assert at.title[0].value == "GovLake 政务大数据看板"  # the sign-in page
    # Signed out, the navigation registers the sign-in page and the open-data portal only.
    with pytest.raises(ValueError, match=r"Known pages: \['登录', '[^']*open_data.py'\]"):
        at.switch_page(page)
