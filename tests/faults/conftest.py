"""Prepared homes for the fault-injection tests: one lab per scale, built in-process once.

A lab holds department exports (outside every home, so the recorded source paths agree)
and the start state of each scenario: no home (ingest), everything ingested (a first full
build), built plus one new batch (an incremental build), built (a full rebuild, publish,
quality run).
The killed and reference runs are real ``govlake`` processes (tests/faults/harness.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest

from govlake.home import Home
from tests.conftest import copy_home
from tests.faults import harness

#: Kills per command: the fast subset (make test) and the full set (make test-faults).
FAST_KILLS = 2
FULL_KILLS = 20
FAST_PERSONS = 300
FULL_PERSONS = 2_000
SEED = 11
#: Every kill outcome of the session, for the summary line at the end.
OUTCOMES: list[harness.Outcome] = []



@dataclass
class Lab:
    root: Path
    exports: Path
    homes: dict[str, Path]
    scenarios: dict[str, harness.Scenario] = field(default_factory=dict)
    references: dict[str, harness.Reference] = field(default_factory=dict)

    def reference(self, name: str) -> harness.Reference:
        if name not in self.references:
            self.references[name] = harness.reference(self.scenarios[name], self.root / "work")
        return self.references[name]


def make_lab(root: Path, persons: int) -> Lab:
    from govlake.bench.build import one_percent_batch
    from govlake.generate import generate
    from lake.ingest import ingest
    from transforms.build import build

    exports = root / "exports"
    generate(exports, persons=persons, seed=SEED)
    ingested = Home(root / "start-ingested").ensure()
    ingest(ingested, [exports])
    built = root / "start-built"
    copy_home(ingested.root, built)
    build(Home(built))
    incremental = root / "start-incremental"
    copy_home(built, incremental)
    one_percent_batch(incremental, root / "batch")
    ingest(Home(incremental), [root / "batch"])
    lab = Lab(root, exports, {"ingested": ingested.root, "built": built, "incremental": incremental})
    lab.scenarios = {
        "ingest": harness.Scenario("ingest", ["ingest", str(exports)], None),
        "build-full": harness.Scenario("build-full", ["build"], ingested.root),
        "build-incremental": harness.Scenario("build-incremental", ["build"], incremental),
        "rebuild": harness.Scenario("rebuild", ["build", "--full"], built, repeats=("system.builds", "build_id")),
        "publish": harness.Scenario("publish", ["publish", "--user", "hz_analyst"], built, extra=same_extracts),
        "quality": harness.Scenario("quality", ["quality", "run"], built),
    }
    return lab


@pytest.fixture(scope="session")
def fast_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("faults-fast"), FAST_PERSONS)


@pytest.fixture(scope="session")
def full_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("faults-full"), FULL_PERSONS)


def extract_content(path: Path) -> dict[str, object]:
    """An extract's tables as row multisets, and what its metadata says it holds (not when or which entry)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()]
        content: dict[str, object] = {}
        for name in sorted(names):
            if name == "_govlake_extract":
                row = con.execute('SELECT "user", scope, sources, tables FROM _govlake_extract').fetchone()
                content[name] = repr(row)
            else:
                frame = pl.from_arrow(con.execute(f'SELECT * FROM "{name}"').to_arrow_table())
                assert isinstance(frame, pl.DataFrame)
                content[name] = harness.rows_of(frame)
        return content
    finally:
        con.close()


def same_extracts(reference_home: Path, home: Path) -> list[str]:
    """Every extract the recovered home holds verifies and has the reference extract's content.

    A publish killed after its extract got its name has delivered; the re-run delivers one
    more (both audited). No partial file may remain once the re-run finished.
    """
    from lake import audit
    from views.publish import read_extract

    expected = extract_content(sorted((reference_home / "extracts").glob("*.duckdb"))[-1])
    delivered = sorted((home / "extracts").glob("*.duckdb"))
    problems = [] if delivered else ["no extract was delivered"]
    entries = {row["seq"]: row for row in audit.entries(Home(home), flush_first=False)}
    for file in delivered:
        extract = read_extract(file)
        problems += [f"{file.name}: {problem}" for problem in extract.problems]
        if extract_content(file) != expected:
            problems.append(f"{file.name} differs from the reference extract")
        entry = entries.get(extract.audit_seq or -1)
        if entry is None or entry["decision"] != "allowed" or entry["statement_kind"] != "PUBLISH":
            problems.append(f"{file.name}: audit entry {extract.audit_seq} is not its allowed PUBLISH entry")
    parts = [p.name for p in (home / "extracts").glob(".*.part*")]
    if parts:
        problems.append(f"partial extract files left after the re-run: {parts}")
    return problems


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES:
        return
    by_scenario: dict[str, list[harness.Outcome]] = {}
    for outcome in OUTCOMES:
        by_scenario.setdefault(outcome.scenario, []).append(outcome)
    terminalreporter.section("fault injection")
    for name, outcomes in by_scenario.items():
        terminalreporter.write_line(f"{name}: {harness.summary(outcomes)}")
    terminalreporter.write_line(f"all: {harness.summary(OUTCOMES)}")
