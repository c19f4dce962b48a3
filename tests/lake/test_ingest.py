"""Physical aggregation: contract, quarantine, idempotency, reconciliation, refusal."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from govlake.cli import main
from govlake.home import Home
from lake import delta
from lake.ingest import ingest
from tests.lake.conftest import HUKOU_ROWS


def raw(home: Home, dataset: str) -> pl.DataFrame:
    return delta.read(home.table_path("raw", dataset)).sort("_source_row")


def log(home: Home) -> pl.DataFrame:
    return delta.read(home.table_path("system", "ingest_log"))


def quarantine(home: Home) -> pl.DataFrame:
    return delta.read(home.table_path("system", "quarantine"))


def test_gbk_csv_lands_with_lineage_and_reconciled_counts(home, write_csv):
    path = write_csv("公安_户籍人口_20261120.csv", HUKOU_ROWS, encoding="gbk")
    [outcome] = ingest(home, [path])
    assert outcome.status == "loaded"
    assert outcome.encoding == "gbk"
    table = raw(home, "hukou")
    assert table.height == 2
    assert table["name"].to_list() == ["张三", "李四"]
    assert table["birth_date"].to_list() == ["1990-03-07", "1985/12/31"]  # raw keeps the text as sent
    assert table["_source_row"].to_list() == [2, 3]
    assert table["_source_sha256"].unique().to_list() == [hashlib.sha256(path.read_bytes()).hexdigest()]
    assert table["_batch_id"].unique().to_list() == [outcome.batch_id]
    entry = log(home).row(0, named=True)
    assert entry["rows_read"] == entry["rows_loaded"] + entry["rows_quarantined"] == 2
    assert entry["department"] == "public_security"


def test_table_metadata_is_visible_to_deltalake(home, write_csv):
    ingest(home, [write_csv("公安_户籍人口_20261120.csv", HUKOU_ROWS, encoding="gbk")])
    table = DeltaTable(str(home.table_path("raw", "hukou")))
    assert "户籍人口信息" in (table.metadata().description or "")
    comments = {f.name: (f.metadata or {}).get("comment") for f in table.schema().fields}
    assert comments["resident_id"].startswith("公民身份号码")
    assert comments["_batch_id"] == "批次标识"
    # stored as plain strings, not string_view, for Arrow-schema readers
    assert "view" not in str(table.schema().to_arrow()).lower()


def test_reingesting_the_same_file_adds_nothing_and_says_so(home, write_csv):
    path = write_csv("公安_户籍人口_20261120.csv", HUKOU_ROWS, encoding="gbk")
    ingest(home, [path])
    version = delta.version(home.table_path("raw", "hukou"))
    [again] = ingest(home, [path])
    assert again.status == "already"
    assert "already ingested" in again.message
    assert raw(home, "hukou").height == 2
    assert log(home).height == 1
    assert delta.version(home.table_path("raw", "hukou")) == version


def test_utf8_bom_and_full_width_headers_are_accepted(home, write_csv):
    rows = [{(k if k != "联系电话" else " 联系电话 "): v for k, v in r.items()} for r in HUKOU_ROWS]
    path = write_csv("公安_户籍人口_bom.csv", rows, encoding="utf-8-sig")
    [outcome] = ingest(home, [path])
    assert outcome.status == "loaded" and outcome.encoding == "utf-8-sig"
    assert raw(home, "hukou")["phone"].to_list() == ["13800000000", None]


def test_missing_required_column_refuses_the_file_and_writes_nothing(home, write_csv):
    rows = [{k: v for k, v in r.items() if k != "姓名"} for r in HUKOU_ROWS]
    path = write_csv("公安_户籍人口_bad.csv", rows)
    [outcome] = ingest(home, [path])
    assert outcome.status == "refused"
    assert "姓名 (name)" in outcome.message and str(path) in outcome.message
    assert not delta.is_table(home.table_path("raw", "hukou"))
    assert not delta.is_table(home.table_path("system", "ingest_log"))
    assert not delta.is_table(home.table_path("system", "quarantine"))


def test_wrong_dataset_is_refused_with_a_suggestion(home, write_jsonl):
    path = write_jsonl("marriages.jsonl", [{"登记证字号": "J1", "登记类型": "结婚", "登记日期": "2020-01-01",
                                            "男方身份号码": "x", "女方身份号码": "y"}])
    [outcome] = ingest(home, [path], dataset="hukou")
    assert outcome.status == "refused"
    assert "marriages" in outcome.message
    assert not delta.is_table(home.table_path("raw", "hukou"))


def test_unreadable_encoding_is_refused(home, tmp_path):
    path = tmp_path / "公安_户籍人口_binary.csv"
    path.write_bytes(bytes(range(128, 256)) * 200 + b"\n" + bytes(range(128, 256)) * 50)
    [outcome] = ingest(home, [path])
    assert outcome.status == "refused"
    assert "encoding" in outcome.message
    assert not delta.is_table(home.table_path("raw", "hukou"))


def test_malformed_rows_go_to_quarantine_with_reason_and_text(home, write_csv):
    broken = ["330106199003071236,只有两列", ",无号码,男,1990-01-01,汉族,330106,,330106,未婚,正常,,,"]
    path = write_csv("公安_户籍人口_q.csv", HUKOU_ROWS, encoding="gbk", extra_lines=broken)
    [outcome] = ingest(home, [path])
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (4, 2, 2)
    rows = quarantine(home).sort("source_row")
    assert rows["source_row"].to_list() == [4, 5]
    assert "wrong number of fields" in rows["reason"][0]
    assert rows["original_text"][0] == "330106199003071236,只有两列"
    assert "key column resident_id" in rows["reason"][1]
    assert "无号码" in rows["original_text"][1]


def test_invalid_json_lines_are_quarantined(home, write_jsonl):
    good = {"登记证字号": "J1", "登记类型": "结婚", "男方身份号码": "330106199003071236", "男方姓名": "张三",
            "女方身份号码": "110101198512310461", "女方姓名": "李四", "登记日期": "2020-01-01",
            "登记机关区划": "330106"}
    lines = [good, '{"登记证字号": ', "[1, 2]", {**good, "登记证字号": "J2"}]
    path = write_jsonl("民政_婚姻登记_1.jsonl", lines)
    [outcome] = ingest(home, [path])
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (4, 2, 2)
    assert sorted(raw(home, "marriages")["_source_row"].to_list()) == [1, 4]
    reasons = quarantine(home).sort("source_row")["reason"].to_list()
    assert reasons[0].startswith("invalid JSON") and reasons[1].startswith("not a JSON object")


def test_folder_ingest_ignores_unknown_files_but_explicit_unknown_file_is_refused(home, write_csv, tmp_path):
    path = write_csv("公安_户籍人口_1.csv", HUKOU_ROWS)
    other = path.parent / "notes.txt"
    other.write_text("hello")
    outcomes = ingest(home, [path.parent])
    assert {o.status for o in outcomes} == {"loaded", "ignored"}
    [refused] = ingest(home, [other])
    assert refused.status == "refused" and "--dataset" in refused.message


def test_cli_exit_status_is_nonzero_for_a_refused_file(home, write_csv, capsys):
    rows = [{k: v for k, v in r.items() if k != "姓名"} for r in HUKOU_ROWS]
    path = write_csv("公安_户籍人口_bad.csv", rows)
    assert main(["--home", str(home.root), "ingest", str(path)]) == 1
    assert "已拒收" in capsys.readouterr().err


def test_logical_sqlite_is_registered_not_copied(home, tmp_path):
    db = tmp_path / "人社_社保参保.sqlite"
    con = sqlite3.connect(db)
    con.execute('CREATE TABLE "参保人员" ("公民身份号码" TEXT, "姓名" TEXT, "险种" TEXT, "参保状态" TEXT, '
                '"参保日期" TEXT, "参保地区划" TEXT, "单位统一社会信用代码" TEXT)')
    con.execute('INSERT INTO "参保人员" VALUES (?,?,?,?,?,?,?)',
                ("330106199003071236", "张三", "职工养老", "参保缴费", "2015-01-01", "330106", None))
    con.commit()
    con.close()
    [outcome] = ingest(home, [db])
    assert outcome.status == "registered" and outcome.rows_read == 1
    assert not delta.is_table(home.table_path("raw", "social_insurance"))
    [again] = ingest(home, [db])
    assert again.status == "already"
    from lake.catalog import load_catalog
    from lake.extensions import connect
    from lake.logical import current_location, select_sql

    dataset = load_catalog().dataset("social_insurance")
    con2 = connect(extensions=("sqlite_scanner",))
    assert con2.execute(select_sql(dataset, current_location(home, dataset))).fetchall()[0][:3] == (
        "330106199003071236", "张三", "职工养老")


def test_concurrent_ingests_of_same_and_different_files_all_land_once(home, write_csv, write_jsonl):
    hukou = write_csv("公安_户籍人口_c.csv", HUKOU_ROWS, encoding="gbk")
    registrations = [{"登记证字号": f"J{i}", "登记类型": "结婚", "登记日期": "2020-01-01"} for i in range(50)]
    marriage = write_jsonl("民政_婚姻登记_c.jsonl", registrations)
    command = [sys.executable, "-m", "govlake.cli", "--home", str(home.root), "ingest"]
    procs = [subprocess.Popen([*command, str(p)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for p in (hukou, hukou, marriage, marriage)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert raw(home, "hukou").height == 2
    assert raw(home, "marriages").height == 50
    assert log(home).height == 2


@pytest.mark.parametrize("command", [["tables", "--json"]])
def test_tables_json_lists_every_table(home, write_csv, capsys, command):
    import json

    ingest(home, [write_csv("公安_户籍人口_t.csv", HUKOU_ROWS)])
    capsys.readouterr()
    assert main(["--home", str(home.root), *command]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert listed["raw.hukou"]["rows"] == 2 and listed["raw.hukou"]["version"] == 0
    assert listed["raw.hukou"]["zone"] == "raw" and Path(listed["raw.hukou"]["path"]).is_dir()
    assert "system.ingest_log" in listed
