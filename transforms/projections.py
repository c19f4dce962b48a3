"""Projections: each source dataset seen as rows keyed by a base library's key.

``libraries.toml`` names sources as ``<dataset>.<column>``; this module says how a
dataset becomes rows keyed by the library key with those columns.

Persons are named by many departments: the dead on death certificates, parents on
birth certificates, spouses on marriage registrations, the insured, legal
representatives, licence holders, the parties of licences and penalties, parcel
holders. All of these *mentions* (:data:`PERSON_MENTIONS`) are linked to the household
register in ONE pass (transforms/linkage.py): exactly on a valid resident ID, else
probabilistically on name, birth date, sex, division and what is left of the ID. The
links are kept as ``base.person_links``. Entities are linked on their USCC, or, when its
check character is wrong, on its 17-character body if exactly one entity has it.

Every projection returns one row per key (the latest record wins, deterministically)
with the lineage columns ``_batch_id`` and ``_ingested_at`` for provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from transforms.context import BuildContext

Projection = Callable[[BuildContext], pl.LazyFrame]
LATEST = ["_ingested_at", "_batch_id", "_source_row"]
LINK_COLUMNS = ["record_id", "resident_id", "resident_id_valid", "name", "birth_date", "sex", "division"]
REFERENCE_COLUMNS = ["resident_id", "name", "birth_date", "sex", "hukou_division", "residence_division"]


def person_name(column: str) -> pl.Expr:
    """A name as a person's name compares: no whitespace at all (text rules keep single spaces)."""
    return pl.col(column).str.replace_all(r"\s", "")


@dataclass(frozen=True)
class PersonMention:
    """Where a dataset names a person, and what the projection carries from that record."""

    dataset: str
    role: str
    id: str
    name: str
    division: str | None = None
    sex: str | None = None  # a column, or a fixed code via fixed_sex
    fixed_sex: str | None = None
    birth_date: str | None = None
    where: Callable[[], pl.Expr] | None = None
    carry: dict[str, Callable[[], pl.Expr]] = field(default_factory=dict)
    #: The certificate or registration number the record is filed under. The same number
    #: on an e-licence (电子证照) held by the same name corroborates a missing ID.
    document: str | None = None


def _is_person_id(column: str) -> Callable[[], pl.Expr]:
    # A party or holder code is a person's when it has the shape of a resident ID.
    return lambda: pl.col(column).str.contains(r"^\d{17}[\dX]$")


def _col(name: str) -> Callable[[], pl.Expr]:
    return lambda: pl.col(name)


def _person(name: str) -> Callable[[], pl.Expr]:
    return lambda: person_name(name)


MARITAL = {"1": "20", "2": "40"}  # 结婚登记 -> 已婚, 离婚登记 -> 离婚 (GB/T 2261.2)


def _fixed(value: str) -> Callable[[], pl.Expr]:
    return lambda: pl.lit(value)


def _marital_status() -> pl.Expr:
    return pl.col("registration_type").replace_strict(MARITAL, default=None)

