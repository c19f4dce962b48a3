"""Record-level checks ("during" and "after"): every record of every batch, judged by the rules.

Each dataset is read and standardized once (:meth:`QualityContext.records`). The checks in
:data:`RECORD_CHECKS` then turn their rules into :class:`RecordCheck` expressions over that
frame (adding helper columns where a rule needs a window or a join), and :func:`evaluate`
computes them all: the counts per rule × batch in one ``group_by``, the failing records with one
filter per rule. Everything is vectorized Polars; no Python loop touches a record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from lake.catalog.model import Dataset
from lake.catalog.quality import AS_OF, Condition, Late, Range
from transforms.quality.context import FAILURE_SCHEMA, RAW, RECORD_KEY, Findings, QualityContext
from transforms.quality.derive import QualityRule
from transforms.quality.rechecks import Target, batch_ranks, observe
from transforms.rules.base import FULL_WIDTH, HALF_WIDTH, WHITESPACE, fold_width, strip_whitespace, trim
from transforms.standardize import VALID_SUFFIX


@dataclass(frozen=True)
class RecordCheck:
    """A rule as expressions over a dataset's records.

    ``applies``: the record is checked; ``fails``: it fails (read only where it applies);
    ``value``: what to quote (the value as written); ``detail``: why, for the department.
    """

    rule: QualityRule
    applies: pl.Expr
    fails: pl.Expr
    value: pl.Expr
    detail: pl.Expr
    field: str | None


#: A record check: the rules of one kind for one dataset, as expressions over its records; it may
#: return the frame with helper columns added.
RecordRules = Callable[[QualityContext, Dataset, pl.DataFrame], tuple[pl.DataFrame, list[RecordCheck]]]

#: Rules whose standardized value is a code looked up in a table: any accepted spelling (名称, 别名)
#: is a proper way to write it, so only the layout (width, whitespace) is judged.
LOOKUP_RULES = frozenset({"code", "industry_code", "department_id"})
FIRST_ROW = "__first_row"


def _valid(column: str) -> pl.Expr:
    return pl.col(column + VALID_SUFFIX)


def _raw(column: str) -> pl.Expr:
    return pl.col(RAW + column)


def _condition(when: Condition | None) -> pl.Expr:
    return pl.lit(True) if when is None else pl.col(when.column).is_in(list(when.values)).fill_null(False)


def element(ctx: QualityContext, dataset: Dataset, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``validity.element``: the validity flag standardization computed (NULL = missing, not judged)."""
    checks = []
    for rule in ctx.rules_of("element", dataset.id):
        assert rule.column is not None
        element = ctx.catalog.element_of(dataset, rule.column)
        standard = f"（{element.standard}）" if element.standard else ""
        checks.append(RecordCheck(rule, _valid(rule.column).is_not_null(), ~_valid(rule.column), _raw(rule.column),
                                  pl.lit(f"不符合数据元「{element.name}」{standard}"), rule.column))
    return frame, checks


#: Full-width digits and Latin letters and their ASCII forms. Full-width punctuation is left
#: alone: it is how Chinese text is written (GB/T 15834), even though matching folds it.
_WIDE_ALNUM = [(wide, narrow) for wide, narrow in zip(FULL_WIDTH, HALF_WIDTH, strict=True) if narrow.isalnum()]
_HAN_SPACE_HAN = rf"(\p{{Han}}){WHITESPACE}+(\p{{Han}})"
#: Free text that :func:`_text_spelling` would change, as one pattern (ten times cheaper than
#: computing the spelling of every value): whitespace at an end, two in a row, whitespace other
#: than a plain space, a full-width digit or letter, or a space between two Han characters.
_TEXT_NONCONFORMING = (
    rf"^{WHITESPACE}|{WHITESPACE}$|{WHITESPACE}{{2}}|[{WHITESPACE}--[ ]]|[０-９Ａ-Ｚａ-ｚ]|\p{{Han}} \p{{Han}}"
)


