"""The credit base library (信用基础库): credit facts and a declared, explained grade per subject.

A subject is an entity (by USCC) or a person (by resident ID). Which one a record's party is,
is the build's one decision (:func:`party_subjects`, from transforms/projections.py
``with_party_kind``), never the code's shape: pre-2015 credit codes can pass the resident-ID
check. The step works in three stages:

1. **Facts** (``base.credit_facts``): one row per source record that says something about a
   subject's credit: a dishonest-debtor case, an administrative penalty or licence (双公示), a
   tax-credit rating, and the links through legal representatives (an entity whose legal
   representative is a dishonest debtor, a person who represents a dishonest entity). This
   long table is what the dashboards drill down into.
2. **Fact values** per subject, aggregated from that one table (:data:`FACT_AGGREGATIONS`), so
   every number behind a grade can be traced to fact rows.
3. **The grade**: the rules declared in ``lake/catalog/credit_rules.toml``, first match wins
   (:func:`apply_rules`). Each subject gets ``grade``, ``grade_rule`` and ``grade_reasons``, the
   explanations of every rule of the winning grade that holds.

Everything is relative to ``ctx.as_of`` (never the clock), and outputs are sorted by key, so two
builds from the same raw data give identical tables. See docs/credit.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from govlake.errors import ConfigError
from lake.catalog.credit_rules import RULES_FILE, CreditRules, Fact, Rule, Subject, load_credit_rules
from transforms.context import BuildContext
from transforms.projections import PARTIES, PARTY_KIND, RESIDENT_ID_SHAPE, link_entities, party_records
from transforms.tables import TableSpec

#: fact_type of a row of base.credit_facts -> its Chinese name.
FACT_KINDS: dict[str, str] = {
    "dishonest_debtor": "失信被执行人",
    "admin_penalty": "行政处罚",
    "admin_licence": "行政许可",
    "tax_rating": "纳税信用评价",
    "legal_rep_dishonest": "法定代表人失信",
    "represented_entity_dishonest": "所任职单位失信",
}
#: Penalty types (penalty_type.csv) that count as severe: 责令停产停业, 暂扣或吊销许可证执照, 行政拘留.
SEVERE_PENALTY_TYPES = ("04", "05", "06")
LICENCE_REVOCATION = "05"
#: How many rating years back a tax-credit rating still counts (ratings for year Y appear in April Y+1).
TAX_RATING_YEARS_KEPT = 2

#: Columns of base.credit_facts, in order, with their types.
FACT_SCHEMA: dict[str, pl.DataType] = {
    "subject_type": pl.String(),
    "subject_id": pl.String(),
    "subject_id_valid": pl.Boolean(),
    "subject_name": pl.String(),
    "fact_type": pl.String(),
    "fact_type_name": pl.String(),
    "fact_date": pl.Date(),
    "end_date": pl.Date(),
    "current": pl.Boolean(),
    "code": pl.String(),
    "code_name": pl.String(),
    "amount_wan": pl.Float64(),
    "authority": pl.String(),
    "division": pl.String(),
    "related_id": pl.String(),
    "detail": pl.String(),
    "source_dataset": pl.String(),
    "source_key": pl.String(),
    "source_batch": pl.String(),
}
#: A working column of the facts (the tax rating year), dropped before writing.
_RATING_YEAR = "_rating_year"
FACT_SORT = ["subject_type", "subject_id", "fact_date", "fact_type", "source_dataset", "source_key"]
GRADE_COLUMNS = ["fact_records", "grade", "grade_label", "grade_rule", "grade_reasons", "grade_reason_rules"]
ENTITY_COLUMNS = [
    "uscc",
    "entity_name",
    "in_legal_entity",
    "category",
    "entity_type",
    "status_name",
    "industry_code",
    "industry_section",
    "division",
    "province",
]
PERSON_COLUMNS = ["resident_id", "name", "in_population", "alive", "hukou_division", "province"]

_FACT_DTYPES: dict[str, pl.DataType] = {
    "bool": pl.Boolean(),
    "int": pl.Int32(),
    "float": pl.Float64(),
    "str": pl.String(),
}


# --- windows ---------------------------------------------------------------------------------


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February).

    >>> years_before(dt.date(2028, 2, 29), 1)
    datetime.date(2027, 2, 28)
    """
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class Windows:
    """The reference date and the look-back windows "last 12 months" = (as_of − 1 year, as_of]."""

    as_of: dt.date

    @property
    def start_12m(self) -> dt.date:
        return years_before(self.as_of, 1)

    @property
    def start_36m(self) -> dt.date:
        return years_before(self.as_of, 3)

    def within(self, column: pl.Expr, start: dt.date) -> pl.Expr:
        return (column > pl.lit(start)) & (column <= pl.lit(self.as_of))


# --- subjects --------------------------------------------------------------------------------


