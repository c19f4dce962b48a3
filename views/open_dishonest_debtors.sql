-- 开放数据·失信被执行人名单：目前仍在名单上的失信被执行人，一个案件一行；已移出名单的不再公示。法人和非法人组织的名称、统一社会信用代码依法公示；
-- 自然人只公示姓氏和隐去出生日期的公民身份号码，纳入名单时不满 18 周岁（或身份号码读不出出生日期）的自然人不予公示。
-- @scope: court_division
-- @open: records
-- @party: party_kind
SELECT
    source_key AS case_no,  -- 案号
    subject_name AS debtor_name,  -- 被执行人姓名或名称（自然人仅公示姓氏）
    subject_type AS party_kind,  -- 被执行人类别代码：entity 法人或非法人组织，person 自然人
    CASE WHEN subject_type = 'person' THEN '自然人' ELSE '法人或非法人组织' END AS debtor_type_name,  -- 被执行人类型名称
    subject_id AS debtor_id,  -- 证件号码或统一社会信用代码（自然人隐去出生日期）
    authority AS court,  -- 执行法院
    division AS court_division,  -- 执行法院区划
    fact_date AS published_date,  -- 发布日期
    code_name AS performance  -- 履行情况
FROM base.credit_facts
WHERE source_dataset = 'dishonest_debtors'
    AND fact_type = 'dishonest_debtor'
    AND fact_date <= current_date
    AND (end_date IS NULL OR end_date > current_date)
    AND (subject_type = 'entity' OR (
        TRY_CAST(substr(subject_id, 7, 4) || '-' || substr(subject_id, 11, 2) || '-' || substr(subject_id, 13, 2) AS DATE) IS NOT NULL
        AND CAST(TRY_CAST(substr(subject_id, 7, 4) AS INTEGER) + 18 AS VARCHAR) || '-' || substr(subject_id, 11, 2) || '-'
            || substr(subject_id, 13, 2) <= CAST(fact_date AS VARCHAR)))
