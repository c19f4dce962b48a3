-- 开放数据·人口：在世户籍人口按省级区划、性别和年龄组（0-14、15-59、60+）计数；不足 10 人的单元格不予公开。
-- @scope: division
-- @open: persons
SELECT
    left(hukou_division, 2) || '0000' AS division,  -- 户籍地省级行政区划代码
    sex,  -- 性别代码（GB/T 2261.1）
    CASE
        WHEN age IS NULL THEN NULL
        WHEN age < 15 THEN '0-14'
        WHEN age < 60 THEN '15-59'
        ELSE '60+'
    END AS age_group,  -- 年龄组：0-14、15-59、60+
    count(*) AS persons  -- 人数（不足 10 人不公开）
FROM base.population
WHERE alive
GROUP BY ALL