def _text_spelling(raw: pl.Expr) -> pl.Expr:
    """Free text as it should be written: trimmed, single spaces, half-width digits and letters,
    and no space between two Han characters (陈 宇 → 陈宇)."""
    text = trim(raw).str.replace_all(rf"{WHITESPACE}+", " ")
    text = text.str.replace_many([w for w, _ in _WIDE_ALNUM], [n for _, n in _WIDE_ALNUM])
    # Twice: a match consumes the second character, so 陈 宇 明 needs a second pass.
    return text.str.replace_all(_HAN_SPACE_HAN, "${1}${2}").str.replace_all(_HAN_SPACE_HAN, "${1}${2}")


def canonical_spelling(frame: pl.DataFrame, column: str, element_rule: str) -> pl.Expr:
    """How the data standard writes the value of ``column``, to compare with what was written.

    Dates are ISO 8601 (``2020-01-02``); whole numbers plain digits; identifiers, names and
    division codes the standardized value itself (upper case, half width, no whitespace); free
    text as :func:`_text_spelling` says; code-table values and decimals keep their spelling (any
    name or alias of the code is fine) and are judged for width and whitespace only.
    """
    dtype = frame.schema[column]
    if element_rule in LOOKUP_RULES or dtype.is_float():
        return strip_whitespace(fold_width(_raw(column)))
    if element_rule == "text":
        return _text_spelling(_raw(column))
    if dtype == pl.Date:
        return pl.col(column).dt.strftime("%Y-%m-%d")
    return pl.col(column).cast(pl.String)


