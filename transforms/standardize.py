"""Standardize raw-zone text to the data elements the catalog maps each item to.

Every value that enters a base library is first normalized to its data element: dates to
ISO dates, identifiers to upper case and half width, names trimmed, codes mapped through
their code tables. Each value also gets a validity flag, ``<column>__valid``, which is NULL
when the value is missing (completeness) and TRUE/FALSE otherwise (validity).

Which rule applies is data: each element in ``lake/standards/data_elements.toml`` names a
``rule``, and :data:`RULES` maps that id to a :class:`Rule`. Rules are vectorized Polars
expressions (see :mod:`transforms.rules`).

>>> import datetime as dt
>>> import polars as pl
>>> from lake.catalog import load_catalog
>>> catalog = load_catalog()
>>> context = RuleContext.from_catalog(catalog, as_of=dt.date(2026, 1, 1))
>>> raw = pl.LazyFrame({"resident_id": ["３３０１０６１９９００３０７１２３６"], "sex": ["男"]})
>>> standardize(raw, catalog.dataset("hukou"), context, columns=["resident_id", "sex"]).collect().row(0)
('330106199003071236', True, '1', True)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from govlake.errors import ConfigError, ContractError, did_you_mean
from lake.catalog.model import DataElement, Dataset
from transforms.rules.base import Rule, RuleContext, Standardized
from transforms.rules.codes import code, department_id, division_code, industry_code
from transforms.rules.dates import date, year
from transforms.rules.identifiers import party_id, phone, resident_id, uscc
from transforms.rules.numbers import decimal, integer, latitude, longitude
from transforms.rules.text import geometry, identifier, person_name, text

__all__ = ["RULES", "VALID_SUFFIX", "Rule", "RuleContext", "Standardized", "rule_for", "standardize"]

#: Suffix of the validity flag column added next to each standardized column.
VALID_SUFFIX = "__valid"

#: Rule id (``rule`` in data_elements.toml, ``KNOWN_RULES`` in lake/catalog/load.py) → rule.
RULES: dict[str, Rule] = {
    "resident_id": resident_id,
    "uscc": uscc,
    "party_id": party_id,
    "person_name": person_name,
    "text": text,
    "identifier": identifier,
    "department_id": department_id,
    "date": date,
    "year": year,
    "integer": integer,
    "decimal": decimal,
    "longitude": longitude,
    "latitude": latitude,
    "geometry": geometry,
    "division_code": division_code,
    "phone": phone,
    "code": code,
    "industry_code": industry_code,
}


def rule_for(element: DataElement) -> Rule:
    """The rule that standardizes ``element``."""
    try:
        return RULES[element.rule]
    except KeyError:
        raise ConfigError(
            f"rule {element.rule!r} has no implementation in transforms/standardize.py"
            f"{did_you_mean(element.rule, RULES)}; register it in RULES or fix the element",
            location=f"lake/standards/data_elements.toml: [{element.id}]",
        ) from None


def standardize(
    frame: pl.LazyFrame,
    dataset: Dataset,
    context: RuleContext,
    *,
    columns: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """Replace each item column of ``dataset`` with its standardized value and add ``<column>__valid``.

    ``frame`` is a raw-zone table (every item as text). ``columns`` limits the work to some
    items (default: all items). Each flag column follows its value column; columns that are
    not items (``_batch_id``, ``_source_file``...) are left untouched and in place.

    Raises :class:`~govlake.errors.NotFound` for a ``columns`` entry that is not an item of the
    dataset, and :class:`~govlake.errors.ContractError` when the frame lacks an item column.
    """
    wanted = list(dataset.columns if columns is None else columns)
    items = {column: dataset.item(column) for column in wanted}
    schema = frame.collect_schema()
    missing = [column for column in wanted if column not in schema]
    if missing:
        raise ContractError(
            f"has no column {', '.join(map(repr, missing))} that dataset {dataset.id!r} lists; "
            "re-ingest the source or fix the catalog entry",
            file=f"raw table {dataset.raw_table!r}",
            columns=missing,
        )
    clashes = [column + VALID_SUFFIX for column in wanted if column + VALID_SUFFIX in schema]
    if clashes:
        raise ContractError(
            f"already has flag column {', '.join(map(repr, clashes))}; standardize raw tables only once",
            file=f"raw table {dataset.raw_table!r}",
            columns=clashes,
        )
    # Two projections: first each rule's result struct as a working column (computed once),
    # then the value and flag split out of it, in the frame's column order.
    results: dict[str, pl.Expr] = {}
    for column, item in items.items():
        element = context.catalog.element(item.element)
        rule = rule_for(element)
        results[column] = rule(pl.col(column).cast(pl.String), element, context).result
    working = {column: _working_name(column, schema) for column in results}
    staged = frame.with_columns(result.alias(working[column]) for column, result in results.items())
    outputs: list[pl.Expr] = []
    for name in schema:
        if name not in results:
            outputs.append(pl.col(name))
            continue
        result = pl.col(working[name])
        outputs += [
            result.struct.field("value").alias(name),
            result.struct.field("valid").alias(name + VALID_SUFFIX),
        ]
    return staged.select(outputs)


def _working_name(column: str, taken: pl.Schema) -> str:
    name = f"__standardized__{column}"
    while name in taken:
        name = "_" + name
    return name
