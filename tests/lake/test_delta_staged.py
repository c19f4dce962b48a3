"""Staged appends (lake/delta.py): Parquet written first, invisible, then added in ONE commit."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from govlake.errors import StateError
from govlake.home import Home
from lake import delta
from lake.extensions import connect
from lake.vacuum import vacuum


def _rows(start: int, count: int, *, with_note: bool = False) -> pa.Table:
    columns: dict[str, pa.Array] = {
        "resident_id": pa.array([f"33010619900307{i:04d}" for i in range(start, start + count)], pa.large_string()),
        "county": pa.array(["330106" if i % 2 else "330102" for i in range(start, start + count)], pa.large_string()),
        "_batch_id": pa.array([f"b{start}"] * count, pa.large_string()),
        "_source_row": pa.array(range(start, start + count), pa.int64()),
    }
    if with_note:
        columns["note"] = pa.array(["x" * 100] * count, pa.large_string())  # too long for statistics
    return pa.table(columns)


COMMENTS = {"resident_id": "公民身份号码", "county": "区县", "note": "备注"}


def _stage(path: Path, rows: pa.Table) -> delta.Staging:
    staging = delta.Staging(path, rows.schema, dictionary=["county", "_batch_id"],
                            statistics=["resident_id", "_batch_id", "_source_row", "note"])
    staging.write(rows)
    staging.close()
    return staging


@pytest.fixture
def table(tmp_path: Path) -> Path:
    Home(tmp_path / "home").ensure()
    return tmp_path / "home" / "lake" / "raw" / "people"


def test_staged_files_are_invisible_until_one_commit_adds_them_all(table: Path) -> None:
    first, second = _stage(table, _rows(0, 50)), _stage(table, _rows(50, 30))
    assert len(list(table.glob("*.parquet"))) == 2 and not delta.is_table(table)  # written, not a table yet
    report = vacuum(Home(table.parents[2]), apply=True)  # a live writer's files are not orphans
    assert "raw.people" in report.skipped and len(list(table.glob("*.parquet"))) == 2

    version, landed = delta.commit_staged(
        table, [delta.Staged(("app/a", 1), first.files), delta.Staged(("app/b", 1), second.files)],
        schema=first.schema, description="人员（测试）", comments=COMMENTS)
    first.release()
    second.release()
    assert version == 0 and len(landed) == 2
    frame = delta.read(table).sort("_source_row")
    assert frame["_source_row"].to_list() == list(range(80))
    assert delta.txn_version(table, "app/a") == delta.txn_version(table, "app/b") == 1
    [commit] = (table / "_delta_log").glob("*.json")
    actions = [json.loads(line) for line in commit.read_text(encoding="utf-8").splitlines()]
    assert [a["txn"]["appId"] for a in actions if "txn" in a] == ["app/a", "app/b"]
    assert len([a for a in actions if "add" in a]) == 2
    meta = delta.metadata(table)
    assert meta["description"] == "人员（测试）" and meta["columns"]["county"] == "区县"
    assert "view" not in str(DeltaTable(str(table)).schema().to_arrow()).lower()
    con = connect(":memory:", extensions=("delta",))
    try:  # DuckDB's Delta reader takes the add actions and their statistics as they are
        assert con.execute(f"SELECT count(*), max(_source_row) FROM delta_scan('{table}')").fetchone() == (80, 79)
        assert con.execute(f"SELECT count(*) FROM delta_scan('{table}') WHERE _source_row >= 60").fetchone() == (20,)
    finally:
        con.close()
    assert not vacuum(Home(table.parents[2])).files  # nothing left over


def test_a_part_whose_transaction_is_recorded_is_left_out_and_its_files_deleted(table: Path) -> None:
    first = _stage(table, _rows(0, 10))
    delta.commit_staged(table, [delta.Staged(("app/a", 1), first.files)], schema=first.schema)
    first.release()
    again, other = _stage(table, _rows(0, 10)), _stage(table, _rows(10, 5))  # an interrupted run's re-run
    version, landed = delta.commit_staged(
        table, [delta.Staged(("app/a", 1), again.files), delta.Staged(("app/c", 1), other.files)],
        schema=again.schema)
    again.release()
    other.release()
    assert version == 1 and [part.txn for part in landed] == [("app/c", 1)]
    assert delta.read(table).height == 15  # the recorded part did not land twice
    assert not (table / again.files[0].path).exists()  # and its files are gone: nobody ever saw them
    assert delta.commit_staged(table, [delta.Staged(("app/c", 1), [])], schema=again.schema) == (1, [])


def test_columns_the_table_lacks_are_added_with_their_comments(table: Path) -> None:
    first = _stage(table, _rows(0, 4))
    delta.commit_staged(table, [delta.Staged(("app/a", 1), first.files)], schema=first.schema, comments=COMMENTS)
    second = _stage(table, _rows(4, 4, with_note=True))  # the catalog gained an item
    delta.commit_staged(table, [delta.Staged(("app/b", 1), second.files)], schema=second.schema,
                        comments=COMMENTS)
    frame = delta.read(table).sort("_source_row")
    assert frame["note"].to_list() == [None] * 4 + ["x" * 100] * 4
    assert delta.metadata(table)["columns"]["note"] == "备注"


def test_file_statistics_come_from_the_footer_and_leave_long_text_out(table: Path) -> None:
    low, high = _stage(table, _rows(0, 100, with_note=True)), _stage(table, _rows(500, 100, with_note=True))
    delta.commit_staged(table, [delta.Staged(("app/a", 1), low.files), delta.Staged(("app/b", 1), high.files)],
                        schema=low.schema)
    stats = [json.loads(f.stats) for f in low.files + high.files]
    assert [s["numRecords"] for s in stats] == [100, 100]
    assert stats[0]["minValues"] == {"resident_id": "330106199003070000", "_batch_id": "b0", "_source_row": 0}
    assert stats[1]["maxValues"]["_source_row"] == 599
    assert "county" not in stats[0]["minValues"]  # not asked for
    assert "note" not in stats[0]["minValues"] and stats[0]["nullCount"]["note"] == 0  # too long to keep
    # readers that skip files by these statistics still find every row
    assert delta.scan(table).filter(pl.col("_source_row") >= 550).collect().height == 50
    assert delta.scan(table).filter(pl.col("resident_id") == "330106199003070042").collect().height == 1


def test_discard_deletes_the_files_and_frees_the_table_for_vacuum(table: Path) -> None:
    staging = delta.Staging(table, _rows(0, 1).schema)
    staging.write(_rows(0, 5))
    staging.write(_rows(5, 5))  # one file, two row groups
    [file] = staging.close()
    assert file.rows == 10 and (table / file.path).exists()
    staging.discard()
    staging.discard()  # harmless twice
    assert not list(table.glob("*.parquet"))
    assert "raw.people" not in vacuum(Home(table.parents[2])).skipped


def test_a_write_with_several_transactions_is_skipped_only_when_all_are_recorded(table: Path) -> None:
    log = table.parent.parent / "system" / "log"
    row = pa.table({"batch": pa.array(["a"], pa.large_string())})
    delta.write(log, row, txn=("app/a", 1), txns=[("app/b", 1)])
    assert delta.write(log, row, txn=("app/a", 1), txns=[("app/b", 1)]) == 0  # both recorded: nothing written
    with pytest.raises(StateError, match="cannot be split"):
        delta.write(log, row, txn=("app/a", 1), txns=[("app/c", 1)])
    assert delta.read(log).height == 1


def test_stagings_of_one_table_share_one_writer_lock(table: Path) -> None:
    """A folder of a thousand files of one dataset holds one lock file open, not a thousand."""
    stagings = [_stage(table, _rows(start, 2)) for start in range(0, 20, 2)]
    assert delta._HELD[str(table)][0] == 10
    assert "raw.people" in vacuum(Home(table.parents[2])).skipped
    for staging in stagings[:-1]:
        staging.discard()
    assert delta._HELD[str(table)][0] == 1
    stagings[-1].release()
    stagings[-1].release()  # giving it back twice is harmless
    assert str(table) not in delta._HELD
    assert "raw.people" not in vacuum(Home(table.parents[2])).skipped
