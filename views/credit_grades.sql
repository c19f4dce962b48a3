-- 信用等级分布：单位和个人按信用等级、主体类别和区划（省、地、县逐级汇总）的分布。
-- @scope: division
SELECT
    division_level,
    division,
    division_name,
    parent,
    province,
    subject_type,
    category,
    grade,
    grade_label,
    subjects,
    share,
    as_of
FROM topic.credit_grade_distribution
