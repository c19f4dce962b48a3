"""A corrected feedback ticket is verified only when a real quality run re-checked each of its records.

On a copy of the small demo home: a real ``govlake quality run`` opens tickets; 民政 re-sends the
records of one ticket (invalid wife IDs on marriage registrations) as a new batch. A batch that
leaves one record out must not verify the ticket, even though every record it holds passes; the
full batch does. The run records, for the tickets awaiting re-check only, which of their records
it checked where (``system.quality_rechecks``), and repeating a run writes nothing twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.home import Home
from lake import delta, feedback
from lake.ingest import ingest
from lake.system import QUALITY_RECHECKS
from tests.lake.test_feedback import _correction, events, quality_run

RULE = "validity.element.marriages.wife_id"
GOVLAKE = str(Path(sys.executable).with_name("govlake"))


def rechecks_of(home: Home) -> pl.DataFrame:
    path = home.table_path("system", QUALITY_RECHECKS.name)
    return delta.read(path) if delta.is_table(path) else pl.DataFrame()


def test_a_correcting_batch_that_omits_a_record_does_not_verify_and_a_full_one_does(
        built_home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "home"
    shutil.copytree(built_home.root, root, ignore=shutil.ignore_patterns("cache", "spool", "duckdb_extensions"))
    home = Home(root)
    first = quality_run(home, capsys)
    assert first["status"] == "recorded"
    assert rechecks_of(home).is_empty(), "no ticket awaits re-check: an ordinary run records no re-check"
    candidates = [t for t in feedback.tickets(home, department="civil_affairs")
                  if t.rule_id == RULE and t.failed_records >= 3]
    assert candidates, "the demo has several invalid wife IDs in one marriage batch"
    ticket = candidates[0]
    keys = feedback.ticket_keys(home, [ticket])[ticket.ticket_id]
    assert len(keys) == ticket.failed_records
    truth = (pl.read_parquet(home.exports / "truth" / "defects.parquet")
             .filter((pl.col("dataset") == "marriages") & (pl.col("field") == "wife_id")
                     & pl.col("record_key").is_in(keys) & pl.col("true_value").is_not_null())
             .unique("record_key"))
    assert truth.height == len(keys)

    # every record the batch holds is corrected, but the last one is left out
    omitted = keys[-1]
    partial = _correction(home, tmp_path, ticket.batch_id or "", keys[:-1], truth, name="民政_婚姻登记_20261122.jsonl")
    (landed,) = ingest(home, [partial])
    assert landed.status == "loaded" and landed.batch_id and landed.rows_loaded == len(keys) - 1
    feedback.resolve(home, ticket.ticket_id, user="mca_officer", corrected_by_batch=landed.batch_id)
    second = quality_run(home, capsys)
    assert second["tickets"]["reopened"] == 1 and second["tickets"]["verified"] == 0  # type: ignore[index]
    reopened = feedback.ticket(home, ticket.ticket_id)
    note = reopened.note or ""
    assert reopened.state == "open", note
    assert f"1 of the {len(keys)} records are missing from the correcting batch {landed.batch_id}" in note
    assert omitted in note and "still fail" not in note
    recorded = rechecks_of(home).filter(pl.col("run_id") == second["run_id"])
    assert recorded.height == len(keys) and set(recorded["ticket_id"]) == {ticket.ticket_id}
    assert recorded.filter(~pl.col("checked"))["record_key"].to_list() == [omitted]
    checked = recorded.filter(pl.col("checked"))
    assert set(checked["batch_id"]) == {landed.batch_id} and not checked["failed"].any()

    # the same run again (its sync reopened the ticket, which is no new input): same run id,
    # nothing written twice, the sync already done
    before_events, before_rechecks = events(home), rechecks_of(home)
    again = quality_run(home, capsys)
    assert again["status"] == "already" and again["run_id"] == second["run_id"]
    assert events(home).equals(before_events) and rechecks_of(home).equals(before_rechecks)
    assert main(["--home", str(home.root), "feedback", "sync", str(second["run_id"])]) == 0
    assert "already synced" in capsys.readouterr().out
    assert events(home).equals(before_events)

    # the full batch, checked by a run before the ticket was resolved, then resolved: the next
    # run is a new run (the ticket awaiting re-check is one of its inputs) and verifies it
    full = _correction(home, tmp_path, ticket.batch_id or "", keys, truth, name="民政_婚姻登记_20261123.jsonl")
    (landed,) = ingest(home, [full])
    assert landed.status == "loaded" and landed.batch_id
    before_resolve = quality_run(home, capsys)
    assert feedback.ticket(home, ticket.ticket_id).state == "open"
    feedback.resolve(home, ticket.ticket_id, user="mca_officer", corrected_by_batch=landed.batch_id)
    third = quality_run(home, capsys)
    assert third["status"] == "recorded" and third["run_id"] != before_resolve["run_id"]
    assert third["tickets"]["verified"] == 1  # type: ignore[index]
    verified = feedback.ticket(home, ticket.ticket_id)
    assert verified.state == "verified" and f"passes for all {len(keys)} records" in (verified.note or "")
    assert rechecks_of(home).filter(pl.col("run_id") == third["run_id"])["checked"].all()
    assert [e["action"] for e in feedback.history(home, ticket.ticket_id)] == [
        "open", "correct", "reopen", "correct", "verify"]

    # the verdict is not a new input: running again is the same run, and writes nothing
    before_events, before_rechecks = events(home), rechecks_of(home)
    last = quality_run(home, capsys)
    assert last["status"] == "already" and last["run_id"] == third["run_id"]
    assert events(home).equals(before_events) and rechecks_of(home).equals(before_rechecks)


@pytest.mark.faults
@pytest.mark.parametrize("table", ["quality_failures", "quality_rechecks"])
def test_a_run_killed_after_an_append_records_each_recheck_once(
        built_home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str) -> None:
    """SIGKILL right after the failures or the re-checks commit: the next run is the same run, adds the
    re-check rows once, and the ticket is reopened once."""
    root = tmp_path / "home"
    shutil.copytree(built_home.root, root, ignore=shutil.ignore_patterns("cache", "spool", "duckdb_extensions"))
    home = Home(root)
    quality_run(home, capsys)
    ticket = next(t for t in feedback.tickets(home, department="civil_affairs")
                  if t.rule_id == RULE and t.failed_records >= 3)
    keys = feedback.ticket_keys(home, [ticket])[ticket.ticket_id]
    truth = (pl.read_parquet(home.exports / "truth" / "defects.parquet")
             .filter((pl.col("dataset") == "marriages") & (pl.col("field") == "wife_id")
                     & pl.col("record_key").is_in(keys) & pl.col("true_value").is_not_null()).unique("record_key"))
    partial = _correction(home, tmp_path, ticket.batch_id or "", keys[:-1], truth, name="民政_婚姻登记_20261122.jsonl")
    (landed,) = ingest(home, [partial])
    feedback.resolve(home, ticket.ticket_id, user="mca_officer", corrected_by_batch=landed.batch_id or "")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOVLAKE_")}
    killed = subprocess.run([GOVLAKE, "--home", str(root), "quality", "run"], capture_output=True, text=True,
                            env={**env, "GOVLAKE_KILL_AT": f"delta.commit.after@system.{table}:1"}, timeout=600)
    assert killed.returncode == -9, killed.stderr
    assert feedback.ticket(home, ticket.ticket_id).state == "corrected", "no verdict before the run completes"
    finished = quality_run(home, capsys)
    assert finished["status"] == "recorded" and finished["tickets"]["reopened"] == 1  # type: ignore[index]
    recorded = rechecks_of(home)
    assert recorded.height == len(keys) and set(recorded["run_id"]) == {finished["run_id"]}
    assert quality_run(home, capsys)["status"] == "already"
    assert rechecks_of(home).height == len(keys)
    assert [e["action"] for e in feedback.history(home, ticket.ticket_id)] == ["open", "correct", "reopen"]
