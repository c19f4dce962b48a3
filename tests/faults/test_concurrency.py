"""Concurrent work on one home, in separate real processes: two ingests, a build and three users' queries.

- Nothing is lost or duplicated: the raw zone and the ingestion log end as a sequential run
  of the same files leaves them, and the libraries as a full build of it.
- Every governed query reads one build's consistent set of versions: each result pair is
  one that some build recorded in its manifest, never a mix of two builds.
- A commit that conflicts is retried with backoff; past the bound (forced with
  ``GOVLAKE_COMMIT_ATTEMPTS=1``) the command fails with exit status 3 and a clear message,
  and readers still see the last finished build, not half of the new one.

The conflicts are real: a build is paused at the fault point before one of its commits
(``GOVLAKE_PAUSE_AT``) while another process commits to the same table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from govlake.home import Home
from lake import delta
from tests.conftest import copy_home
from tests.faults import harness
from tests.faults.query_loop import QUERIES

PERSONS = 2_000
SEED = 13
#: Files held back from the start home: each concurrent ingest lands some (deaths go to both).
GROUP_A = ("卫健_出生医学证明_20261120.csv", "民政_婚姻登记_20261120.jsonl")
GROUP_B = ("卫健_死亡医学证明_20261120.csv",)
MART = "topic.population_by_division_age_sex"

pytestmark = pytest.mark.slow


def _hangzhou_deaths(home: Path, out: Path, *, every: int, offset: int) -> None:
    """A deaths file for some living persons registered in Hangzhou (3301), so the analyst sees a change."""
    import csv
    import io

    from lake.catalog import load_catalog

    people = (delta.read(home / "lake" / "base" / "population")
              .filter(pl.col("alive") & pl.col("hukou_division").str.starts_with("3301")).sort("resident_id"))
    chosen = people.gather_every(every, offset=offset)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([item.source for item in load_catalog().dataset("deaths").items])
    for index, row in enumerate(chosen.iter_rows(named=True)):
        sex = "男" if row["sex"] == "1" else "女"
        writer.writerow([f"CONC{offset}{index:07d}", row["resident_id"], row["name"], sex, row["birth_date"],
                         "2026-11-21", row["hukou_division"], "I21.9"])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"卫健_死亡医学证明_2999123{offset}.csv").write_bytes(buffer.getvalue().encode("utf-8-sig"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from govlake.generate import generate
    from lake.ingest import ingest
    from transforms.build import build

    root = tmp_path_factory.mktemp("concurrency")
    exports = root / "exports"
    generate(exports, persons=PERSONS, seed=SEED)
    groups = {"a": root / "group-a", "b": root / "group-b"}
    for group, names in (("a", GROUP_A), ("b", GROUP_B)):
        groups[group].mkdir()
        for name in names:
            shutil.move(exports / name, groups[group] / name)
    start = Home(root / "start").ensure()
    ingest(start, [exports])
    build(start)
    _hangzhou_deaths(start.root, groups["a"], every=3, offset=0)
    _hangzhou_deaths(start.root, groups["b"], every=3, offset=1)
    # the same files, one after the other, then a full build: what the concurrent run must end as
    sequential = root / "sequential"
    copy_home(start.root, sequential)
    ingest(Home(sequential), [groups["a"]])
    ingest(Home(sequential), [groups["b"]])
    build(Home(sequential), full=True)
    return {"start": start.root, "sequential": sequential, **groups}


class Readers:
    """Three users querying in three processes (tests/faults/query_loop.py) until stopped."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stop_file = folder / "stop"
        self.processes: list[subprocess.Popen[str]] = []
        self.outputs = {user: folder / f"{user}.jsonl" for user in QUERIES}

    def start(self, home: Path) -> None:
        for user, out in self.outputs.items():
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "tests.faults.query_loop", str(home), user, str(self.stop_file), str(out)],
                cwd=Path(__file__).parents[2], stderr=subprocess.PIPE, text=True))

    def stop(self) -> list[str]:
        """Stop the readers; return the stderr of any that failed."""
        self.stop_file.touch()
        failed = []
        for process in self.processes:
            _, stderr = process.communicate(timeout=120)
            if process.returncode != 0:
                failed.append(stderr[-2000:])
        self.processes = []
        return failed

    def results(self, user: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.outputs[user].read_text().splitlines()]