def resident_id_valid(ctx: BuildContext, column: pl.Expr) -> pl.Expr:
    """TRUE when ``column`` is a valid resident ID by the standardization rule (the party_id rule's test)."""
    from transforms.rules.identifiers import resident_id

    return resident_id(column, ctx.catalog.element("resident_id"), ctx.rules).valid.fill_null(False)


def fallback_subject_type(
    ctx: BuildContext, subject_id: pl.Expr, valid: pl.Expr, party_type: pl.Expr | None
) -> pl.Expr:
    """``"person"`` or ``"entity"`` for a party :func:`~transforms.projections.with_party_kind` calls neither.

    Such a code is held by no register (not even by its 17-character body) and the record gives
    no usable declaration for it, so only the code and the declaration are left: a valid resident
    ID is a person's (a 个体工商户 reported under its operator's ID is filed under the operator,
    who is legally liable); any other valid code is an unregistered entity's (a USCC from outside
    the registers the lake holds); an invalid one follows the declared party type (3 = natural
    person), else its shape. These facts keep the written code, so an invalid one stays out of
    the subject tables.
    """
    declared = pl.lit(None, pl.String) if party_type is None else party_type
    return (
        pl.when(resident_id_valid(ctx, subject_id))
        .then(pl.lit("person"))
        .when(valid.fill_null(False))
        .then(pl.lit("entity"))
        .when(declared == "3")
        .then(pl.lit("person"))
        .when(declared.is_in(["1", "2"]))
        .then(pl.lit("entity"))
        .when(subject_id.str.contains(RESIDENT_ID_SHAPE))
        .then(pl.lit("person"))
        .otherwise(pl.lit("entity"))
    )


def ensure_entity_universe(ctx: BuildContext) -> None:
    """Make ``link.entity_universe`` (the registered USCCs every party decision reads) available.

    A full build computed it while building the legal-entity library. An incremental build
    recomputes the credit step on its unscoped context, where ``base.legal_entity`` (the merged
    library) has exactly those keys: reading them spares standardizing the two registers again.
    With neither the library nor a register, no code is registered.
    """
    if "link.entity_universe" in ctx.outputs:
        return
    library = ctx.outputs.get("base.legal_entity")
    if library is not None:
        ctx.outputs["link.entity_universe"] = library.select(pl.col("uscc").cast(pl.String)).unique().sort("uscc")
    elif not any(ctx.has_source(name) for name in ctx.libraries["legal_entity"].anchor):
        ctx.outputs["link.entity_universe"] = pl.DataFrame(schema={"uscc": pl.String})


#: The working column flagging an entity found by its 17-character body (a wrong check character).
_BY_BODY = "_linked_by_body"


def party_subjects(ctx: BuildContext, dataset: str) -> pl.LazyFrame:
    """The dataset's records with ``subject_type``, ``subject_id`` and ``subject_id_valid`` decided.

    The kind is :func:`~transforms.projections.with_party_kind`'s, the decision the population
    and legal-entity libraries use, made once per build (:func:`party_records`); so a party is
    a person or an entity in the credit library exactly when it is in the base libraries. A
    pre-2015 credit code can be a valid resident ID too: the register holding it decides, not
    its shape.

    - **entity**: the subject is the *registered* USCC (``linked_uscc``), which the legal-entity
      library and ``base.credit_entity`` are keyed by, so a code written with a wrong check
      character is filed under the one entity with that 17-character body; the code as written
      stays in the fact's ``detail``, and its ``source_key`` is the record's.
    - **person**: the code as written, valid when it is a valid resident ID. A person's credit
      facts are never moved to another ID by the probabilistic person link: a dishonest-debtor
      case is too heavy a consequence to rest on a name match, and the written ID is what the
      department answers for.
    - **neither** (no register holds the code and the record's declaration cannot be followed):
      :func:`fallback_subject_type` with the code as written.
    """
    ensure_entity_universe(ctx)
    party = PARTIES[dataset]
    code = pl.col(party.code)
    kind = pl.col(PARTY_KIND)
    declared = pl.col(party.declared) if party.declared else None
    fallback = fallback_subject_type(ctx, code, pl.col(f"{party.code}__valid"), declared)
    return party_records(ctx, dataset).with_columns(
        pl.coalesce(kind, fallback).alias("subject_type"),
        pl.when(kind == "entity").then(pl.col("linked_uscc")).otherwise(code).alias("subject_id"),
        pl.when(kind == "entity").then(pl.lit(True))
        .when(kind == "person").then(resident_id_valid(ctx, code))
        .otherwise(pl.col(f"{party.code}__valid")).alias("subject_id_valid"),
        ((kind == "entity") & (pl.col("linked_uscc") != code)).fill_null(False).alias(_BY_BODY),
    )


def _as_written(code: str) -> pl.Expr:
    """The note a fact filed under a registered USCC found by its body carries in ``detail``; else NULL."""
    return pl.when(pl.col(_BY_BODY)).then(pl.concat_str(
        pl.lit("来源记录所填代码 "), pl.col(code), pl.lit(" 校验位有误，按前17位归入已登记的统一社会信用代码")
    ))


