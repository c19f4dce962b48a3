"""Topic marts (主题库) for the dashboards: small, pre-aggregated tables read by ``views/``.

Every mart with a division is rolled up to the three levels of GB/T 2260 by
:func:`transforms.geospatial.division_rollup`: one row per county, per prefecture city and per
province, with ``division_level`` (1 province, 2 city, 3 county) and ``parent``. A dashboard
drills down by filtering ``parent = <the division clicked>``: the children of a province are
its cities *and* the county-level units it administers directly (municipal districts such as
110101, or 济源市 419001), so drilling never loses anyone. Sum over ``division_level = 1`` for
the national figure; records whose division is missing or malformed are in a level-1 row with
``division`` NULL, so nothing drops out of the total.

All counts are integers (float sums depend on the order of parallel additions, and building
twice must give identical tables); ratios are computed from those integers at the end. Each mart
carries ``as_of``, the build's reference date (never the clock).

The marts:

- ``topic.population_by_division_age_sex``: living persons by household-register division
  and by residence division, sex and 5-year age band (with the broad 0-14 / 15-59 / 60+ group).
- ``topic.births_deaths_by_month``: registered and certified births and deaths per month.
- ``topic.entities_by_industry_division_month``: entity registrations, cancellations and
  revocations per month, industry section and category.
- ``topic.credit_grade_distribution``: subjects per credit grade (empty until the credit step
  runs before this one).
- ``topic.aggregation_by_department``: per provider department, what was catalogued, aggregated
  and quarantined, and whether deliveries keep the declared update cycle.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from lake.catalog.model import CYCLE_DAYS
from transforms.context import BuildContext
from transforms.geospatial import division_rollup
from transforms.population import AGE_BANDS
from transforms.tables import TableSpec

#: 5-year age bands up to this start age; everyone older is in one open band ("100+").
OLDEST_BAND = 100
#: How far back the monthly vital statistics go: months from 1 January of (as_of year − this).
VITAL_WINDOW_YEARS = 10
#: Credit grades are read from the first of these columns that the credit tables have.
GRADE_COLUMNS = ("grade", "credit_grade")

_DIVISION = {
    "division_level": "区划级别：1 省级，2 地级，3 县级；区划缺失或无法识别的记录计入区划为空的 1 级行",
    "division": "行政区划代码（GB/T 2260）；为空表示区划缺失或无法识别",
    "division_name": "区划名称（民政部 2025-12-31 区划表）；不在区划表中的代码为空",
    "parent": "上级区划代码，下钻时按 parent 过滤：县级的上级为地级市，直辖市辖区和省直辖县级单位的上级为省级",
    "province": "所属省级区划代码",
}
_AS_OF = {"as_of": "统计参考日（构建参考日，即最近一次归集的日期）"}

TABLES: dict[str, TableSpec] = {
    "topic.population_by_division_age_sex": TableSpec(
        "主题库·人口结构：在世人口按区划（省、地、县逐级汇总）、性别和五岁年龄组统计，"
        "分别按户籍地和现居住地计数，供人口金字塔和分区人口图使用。",
        {
            **_DIVISION,
            "sex": "性别代码（GB/T 2261.1）：1 男，2 女，0 未知，9 未说明；为空表示缺失",
            "sex_name": "性别名称",
            "age_band": "五岁年龄组：0-4、5-9 … 95-99、100+；出生日期缺失或晚于参考日为空",
            "age_band_start": "年龄组起始年龄，用于排序",
            "age_group": "三段年龄组：0-14、15-59、60+",
            "hukou_persons": "户籍在本区划的在世人口",
            "resident_persons": "现居住在本区划的在世人口",
            **_AS_OF,
        },
    ),
    "topic.births_deaths_by_month": TableSpec(
        "主题库·出生死亡：按月和区划（省、地、县逐级汇总）统计出生和死亡，人口库登记数（按户籍地）"
        "与卫健医学证明数（按出生地、死亡地）并列，统计近十年至参考日。",
        {
            **_DIVISION,
            "month": "月份（当月第一天）",
            "births_registered": "人口库中出生日期在当月的人数（按户籍地）",
            "deaths_registered": "人口库中死亡日期在当月的人数（按户籍地）",
            "births_certified": "出生医学证明中出生日期在当月的数量（按出生地）",
            "deaths_certified": "死亡医学证明中死亡日期在当月的数量（按死亡地）",
            **_AS_OF,
        },
    ),
    "topic.entities_by_industry_division_month": TableSpec(
        "主题库·市场主体：按月、行业门类、主体类别和住所区划（省、地、县逐级汇总）统计法人主体的成立登记、"
        "注销和吊销数量。",
        {
            **_DIVISION,
            "month": "月份（当月第一天）",
            "industry_section": "行业门类（GB/T 4754），为空表示未登记行业（如社会组织）",
            "industry_section_name": "行业门类名称",
            "category": "主体类别（企业、个体工商户、农民专业合作社、社会团体等）",
            "registered": "当月成立的主体数",
            "cancelled": "当月注销的主体数（登记状态为注销）",
            "revoked": "当月被吊销营业执照的主体数（登记状态为吊销）",
            **_AS_OF,
        },
    ),
    "topic.credit_grade_distribution": TableSpec(
        "主题库·信用等级分布：信用基础库中单位和个人按信用等级、主体类别和区划（省、地、县逐级汇总）的分布。"
        "未构建信用基础库时为空表。",
        {
            **_DIVISION,
            "subject_type": "主体类型：entity 单位（按住所区划），person 个人（按户籍地区划）",
            "category": "主体类别（单位为企业、个体工商户等；个人为“个人”）",
            "grade": "信用等级代码（A 优、B 良、C 中、D 差）",
            "grade_label": "信用等级名称",
            "subjects": "主体数",
            "share": "占同一主体类型、区划和类别主体数的比例",
            **_AS_OF,
        },
    ),
    "topic.aggregation_by_department": TableSpec(
        "主题库·部门归集统计：每个提供方部门编目和已归集的数据集、文件和行数（读取、入库、隔离）、"
        "最近归集时间、是否按声明的更新周期按时提供，以及跨来源冲突数。",
        {
            "department": "部门标识",
            "department_name": "部门名称",
            "short_name": "部门简称",
            "datasets_catalogued": "目录中由本部门提供的数据集数",
            "datasets_aggregated": "已归集（物理汇聚或逻辑接入）的数据集数",
            "files": "已归集的文件数",
            "rows_read": "读取行数合计",
            "rows_loaded": "入库行数合计",
            "rows_quarantined": "隔离行数合计",
            "quarantine_rate": "隔离率：隔离行数 / 读取行数（未读取任何行时为空）",
            "first_ingested_at": "最早归集完成时间（UTC）",
            "last_ingested_at": "最近归集完成时间（UTC）",
            "days_since_last_ingestion": "参考日距最近一次归集的天数",
            "datasets_overdue": "逾期数据集数：最近归集距参考日超过其更新周期（每日 1 天、每月 31 天等）",
            "datasets_missing": "尚未归集的数据集数",
            "overdue_datasets": "逾期数据集标识（逗号分隔）",
            "missing_datasets": "尚未归集的数据集标识（逗号分隔）",
            "freshness": "时效状态：overdue 有逾期数据集；incomplete 有尚未归集的数据集；on_time 全部按时；"
                         "未编目数据集的部门为空",
            "conflicts_authoritative": "本部门为权威来源、其他来源取值不一致的冲突数",
            "conflicts_overruled": "本部门取值与权威来源不一致的冲突数（需本部门核查）",
            "sla_days": "质量反馈答复时限（天）",
            **_AS_OF,
        },
    ),
}


def _stamp(frame: pl.DataFrame, ctx: BuildContext, table: str) -> pl.DataFrame:
    """Add ``as_of`` and put the columns in the declared order."""
    return frame.with_columns(pl.lit(ctx.as_of).alias("as_of")).select(list(TABLES[table].columns))


def _empty(table: str, dtypes: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty mart with the declared columns (String unless ``dtypes`` says otherwise)."""
    return pl.DataFrame(schema={name: dtypes.get(name, pl.String()) for name in TABLES[table].columns})


