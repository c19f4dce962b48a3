"""Write build outputs through lake/ with descriptions and column comments."""

from __future__ import annotations

from transforms.context import BuildContext
from transforms.tables import all_tables


def write_outputs(ctx: BuildContext, *, only: set[str] | None = None) -> dict[str, int]:
    """Overwrite each declared output table (or those in ``only``); return their new Delta versions."""
    from lake import delta

    versions: dict[str, int] = {}
    for name, spec in all_tables().items():
        if name not in ctx.outputs or (only is not None and name not in only):
            continue
        zone, table = name.split(".", 1)
        frame = ctx.outputs[name]
        versions[name] = delta.write(
            ctx.home.table_path(zone, table), frame.to_arrow(), mode="overwrite",
            description=spec.description, comments=spec.comments,
            partition_by=list(spec.partition_by) or None,
            commit_info={"govlake.build.as_of": ctx.as_of.isoformat()},
        )
    return versions