# --- fact rows from each source ----------------------------------------------------------------


def _part(prefix: str, value: pl.Expr, suffix: str = "") -> pl.Expr:
    """``prefix + value + suffix``, or NULL when ``value`` is NULL (so it drops out of a join)."""
    return pl.when(value.is_not_null()).then(
        pl.concat_str(pl.lit(prefix), value.cast(pl.String), pl.lit(suffix))
    )


def _sentence(*parts: pl.Expr, separator: str = "") -> pl.Expr:
    return pl.concat_str(list(parts), separator=separator, ignore_nulls=True)


def _amount(value: pl.Expr) -> pl.Expr:
    """A 万元 amount as text: at most two decimals, no trailing ``.0``."""
    return value.round(2).cast(pl.String).str.replace(r"\.0$", "")


def _code_names(ctx: BuildContext, table: str, column: pl.Expr) -> pl.Expr:
    return column.replace_strict(ctx.catalog.code_table(table).codes, default=None, return_dtype=pl.String)


def _finish(frame: pl.LazyFrame, kind: str, **columns: pl.Expr) -> pl.LazyFrame:
    """Select :data:`FACT_SCHEMA` (plus the rating-year working column) from named expressions."""
    columns = {"fact_type": pl.lit(kind), "fact_type_name": pl.lit(FACT_KINDS[kind]), **columns}
    schema = {**FACT_SCHEMA, _RATING_YEAR: pl.Int32()}
    return frame.select(
        columns.get(name, pl.lit(None)).cast(dtype).alias(name) for name, dtype in schema.items()
    )


def dishonest_facts(ctx: BuildContext, windows: Windows) -> pl.LazyFrame:
    """One fact per dishonest-debtor case; current while published and not yet removed."""
    cases = party_subjects(ctx, "dishonest_debtors")
    published, removed = pl.col("published_date"), pl.col("removed_date")
    return _finish(
        cases,
        "dishonest_debtor",
        subject_type=pl.col("subject_type"),
        subject_id=pl.col("subject_id"),
        subject_id_valid=pl.col("subject_id_valid"),
        subject_name=pl.col("debtor_name"),
        fact_date=published,
        end_date=removed,
        current=(published <= windows.as_of) & (removed.is_null() | (removed > windows.as_of)),
        code_name=pl.col("performance"),
        authority=pl.col("court"),
        division=pl.col("court_division"),
        detail=_sentence(
            pl.concat_str(
                pl.lit("失信被执行人，"),
                pl.col("court").fill_null("执行法院未填报"),
                _part("（", pl.col("case_no"), "）").fill_null(""),
            ),
            _part("失信情形：", pl.col("conduct")),
            _part("履行情况：", pl.col("performance")),
            _part("已于 ", removed, " 移出名单"),
            _as_written("debtor_id"),
            separator="；",
        ),
        source_dataset=pl.lit("dishonest_debtors"),
        source_key=pl.col("case_no"),
        source_batch=pl.col("_batch_id"),
    )


def penalty_facts(ctx: BuildContext, windows: Windows) -> pl.LazyFrame:
    """One fact per administrative penalty decision (双公示); current when decided in the last 12 months."""
    decisions = party_subjects(ctx, "admin_penalties")
    decided = pl.col("decision_date")
    kind = _code_names(ctx, "penalty_type", pl.col("penalty_type"))
    return _finish(
        decisions,
        "admin_penalty",
        subject_type=pl.col("subject_type"),
        subject_id=pl.col("subject_id"),
        subject_id_valid=pl.col("subject_id_valid"),
        subject_name=pl.col("party_name"),
        fact_date=decided,
        end_date=pl.col("publicity_until"),
        current=windows.within(decided, windows.start_12m),
        code=pl.col("penalty_type"),
        code_name=kind,
        amount_wan=pl.col("fine_amount"),
        authority=pl.col("authority"),
        division=pl.col("division"),
        detail=_sentence(
            pl.concat_str(
                pl.lit("行政处罚："),
                kind.fill_null("处罚类别未填报"),
                _part("，罚款 ", _amount(pl.col("fine_amount")), " 万元").fill_null(""),
            ),
            _part("违法行为：", pl.col("violation_type")),
            _sentence(pl.col("authority"), _part("（", pl.col("decision_no"), "）")),
            _as_written("party_id"),
            separator="；",
        ),
        source_dataset=pl.lit("admin_penalties"),
        source_key=pl.col("decision_no"),
        source_batch=pl.col("_batch_id"),
    )