PERSON_MENTIONS: tuple[PersonMention, ...] = (
    PersonMention("deaths", "deceased", "resident_id", "name", "death_division", sex="sex", birth_date="birth_date",
                  carry={"name": _person("name"), "sex": _col("sex"), "birth_date": _col("birth_date"),
                         "death_date": _col("death_date")}, document="certificate_no"),
    PersonMention("births", "child", "resident_id", "name", "birth_division", sex="sex", birth_date="birth_date",
                  carry={"name": _person("name"), "sex": _col("sex"), "birth_date": _col("birth_date")},
                  document="certificate_no"),
    PersonMention("births", "mother", "mother_id", "mother_name", "birth_division", fixed_sex="2",
                  carry={"mother_name": _person("mother_name")}),
    PersonMention("births", "father", "father_id", "father_name", "birth_division", fixed_sex="1",
                  carry={"father_name": _person("father_name")}),
    *(
        PersonMention("marriages", role, f"{role}_id", f"{role}_name", "registry_division", fixed_sex=sex,
                      birth_date=f"{role}_birth_date",
                      carry={"name": _person(f"{role}_name"), "sex": _fixed(sex),
                             "birth_date": _col(f"{role}_birth_date"),
                             "registration_date": _col("registration_date"), "marital_status": _marital_status},
                      document="registration_no")
        for role, sex in (("husband", "1"), ("wife", "2"))
    ),
    PersonMention("social_insurance", "insured", "resident_id", "name", "division",
                  carry={"name": _person("name"), "insurance_type": _col("insurance_type"),
                         "enrolment_status": _col("enrolment_status")}),
    PersonMention("market_entities", "legal_rep", "legal_rep_id", "legal_rep_name", "division",
                  carry={"legal_rep_name": _person("legal_rep_name")}),
    PersonMention("social_orgs", "legal_rep", "legal_rep_id", "legal_rep_name", "division",
                  carry={"legal_rep_name": _person("legal_rep_name")}),
    PersonMention("e_licences", "holder", "holder_code", "holder_name", "division",
                  where=lambda: pl.col("holder_code_type") == "2",
                  carry={"holder_name": _person("holder_name")}),
    PersonMention("admin_licences", "party", "party_id", "party_name", "division",
                  where=lambda: pl.col("party_type") == "3", carry={"party_name": _person("party_name")}),
    PersonMention("admin_penalties", "party", "party_id", "party_name", "division",
                  where=lambda: pl.col("party_type") == "3", carry={"party_name": _person("party_name")}),
    PersonMention("dishonest_debtors", "debtor", "debtor_id", "debtor_name", "court_division",
                  where=_is_person_id("debtor_id"), carry={"debtor_name": _person("debtor_name")}),
    PersonMention("land_parcels", "holder", "holder_id", "holder_name", "division",
                  where=_is_person_id("holder_id"), carry={"holder_name": _person("holder_name")}),
)


def _mention_rows(ctx: BuildContext, mention: PersonMention) -> pl.LazyFrame:
    frame = ctx.standardized(mention.dataset)
    if mention.where is not None:
        frame = frame.filter(mention.where())
    # The record's exact place: batch (hence file) and row, so a link is traceable to its source.
    key = pl.concat_str([pl.col("_batch_id"), pl.col("_source_row").cast(pl.String)], separator=":")
    sex = pl.lit(mention.fixed_sex) if mention.fixed_sex else (pl.col(mention.sex) if mention.sex else pl.lit(None))
    return frame.filter(pl.col(mention.name).is_not_null() | pl.col(mention.id).is_not_null()).select(
        pl.concat_str([pl.lit(f"{mention.dataset}:{mention.role}:"), key]).alias("record_id"),
        pl.col(mention.id).alias("resident_id"),
        pl.col(f"{mention.id}__valid").fill_null(False).alias("resident_id_valid"),
        person_name(mention.name).alias("name"),
        (pl.col(mention.birth_date) if mention.birth_date else pl.lit(None, pl.Date)).alias("birth_date"),
        sex.cast(pl.String).alias("sex"),
        (pl.col(mention.division) if mention.division else pl.lit(None, pl.String)).alias("division"),
        (pl.col(mention.document) if mention.document else pl.lit(None, pl.String)).alias("document"),
        *[expr().alias(f"carry_{name}") for name, expr in mention.carry.items()],
        *LATEST,
    )


