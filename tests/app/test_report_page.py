"""The governance page's quality loop (质量与异议): the report's figures, and each department's own cases.

Rendered headless (AppTest) over a copy of the demo home prepared as in tests/lake/test_reporting.py:
a real quality run, tickets acted on, an objection filed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from govlake.home import Home
from lake import feedback, objections, reporting
from tests.app.conftest import PageView, home_for_the_app, render
from tests.conftest import copy_home
from tests.lake.test_reporting import current_period, prepare

PAGE = "pages/governance.py"
#: A resident ID or USCC, in clear or masked: none may appear in the quality loop's tables.
RECORD_KEY = re.compile(r"\d{6}[\d*]{8}[\dX]{4}|[0-9A-HJ-NPQRTUWXY]{18}")


@pytest.fixture(scope="module")
def loop_home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:

    root = tmp_path_factory.mktemp("loop") / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports", "duckdb_extensions")
    home = Home(root)
    prepare(home)
    with home_for_the_app(home):
        yield home


def governance(user: str) -> PageView:
    return render(user, [PAGE])[PAGE]


def test_data_officer_sees_the_report_figures_and_their_own_department(loop_home: Home) -> None:
    view = governance("mca_officer")
    assert view.exceptions == [] and view.errors == []
    made = reporting.build_report(loop_home, reporting.Period.parse(current_period()), None)
    report = {section.key: section.figures for section in made.sections}
    tickets, cases = report["feedback"], report["objections"]
    assert view.metrics["待办工单"] == f"{tickets['open'] + tickets['acknowledged']} 张"
    assert view.metrics["处理中异议"] == f"{cases['open']} 件" == "1 件"
    assert view.metrics["质量综合得分"] == f"{report['quality']['scores']['overall'] * 100:.2f}%"
    mine = feedback.tickets(loop_home, department="civil_affairs")
    assert view.metrics["本部门工单"] == f"{len(mine)} 张"
    assert view.metrics["本部门异议"] == f"{len(objections.cases(loop_home, department='civil_affairs'))} 件"
    shown = set(view.column("工单", beside="逾期"))
    assert shown == {t.ticket_id for t in mine}, "the department's tickets, and only them"
    cases_of_mine = objections.cases(loop_home, department="civil_affairs")
    assert view.column("异议编号", beside="逾期") == [c.case_id for c in cases_of_mine]
    for column, value in view.strings():
        if column in ("工单", "状态", "数据集", "规则", "引入批次", "异议编号", "视图.列"):
            assert not RECORD_KEY.search(value), (column, value)


def test_another_department_sees_its_own_cases_only(loop_home: Home) -> None:
    view = governance("mps_officer")
    assert view.exceptions == [] and view.errors == []
    mine = {t.ticket_id for t in feedback.tickets(loop_home, department="public_security")}
    assert set(view.column("工单", beside="逾期")) == mine
    assert view.column("异议编号", beside="逾期") == [] and view.metrics["本部门异议"] == "0 件"


def test_users_without_the_report_grant_or_a_department(loop_home: Home) -> None:
    analyst = governance("hz_analyst")
    assert analyst.exceptions == [] and analyst.errors == []
    assert "待办工单" not in analyst.metrics, "the overview needs department_aggregation"
    assert any("department_aggregation" in info for info in analyst.infos)
    public = governance("open_public")
    assert public.exceptions == [] and public.errors == []
    assert any("未关联部门" in info for info in public.infos)
