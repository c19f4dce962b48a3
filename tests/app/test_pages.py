"""Every dashboard page, headless (Streamlit's AppTest), as users with different scopes.

A national leader and a 杭州 analyst see different numbers; the analyst sees only 3301 divisions and
personal information masked on every page; each page's queries are audited under the signed-in user.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from govlake.home import Home
from lake import audit
from tests.app.conftest import APP_MAIN, PAGES, PageView, render

#: A resident ID masked as the views mask it: first 6, eight stars, last 4.
MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
#: A resident ID in clear.
FULL_ID = re.compile(r"^\d{17}[\dX]$")
#: Columns that hold resident IDs on the pages.
ID_COLUMNS = ("resident_id", "legal_rep_id")


@pytest.fixture(scope="module")
def national(app_home: Home) -> dict[str, PageView]:
    return render("national_leader")


@pytest.fixture(scope="module")
def hangzhou(app_home: Home) -> dict[str, PageView]:
    return render("hz_analyst")


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_without_errors(national: dict[str, PageView], hangzhou: dict[str, PageView],
                                           page: str) -> None:
    for views in (national, hangzhou):
        view = views[page]
        assert view.exceptions == [] and view.errors == [], (page, view.exceptions, view.errors)
        assert view.titles[:1] == [PAGES[page]]


def test_charts_have_chinese_titles_units_and_data_date(national: dict[str, PageView]) -> None:
    charts = [spec for view in national.values() for spec in view.charts]
    assert len(charts) >= 15
    for spec in charts:
        title = spec["title"]
        assert re.search(r"[\u4e00-\u9fff]", title["text"]), title
        assert "单位：" in title["subtitle"] and "数据日期：" in title["subtitle"], title


def test_headline_figures_differ_by_scope(national: dict[str, PageView], hangzhou: dict[str, PageView]) -> None:
    wide, narrow = national["pages/cockpit.py"].metrics, hangzhou["pages/cockpit.py"].metrics
    for label in ("户籍人口（在世）", "存续市场主体", "信用差（D级）单位占比"):
        assert wide[label] != narrow[label], label
    assert _persons(wide["户籍人口（在世）"]) > _persons(narrow["户籍人口（在世）"]) > 0
    # The aggregation report is granted to leaders only: the analyst sees that, not an error.
    assert wide["当日归集数据集"].endswith("个") and narrow["当日归集数据集"] == "无权查看"


def test_sidebar_shows_user_scope_and_data_date(national: dict[str, PageView],
                                                hangzhou: dict[str, PageView]) -> None:
    text = " ".join(hangzhou["pages/cockpit.py"].sidebar)
    assert "hz_analyst" in text and "数据范围：杭州市" in text and "数据日期：" in text
    assert "数据范围：全国" in " ".join(national["pages/cockpit.py"].sidebar)


def test_hangzhou_analyst_sees_only_3301(hangzhou: dict[str, PageView], national: dict[str, PageView]) -> None:
    codes = [code for view in hangzhou.values() for code in view.column("code") if code]
    codes += [row["code"] for view in hangzhou.values() for row in view.chart_rows() if row.get("code")]
    assert codes and all(str(code).startswith("3301") for code in codes), sorted(set(codes))
    for column in ("hukou_division", "division"):
        values = [v for view in hangzhou.values() for v in view.column(column) if v]
        assert all(str(v).startswith("3301") for v in values), column
    wide = {str(code)[:2] for view in national.values() for code in view.column("code") if code}
    assert len(wide) > 10


def test_personal_information_stays_masked(hangzhou: dict[str, PageView]) -> None:
    ids = [value for view in hangzhou.values() for column in ID_COLUMNS for value in view.column(column) if value]
    assert ids, "the analyst's pages show masked resident IDs"
    assert all(MASKED_ID.match(value) for value in ids), [v for v in ids if not MASKED_ID.match(v)][:3]
    # No cell anywhere on any page holds a resident ID in clear (an entity's USCC may be all digits: public).
    leaked = [value for view in hangzhou.values() for column, value in view.strings()
              if FULL_ID.match(value) and column not in ("uscc", "licence_no")]
    assert leaked == []
    person_names = hangzhou["pages/population.py"].column("name", beside="resident_id")
    assert person_names and all(re.fullmatch(r"\S{1,2}\*", name) for name in person_names), person_names[:3]
    representatives = hangzhou["pages/entities.py"].column("legal_rep_name")
    assert representatives and all(name.endswith("*") for name in representatives)


def test_conditional_share_unmasks_for_public_security(app_home: Home) -> None:
    """The same page shows hz_pubsec the resident IDs in clear (their grant): the masking above is real."""
    views = render("hz_pubsec", ["pages/population.py"])
    ids = views["pages/population.py"].column("resident_id")
    assert ids and all(FULL_ID.match(value) for value in ids)


def test_page_queries_are_audited_under_the_user(app_home: Home) -> None:
    import streamlit as st

    st.cache_data.clear()
    before = {row["entry_id"] for row in audit.entries(app_home)}
    render("zj_leader", ["pages/population.py"])
    new = [row for row in audit.entries(app_home) if row["entry_id"] not in before]
    assert new and {row["user"] for row in new} == {"zj_leader"}
    assert all(row["decision"] == "allowed" for row in new), [r["reason"] for r in new if r["decision"] != "allowed"]
    read = {view for row in new for view in row["views"]}
    assert {"population_structure", "vital_statistics", "geo_division"} <= read


def test_drill_into_a_division(app_home: Home) -> None:
    views = render("zj_leader", ["pages/population.py"], state={"drill_1": "330100"})
    view = views["pages/population.py"]
    assert any("范围：杭州市（地级）" in caption for caption in view.captions), view.captions
    codes = [code for code in view.column("code") if code]
    assert codes and all(code.startswith("3301") and code != "330100" for code in codes)
    wide = render("zj_leader", ["pages/population.py"])["pages/population.py"]
    assert any("范围：浙江省（省级）" in caption for caption in wide.captions)
    assert {code[:4] for code in wide.column("code") if code} > {"3301"}


def test_credit_drill_down_to_one_entity(app_home: Home) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_MAIN), default_timeout=60)
    at.session_state["signed_in_user"] = "hz_analyst"
    at.run()
    at.switch_page("pages/credit.py").run()
    choices = at.selectbox(key="credit_entity_choice").options
    assert choices and all(choice.startswith("杭州") or "区" in choice or "县" in choice or "市" in choice
                           for choice in choices)
    at.text_input(key="credit_search").input("不存在的主体名称").run()
    assert any("没有匹配的主体" in info.value for info in at.info)
    at.text_input(key="credit_search").input("杭州").run()
    grade = [metric.value for metric in at.metric if metric.label == "信用等级"]
    assert grade and grade[0][0] in "ABCD" and not at.exception


def test_sign_in_checks_the_password(app_home: Home) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_MAIN), default_timeout=60).run()
    assert at.title[0].value == "GovLake 政务大数据看板" and not at.metric
    at.selectbox(key="signin_user").set_value("hz_analyst")
    at.text_input(key="signin_password").input("wrong-password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["用户名或密码不正确。"] and "signed_in_user" not in at.session_state
    at.text_input(key="signin_password").input("govlake-demo")
    at.button[0].click().run()
    assert at.session_state["signed_in_user"] == "hz_analyst"
    assert at.title[0].value == "总览" and not at.exception
    at.button(key="sign_out").click().run()
    assert "signed_in_user" not in at.session_state and at.title[0].value == "GovLake 政务大数据看板"


def test_unbuilt_home_is_explained_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GOVLAKE_HOME", str(tmp_path / "empty"))
    at = AppTest.from_file(str(APP_MAIN), default_timeout=60).run()
    assert not at.exception
    assert "数据湖尚未构建" in at.error[0].value and "govlake demo" in at.error[0].value


def test_a_new_build_changes_the_cache_key(built_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lake version the caches are keyed on follows the build manifest, so a refresh shows a new build."""
    import datetime as dt

    from app import data
    from transforms import manifest

    home = Home(tmp_path / "home").ensure()
    shutil.copytree(built_home.table_path("system", "builds"), home.table_path("system", "builds"))
    monkeypatch.setenv("GOVLAKE_HOME", str(home.root))
    first = data.lake_version()
    assert first is not None and data.lake_version() == first
    latest = manifest.latest(home)
    assert latest is not None
    manifest.record(home, kind="incremental", as_of=latest.as_of + dt.timedelta(days=1), batches=latest.batches,
                    new_batches=frozenset(), outputs=latest.outputs, keys_rebuilt=0,
                    started_at=dt.datetime.now(dt.UTC))
    second = data.lake_version()
    assert second is not None and second.build_id == first.build_id + 1 and second.key != first.key
    assert second.as_of == first.as_of + dt.timedelta(days=1)


def test_pages_never_read_the_lake_directly() -> None:
    """Pages read only through app/data.py (governed sessions); nothing in app/ opens Delta tables or DuckDB."""
    app = APP_MAIN.parent
    forbidden = re.compile(r"\b(deltalake|lake\.delta|from lake import delta|delta_scan|read_delta|scan_delta|duckdb|"
                           r"read_parquet|scan_parquet)\b")
    offenders = [str(path.relative_to(app)) for path in app.rglob("*.py") if forbidden.search(path.read_text())]
    assert offenders == []


def _persons(text: str) -> float:
    number = text.rstrip("人")
    scale = 1e8 if number.endswith("亿") else 1e4 if number.endswith("万") else 1
    return float(number.rstrip("万亿").replace(",", "")) * scale


def test_open_data_user_is_told_what_is_not_granted(app_home: Home) -> None:
    views = render("open_public")
    for page, view in views.items():
        assert view.exceptions == [] and view.errors == [], page
    assert set(views["pages/cockpit.py"].metrics.values()) == {"无权查看"}
    assert any("未获授权" in info for info in views["pages/population.py"].infos)