def written_form(ctx: QualityContext, dataset: Dataset,
                 frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``validity.format``: a valid value written otherwise than the standard spells it.

    Whitespace, full-width characters, a lower-case ``x``, ``2020/1/2`` or ``2020年1月2日``:
    standardization repairs these, so the value is valid; the department is still told, so the
    next delivery is right at the source. Invalid values are left to ``validity.element``.
    """
    checks = []
    for rule in ctx.rules_of("format", dataset.id):
        assert rule.column is not None
        element = ctx.catalog.element_of(dataset, rule.column)
        canonical = canonical_spelling(frame, rule.column, element.rule)
        differs = (_raw(rule.column).str.contains(_TEXT_NONCONFORMING) if element.rule == "text"
                   else _raw(rule.column) != canonical)
        checks.append(RecordCheck(
            rule, _valid(rule.column).fill_null(False), differs, _raw(rule.column),
            pl.concat_str([pl.lit("写法不规范，标准写法为「"), canonical, pl.lit("」")]), rule.column,
        ))
    return frame, checks


def completeness(ctx: QualityContext, dataset: Dataset,
                 frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``completeness.item``: a required or expected item is empty (NULL or only whitespace)."""
    checks = []
    for rule in ctx.rules_of("completeness", dataset.id):
        assert rule.column is not None
        what = "必填项" if rule.required else "应填项"
        checks.append(RecordCheck(rule, _condition(rule.when), _valid(rule.column).is_null(), _raw(rule.column),
                                  pl.lit(f"{what}为空"), rule.column))
    return frame, checks


def _bound(value: object, as_of: dt.date) -> object:
    return as_of if value == AS_OF else value


def ranges(ctx: QualityContext, dataset: Dataset, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``validity.range``: a valid date or number outside the declared bounds."""
    checks = []
    for rule in ctx.rules_of("range", dataset.id):
        assert rule.column is not None and isinstance(rule.declared, Range)
        value = pl.col(rule.column)
        low, high = _bound(rule.declared.minimum, ctx.as_of), _bound(rule.declared.maximum, ctx.as_of)
        outside = pl.lit(False)
        if low is not None:
            outside = outside | (value < pl.lit(low))
        if high is not None:
            outside = outside | (value > pl.lit(high))
        shown = f"[{low if low is not None else '-∞'}, {high if high is not None else '+∞'}]"
        checks.append(RecordCheck(rule, _valid(rule.column).fill_null(False), outside, _raw(rule.column),
                                  pl.lit(f"超出范围 {shown}"), rule.column))
    return frame, checks


def uniqueness(ctx: QualityContext, dataset: Dataset,
               frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``uniqueness.key``: a record repeating the key of an earlier record of the same batch.

    The first record of a key is not a failure; each repeat is. Across batches a key may recur
    (a later delivery updates it). Records with a missing key part are not judged here.
    """
    checks = []
    for rule in ctx.rules_of("uniqueness", dataset.id):
        frame = with_first_row(frame, dataset)
        present = pl.all_horizontal([pl.col(key).is_not_null() for key in dataset.key])
        checks.append(RecordCheck(
            rule, present, pl.col("_source_row") != pl.col(FIRST_ROW), pl.col(RECORD_KEY),
            pl.concat_str([pl.lit("与本批次第 "), pl.col(FIRST_ROW).cast(pl.String), pl.lit(" 行主键重复")]), None,
        ))
    return frame, checks


def with_first_row(frame: pl.DataFrame, dataset: Dataset) -> pl.DataFrame:
    """Add ``__first_row``: the first row of the batch with the same (standardized) key."""
    if FIRST_ROW in frame.columns:
        return frame
    return frame.with_columns(pl.col("_source_row").min().over(["_batch_id", *dataset.key]).alias(FIRST_ROW))


def late(ctx: QualityContext, dataset: Dataset, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``timeliness.late``: an event record arriving after a delivery that already covered its date.

    A delivery (batch) covers up to its latest event date (dates after the reference date do
    not count). A record is late when its event date
    is on or before what a batch ingested earlier already covered: the lake had data up to that
    date, and this record was missing from it. Batches are ordered by ingestion (the log).
    """
    checks = []
    log = ctx.system("system.ingest_log", ["batch_id", "finished_at"])
    for rule in ctx.rules_of("late", dataset.id):
        assert isinstance(rule.declared, Late)
        event = pl.col(rule.declared.event)
        valid = _valid(rule.declared.event).fill_null(False)
        mark = f"__watermark_{rule.declared.name}"
        # A date after the reference date cannot be an event yet (a swapped month and day): it
        # is a range failure, and must not move the coverage.
        coverage = (
            frame.filter(valid & (event <= pl.lit(ctx.as_of))).group_by("_batch_id").agg(event.max().alias("cover"))
            .join(log.rename({"batch_id": "_batch_id"}), on="_batch_id", how="left")
            .sort("finished_at", "_batch_id", nulls_last=True)
            .with_columns(pl.col("cover").cum_max().shift(1).alias(mark))
        )
        frame = frame.join(coverage.select("_batch_id", mark), on="_batch_id", how="left")
        checks.append(RecordCheck(
            rule, valid & pl.col(mark).is_not_null(), event <= pl.col(mark), _raw(rule.declared.event),
            pl.concat_str([pl.lit("此前的批次已报送至 "), pl.col(mark).cast(pl.String), pl.lit("，该记录迟报")]),
            rule.declared.event,
        ))
    return frame, checks


def reference(ctx: QualityContext, dataset: Dataset,
              frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    """``referential``: a valid identifier that names no key of the base library it refers to.

    Only batches of the latest build are judged: the library was built from those.
    """
    checks = []
    built = pl.col("_batch_id").is_in(sorted(ctx.built_batches))
    for rule in ctx.rules_of("reference", dataset.id):
        assert rule.column is not None and rule.library is not None
        keys = ctx.library_keys(rule.library)
        if keys is None:
            continue
        library = ctx.libraries[rule.library]
        # Narrow the library's keys to the values present first: probing the large side with a
        # small set is far cheaper than building a set of every key for each rule.
        present = keys.filter(keys.is_in(frame[rule.column].drop_nulls().unique().implode()))
        applies = _valid(rule.column).fill_null(False) & _condition(rule.when) & built
        checks.append(RecordCheck(rule, applies, ~pl.col(rule.column).is_in(present.implode()), _raw(rule.column),
                                  pl.lit(f"在{library.name}中不存在"), rule.column))
    return frame, checks


def _consistency(ctx: QualityContext, dataset: Dataset,
                 frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RecordCheck]]:
    from transforms.quality.consistency import consistency

    return consistency(ctx, dataset, frame)


#: The record checks, in order. Adding a kind of rule is one line here and one function.
RECORD_CHECKS: tuple[RecordRules, ...] = (
    element, written_form, completeness, ranges, uniqueness, late, reference, _consistency,
)


def evaluate(frame: pl.DataFrame, dataset: Dataset, checks: list[RecordCheck],
             waiting: Sequence[tuple[Target, dict[str, int]]] = ()) -> Findings:
    """Counts per rule × batch and the failing records.

    Each rule's flags are computed once, in one projection over the whole frame; the counts are
    one ``group_by`` over those flags; the value and detail of a failure are computed on the
    failing records only. ``waiting``: feedback tickets awaiting re-check, with the batches that
    may re-check them; where their records were checked is read off the same flags.
    """
    if not checks or frame.height == 0:
        return Findings()
    flags = frame.select(
        "_batch_id", "_source_file",
        *[check.applies.fill_null(False).alias(f"checked_{i}") for i, check in enumerate(checks)],
        *[(check.applies.fill_null(False) & check.fails.fill_null(False)).alias(f"failed_{i}")
          for i, check in enumerate(checks)],
    )
    grouped = flags.group_by("_batch_id", "_source_file").agg(
        pl.col("^(checked|failed)_\\d+$").sum().cast(pl.Int64))
    counts = pl.concat([
        grouped.select(
            pl.lit(check.rule.id).alias("rule_id"), pl.lit(dataset.id).alias("dataset"),
            pl.lit(check.rule.department).alias("department"),
            pl.col("_batch_id").alias("batch_id"), pl.col("_source_file").alias("source_file"),
            pl.col(f"checked_{index}").alias("checked"), pl.col(f"failed_{index}").alias("failed"),
        )
        for index, check in enumerate(checks)
    ])
    # A rule may look at several items of a record (a birth names child, mother and father):
    # its counts are summed into one row per rule x batch.
    counts = (counts.group_by("rule_id", "dataset", "department", "batch_id", "source_file", maintain_order=True)
              .agg(pl.col("checked").sum(), pl.col("failed").sum()).filter(pl.col("checked") > 0))
    failures = [
        # Lazy, so only the columns the failure quotes are gathered, not the whole record.
        frame.lazy().filter(flags[f"failed_{index}"]).select(
            pl.lit(check.rule.id).alias("rule_id"), pl.lit(dataset.id).alias("dataset"),
            pl.lit(check.rule.department).alias("department"),
            pl.col("_batch_id").alias("batch_id"), pl.col("_source_file").alias("source_file"),
            pl.col("_source_row").alias("source_row"), pl.col(RECORD_KEY).alias("record_key"),
            pl.lit(check.field, pl.String).alias("field"), check.value.cast(pl.String).alias("value"),
            check.detail.cast(pl.String).alias("detail"),
        )
        for index, check in enumerate(checks) if counts.height and flags[f"failed_{index}"].any()
    ]
    rechecked = observe(frame, flags, [check.rule.id for check in checks], waiting)
    if not failures:
        return Findings(counts, Findings().failures, rechecked)
    return Findings(counts, pl.concat(pl.collect_all(failures)).cast(FAILURE_SCHEMA),  # type: ignore[arg-type]
                    rechecked)


def records(ctx: QualityContext) -> Findings:
    """Every record check over every dataset in scope that has data."""
    findings = Findings()
    for dataset_id in ctx.datasets:
        if not ctx.has_source(dataset_id):
            continue
        dataset = ctx.dataset(dataset_id)
        frame = ctx.records(dataset)
        checks: list[RecordCheck] = []
        for kind in RECORD_CHECKS:
            frame, found = kind(ctx, dataset, frame)
            checks += found
        waiting = [(target, batch_ranks(ctx, target)) for target in ctx.recheck_targets
                   if target.dataset == dataset_id and target.keys]
        findings = findings + evaluate(frame, dataset, checks, waiting)
    return findings
