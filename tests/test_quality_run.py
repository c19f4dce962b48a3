"""``govlake quality run`` and ``report`` on a copy of the small demo home.

What a run records (counts that reconcile with the failing records, lineage on every failure,
departments by one source per data item), its history and the change since the previous run,
idempotency, and crash safety: a run killed between its two appends, or at a random moment,
finishes on the next run with the same end state.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.home import Home
from lake import delta
from lake.catalog import load_catalog
from lake.system import QUALITY_FAILURES, QUALITY_RESULTS
from tests.conftest import copy_home as copy_home_tree
from transforms.quality.derive import DIMENSIONS, STAGES
from transforms.quality.run import RunReport, run
from transforms.quality.scorecard import render, scorecard

RUN_DATE = dt.date(2026, 11, 22)
GOVLAKE = str(Path(sys.executable).with_name("govlake"))


def copy_home(source: Home, target: Path) -> Home:
    copy_home_tree(source.root, target, "cache", "locks")
    return Home(target)


def results_of(home: Home) -> pl.DataFrame:
    return delta.read(home.table_path("system", QUALITY_RESULTS.name))


def failures_of(home: Home) -> pl.DataFrame:
    return delta.read(home.table_path("system", QUALITY_FAILURES.name))


@pytest.fixture(scope="module")
def ran(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, RunReport]:
    """A copy of the demo home with one full quality run."""
    home = copy_home(built_home, tmp_path_factory.mktemp("quality") / "home")
    return home, run(home, run_date=RUN_DATE)


def test_a_run_records_results_that_reconcile_with_its_failures(ran: tuple[Home, RunReport]) -> None:
    home, report = ran
    assert report.status == "recorded"
    results, failures = results_of(home), failures_of(home)
    assert set(results["run_id"]) == set(failures["run_id"]) == {report.run_id}
    assert set(results["stage"]) == set(STAGES) and set(results["dimension"]) == set(DIMENSIONS)
    # One row per rule x dataset x batch.
    assert results.select("rule_id", "dataset", "batch_id").is_duplicated().sum() == 0
    # Every failed count is backed by exactly that many failing records.
    counted = results.group_by("rule_id", "dataset", "batch_id").agg(pl.col("failed").sum())
    listed = failures.group_by("rule_id", "dataset", "batch_id").agg(pl.len().alias("listed"))
    joined = counted.join(listed, on=["rule_id", "dataset", "batch_id"], how="full", nulls_equal=True, coalesce=True)
    assert joined.filter(pl.col("failed").fill_null(0) != pl.col("listed").fill_null(0)).is_empty()
    assert (results["failed"] <= results["checked"]).all() and (results["checked"] > 0).all()
    # Sample keys are keys of failing records of that row.
    sampled = results.filter(pl.col("failed") > 0).explode("sample_keys").drop_nulls("sample_keys")
    keys = failures.select("rule_id", "batch_id", pl.coalesce(
        "record_key", pl.concat_str([pl.lit("row:"), pl.col("source_row").cast(pl.String)])).alias("sample_keys"))
    assert sampled.join(keys, on=["rule_id", "batch_id", "sample_keys"], how="anti").is_empty()
    assert results.filter(pl.col("failed") > 0)["sample_keys"].list.len().min() >= 1  # type: ignore[operator]


def test_failures_name_batch_file_and_row(ran: tuple[Home, RunReport]) -> None:
    home, _ = ran
    failures = failures_of(home)
    record_level = failures.filter(~pl.col("rule_id").str.starts_with("timeliness.cycle.")
                                   & ~pl.col("rule_id").str.starts_with("contract.reconcile."))
    assert record_level.height > 0
    for column in ("batch_id", "source_file", "source_row", "department", "dimension", "detail"):
        assert record_level[column].null_count() == 0, column
    log = delta.read(home.table_path("system", "ingest_log"), columns=["batch_id"])
    assert record_level.join(log, on="batch_id", how="anti").is_empty()


def test_before_stage_reports_the_quarantine_and_reconciles(ran: tuple[Home, RunReport]) -> None:
    home, _ = ran
    results, failures = results_of(home), failures_of(home)
    quarantine = delta.read(home.table_path("system", "quarantine"))
    parsed = failures.filter(pl.col("rule_id").str.starts_with("contract."))
    assert parsed.height == quarantine.height > 0
    assert parsed.join(quarantine, on=["batch_id", "source_row"], how="anti").is_empty()
    reconcile = results.filter(pl.col("rule_id").str.starts_with("contract.reconcile."))
    assert reconcile.height == delta.read(home.table_path("system", "ingest_log")).height
    assert reconcile["failed"].sum() == 0


def test_departments_follow_one_source_per_data_item(ran: tuple[Home, RunReport]) -> None:
    home, _ = ran
    results = results_of(home)
    catalog = load_catalog()
    raw_rules = results.filter(~pl.col("rule_id").str.starts_with("consistency."))
    owners = pl.DataFrame({"dataset": list(catalog.datasets),
                           "owner": [d.provider.id for d in catalog.datasets.values()]})
    assert raw_rules.join(owners, on="dataset").filter(pl.col("department") != pl.col("owner")).is_empty()
    consistency = results.filter(pl.col("rule_id") == "consistency.population.name")
    # Names on marriage records (民政) disagreeing with the register go to 公安, the name's source.
    assert consistency.filter(pl.col("dataset") == "marriages").height > 0
    assert set(consistency["department"]) == {"public_security"}


def test_the_same_inputs_are_the_same_run(ran: tuple[Home, RunReport]) -> None:
    home, report = ran
    versions = {name: delta.version(home.table_path("system", name))
                for name in (QUALITY_RESULTS.name, QUALITY_FAILURES.name)}
    again = run(home, run_date=RUN_DATE)
    assert again.status == "already" and again.run_id == report.run_id
    assert {name: delta.version(home.table_path("system", name)) for name in versions} == versions


def deaths_file(home: Home, folder: Path, *, bad: int, good: int) -> Path:
    """A new deaths delivery: ``bad`` records with a wrong check character, ``good`` clean ones."""
    people = delta.read(home.table_path("base", "population"),
                        columns=["resident_id", "name", "birth_date", "residence_division", "alive"])
    chosen = people.filter(pl.col("alive")).sort("resident_id").head(bad + good)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([item.source for item in load_catalog().dataset("deaths").items])
    for index, row in enumerate(chosen.iter_rows(named=True)):
        resident_id = row["resident_id"]
        if index < bad:
            resident_id = resident_id[:17] + ("0" if resident_id[17] != "0" else "1")
        writer.writerow([f"QTEST{index:06d}", resident_id, row["name"], "男", row["birth_date"], "2026-11-21",
                         row["residence_division"], "I21.9"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "卫健_死亡医学证明_20261121.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


def test_history_and_the_change_since_the_previous_run(built_home: Home, tmp_path: Path) -> None:
    from lake.ingest import ingest

    home = copy_home(built_home, tmp_path / "home")
    first = run(home, run_date=RUN_DATE)
    card = scorecard(home)
    assert card.run_id == first.run_id and card.previous_run_id is None
    assert card.by_dataset["change"].is_null().all()

    ingest(home, [deaths_file(home, tmp_path / "new", bad=8, good=2)])
    second = run(home, datasets=["deaths"], run_date=RUN_DATE)
    assert second.status == "recorded" and second.run_id != first.run_id
    assert set(second.results["dataset"]) == {"deaths"}
    results = results_of(home)
    assert set(results["run_id"]) == {first.run_id, second.run_id}  # appended, history kept
    new_batch = second.results.filter(pl.col("rule_id") == "validity.element.deaths.resident_id").sort("failed")
    assert new_batch["failed"].max() == 8

    card = scorecard(home)
    assert (card.run_id, card.previous_run_id) == (second.run_id, first.run_id)
    deaths = card.by_dataset.filter(pl.col("dataset") == "deaths").row(0, named=True)
    assert deaths["change"] < 0 and deaths["score"] < deaths["previous_score"]
    hukou = card.by_dataset.filter(pl.col("dataset") == "hukou").row(0, named=True)
    assert hukou["change"] == 0  # a partial run leaves other datasets' figures as they were
    validity = card.by_dimension.filter(pl.col("dimension") == "validity").row(0, named=True)
    assert validity["change"] < 0
    text = render(card)
    assert f"Change since the previous run {first.run_id}" in text
    assert "By dimension" in text and "By department" in text and "By dataset" in text
    assert "pp" in text and "卫健" in text


def _run_cli(home: Home, *extra: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([GOVLAKE, "--home", str(home.root), "quality", "run", "--json",
                           "--date", RUN_DATE.isoformat(), *extra], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_run_killed_between_its_appends_finishes_on_the_next_run(ran: tuple[Home, RunReport],
                                                                    tmp_path: Path) -> None:
    """The state a crash after the failures commit leaves: the results commit never happened."""
    source, report = ran
    home = copy_home(source, tmp_path / "home")
    before_results, before_failures = results_of(home), failures_of(home)
    log = home.table_path("system", QUALITY_RESULTS.name) / "_delta_log"
    last = max(log.glob("*.json"))
    last.unlink()  # as if the process died before committing the results
    finished = _run_cli(home)
    assert finished["status"] == "recorded" and finished["run_id"] == report.run_id
    after_results, after_failures = results_of(home), failures_of(home)
    assert after_failures.height == before_failures.height  # the failures were not appended twice
    key = ["rule_id", "dataset", "batch_id"]
    assert after_results.sort(key, nulls_last=True).equals(before_results.sort(key, nulls_last=True))


@pytest.mark.faults
def test_a_run_killed_at_random_moments_ends_in_the_same_state(ran: tuple[Home, RunReport], tmp_path: Path) -> None:
    """SIGKILL ``govlake quality run`` at random points; re-running gives the uninterrupted result."""
    source, report = ran
    reference = results_of(source).drop("run_at").sort("rule_id", "dataset", "batch_id", nulls_last=True)
    failures = failures_of(source).height
    rng = random.Random(6)
    interrupted = 0
    for attempt in range(4):
        home = copy_home(source, tmp_path / f"home{attempt}")
        for name in (QUALITY_RESULTS.name, QUALITY_FAILURES.name):
            shutil.rmtree(home.table_path("system", name))
        process = subprocess.Popen([GOVLAKE, "--home", str(home.root), "quality", "run", "--date",
                                    RUN_DATE.isoformat()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        time.sleep(rng.uniform(0.3, 3.0))
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        interrupted += not delta.is_table(home.table_path("system", QUALITY_RESULTS.name))
        finished = _run_cli(home)
        assert finished["run_id"] == report.run_id
        again = _run_cli(home)
        assert again["status"] == "already"
        assert failures_of(home).height == failures
        got = results_of(home).drop("run_at").sort("rule_id", "dataset", "batch_id", nulls_last=True)
        assert got.equals(reference)
        assert results_of(home)["run_at"].n_unique() == 1
        assert failures_of(home)["run_at"].n_unique() == 1
    assert interrupted >= 2, "the kills should land before the run completes"


def test_commands_print_runs_reports_and_rules(ran: tuple[Home, RunReport], capsys: pytest.CaptureFixture[str]) -> None:
    home, report = ran
    assert main(["--home", str(home.root), "quality", "run", "--date", RUN_DATE.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"Quality run {report.run_id} already recorded" in out
    assert main(["--home", str(home.root), "quality", "report", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["run_id"] == report.run_id
    assert {row["dimension"] for row in card["by_dimension"]} == set(DIMENSIONS)
    assert {"by_department", "by_dataset", "overall"} <= set(card)
    assert main(["--home", str(home.root), "quality", "rules", "--dataset", "hukou"]) == 0
    out = capsys.readouterr().out
    assert "validity.element.hukou.resident_id" in out and "consistency.population.name" in out
    assert main(["--home", str(home.root), "quality", "run", "--dataset", "no_such_dataset"]) == 1
    assert "no dataset 'no_such_dataset'" in capsys.readouterr().err


def test_a_home_with_nothing_ingested_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path / "empty"), "quality", "run"]) == 1
    assert "govlake ingest" in capsys.readouterr().err
    assert main(["--home", str(tmp_path / "empty"), "quality", "report"]) == 0
    assert "No quality results yet" in capsys.readouterr().out


def test_the_commands_docs_quality_quotes_parse() -> None:
    """Every ``govlake ...`` line in docs/quality.md's code blocks is a valid command line."""
    import re
    import shlex

    from govlake.cli import build_parser

    text = (Path(__file__).parents[1] / "docs" / "quality.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(.*?)```", text, flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    commands = [line for line in lines if line.startswith("govlake ")]
    assert len(commands) >= 5
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])
        assert callable(args.func), command


def test_the_benchmark_scratch_home_reads_the_lake_and_writes_only_its_own(ran: tuple[Home, RunReport],
                                                                          tmp_path: Path) -> None:
    from govlake.bench.quality import built_persons, scratch_home

    source, report = ran
    assert built_persons(source) == 5_000
    versions = {name: delta.version(source.table_path("system", name))
                for name in (QUALITY_RESULTS.name, QUALITY_FAILURES.name)}
    scratch = scratch_home(source, tmp_path / "scratch")
    again = run(scratch, run_date=RUN_DATE)
    assert again.status == "recorded" and again.run_id == report.run_id  # the same inputs
    assert again.results.drop("run_at").sort("rule_id", "batch_id", nulls_last=True).equals(
        results_of(source).drop("run_at").sort("rule_id", "batch_id", nulls_last=True))
    assert {name: delta.version(source.table_path("system", name)) for name in versions} == versions
    assert not (scratch.table_path("system", QUALITY_RESULTS.name)).is_symlink()
