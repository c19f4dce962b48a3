"""The e-licence base library (电子证照库): one row per licence, its holder linked, its validity.

Each licence of the e-licence directory is linked to its holder in a base library: a person to
``base.population`` through the build's person links (``base.person_links``, the links the
population library itself takes the holder's name from), an entity to ``base.legal_entity``.
Whether the holder is a person or an entity is the build's one decision
(transforms/projections.py ``with_party_kind``), the same one the population, legal-entity and
credit libraries use: a licence is an entity's here exactly when the legal-entity library
compares its holder, a person's exactly when it is a person mention, except for holders the
decision calls neither, which fall back on the code (:func:`holder_kinds`, :func:`link_holders`,
docs/e-licence.md). ``holder_key`` is the holder's key in its library; ``link_status`` says how
linking went, so a dashboard can count licences whose holder the lake does not know:

- ``linked``: found in the library of its kind;
- ``linked_probabilistic``: a person the code did not name exactly (a mistyped ID, or a valid
  one the household register does not hold), linked by name, birth date and division
  (``base.person_links`` method ``probabilistic``);
- ``linked_check_char_wrong``: an entity found by the 17-character body of a code whose check
  character is wrong (GB 32100);
- ``linked_code_type_wrong``: found, but the declared code type names the other kind;
- ``invalid_code``: not found, and the code fails its check (GB 11643 / GB 32100);
- ``not_found``: a valid code that the library of its kind does not hold;
- ``missing_code``: no holder code at all.

Validity is judged at ``ctx.as_of`` (never the clock): ``revoked`` when the licence status is
注销 or 废止, else ``not_yet_valid`` before its start, ``expired`` after its end, ``valid``
otherwise. A licence without an end date is long-term (长期有效).
"""

from __future__ import annotations

import polars as pl

from transforms.context import BuildContext
from transforms.credit import ensure_entity_universe, resident_id_valid
from transforms.projections import PARTIES, PARTY_KIND, PERSON_MENTIONS, RESIDENT_ID_SHAPE, party_records
from transforms.tables import TableSpec

#: The holder as a party that may be a person or an entity (code table ``holder_code_type``:
#: 1 统一社会信用代码, 2 公民身份号码).
HOLDER = PARTIES["e_licences"]
#: holder_code_type code -> the kind of holder it declares.
HOLDER_KINDS = {**dict.fromkeys(HOLDER.persons, "person"), **dict.fromkeys(HOLDER.entities, "entity")}
#: The holder as a person mention: its ``base.person_links`` record IDs are ``e_licences:holder:<batch>:<row>``.
HOLDER_MENTION = next(m for m in PERSON_MENTIONS if m.dataset == "e_licences")
LINK_STATUS_NAMES = {
    "linked": "已关联",
    "linked_probabilistic": "已关联（代码未能精确关联，按姓名、出生日期等概率关联）",
    "linked_check_char_wrong": "已关联（代码校验位有误，按前17位关联）",
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
    "holder_name", "holder_code", "holder_code_type", "holder_kind", "holder_key", "link_status", "link_status_name",
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
        pl.col("resident_id").alias("_person_key"),
        pl.col("name").alias("_person_name"),
        pl.col("alive").alias("_person_active"),
        pl.lit(True).alias("_in_population"),
    )


def _person_links(ctx: BuildContext) -> pl.LazyFrame:
    """The e-licence holders' links in ``base.person_links`` (record_id, linked resident ID, method).

    Read from the build's outputs: a full build's population step made them, an incremental
    build put the merged table there. Without them (a build that has no person links) person
    holders are linked on the resident ID as written alone.
    """
    links = ctx.outputs.get("base.person_links")
    if links is None:
        links = pl.DataFrame(schema={"record_id": pl.String, "resident_id": pl.String, "method": pl.String})
    return links.lazy().filter(pl.col("record_id").str.starts_with(f"{HOLDER_MENTION.dataset}:")).select(
        pl.col("record_id").alias("_record_id"),
        pl.col("resident_id").alias("_linked_id"),
        pl.col("method").alias("_link_method"),
    )


