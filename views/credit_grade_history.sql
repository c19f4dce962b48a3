-- 单位信用等级月度变化：近12个月各月末和构建参考日，单位按信用等级和住所区划（省、地、县逐级汇总）的分布；
-- 历史月份按现有信用事实和现行评定规则回溯评定，供信用差单位占比的趋势和上期对比。
-- @scope: division
SELECT
    division_level,
    division,
    division_name,
    parent,
    province,
    graded_on,
    grade,
    grade_label,
    subjects,
    as_of
FROM topic.credit_grade_by_month
