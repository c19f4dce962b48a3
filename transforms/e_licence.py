"""The e-licence base library (电子证照库): one row per licence, its holder linked, its validity.

Each licence of the e-licence directory is linked to its holder in a base library: a resident
ID to ``base.population``, a USCC to ``base.legal_entity``. ``link_status`` says how that went,
so a dashboard can count licences whose holder the lake does not know:

- ``linked``: found in the library its code type names;
- ``linked_code_type_wrong``: found, but in the other library (the declared code type is wrong);
- ``invalid_code``: not found, and the code fails its check (GB 11643 / GB 32100);
- ``not_found``: a valid code that neither library holds;
- ``missing_code``: no holder code at all.

Validity is judged at ``ctx.as_of`` (never the clock): ``revoked`` when the licence status is
注销 or 废止, else ``not_yet_valid`` before its start, ``expired`` after its end, ``valid``
otherwise. A licence without an end date is long-term (长期有效).
"""

from __future__ import annotations

import polars as pl

from transforms.context import BuildContext
from transforms.tables import TableSpec

#: holder_code_type code (holder_code_type.csv) -> the kind of holder it names.
HOLDER_KINDS = {"1": "entity", "2": "person"}
LINK_STATUS_NAMES = {
    "linked": "已关联",
    "linked_code_type_wrong": "已关联（代码类型填报有误）",
    "invalid_code": "持证主体代码未通过校验",
    "not_found": "基础库中无此主体",
    "missing_code": "未填报持证主体代码",
}
VALIDITY_NAMES = {"valid": "有效", "expired": "已过期", "revoked": "已注销或废止", "not_yet_valid": "未生效"}
#: licence_status codes (licence_status.csv) that end a licence: 注销, 废止.
ENDED_STATUSES = ("2", "3")
COLUMNS = [
    "licence_id", "licence_type_code", "licence_type", "licence_no",
    "holder_name", "holder_code", "holder_code_type", "holder_kind", "link_status", "link_status_name",
    "holder_name_matches", "holder_active",
    "issuer", "issuer_code", "issued_date", "valid_from", "valid_to", "long_term",
    "licence_status", "licence_status_name", "validity", "validity_name", "days_to_expiry",
    "division", "province", "source_batch",
]  # fmt: skip


def _people(ctx: BuildContext) -> pl.LazyFrame:
    people = ctx.outputs.get("base.population")
    if people is None:
        people = pl.DataFrame(schema={"resident_id": pl.String, "name": pl.String, "alive": pl.Boolean})
    return people.lazy().select(
        pl.col("resident_id").alias("holder_code"),
        pl.col("name").alias("_person_name"),
        pl.col("alive").alias("_person_active"),
        pl.lit(True).alias("_in_population"),
    )


def _entities(ctx: BuildContext) -> pl.LazyFrame:
    entities = ctx.outputs.get("base.legal_entity")
    if entities is None:
        entities = pl.DataFrame(schema={"uscc": pl.String, "entity_name": pl.String, "status": pl.String})
    return entities.lazy().select(
        pl.col("uscc").alias("holder_code"),
        pl.col("entity_name").alias("_entity_name"),
        (pl.col("status") == "1").alias("_entity_active"),
        pl.lit(True).alias("_in_legal_entity"),
    )


