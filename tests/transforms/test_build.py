"""``govlake build`` on the demo home: reproducible, versioned, described and partitioned tables.

Uses the session's ``built_home`` (read only) and ``rebuilt_home``, a copy of it built a second
time by another ``govlake build`` process (tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from govlake.cli import main
from govlake.home import Home
from tests.conftest import Rebuilt, built_tables
from transforms.build import build
from transforms.tables import all_tables


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in a fixed order: Delta's physical row order is not a contract, the content is."""
    return frame.sort(frame.columns, nulls_last=True)


def differing_columns(first: pl.DataFrame, second: pl.DataFrame) -> list[str]:
    """Columns whose multiset of values differs (to say where two tables disagree)."""
    return [column for column in first.columns
            if not first[column].sort(nulls_last=True).equals(second[column].sort(nulls_last=True))]


def path_of(home: Home, name: str) -> str:
    return str(home.table_path(*name.split(".", 1)))


def test_every_declared_table_is_built(built_home: Home) -> None:
    """The demo exercises every step, so each table of the registry exists and nothing else does."""
    assert set(built_tables(built_home)) == set(all_tables())


def test_building_twice_gives_identical_tables(rebuilt_home: Rebuilt) -> None:
    first, second = rebuilt_home.first_rows, rebuilt_home.second_rows
    assert set(first) == set(second) == set(all_tables())
    for name in sorted(first):
        assert second[name].schema == first[name].schema, name
        assert second[name].height == first[name].height, name
        assert canonical(second[name]).equals(canonical(first[name])), (
            f"{name}: the second build differs in {differing_columns(first[name], second[name])}")


def test_building_twice_keeps_delta_schema_and_metadata(rebuilt_home: Rebuilt) -> None:
    """The Delta schema (types, nullability, column comments) and table metadata are reproduced too."""
    for name, version in rebuilt_home.first_versions.items():
        path = path_of(rebuilt_home.home, name)
        before, after = DeltaTable(path, version=version), DeltaTable(path)
        assert after.schema() == before.schema(), name
        assert [field.metadata for field in after.schema().fields] == [
            field.metadata for field in before.schema().fields], name
        old, new = before.metadata(), after.metadata()
        assert (new.name, new.description, new.partition_columns) == (
            old.name, old.description, old.partition_columns), name


def test_each_build_is_a_new_delta_version_shown_by_tables(rebuilt_home: Rebuilt,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(rebuilt_home.home.root), "tables", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    for name, version in rebuilt_home.first_versions.items():
        assert DeltaTable(path_of(rebuilt_home.home, name)).version() == version + 1, name
        assert listed[name]["version"] == version + 1, name
        assert listed[name]["rows"] == rebuilt_home.second_rows[name].height, name


def test_the_manifest_records_each_builds_versions(rebuilt_home: Rebuilt) -> None:
    """system.builds names, per build, the version of every table it wrote: a consistent set to pin."""
    builds = pl.read_delta(str(rebuilt_home.home.table_path("system", "builds"))).sort("build_id")
    assert builds["kind"].to_list() == ["full", "full"]
    first, second = (json.loads(outputs) for outputs in builds["outputs"])
    assert first == rebuilt_home.first_versions
    assert second == {name: version + 1 for name, version in rebuilt_home.first_versions.items()}


def test_building_again_without_new_batches_changes_nothing(rebuilt_home: Rebuilt) -> None:
    home = rebuilt_home.home
    before = {name: DeltaTable(path_of(home, name)).version() for name in rebuilt_home.first_versions}
    report = build(home)
    assert report.kind == "up_to_date" and report.versions == before
    assert {name: DeltaTable(path_of(home, name)).version() for name in before} == before


def test_time_travel_reads_the_previous_build(rebuilt_home: Rebuilt) -> None:
    """read_delta(version=v) gives the first build's rows, from the first build's own files."""
    for name, version in rebuilt_home.first_versions.items():
        path = path_of(rebuilt_home.home, name)
        previous = pl.read_delta(path, version=version)
        assert canonical(previous).equals(canonical(rebuilt_home.first_rows[name])), name
        # An overwrite replaces every file: the old version really is read from the old files.
        old_files, new_files = set(DeltaTable(path, version=version).file_uris()), set(DeltaTable(path).file_uris())
        assert old_files and new_files and not old_files & new_files, name
        latest = DeltaTable(path).history(1)[0]
        assert latest["operation"] == "WRITE" and latest["govlake.build.as_of"], name


def test_tables_carry_description_and_column_comments(built_home: Home) -> None:
    """What notebook users see through deltalake: a description and a comment on every column."""
    for name, spec in all_tables().items():
        table = DeltaTable(path_of(built_home, name))
        meta = table.metadata()
        assert meta.name == name and meta.description == spec.description and meta.description.strip(), name
        uncommented = [field.name for field in table.schema().fields
                       if not (field.metadata or {}).get("comment", "").strip()]
        assert not uncommented, f"{name}: columns without a comment: {uncommented}"


def test_population_is_partitioned_by_province(built_home: Home) -> None:
    path = path_of(built_home, "base.population")
    table = DeltaTable(path)
    assert table.metadata().partition_columns == ["province"]
    partitions = {dict(partition)["province"] for partition in table.partitions()}
    provinces = set(pl.read_delta(path)["province"].drop_nulls().unique())
    assert partitions == provinces and len(provinces) > 1
    assert all(len(code) == 2 and code.isdigit() for code in provinces)
    # Reading one province prunes to its own files.
    some = sorted(provinces)[0]
    files = table.file_uris(file_pruning_predicate=f"province = '{some}'")
    assert files and all(f"province={some}/" in uri for uri in files)
    assert len(files) < len(table.file_uris())


def test_building_an_empty_home_says_what_to_do(tmp_path: Path) -> None:
    from govlake.errors import NotFound

    with pytest.raises(NotFound, match="no dataset has been ingested yet; run `govlake ingest PATH`"):
        build(Home(tmp_path / "empty").ensure())
