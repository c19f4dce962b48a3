-- 法人（主体明细）：法人基础库一码一档，市场主体和社会组织的登记信息；
-- 法定代表人身份号码和姓名脱敏，按住所行政区划限定可见范围。
-- @scope: division
SELECT
    uscc,
    entity_name,
    category,
    entity_type,
    status,
    status_name,
    closed_date,
    legal_rep_id,
    legal_rep_name,
    legal_rep_in_population,
    registered_capital,
    industry_code,
    industry_section,
    established_date,
    division,
    address,
    longitude,
    latitude
FROM base.legal_entity
