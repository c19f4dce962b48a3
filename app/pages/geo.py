"""空间 (geospatial): divisions, land parcels and entity density on a map.

Reads ``geo_division`` (boundaries) and ``geo_division_stats`` (persons, entities and land parcels
per division, rolled up province → city → county). Users granted ``geo_entity`` also see every
entity as a point and whether its coordinates fall inside its declared division. Users granted
``geo_parcel`` (leaders and analysts) see the outlines of the land parcels of a province, city or
county on the map, a close-up of one parcel with its neighbours, and the list of parcels.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import streamlit as st

from app import charts
from app.data import Reader
from app.drill import Division
from app.format import LOCATION_CHECKS, count
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
    parcel_rows = parcels(reader, division)
    outlines = charts.wkb_features(parcel_rows.select(*PARCEL_TOOLTIP_COLUMNS, "centroid_lon", "centroid_lat",
                                                      "geometry")) \
        if parcel_rows is not None else None
    points = None
    if reader.has("geo_entity"):
        points = reader.sql(
            "SELECT entity_name, category, location_check, longitude, latitude FROM geo_entity "
            f"WHERE {division.prefix_filter()} AND longitude IS NOT NULL AND latitude IS NOT NULL LIMIT 20000")
    division_map(reader, division, per_division, value=key, title=f"各区划{measure.label}", unit=measure.unit,
                 value_title=f"{measure.label}（{measure.unit}）", key="geo_map", points=points,
                 point_tooltip=(("entity_name", "主体名称"), ("category", "主体类别"), ("location_check", "坐标核验")),
                 value_format=measure.value_format, scale_type=measure.scale_type,
                 outlines=outlines, outline_tooltip=PARCEL_TOOLTIP)
    if points is not None:
        located = reader.sql(
            "SELECT location_check, count(*) AS entities FROM geo_entity "
            f"WHERE {division.prefix_filter()} GROUP BY ALL ORDER BY entities DESC")
        inside = int(located.filter(pl.col("location_check") == "match")["entities"].sum() or 0)
        st.caption(f"红点为法人主体住所坐标。坐标核验：{inside:,} / {int(located['entities'].sum() or 0):,} "
                   "个主体的坐标位于其登记的住所区划内。")
    else:
        st.caption("法人主体点位需要法人点位（geo_entity）视图权限；地图显示各区划汇总指标。")
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
    parcel_section(reader, division, parcel_rows)


#: Most parcels drawn on one map and listed in one table.
MAX_PARCELS = 5000
#: Parcel columns shown in the map's tooltip: (column, label, Vega-Lite type).
PARCEL_TOOLTIP: tuple[tuple[str, str, str], ...] = (
    ("parcel_code", "宗地代码", "N"), ("land_use_name", "土地用途", "N"), ("area_m2", "登记面积（平方米）", "Q"),
    ("registered_date", "登记日期", "N"),
)
PARCEL_TOOLTIP_COLUMNS = tuple(column for column, _label, _kind in PARCEL_TOOLTIP)


def parcels(reader: Reader, division: Division) -> pl.DataFrame | None:
    """The land parcels of a province, city or county with their outlines (WKB); None for the whole country.

    The whole country is a choropleth of parcel counts and areas: its thousands of parcels, each a
    few hundred metres across, would be invisible specks on that map.
    """
    if not reader.has("geo_parcel") or division.code is None:
        return None
    return reader.sql(
        "SELECT parcel_code, land_use_name, area_m2, geometry_area_m2, right_type, registered_date, division, "
        f"location_check, centroid_lon, centroid_lat, geometry FROM geo_parcel WHERE {division.prefix_filter()} "
        f"ORDER BY parcel_code LIMIT {MAX_PARCELS}")


#: How far around the chosen parcel the close-up map shows neighbours (degrees, about 3 km).
NEIGHBOURHOOD_DEGREES = 0.03


def parcel_section(reader: Reader, division: Division, rows: pl.DataFrame | None) -> None:
    """The parcels of the division: a close-up of one parcel's outline with its neighbours, and the list."""
    st.subheader("宗地界址")
    if not reader.has("geo_parcel"):
        not_granted("geo_parcel")
        return
    if rows is None:
        st.caption("全国范围按区划显示宗地数量和面积（地图指标“宗地数量”“宗地面积”）；在侧栏选择省级、地级或县级区划后，"
                   "地图上叠加显示各宗地界址（绿色），并可逐宗查看。")
        return
    if rows.height == 0:
        st.info(f"{division.name}没有登记的宗地。")
        return
    shown = "" if rows.height < MAX_PARCELS else f"（仅显示前 {MAX_PARCELS:,} 宗）"
    st.caption(f"{division.name}共 {rows.height:,} 宗登记宗地{shown}，地图上以绿色显示界址。"
               "选择一宗查看其界址和周边宗地；宗地界址不含权利人信息。")
    labels = {row["parcel_code"]: f"{row['parcel_code']} · {row['land_use_name'] or '用途不详'} · "
                                  f"{count(row['area_m2'], '平方米')}"
              for row in rows.head(500).iter_rows(named=True)}
    left, right = st.columns([3, 2])
    with right:
        code = st.selectbox("宗地", list(labels), format_func=labels.__getitem__, key="geo_parcel_choice")
    chosen = rows.filter(pl.col("parcel_code") == code) if code else rows.head(1)
    if chosen.height:
        lon, lat = chosen["centroid_lon"][0], chosen["centroid_lat"][0]
        near = rows.filter((pl.col("centroid_lon") - lon).abs() <= NEIGHBOURHOOD_DEGREES,
                           (pl.col("centroid_lat") - lat).abs() <= NEIGHBOURHOOD_DEGREES) \
            if lon is not None and lat is not None else chosen
        features = charts.wkb_features(near.select(*PARCEL_TOOLTIP_COLUMNS, "geometry")
                                       .with_columns((pl.col("parcel_code") == chosen["parcel_code"][0])
                                                     .alias("chosen")))
        with left:
            st.altair_chart(charts.parcel_map(features, title=f"宗地界址：{chosen['parcel_code'][0]}",
                                              as_of=reader.as_of, note=f"周边约3公里内宗地 {len(features) - 1} 宗"),
                            width="stretch")
        with right:
            row = chosen.row(0, named=True)
            st.markdown(f"**{row['parcel_code']}**  \n用途：{row['land_use_name'] or '—'}  \n"
                        f"权利类型：{row['right_type'] or '—'}  \n登记日期：{row['registered_date'] or '—'}  \n"
                        f"登记面积：{count(row['area_m2'], '平方米')}  \n"
                        f"界址计算面积：{count(row['geometry_area_m2'], '平方米')}  \n"
                        f"坐标核验：{LOCATION_CHECKS.get(row['location_check'] or '', row['location_check'] or '—')}")
    st.dataframe(
        rows.select("parcel_code", "land_use_name", "area_m2", "geometry_area_m2", "registered_date", "division",
                    "location_check").with_columns(
            pl.col("location_check").replace_strict(LOCATION_CHECKS, default=pl.col("location_check"),
                                                    return_dtype=pl.String)),
        hide_index=True, width="stretch", height=min(35 * (rows.height + 1) + 3, 420),
        column_config={
            "parcel_code": "宗地代码", "land_use_name": "土地用途",
            "area_m2": st.column_config.NumberColumn("登记面积（平方米）", format="%.0f"),
            "geometry_area_m2": st.column_config.NumberColumn("界址计算面积（平方米）", format="%.0f"),
            "registered_date": st.column_config.DateColumn("登记日期", format="YYYY-MM-DD"),
            "division": "申报区划", "location_check": "坐标核验",
        },
    )


if __name__ == "__main__":
    geo()
