-- 开放数据·行政许可（双公示）：已作出的行政许可决定，一项决定一行。法人、非法人组织和个体工商户的名称、统一社会信用代码和许可编号依法公示；
-- 自然人只公示姓氏和隐去出生日期的公民身份号码，不公示许可编号（证件编号可能就是身份号码），许可时不满 18 周岁（或身份号码读不出出生日期）的自然人不予公示。
-- @scope: authority_division
-- @open: records
-- @party: party_kind
SELECT
    source_key AS decision_no,  -- 行政许可决定文书号
    subject_name AS party_name,  -- 行政相对人名称（自然人仅公示姓氏）
    subject_type AS party_kind,  -- 行政相对人类别代码：entity 法人、非法人组织或个体工商户，person 自然人
    CASE WHEN subject_type = 'person' THEN '自然人' ELSE '法人、非法人组织或个体工商户' END AS party_type_name,  -- 行政相对人类别名称
    subject_id AS party_id,  -- 行政相对人代码：统一社会信用代码；自然人为隐去出生日期的公民身份号码
    code_name AS licence_name,  -- 许可证书名称
    CASE WHEN subject_type = 'entity' THEN code END AS licence_no,  -- 许可编号（自然人的不公示）
    fact_date AS decision_date,  -- 许可决定日期
    end_date AS valid_to,  -- 有效期至（空为长期有效）
    authority,  -- 许可机关
    division AS authority_division  -- 许可机关区划
FROM base.credit_facts
WHERE source_dataset = 'admin_licences'
    AND fact_type = 'admin_licence'
    AND fact_date <= current_date
    AND (subject_type = 'entity' OR (
        TRY_CAST(substr(subject_id, 7, 4) || '-' || substr(subject_id, 11, 2) || '-' || substr(subject_id, 13, 2) AS DATE) IS NOT NULL
        AND CAST(TRY_CAST(substr(subject_id, 7, 4) AS INTEGER) + 18 AS VARCHAR) || '-' || substr(subject_id, 11, 2) || '-'
            || substr(subject_id, 13, 2) <= CAST(fact_date AS VARCHAR)))