def licence_facts(ctx: BuildContext, windows: Windows) -> pl.LazyFrame:
    """One fact per administrative licence decision (双公示); current within its validity."""
    decisions = party_subjects(ctx, "admin_licences")
    start = pl.coalesce("valid_from", "decision_date")
    valid_to = pl.col("valid_to")
    return _finish(
        decisions,
        "admin_licence",
        subject_type=pl.col("subject_type"),
        subject_id=pl.col("subject_id"),
        subject_id_valid=pl.col("subject_id_valid"),
        subject_name=pl.col("party_name"),
        fact_date=pl.col("decision_date"),
        end_date=valid_to,
        current=(start <= windows.as_of) & (valid_to.is_null() | (valid_to >= windows.as_of)),
        code=pl.col("licence_no"),
        code_name=pl.col("licence_name"),
        authority=pl.col("authority"),
        division=pl.col("division"),
        detail=_sentence(
            pl.concat_str(pl.lit("行政许可："), pl.col("licence_name").fill_null("许可证书名称未填报")),
            pl.when(valid_to.is_null())
            .then(pl.lit("长期有效"))
            .otherwise(pl.concat_str(pl.lit("有效期至 "), valid_to.cast(pl.String))),
            _sentence(pl.col("authority"), _part("（", pl.col("decision_no"), "）")),
            _as_written("party_id"),
            separator="；",
        ),
        source_dataset=pl.lit("admin_licences"),
        source_key=pl.col("decision_no"),
        source_batch=pl.col("_batch_id"),
    )


def tax_facts(ctx: BuildContext, windows: Windows) -> pl.LazyFrame:
    """One fact per tax-credit rating; current for the latest rating of the last rating years.

    A rating names an entity. Like every party code, its USCC is filed under the registered
    entity it links to (by its 17-character body when the check character is wrong, as the
    legal-entity library links it); a code no register holds stays as written.
    """
    ensure_entity_universe(ctx)
    linked = pl.col("linked_uscc")
    ratings = link_entities(ctx, ctx.standardized("tax_credit"), "uscc").with_columns(
        pl.coalesce(linked, "uscc").alias("subject_id"),
        (linked.is_not_null() | pl.col("uscc__valid").fill_null(False)).alias("subject_id_valid"),
        (linked != pl.col("uscc")).fill_null(False).alias(_BY_BODY),
    )
    year, rated = pl.col("rating_year"), pl.col("rated_date")
    known = year.is_not_null() & (year < windows.as_of.year) & (rated.is_null() | (rated <= windows.as_of))
    latest = year == year.filter(known).max().over("subject_id")
    return _finish(
        ratings,
        "tax_rating",
        subject_type=pl.lit("entity"),
        subject_id=pl.col("subject_id"),
        subject_id_valid=pl.col("subject_id_valid"),
        subject_name=pl.col("taxpayer_name"),
        fact_date=rated,
        current=known & latest & (year >= windows.as_of.year - TAX_RATING_YEARS_KEPT),
        code=pl.col("tax_credit_grade"),
        code_name=_code_names(ctx, "tax_credit_grade", pl.col("tax_credit_grade")),
        authority=pl.col("tax_authority"),
        detail=_sentence(
            _sentence(
                pl.concat_str(
                    year.cast(pl.String).fill_null("?"),
                    pl.lit(" 年度纳税信用 "),
                    pl.col("tax_credit_grade").fill_null("?"),
                    pl.lit(" 级"),
                ),
                _part("（", pl.col("tax_authority"), "）"),
            ),
            _as_written("uscc"),
            separator="；",
        ),
        source_dataset=pl.lit("tax_credit"),
        source_key=pl.concat_str(pl.col("uscc"), pl.lit("|"), year.cast(pl.String)),
        source_batch=pl.col("_batch_id"),
        **{_RATING_YEAR: year},
    )


#: Source dataset -> how its records become fact rows.
FACT_SOURCES: dict[str, Callable[[BuildContext, Windows], pl.LazyFrame]] = {
    "dishonest_debtors": dishonest_facts,
    "admin_penalties": penalty_facts,
    "admin_licences": licence_facts,
    "tax_credit": tax_facts,
}


