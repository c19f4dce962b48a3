-- 信用分行业分区划统计：单位按住所行政区划和行业门类汇总的单位数、当前失信被执行人单位数、近12个月行政处罚次数和罚款；
-- 不含单个主体的记录，供领导查看失信被执行人和行政处罚的行业、区划分布；按住所行政区划限定可见范围。
-- @scope: division
SELECT
    division,  -- 住所行政区划代码（县级，未知为空）
    industry_section,  -- 行业门类（GB/T 4754），为空表示未登记行业
    count(*) AS subjects,  -- 单位数
    count(*) FILTER (WHERE dishonest_active) AS dishonest,  -- 当前为失信被执行人的单位数
    sum(penalties_12m) AS penalties,  -- 近12个月行政处罚次数
    sum(fines_12m_wan) AS fines  -- 近12个月罚款（万元）
FROM base.credit_entity
GROUP BY ALL
