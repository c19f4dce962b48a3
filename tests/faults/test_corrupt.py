"""A damaged commit file in a table's ``_delta_log``: every command names the table and points to the doctor.

Never a Python traceback: each command runs as a real process on a copy of the demo home
whose newest commit of one table was truncated (as a disk or a bad copy would leave it) or
replaced by bytes that are not JSON. Then the doctor names the fix, and the fix works.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.home import Home
from tests.conftest import copy_home
from tests.faults import harness

pytestmark = pytest.mark.slow


def _newest_commit(table: Path) -> Path:
    return sorted((table / "_delta_log").glob("*.json"))[-1]


def _damage(home: Path, table: str, how: str) -> Path:
    commit = _newest_commit(home / "lake" / Path(*table.split(".", 1)))
    data = commit.read_bytes()
    commit.write_bytes(data[: len(data) // 3] if how == "truncated" else b"\x00\x17garbled\xff" + data[40:])
    return commit


@pytest.fixture
def copy(built_home: Home, tmp_path: Path) -> Path:
    root = tmp_path / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports")
    return root


def _names_table_and_doctor(done: harness.Run, table: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: ") and table in line and "govlake doctor" in line, done.stderr[-2000:]


@pytest.mark.parametrize("how", ["truncated", "garbled"])
def test_every_command_touching_a_damaged_library_names_it(copy: Path, how: str, tmp_path: Path) -> None:
    _damage(copy, "base.population", how)
    for command in (["tables"], ["sql", "--user", "hz_analyst", "SELECT count(*) AS n FROM population"],
                    ["sql", "--user", "national_leader", "SELECT count(*) AS n FROM population_structure"],
                    ["build", "--full"], ["publish", "--user", "hz_analyst", "--out", str(tmp_path)],
                    ["restore", "base.population", "--version", "0"]):
        done = harness.run(copy, command)
        if command[0] == "sql" and command[2] == "national_leader":
            # a leader's views do not read base.population: their queries still work
            assert done.returncode == 0, done.stderr[-2000:]
            continue
        _names_table_and_doctor(done, "base.population")


def test_a_damaged_raw_table_and_ingestion_log_are_named_by_ingest_and_build(copy: Path, tmp_path: Path) -> None:
    from govlake.bench.build import one_percent_batch

    one_percent_batch(copy, tmp_path / "batch")
    _damage(copy, "raw.deaths", "truncated")
    _names_table_and_doctor(harness.run(copy, ["ingest", str(tmp_path / "batch")]), "raw.deaths")
    _names_table_and_doctor(harness.run(copy, ["build", "--full"]), "raw.deaths")
    _damage(copy, "system.ingest_log", "garbled")
    _names_table_and_doctor(harness.run(copy, ["ingest", str(tmp_path / "batch")]), "system.ingest_log")
    _names_table_and_doctor(harness.run(copy, ["build"]), "system.ingest_log")


def test_the_doctor_names_the_fix_and_the_fix_works(copy: Path) -> None:
    # a second build, so the damaged commit is not the table's only one
    assert harness.run(copy, ["build", "--full"]).returncode == 0
    _damage(copy, "topic.population_by_division_age_sex", "truncated")
    doctor = harness.run(copy, ["doctor"])
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert "[tables] topic.population_by_division_age_sex" in doctor.stdout
    fix = "`govlake restore topic.population_by_division_age_sex --repair` sets commit 1 and the later ones aside"
    assert fix in doctor.stdout, doctor.stdout
    repaired = harness.run(copy, ["restore", "topic.population_by_division_age_sex", "--repair"])
    assert repaired.returncode == 0, repaired.stderr
    assert "now at version 0" in repaired.stdout
    # readers are back at once (the manifest pins version 1, which is gone: they read version 0) ...
    query = harness.run(copy, ["sql", "--user", "national_leader", "SELECT count(*) AS n FROM population_structure"])
    assert query.returncode == 0, query.stderr
    # ... and the doctor says what is left: an unfinished build state and the set-aside commit's files
    after = harness.run(copy, ["doctor", "--json"])
    assert after.returncode == 1
    assert harness.run(copy, ["build", "--full"]).returncode == 0
    assert harness.run(copy, ["vacuum", "--apply"]).returncode == 0
    final = harness.run(copy, ["doctor"])
    assert final.returncode == 0, final.stdout
    entries = harness.run(copy, ["audit", "--json", "--limit", "0"])
    assert '"statement_kind": "table.repair"' in entries.stdout