@pytest.fixture
def readers(tmp_path: Path) -> Iterator[Readers]:
    started = Readers(tmp_path)
    yield started
    started.stop()


def _expected_pairs(home: Path, user: str) -> set[tuple[int, int]]:
    """For every build in the manifest: the pair ``user``'s query must give on that build's versions."""
    builds = delta.read(home / "lake" / "system" / "builds")
    pairs = set()
    for outputs in builds["outputs"]:
        versions = json.loads(outputs)

        def table(name: str) -> pl.DataFrame:
            return delta.read(home / "lake" / Path(*name.split(".", 1)), version=versions[name])

        structure = table(MART)
        if user == "hz_analyst":
            population = table("base.population")
            a = population.filter(pl.col("alive") & pl.col("hukou_division").str.starts_with("3301")).height
            b = structure.filter((pl.col("division_level") == 2) & pl.col("division").str.starts_with("3301"))
            pairs.add((a, int(b["hukou_persons"].sum())))
            continue
        prefix = "33" if user == "zj_leader" else ""
        vital = table("topic.births_deaths_by_month")
        alive = structure.filter((pl.col("division_level") == 1) & pl.col("division").str.starts_with(prefix))
        deaths = vital.filter((pl.col("division_level") == 1) & pl.col("division").str.starts_with(prefix))
        pairs.add((int(alive["hukou_persons"].sum()), int(deaths["deaths_registered"].sum())))
    return pairs


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    columns = [c for c in frame.columns if not isinstance(frame.schema[c], pl.Binary | pl.Struct | pl.List)]
    return frame.select(columns).sort(columns, nulls_last=True)