def person_links(ctx: BuildContext) -> pl.DataFrame:
    """Link every person mention once; kept as ``base.person_links``."""
    if "base.person_links" in ctx.outputs:
        return ctx.outputs["base.person_links"]
    from transforms.linkage import link_persons

    mentions = [_mention_rows(ctx, m) for m in PERSON_MENTIONS if ctx.has_source(m.dataset)]
    columns = [*LINK_COLUMNS, "document"]
    records = (
        pl.concat([frame.select(columns) for frame in mentions]).collect()
        if mentions else pl.DataFrame(schema=dict.fromkeys(columns))
    ).unique("record_id", keep="last", maintain_order=True)
    reference = ctx.link_reference if ctx.link_reference is not None else (
        ctx.standardized("hukou").filter(pl.col("resident_id__valid"))
        .select(*REFERENCE_COLUMNS).collect()
    )
    seeded = pl.DataFrame(schema={"record_id": pl.String})
    if ctx.link_seed is not None:  # incremental: records linked by an earlier build keep their link
        seeded = ctx.link_seed.join(records.select("record_id"), on="record_id", how="semi")
        records = records.join(seeded.select("record_id"), on="record_id", how="anti")
    links = link_persons(reference, records.select(LINK_COLUMNS))
    links = links.with_columns(
        pl.col("record_id").str.split(":").list.get(0).alias("dataset"),
        pl.col("record_id").str.split(":").list.get(1).alias("role"),
    )
    links = corroborate(ctx, links, records, reference)
    if seeded.height:
        links = pl.concat([seeded.select(links.columns), links], how="vertical_relaxed")
    ctx.outputs["base.person_links"] = links.sort("record_id")
    return ctx.outputs["base.person_links"]


def _take(links: pl.DataFrame, found: pl.DataFrame, method: str) -> pl.DataFrame:
    """Set ``resident_id`` for the records in ``found`` (record_id, resident_id) that were unlinked."""
    found = (
        found.group_by("record_id").agg(pl.col("resident_id").unique())
        .filter(pl.col("resident_id").list.len() == 1)
    )
    found = found.select("record_id", pl.col("resident_id").list.first().alias("_found"))
    return (
        links.join(found, on="record_id", how="left")
        .with_columns(
            pl.when(pl.col("resident_id").is_null() & pl.col("_found").is_not_null())
            .then(pl.lit(method)).otherwise(pl.col("method")).alias("method"),
            pl.coalesce("resident_id", "_found").alias("resident_id"),
        )
        .drop("_found")
    )


def corroborate(ctx: BuildContext, links: pl.DataFrame, records: pl.DataFrame,
                reference: pl.DataFrame) -> pl.DataFrame:
    """Link what the model could not, from a second authoritative source of the same fact.

    1. **The same document in the e-licence library.** A birth certificate or marriage
       registration is also issued as an e-licence to each person named on it, under the
       same number; an e-licence with that number, held by the same name with a valid
       resident ID, names the person (method ``corroborated_document``).
    2. **The mother's spouse.** A father named on a birth certificate without a usable ID
       is the mother's spouse of the same name in the marriage registrations
       (method ``corroborated_family``).

    Only a single, unambiguous answer is taken; anything else stays unlinked.
    """
    known = reference.select("resident_id")
    unlinked = links.filter(pl.col("resident_id").is_null()).select("record_id")
    if unlinked.height == 0:
        return links
    pending = records.join(unlinked, on="record_id", how="semi")
    if ctx.has_source("e_licences"):
        holders = (
            ctx.standardized("e_licences")
            .filter((pl.col("holder_code_type") == "2") & pl.col("holder_code__valid")
                    & pl.col("licence_no").is_not_null())
            .select(pl.col("licence_no").alias("document"), person_name("holder_name").alias("name"),
                    pl.col("holder_code").alias("resident_id"))
            .collect()
            .join(known, on="resident_id", how="semi")
        )
        found = pending.filter(pl.col("document").is_not_null()).select("record_id", "document", "name").join(
            holders, on=["document", "name"], how="inner")
        links = _take(links, found.select("record_id", "resident_id"), "corroborated_document")
    fathers = links.filter((pl.col("dataset") == "births") & (pl.col("role") == "father")
                           & pl.col("resident_id").is_null())
    if fathers.height and ctx.has_source("marriages"):
        place = pl.col("record_id").str.split(":").list.slice(2).list.join(":")
        mothers = links.filter((pl.col("dataset") == "births") & (pl.col("role") == "mother")).select(
            place.alias("certificate"), pl.col("resident_id").alias("mother"))
        spouses = links.filter(pl.col("dataset") == "marriages").select(
            place.alias("registration"), "role", "resident_id")
        wives = spouses.filter(pl.col("role") == "wife").select("registration", pl.col("resident_id").alias("mother"))
        husbands = spouses.filter(pl.col("role") == "husband").select(
            "registration", pl.col("resident_id").alias("husband"))
        couples = wives.join(husbands, on="registration").drop_nulls()
        husband_names = couples.join(reference.select(pl.col("resident_id").alias("husband"), pl.col("name")),
                                     on="husband")
        found = (
            fathers.select("record_id", place.alias("certificate"))
            .join(records.select("record_id", "name"), on="record_id")
            .join(mothers, on="certificate").drop_nulls("mother")
            .join(husband_names, on=["mother", "name"])
            .select("record_id", pl.col("husband").alias("resident_id"))
        )
        links = _take(links, found, "corroborated_family")
    return links