_DIVISION_DTYPES: dict[str, pl.DataType] = {"division_level": pl.Int8(), "as_of": pl.Date()}


# --- population -------------------------------------------------------------------------------


def age_band_start(age: pl.Expr) -> pl.Expr:
    """Start of the 5-year band of ``age`` (100 for everyone 100 or older); NULL for a negative age."""
    return pl.when(age >= 0).then((age // 5 * 5).clip(upper_bound=OLDEST_BAND)).cast(pl.Int16)


def age_band_label(start: pl.Expr) -> pl.Expr:
    """``0-4`` … ``95-99`` and ``100+`` from a band start."""
    closed = start.cast(pl.String) + "-" + (start + 4).cast(pl.String)
    return pl.when(start >= OLDEST_BAND).then(pl.lit(f"{OLDEST_BAND}+")).otherwise(closed)


def age_group(start: pl.Expr) -> pl.Expr:
    """The broad group of a band start (``0-14``, ``15-59``, ``60+``, from population.AGE_BANDS)."""
    return pl.coalesce([pl.when(start.is_between(low, high)).then(pl.lit(label)) for low, high, label in AGE_BANDS])


def population_by_division_age_sex(ctx: BuildContext) -> pl.DataFrame:
    """Living persons per division (household register and residence), sex and age band."""
    table = "topic.population_by_division_age_sex"
    people = ctx.outputs.get("base.population")
    if people is None:
        return _empty(table, {**_DIVISION_DTYPES, "age_band_start": pl.Int16(),
                              "hukou_persons": pl.Int64(), "resident_persons": pl.Int64()})
    alive = people.lazy().filter(pl.col("alive")).with_columns(age_band_start(pl.col("age")).alias("age_band_start"))
    by = ["sex", "age_band_start"]
    stacked = pl.concat([
        alive.select(pl.col("hukou_division").alias("division"), *by,
                     pl.lit(1, pl.Int64).alias("hukou_persons"), pl.lit(0, pl.Int64).alias("resident_persons")),
        alive.select(pl.col("residence_division").alias("division"), *by,
                     pl.lit(0, pl.Int64).alias("hukou_persons"), pl.lit(1, pl.Int64).alias("resident_persons")),
    ])
    counted = division_rollup(stacked, division="division", by=by,
                              measures={"hukou_persons": pl.col("hukou_persons").sum(),
                                        "resident_persons": pl.col("resident_persons").sum()})
    sexes = ctx.catalog.code_table("sex").codes
    return _stamp(counted.with_columns(
        pl.col("sex").replace_strict(sexes, default=None, return_dtype=pl.String).alias("sex_name"),
        age_band_label(pl.col("age_band_start")).alias("age_band"),
        age_group(pl.col("age_band_start")).alias("age_group"),
    ), ctx, table)


# --- births and deaths ------------------------------------------------------------------------

_VITAL = ("births_registered", "deaths_registered", "births_certified", "deaths_certified")


def vital_window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """First and last month (as first days) of the monthly vital statistics."""
    return dt.date(as_of.year - VITAL_WINDOW_YEARS, 1, 1), as_of.replace(day=1)


def births_deaths_by_month(ctx: BuildContext) -> pl.DataFrame:
    """Registered (population library) and certified (health certificates) births and deaths per month."""
    first, last = vital_window(ctx.as_of)

    def events(frame: pl.LazyFrame, division: str, date: str, measure: str) -> pl.LazyFrame:
        month = pl.col(date).dt.truncate("1mo")
        return frame.filter(month.is_between(pl.lit(first), pl.lit(last)) & (pl.col(date) <= ctx.as_of)).select(
            pl.col(division).alias("division"), month.alias("month"),
            *(pl.lit(int(name == measure), pl.Int64).alias(name) for name in _VITAL),
        )

    def valid(dataset: str, column: str) -> pl.LazyFrame:
        return ctx.standardized(dataset).filter(pl.col(f"{column}__valid").fill_null(False))

    parts: list[pl.LazyFrame] = []
    people = ctx.outputs.get("base.population")
    if people is not None:
        parts += [events(people.lazy(), "hukou_division", "birth_date", "births_registered"),
                  events(people.lazy(), "hukou_division", "death_date", "deaths_registered")]
    if ctx.has_source("births"):
        parts.append(events(valid("births", "birth_date"), "birth_division", "birth_date", "births_certified"))
    if ctx.has_source("deaths"):
        parts.append(events(valid("deaths", "death_date"), "death_division", "death_date", "deaths_certified"))
    table = "topic.births_deaths_by_month"
    if not parts:
        return _empty(table, {**_DIVISION_DTYPES, "month": pl.Date(), **dict.fromkeys(_VITAL, pl.Int64())})
    counted = division_rollup(pl.concat(parts), division="division", by=["month"],
                              measures={name: pl.col(name).sum() for name in _VITAL})
    return _stamp(counted, ctx, table)


# --- entities ---------------------------------------------------------------------------------

_ENTITY_MEASURES = ("registered", "cancelled", "revoked")


def entities_by_industry_division_month(ctx: BuildContext) -> pl.DataFrame:
    """Registrations (by establishment month) and cancellations/revocations (by closing month)."""
    table = "topic.entities_by_industry_division_month"
    entities = ctx.outputs.get("base.legal_entity")
    if entities is None:
        return _empty(table, {**_DIVISION_DTYPES, "month": pl.Date(),
                              **dict.fromkeys(_ENTITY_MEASURES, pl.Int64())})
    by = ["month", "industry_section", "category"]

    def events(date: str, measure: str, condition: pl.Expr) -> pl.LazyFrame:
        return entities.lazy().filter(condition & pl.col(date).is_not_null() & (pl.col(date) <= ctx.as_of)).select(
            "division", pl.col(date).dt.truncate("1mo").alias("month"), "industry_section", "category",
            *(pl.lit(int(name == measure), pl.Int64).alias(name) for name in _ENTITY_MEASURES),
        )

    stacked = pl.concat([
        events("established_date", "registered", pl.lit(True)),
        events("closed_date", "cancelled", pl.col("status") == "3"),
        events("closed_date", "revoked", pl.col("status") == "2"),
    ])
    counted = division_rollup(stacked, division="division", by=by,
                              measures={name: pl.col(name).sum() for name in _ENTITY_MEASURES})
    sections = ctx.catalog.code_table("industry_section").codes
    return _stamp(counted.with_columns(
        pl.col("industry_section").replace_strict(sections, default=None, return_dtype=pl.String)
        .alias("industry_section_name"),
    ), ctx, table)


# --- credit -----------------------------------------------------------------------------------


def _grade_column(frame: pl.DataFrame, table: str) -> str:
    from govlake.errors import ContractError

    for name in GRADE_COLUMNS:
        if name in frame.columns:
            return name
    raise ContractError(
        f"has none of the grade columns {', '.join(GRADE_COLUMNS)} that the credit-grade mart reads "
        f"(it has {', '.join(frame.columns)}); rename the column or add it to topics.GRADE_COLUMNS",
        file=f"build output {table!r}", columns=list(GRADE_COLUMNS),
    )


def credit_grade_distribution(ctx: BuildContext) -> pl.DataFrame:
    """Subjects per credit grade, category and division, from ``base.credit_entity`` / ``credit_person``."""
    table = "topic.credit_grade_distribution"
    parts: list[pl.LazyFrame] = []
    entity = ctx.outputs.get("base.credit_entity")
    if entity is not None:
        grade = _grade_column(entity, "base.credit_entity")
        category = pl.col("category") if "category" in entity.columns else pl.lit(None, pl.String)
        parts.append(entity.lazy().select(
            pl.col("division"), pl.lit("entity").alias("subject_type"), category.alias("category"),
            pl.col(grade).cast(pl.String).alias("grade")))
    person = ctx.outputs.get("base.credit_person")
    if person is not None:
        grade = _grade_column(person, "base.credit_person")
        parts.append(person.lazy().select(
            pl.col("hukou_division").alias("division"), pl.lit("person").alias("subject_type"),
            pl.lit("个人").alias("category"), pl.col(grade).cast(pl.String).alias("grade")))
    if not parts:
        return _empty(table, {**_DIVISION_DTYPES, "subjects": pl.Int64(), "share": pl.Float64()})
    by = ["subject_type", "category", "grade"]
    counted = division_rollup(pl.concat(parts), division="division", by=by, measures={"subjects": pl.len()})
    group = ["division_level", "division", "subject_type", "category"]
    return _stamp(counted.with_columns(
        pl.col("subjects").cast(pl.Int64),
        _grade_labels(ctx).alias("grade_label"),
        (pl.col("subjects") / pl.col("subjects").sum().over(group)).alias("share"),
    ), ctx, table)


def _grade_labels(ctx: BuildContext) -> pl.Expr:
    """``grade`` → its label from the credit rules, when they can be loaded."""
    try:
        from lake.catalog.credit_rules import load_credit_rules

        labels = {code: grade.label for code, grade in load_credit_rules().grades.items()}
    except ImportError:  # the credit library is not part of this build
        labels = {}
    return pl.col("grade").replace_strict(labels, default=None, return_dtype=pl.String)


# --- departments ------------------------------------------------------------------------------


def _ingest_log(ctx: BuildContext) -> pl.DataFrame:
    from lake import delta
    from lake.system import INGEST_LOG

    columns = {"dataset": pl.String(), "source_file": pl.String(), "rows_read": pl.Int64(),
               "rows_loaded": pl.Int64(), "rows_quarantined": pl.Int64(),
               "finished_at": pl.Datetime("us", "UTC")}
    path = ctx.home.table_path("system", INGEST_LOG.name)
    if not delta.is_table(path):
        return pl.DataFrame(schema=columns)
    return delta.scan(path).select(list(columns)).collect().cast(columns)  # type: ignore[arg-type]


def _conflicts(ctx: BuildContext) -> pl.DataFrame | None:
    """The conflicts table, or the per-library parts when it has not been assembled yet.

    ``run_steps`` concatenates ``base.conflicts.<library>`` into ``base.conflicts`` only after
    the last step, so a step usually sees the parts.
    """
    if "base.conflicts" in ctx.outputs:
        return ctx.outputs["base.conflicts"]
    parts = [frame.select("chosen_source", "other_source")
             for name, frame in sorted(ctx.outputs.items()) if name.startswith("base.conflicts.")]
    return pl.concat(parts) if parts else None


def aggregation_by_department(ctx: BuildContext) -> pl.DataFrame:
    """Per provider department: catalogued vs aggregated datasets, rows, freshness and conflicts."""
    table = "topic.aggregation_by_department"
    catalog = pl.DataFrame(
        [(d.id, d.provider.id, d.update_cycle) for d in ctx.catalog.datasets.values()],
        schema={"dataset": pl.String, "department": pl.String, "update_cycle": pl.String}, orient="row",
    ).with_columns(pl.col("update_cycle").replace_strict(CYCLE_DAYS, return_dtype=pl.Int32).alias("cycle_days"))
    log = _ingest_log(ctx)
    per_dataset = (
        catalog.join(
            log.group_by("dataset").agg(
                pl.len().alias("files"), pl.col("rows_read", "rows_loaded", "rows_quarantined").sum(),
                pl.col("finished_at").min().alias("first_ingested_at"),
                pl.col("finished_at").max().alias("last_ingested_at"),
            ),
            on="dataset", how="left",
        )
        .with_columns(
            pl.col("last_ingested_at").is_not_null().alias("aggregated"),
            (pl.lit(ctx.as_of) - pl.col("last_ingested_at").dt.date()).dt.total_days().alias("lag_days"),
        )
        .with_columns((pl.col("lag_days") > pl.col("cycle_days")).fill_null(False).alias("overdue"))
        .sort("dataset")
    )

    def listed(condition: pl.Expr) -> pl.Expr:
        return pl.col("dataset").filter(condition).sort().str.join(",")

    departments = per_dataset.group_by("department").agg(
        pl.len().cast(pl.Int64).alias("datasets_catalogued"),
        pl.col("aggregated").sum().cast(pl.Int64).alias("datasets_aggregated"),
        *(pl.col(c).sum().cast(pl.Int64) for c in ("files", "rows_read", "rows_loaded", "rows_quarantined")),
        pl.col("first_ingested_at").min(), pl.col("last_ingested_at").max(),
        pl.col("overdue").sum().cast(pl.Int64).alias("datasets_overdue"),
        (~pl.col("aggregated")).sum().cast(pl.Int64).alias("datasets_missing"),
        listed(pl.col("overdue")).alias("overdue_datasets"),
        listed(~pl.col("aggregated")).alias("missing_datasets"),
    )
    owner = dict(zip(catalog["dataset"], catalog["department"], strict=True))
    conflicts = _conflicts(ctx)
    counts = {"conflicts_authoritative": "chosen_source", "conflicts_overruled": "other_source"}
    for name, side in counts.items():
        if conflicts is None or conflicts.is_empty():
            tally = pl.DataFrame(schema={"department": pl.String, name: pl.Int64})
        else:
            tally = (conflicts.select(pl.col(side).replace_strict(owner, default=None).alias("department"))
                     .group_by("department").agg(pl.len().cast(pl.Int64).alias(name)))
        departments = departments.join(tally, on="department", how="left")
    info = pl.DataFrame(
        [(d.id, d.name, d.short_name, d.sla_days) for d in ctx.catalog.departments.values()],
        schema={"department": pl.String, "department_name": pl.String, "short_name": pl.String,
                "sla_days": pl.Int64}, orient="row",
    )
    result = (
        info.join(departments, on="department", how="left")
        .with_columns(
            *(pl.col(c).fill_null(0) for c in ("datasets_catalogued", "datasets_aggregated", "files", "rows_read",
                                               "rows_loaded", "rows_quarantined", "datasets_overdue",
                                               "datasets_missing", *counts)),
            *(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in ("overdue_datasets", "missing_datasets")),
            (pl.lit(ctx.as_of) - pl.col("last_ingested_at").dt.date()).dt.total_days().alias(
                "days_since_last_ingestion"),
        )
        .with_columns(
            pl.when(pl.col("rows_read") > 0).then(pl.col("rows_quarantined") / pl.col("rows_read"))
            .alias("quarantine_rate"),
            pl.when(pl.col("datasets_catalogued") == 0).then(pl.lit(None, pl.String))
            .when(pl.col("datasets_overdue") > 0).then(pl.lit("overdue"))
            .when(pl.col("datasets_missing") > 0).then(pl.lit("incomplete"))
            .otherwise(pl.lit("on_time")).alias("freshness"),
        )
        .sort("department")
    )
    return _stamp(result, ctx, table)


# --- the step ---------------------------------------------------------------------------------


def topics(ctx: BuildContext) -> dict[str, pl.DataFrame]:
    """Build the topic marts from the base libraries, the health certificates and the ingest log.

    Reads ``base.population``, ``base.legal_entity``, ``base.credit_entity`` /
    ``base.credit_person`` and the conflicts when earlier steps produced them; a missing input
    gives an empty mart with the declared columns.
    """
    return {
        "topic.population_by_division_age_sex": population_by_division_age_sex(ctx),
        "topic.births_deaths_by_month": births_deaths_by_month(ctx),
        "topic.entities_by_industry_division_month": entities_by_industry_division_month(ctx),
        "topic.credit_grade_distribution": credit_grade_distribution(ctx),
        "topic.aggregation_by_department": aggregation_by_department(ctx),
    }
