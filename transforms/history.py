"""Topic marts that look back in time, for the cockpit's trends and previous-period comparisons.

The other marts describe the lake as of the build's reference date. Two cockpit figures need
earlier values too:

- ``topic.credit_grade_by_month``: entities per credit grade on each of the last
  :data:`CREDIT_MONTHS` month ends and on the reference date, rolled up by division. The grades
  of earlier dates are re-derived from the credit facts the lake holds now, under the credit rules
  of ``lake/catalog/credit_rules.toml`` as they are now (:func:`grades_at`): "how would the
  entities have been graded then". A record delivered late changes that history, as it would
  change any statistic; the reference date's row is ``base.credit_entity`` itself.
- ``topic.aggregation_by_day``: per dataset and day, the files, rows and batches aggregated
  (from ``system.ingest_log``), so "datasets aggregated on the data date" is an exact count of
  datasets with a batch that day, comparable with the day before.

Re-deriving a grade at an earlier date ``t`` needs each fact's "in force" flag at ``t``
(:func:`current_at`): a dishonest-debtor case published by ``t`` and not yet removed, a penalty
decided in the twelve months to ``t``, the latest tax rating of a year before ``t``'s year.
These restate, as functions of ``t``, the flags transforms/credit.py computes at the reference
date; a test holds :func:`grades_at` at the reference date equal to ``base.credit_entity``.
Licences in force use the decision date as their start (``base.credit_facts`` does not keep
``valid_from``); no grading rule reads licences.

Counts are integers and every row carries ``as_of``, as in transforms/topics.py.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.context import BuildContext
from transforms.geospatial import division_rollup
from transforms.tables import TableSpec

#: Month ends before the reference date's month that the credit-grade history covers.
CREDIT_MONTHS = 12
#: Days back from the reference date that the daily aggregation mart covers (older days are
#: summed into no row: the governance page has the per-department totals).
AGGREGATION_DAYS = 400

_DIVISION = {
    "division_level": "区划级别：1 省级，2 地级，3 县级；住所区划缺失或无法识别的主体计入区划为空的 1 级行",
    "division": "行政区划代码（GB/T 2260，单位住所）；为空表示区划缺失或无法识别",
    "division_name": "区划名称（民政部 2025-12-31 区划表）",
    "parent": "上级区划代码，下钻时按 parent 过滤",
    "province": "所属省级区划代码",
}

TABLES: dict[str, TableSpec] = {
    "topic.credit_grade_by_month": TableSpec(
        "主题库·单位信用等级月度变化：近12个月各月末和构建参考日，单位（法人主体及其他有信用事实的统一社会信用代码）"
        "按信用等级和住所区划（省、地、县逐级汇总）的分布。历史月份按现有信用事实和现行评定规则回溯评定，"
        "参考日一期即单位信用表的等级。",
        {
            **_DIVISION,
            "graded_on": "评定日：各月月末；最近一期为构建参考日",
            "grade": "信用等级代码（A 优、B 良、C 中、D 差）",
            "grade_label": "信用等级名称",
            "subjects": "评定日已成立（或已有信用事实）的单位数",
            "as_of": "统计参考日（构建参考日）",
        },
        default_pi="none", grade="general",
    ),
    "topic.aggregation_by_day": TableSpec(
        "主题库·数据集逐日归集：每个数据集每天归集完成的批次（文件）数和读取、入库、隔离行数，按归集完成时间"
        "（UTC 日期，与构建参考日同一口径）统计近400天。",
        {
            "day": "归集日期（归集完成时间的 UTC 日期）",
            "dataset": "数据集标识",
            "dataset_name": "数据集名称",
            "department": "提供方部门标识",
            "department_name": "提供方部门名称",
            "batches": "当天归集完成的批次数（每个文件或逻辑接入一次为一批）",
            "rows_read": "读取行数",
            "rows_loaded": "入库行数",
            "rows_quarantined": "隔离行数",
            "as_of": "统计参考日（构建参考日）",
        },
        default_pi="none", grade="general",
    ),
}


# --- credit grades at earlier dates -------------------------------------------------------------


def month_ends(as_of: dt.date, months: int = CREDIT_MONTHS) -> list[dt.date]:
    """The last days of the ``months`` months before ``as_of``'s month, oldest first.

    >>> month_ends(dt.date(2026, 3, 15), 3)
    [datetime.date(2025, 12, 31), datetime.date(2026, 1, 31), datetime.date(2026, 2, 28)]
    """
    first = as_of.replace(day=1)
    ends = []
    for _ in range(months):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        ends.append(following - dt.timedelta(days=1))
    return sorted(ends)


def current_at(facts: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """The facts known on ``day`` (dated then or earlier, or undated) with ``current`` as it stood on ``day``.

    Adds the tax rating year (``_rating_year``, from the ``<uscc>|<year>`` source key) that the
    declared ``tax_rating_year`` fact reads.
    """
    from transforms.credit import _RATING_YEAR, TAX_RATING_YEARS_KEPT, Windows, years_before

    windows = Windows(day)
    kind, date, end = pl.col("fact_type"), pl.col("fact_date"), pl.col("end_date")
    year = pl.col(_RATING_YEAR)
    known_rating = year.is_not_null() & (year < day.year) & (date.is_null() | (date <= day))
    in_force_case = (date <= day) & (end.is_null() | (end > day))
    current = (
        pl.when(kind.is_in(["dishonest_debtor", "legal_rep_dishonest", "represented_entity_dishonest"]))
        .then(in_force_case)
        .when(kind == "admin_penalty").then(windows.within(date, years_before(day, 1)))
        .when(kind == "admin_licence").then((date <= day) & (end.is_null() | (end >= day)))
        .when(kind == "tax_rating").then(
            known_rating & (year == year.filter(known_rating).max().over("subject_id"))
            & (year >= day.year - TAX_RATING_YEARS_KEPT))
        .otherwise(pl.lit(False))
    )
    return (
        facts.with_columns(
            pl.when(pl.col("fact_type") == "tax_rating")
            .then(pl.col("source_key").str.split("|").list.last().cast(pl.Int32, strict=False))
            .alias(_RATING_YEAR))
        .filter(date.is_null() | (date <= day))
        .with_columns(current.alias("current"))
    )


def grades_at(facts: pl.DataFrame, entities: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """``uscc``, ``division`` and ``grade`` of every entity that existed on ``day``, graded as of ``day``.

    ``entities`` is ``base.credit_entity`` with ``established_date`` (null when not registered in
    the legal-entity library): a registered entity exists once established (or when its date is
    unknown); any other USCC exists once it has a credit fact.
    """
    from lake.catalog.credit_rules import load_credit_rules
    from transforms.credit import Windows, fact_values, fill_defaults, rule_matches

    rules = load_credit_rules()
    values = fact_values(current_at(facts, day), rules, "entity", Windows(day)).rename({"subject_id": "uscc"})
    registered = pl.col("in_legal_entity")
    established = pl.col("established_date")
    existing = entities.filter(
        (registered & (established.is_null() | (established <= day)))
        | (~registered & pl.col("uscc").is_in(values["uscc"].implode()))
    ).select("uscc", "division")
    graded = fill_defaults(existing.join(values, on="uscc", how="left"), rules, "entity")
    first_rule = pl.coalesce([pl.when(rule_matches(rule, rules)).then(pl.lit(rule.grade))
                              for rule in rules.rules_for("entity")])
    return graded.select("uscc", "division", first_rule.alias("grade"))


def credit_grade_by_month(ctx: BuildContext) -> pl.DataFrame:
    """Entities per grade and division at each of the last month ends and at the reference date."""
    table = "topic.credit_grade_by_month"
    facts, entity = ctx.outputs.get("base.credit_facts"), ctx.outputs.get("base.credit_entity")
    if facts is None or entity is None:
        return pl.DataFrame(schema={
            name: {"division_level": pl.Int8(), "graded_on": pl.Date(), "subjects": pl.Int64(),
                   "as_of": pl.Date()}.get(name, pl.String())
            for name in TABLES[table].columns})
    legal = ctx.outputs.get("base.legal_entity")
    dates = legal.select("uscc", "established_date") if legal is not None and "established_date" in legal.columns \
        else pl.DataFrame(schema={"uscc": pl.String, "established_date": pl.Date})
    entities = entity.select("uscc", "division", "in_legal_entity").join(dates, on="uscc", how="left")
    entity_facts = facts.filter(pl.col("subject_type") == "entity")
    parts = [grades_at(entity_facts, entities, day).with_columns(pl.lit(day).alias("graded_on"))
             for day in month_ends(ctx.as_of)]
    parts.append(entity.select("uscc", "division", pl.col("grade").cast(pl.String), pl.lit(ctx.as_of)
                               .alias("graded_on")))
    counted = division_rollup(pl.concat(parts), division="division", by=["graded_on", "grade"],
                              measures={"subjects": pl.len()})
    from transforms.topics import _grade_labels

    return counted.with_columns(
        pl.col("subjects").cast(pl.Int64), _grade_labels(ctx).alias("grade_label"), pl.lit(ctx.as_of).alias("as_of"),
    ).select(list(TABLES[table].columns))


# --- aggregation per day ------------------------------------------------------------------------


def aggregation_by_day(ctx: BuildContext) -> pl.DataFrame:
    """Batches and rows aggregated per dataset and day, for the last :data:`AGGREGATION_DAYS` days."""
    from transforms.topics import _ingest_log

    table = "topic.aggregation_by_day"
    log = _ingest_log(ctx)
    catalog = pl.DataFrame(
        [(d.id, d.name, d.provider.id, d.provider.name) for d in ctx.catalog.datasets.values()],
        schema={"dataset": pl.String, "dataset_name": pl.String, "department": pl.String,
                "department_name": pl.String}, orient="row",
    )
    first = ctx.as_of - dt.timedelta(days=AGGREGATION_DAYS - 1)
    daily = (
        log.with_columns(pl.col("finished_at").dt.date().alias("day"))
        .filter(pl.col("day").is_between(first, ctx.as_of))
        .group_by("day", "dataset")
        .agg(pl.len().cast(pl.Int64).alias("batches"),
             *(pl.col(c).sum().cast(pl.Int64) for c in ("rows_read", "rows_loaded", "rows_quarantined")))
    )
    return (
        daily.join(catalog, on="dataset", how="left")
        .with_columns(pl.lit(ctx.as_of).alias("as_of"))
        .select(list(TABLES[table].columns))
        .sort("day", "dataset")
    )


# --- the step -----------------------------------------------------------------------------------


def history(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    """Build the look-back marts from ``base.credit_*``, ``base.legal_entity`` (earlier steps) and the ingest log."""
    return {
        "topic.credit_grade_by_month": credit_grade_by_month(ctx),
        "topic.aggregation_by_day": aggregation_by_day(ctx),
    }
