-- 数据集逐日归集：每个数据集每天归集完成的批次数和读取、入库、隔离行数（近400天），供当日归集数据集数及其逐日趋势。
-- @scope: none — 数据集级归集统计，不含任何个人或法人记录，也不按地域划分
SELECT
    day,
    dataset,
    dataset_name,
    department,
    department_name,
    batches,
    rows_read,
    rows_loaded,
    rows_quarantined,
    as_of
FROM topic.aggregation_by_day