def linked_mentions(ctx: BuildContext, dataset: str) -> pl.LazyFrame:
    """The dataset's person mentions with ``linked_id`` set; carried columns without prefix."""
    links = person_links(ctx).lazy().select("record_id", pl.col("resident_id").alias("linked_id"))
    parts = []
    for mention in PERSON_MENTIONS:
        if mention.dataset != dataset:
            continue
        rows = _mention_rows(ctx, mention).join(links, on="record_id", how="inner")
        parts.append(rows.filter(pl.col("linked_id").is_not_null()).select(
            pl.col("linked_id").alias("resident_id"),
            *[pl.col(f"carry_{name}").alias(name) for name in mention.carry],
            *LATEST,
        ))
    return pl.concat(parts, how="diagonal_relaxed")


# --- population ------------------------------------------------------------------------

def population_hukou(ctx: BuildContext) -> pl.LazyFrame:
    return (
        ctx.standardized("hukou")
        .filter(pl.col("resident_id__valid"))
        .with_columns(
            pl.when(pl.col("person_status") == "2").then(pl.col("deregistered_date")).alias("death_date"),
            pl.when(pl.col("person_status") == "2").then(pl.col("deregistered_date__valid"))
            .alias("death_date__valid"),
        )
    )


def population_deaths(ctx: BuildContext) -> pl.LazyFrame:
    return _by_event_date(linked_mentions(ctx, "deaths"), "death_date")


def population_births(ctx: BuildContext) -> pl.LazyFrame:
    return linked_mentions(ctx, "births")


def population_marriages(ctx: BuildContext) -> pl.LazyFrame:
    # The latest registration decides the status.
    return _by_event_date(linked_mentions(ctx, "marriages"), "registration_date")


def _by_event_date(frame: pl.LazyFrame, date: str) -> pl.LazyFrame:
    """Make the latest event win among one source's records by ordering them on its date (or year)."""
    column = pl.col(date)
    order = column.dt.epoch("d") if frame.collect_schema()[date] == pl.Date else column
    return frame.with_columns(order.fill_null(-100_000).cast(pl.Int64).alias("_event_order"))


def population_social_insurance(ctx: BuildContext) -> pl.LazyFrame:
    """One row per enrolment (so every name is compared), each carrying the person's status.

    ``insured``: enrolled in at least one insurance (any status); ``insurance_types``: the
    types enrolled; ``insurance_paying``: paying contributions in at least one.
    """
    enrolments = linked_mentions(ctx, "social_insurance")
    status = enrolments.group_by("resident_id").agg(
        pl.lit(True).alias("insured"),
        pl.col("insurance_type").drop_nulls().unique().sort().str.join(",").alias("insurance_types"),
        (pl.col("enrolment_status") == "1").any().alias("insurance_paying"),
    )
    return enrolments.drop("insurance_type", "enrolment_status").join(status, on="resident_id", how="left")


