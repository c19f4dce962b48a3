"""``govlake restore TABLE --version N``: Delta RESTORE, recorded, audited, pinned for readers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from govlake.errors import NotFound, StateError
from govlake.home import Home
from lake import audit, delta
from lake.restore import history, restore
from tests.conftest import copy_home
from transforms import manifest

GOVLAKE = Path(sys.executable).with_name("govlake")
MART = "topic.population_by_division_age_sex"


@pytest.fixture
def home(built_home: Home, tmp_path: Path) -> Home:
    root = tmp_path / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports")
    return Home(root)


def _spoil(home: Home) -> tuple[Path, pl.DataFrame]:
    """A bad rewrite of the mart (half its rows), as a faulty build step would commit it."""
    path = home.table_path(*MART.split("."))
    good = delta.read(path)
    delta.write(path, good.head(good.height // 2).to_arrow(), mode="overwrite")
    return path, good


def _restore_cli(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GOVLAKE), "--home", str(home.root), "restore", *args], capture_output=True, text=True)


def test_restore_rolls_back_records_audits_and_pins(home: Home) -> None:
    from views.session import open_session, table_locations

    path, good = _spoil(home)
    before = delta.version(path)
    done = _restore_cli(home, MART, "--version", "0", "--user", "ops_zhang")
    assert done.returncode == 0, done.stderr
    assert f"restored {MART} to the data of version 0" in done.stdout and "governed readers now read it" in done.stdout
    assert delta.read(path).sort(good.columns).equals(good.sort(good.columns))
    assert delta.version(path) == (before or 0) + 1
    newest = history(home, MART)[0]
    assert newest["operation"] == "RESTORE" and newest["restored_by"] == "ops_zhang"
    event = [e for e in audit.entries(home) if e["statement_kind"] == "table.restore"][-1]
    assert event["user"] == "ops_zhang" and event["decision"] == "allowed" and '"from_version": 1' in event["sql"]
    latest = manifest.latest(home)
    assert latest is not None and latest.kind == "restore" and latest.outputs[MART] == delta.version(path)
    assert table_locations(home, [MART])[MART].version == delta.version(path)
    with open_session("national_leader", home=home) as session:
        rows = session.sql("SELECT count(*) AS n FROM population_structure")["n"][0]
    assert rows == good.height
    audit.verify(home)


def test_the_next_build_with_new_batches_after_a_restore_is_full(home: Home, tmp_path: Path) -> None:
    from govlake.bench.build import one_percent_batch
    from lake.ingest import ingest
    from transforms.build import build

    _spoil(home)
    assert _restore_cli(home, MART, "--version", "0").returncode == 0
    assert build(home).kind == "up_to_date"  # nothing new: the restored table stays as restored
    one_percent_batch(home.root, tmp_path / "batch")
    ingest(home, [tmp_path / "batch"])
    assert build(home).kind == "full"


def test_a_restore_that_cannot_be_done_is_refused_and_audited(home: Home) -> None:
    _spoil(home)
    with pytest.raises(NotFound, match=r"did you mean 'topic\.population_by_division_age_sex'"):
        restore(home, "topic.population_by_divison_age_sex", 0, user="ops")
    with pytest.raises(NotFound, match="has versions 0 to 1; there is no version 7"):
        restore(home, MART, 7, user="ops")
    with pytest.raises(StateError, match="is at version 1 already"):
        restore(home, MART, 1, user="ops")
    with pytest.raises(StateError, match="system zone, which is not restored"):
        restore(home, "system.audit", 0, user="ops")
    refused = [e for e in audit.entries(home) if e["statement_kind"] == "table.restore"]
    assert [e["decision"] for e in refused] == ["refused"] * 4
    cli = _restore_cli(home, "base.nothing", "--version", "0")
    assert cli.returncode == 1 and cli.stderr.startswith("Error: there is no table base.nothing")


def test_a_vacuumed_version_cannot_be_restored(home: Home) -> None:
    import json
    import time

    from lake.vacuum import vacuum

    path, _ = _spoil(home)
    delta.write(path, delta.read(path).to_arrow(), mode="overwrite")
    for commit in sorted((path / "_delta_log").glob("*.json"))[1:]:  # date the removals 200 h back
        actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
        for action in actions:
            if "remove" in action:
                action["remove"]["deletionTimestamp"] = int((time.time() - 200 * 3600) * 1000)
        commit.write_text("".join(json.dumps(a) + "\n" for a in actions))
    vacuum(home, apply=True)
    with pytest.raises(StateError, match=r"version 1 of table .* can no longer be restored"):
        restore(home, MART, 1, user="ops")


def test_list_shows_the_versions(home: Home) -> None:
    _spoil(home)
    listed = _restore_cli(home, MART, "--list")
    assert listed.returncode == 0
    assert "version     1" in listed.stdout and "version     0" in listed.stdout
