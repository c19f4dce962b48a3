"""Consistency: records whose value of a library attribute differs from the authoritative source.

The build writes every disagreement between sources of one attribute to ``base.conflicts``
(key, attribute, the chosen value and source, the other value and source). That table is the
feed; this module finds, for each conflict, the records of the other source that carry the
disagreeing value, so each can be sent back with its batch, file and row:

- a person is named in a record through a *mention* (transforms/projections.py): the record's
  link in ``base.person_links`` gives the person, and the mention's projection of the record
  gives the value the library compared;
- an entity is named through its USCC (exactly, or by the 17-character body when the check
  character is wrong), linked as the build links it. In a dataset whose party may be a person
  or an entity (transforms/projections.py ``PARTIES``), only the records the build's decision
  (``with_party_kind``) calls an entity's name one: the legal-entity library compared only
  those, so a person's name is never judged against an entity's.

A record is checked when it names a key and carries a value of the attribute; it fails when
that (key, value) is a conflict of its dataset. Only batches of the latest build are judged,
as ``base.conflicts`` was computed from those.
"""

from __future__ import annotations

import polars as pl

from lake.catalog.libraries import Attribute
from lake.catalog.model import Dataset
from transforms.context import ENTITY_CODES
from transforms.projections import PARTIES, PARTY_KIND, PERSON_MENTIONS, PersonMention, link_entities, with_party_kind
from transforms.quality.context import RAW, QualityContext
from transforms.quality.records import FIRST_ROW, RecordCheck, with_first_row


def raw_field(dataset: Dataset, mention: PersonMention, column: str) -> str | None:
    """The item a mention's projected ``column`` comes from (``marriages`` ``name`` → ``wife_name``)."""
    if column in dataset.columns:
        return column
    return {"name": mention.name, "birth_date": mention.birth_date, "sex": mention.sex}.get(column)


def _place(batches: pl.Series, row: pl.Expr) -> pl.Expr:
    """A record's place (batch, row) as one integer, so joins on it hash integers, not text."""
    return pl.col("_batch_id").cast(pl.Enum(batches)).to_physical().cast(pl.Int64) * (1 << 40) + row


def _person_key(ctx: QualityContext, dataset: Dataset, frame: pl.DataFrame,
                mention: PersonMention) -> tuple[pl.DataFrame, str]:
    """Add the person a mention names, from ``base.person_links``; return the frame and the column.

    The build links one record per dataset key, so the other records of that key in the batch
    (repeats) take its link. Only the lineage columns are joined; the result is put
    back by position (joining the whole frame would copy every column).
    """
    column = f"__person_{mention.role}"
    if column in frame.columns:
        return frame, column
    frame = with_first_row(frame, dataset)
    batches = frame["_batch_id"].unique().sort()
    links = ctx.person_links()
    mine = links.filter((pl.col("dataset") == dataset.id) & (pl.col("role") == mention.role)
                        & pl.col("_batch_id").is_in(batches.implode()))
    mine = mine.select(_place(batches, pl.col("_source_row")).alias("__place"), pl.col("resident_id").alias(column))
    place = frame.select(_place(batches, pl.col("_source_row")).alias("__place"),
                         _place(batches, pl.col(FIRST_ROW)).alias("__first")).with_row_index("__position")
    linked = place.join(mine, on="__place", how="inner")
    # The build kept one record of each key (its latest); the key's other records share its link.
    unlinked = place.join(linked.select("__position"), on="__position", how="anti")
    by_key = (linked.filter(pl.col("__first").is_in(unlinked["__first"].implode()))
              .group_by("__first").agg(pl.col(column).max()))
    repeats = unlinked.join(by_key, on="__first")
    found = pl.concat([linked.select("__position", column), repeats.select("__position", column)])
    values = pl.Series(column, [None] * frame.height, dtype=pl.String).scatter(found["__position"], found[column])
    frame = frame.with_columns(values)
    if mention.where is not None:
        frame = frame.with_columns(pl.when(mention.where()).then(pl.col(column)).alias(column))
    return frame, column