def legal_rep_facts(ctx: BuildContext, facts: pl.DataFrame, entities: pl.DataFrame) -> pl.DataFrame:
    """Dishonest-debtor facts carried across the legal-representative link, both ways.

    An entity gets a ``legal_rep_dishonest`` fact for each case of its legal representative;
    a person gets a ``represented_entity_dishonest`` fact for each case of an entity they
    represent. Both keep the case's dates, status and source, and name the other party in
    ``related_id``.
    """
    # An exact match of the identifier is evidence enough, even for an ID the standardization
    # flags (e.g. an older division code): both sides name the same person in the same way.
    dishonest = facts.filter((pl.col("fact_type") == "dishonest_debtor") & pl.col("subject_id").is_not_null())
    reps = entities.filter(pl.col("legal_rep_id").is_not_null()).select(
        "uscc", "entity_name", "legal_rep_id", "legal_rep_name"
    )
    of_entities = (
        dishonest.filter(pl.col("subject_type") == "person")
        .join(reps, left_on="subject_id", right_on="legal_rep_id", how="inner")
        .with_columns(
            pl.lit("entity").alias("subject_type"),
            pl.col("subject_id").alias("related_id"),
            pl.col("uscc").alias("subject_id"),
            pl.lit(True).alias("subject_id_valid"),
            pl.col("entity_name").alias("subject_name"),
            pl.lit("legal_rep_dishonest").alias("fact_type"),
            pl.concat_str(
                pl.lit("法定代表人（负责人）"),
                pl.col("legal_rep_name").fill_null(""),
                pl.lit("为失信被执行人："),
                pl.col("detail"),
            ).alias("detail"),
        )
    )
    of_persons = (
        dishonest.filter(pl.col("subject_type") == "entity")
        .join(reps, left_on="subject_id", right_on="uscc", how="inner")
        .with_columns(
            pl.lit("person").alias("subject_type"),
            pl.col("subject_id").alias("related_id"),
            pl.col("legal_rep_id").alias("subject_id"),
            resident_id_valid(ctx, pl.col("legal_rep_id")).alias("subject_id_valid"),
            pl.col("legal_rep_name").alias("subject_name"),
            pl.lit("represented_entity_dishonest").alias("fact_type"),
            pl.concat_str(
                pl.lit("所任法定代表人（负责人）的单位"),
                pl.col("entity_name").fill_null(""),
                pl.lit("（"),
                pl.col("subject_id"),
                pl.lit("）为失信被执行人："),
                pl.col("detail"),
            ).alias("detail"),
        )
    )
    linked = pl.concat([of_entities, of_persons], how="diagonal_relaxed")
    return linked.with_columns(pl.col("fact_type").replace_strict(FACT_KINDS).alias("fact_type_name")).select(
        facts.columns
    )


def credit_facts(ctx: BuildContext, windows: Windows) -> pl.DataFrame:
    """All fact rows, with the rating-year working column, sorted by subject and date."""
    sources = [build(ctx, windows) for dataset, build in FACT_SOURCES.items() if ctx.has_source(dataset)]
    empty = pl.DataFrame(schema={**FACT_SCHEMA, _RATING_YEAR: pl.Int32()})
    facts = pl.concat(sources).collect() if sources else empty
    entities = ctx.outputs.get("base.legal_entity")
    if entities is not None and "legal_rep_id" in entities.columns:
        facts = pl.concat([facts, legal_rep_facts(ctx, facts, entities)])
    return facts.sort(FACT_SORT, nulls_last=False, maintain_order=True)


# --- fact values per subject -----------------------------------------------------------------


@dataclass(frozen=True)
class Aggregation:
    """How one declared fact is computed from a subject's fact rows, and its value without rows."""

    type: str
    expr: Callable[[Windows], pl.Expr]
    default: object = None


def _of(kind: str) -> pl.Expr:
    return pl.col("fact_type") == kind


def _penalties_in(windows: Windows, start: dt.date) -> pl.Expr:
    return _of("admin_penalty") & windows.within(pl.col("fact_date"), start)


#: Declared fact (credit_rules.toml [facts]) -> its aggregation over the subject's fact rows.
FACT_AGGREGATIONS: dict[str, Aggregation] = {
    "dishonest_active": Aggregation(
        "bool", lambda w: (_of("dishonest_debtor") & pl.col("current")).any(), False
    ),
    "dishonest_active_cases": Aggregation(
        "int", lambda w: (_of("dishonest_debtor") & pl.col("current")).sum(), 0
    ),
    "dishonest_cases": Aggregation("int", lambda w: _of("dishonest_debtor").sum(), 0),
    "dishonest_removed_12m": Aggregation(
        "bool", lambda w: (_of("dishonest_debtor") & w.within(pl.col("end_date"), w.start_12m)).any(), False
    ),
    "penalties_12m": Aggregation("int", lambda w: _penalties_in(w, w.start_12m).sum(), 0),
    "penalties_36m": Aggregation("int", lambda w: _penalties_in(w, w.start_36m).sum(), 0),
    "fines_12m_wan": Aggregation(
        "float", lambda w: pl.col("amount_wan").filter(_penalties_in(w, w.start_12m)).sum(), 0.0
    ),
    "severe_penalties_12m": Aggregation(
        "int", lambda w: (_penalties_in(w, w.start_12m) & pl.col("code").is_in(SEVERE_PENALTY_TYPES)).sum(), 0
    ),
    "licence_revoked_12m": Aggregation(
        "bool",
        lambda w: (_penalties_in(w, w.start_12m) & (pl.col("code") == LICENCE_REVOCATION)).any(),
        False,
    ),
    "licences_valid": Aggregation("int", lambda w: (_of("admin_licence") & pl.col("current")).sum(), 0),
    "licences_12m": Aggregation(
        "int", lambda w: (_of("admin_licence") & w.within(pl.col("fact_date"), w.start_12m)).sum(), 0
    ),
    "tax_grade": Aggregation(
        "str", lambda w: pl.col("code").filter(_of("tax_rating") & pl.col("current")).first()
    ),
    "tax_rating_year": Aggregation(
        "int", lambda w: pl.col(_RATING_YEAR).filter(_of("tax_rating") & pl.col("current")).first()
    ),
    "legal_rep_dishonest": Aggregation(
        "bool", lambda w: (_of("legal_rep_dishonest") & pl.col("current")).any(), False
    ),
    "represents_dishonest_entities": Aggregation(
        "int",
        lambda w: (
            pl.col("related_id").filter(_of("represented_entity_dishonest") & pl.col("current")).n_unique()
        ),
        0,
    ),
}


