-- 区划统计：每个区划（省、地、县逐级汇总）的在世户籍人口、常住人口、法人主体和宗地数量及人口密度。
-- @scope: division
SELECT
    division_level,
    division,
    division_name,
    parent,
    province,
    in_reference,
    hukou_persons,
    resident_persons,
    entities,
    entities_active,
    parcels,
    parcel_area_m2,
    area_km2,
    resident_density_per_km2
FROM base.geo_division_stats
