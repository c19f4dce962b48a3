"""Division maps: a choropleth of the chosen division's children over their real boundaries.

Boundaries come from the governed ``geo_division`` view (simplified GeoJSON), so a scoped user
only ever gets the shapes of their own divisions. Clicking a division drills into it (the same
as choosing it in the sidebar). No web tiles are used: the map is drawn from the shapes alone.

The parsed shapes are cached per user, build and division (:func:`division_shapes`), and the map
is handed to the browser as a Vega-Lite spec built without passing the coordinates through
Altair (app/charts.py): together these took a warm map page from about 0.9 s to 0.2 s of server
time at 1M persons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import streamlit as st

from app import charts
from app.data import Reader, literal
from app.drill import Division, drill_to


def boundaries(reader: Reader, division: Division) -> pl.DataFrame:
    """Simplified boundaries of the division's children (or of the division itself when it has none)."""
    empty = pl.DataFrame(schema={"code": pl.String, "name": pl.String, "boundary_simplified_geojson": pl.String})
    if not reader.has("geo_division"):
        return empty
    where = "level = 1" if division.code is None else f"parent = {literal(division.code)}"
    shapes = reader.sql(f"SELECT code, name, boundary_simplified_geojson FROM geo_division WHERE {where} ORDER BY code")
    if shapes.height == 0 and division.code is not None:
        shapes = reader.sql("SELECT code, name, boundary_simplified_geojson FROM geo_division "
                            f"WHERE code = {literal(division.code)}")
    return shapes


@st.cache_data(show_spinner=False, max_entries=256)
def _shapes(user: str, version: str, code: str | None, _reader: Reader, _division: Division) -> list[dict[str, Any]]:
    """The parsed shapes; cached per user, build and division (the underscored arguments are not hashed)."""
    return charts.shapes(boundaries(_reader, _division))


def division_shapes(reader: Reader, division: Division) -> list[dict[str, Any]]:
    """GeoJSON features of the division's children (itself when it has none), parsed once per user and build."""
    return _shapes(reader.user, reader.version.key, division.code, reader, division)


def _on_click(reader: Reader, key: str) -> None:
    code = charts.picked_code(st.session_state.get(key))
    if code:
        drill_to(reader, code)


def division_map(reader: Reader, division: Division, values: pl.DataFrame, *, value: str, title: str, unit: str,
                 value_title: str, key: str, points: pl.DataFrame | None = None,
                 point_tooltip: Sequence[tuple[str, str]] = (), value_format: str = ",",
                 scheme: str = charts.SEQUENTIAL, scale_type: str = "linear",
                 outlines: list[dict[str, Any]] | None = None,
                 outline_tooltip: Sequence[tuple[str, str, str]] = ()) -> None:
    """Render the choropleth of ``values`` (``code`` and ``value`` columns) for the division's children."""
    shapes = charts.features(division_shapes(reader, division), values, value=value)
    if not shapes:
        st.info("当前范围没有可绘制的区划边界。")
        return
    spec = charts.choropleth(shapes, title=title, unit=unit, value_title=value_title, as_of=reader.as_of,
                             note=f"{division.name} · 点击区划下钻", points=points, point_tooltip=point_tooltip,
                             value_format=value_format, scheme=scheme, scale_type=scale_type,
                             outlines=outlines, outline_tooltip=outline_tooltip)
    st.vega_lite_chart(spec, width="stretch", key=key, on_select=lambda: _on_click(reader, key),
                       selection_mode="division")
