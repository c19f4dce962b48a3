-- 个人信用：信用基础库每个有信用事实的自然人一行，含失信、双公示事实和信用等级；
-- 身份号码和姓名脱敏，按户籍地行政区划限定可见范围。
-- @scope: hukou_division
SELECT
    resident_id,
    name,
    in_population,
    alive,
    hukou_division,
    dishonest_active,
    dishonest_active_cases,
    dishonest_cases,
    penalties_12m,
    penalties_36m,
    fines_12m_wan,
    represents_dishonest_entities,
    fact_records,
    grade,
    grade_label,
    grade_rule
FROM base.credit_person