def _entity_key(ctx: QualityContext, dataset: Dataset, frame: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Add the entity a record names (its USCC as the build links it); return the frame and the column.

    A party record the build calls a person's, or neither's, names no entity (NULL), whatever
    its code links to.
    """
    column = "__entity"
    if column in frame.columns:
        return frame, column
    universe = ctx.library_keys("legal_entity")
    if universe is None:
        return frame.with_columns(pl.lit(None, pl.String).alias(column)), column
    ctx.build.outputs["link.entity_universe"] = universe.to_frame("uscc").unique().sort("uscc")
    party = PARTIES.get(dataset.id)
    if party is None:
        code = ENTITY_CODES[dataset.id]
        codes = frame.select(code).with_row_index("__position")
        linked = link_entities(ctx.build, codes.lazy(), code).collect().sort("__position")
        return frame.with_columns(linked["linked_uscc"].alias(column)), column
    codes = frame.select(party.code, *([party.declared] if party.declared else []))
    decided = with_party_kind(ctx.build, codes.lazy(), party).collect()  # same order as ``frame``
    entity = decided.select(pl.when(pl.col(PARTY_KIND) == "entity").then(pl.col("linked_uscc")).alias(column))
    return frame.with_columns(entity[column]), column


def _sides(ctx: QualityContext, dataset: Dataset, frame: pl.DataFrame, library: str,
           column: str) -> tuple[pl.DataFrame, list[tuple[str, pl.Expr, str | None]]]:
    """Where records of ``dataset`` carry projected ``column`` of ``library``: (key column, value, item)."""
    sides: list[tuple[str, pl.Expr, str | None]] = []
    if library == "population":
        for mention in PERSON_MENTIONS:
            if mention.dataset != dataset.id or column not in mention.carry:
                continue
            frame, key = _person_key(ctx, dataset, frame, mention)
            sides.append((key, mention.carry[column]().cast(pl.String), raw_field(dataset, mention, column)))
    elif library == "legal_entity" and dataset.id in ENTITY_CODES and column in dataset.columns:
        frame, key = _entity_key(ctx, dataset, frame)
        sides.append((key, pl.col(column).cast(pl.String), column))
    return frame, sides


def consistency(ctx: QualityContext, dataset: Dataset,
                frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``consistency.L.A``: the record's (key, value) of attribute A is a conflict in ``base.conflicts``."""
    conflicts = ctx.system("base.conflicts")
    if conflicts.is_empty():
        return frame, []
    names = {d.id: d.name for d in ctx.catalog.datasets.values()}
    built = pl.col("_batch_id").is_in(sorted(ctx.built_batches))
    checks: list[RecordCheck] = []
    for rule in ctx.rules_of("consistency"):
        assert rule.library is not None
        attribute: Attribute = next(a for a in ctx.libraries[rule.library].attributes if a.name == rule.attribute)
        # The authoritative source is never the "other" side: only later sources are judged.
        columns = [ref.column for ref in attribute.sources[1:] if ref.dataset == dataset.id]
        if not columns:
            continue
        found = (
            conflicts.filter((pl.col("library") == rule.library) & (pl.col("attribute") == rule.attribute)
                             & (pl.col("other_source") == dataset.id))
            .sort("key", "other_value", "chosen_source", "chosen_value")
            .unique(subset=["key", "other_value"], keep="first", maintain_order=True)
            .select("key", "other_value", pl.col("chosen_source").replace(names).alias("__chosen_source"),
                    pl.col("chosen_value").alias("__chosen_value"))
        )
        for column in dict.fromkeys(columns):
            frame, sides = _sides(ctx, dataset, frame, rule.library, column)
            for key, value, item in sides:
                tag = f"__{rule.library}_{rule.attribute}_{key.strip('_')}"
                pairs = frame.select(pl.col(key).alias("key"), value.alias("other_value")).with_row_index("__position")
                # Only records of a key in conflict can match: join those, put the result back by position.
                matched = (pairs.filter(pl.col("key").is_in(found["key"].implode()))
                           .join(found, on=["key", "other_value"], how="inner"))
                frame = frame.with_columns(
                    pairs["other_value"].alias(f"{tag}_value"),
                    *[pl.Series(f"{tag}_chosen_{name}", [None] * frame.height, dtype=pl.String)
                      .scatter(matched["__position"], matched[f"__chosen_{name}"]) for name in ("source", "value")],
                )
                applies = pl.col(key).is_not_null() & pl.col(f"{tag}_value").is_not_null() & built
                detail = pl.concat_str([pl.lit("与权威来源「"), pl.col(f"{tag}_chosen_source"), pl.lit("」的值「"),
                                        pl.col(f"{tag}_chosen_value"), pl.lit("」不一致")])
                shown = pl.col(RAW + item) if item else pl.col(f"{tag}_value")
                checks.append(RecordCheck(rule, applies, pl.col(f"{tag}_chosen_source").is_not_null(), shown, detail,
                                          item))
    return frame, checks
