"""Incremental builds: a new raw batch updates only the persons and entities it touches.

1. **New records.** Only the new batches are read and standardized. Their person mentions
   are linked against the built population (plus new register records); the persons
   they reach, their spouses (widowhood depends on the spouse), and the entities named in
   the new records (plus those whose legal representative is affected) are the keys to
   rebuild.
2. **Every record of those keys.** Older records come back through ``base.person_links``
   (which names each record's batch and row), the household register by ID, and entity
   datasets by USCC. Links made by earlier builds are reused.
3. **The same steps** (population, legal entity) run on that scope, so an incremental
   result equals what a full build gives for those keys.
4. **Delta MERGE** upserts the rebuilt rows into ``base.population`` and
   ``base.legal_entity``; the new records' links are appended to ``base.person_links``;
   ``base.conflicts`` replaces the rebuilt keys' rows. The
   downstream steps (geospatial, credit, e-licence, topics) are recomputed from the
   updated libraries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import polars as pl

from lake import delta
from transforms.context import BuildContext, Scope
from transforms.projections import REFERENCE_COLUMNS, entity_universe, link_entities, person_links

PERSON_LIBRARY, ENTITY_LIBRARY = "base.population", "base.legal_entity"


def _base(ctx: BuildContext, table: str) -> pl.DataFrame:
    """A built base table, read once per build."""
    name = f"built.{table}"
    if name not in ctx.outputs:
        ctx.outputs[name] = delta.read(ctx.home.table_path("base", table))
    return ctx.outputs[name]


def _reference(ctx: BuildContext, new: BuildContext) -> pl.DataFrame:
    """Built persons, with new register records replacing theirs."""
    built = _base(ctx, "population").select(REFERENCE_COLUMNS)
    fresh = (new.standardized("hukou").filter(pl.col("resident_id__valid")).select(REFERENCE_COLUMNS)
             .collect() if new.has_source("hukou") else built.clear())
    return pl.concat([built.join(fresh.select("resident_id"), on="resident_id", how="anti"), fresh])


def _spouses(links: pl.DataFrame, persons: set[str]) -> set[str]:
    place = pl.col("record_id").str.split(":").list.slice(2).list.join(":")
    marriages = links.filter(pl.col("dataset") == "marriages").select(place.alias("registration"), "resident_id")
    touched = marriages.filter(pl.col("resident_id").is_in(sorted(persons)))["registration"].unique()
    return set(marriages.filter(pl.col("registration").is_in(touched.implode()))["resident_id"].drop_nulls())


def _new_entities(new: BuildContext) -> set[str]:
    from transforms.context import ENTITY_CODES

    found: set[str] = set()
    for dataset, column in ENTITY_CODES.items():
        if not new.has_source(dataset):
            continue
        linked = link_entities(new, new.standardized(dataset), column).select("linked_uscc").collect()
        found |= set(linked["linked_uscc"].drop_nulls())
    return found


def plan(ctx: BuildContext, new_batches: frozenset[str]) -> Scope:
    """The scope of an incremental build: new batches plus every record of the keys they touch."""
    new = BuildContext(home=ctx.home, catalog=ctx.catalog, libraries=ctx.libraries, as_of=ctx.as_of,
                       rules=ctx.rules, scope=Scope(new_batches=new_batches))
    reference = _reference(ctx, new)
    new.link_reference = reference
    # The entity universe first: person_links decides person or entity by the registers, so
    # an ID-shaped credit code in a new batch must meet the built entities, not only its own batch.
    built_entities = _base(ctx, "legal_entity")
    new.outputs["link.entity_universe"] = pl.concat([
        built_entities.select("uscc"), entity_universe(new)]).unique().sort("uscc")
    links_new = person_links(new)
    persons = set(links_new["resident_id"].drop_nulls())
    if new.has_source("hukou"):
        persons |= set(new.standardized("hukou").filter(pl.col("resident_id__valid"))
                       .select("resident_id").collect()["resident_id"])
    old_links = _base(ctx, "person_links")
    persons |= _spouses(pl.concat([old_links.select(links_new.columns), links_new]), persons)
    entities = _new_entities(new)
    entities |= set(built_entities.filter(pl.col("legal_rep_id").is_in(sorted(persons)))["uscc"])
    records: dict[str, set[str]] = {}
    place = pl.col("record_id").str.split(":")
    for row in old_links.filter(pl.col("resident_id").is_in(sorted(persons))).select(
        place.list.get(0).alias("dataset"), place.list.slice(2).list.join(":").alias("record")
    ).iter_rows():
        records.setdefault(row[0], set()).add(row[1])
    return Scope(
        new_batches=new_batches,
        records={dataset: frozenset(values) for dataset, values in records.items()},
        person_ids=frozenset(persons),
        entity_ids=frozenset(entities),
    )


def run_incremental(ctx: BuildContext, new_batches: frozenset[str], *,
                    inputs: Mapping[str, int] | None = None) -> tuple[dict[str, int], int]:
    """Rebuild the touched keys, MERGE them in, recompute downstream; return versions and key count.

    ``inputs`` are the versions the last finished build recorded (its manifest): the built
    libraries are read at those versions, not at their newest. A build killed after its first
    MERGE leaves the population already holding part of its work; read at its newest, it would
    link the new records against a different reference (the link model's weights depend on it)
    and the re-run would not give what an uninterrupted build gives.
    """
    from transforms.build import DOWNSTREAM_STEPS, LIBRARY_STEPS, run_steps
    from transforms.write import write_outputs

    for table in ("population", "legal_entity", "person_links", "conflicts"):
        version = (inputs or {}).get(f"base.{table}")
        if version is not None:
            ctx.outputs[f"built.{table}"] = delta.read(ctx.home.table_path("base", table), version=version)
    scope = plan(ctx, new_batches)
    scoped = BuildContext(home=ctx.home, catalog=ctx.catalog, libraries=ctx.libraries, as_of=ctx.as_of,
                          rules=ctx.rules, scope=scope, link_reference=_reference(ctx, BuildContext(
                              home=ctx.home, catalog=ctx.catalog, libraries=ctx.libraries, as_of=ctx.as_of,
                              rules=ctx.rules, scope=Scope(new_batches=new_batches))),
                          link_seed=_base(ctx, "person_links"))
    run_steps(scoped, LIBRARY_STEPS)
    versions: dict[str, int] = {}
    people = scoped.outputs[PERSON_LIBRARY].filter(pl.col("resident_id").is_in(sorted(scope.person_ids)))
    entities = scoped.outputs[ENTITY_LIBRARY].filter(pl.col("uscc").is_in(sorted(scope.entity_ids)))
    home = ctx.home
    if people.height:
        versions[PERSON_LIBRARY] = delta.merge_upsert(home.table_path("base", "population"), people.to_arrow(),
                                                      keys=["resident_id"])
    if entities.height:
        versions[ENTITY_LIBRARY] = delta.merge_upsert(home.table_path("base", "legal_entity"), entities.to_arrow(),
                                                      keys=["uscc"])
    links = scoped.outputs["base.person_links"]
    fresh_links = links.join(_base(ctx, "person_links").select("record_id"), on="record_id", how="anti")
    if fresh_links.height:
        # New batches bring new records only, so their links are appended; the app
        # transaction makes a re-run after a crash add nothing.
        batch_key = ",".join(sorted(new_batches))
        versions["base.person_links"] = delta.write(
            home.table_path("base", "person_links"), fresh_links.sort("record_id").to_arrow(),
            txn=(f"govlake.links/{hashlib.sha256(batch_key.encode()).hexdigest()[:16]}", 1))
    conflicts = _base(ctx, "conflicts")
    rebuilt = pl.concat([
        pl.DataFrame({"library": "population", "key": sorted(scope.person_ids)}),
        pl.DataFrame({"library": "legal_entity", "key": sorted(scope.entity_ids)}),
    ], how="vertical_relaxed")
    new_conflicts = pl.concat([scoped.outputs[f"base.conflicts.{lib}"] for lib in ("population", "legal_entity")])
    new_conflicts = new_conflicts.join(rebuilt, on=["library", "key"], how="semi")
    ctx.outputs["base.conflicts"] = pl.concat([
        conflicts.join(rebuilt, on=["library", "key"], how="anti"), new_conflicts.select(conflicts.columns),
    ]).sort(["library", "key", "attribute", "other_source", "other_value"])
    # Downstream steps read the updated libraries whole.
    for table in ("population", "legal_entity", "person_links"):
        ctx.outputs.pop(f"built.{table}", None)
        ctx.outputs[f"base.{table}"] = _base(ctx, table)
    for library in ("population", "legal_entity"):
        ctx.outputs[f"base.conflicts.{library}"] = ctx.outputs["base.conflicts"].filter(
            pl.col("library") == library)
    run_steps(ctx, DOWNSTREAM_STEPS)
    written = write_outputs(ctx, only={"base.conflicts", *(name for name in ctx.outputs
                                                          if name.startswith(("base.geo", "base.credit",
                                                                              "base.e_licence", "topic.")))})
    versions.update(written)
    return versions, len(scope.person_ids) + len(scope.entity_ids)
