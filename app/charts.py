"""Altair charts for the dashboards: every chart has a Chinese title, a unit and its data date.

Maps are drawn from our own simplified division boundaries (the governed ``geo_division`` view's
GeoJSON) with Vega-Lite's ``geoshape`` mark: no web map tiles, so they render offline.

>>> import datetime as dt
>>> frame = pl.DataFrame({"month": [dt.date(2026, 1, 1)], "births": [3]})
>>> chart = line(frame, x="month", series={"births": "出生"}, title="出生", unit="人", as_of=dt.date(2026, 1, 31))
>>> chart.to_dict()["title"]["text"]
'出生'
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import polars as pl

from app.format import VEGA_WAN_LABEL, subtitle

#: Colours used consistently across pages.
MALE, FEMALE = "#3b7dd8", "#e0607e"
GOOD, BAD = "#2e9d68", "#d9534f"
#: Land-parcel outlines on maps.
OUTLINE = "#1b7837"
GRADE_COLOURS: dict[str, str] = {"优": "#2e9d68", "良": "#7cb56b", "中": "#f0ad4e", "差": "#d9534f"}
SEQUENTIAL: Any = "blues"  # a Vega colour scheme name
#: Series colours: distinct, and readable when printed in grey.
PALETTE: tuple[str, ...] = ("#1f5fbf", "#d9534f", "#2e9d68", "#f0ad4e", "#7b5ea7", "#8c8c8c")
MAP_HEIGHT = 440


def chart_title(text: str, unit: str, as_of: dt.date | None, note: str = "") -> alt.TitleParams:
    """A chart title with the unit and the data date as its subtitle."""
    return alt.TitleParams(text=text, subtitle=subtitle(unit, as_of, note), anchor="start", fontSize=16,
                           subtitleColor="#666")


def wan_axis(axis_title: str | None = None, **kwargs: Any) -> alt.Axis:
    """A quantitative axis labelled in 万 / 亿."""
    return alt.Axis(title=axis_title, labelExpr=VEGA_WAN_LABEL, **kwargs)


def line(frame: pl.DataFrame, *, x: str, series: Mapping[str, str], title: str, unit: str,
         as_of: dt.date | None, note: str = "", x_title: str = "月份", time_format: str = "%Y年%m月",
         colours: Sequence[str] | None = None, ratio: bool = False) -> alt.Chart:
    """One line per column of ``series`` (column -> Chinese legend label) against a date column ``x``.

    With ``ratio`` the values are shares (0.034) and the axis reads in percent; otherwise in 万 / 亿.
    """
    long = frame.select(x, *series).unpivot(index=x, on=list(series), variable_name="series", value_name="value")
    long = long.with_columns(pl.col("series").replace_strict(dict(series), return_dtype=pl.String))
    return (
        alt.Chart(long, title=chart_title(title, unit, as_of, note))
        .mark_line(point=alt.OverlayMarkDef(size=20))
        .encode(
            x=alt.X(f"{x}:T", title=x_title, axis=alt.Axis(format=time_format, labelAngle=0)),
            y=alt.Y("value:Q", title=unit, axis=alt.Axis(title=unit, format=".1%") if ratio else wan_axis(unit),
                    scale=alt.Scale(zero=not ratio)),
            color=alt.Color("series:N", title=None, sort=list(series.values()),
                            scale=alt.Scale(domain=list(series.values()), range=list(colours or PALETTE)),
                            legend=alt.Legend(orient="top", columns=4, labelLimit=200)),
            tooltip=[alt.Tooltip(f"{x}:T", title=x_title, format=time_format), alt.Tooltip("series:N", title="指标"),
                     alt.Tooltip("value:Q", title=unit, format=".2%" if ratio else ",")],
        )
        .properties(height=300)
    )


def bars(frame: pl.DataFrame, *, category: str, value: str, title: str, unit: str, as_of: dt.date | None,
         category_title: str, value_title: str | None = None, colour: str | None = None, note: str = "",
         horizontal: bool = True, sort: Sequence[str] | str = "-x", colour_field: str | None = None,
         colour_title: str | None = None, colour_scale: alt.Scale | None = None, grouped: bool = False) -> alt.Chart:
    """A bar chart of ``value`` per ``category`` (horizontal by default, largest first).

    With ``colour_field``, bars are split by that field: stacked, or side by side when ``grouped``.
    """
    value_title = value_title or unit
    quantitative = alt.X(f"{value}:Q", title=value_title, axis=wan_axis(value_title)) if horizontal else \
        alt.Y(f"{value}:Q", title=value_title, axis=wan_axis(value_title))
    nominal = (alt.Y(f"{category}:N", title=category_title, sort=sort, axis=alt.Axis(labelLimit=240)) if horizontal
               else alt.X(f"{category}:N", title=category_title, sort=sort, axis=alt.Axis(labelAngle=0)))
    encoding: dict[str, Any] = {
        "x": quantitative if horizontal else nominal,
        "y": nominal if horizontal else quantitative,
        "tooltip": [alt.Tooltip(f"{category}:N", title=category_title),
                    alt.Tooltip(f"{value}:Q", title=value_title, format=",")],
    }
    if colour_field:
        encoding["color"] = alt.Color(f"{colour_field}:N", title=colour_title, scale=colour_scale or alt.Undefined,
                                      legend=alt.Legend(orient="top"))
        encoding["tooltip"].append(alt.Tooltip(f"{colour_field}:N", title=colour_title))
        if grouped:
            encoding["yOffset" if horizontal else "xOffset"] = alt.XOffset(f"{colour_field}:N") if not horizontal \
                else alt.YOffset(f"{colour_field}:N")
    mark = alt.Chart(frame, title=chart_title(title, unit, as_of, note)).mark_bar(color=colour or alt.Undefined)
    # A fixed step per bar keeps every Chinese label readable (Vega hides labels that overlap).
    height: alt.Step | int = alt.Step(11 if grouped else 26) if horizontal else 300
    return mark.encode(**encoding).properties(height=height)


def complete(frame: pl.DataFrame, column: str, values: Sequence[Any], *, zero: Sequence[str]) -> pl.DataFrame:
    """``frame`` with a row for each of ``values`` in ``column`` (in that order), ``zero`` columns 0 where added.

    Charts of months, years or age bands must not skip the empty ones: a line would jump over them.
    """
    keys = pl.DataFrame({column: list(values)}, schema={column: frame.schema[column]})
    return keys.join(frame, on=column, how="left").with_columns(pl.col(list(zero)).fill_null(0))


#: The five-year age bands of ``population_structure``, youngest first.
AGE_BANDS: tuple[str, ...] = (*(f"{start}-{start + 4}" for start in range(0, 100, 5)), "100+")


def pyramid(frame: pl.DataFrame, *, title: str, as_of: dt.date | None, note: str = "") -> alt.Chart:
    """An age–sex pyramid from rows of ``age_band``, ``sex_label`` (男/女) and ``persons``; every band is drawn.

    Men are drawn to the left (negative values), women to the right; the axis shows absolute values.
    """
    grid = pl.DataFrame([(band, sex) for band in AGE_BANDS for sex in ("男", "女")], schema=["age_band", "sex_label"],
                        orient="row")
    data = grid.join(frame.select("age_band", "sex_label", "persons"), on=["age_band", "sex_label"], how="left") \
        .with_columns(pl.col("persons").fill_null(0))
    data = data.with_columns(
        pl.when(pl.col("sex_label") == "男").then(-pl.col("persons")).otherwise(pl.col("persons")).alias("signed")
    )
    order = list(reversed(AGE_BANDS))
    return (
        alt.Chart(data, title=chart_title(title, "人", as_of, note))
        .mark_bar()
        .encode(
            y=alt.Y("age_band:N", title="年龄组（岁）", sort=order, axis=alt.Axis(labelOverlap=False)),
            x=alt.X("signed:Q", title="人数（左：男，右：女）",
                    axis=alt.Axis(labelExpr=VEGA_WAN_LABEL.replace("datum.value", "abs(datum.value)"))),
            color=alt.Color("sex_label:N", title="性别", scale=alt.Scale(domain=["男", "女"], range=[MALE, FEMALE]),
                            legend=alt.Legend(orient="top")),
            tooltip=[alt.Tooltip("age_band:N", title="年龄组"), alt.Tooltip("sex_label:N", title="性别"),
                     alt.Tooltip("persons:Q", title="人数", format=",")],
        )
        .properties(height=alt.Step(17))
    )


def shapes(boundaries: pl.DataFrame) -> list[dict[str, Any]]:
    """GeoJSON features of ``boundaries`` (code, name, boundary_simplified_geojson), rings oriented for d3.

    Parsing and re-orienting the GeoJSON is the costly part of a map (0.1 s for the provinces), so
    app/maps.py caches the result per user, build and division.
    """
    out: list[dict[str, Any]] = []
    for row in boundaries.iter_rows(named=True):
        if row["boundary_simplified_geojson"]:
            out.append({"type": "Feature", "code": row["code"], "name": row["name"],
                        "geometry": rewind(json.loads(row["boundary_simplified_geojson"]))})
    return out


def wkb_features(frame: pl.DataFrame, *, geometry: str = "geometry") -> list[dict[str, Any]]:
    """Rows of ``frame`` with a WKB ``geometry`` column as GeoJSON features (other columns flattened in).

    Rows whose geometry is missing or unreadable are left out. Dates become ISO text, so the
    features can go into a chart spec as they are.
    """
    import shapely

    rows = frame.drop_nulls(geometry)
    if rows.height == 0:
        return []
    shapes = shapely.from_wkb(rows[geometry].to_numpy(), on_invalid="ignore")
    texts = shapely.to_geojson(shapes)
    others = rows.drop(geometry).with_columns(pl.col(pl.Date, pl.Datetime).cast(pl.String))
    out: list[dict[str, Any]] = []
    for properties, text in zip(others.iter_rows(named=True), texts, strict=True):
        if text is not None:
            out.append({"type": "Feature", **properties, "geometry": rewind(json.loads(text))})
    return out


def features(shapes: list[dict[str, Any]], values: pl.DataFrame, *, value: str) -> list[dict[str, Any]]:
    """``shapes`` (from :func:`shapes`) with ``value`` joined by code, as the rows a choropleth draws.

    Divisions without a value get 0, so they are drawn in the lightest colour rather than dropped.
    The geometry objects are shared with ``shapes``, not copied.
    """
    lookup = dict(zip(values["code"].to_list(), values[value].to_list(), strict=True))
    return [{**shape, "value": lookup.get(shape["code"]) or 0} for shape in shapes]


def rewind(geometry: dict[str, Any]) -> dict[str, Any]:
    """Orient a (Multi)Polygon's rings the way d3-geo (Vega's renderer) reads them.

    GeoJSON (RFC 7946) winds exterior rings counter-clockwise, but d3-geo treats a ring as
    spherical and reads a counter-clockwise exterior as "everything except this polygon",
    which paints the whole map. d3 wants exterior rings clockwise and holes counter-clockwise.
    """
    def oriented(ring: list[list[float]], clockwise: bool) -> list[list[float]]:
        area2 = sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in itertools.pairwise(ring))
        return ring if (area2 < 0) == clockwise else ring[::-1]

    def polygon(rings: list[list[list[float]]]) -> list[list[list[float]]]:
        return [oriented(ring, clockwise=index == 0) for index, ring in enumerate(rings)]

    if geometry.get("type") == "Polygon":
        return {**geometry, "coordinates": polygon(geometry["coordinates"])}
    if geometry.get("type") == "MultiPolygon":
        return {**geometry, "coordinates": [polygon(rings) for rings in geometry["coordinates"]]}
    return geometry


#: Names of the map's datasets in the Vega-Lite spec.
SHAPES_DATA, POINTS_DATA, OUTLINES_DATA = "division_shapes", "points", "outlines"


def choropleth(shapes: list[dict[str, Any]], *, title: str, unit: str, value_title: str,
               as_of: dt.date | None, note: str = "", points: pl.DataFrame | None = None,
               point_tooltip: Sequence[tuple[str, str]] = (), scheme: Any = SEQUENTIAL,
               value_format: str = ",", scale_type: Any = "linear",
               outlines: list[dict[str, Any]] | None = None,
               outline_tooltip: Sequence[tuple[str, str, str]] = ()) -> dict[str, Any]:
    """A Vega-Lite spec: a choropleth of ``shapes`` (from :func:`features`), optionally with points
    (longitude/latitude) and outlines (GeoJSON features, e.g. land parcels) on top.

    The shapes and points go into the spec as named datasets after Altair has built it: Altair
    walks every value it is given, and for the provinces' coordinates that alone took 0.7 s a
    page. Render the spec with ``st.vega_lite_chart``.

    ``scale_type="quantile"`` colours by rank, for skewed measures such as densities (one city
    district would otherwise wash every other division out).

    A click selects a division (``code``); pages pass ``on_select`` to drill into it.
    """
    pick = alt.selection_point(name="division", fields=["code"], on="click")
    base = (
        alt.Chart(alt.Data(name=SHAPES_DATA))
        .mark_geoshape(stroke="#ffffff", strokeWidth=0.8)
        .encode(
            color=alt.Color("value:Q", title=value_title, scale=alt.Scale(scheme=scheme, type=scale_type),
                            legend=alt.Legend(orient="right", titleLimit=300, labelExpr=VEGA_WAN_LABEL)
                            if scale_type == "linear" else
                            alt.Legend(orient="right", titleLimit=300, format=value_format, type="symbol")),
            tooltip=[alt.Tooltip("name:N", title="区划"), alt.Tooltip("code:N", title="代码"),
                     alt.Tooltip("value:Q", title=value_title, format=value_format)],
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.85)),
        )
        .add_params(pick)
    )
    layers: list[alt.Chart] = [base]
    datasets: dict[str, Any] = {SHAPES_DATA: shapes}
    if outlines:
        tooltip = [alt.Tooltip(f"{column}:{kind}", title=label) for column, label, kind in outline_tooltip]
        layers.append(
            alt.Chart(alt.Data(name=OUTLINES_DATA))
            .mark_geoshape(stroke=OUTLINE, strokeWidth=1.2, fill=OUTLINE, fillOpacity=0.35)
            .encode(tooltip=tooltip)
        )
        if all("centroid_lon" in feature for feature in outlines[:1]):
            # A parcel is a few hundred metres across: on a province's or a city's map its outline
            # is smaller than a pixel, so a marker at its representative point shows where it is.
            layers.append(
                alt.Chart(alt.Data(name=OUTLINES_DATA))
                .mark_square(size=14, color=OUTLINE, opacity=0.8)
                .encode(longitude="centroid_lon:Q", latitude="centroid_lat:Q", tooltip=tooltip)
            )
        datasets[OUTLINES_DATA] = outlines
    if points is not None and points.height:
        layers.append(
            alt.Chart(alt.Data(name=POINTS_DATA))
            .mark_circle(size=28, color="#d9534f", opacity=0.75, stroke="#ffffff", strokeWidth=0.5)
            .encode(longitude="longitude:Q", latitude="latitude:Q",
                    tooltip=[alt.Tooltip(f"{column}:N", title=label) for column, label in point_tooltip])
        )
        datasets[POINTS_DATA] = points.to_dicts()
    layered = alt.LayerChart(layer=layers, title=chart_title(title, unit, as_of, note))
    spec: dict[str, Any] = layered.project(type="mercator").properties(height=MAP_HEIGHT).to_dict()
    spec["datasets"] = {**spec.get("datasets", {}), **datasets}
    return spec


def parcel_map(features: list[dict[str, Any]], *, title: str, as_of: dt.date | None, note: str = "") -> alt.Chart:
    """A close-up of land-parcel outlines (from :func:`wkb_features`, with a boolean ``chosen``): the chosen
    parcel filled, its neighbours outlined; the projection fits the parcels."""
    return (
        alt.Chart(alt.Data(values=features), title=chart_title(title, "平方米（登记面积）", as_of, note))
        .mark_geoshape(stroke=OUTLINE, strokeWidth=1.5)
        .encode(
            fill=alt.condition("datum.chosen", alt.value(OUTLINE), alt.value("#d9f0d3")),
            fillOpacity=alt.condition("datum.chosen", alt.value(0.75), alt.value(0.5)),
            tooltip=[alt.Tooltip("parcel_code:N", title="宗地代码"), alt.Tooltip("land_use_name:N", title="土地用途"),
                     alt.Tooltip("area_m2:Q", title="登记面积（平方米）", format=",.0f"),
                     alt.Tooltip("registered_date:N", title="登记日期")],
        )
        .project(type="mercator")
        .properties(height=360)
    )


def picked_code(event: Any) -> str | None:
    """The division code a click on a :func:`choropleth` selected, if any."""
    try:
        picked = event["selection"]["division"]
    except (KeyError, TypeError):
        return None
    if isinstance(picked, list) and picked and isinstance(picked[0], dict):
        code = picked[0].get("code")
        return str(code) if code else None
    return None