def declared_aggregations(rules: CreditRules, subject: Subject) -> dict[str, Aggregation]:
    """The aggregation of every fact ``rules`` declare for ``subject``; ConfigError when one is missing."""
    aggregations = {}
    for fact in rules.facts_for(subject):
        aggregation = FACT_AGGREGATIONS.get(fact.name)
        if aggregation is None:
            raise ConfigError(
                f"fact {fact.name!r} is declared but transforms/credit.py does not compute it; "
                "add it to FACT_AGGREGATIONS or remove the declaration",
                location=f"{rules.path} [facts.{fact.name}]",
            )
        if aggregation.type != fact.type:
            raise ConfigError(
                f"fact {fact.name!r} is declared as {fact.type} but computed as {aggregation.type}; "
                f"set type = {aggregation.type!r}",
                location=f"{rules.path} [facts.{fact.name}]",
            )
        aggregations[fact.name] = aggregation
    return aggregations


def fact_values(facts: pl.DataFrame, rules: CreditRules, subject: Subject, windows: Windows) -> pl.DataFrame:
    """One row per valid subject of kind ``subject``: its declared facts, latest name and row count."""
    aggregations = declared_aggregations(rules, subject)
    rows = facts.filter((pl.col("subject_type") == subject) & pl.col("subject_id_valid").fill_null(False))
    return rows.group_by("subject_id", maintain_order=True).agg(
        pl.col("subject_name").drop_nulls().last(),
        pl.len().cast(pl.Int32).alias("fact_records"),
        *[agg.expr(windows).cast(_FACT_DTYPES[agg.type]).alias(name) for name, agg in aggregations.items()],
    )


def fill_defaults(frame: pl.DataFrame, rules: CreditRules, subject: Subject) -> pl.DataFrame:
    """Fact values of subjects without fact rows: no cases, no penalties, no rating."""
    aggregations = declared_aggregations(rules, subject)
    return frame.with_columns(
        pl.col("fact_records").fill_null(0),
        *[
            pl.col(name).fill_null(agg.default)
            for name, agg in aggregations.items()
            if agg.default is not None
        ],
    )


# --- grading ------------------------------------------------------------------------------------


def clause_expr(clause_fact: Fact, op: str, value: object) -> pl.Expr:
    """One condition as a Boolean expression; a fact with no value satisfies no condition."""
    column = pl.col(clause_fact.name)
    if op in ("in", "not in"):
        assert isinstance(value, tuple)
        test = column.is_in(list(value))
        result = ~test if op == "not in" else test
        return result.fill_null(False)
    literal = pl.lit(value)
    comparisons: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    return comparisons[op](column, literal).fill_null(False)


def rule_matches(rule: Rule, rules: CreditRules) -> pl.Expr:
    """TRUE where every condition of ``rule`` holds (always, for a catch-all)."""
    if rule.catch_all:
        return pl.lit(True)
    return pl.all_horizontal([clause_expr(rules.facts[c.fact], c.op, c.value) for c in rule.when])


def _fact_text(fact: Fact) -> pl.Expr:
    """A fact's value as shown in an explanation."""
    column = pl.col(fact.name)
    text: pl.Expr
    if fact.type == "bool":
        text = pl.when(column).then(pl.lit("是")).when(column.is_not_null()).then(pl.lit("否"))
    elif fact.type == "float":
        text = _amount(column)
    else:
        text = column.cast(pl.String)
    return text.fill_null("无")


def explanation_expr(rule: Rule, rules: CreditRules) -> pl.Expr:
    """The rule's explanation with each ``{fact}`` replaced by the subject's value."""
    pieces: list[pl.Expr] = []
    for literal, name in rule.explanation_parts():
        if literal:
            pieces.append(pl.lit(literal))
        if name:
            pieces.append(_fact_text(rules.facts[name]))
    return pl.concat_str(pieces) if pieces else pl.lit("")


