"""空间 (geospatial): divisions, land parcels and entity density on a map.

Reads ``geo_division`` (boundaries) and ``geo_division_stats`` (persons, entities and land parcels
per division, rolled up province → city → county). Users granted ``geo_entity`` also see every
entity as a point and whether its coordinates fall inside its declared division.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import streamlit as st

from app.data import Reader
from app.drill import Division
from app.format import count
from app.maps import division_map
from app.page import context, header, not_granted


@dataclass(frozen=True)
class Measure:
    """One quantity per division the map can show."""

    label: str
    unit: str
    expression: str  # over geo_division_stats columns
    value_format: str = ",.0f"
    scale_type: str = "linear"  # "quantile" for skewed measures


MEASURES: dict[str, Measure] = {
    "m_density": Measure("常住人口密度", "人/平方公里", "resident_density_per_km2", ",.4~r", "quantile"),
    "m_entity_density": Measure("法人主体密度", "户/百平方公里", "entities_active * 100.0 / nullif(area_km2, 0)",
                                ",.4~r", "quantile"),
    "m_entities": Measure("存续法人主体", "户", "entities_active"),
    "m_parcels": Measure("宗地数量", "宗", "parcels"),
    "m_parcel_area": Measure("宗地面积", "公顷", "parcel_area_m2 / 10000.0", ",.2f"),
    "m_area": Measure("区划面积", "平方公里", "area_km2", ",.0f"),
}

STATS_COLUMNS = ("hukou_persons, resident_persons, entities, entities_active, parcels, parcel_area_m2, area_km2, "
                 "resident_density_per_km2")


def stats(reader: Reader, division: Division) -> pl.DataFrame:
    """Per child division (the division itself for a county): every statistic and every measure."""
    measures = ", ".join(f"{m.expression} AS {key}" for key, m in MEASURES.items())
    select = f"SELECT division AS code, division_name AS name, {STATS_COLUMNS}, {measures} FROM geo_division_stats"
    rows = reader.sql(f"{select} WHERE {division.children_filter()} ORDER BY division")
    if rows.height == 0 and division.code is not None:
        rows = reader.sql(f"{select} WHERE {division.total_filter()}")
    # Densities span 0.001 (the small demo) to 10,000 (a city district): keep 4 significant digits.
    return rows.with_columns(pl.col("m_density", "m_entity_density").cast(pl.Float64).round_sig_figs(4))


def geo() -> None:
    reader, division = context()
    header("空间", "行政区划、土地宗地和法人主体的空间分布与密度", reader, division)
    if not reader.has("geo_division_stats", "geo_division"):
        not_granted("geo_division_stats", "geo_division")
        return
    total = reader.sql(f"SELECT {STATS_COLUMNS} FROM geo_division_stats WHERE {division.total_filter()}").sum()
    row = total.row(0, named=True) if total.height else {}
    cards = st.columns(4)
    cards[0].metric("区划面积（平方公里）", count(row.get("area_km2")), border=True)
    cards[1].metric("常住人口", count(row.get("resident_persons"), "人"), border=True)
    cards[2].metric("存续法人主体", count(row.get("entities_active"), "户"), border=True)
    cards[3].metric("登记宗地", count(row.get("parcels"), "宗"), border=True,
                    help=f"宗地面积合计 {count((row.get('parcel_area_m2') or 0) / 10000, '公顷')}")

    key = st.segmented_control("地图指标", list(MEASURES), default="m_density", key="geo_measure",
                               format_func=lambda name: MEASURES[name].label) or "m_density"
    measure = MEASURES[key]
    per_division = stats(reader, division)
    points = None
    if reader.has("geo_entity"):
        points = reader.sql(
            "SELECT entity_name, category, location_check, longitude, latitude FROM geo_entity "
            f"WHERE {division.prefix_filter()} AND longitude IS NOT NULL AND latitude IS NOT NULL LIMIT 20000")
    division_map(reader, division, per_division, value=key, title=f"各区划{measure.label}", unit=measure.unit,
                 value_title=f"{measure.label}（{measure.unit}）", key="geo_map", points=points,
                 point_tooltip=(("entity_name", "主体名称"), ("category", "主体类别"), ("location_check", "坐标核验")),
                 value_format=measure.value_format, scale_type=measure.scale_type)
    if points is not None:
        located = reader.sql(
            "SELECT location_check, count(*) AS entities FROM geo_entity "
            f"WHERE {division.prefix_filter()} GROUP BY ALL ORDER BY entities DESC")
        inside = int(located.filter(pl.col("location_check") == "match")["entities"].sum() or 0)
        st.caption(f"红点为法人主体住所坐标。坐标核验：{inside:,} / {int(located['entities'].sum() or 0):,} "
                   "个主体的坐标位于其登记的住所区划内。")
    else:
        st.caption("法人主体点位需要法人点位（geo_entity）视图权限；地图显示各区划汇总指标。")
    st.caption("土地宗地按所在区划汇总（宗地数量、面积）；宗地边界明细未开放为受控视图。")
    st.dataframe(
        per_division.select("code", "name", "area_km2", "hukou_persons", "resident_persons", "m_density",
                            "entities_active", "m_entity_density", "parcels", "m_parcel_area"),
        hide_index=True, width="stretch", height=min(35 * (per_division.height + 1) + 3, 640),
        column_config={
            "code": "区划代码", "name": "区划名称",
            "area_km2": st.column_config.NumberColumn("面积（平方公里）", format="%.0f"),
            "hukou_persons": st.column_config.NumberColumn("户籍人口", format="%d"),
            "resident_persons": st.column_config.NumberColumn("常住人口", format="%d"),
            "m_density": st.column_config.NumberColumn("人口密度（人/平方公里）"),
            "entities_active": st.column_config.NumberColumn("存续主体", format="%d"),
            "m_entity_density": st.column_config.NumberColumn("主体密度（户/百平方公里）"),
            "parcels": st.column_config.NumberColumn("宗地（宗）", format="%d"),
            "m_parcel_area": st.column_config.NumberColumn("宗地面积（公顷）", format="%.2f"),
        },
    )


if __name__ == "__main__":
    geo()
