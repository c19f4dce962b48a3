"""The build manifest (``system.builds``): what each build consumed and the versions it wrote."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from govlake.home import Home
from lake import delta
from lake.system import BUILDS, INGEST_LOG


@dataclass(frozen=True)
class Manifest:
    build_id: int
    kind: str
    as_of: dt.date
    batches: frozenset[str]
    outputs: dict[str, int]


def latest(home: Home) -> Manifest | None:
    path = home.table_path("system", BUILDS.name)
    if not delta.is_table(path):
        return None
    rows = delta.read(path).sort("build_id")
    if rows.height == 0:
        return None
    row = rows.row(-1, named=True)
    return Manifest(row["build_id"], row["kind"], row["as_of"], frozenset(row["batches"] or []),
                    json.loads(row["outputs"]))


def current_versions(home: Home, outputs: dict[str, int]) -> dict[str, int]:
    """``outputs`` with each table's current Delta version (tables that no longer exist dropped)."""
    current = {}
    for name in outputs:
        version = delta.version(home.table_path(*name.split(".", 1)))
        if version is not None:
            current[name] = version
    return current


def ingested_batches(home: Home) -> frozenset[str]:
    path = home.table_path("system", INGEST_LOG.name)
    if not delta.is_table(path):
        return frozenset()
    return frozenset(delta.read(path, columns=["batch_id"])["batch_id"].to_list())


def record(home: Home, *, kind: str, as_of: dt.date, batches: frozenset[str], new_batches: frozenset[str],
           outputs: dict[str, int], keys_rebuilt: int, started_at: dt.datetime) -> int:
    """Append the manifest row last, so its presence means every output of the build landed."""
    previous = latest(home)
    build_id = 1 if previous is None else previous.build_id + 1
    row: dict[str, Any] = {
        "build_id": build_id, "kind": kind, "as_of": as_of, "batches": sorted(batches),
        "new_batches": sorted(new_batches), "outputs": json.dumps(outputs, sort_keys=True),
        "keys_rebuilt": keys_rebuilt, "started_at": started_at, "finished_at": dt.datetime.now(dt.UTC),
    }
    frame = pl.DataFrame([row], schema={
        "build_id": pl.Int64, "kind": pl.String, "as_of": pl.Date, "batches": pl.List(pl.String),
        "new_batches": pl.List(pl.String), "outputs": pl.String, "keys_rebuilt": pl.Int64,
        "started_at": pl.Datetime("us", "UTC"), "finished_at": pl.Datetime("us", "UTC"),
    })
    delta.write(home.table_path("system", BUILDS.name), frame.to_arrow(), txn=(f"govlake.build/{build_id}", 1),
                description=BUILDS.description, comments=BUILDS.columns)
    return build_id


def record_restore(home: Home, *, table: str, version: int) -> int | None:
    """Pin a restored output table in a new manifest row (kind ``restore``); return its build id.

    Readers pin the versions of the latest manifest row, so without this row they would keep
    reading the table as the last build wrote it. The row repeats the last build's batches:
    nothing was ingested or dropped, one table was rolled back. The next build that has new
    batches is a full one (transforms/build.py). None when nothing was ever built, or the
    table is not a build output (nothing pins it).
    """
    previous = latest(home)
    if previous is None or table not in previous.outputs:
        return None
    outputs = {**previous.outputs, table: version}
    return record(home, kind="restore", as_of=previous.as_of, batches=previous.batches, new_batches=frozenset(),
                  outputs=outputs, keys_rebuilt=0, started_at=dt.datetime.now(dt.UTC))