def _entities(ctx: BuildContext) -> pl.LazyFrame:
    entities = ctx.outputs.get("base.legal_entity")
    if entities is None:
        entities = pl.DataFrame(schema={"uscc": pl.String, "entity_name": pl.String, "status": pl.String})
    return entities.lazy().select(
        pl.col("uscc").alias("_entity_key"),
        pl.col("entity_name").alias("_entity_name"),
        (pl.col("status") == "1").alias("_entity_active"),
        pl.lit(True).alias("_in_legal_entity"),
    )


def fallback_holder_kind(ctx: BuildContext, code: pl.Expr, valid: pl.Expr, declared: pl.Expr) -> pl.Expr:
    """``"person"`` or ``"entity"`` for a holder :func:`~transforms.projections.with_party_kind` calls neither.

    No register holds such a code (not even by its 17-character body), and the declared code
    type could not be followed, so the code is all that is left, read as the credit library
    reads it (transforms/credit.py ``fallback_subject_type``): a valid resident ID is a
    person's (a 个体工商户's licence filed under its operator's ID, or a code type sent wrong);
    any other valid code is an unregistered entity's; an invalid code follows its declared
    type (``declared``: the kind, not the code), else its shape. NULL when there is neither a
    code nor a declaration.
    """
    return (
        pl.when(resident_id_valid(ctx, code)).then(pl.lit("person"))
        .when(valid.fill_null(False)).then(pl.lit("entity"))
        .when(declared.is_not_null()).then(declared)
        .when(code.str.contains(RESIDENT_ID_SHAPE)).then(pl.lit("person"))
        .when(code.is_not_null()).then(pl.lit("entity"))
    )


def holder_kinds(ctx: BuildContext) -> pl.LazyFrame:
    """The standardized licences with ``holder_kind`` and ``linked_uscc`` decided, once per build.

    ``holder_kind`` is the party kind the population and legal-entity libraries use
    (:func:`~transforms.projections.party_records`); only the few holders it calls neither
    fall back on :func:`fallback_holder_kind`, whose resident-ID check is run on those rows
    alone. ``linked_uscc`` is the registered USCC of an entity holder.
    """
    ensure_entity_universe(ctx)
    row = "_licence_row"
    records = party_records(ctx, "e_licences").with_row_index(row).with_columns(
        pl.col("holder_code_type")
        .replace_strict(HOLDER_KINDS, default=None, return_dtype=pl.String).alias("_declared")
    ).collect()
    undecided = records.filter(pl.col(PARTY_KIND).is_null()).select(
        row, fallback_holder_kind(ctx, pl.col(HOLDER.code), pl.col(f"{HOLDER.code}__valid"), pl.col("_declared"))
        .alias("_fallback"),
    )
    return (
        records.join(undecided, on=row, how="left", maintain_order="left")
        .with_columns(pl.coalesce(PARTY_KIND, "_fallback").alias("holder_kind"))
        .drop(row, "_fallback", PARTY_KIND)
        .lazy()
    )


