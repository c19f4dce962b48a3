"""``govlake vacuum``: a dry run by default; expired, orphan and partial files; the retention kept."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from govlake.errors import ConfigError
from govlake.home import Home
from lake import delta
from lake.vacuum import vacuum
from tests.conftest import copy_home

GOVLAKE = Path(sys.executable).with_name("govlake")
MART = ("topic", "population_by_division_age_sex")


@pytest.fixture
def home(built_home: Home, tmp_path: Path) -> Home:
    root = tmp_path / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports")
    return Home(root)


def _orphan(table: Path) -> Path:
    """A data file no commit mentions, as a writer killed before its commit leaves one."""
    data = next(p for p in table.rglob("*.parquet"))
    orphan = data.with_name("part-00000-0badc0de-dead-beef-0000-000000000000-c000.snappy.parquet")
    shutil.copyfile(data, orphan)
    return orphan


def _age_removals(table: Path, hours: float) -> None:
    """Date the newest commit's removals ``hours`` back: vacuum's retention is about time, which a test
    cannot wait for (the only fault here that is not produced for real)."""
    commit = sorted((table / "_delta_log").glob("*.json"))[-1]
    past = int((time.time() - hours * 3600) * 1000)
    actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
    for action in actions:
        if "remove" in action:
            action["remove"]["deletionTimestamp"] = past
    commit.write_text("".join(json.dumps(a) + "\n" for a in actions))


def test_a_healthy_home_has_nothing_to_vacuum(home: Home) -> None:
    report = vacuum(home)
    assert report.files == [] and report.skipped == {} and not report.applied


def test_orphans_are_listed_in_a_dry_run_and_deleted_with_apply(home: Home) -> None:
    table = home.table_path(*MART)
    rows = delta.read(table)
    orphan = _orphan(table)
    dry = vacuum(home)
    assert [(f.kind, f.path, f.table) for f in dry.files] == [("orphan", orphan, ".".join(MART))]
    assert dry.files[0].size == orphan.stat().st_size and orphan.exists()
    applied = vacuum(home, apply=True)
    assert applied.applied and [f.path for f in applied.files] == [orphan]
    assert not orphan.exists()
    assert delta.read(table).equals(rows)
    assert vacuum(home).files == []


def test_expired_files_go_but_the_retention_and_the_pinned_build_stay(home: Home) -> None:
    table = home.table_path(*MART)
    pinned = delta.version(table)
    first = delta.read(table)
    # an unfinished build rewrote the mart: its old files are removed but the manifest pins them
    delta.write(table, first.to_arrow(), mode="overwrite")
    _age_removals(table, hours=200)
    assert vacuum(home).files == [], "the files of the version the manifest pins must be kept"
    # a second rewrite: the files of the middle version were neither pinned nor recent
    delta.write(table, first.to_arrow(), mode="overwrite")
    _age_removals(table, hours=200)
    middle = vacuum(home)
    assert {f.kind for f in middle.files} == {"expired"} and middle.files
    assert vacuum(home, retention_hours=300).files == [], "files removed 200 h ago are within a 300 h retention"
    vacuum(home, apply=True)
    assert delta.read(table).equals(first)
    assert delta.read(table, version=pinned).equals(first)  # time travel to the pinned build still works


def test_a_table_being_written_is_skipped(home: Home, tmp_path: Path) -> None:
    table = home.table_path(*MART)
    orphan = _orphan(table)
    pause = tmp_path / "pause"
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from lake import delta; p = Path(sys.argv[1]); "
        "delta.write(p, delta.read(p).to_arrow(), mode='overwrite')"), str(table)],
        cwd=Path(__file__).parents[2], env={**os.environ, "GOVLAKE_PAUSE_AT": f"delta.commit.before:1:{pause}"})
    try:
        while not (pause / "paused").exists():
            assert writer.poll() is None
            time.sleep(0.02)
        report = vacuum(home, apply=True)
        assert "topic.population_by_division_age_sex" in report.skipped
        assert orphan.exists(), "a file of a table being written may be a writer's uncommitted file"
    finally:
        (pause / "resume").touch()
        assert writer.wait(timeout=120) == 0
    assert [f.path for f in vacuum(home, apply=True).files] == [orphan]


def test_partial_files_of_dead_processes(home: Home) -> None:
    extracts = home.extracts
    extracts.mkdir(parents=True, exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = extracts / f".hz_analyst-20261122T000000Z.duckdb.{dead.stdout.strip()}.part"
    alive = extracts / f".hz_analyst-20261122T000001Z.duckdb.{os.getpid()}.part"
    for path in (gone, alive):
        path.write_bytes(b"x" * 10)
    governed = home.cache / "governed"
    governed.mkdir(parents=True, exist_ok=True)
    interrupted = governed / ".hz_analyst-0123456789abcdef0123.duckdb.0123456789abcdef0123456789abcdef.part"
    interrupted.write_bytes(b"y")
    found = {f.path: f.kind for f in vacuum(home).files}
    assert found == {gone: "partial", interrupted: "partial"}
    vacuum(home, apply=True)
    assert alive.exists() and not gone.exists() and not interrupted.exists()


def test_retention_has_a_floor(home: Home) -> None:
    with pytest.raises(ConfigError, match="below the minimum of 1 h"):
        vacuum(home, retention_hours=0)


def test_the_command_is_a_dry_run_unless_told(home: Home) -> None:
    orphan = _orphan(home.table_path(*MART))
    dry = subprocess.run([str(GOVLAKE), "--home", str(home.root), "vacuum"], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "would delete orphan" in dry.stdout and "dry run: nothing deleted" in dry.stdout and orphan.exists()
    listed = subprocess.run([str(GOVLAKE), "--home", str(home.root), "vacuum", "--json"], capture_output=True,
                            text=True)
    assert json.loads(listed.stdout)["files"][0]["path"] == str(orphan)
    done = subprocess.run([str(GOVLAKE), "--home", str(home.root), "vacuum", "--apply"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "deleted 1 file(s)" in done.stdout and not orphan.exists()
    refused = subprocess.run([str(GOVLAKE), "--home", str(home.root), "vacuum", "--retention-hours", "0"],
                             capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: --retention-hours 0 is below the minimum")


def test_pl_reads_every_table_after_vacuum(home: Home) -> None:
    _orphan(home.table_path(*MART))
    vacuum(home, apply=True)
    for zone in ("raw", "base", "topic", "system"):
        for path in home.zone(zone).iterdir():
            if delta.is_table(path):
                pl.scan_delta(str(path)).select(pl.len()).collect()