def _mentioned_names(dataset: str) -> Projection:
    return lambda ctx: linked_mentions(ctx, dataset)


# --- legal entities --------------------------------------------------------------------

def entity_universe(ctx: BuildContext) -> pl.DataFrame:
    """USCCs the legal-entity library knows (valid codes of the registering departments)."""
    if "link.entity_universe" not in ctx.outputs:
        frames = [
            ctx.standardized(name).filter(pl.col("uscc__valid")).select("uscc")
            for name in ctx.libraries["legal_entity"].anchor if ctx.has_source(name)
        ]
        ctx.outputs["link.entity_universe"] = pl.concat(frames).unique().sort("uscc").collect()
    return ctx.outputs["link.entity_universe"]


def link_entities(ctx: BuildContext, frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """Add ``linked_uscc``: the code when valid and known, else the one entity sharing its 17-char body."""
    universe = entity_universe(ctx).lazy()
    bodies = (
        universe.with_columns(pl.col("uscc").str.slice(0, 17).alias("_body"))
        .group_by("_body").agg(pl.col("uscc").first(), pl.len().alias("_n"))
        .filter(pl.col("_n") == 1).select("_body", pl.col("uscc").alias("_by_body"))
    )
    known = universe.select(pl.col("uscc").alias("_known"), pl.lit(True).alias("_is_known"))
    return (
        frame.join(known, left_on=column, right_on="_known", how="left")
        .with_columns(pl.col(column).str.slice(0, 17).alias("_body"))
        .join(bodies, on="_body", how="left")
        .with_columns(
            pl.when(pl.col("_is_known")).then(pl.col(column)).otherwise(pl.col("_by_body")).alias("linked_uscc")
        )
        .drop("_is_known", "_body", "_by_body")
    )


def _with_linked_rep(ctx: BuildContext, dataset: str, frame: pl.LazyFrame) -> pl.LazyFrame:
    """The legal representative's resident ID as linked to the population library.

    A written ID with a wrong check character is invalid, but linkage still finds the
    person (transforms/linkage.py), so the library carries the person's real ID.
    """
    links = person_links(ctx).lazy().select("record_id", pl.col("resident_id").alias("_rep"))
    record = pl.concat_str([pl.lit(f"{dataset}:legal_rep:"), pl.col("_batch_id"),
                            pl.lit(":"), pl.col("_source_row").cast(pl.String)])
    return (
        frame.with_columns(record.alias("record_id")).join(links, on="record_id", how="left")
        .with_columns(pl.coalesce("_rep", pl.when(pl.col("legal_rep_id__valid")).then("legal_rep_id"))
                      .alias("legal_rep_id"),
                      pl.lit(True).alias("legal_rep_id__valid"))
        .drop("_rep", "record_id")
    )


def legal_entity_market(ctx: BuildContext) -> pl.LazyFrame:
    types = ctx.catalog.code_table("entity_type").codes
    frame = ctx.standardized("market_entities").filter(pl.col("uscc__valid")).with_columns(
        pl.col("entity_type").replace_strict(types, default=None).alias("entity_type"),
        person_name("legal_rep_name").alias("legal_rep_name"),
    )
    return _with_linked_rep(ctx, "market_entities", frame)


def legal_entity_social_orgs(ctx: BuildContext) -> pl.LazyFrame:
    types = ctx.catalog.code_table("org_type").codes
    frame = ctx.standardized("social_orgs").filter(pl.col("uscc__valid")).with_columns(
        pl.col("org_type").replace_strict(types, default=None).alias("entity_type"),
        person_name("legal_rep_name").alias("legal_rep_name"),
    )
    return _with_linked_rep(ctx, "social_orgs", frame)


def _entity_mentions(dataset: str, code: str, name: str, where: Callable[[], pl.Expr] | None = None,
                     order: list[str] | None = None) -> Projection:
    def project(ctx: BuildContext) -> pl.LazyFrame:
        frame = ctx.standardized(dataset)
        if where is not None:
            frame = frame.filter(where())
        linked = link_entities(ctx, frame, code).filter(pl.col("linked_uscc").is_not_null())
        rows = linked.select(pl.col("linked_uscc").alias("uscc"), pl.col(name), *(order or []), *LATEST)
        return _by_event_date(rows, order[0]) if order else rows

    return project


def _not_person(column: str) -> Callable[[], pl.Expr]:
    return lambda: ~_is_person_id(column)()


#: library -> dataset -> projection. A library uses the datasets its attributes name.
PROJECTIONS: dict[str, dict[str, Projection]] = {
    "population": {
        "hukou": population_hukou,
        "deaths": population_deaths,
        "births": population_births,
        "marriages": population_marriages,
        "social_insurance": population_social_insurance,
        "market_entities": _mentioned_names("market_entities"),
        "social_orgs": _mentioned_names("social_orgs"),
        "e_licences": _mentioned_names("e_licences"),
        "admin_licences": _mentioned_names("admin_licences"),
        "admin_penalties": _mentioned_names("admin_penalties"),
        "dishonest_debtors": _mentioned_names("dishonest_debtors"),
        "land_parcels": _mentioned_names("land_parcels"),
    },
    "legal_entity": {
        "market_entities": legal_entity_market,
        "social_orgs": legal_entity_social_orgs,
        "tax_credit": _entity_mentions("tax_credit", "uscc", "taxpayer_name", order=["rating_year"]),
        "e_licences": _entity_mentions("e_licences", "holder_code", "holder_name",
                                       where=lambda: pl.col("holder_code_type") == "1"),
        "admin_licences": _entity_mentions("admin_licences", "party_id", "party_name",
                                           where=lambda: pl.col("party_type") != "3"),
        "admin_penalties": _entity_mentions("admin_penalties", "party_id", "party_name",
                                            where=lambda: pl.col("party_type") != "3"),
        "land_parcels": _entity_mentions("land_parcels", "holder_id", "holder_name",
                                         where=_not_person("holder_id")),
        "dishonest_debtors": _entity_mentions("dishonest_debtors", "debtor_id", "debtor_name",
                                              where=_not_person("debtor_id")),
    },
}


def latest_marriages(ctx: BuildContext) -> pl.LazyFrame:
    """Each person's latest marriage registration with the linked spouse: resident_id, spouse_id, type, date."""
    links = person_links(ctx).lazy().filter(pl.col("dataset") == "marriages").select(
        pl.col("record_id").str.split(":").list.slice(2).list.join(":").alias("registration"),
        "role", "resident_id",
    )
    husbands = links.filter(pl.col("role") == "husband").select("registration", pl.col("resident_id").alias("h"))
    wives = links.filter(pl.col("role") == "wife").select("registration", pl.col("resident_id").alias("w"))
    registrations = ctx.standardized("marriages").select(
        pl.concat_str([pl.col("_batch_id"), pl.col("_source_row").cast(pl.String)], separator=":")
        .alias("registration"), "registration_type", "registration_date",
    )
    couples = registrations.join(husbands, on="registration", how="left").join(wives, on="registration", how="left")
    sides = pl.concat([
        couples.select(pl.col("h").alias("resident_id"), pl.col("w").alias("spouse_id"), "registration_type",
                       "registration_date", "registration"),
        couples.select(pl.col("w").alias("resident_id"), pl.col("h").alias("spouse_id"), "registration_type",
                       "registration_date", "registration"),
    ]).filter(pl.col("resident_id").is_not_null())
    return (
        sides.sort(["resident_id", "registration_date", "registration"], nulls_last=False)
        .group_by("resident_id", maintain_order=True).last()
    )
