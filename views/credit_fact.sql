-- 单位信用事实：信用基础库中每个单位的每条信用事实（失信被执行案件、行政处罚、行政许可、纳税信用评价、法定代表人失信），
-- 供按单位下钻查看信用等级的依据；不含个人主体的事实和事实说明全文；按单位住所行政区划限定可见范围。
-- @scope: division
SELECT
    e.uscc,
    e.entity_name,
    e.division,  -- 单位住所行政区划代码
    f.fact_type,
    f.fact_type_name,
    f.fact_date,
    f.end_date,
    f.current,
    f.code,
    f.code_name,
    f.amount_wan,
    f.authority,
    f.division AS authority_division,  -- 作出决定的机关或法院的行政区划代码
    f.source_dataset,
    f.source_key
FROM base.credit_facts AS f
JOIN base.credit_entity AS e ON f.subject_id = e.uscc
WHERE f.subject_type = 'entity'