def link_holders(ctx: BuildContext, licences: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``holder_key``, ``link_status``, ``holder_name_matches`` and ``holder_active``.

    ``licences`` carry ``holder_kind``, ``linked_uscc`` and ``_declared`` (:func:`holder_kinds`).
    The holder is looked up only in the library of its kind, so a licence is never linked to
    a person the base libraries call an entity, or the other way round:

    - a **person** by the build's person link of the licence (``base.person_links``): exactly on
      the resident ID as written, else by name, birth date and division (``linked_probabilistic``).
      The key is the linked resident ID, the one the population library filed the mention
      under; a licence the linkage left unlinked, or one the person links do not cover (a
      holder the decision calls neither, see :func:`fallback_holder_kind`), is looked up by the
      code as written;
    - an **entity** by its registered USCC (``linked_uscc``): the code itself, or the one
      registered code with the same first 17 characters when its check character is wrong;
      an entity no register holds, by the code as written.

    A code that is both a registered USCC and a valid resident ID is therefore the entity's
    unless the licence declares a resident ID (``holder_code_type`` 2): the register, not the
    population, decides (issue #3). ``link_status`` is ``linked_check_char_wrong`` for an
    entity found by its body, ``linked_code_type_wrong`` when the declared code type names the
    other kind.
    """
    code = pl.col("holder_code")
    kind = pl.col("holder_kind")
    declared = pl.col("_declared")
    entity_code = pl.coalesce("linked_uscc", "holder_code")
    # The licence's mention ID, as transforms/projections.py builds it for every person mention.
    record_id = pl.concat_str([pl.lit(f"{HOLDER_MENTION.dataset}:{HOLDER_MENTION.role}:"), pl.col("_batch_id"),
                               pl.lit(":"), pl.col("_source_row").cast(pl.String)])
    linked = (
        licences.with_columns(record_id.alias("_record_id"))
        .join(_person_links(ctx), on="_record_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(kind == "person").then(pl.coalesce("_linked_id", code)).alias("_person_key"),
            pl.when(kind == "entity").then(entity_code).alias("_entity_key"),
        )
        .join(_people(ctx), on="_person_key", how="left", maintain_order="left")
        .join(_entities(ctx), on="_entity_key", how="left", maintain_order="left")
    )
    in_population = pl.col("_in_population").fill_null(False)
    in_legal_entity = pl.col("_in_legal_entity").fill_null(False)
    found = in_population | in_legal_entity
    status = (
        pl.when(code.is_null())
        .then(pl.lit("missing_code"))
        .when(in_legal_entity & (pl.col("_entity_key") != code))
        .then(pl.lit("linked_check_char_wrong"))
        .when(in_population & (pl.col("_link_method") == "probabilistic"))
        .then(pl.lit("linked_probabilistic"))
        .when(found & declared.is_not_null() & (declared != kind))
        .then(pl.lit("linked_code_type_wrong"))
        .when(found)
        .then(pl.lit("linked"))
        .when(~pl.col("holder_code__valid").fill_null(False))
        .then(pl.lit("invalid_code"))
        .otherwise(pl.lit("not_found"))
    )
    return linked.with_columns(
        pl.when(in_population).then(pl.col("_person_key")).when(in_legal_entity).then(pl.col("_entity_key"))
        .alias("holder_key"),
        status.alias("link_status"),
        pl.when(in_population)
        .then(pl.col("holder_name") == pl.col("_person_name"))
        .when(in_legal_entity)
        .then(pl.col("holder_name") == pl.col("_entity_name"))
        .alias("holder_name_matches"),
        pl.when(in_population)
        .then(pl.col("_person_active"))
        .when(in_legal_entity)
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
    without them every holder is ``not_found`` or ``invalid_code``. The registers' codes come
    from the build (a full build) or from ``base.legal_entity`` (an incremental build), as for
    the credit library.
    """
    if not ctx.has_source("e_licences"):
        return {}
    licences = holder_kinds(ctx).with_columns(
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
            "holder_kind": "持证主体类型：person 个人（人口库）、entity 单位（法人库）；"
            "与人口库、法人库、信用库的判定一致，已登记的统一社会信用代码为单位（证照声明为公民身份号码且该代码也是有效身份号码的除外）；"
            "无代码也无代码类型为空",
            "holder_key": "持证主体在基础库中的标识：人口库的公民身份号码（按人员关联结果，"
            "身份号码有误的按姓名、出生日期等概率关联）或法人库的统一社会信用代码"
            "（校验位有误的代码按前17位关联到唯一已登记的代码）；未关联为空",
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
        # A resident ID for a person holder: flagged and masked like the code it comes from
        # (the other columns' flags are in policies/table_flags.toml).
        derived_from={"holder_key": ("e_licences.holder_code",)},
    ),
}
