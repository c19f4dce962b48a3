-- 行政区划：省、地、县三级行政区划代码、名称、层级、面积、代表点和供地图渲染的简化边界（GeoJSON）。
-- @scope: code
SELECT
    code,
    name,
    level,
    level_name,
    parent,
    province,
    city,
    is_leaf,
    has_boundary,
    boundary_simplified_geojson,
    area_km2,
    centroid_lon,
    centroid_lat,
    bbox_xmin,
    bbox_ymin,
    bbox_xmax,
    bbox_ymax,
    reference_as_of
FROM base.geo_division
