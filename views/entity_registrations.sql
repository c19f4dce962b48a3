-- 市场主体登记：按月、行业门类、主体类别和住所区划（省、地、县逐级汇总）统计成立、注销和吊销数量。
-- @scope: division
SELECT
    division_level,
    division,
    division_name,
    parent,
    province,
    month,
    industry_section,
    industry_section_name,
    category,
    registered,
    cancelled,
    revoked,
    as_of
FROM topic.entities_by_industry_division_month
