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

Five datasets name a *party* that may be either: licence and penalty parties, e-licence
holders, dishonest debtors and parcel holders (:data:`PARTIES`). Whether a record's party
is a person or an entity is decided by evidence, in :func:`with_party_kind`: a code the
entity registers hold is an entity's, whatever it looks like. Shape alone cannot decide,
because many credit codes issued before the 2015 reform are 17 digits and a digit or ``X``,
just like a resident ID (docs/linkage.md, "Person or entity").

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
    #: The record names a person only where :func:`with_party_kind` says so (a party that
    #: may be a person or an entity); ``where`` then filters those records further.
    party: Party | None = None


@dataclass(frozen=True)
class Party:
    """Where a dataset names a party that may be a person or an entity.

    ``code`` is the party's code (a resident ID or a USCC, element ``party_id``); ``declared``
    the column, if any, in which the department says which kind of party it is, with the
    codes of that column meaning a natural person and those meaning an entity.
    """

    code: str
    declared: str | None = None
    persons: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()


#: Datasets whose party may be a person or an entity. Code table ``party_type``:
#: 1 法人及非法人组织, 2 个体工商户, 3 自然人; ``holder_code_type``: 1 USCC, 2 resident ID.
#: Land parcels declare nothing: the code and the registers decide.
PARTIES: dict[str, Party] = {
    "e_licences": Party("holder_code", "holder_code_type", persons=("2",), entities=("1",)),
    "admin_licences": Party("party_id", "party_type", persons=("3",), entities=("1", "2")),
    "admin_penalties": Party("party_id", "party_type", persons=("3",), entities=("1", "2")),
    "dishonest_debtors": Party("debtor_id", "debtor_type", persons=("3",), entities=("1", "2")),
    "land_parcels": Party("holder_id"),
}
#: 17 digits and a digit or ``X``: what a resident ID looks like, and also what many credit
#: codes issued before 2015 look like (an 8-digit organisation code inside), so never enough.
RESIDENT_ID_SHAPE = r"^\d{17}[\dX]$"


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
                  party=PARTIES["e_licences"], carry={"holder_name": _person("holder_name")}),
    PersonMention("admin_licences", "party", "party_id", "party_name", "division",
                  party=PARTIES["admin_licences"], carry={"party_name": _person("party_name")}),
    PersonMention("admin_penalties", "party", "party_id", "party_name", "division",
                  party=PARTIES["admin_penalties"], carry={"party_name": _person("party_name")}),
    PersonMention("dishonest_debtors", "debtor", "debtor_id", "debtor_name", "court_division",
                  party=PARTIES["dishonest_debtors"], carry={"debtor_name": _person("debtor_name")}),
    PersonMention("land_parcels", "holder", "holder_id", "holder_name", "division",
                  party=PARTIES["land_parcels"], carry={"holder_name": _person("holder_name")}),
)


def _mention_rows(ctx: BuildContext, mention: PersonMention) -> pl.LazyFrame:
    if mention.party is not None:
        frame = party_records(ctx, mention.dataset, mention.party).filter(pl.col(PARTY_KIND) == "person")
    else:
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


