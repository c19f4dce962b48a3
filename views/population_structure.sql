-- 人口结构：在世人口按区划（省、地、县逐级汇总）、性别和五岁年龄组统计，分别按户籍地和现居住地计数。
-- @scope: division
SELECT
    division_level,
    division,
    division_name,
    parent,
    province,
    sex,
    sex_name,
    age_band,
    age_band_start,
    age_group,
    hukou_persons,
    resident_persons,
    as_of
FROM topic.population_by_division_age_sex
