"""Record-level detail on the dashboards: land-parcel outlines on the 空间 map and one entity's credit facts
on the 信用 page, each checked against the built tables and within the user's scope."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from govlake.home import Home
from lake import delta
from tests.app.conftest import APP_MAIN
from views.session import open_session


def run_page(user: str, page: str, state: dict[str, Any] | None = None) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_MAIN), default_timeout=120)
    at.session_state["signed_in_user"] = user
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def outlines(at: Any) -> list[dict[str, Any]]:
    """The parcel features drawn on the page's division map (named dataset ``outlines``)."""
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        if "outlines" in (spec.get("datasets") or {}):
            return list(spec["datasets"]["outlines"])
    return []


def test_a_province_map_draws_every_parcel_outline(app_home: Home) -> None:
    import shapely

    parcels = delta.read(app_home.table_path("base", "geo_parcel"), columns=["parcel_code", "province", "geometry"])
    province = parcels.group_by("province").len().sort(["len", "province"], descending=[True, False])["province"][0]
    mine = parcels.filter(pl.col("province") == province)
    at = run_page("national_leader", "pages/geo.py", {"drill_1": province})
    drawn = outlines(at)
    assert sorted(f["parcel_code"] for f in drawn) == sorted(mine["parcel_code"].to_list())
    first = mine.row(0, named=True)
    feature = next(f for f in drawn if f["parcel_code"] == first["parcel_code"])
    assert shapely.geometry.shape(feature["geometry"]).equals(shapely.from_wkb(first["geometry"]))
    listed = [frame for frame in (df.value for df in at.dataframe) if "parcel_code" in frame.columns]
    assert listed and sorted(listed[0]["parcel_code"]) == sorted(mine["parcel_code"].to_list())
    assert any(f"共 {mine.height:,} 宗登记宗地" in caption.value for caption in at.caption)


def test_the_whole_country_shows_parcels_as_counts_not_outlines(app_home: Home) -> None:
    at = run_page("national_leader", "pages/geo.py")
    assert outlines(at) == []
    assert any("宗地数量" in caption.value for caption in at.caption)


def test_parcels_and_credit_facts_stay_in_scope(app_home: Home) -> None:
    parcels = delta.read(app_home.table_path("base", "geo_parcel"), columns=["division"])
    with open_session("national_leader", home=app_home) as wide, open_session("zj_leader", home=app_home) as narrow:
        assert wide.sql("SELECT count(*) AS n FROM geo_parcel")["n"][0] == parcels.height
        assert narrow.sql("SELECT count(*) AS n FROM geo_parcel")["n"][0] == \
            parcels.filter(pl.col("division").str.starts_with("33")).height
        assert "holder_id" not in wide.columns("geo_parcel")
        assert "credit_fact" not in wide.views()  # record-level credit detail is the analysts'
    entity = delta.read(app_home.table_path("base", "credit_entity"), columns=["uscc", "division"])
    facts = delta.read(app_home.table_path("base", "credit_facts"), columns=["subject_type", "subject_id"])
    in_hangzhou = facts.filter(pl.col("subject_type") == "entity").join(
        entity.filter(pl.col("division").str.starts_with("3301")), left_on="subject_id", right_on="uscc")
    with open_session("hz_analyst", home=app_home) as analyst:
        shown = analyst.sql("SELECT uscc, division FROM credit_fact")
    assert shown.height == in_hangzhou.height > 0
    assert shown["division"].str.starts_with("3301").all()


def test_one_entity_lists_its_credit_facts(app_home: Home) -> None:
    at = run_page("hz_analyst", "pages/credit.py")
    uscc = at.selectbox(key="credit_entity_choice").value
    facts = delta.read(app_home.table_path("base", "credit_facts")).filter(
        (pl.col("subject_type") == "entity") & (pl.col("subject_id") == uscc))
    listed = [frame for frame in (df.value for df in at.dataframe) if "fact_type_name" in frame.columns]
    assert listed and len(listed[0]) == facts.height > 0
    assert sorted(listed[0]["source_key"]) == sorted(facts["source_key"].to_list())
    in_force = int(facts["current"].sum())
    assert any(f"信用事实 {facts.height} 条，其中 {in_force} 条" in caption.value for caption in at.caption)


def test_leaders_see_dishonest_debtors_and_penalties_as_counts(app_home: Home) -> None:
    from app.format import count

    at = run_page("national_leader", "pages/credit.py")
    metrics = {metric.label: metric.value for metric in at.metric}
    entity = delta.read(app_home.table_path("base", "credit_entity"), columns=["dishonest_active", "penalties_12m"])
    assert metrics["失信被执行人（单位）"] == count(int(entity["dishonest_active"].sum()), "户")
    assert metrics["近12个月行政处罚"] == count(int(entity["penalties_12m"].sum()), "次")
    titles = [json.loads(chart.proto.spec)["title"]["text"] for chart in at.get("vega_lite_chart")]
    assert {"失信被执行人和行政处罚：分行业", "失信被执行人和行政处罚：分区划"} <= set(titles)
    # Counts only: the record-level look-up stays the analysts'.
    assert any("credit_entity" in info.value for info in at.info) and "信用等级" not in metrics
