-- 单位信用：信用基础库每个统一社会信用代码一行，含失信、双公示、纳税信用事实和信用等级及依据；
-- 按住所行政区划限定可见范围。
-- @scope: division
SELECT
    uscc,
    entity_name,
    in_legal_entity,
    category,
    entity_type,
    status_name,
    industry_code,
    industry_section,
    division,
    dishonest_active,
    dishonest_active_cases,
    dishonest_cases,
    penalties_12m,
    penalties_36m,
    fines_12m_wan,
    severe_penalties_12m,
    licence_revoked_12m,
    licences_valid,
    tax_grade,
    legal_rep_dishonest,
    fact_records,
    grade,
    grade_label,
    grade_rule,
    grade_reasons
FROM base.credit_entity