def link_holders(ctx: BuildContext, licences: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``holder_kind``, ``link_status``, ``holder_name_matches`` and ``holder_active``.

    The declared code type picks the library to look in first; a code found only in the other
    library is still linked, with ``link_status = "linked_code_type_wrong"``. Without a declared
    type, the library the code is found in decides, and for codes found nowhere the shape of the
    code (18 digits, or 17 and ``X``, is a resident ID).
    """
    code = pl.col("holder_code")
    declared = pl.col("_declared")
    in_population = pl.col("_in_population").fill_null(False)
    in_legal_entity = pl.col("_in_legal_entity").fill_null(False)
    linked = (
        licences.join(_people(ctx), on="holder_code", how="left")
        .join(_entities(ctx), on="holder_code", how="left")
        .with_columns(
            pl.col("holder_code_type")
            .replace_strict(HOLDER_KINDS, default=None, return_dtype=pl.String)
            .alias("_declared")
        )
        .with_columns(
            pl.when((declared == "person") & in_population)
            .then(pl.lit("population"))
            .when((declared == "entity") & in_legal_entity)
            .then(pl.lit("legal_entity"))
            .when(in_population)
            .then(pl.lit("population"))
            .when(in_legal_entity)
            .then(pl.lit("legal_entity"))
            .alias("_library")
        )
    )
    library = pl.col("_library")
    kind = (
        pl.when(library == "population")
        .then(pl.lit("person"))
        .when(library == "legal_entity")
        .then(pl.lit("entity"))
    )
    shape = pl.when(code.str.contains(r"^\d{17}[\dX]$")).then(pl.lit("person")).otherwise(pl.lit("entity"))
    status = (
        pl.when(code.is_null())
        .then(pl.lit("missing_code"))
        .when(library.is_not_null() & (declared.is_null() | (declared == kind)))
        .then(pl.lit("linked"))
        .when(library.is_not_null())
        .then(pl.lit("linked_code_type_wrong"))
        .when(~pl.col("holder_code__valid").fill_null(False))
        .then(pl.lit("invalid_code"))
        .otherwise(pl.lit("not_found"))
    )
    return linked.with_columns(
        pl.coalesce(kind, declared, shape).alias("holder_kind"),
        status.alias("link_status"),
        pl.when(library == "population")
        .then(pl.col("holder_name") == pl.col("_person_name"))
        .when(library == "legal_entity")
        .then(pl.col("holder_name") == pl.col("_entity_name"))
        .alias("holder_name_matches"),
        pl.when(library == "population")
        .then(pl.col("_person_active"))
        .when(library == "legal_entity")
        .then(pl.col("_entity_active"))
        .alias("holder_active"),
    ).with_columns(pl.col("link_status").replace_strict(LINK_STATUS_NAMES).alias("link_status_name"))


def validity(ctx: BuildContext, licences: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``validity``, ``long_term`` and ``days_to_expiry`` as of ``ctx.as_of``."""
    as_of = pl.lit(ctx.as_of)
    start = pl.coalesce("valid_from", "issued_date")
    end = pl.col("valid_to")
    state = (
        pl.when(pl.col("licence_status").is_in(ENDED_STATUSES))
        .then(pl.lit("revoked"))
        .when(start > as_of)
        .then(pl.lit("not_yet_valid"))
        .when(end < as_of)
        .then(pl.lit("expired"))
        .otherwise(pl.lit("valid"))
    )
    statuses = ctx.catalog.code_table("licence_status").codes
    return licences.with_columns(state.alias("validity"), end.is_null().alias("long_term")).with_columns(
        pl.col("validity").replace_strict(VALIDITY_NAMES).alias("validity_name"),
        pl.col("licence_status")
        .replace_strict(statuses, default=None, return_dtype=pl.String)
        .alias("licence_status_name"),
        pl.when(pl.col("validity") != "revoked")
        .then((end - as_of).dt.total_days())
        .cast(pl.Int32)
        .alias("days_to_expiry"),
    )


def e_licence(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    """The e-licence library ``base.e_licence``, from the e-licence directory.

    Reads ``base.population`` and ``base.legal_entity`` when earlier steps produced them;
    without them every holder is ``not_found`` or ``invalid_code``.
    """
    if not ctx.has_source("e_licences"):
        return {}
    licences = ctx.standardized("e_licences").with_columns(
        pl.col("division").str.slice(0, 2).alias("province"),
        pl.col("_batch_id").alias("source_batch"),
    )
    table = validity(ctx, link_holders(ctx, licences)).select(COLUMNS).sort("licence_id").collect()
    return {"base.e_licence": table}


TABLES: dict[str, TableSpec] = {
    "base.e_licence": TableSpec(
        "电子证照库：每张电子证照一行，持证主体关联到人口库（公民身份号码）或法人库（统一社会信用代码），"
        "并按构建参考日判断有效状态。含个人信息。",
        {
            "licence_id": "电子证照标识（GB/T 36904）",
            "licence_type_code": "证照类型代码",
            "licence_type": "证照类型名称",
            "licence_no": "证照编号",
            "holder_name": "持证主体名称或姓名（证照所载）",
            "holder_code": "持证主体代码：统一社会信用代码或公民身份号码",
            "holder_code_type": "持证主体代码类型：1 统一社会信用代码，2 公民身份号码",
            "holder_kind": "持证主体类型：person 个人（人口库）、entity 单位（法人库）",
            "link_status": "关联状态："
            + "，".join(f"{code} {name}" for code, name in LINK_STATUS_NAMES.items()),
            "link_status_name": "关联状态名称",
            "holder_name_matches": "证照所载名称是否与基础库一致（未关联为空）",
            "holder_active": "持证主体是否在世或存续（未关联为空）",
            "issuer": "颁证单位名称",
            "issuer_code": "颁证单位统一社会信用代码",
            "issued_date": "颁证日期",
            "valid_from": "有效期起始日期",
            "valid_to": "有效期截止日期，空为长期有效",
            "long_term": "是否长期有效（无截止日期）",
            "licence_status": "证照状态代码：1 有效，2 注销，3 废止",
            "licence_status_name": "证照状态名称",
            "validity": "构建参考日的有效状态："
            + "，".join(f"{code} {name}" for code, name in VALIDITY_NAMES.items()),
            "validity_name": "有效状态名称",
            "days_to_expiry": "距有效期截止的天数（以构建参考日计；已过期为负数；长期有效或已注销废止为空）",
            "division": "颁证单位行政区划代码",
            "province": "颁证单位省份代码",
            "source_batch": "来源批次",
        },
    ),
}
