-- 跨来源冲突（数据治理）：同一对象同一属性在不同来源取值不一致的记录，供质量反馈与核查。
-- 对象标识按主体类型脱敏，冲突取值默认隐藏；按对象所在行政区划（人口为户籍地，法人为住所）限定范围。
-- @scope: division
SELECT
    c.library,
    c.key,
    c.attribute,
    c.chosen_source,
    c.chosen_value,
    c.chosen_batch,
    c.other_source,
    c.other_value,
    c.other_batch,
    CASE c.library WHEN 'population' THEN p.hukou_division WHEN 'legal_entity' THEN e.division END AS division  -- 对象所在行政区划代码（人口为户籍地，法人为住所）
FROM base.conflicts AS c
-- Joined on the key alone, the library chosen in the CASE above: with the library in the ON
-- clause DuckDB 1.5 plans a nested-loop join (60 s at 1M persons instead of 0.2 s).
LEFT JOIN base.population AS p ON c.key = p.resident_id
LEFT JOIN base.legal_entity AS e ON c.key = e.uscc
