"""Shared fixtures: the shipped catalog, a fixed rule context, and a one-column rule runner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import pytest

from lake.catalog import Catalog, load_catalog
from transforms.standardize import RuleContext, rule_for

AS_OF = dt.date(2026, 1, 1)

Apply = Callable[[str, Sequence[str | None]], list[tuple[Any, bool | None]]]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def context(catalog: Catalog) -> RuleContext:
    return RuleContext.from_catalog(catalog, AS_OF)


@pytest.fixture(scope="session")
def apply(catalog: Catalog, context: RuleContext) -> Apply:
    """Run the rule of a data element over raw strings; return (value, valid) per value."""

    def run(element_id: str, values: Sequence[str | None]) -> list[tuple[Any, bool | None]]:
        element = catalog.element(element_id)
        result = rule_for(element)(pl.col("raw"), element, context)
        frame = pl.DataFrame({"raw": list(values)}, schema={"raw": pl.String})
        out = frame.select(result.value.alias("value"), result.valid.alias("valid"))
        return list(out.iter_rows())

    return run
