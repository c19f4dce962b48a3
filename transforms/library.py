"""Build one base library from its projections by one source per data item."""

from __future__ import annotations

import polars as pl

from govlake.errors import NotFound
from transforms.context import BuildContext
from transforms.precedence import resolve
from transforms.projections import PROJECTIONS


def build_library(ctx: BuildContext, library_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Golden records and conflicts of a library, from every source that has been ingested."""
    library = ctx.libraries[library_id]
    # Each projection is materialized once: the resolver reads it once per attribute.
    projections = {
        dataset: PROJECTIONS[library_id][dataset](ctx).collect().lazy()
        for dataset in library.datasets
        if dataset in PROJECTIONS[library_id] and ctx.has_source(dataset)
    }
    missing = [name for name in library.anchor if name not in projections]
    if len(missing) == len(library.anchor):
        raise NotFound(
            f"the {library.name} ({library.id}) is built from {', '.join(library.anchor)}, and none of them has "
            "been ingested yet; ingest them first (`govlake ingest PATH`)"
        )
    return resolve(library, projections)
