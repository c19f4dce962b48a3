-- 开放数据·行政处罚（双公示）：公示期内的行政处罚决定，一项决定一行。法人、非法人组织和个体工商户的名称、统一社会信用代码依法公示；
-- 自然人只公示姓氏和隐去出生日期的公民身份号码，处罚时不满 18 周岁（或身份号码读不出出生日期）的自然人不予公示。
-- @scope: authority_division
-- @open: records
-- @party: party_kind
SELECT
    source_key AS decision_no,  -- 行政处罚决定书文号
    subject_name AS party_name,  -- 行政相对人名称（自然人仅公示姓氏）
    subject_type AS party_kind,  -- 行政相对人类别代码：entity 法人、非法人组织或个体工商户，person 自然人
    CASE WHEN subject_type = 'person' THEN '自然人' ELSE '法人、非法人组织或个体工商户' END AS party_type_name,  -- 行政相对人类别名称
    subject_id AS party_id,  -- 行政相对人代码：统一社会信用代码；自然人为隐去出生日期的公民身份号码
    code AS penalty_type,  -- 处罚类别（代码）
    code_name AS penalty_type_name,  -- 处罚类别名称
    amount_wan AS fine_amount,  -- 罚款金额(万元)
    fact_date AS decision_date,  -- 处罚决定日期
    end_date AS publicity_until,  -- 公示截止期（未报送公示截止期的决定不予公示）
    authority,  -- 处罚机关
    division AS authority_division  -- 处罚机关区划
FROM base.credit_facts
WHERE source_dataset = 'admin_penalties'
    AND fact_type = 'admin_penalty'
    AND fact_date <= current_date
    AND end_date >= current_date
    AND (subject_type = 'entity' OR (
        TRY_CAST(substr(subject_id, 7, 4) || '-' || substr(subject_id, 11, 2) || '-' || substr(subject_id, 13, 2) AS DATE) IS NOT NULL
        AND CAST(TRY_CAST(substr(subject_id, 7, 4) AS INTEGER) + 18 AS VARCHAR) || '-' || substr(subject_id, 11, 2) || '-'
            || substr(subject_id, 13, 2) <= CAST(fact_date AS VARCHAR)))
