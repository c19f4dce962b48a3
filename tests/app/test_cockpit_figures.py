"""The cockpit's credit and aggregation figures: values, trends and previous-period changes, checked
against the built tables read directly (not through the app), for two users with different scopes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from app.format import count, percent, points, signed
from govlake.home import Home
from lake import delta
from lake.system import INGEST_LOG
from tests.app.conftest import APP_MAIN


def cockpit(user: str) -> dict[str, Any]:
    """The cockpit's metric cards for ``user``: label -> (value, delta, trend)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_MAIN), default_timeout=120)
    at.session_state["signed_in_user"] = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return {m.label: (m.value, m.proto.delta, list(m.proto.chart_data)) for m in at.metric}


@pytest.fixture(scope="module")
def national(app_home: Home) -> dict[str, Any]:
    return cockpit("national_leader")


@pytest.fixture(scope="module")
def hangzhou(app_home: Home) -> dict[str, Any]:
    return cockpit("hz_analyst")


def bad_share(frame: pl.DataFrame) -> float:
    return float(frame.filter(pl.col("grade") == "D")["subjects"].sum()) / float(frame["subjects"].sum())


@pytest.mark.parametrize(("user", "where"), [("national_leader", pl.col("division_level") == 1),
                                             ("hz_analyst", pl.col("division") == "330100")])
def test_credit_share_with_its_trend_and_last_month(app_home: Home, national: dict[str, Any],
                                                    hangzhou: dict[str, Any], user: str, where: pl.Expr) -> None:
    value, delta_text, trend = (national if user == "national_leader" else hangzhou)["信用差（D级）单位占比"]
    grades = delta.read(app_home.table_path("topic", "credit_grade_distribution")).filter(
        where & (pl.col("subject_type") == "entity"))
    assert value == percent(bad_share(grades))
    history = delta.read(app_home.table_path("topic", "credit_grade_by_month")).filter(where)
    by_date = [bad_share(history.filter(pl.col("graded_on") == day)) for day in sorted(set(history["graded_on"]))]
    assert len(trend) == 13 and trend == pytest.approx(by_date)
    assert trend[-1] == pytest.approx(bad_share(grades))
    assert delta_text == points(by_date[-1] - by_date[-2])


def test_datasets_aggregated_today_is_an_exact_count(app_home: Home, national: dict[str, Any]) -> None:
    from transforms.manifest import latest

    manifest = latest(app_home)
    assert manifest is not None
    log = delta.read(app_home.table_path("system", INGEST_LOG.name)).with_columns(
        pl.col("finished_at").dt.date().alias("day"))

    def datasets_on(day: dt.date) -> int:
        return log.filter(pl.col("day") == day)["dataset"].n_unique()

    value, delta_text, trend = national["当日归集数据集"]
    today, yesterday = datasets_on(manifest.as_of), datasets_on(manifest.as_of - dt.timedelta(days=1))
    assert today > 0 and value == count(today, "个") and delta_text == signed(today - yesterday, "个")
    assert len(trend) == 30 and trend[-1] == today
    assert trend[:-1] == [datasets_on(manifest.as_of - dt.timedelta(days=back)) for back in range(29, 0, -1)]


def test_the_analyst_is_not_granted_the_aggregation_report(hangzhou: dict[str, Any]) -> None:
    assert hangzhou["当日归集数据集"][0] == "无权查看"
    assert hangzhou["信用差（D级）单位占比"][2], "the analyst is granted the grade history, so the trend shows"
