-- 人口（个人明细）：人口基础库一人一档。公民身份号码、姓名、联系电话按目录标记脱敏，
-- 敏感个人信息（不满十四周岁未成年人信息等）默认隐藏，按户籍地行政区划限定可见范围。
-- @scope: hukou_division
SELECT
    resident_id,
    name,
    sex,
    birth_date,
    age,
    ethnicity,
    hukou_division,
    residence_division,
    marital_status,
    alive,
    death_date,
    insured,
    insurance_types,
    phone
FROM base.population
