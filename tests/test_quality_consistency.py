"""Consistency checks judge an entity's name only on records the build calls the entity's.

``consistency.legal_entity.entity_name`` sends a record back when its name for an entity differs
from the register's (a conflict in ``base.conflicts``). A dishonest-debtor record that declares a
natural person names a person, even when its code is also a registered USCC or shares a
registered code's 17-character body: the legal-entity library never compared its name, so the
check must not either (transforms/projections.py ``with_party_kind``).

The home is real: the raw records and the built tables are Delta tables, read by the quality
run's own reader and standardization.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from govlake.home import Home
from lake import delta
from lake.catalog.quality import load_quality_rules
from tests.transforms.test_projections import BOTH, OLD_FIRM, debtor, wrong_check
from transforms.build import make_context
from transforms.quality.consistency import consistency
from transforms.quality.context import QualityContext
from transforms.quality.derive import derive

BATCH = "dishonest_debtors-0001"
#: (case, code, declared kind, name, the entity it names for the check)
DEBTORS = [
    ("D1", BOTH, "法人或其他组织", "杭州双码公司", BOTH),  # registered code, declared entity
    ("D2", BOTH, "自然人", "赵六", None),  # the same code, but a person's ID and declared so
    ("D3", wrong_check(OLD_FIRM), "自然人", "杭州老字号公司", None),  # a person's: the body link is fuzzy only
    ("D4", wrong_check(OLD_FIRM), "法人或其他组织", "杭州老字号公司", OLD_FIRM),  # an entity's, by its body
]
#: The build's conflicts: the court's names of both entities differ from the register's.
CONFLICTS = [
    (BOTH, "杭州双码有限公司", "杭州双码公司"),
    (OLD_FIRM, "杭州老字号有限公司", "杭州老字号公司"),
]


def quality_context(root: Path) -> QualityContext:
    home = Home(root).ensure()
    dataset = "dishonest_debtors"
    rows = [debtor(case, code, kind, name) for case, code, kind, name, _ in DEBTORS]
    catalog = make_context(home).catalog
    raw = pl.DataFrame([{column: row.get(column) for column in catalog.dataset(dataset).columns} for row in rows],
                       schema=dict.fromkeys(catalog.dataset(dataset).columns, pl.String)).with_columns(
        pl.lit(BATCH).alias("_batch_id"), pl.lit("法院_失信被执行人_20261120.csv").alias("_source_file"),
        pl.lit("0" * 64).alias("_source_sha256"), pl.int_range(2, len(rows) + 2, dtype=pl.Int64).alias("_source_row"),
        pl.lit(dt.datetime(2026, 11, 20, tzinfo=dt.UTC)).alias("_ingested_at"))
    delta.write(home.table_path("raw", catalog.dataset(dataset).raw_table), raw.to_arrow())
    delta.write(home.table_path("base", "legal_entity"),
                pl.DataFrame({"uscc": [BOTH, OLD_FIRM], "entity_name": [c[1] for c in CONFLICTS]}).to_arrow())
    delta.write(home.table_path("base", "conflicts"), pl.DataFrame(
        [{"library": "legal_entity", "key": key, "attribute": "entity_name", "chosen_source": "market_entities",
          "chosen_value": chosen, "chosen_batch": "market_entities-0001", "other_source": dataset,
          "other_value": other, "other_batch": BATCH} for key, chosen, other in CONFLICTS]).to_arrow())
    build = make_context(home)
    declared = load_quality_rules()
    return QualityContext(
        home=home, catalog=build.catalog, libraries=build.libraries, declared=declared,
        rules=derive(build.catalog, build.libraries, declared, {dataset}), datasets=(dataset,),
        as_of=build.as_of, run_date=build.as_of, build=build, built_batches=frozenset({BATCH}),
    )


def test_only_entity_parties_are_checked_against_the_entitys_name(tmp_path: Path) -> None:
    ctx = quality_context(tmp_path / "home")
    dataset = ctx.dataset("dishonest_debtors")
    frame, checks = consistency(ctx, dataset, ctx.records(dataset))
    [check] = [c for c in checks if c.rule.id == "consistency.legal_entity.entity_name"]
    judged = frame.select(pl.col("case_no"), check.applies.alias("applies"),
                          (check.applies & check.fails).alias("fails")).sort("case_no")
    entity_parties = [case for case, *_, entity in DEBTORS if entity is not None]
    assert judged.filter("applies")["case_no"].to_list() == entity_parties
    assert judged.filter("fails")["case_no"].to_list() == entity_parties
    assert frame.sort("case_no")["__entity"].to_list() == [entity for *_, entity in DEBTORS]
