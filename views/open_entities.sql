-- 开放数据·法人主体：存续法人主体按住所省级区划和行业门类计数；不足 10 个的单元格不予公开。
-- @scope: division
-- @open: entities
SELECT
    left(division, 2) || '0000' AS division,  -- 住所省级行政区划代码
    industry_section,  -- 行业门类（GB/T 4754），社会组织等为空
    count(*) AS entities  -- 存续主体数（不足 10 个不公开）
FROM base.legal_entity
WHERE status = '1'
GROUP BY ALL