def apply_rules(frame: pl.DataFrame, rules: CreditRules, subject: Subject) -> pl.DataFrame:
    """Add ``grade``, ``grade_label``, ``grade_rule``, ``grade_reasons`` and ``grade_reason_rules``.

    ``grade_rule`` is the first rule that holds. ``grade_reasons`` are the explanations of every
    rule that holds and gives the same grade, in rule order (so an entity on the dishonest list
    with a D tax rating shows both), and ``grade_reason_rules`` their ids.
    """
    applicable = rules.rules_for(subject)
    matched = {rule.id: f"__matches_{rule.id}" for rule in applicable}
    labels = {code: grade.label for code, grade in rules.grades.items()}
    staged = (
        frame.with_row_index("__row")
        .with_columns(rule_matches(rule, rules).alias(matched[rule.id]) for rule in applicable)
        # The first rule that holds: coalesce keeps the first non-null, in rule order.
        .with_columns(
            pl.coalesce(
                [pl.when(pl.col(matched[r.id])).then(pl.lit(i, pl.Int32)) for i, r in enumerate(applicable)]
            ).alias("__first")
        )
        .with_columns(
            pl.col("__first").replace_strict(dict(enumerate(r.grade for r in applicable))).alias("grade"),
            pl.col("__first").replace_strict(dict(enumerate(r.id for r in applicable))).alias("grade_rule"),
        )
    )
    # Reasons in long form: each rule's explanation is rendered only for the rows it explains,
    # then gathered per row in rule order. (Thirteen conditional list columns per row were ten
    # times slower at a million rows.) Every row has at least the reason of its first rule, so
    # the gathered lists line up with the rows.
    reasons = pl.concat(
        [
            staged.lazy()
            .filter(pl.col(matched[rule.id]) & (pl.col("grade") == rule.grade))
            .select(
                "__row",
                pl.lit(order, pl.Int32).alias("__order"),
                explanation_expr(rule, rules).alias("grade_reasons"),
                pl.lit(rule.id).alias("grade_reason_rules"),
            )
            for order, rule in enumerate(applicable)
        ]
    )
    per_row = (
        reasons.sort("__row", "__order")
        .group_by("__row", maintain_order=True)
        .agg("grade_reasons", "grade_reason_rules")
        .collect()
    )
    assert per_row.height == staged.height, "every row has the reason of its first rule"
    return (
        staged.drop(*matched.values(), "__first", "__row")
        .with_columns(pl.col("grade").replace_strict(labels, return_dtype=pl.String).alias("grade_label"))
        .with_columns(per_row["grade_reasons"], per_row["grade_reason_rules"])
    )


# --- the step -----------------------------------------------------------------------------------


def credit_entity(
    facts: pl.DataFrame, entities: pl.DataFrame | None, rules: CreditRules, windows: Windows
) -> pl.DataFrame:
    """One row per entity of the legal-entity library and per other valid USCC with credit facts."""
    values = fact_values(facts, rules, "entity", windows).rename({"subject_id": "uscc"})
    if entities is None:
        entities = pl.DataFrame(schema={"uscc": pl.String, "entity_name": pl.String})
    known = entities.select([c for c in ENTITY_COLUMNS if c in entities.columns]).with_columns(
        pl.lit(True).alias("in_legal_entity")
    )
    table = known.join(values, on="uscc", how="full", coalesce=True).with_columns(
        pl.col("in_legal_entity").fill_null(False),
        pl.coalesce("entity_name", "subject_name").alias("entity_name"),
    )
    for column in ENTITY_COLUMNS:
        if column not in table.columns:
            table = table.with_columns(pl.lit(None, pl.String).alias(column))
    table = fill_defaults(table, rules, "entity")
    table = apply_rules(table, rules, "entity")
    facts_columns = [fact.name for fact in rules.facts_for("entity")]
    return table.select(*ENTITY_COLUMNS, *facts_columns, *GRADE_COLUMNS).sort("uscc")


def credit_person(
    facts: pl.DataFrame, people: pl.DataFrame | None, rules: CreditRules, windows: Windows
) -> pl.DataFrame:
    """One row per valid resident ID with credit facts (persons without facts have none to show)."""
    values = fact_values(facts, rules, "person", windows).rename({"subject_id": "resident_id"})
    if people is None:
        people = pl.DataFrame(
            schema={
                "resident_id": pl.String,
                "name": pl.String,
                "alive": pl.Boolean,
                "hukou_division": pl.String,
            }
        )
    known = people.select("resident_id", "name", "alive", "hukou_division").with_columns(
        pl.lit(True).alias("in_population")
    )
    table = values.join(known, on="resident_id", how="left").with_columns(
        pl.col("in_population").fill_null(False),
        pl.coalesce("name", "subject_name").alias("name"),
        pl.col("resident_id").str.slice(0, 2).alias("province"),
    )
    table = fill_defaults(table, rules, "person")
    table = apply_rules(table, rules, "person")
    facts_columns = [fact.name for fact in rules.facts_for("person")]
    return table.select(*PERSON_COLUMNS, *facts_columns, *GRADE_COLUMNS).sort("resident_id")


