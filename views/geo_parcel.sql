-- 宗地界址：不动产登记宗地的界址几何（WKB，EPSG:4490）、代表点、用途、登记面积和几何面积，及代表点是否位于申报区划内；
-- 不含权利人；按申报的所在行政区划限定可见范围。
-- @scope: division
SELECT
    parcel_code,
    division,
    province,
    city,
    land_use,
    land_use_name,
    area_m2,
    geometry_area_m2,
    right_type,
    registered_date,
    geometry,
    geometry_valid,
    centroid_lon,
    centroid_lat,
    located_division,
    in_declared_division,
    location_check
FROM base.geo_parcel
