-- 部门归集统计：每个提供方部门编目和已归集的数据集、文件和行数、最近归集时间、时效状态和跨来源冲突数。
-- @scope: none — 部门级归集统计，不含任何个人或法人记录，也不按地域划分
SELECT
    department,
    department_name,
    short_name,
    datasets_catalogued,
    datasets_aggregated,
    files,
    rows_read,
    rows_loaded,
    rows_quarantined,
    quarantine_rate,
    last_ingested_at,
    days_since_last_ingestion,
    datasets_overdue,
    datasets_missing,
    freshness,
    conflicts_authoritative,
    conflicts_overruled,
    as_of
FROM topic.aggregation_by_department