def _take(links: pl.DataFrame, found: pl.DataFrame, method: str, *, over_model: bool = False) -> pl.DataFrame:
    """Set ``resident_id`` for the records in ``found`` (record_id, resident_id) that were unlinked.

    With ``over_model`` the answer also replaces a different person the model linked
    (``probabilistic``); an exact link is never replaced.
    """
    found = (
        found.group_by("record_id").agg(pl.col("resident_id").unique())
        .filter(pl.col("resident_id").list.len() == 1)
    )
    found = found.select("record_id", pl.col("resident_id").list.first().alias("_found"))
    replaceable = pl.col("resident_id").is_null()
    if over_model:
        replaceable = replaceable | (pl.col("method") == "probabilistic")
    take = replaceable & pl.col("_found").is_not_null() & pl.col("resident_id").ne_missing(pl.col("_found"))
    return (
        links.join(found, on="record_id", how="left")
        .with_columns(
            pl.when(take).then(pl.lit(method)).otherwise(pl.col("method")).alias("method"),
            pl.when(take).then(pl.col("_found")).otherwise(pl.col("resident_id")).alias("resident_id"),
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
       (method ``corroborated_family``). This also replaces a different person the model
       linked: a father's record carries no birth date, so the model links him on name,
       county and sex alone, and a namesake of the same county can pass the threshold
       (all the wrong links at the 100k demo were such fathers), while a registered marriage
       to the child's mother under the same name is direct evidence.

    Only a single, unambiguous answer is taken; anything else stays as the model left it.
    """
    known = reference.select("resident_id")
    unlinked = links.filter(pl.col("resident_id").is_null()).select("record_id")
    pending = records.join(unlinked, on="record_id", how="semi")
    if pending.height and ctx.has_source("e_licences"):
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
                           & (pl.col("resident_id").is_null() | (pl.col("method") == "probabilistic")))
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
        links = _take(links, found, "corroborated_family", over_model=True)
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


#: Column :func:`with_party_kind` adds: ``"person"``, ``"entity"`` or NULL (neither can be told).
PARTY_KIND = "party_kind"


def _resident_id_valid(ctx: BuildContext, code: pl.Expr) -> pl.Expr:
    """TRUE when ``code`` passes the resident-ID rule (GB 11643 check character, birth date, county)."""
    from transforms.rules.identifiers import resident_id

    return resident_id(code, ctx.catalog.element("resident_id"), ctx.rules).valid.fill_null(False)


def with_party_kind(ctx: BuildContext, frame: pl.LazyFrame, party: Party) -> pl.LazyFrame:
    """Add ``linked_uscc`` (:func:`link_entities`) and :data:`PARTY_KIND`: who the record's party is.

    The first rule that applies decides:

    1. The code **is a registered USCC** (held by the market-regulation or social-organisation
       register) → entity. Exception: the record declares a natural person *and* the code is
       also a valid resident ID. Only then are both readings possible, and the department's
       own word breaks the tie; with no declaration the register wins.
    2. The record **declares a natural person** → person (linked by ID, else by name).
    3. The record **declares an entity** → entity if the code's 17-character body is that of
       exactly one registered entity (a wrong check character); otherwise neither. A record
       that says "entity" carries an entity's name (a shop's, for a 个体工商户 filed under its
       operator's ID), so its name is never compared with a person's.
    4. No declaration, and the **body links** to an entity → entity, unless the code is a
       valid resident ID: a valid check character of GB 11643 is no error, a wrong one of
       GB 32100 is, so the person reading needs fewer errors.
    5. No declaration, and the code **has a resident ID's shape** → person (a mistyped ID is
       still linked on what it says).
    6. Otherwise neither: an unknown or malformed code that no register holds.
    """
    data = frame.collect()
    columns = [party.code, *([party.declared] if party.declared else [])]
    return pl.concat([data, _party_kinds(ctx, data.select(columns), party)], how="horizontal").lazy()


def party_records(ctx: BuildContext, dataset: str, party: Party | None = None) -> pl.LazyFrame:
    """``ctx.standardized(dataset)`` with :func:`with_party_kind`'s columns, decided once per build.

    ``party`` defaults to ``PARTIES[dataset]``. The person mentions, the population projection
    and the legal-entity projection all read these; at 1M persons deciding the 500,000
    e-licence holders takes a few tenths of a second, so it is done once.
    """
    party = party or PARTIES[dataset]
    data = ctx.standardized(dataset).collect()
    name = f"link.party_kind.{dataset}.{party.code}"
    if name not in ctx.outputs:
        columns = [party.code, *([party.declared] if party.declared else [])]
        ctx.outputs[name] = _party_kinds(ctx, data.select(columns), party)
    return pl.concat([data, ctx.outputs[name]], how="horizontal").lazy()


def _party_kinds(ctx: BuildContext, codes: pl.DataFrame, party: Party) -> pl.DataFrame:
    """``party_kind`` and ``linked_uscc`` for each row of ``codes`` (the code and declared kind), in order."""
    row = "_party_row"
    code = pl.col(party.code)
    if party.declared is None:
        says_person = says_entity = pl.lit(False)
    else:
        says_person = pl.col(party.declared).is_in(list(party.persons)).fill_null(False)
        says_entity = pl.col(party.declared).is_in(list(party.entities)).fill_null(False)
    linked = link_entities(ctx, codes.lazy().with_row_index(row), party.code).collect().sort(row)
    registered = (pl.col("linked_uscc") == code).fill_null(False)
    by_body = pl.col("linked_uscc").is_not_null() & ~registered
    # Whether the code is a valid resident ID matters only where a register also claims it;
    # checking just those rows keeps the GB 11643 rule off the hundreds of thousands of others.
    doubtful = linked.filter(by_body | (registered & says_person)).select(row, code)
    resident_ids = doubtful.select(row, _resident_id_valid(ctx, code).alias("_resident"))
    linked = linked.join(resident_ids, on=row, how="left", maintain_order="left")
    resident = pl.col("_resident").fill_null(False)
    person, entity, neither = pl.lit("person"), pl.lit("entity"), pl.lit(None, pl.String)
    kind = (
        pl.when(registered & ~(says_person & resident)).then(entity)
        .when(says_person).then(person)
        .when(says_entity).then(pl.when(by_body).then(entity).otherwise(neither))
        .when(by_body & ~resident).then(entity)
        .when(code.str.contains(RESIDENT_ID_SHAPE).fill_null(False)).then(person)
        .otherwise(neither)
    )
    return linked.select(kind.alias(PARTY_KIND), "linked_uscc")


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


def _entity_mentions(dataset: str, code: str, name: str, order: list[str] | None = None) -> Projection:
    """Records naming an entity, keyed by its linked USCC; a party dataset keeps its entity parties only."""
    def project(ctx: BuildContext) -> pl.LazyFrame:
        frame = ctx.standardized(dataset)
        if dataset in PARTIES:
            linked = party_records(ctx, dataset).filter(pl.col(PARTY_KIND) == "entity")
        else:
            linked = link_entities(ctx, frame, code).filter(pl.col("linked_uscc").is_not_null())
        rows = linked.select(pl.col("linked_uscc").alias("uscc"), pl.col(name), *(order or []), *LATEST)
        return _by_event_date(rows, order[0]) if order else rows

    return project


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
        "e_licences": _entity_mentions("e_licences", "holder_code", "holder_name"),
        "admin_licences": _entity_mentions("admin_licences", "party_id", "party_name"),
        "admin_penalties": _entity_mentions("admin_penalties", "party_id", "party_name"),
        "land_parcels": _entity_mentions("land_parcels", "holder_id", "holder_name"),
        "dishonest_debtors": _entity_mentions("dishonest_debtors", "debtor_id", "debtor_name"),
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
