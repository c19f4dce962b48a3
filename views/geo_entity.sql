-- 法人点位：法人基础库每个主体的住所坐标，以及坐标是否位于申报的住所区划内；按住所区划限定可见范围。
-- @scope: division
SELECT
    uscc,
    entity_name,
    category,
    status,
    division,
    city,
    longitude,
    latitude,
    located_division,
    in_declared_division,
    location_check
FROM base.geo_entity
