"""``govlake score``: the base libraries measured against the generator's truth files.

Three figures, as the base-library issue asks, all on the demo's truth/ folder:

- **golden-record accuracy** per attribute, on the persons and entities whose records
  had defects injected (the records where getting it right is hard);
- **linkage precision and recall** on the person mentions whose ID was missing or
  unusable (``id_missing``, ``id_mistyped``, ``bad_check_char``);
- **conflict coverage**: the share of injected cross-source conflicts
  (``name_conflict``, ``birth_date_conflict``) that appear in ``base.conflicts``;
- **quality detection**: precision and recall of the latest ``govlake quality run`` against
  every injected defect, overall and per kind (transforms/quality/detection.py);
- **credit attribution**: the share of credit facts made from a source record (a dishonest-debtor
  case, a penalty, a licence, a tax rating) that ``base.credit_facts`` files under the true
  subject, with the right kind (person or entity) and key (:func:`credit_attribution`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from govlake.errors import NotFound
from govlake.home import Home
from lake import delta

#: (library attribute, truth column) compared for persons and entities.
PERSON_ATTRIBUTES = {
    "name": "name", "sex": "sex", "birth_date": "birth_date", "ethnicity": "ethnicity",
    "hukou_division": "hukou_division", "residence_division": "residence_division",
    "marital_status": "marital_status", "alive": "alive", "death_date": "death_date", "phone": "phone",
    "insured": "insured",
}
ENTITY_ATTRIBUTES = {
    "entity_name": "name", "status": "status", "legal_rep_id": "legal_rep_id",
    "registered_capital": "registered_capital", "industry_code": "industry",
    "established_date": "established_date", "closed_date": "closed_date", "division": "division",
}
#: The field a defect names -> the mention role that carries it (transforms/projections.py).
ID_FIELDS = {
    ("deaths", "resident_id"): "deceased", ("births", "resident_id"): "child",
    ("births", "mother_id"): "mother", ("births", "father_id"): "father",
    ("marriages", "husband_id"): "husband", ("marriages", "wife_id"): "wife",
    ("social_insurance", "resident_id"): "insured", ("market_entities", "legal_rep_id"): "legal_rep",
    ("social_orgs", "legal_rep_id"): "legal_rep", ("e_licences", "holder_code"): "holder",
    ("admin_licences", "party_id"): "party", ("admin_penalties", "party_id"): "party",
    ("dishonest_debtors", "debtor_id"): "debtor", ("land_parcels", "holder_id"): "holder",
}
UNUSABLE_ID = ["id_missing", "id_mistyped", "bad_check_char"]
#: Credit fact types made from one source record, by their dataset (the legal-representative
#: facts are derived from these and the legal-entity library, so they are not scored apart).
CREDIT_RECORD_FACTS = {"dishonest_debtors": "dishonest_debtor", "admin_penalties": "admin_penalty",
                       "admin_licences": "admin_licence", "tax_credit": "tax_rating"}
CONFLICT_KINDS = {"name_conflict", "birth_date_conflict"}


@dataclass
class Score:
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)  # library -> attribute -> share
    accuracy_records: dict[str, int] = field(default_factory=dict)
    linkage: dict[str, Any] = field(default_factory=dict)
    linkage_by_dataset: list[dict[str, Any]] = field(default_factory=list)
    conflicts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "accuracy_records": self.accuracy_records, "linkage": self.linkage,
                "linkage_by_dataset": self.linkage_by_dataset, "conflicts": self.conflicts, **self.extra}


def _equal(golden: pl.Expr, truth: pl.Expr) -> pl.Expr:
    """Same value, with missing == missing; floats to 2 decimals (capital in 万元)."""
    return (golden == truth).fill_null(golden.is_null() & truth.is_null())


def _accuracy(library: pl.DataFrame, truth: pl.DataFrame, key: str, truth_key: str,
              attributes: dict[str, str], keys: pl.Series,
              unrecoverable: pl.DataFrame) -> tuple[dict[str, float], int, dict[str, int]]:
    """Share of golden values equal to the truth, per attribute, over the records in ``keys``.

    Text is compared after the same full-width folding standardization applies (official
    names write （有限合伙） with full-width brackets; the data standard folds them). A value
    that was missing in every source that could have carried it cannot be recovered by any
    build; those (key, attribute) pairs are counted apart, not as errors.
    """
    from transforms.rules.base import fold_width

    present = {a: t for a, t in attributes.items() if a in library.columns and t in truth.columns}
    scope = truth.filter(pl.col(truth_key).is_in(keys.implode())).rename({truth_key: "_key"})
    golden = library.select(pl.col(key).alias("_key"), *[pl.col(a).alias(f"golden_{a}") for a in present])
    joined = scope.join(golden, on="_key", how="left")
    shares: dict[str, float] = {}
    skipped: dict[str, int] = {}
    for attribute, truth_column in present.items():
        truth_type = joined.schema[truth_column]
        golden_value = pl.col(f"golden_{attribute}").cast(truth_type, strict=False)
        truth_value = pl.col(truth_column)
        if truth_type.is_float():
            golden_value, truth_value = golden_value.round(2), truth_value.round(2)
        elif truth_type == pl.String:
            truth_value = fold_width(truth_value)
        lost = unrecoverable.filter(pl.col("attribute") == attribute).select(pl.col("key").alias("_key"))
        lost_here = joined.join(lost, on="_key", how="semi").filter(pl.col(f"golden_{attribute}").is_null())
        rows = joined.join(lost_here.select("_key"), on="_key", how="anti")
        skipped[attribute] = lost_here.height
        matched = rows.select(_equal(golden_value, truth_value).mean()).item()
        shares[attribute] = float(matched) if matched is not None else 1.0
    return shares, joined.height, skipped


def _unrecoverable(defects: pl.DataFrame, library: str, key_column: str) -> pl.DataFrame:
    """(key, attribute) pairs whose value was sent missing by a source of that attribute."""
    from lake.catalog.libraries import load_libraries

    sources = pl.DataFrame(
        [{"dataset": ref.dataset, "field": ref.column, "attribute": attribute.name}
         for attribute in load_libraries()[library].attributes for ref in attribute.sources],
        schema={"dataset": pl.String, "field": pl.String, "attribute": pl.String},
    )
    return (
        defects.filter((pl.col("kind") == "missing_value") & pl.col(key_column).is_not_null())
        .join(sources, on=["dataset", "field"], how="inner")
        .select(pl.col(key_column).alias("key"), "attribute").unique()
    )


def _line_of(file: pl.Expr, row: pl.Expr) -> pl.Expr:
    """The generator numbers data rows; CSV lines also count the header line."""
    return pl.when(file.str.ends_with(".csv")).then(row + 1).otherwise(row)


def score(home: Home, truth_dir: Path | None = None) -> Score:
    truth_dir = truth_dir or home.exports / "truth"
    if not (truth_dir / "defects.parquet").exists():
        raise NotFound(f"no truth files in {truth_dir}; pass --truth DIR (the generator writes DIR/truth)")
    defects = pl.read_parquet(truth_dir / "defects.parquet")
    persons = pl.read_parquet(truth_dir / "persons.parquet")
    entities = pl.read_parquet(truth_dir / "entities.parquet")
    base = {name: delta.read(home.table_path("base", name))
            for name in ("population", "legal_entity", "conflicts", "person_links")}
    result = Score()

    population = base["population"].with_columns(
        pl.col("insurance_types").str.replace_all(",", "|"),
    )
    unrecoverable: dict[str, dict[str, int]] = {}
    result.accuracy["population"], result.accuracy_records["population"], unrecoverable["population"] = _accuracy(
        population, persons, "resident_id", "resident_id", PERSON_ATTRIBUTES,
        defects["person_key"].drop_nulls().unique(), _unrecoverable(defects, "population", "person_key"))
    result.accuracy["legal_entity"], result.accuracy_records["legal_entity"], unrecoverable["legal_entity"] = (
        _accuracy(base["legal_entity"], entities, "uscc", "uscc", ENTITY_ATTRIBUTES,
                  defects["entity_key"].drop_nulls().unique(), _unrecoverable(defects, "legal_entity", "entity_key")))
    result.extra["unrecoverable"] = unrecoverable

    # Linkage of mentions without a usable ID.
    log = delta.read(home.table_path("system", "ingest_log")).select(
        pl.col("source_file").str.split("/").list.last().alias("file"), pl.col("batch_id"))
    roles = pl.DataFrame([{"dataset": d, "field": f, "role": r} for (d, f), r in ID_FIELDS.items()])
    expected = (
        defects.filter(pl.col("kind").is_in(UNUSABLE_ID) & pl.col("person_key").is_not_null())
        .join(roles, on=["dataset", "field"], how="inner")
        .join(log, on="file", how="left")
        .with_columns(pl.concat_str([pl.col("dataset"), pl.col("role"), pl.col("batch_id"),
                                     _line_of(pl.col("file"), pl.col("row_number")).cast(pl.String)],
                                    separator=":").alias("record_id"))
        .unique("record_id")
    )
    links = base["person_links"].select("record_id", pl.col("resident_id").alias("linked"), "method")
    joined = expected.join(links, on="record_id", how="left")
    def figures(frame: pl.DataFrame) -> dict[str, Any]:
        linked = frame.filter(pl.col("linked").is_not_null())
        tp = linked.filter(pl.col("linked") == pl.col("person_key")).height
        fp = linked.height - tp
        fn = frame.height - tp
        return {"records": frame.height, "linked": linked.height, "true_links": tp, "false_links": fp,
                "precision": tp / linked.height if linked.height else 1.0,
                "recall": tp / frame.height if frame.height else 1.0, "missed": fn}
    result.linkage = figures(joined)
    result.linkage_by_dataset = [
        {"dataset": name, **figures(group)}
        for (name,), group in joined.sort("dataset").group_by("dataset", maintain_order=True)
    ]
    result.extra["linkage_unmatched_defects"] = int(joined.filter(pl.col("method").is_null()).height)

    # Conflict coverage.
    injected = defects.filter(pl.col("kind").is_in(sorted(CONFLICT_KINDS))).with_columns(
        pl.coalesce("person_key", "entity_key").alias("key"),
        pl.when(pl.col("kind") == "birth_date_conflict").then(pl.lit("birth_date"))
        .when(pl.col("person_key").is_not_null()).then(pl.lit("name")).otherwise(pl.lit("entity_name"))
        .alias("attribute"),
    ).select("dataset", "key", "attribute", "kind").unique()
    found = base["conflicts"].select(pl.col("other_source").alias("dataset"), "key", "attribute").unique()
    covered = injected.join(found, on=["dataset", "key", "attribute"], how="semi")
    missing = injected.join(found, on=["dataset", "key", "attribute"], how="anti")
    result.conflicts = {
        "injected": injected.height, "found": covered.height,
        "coverage": covered.height / injected.height if injected.height else 1.0,
        "missing_by_dataset": dict(missing.group_by("dataset").len().sort("dataset").iter_rows()),
        "reported_total": base["conflicts"].height,
    }

    # Quality detection (transforms/quality/detection.py): the latest quality run against the defects.
    from transforms.quality.detection import detection

    result.extra["quality_detection"] = detection(home, defects)
    result.extra["credit_attribution"] = credit_attribution(home, defects, persons, entities)
    return result


def credit_attribution(home: Home, defects: pl.DataFrame, persons: pl.DataFrame,
                       entities: pl.DataFrame) -> dict[str, Any]:
    """How many credit facts are filed under their true subject, overall and per source dataset.

    Each fact is traced to its source record as the build read it (dataset, batch and record
    key, which ``source_key`` is). The record's true subject code is the ``true_value`` of a
    defect injected into its subject item, else the code as written (standardized, which
    leaves a clean code as it is). The code's kind is where the truth holds it: a person's
    resident ID or an entity's USCC. A fact is right when its ``subject_type`` is that kind and
    its ``subject_id`` that code. The rest is counted by what went wrong: the wrong kind, the
    right kind but the code as written when it is no one's (``unusable``: kept out of the
    subject tables), or another subject.
    """
    from transforms.build import make_context
    from transforms.context import ENTITY_CODES

    facts_path = home.table_path("base", "credit_facts")
    if not delta.is_table(facts_path):
        raise NotFound(f"no base.credit_facts in {home.root}; run `govlake build` first")
    facts = delta.read(facts_path, columns=["subject_type", "subject_id", "subject_id_valid", "fact_type",
                                            "source_dataset", "source_key", "source_batch"])
    facts = facts.filter(pl.col("fact_type").is_in(list(CREDIT_RECORD_FACTS.values())))
    ctx = make_context(home)
    records = []
    for dataset, fact_type in CREDIT_RECORD_FACTS.items():
        if not ctx.has_source(dataset):
            continue
        code = ENTITY_CODES[dataset]
        key = pl.concat_str([pl.col(c).cast(pl.String) for c in ctx.catalog.dataset(dataset).key], separator="|")
        standardized = ctx.standardized(dataset).select(
            pl.lit(dataset).alias("source_dataset"), pl.lit(fact_type).alias("fact_type"),
            pl.col("_batch_id").alias("source_batch"), key.alias("source_key"),
            pl.col("_source_file").str.split("/").list.last().alias("file"), pl.col("_source_row").alias("line"),
            pl.col(code).alias("written"),
        ).collect()
        injected = defects.filter((pl.col("dataset") == dataset) & (pl.col("field") == code)).select(
            "file", _line_of(pl.col("file"), pl.col("row_number")).alias("line"), "true_value",
        ).unique(["file", "line"], keep="first")
        records.append(standardized.join(injected, on=["file", "line"], how="left").select(
            "source_dataset", "fact_type", "source_batch", "source_key",
            pl.coalesce("true_value", "written").alias("true_code"),
        ))
    schema = {"source_dataset": pl.String, "fact_type": pl.String, "source_batch": pl.String,
              "source_key": pl.String, "true_code": pl.String}
    truth = pl.concat(records) if records else pl.DataFrame(schema=schema)
    traced = facts.join(truth, on=["source_dataset", "fact_type", "source_batch", "source_key"], how="left")
    person_codes = persons.select(pl.col("resident_id").alias("true_code"), pl.lit(True).alias("_person"))
    entity_codes = entities.select(pl.col("uscc").alias("true_code"), pl.lit(True).alias("_entity"))
    judged = (
        traced.join(person_codes, on="true_code", how="left").join(entity_codes, on="true_code", how="left")
        .with_columns(
            ((pl.col("subject_type") == "person") & pl.col("_person").fill_null(False)
             | (pl.col("subject_type") == "entity") & pl.col("_entity").fill_null(False)).alias("right_kind"),
        )
        .with_columns(
            pl.when(pl.col("true_code").is_null()).then(pl.lit("untraced"))
            .when(~pl.col("right_kind")).then(pl.lit("wrong_kind"))
            .when(pl.col("subject_id") == pl.col("true_code")).then(pl.lit("right"))
            .when(~pl.col("subject_id_valid").fill_null(False)).then(pl.lit("unusable"))
            .otherwise(pl.lit("other_subject")).alias("outcome"),
        )
    )
    outcomes = ["right", "wrong_kind", "unusable", "other_subject", "untraced"]

    def figures(frame: pl.DataFrame) -> dict[str, Any]:
        counts = dict(frame.group_by("outcome").len().iter_rows())
        row: dict[str, Any] = {"facts": frame.height, **{name: int(counts.get(name, 0)) for name in outcomes}}
        row["share_right"] = row["right"] / frame.height if frame.height else 1.0
        return row

    return {**figures(judged), "by_dataset": [
        {"dataset": name, **figures(group)}
        for (name,), group in judged.sort("source_dataset").group_by("source_dataset", maintain_order=True)
    ]}


def report(result: Score) -> str:
    lines = ["Golden-record accuracy on records with injected defects:"]
    for library, shares in result.accuracy.items():
        worst = min(shares.values()) if shares else 1.0
        lines.append(f"  {library} ({result.accuracy_records[library]:,} records, lowest {worst:.2%}):")
        lost = result.extra.get("unrecoverable", {}).get(library, {})
        for attribute, share in shares.items():
            note = f"   ({lost[attribute]:,} sent missing by every source, not scored)" if lost.get(attribute) else ""
            lines.append(f"    {attribute:<20} {share:8.2%}{note}")
    link = result.linkage
    lines.append(f"Linkage of {link['records']:,} person mentions without a usable ID: "
                 f"precision {link['precision']:.2%}, recall {link['recall']:.2%} "
                 f"({link['true_links']:,} right, {link['false_links']:,} wrong, {link['missed']:,} missed)")
    lines += [f"    {row['dataset']:<18} {row['records']:>6,} records  precision {row['precision']:7.2%}  "
              f"recall {row['recall']:7.2%}" for row in result.linkage_by_dataset]
    conflicts = result.conflicts
    lines.append(f"Injected cross-source conflicts found in base.conflicts: {conflicts['found']:,} of "
                 f"{conflicts['injected']:,} ({conflicts['coverage']:.2%}); missing by dataset: "
                 f"{conflicts['missing_by_dataset'] or 'none'}")
    if "quality_detection" in result.extra:
        from transforms.quality.detection import render

        lines += render(result.extra["quality_detection"])
    if "credit_attribution" in result.extra:
        credit = result.extra["credit_attribution"]
        lines.append(f"Credit facts filed under their true subject: {credit['right']:,} of {credit['facts']:,} "
                     f"({credit['share_right']:.2%}); wrong kind {credit['wrong_kind']:,}, under an unusable code "
                     f"{credit['unusable']:,}, under another subject {credit['other_subject']:,}, "
                     f"untraced {credit['untraced']:,}")
        lines += [f"    {row['dataset']:<18} {row['facts']:>7,} facts  right {row['share_right']:7.2%}  "
                  f"wrong kind {row['wrong_kind']:,}  unusable {row['unusable']:,}  other {row['other_subject']:,}"
                  for row in credit["by_dataset"]]
    return "\n".join(lines)
