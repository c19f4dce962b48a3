-- 出生死亡：按月和区划（省、地、县逐级汇总）统计出生和死亡，人口库登记数与卫健医学证明数并列。
-- @scope: division
SELECT
    division_level,
    division,
    division_name,
    parent,
    province,
    month,
    births_registered,
    deaths_registered,
    births_certified,
    deaths_certified,
    as_of
FROM topic.births_deaths_by_month