def credit(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    """The credit library: ``base.credit_facts``, ``base.credit_entity`` and ``base.credit_person``.

    Reads the dishonest-debtor, 双公示 and tax-credit sources that have been ingested, and the
    earlier outputs ``base.legal_entity`` (industry, division, legal representative) and
    ``base.population`` when present.
    """
    rules = load_credit_rules()
    windows = Windows(ctx.as_of)
    facts = credit_facts(ctx, windows)
    entity = credit_entity(facts, ctx.outputs.get("base.legal_entity"), rules, windows)
    person = credit_person(facts, ctx.outputs.get("base.population"), rules, windows)
    return {
        "base.credit_facts": facts.drop(_RATING_YEAR),
        "base.credit_entity": entity,
        "base.credit_person": person,
    }


# --- table descriptions ---------------------------------------------------------------------------

_GRADE_COMMENTS = {
    "fact_records": "该主体的信用事实条数（含历史记录，见 base.credit_facts）",
    "grade": "信用等级代码（A 优、B 良、C 中、D 差；规则见 lake/catalog/credit_rules.toml）",
    "grade_label": "信用等级名称（优、良、中、差）",
    "grade_rule": "决定等级的规则标识（按顺序第一条命中的规则）",
    "grade_reasons": "等级依据：命中且给出同一等级的每条规则的说明，含具体事实数值",
    "grade_reason_rules": "与 grade_reasons 一一对应的规则标识",
}


def _tables(rules: CreditRules) -> dict[str, TableSpec]:
    def facts_of(subject: Subject) -> dict[str, str]:
        return {fact.name: fact.description for fact in rules.facts_for(subject)}

    kinds = "、".join(f"{code} {name}" for code, name in FACT_KINDS.items())
    return {
        "base.credit_facts": TableSpec(
            "信用基础库·信用事实：每条失信被执行、行政处罚、行政许可、纳税信用评价记录及法定代表人关联记录一行，"
            "供按主体下钻查看信用等级的依据。含个人信息。",
            {
                "subject_type": "主体类型：entity 单位（统一社会信用代码）、person 个人（公民身份号码）",
                "subject_id": "主体标识：统一社会信用代码或公民身份号码",
                "subject_id_valid": "主体标识是否通过校验；未通过的记录不进入主体信用表",
                "subject_name": "来源记录中的主体名称或姓名",
                "fact_type": f"事实类型：{kinds}",
                "fact_type_name": "事实类型名称",
                "fact_date": "事实日期：失信发布日期、处罚或许可决定日期、纳税信用评定日期",
                "end_date": "结束日期：失信移出日期、处罚公示截止日期、许可有效期止",
                "current": (
                    "在构建参考日是否有效：失信未移出；处罚在近12个月内；许可在有效期内；纳税评价为最近有效年度"
                ),
                "code": "代码：处罚类别代码、纳税信用级别或许可证编号",
                "code_name": "代码名称：处罚类别、纳税信用级别、许可证书名称或失信履行情况",
                "amount_wan": "罚款金额（万元）",
                "authority": "作出决定的机关、法院或主管税务机关",
                "division": "机关或法院行政区划代码",
                "related_id": "关联主体标识：法定代表人关联事实中对方的身份号码或信用代码",
                "detail": "事实说明（中文）",
                "source_dataset": "来源数据集",
                "source_key": "来源记录主键：案号、决定书文号或“信用代码|评价年度”",
                "source_batch": "来源批次",
            },
        ),
        "base.credit_entity": TableSpec(
            "信用基础库·单位信用：法人库每个主体及其他有信用事实的统一社会信用代码一行，含失信、双公示、"
            "纳税信用事实和按声明规则得出的信用等级及依据。",
            {
                "uscc": "统一社会信用代码（GB 32100）",
                "entity_name": "名称（法人库优先，其次来源记录）",
                "in_legal_entity": "是否在法人库中",
                "category": "主体类别（由代码第1-2位解码）",
                "entity_type": "主体类型",
                "status_name": "登记状态名称",
                "industry_code": "行业代码（GB/T 4754）",
                "industry_section": "行业门类",
                "division": "住所行政区划代码",
                "province": "住所省份代码",
                **facts_of("entity"),
                **_GRADE_COMMENTS,
            },
        ),
        "base.credit_person": TableSpec(
            "信用基础库·个人信用：每个有信用事实的公民身份号码一行，含失信、双公示事实、法定代表人关联和按声明"
            "规则得出的信用等级及依据。含个人信息。",
            {
                "resident_id": "公民身份号码（GB 11643）",
                "name": "姓名（人口库优先，其次来源记录）",
                "in_population": "是否在人口库中",
                "alive": "是否在世（人口库）",
                "hukou_division": "户籍地行政区划代码（人口库）",
                "province": "省份代码（身份号码前两位）",
                **facts_of("person"),
                **_GRADE_COMMENTS,
            },
        ),
    }


#: Descriptions and column comments of the credit library's tables (fact columns from the rules file).
TABLES: dict[str, TableSpec] = _tables(load_credit_rules())

__all__ = ["FACT_AGGREGATIONS", "FACT_KINDS", "RULES_FILE", "TABLES", "apply_rules", "credit"]
