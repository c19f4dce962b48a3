"""The main job: generate → ingest → build → quality run, idempotent, ending with a summary."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from lake import delta


def _counts(home: Path) -> dict[str, int]:
    return {f"{zone.name}.{table.name}": delta.row_count(table)
            for zone in (home / "lake").iterdir() for table in zone.iterdir() if delta.is_table(table)
            and table.name not in {"audit"}}


def test_demo_twice_duplicates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "demo", "--persons", "3000"]) == 0
    first = capsys.readouterr().out
    for words in ("datasets aggregated", "rows loaded", "rows quarantined", "[quality] run q-", "feedback tickets",
                  "govlake quality report", "Next:"):
        assert words in first
    counts = _counts(home)
    # a fresh home opens on quality results and tickets (scorecards, governance page)
    assert counts["system.quality_results"] > 0 and counts["system.feedback_events"] > 0
    assert main(["--home", str(home), "demo", "--persons", "3000"]) == 0
    second = capsys.readouterr().out
    assert "already present" in second and "up to date" in second and "[quality] up to date (run q-" in second
    assert _counts(home) == counts


def test_counts_reconcile_for_every_file(built_home) -> None:  # type: ignore[no-untyped-def]
    log = delta.read(built_home.table_path("system", "ingest_log"))
    assert (log["rows_read"] == log["rows_loaded"] + log["rows_quarantined"]).all()
    quarantined = delta.read(built_home.table_path("system", "quarantine")).group_by("batch_id").len()
    loaded = []
    for dataset in log.filter(pl.col("access") == "physical")["dataset"].unique():
        raw = delta.read(built_home.table_path("raw", dataset), columns=["_batch_id"])
        loaded.append(raw.group_by("_batch_id").len().rename({"_batch_id": "batch_id", "len": "raw_rows"}))
    check = (log.filter(pl.col("access") == "physical")
             .join(pl.concat(loaded), on="batch_id", how="left")
             .join(quarantined.rename({"len": "quarantine_rows"}), on="batch_id", how="left")
             .with_columns(pl.col("raw_rows", "quarantine_rows").fill_null(0)))
    assert (check["raw_rows"] == check["rows_loaded"]).all()
    assert (check["quarantine_rows"] == check["rows_quarantined"]).all()
