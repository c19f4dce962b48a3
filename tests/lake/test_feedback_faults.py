"""Crash safety of the quality loop: a real `govlake` process killed (SIGKILL, lake/faults.py) at a commit
boundary, then the same command run again.

- a ticket sync killed before or after its one commit: the re-run writes every ticket exactly once;
- an objection's correction killed in the middle of its build: the re-run finds the batch already
  ingested, finishes the build, and closes the case once.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from govlake.home import Home
from lake import delta, feedback, ledger, objections
from lake.system import INGEST_LOG
from tests.conftest import copy_home
from tests.lake.test_feedback import RULE, failure, write_run
from tests.lake.test_feedback import batches as batches  # the fixture

pytestmark = pytest.mark.faults
GOVLAKE = str(Path(sys.executable).with_name("govlake"))


def govlake(home: Home, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOVLAKE_")}
    if kill_at:
        env["GOVLAKE_KILL_AT"] = kill_at
    return subprocess.run([GOVLAKE, "--home", str(home.root), *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.parametrize("moment", ["delta.commit.before", "delta.commit.after"])
def test_a_killed_sync_is_finished_by_the_rerun_without_doubles(home: Home, batches, moment: str) -> None:
    first = batches["first"]
    write_run(home, "run-1", dt.datetime.now(dt.UTC), checked=[(RULE, "hukou", first[0], 2)],
              failures=[failure(first, "K1", 2), failure(first, "K2", 3)])
    killed = govlake(home, "feedback", "sync", "run-1", kill_at=f"{moment}@system.feedback_events:1")
    assert killed.returncode == -9, killed.stderr
    landed = ledger.read(feedback.events_path(home))
    assert (landed is not None) == (moment == "delta.commit.after"), "one commit: all the run's events or none"
    again = govlake(home, "feedback", "sync", "run-1")
    assert again.returncode == 0, again.stderr
    assert ("already synced" in again.stdout) == (moment == "delta.commit.after")
    rows = ledger.read(feedback.events_path(home))
    assert rows is not None and rows.height == 1 and rows["seq"].to_list() == [1]
    assert govlake(home, "feedback", "sync", "run-1").stdout.strip().endswith("nothing changed")


def _marriage(path: Path, husband: dict[str, object], wife: dict[str, object]) -> Path:
    import json

    path.write_text(json.dumps({
        "登记证字号": "J330102-2026-888888", "登记类型": "结婚登记", "男方身份号码": husband["resident_id"],
        "男方姓名": husband["name"], "男方出生日期": str(husband["birth_date"]), "女方身份号码": wife["resident_id"],
        "女方姓名": wife["name"], "女方出生日期": str(wife["birth_date"]), "登记日期": "2026-11-21",
        "登记机关区划": "330102"}, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_a_correction_killed_mid_build_is_finished_by_the_rerun(built_home: Home, tmp_path: Path,
                                                                 write_csv: Callable[..., Path]) -> None:
    from views.objections import file_objection

    root = tmp_path / "copy"
    copy_home(built_home.root, root, "cache", "spool", "exports", "duckdb_extensions")
    home = Home(root)
    people = (delta.read(home.table_path("base", "population"))
              .filter(pl.col("hukou_division").str.starts_with("3301") & pl.col("alive") & (pl.col("age") >= 25)
                      & (pl.col("marital_status") == "10")
                      & (pl.col("provenance").struct.field("marital_status").struct.field("source") == "hukou"))
              .sort("resident_id"))
    husband = people.filter(pl.col("sex") == "1").row(0, named=True)
    wife = people.filter(pl.col("sex") == "2").row(0, named=True)
    case = file_objection(home, user="hz_analyst", view="population", key=str(husband["resident_id"]),
                          column="marital_status", reason="已登记结婚")
    correction = _marriage(tmp_path / "民政_婚姻登记_20261122.jsonl", husband, wife)
    killed = govlake(home, "objection", "resolve", case.case_id, "--user", "mca_officer", "--correction",
                     str(correction), kill_at="delta.commit.after@base.population:1")
    assert killed.returncode == -9, killed.stderr
    assert objections.case(home, case.case_id).state == "open", "the case closes only after the build"
    done = govlake(home, "objection", "resolve", case.case_id, "--user", "mca_officer", "--correction",
                   str(correction))
    assert done.returncode == 0, done.stderr
    closed = objections.case(home, case.case_id)
    assert (closed.state, closed.value_after) == ("corrected", "20")
    log = delta.read(home.table_path("system", INGEST_LOG.name))
    assert log.filter(pl.col("batch_id") == closed.correction_batch).height == 1, "ingested once"
    assert [e["action"] for e in objections.history(home, case.case_id)] == ["file", "correct"]
