"""``govlake doctor``: each problem is found, reported with its fix, and the fix makes it go away.

The problems are made for real: a process killed by SIGKILL at a fault point mid-ingest or
mid-build, an audit entry edited after the fact, an extract past its expiry, a policy file
with an error (in a copy of the source tree), less free disk than the threshold.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
from pathlib import Path

import pytest

from govlake.doctor import diagnose
from govlake.home import Home
from tests.conftest import copy_home
from tests.faults import harness


@pytest.fixture
def home(built_home: Home, tmp_path: Path) -> Path:
    root = tmp_path / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports")
    return root


def _doctor(home: Path) -> tuple[int, dict[str, object]]:
    done = harness.run(home, ["doctor", "--json"])
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def _problems(report: dict[str, object], check: str) -> list[dict[str, str]]:
    return [p for p in report["problems"] if p["check"] == check]  # type: ignore[union-attr,index]


def _run_fix(home: Path, fix: str) -> None:
    """Run the `govlake ...` command a problem names as its fix."""
    command = shlex.split(re.search(r"`govlake ([^`]+)`", fix).group(1))  # type: ignore[union-attr]
    done = harness.run(home, command)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_healthy_home(home: Path) -> None:
    code, report = _doctor(home)
    assert code == 0 and report["ok"] is True and report["problems"] == []
    assert set(report["checks"]) == {"environment", "catalog", "policies", "tables", "builds", "ingest_log",  # type: ignore[arg-type]
                                     "audit", "leftovers", "extracts", "disk"}
    text = harness.run(home, ["doctor"])
    assert text.returncode == 0 and text.stdout.rstrip().endswith("no problems found")


def test_an_interrupted_ingest_is_found_and_finished(home: Path, tmp_path: Path) -> None:
    from govlake.bench.build import one_percent_batch

    one_percent_batch(home, tmp_path / "batch")
    killed = harness.run(home, ["ingest", str(tmp_path / "batch")],
                         env={"GOVLAKE_KILL_AT": "delta.commit.after@raw.deaths:1"})
    assert killed.killed
    code, report = _doctor(home)
    problems = _problems(report, "ingest_log")
    assert code == 1 and len(problems) == 1, report
    assert "landed partly but is not in the ingestion log" in problems[0]["message"]
    assert problems[0]["fix"] == f"`govlake ingest {tmp_path / 'batch' / '卫健_死亡医学证明_29991231.csv'}` finishes it"
    _run_fix(home, problems[0]["fix"])
    assert _doctor(home)[0] == 0


def test_an_interrupted_build_is_found_and_finished_and_its_leftovers_vacuumed(home: Path) -> None:
    killed = harness.run(home, ["build", "--full"],
                         env={"GOVLAKE_KILL_AT": "delta.commit.after@topic.population_by_division_age_sex:1"})
    assert killed.killed
    code, report = _doctor(home)
    problems = _problems(report, "builds")
    assert code == 1 and problems, report
    assert all(p["fix"] == "`govlake build` finishes it" for p in problems)
    assert any("readers still see version 0" in p["message"] for p in problems)
    _run_fix(home, problems[0]["fix"])
    code, report = _doctor(home)
    assert [p["check"] for p in report["problems"]] in ([], ["leftovers"])  # type: ignore[union-attr]
    if report["problems"]:
        _run_fix(home, _problems(report, "leftovers")[0]["fix"])
    assert _doctor(home)[0] == 0


def test_an_edited_audit_entry_is_found(home: Path) -> None:
    from lake import audit

    audit.record_event(Home(home), user="ops", action="table.restore", detail="{}")
    spool = home / "spool" / "audit.jsonl"
    spool.write_text(spool.read_text(encoding="utf-8").replace('"user":"ops"', '"user":"someone_else"'),
                     encoding="utf-8")
    code, report = _doctor(home)
    problems = _problems(report, "audit")
    assert code == 1 and len(problems) == 1 and "was edited" in problems[0]["message"]
    assert "restore system.audit from a backup" in problems[0]["fix"]


def test_an_extract_past_its_expiry_is_found(home: Path) -> None:
    import duckdb

    from views.publish import publish

    extract = publish("hz_analyst", home=Home(home))
    extract.path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    con = duckdb.connect(str(extract.path))
    con.execute("UPDATE _govlake_extract SET expires_at = TIMESTAMPTZ '2026-01-01 00:00:00+00'")
    con.close()
    extract.path.chmod(0o444)
    code, report = _doctor(home)
    problems = _problems(report, "extracts")
    assert code == 1 and len(problems) == 1
    assert "expired at 2026-01-01 00:00 UTC" in problems[0]["message"]
    assert problems[0]["fix"].startswith(f"rm -f '{extract.path}'")
    extract.path.unlink()
    assert _doctor(home)[0] == 0


def test_low_disk_space_is_a_problem(home: Path) -> None:
    diagnosis = diagnose(Home(home), min_free_bytes=1 << 62)
    assert [p.check for p in diagnosis.problems] == ["disk"]
    assert "`govlake vacuum --apply`" in diagnosis.problems[0].fix


def test_an_invalid_policy_file_is_named_with_its_key(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    for package in ("govlake", "lake", "transforms", "views", "policies", "app"):
        shutil.copytree(harness.REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    users = source / "policies" / "users.toml"
    users.write_text(users.read_text(encoding="utf-8").replace('roles = ["analyst"]', 'roles = ["analyts"]', 1),
                     encoding="utf-8")
    overlay = harness.site_overlay(tmp_path / "site", without=("__editable__", "govlake"))
    done = harness.govlake_in(overlay, "--home", str(home), "doctor", "--json", source=source)
    assert done.returncode == 1, done.stderr[-2000:]
    problems = _problems(json.loads(done.stdout), "policies")
    assert len(problems) == 1 and "users.toml" in problems[0]["subject"] and "analyts" in problems[0]["message"]


def test_the_doctor_never_creates_a_home(tmp_path: Path) -> None:
    done = harness.run(tmp_path / "nowhere", ["doctor"])
    assert done.returncode == 1 and done.stderr.startswith("Error: there is no GovLake home at")
    assert not (tmp_path / "nowhere").exists()
    assert os.listdir(tmp_path) == []
