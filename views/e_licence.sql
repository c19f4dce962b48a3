-- 电子证照：每张电子证照一行，持证主体关联到人口库或法人库，按构建参考日判断有效状态；
-- 个人持证主体的姓名和身份号码脱敏，按颁证单位行政区划限定可见范围。
-- @scope: division
SELECT
    licence_id,
    licence_type_code,
    licence_type,
    licence_no,
    holder_name,
    holder_code,
    holder_key,
    holder_code_type,
    holder_kind,
    link_status_name,
    holder_name_matches,
    holder_active,
    issuer,
    issued_date,
    valid_from,
    valid_to,
    long_term,
    licence_status_name,
    validity,
    validity_name,
    days_to_expiry,
    division
FROM base.e_licence