def test_two_ingests_a_build_and_three_readers_at_once(lab: dict[str, Path], readers: Readers,
                                                         tmp_path: Path) -> None:
    home = tmp_path / "home"
    copy_home(lab["start"], home)
    readers.start(home)
    time.sleep(1.0)
    processes = [
        subprocess.Popen([str(harness.GOVLAKE), "--home", str(home), *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for args in (["ingest", str(lab["a"])], ["ingest", str(lab["b"])], ["build"])
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-2000:]
    # a second build takes in whatever the first did not see yet
    finish = harness.run(home, ["build"])
    assert finish.returncode == 0, finish.stderr[-2000:]
    time.sleep(1.0)
    assert not readers.stop()

    # nothing lost or duplicated: raw zone and log as after the sequential run (Delta versions aside:
    # two processes appending to one raw table interleave their commits)
    reference, got = harness.snapshot(lab["sequential"]), harness.snapshot(home)
    for name in [n for n in reference if n.startswith("raw.") or n in ("system.quarantine",)]:
        assert reference[name] == got[name], f"{name} differs from the sequential run"
    log = [delta.read(h / "lake" / "system" / "ingest_log").drop("started_at", "finished_at", "raw_version")
           for h in (lab["sequential"], home)]
    assert _comparable(log[0]).equals(_comparable(log[1])), "the ingestion log differs from the sequential run"
    assert log[1]["batch_id"].n_unique() == log[1].height, "a batch is logged twice"
    # the libraries after incremental builds under load equal a full build of the same raw data
    for name in [n for n in reference if n.startswith(("base.", "topic."))]:
        path = Path(*name.split(".", 1))
        left = delta.read(home / "lake" / path)
        right = delta.read(lab["sequential"] / "lake" / path)
        if name == "base.person_links":  # match weights come from a model refit on all records in a full build
            left, right = (f.select("record_id", "resident_id", "method") for f in (left, right))
        if name == "topic.aggregation_by_department":  # when each department's files were ingested
            left, right = (f.drop("last_ingested_at") for f in (left, right))
        assert _comparable(left).equals(_comparable(right)), f"{name} differs from a full build"

    # every governed result is one build's, never a mix
    seen_states = 0
    for user in QUERIES:
        results = readers.results(user)
        errors = [r["error"] for r in results if "error" in r]
        assert not errors, f"{user}: {errors[:3]}"
        pairs = {(r["a"], r["b"]) for r in results}
        expected = _expected_pairs(home, user)
        assert results and pairs <= expected, f"{user} saw {pairs - expected}, which no build produced ({expected})"
        seen_states = max(seen_states, len(pairs))
    assert seen_states >= 2, "the readers never saw a new build land; the test did not test anything"
    _vacuumed_and_healthy(home)


def _vacuumed_and_healthy(home: Path) -> None:
    """Once vacuum removed what failed commit attempts left, the doctor finds nothing."""
    from govlake.doctor import diagnose
    from lake.vacuum import vacuum

    vacuum(Home(home), apply=True)
    diagnosis = diagnose(Home(home))
    assert diagnosis.ok, [(p.check, p.subject, p.message) for p in diagnosis.problems]


def _paused_build(home: Path, pause: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`govlake build --full` that stops just before it commits the population mart, until told to go on."""
    process = subprocess.Popen(
        [str(harness.GOVLAKE), "--home", str(home), "build", "--full"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, **env, "GOVLAKE_PAUSE_AT": f"delta.commit.before@{MART}:1:{pause}"})
    deadline = time.monotonic() + 300
    while not (pause / "paused").exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the build never reached the pause point"
        time.sleep(0.05)
    return process


def _commit_meanwhile(home: Path) -> None:
    """Another writer commits to the mart while the build is paused with its snapshot loaded."""
    path = home / "lake" / Path(*MART.split(".", 1))
    done = subprocess.run([sys.executable, "-c", (
        "import sys; from pathlib import Path; from lake import delta; p = Path(sys.argv[1]); "
        "delta.write(p, delta.read(p).to_arrow(), mode='overwrite')"), str(path)],
        capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_conflicting_commit_is_retried(lab: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "home"
    copy_home(lab["start"], home)
    build = _paused_build(home, tmp_path / "pause", {})
    _commit_meanwhile(home)
    (tmp_path / "pause" / "resume").touch()
    _, stderr = build.communicate(timeout=600)
    assert build.returncode == 0, stderr[-2000:]
    history = delta.read(home / "lake" / "system" / "builds")
    assert history.height == 2


def test_past_the_retry_bound_the_command_fails_with_status_3_and_readers_keep_the_last_build(
        lab: dict[str, Path], tmp_path: Path) -> None:
    from views.session import table_locations

    home = tmp_path / "home"
    copy_home(lab["start"], home)
    before = table_locations(Home(home), [MART, "base.population"])
    build = _paused_build(home, tmp_path / "pause", {"GOVLAKE_COMMIT_ATTEMPTS": "1"})
    _commit_meanwhile(home)
    (tmp_path / "pause" / "resume").touch()
    _, stderr = build.communicate(timeout=600)
    assert build.returncode == 3, stderr[-2000:]
    assert "Traceback" not in stderr
    assert f"Error: table {MART}: 1 attempt(s) to commit all conflicted with concurrent writers" in stderr
    assert "re-running the command finishes the work" in stderr
    # never half-done for readers: no manifest row, so they still read the last finished build
    assert delta.read(home / "lake" / "system" / "builds").height == 1
    assert table_locations(Home(home), [MART, "base.population"]) == before
    again = harness.run(home, ["build", "--full"])
    assert again.returncode == 0, again.stderr[-2000:]
    _vacuumed_and_healthy(home)
