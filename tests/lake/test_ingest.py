"""Physical aggregation: contract, quarantine, idempotency, reconciliation, refusal."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
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


# --- speed paths: pieces, chunks, files at once; each must give the one-pass result --------


def hukou_lines(count: int) -> list[str]:
    """``count`` well-formed hukou records as CSV lines (unique resident ids)."""
    template = ",".join(HUKOU_ROWS[0].values())
    return [template.replace("330106199003071236", f"33010619900307{index:04d}") for index in range(count)]


def hukou_csv(tmp_path: Path, name: str, lines: list[str], *, encoding: str = "gbk", newline: str = "\r\n") -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join([",".join(HUKOU_ROWS[0]), *lines]) + newline).encode(encoding))
    return path


def test_csv_parsed_in_pieces_keeps_exact_line_numbers_and_reconciles(home, tmp_path, monkeypatch):
    from lake import sources

    lines = hukou_lines(300)
    lines[120] = "330106199003079999,只有两列"  # malformed, mid-file: physical line 122
    lines[121] = ""  # blank: line 123 is skipped, numbers after it do not shift
    lines[200] = " " + lines[200][lines[200].index(","):]  # blank key: line 202
    lines[299] = "330106199003078888,a,b"  # malformed, last line: 301
    path = hukou_csv(tmp_path, "公安_户籍人口_pieces.csv", lines)
    monkeypatch.setattr(sources, "CSV_PIECE_BYTES", 256)  # dozens of pieces, parsed on threads
    [outcome] = ingest(home, [path])
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (299, 296, 3)
    bad = quarantine(home).sort("source_row")
    assert bad["source_row"].to_list() == [122, 202, 301]
    assert bad["original_text"][0] == "330106199003079999,只有两列"
    assert "key column resident_id" in bad["reason"][1]
    loaded = raw(home, "hukou")
    expected = [n for n in range(2, 302) if n not in (122, 123, 202, 301)]
    assert loaded["_source_row"].to_list() == expected
    assert loaded["resident_id"][0] == "330106199003070000" and loaded["name"].unique().to_list() == ["张三"]
    assert loaded["_source_file"].unique().to_list() == [str(path.absolute())]
    assert loaded["_batch_id"].unique().to_list() == [outcome.batch_id]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_pieces_match_one_pass_for_every_piece_size(tmp_path, monkeypatch, newline):
    from lake import sources

    lines = hukou_lines(40)
    lines[3], lines[9], lines[10] = "", "x,y", "   "
    lines[17] = "\ufeff" + lines[17]  # a BOM that starts a line (and some piece) is data, not a marker
    lines[25] = lines[25] + ",extra"
    path = hukou_csv(tmp_path, "公安_户籍人口_sizes.csv", lines, encoding="utf-8", newline=newline)
    data = path.read_bytes()

    def read(piece_bytes: int) -> tuple[object, ...]:
        monkeypatch.setattr(sources, "CSV_PIECE_BYTES", piece_bytes)
        result = sources.read_csv(path, data, declared_encoding="utf-8")
        return (result.records.to_pylist(), result.line_numbers.tolist(),
                [(r.line, r.reason, r.text) for r in result.bad])

    one_pass = read(1 << 30)
    assert one_pass[1][:3] == [2, 3, 4] and 5 not in one_pass[1]  # line 5 is blank
    assert one_pass[0][14]["公民身份号码"].startswith("\ufeff")
    for piece_bytes in (1, 50, 97, 300, 1000):
        assert read(piece_bytes) == one_pass, piece_bytes


def test_quoted_value_spanning_lines_is_refused_whole(home, tmp_path, monkeypatch):
    from lake import sources

    lines = hukou_lines(20)
    lines[10] = lines[10].replace("杭州市西湖区文三路1号", '"杭州市西湖区\n文三路1号"')
    path = hukou_csv(tmp_path, "公安_户籍人口_quoted.csv", lines, encoding="utf-8", newline="\n")
    monkeypatch.setattr(sources, "CSV_PIECE_BYTES", 64)
    [outcome] = ingest(home, [path])
    assert outcome.status == "refused" and "quoted values that span lines" in outcome.message
    assert not delta.is_table(home.table_path("raw", "hukou"))
    assert not delta.is_table(home.table_path("system", "ingest_log"))


def test_a_lone_carriage_return_refuses_the_file(home, tmp_path):
    lines = hukou_lines(5)
    lines[2] = lines[2].replace("文三路", "文三\r路")  # Arrow would split the record here; we would not
    path = hukou_csv(tmp_path, "公安_户籍人口_cr.csv", lines, encoding="utf-8", newline="\n")
    [outcome] = ingest(home, [path])
    assert outcome.status == "refused" and "could not account for every record" in outcome.message
    assert not delta.is_table(home.table_path("raw", "hukou"))


def test_json_lines_in_chunks_keep_exact_line_numbers(home, write_jsonl, monkeypatch):
    from lake import sources

    good = {"登记证字号": "J0", "登记类型": "结婚", "登记日期": "2020-01-01"}
    lines: list[dict[str, object] | str] = [{**good, "登记证字号": f"J{n}"} for n in range(1, 31)]
    lines[4] = '{"登记证字号": "J5", "登记'  # truncated: set aside before parsing, line 5
    lines[11] = ""  # blank, line 12
    lines[17] = '{"登记证字号": }'  # looks like an object, is not: found by halving its chunk, line 18
    lines[23] = {**good, "登记证字号": " "}  # empty key, line 24
    path = write_jsonl("民政_婚姻登记_chunks.jsonl", lines)
    monkeypatch.setattr(sources, "JSON_CHUNK_LINES", 4)
    [outcome] = ingest(home, [path])
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (29, 26, 3)
    assert quarantine(home).sort("source_row")["source_row"].to_list() == [5, 18, 24]
    assert raw(home, "marriages")["_source_row"].to_list() == [n for n in range(1, 31) if n not in (5, 12, 18, 24)]


def test_folder_files_of_one_dataset_land_in_one_commit_in_order_while_files_go_at_once(home, write_jsonl,
                                                                                         write_csv):
    names = [f"民政_婚姻登记_2026110{day}.jsonl" for day in range(1, 6)]
    for day, name in enumerate(names):
        write_jsonl(name, [{"登记证字号": f"J{day}-{i}", "登记类型": "结婚", "登记日期": "2020-01-01"}
                           for i in range(5)])
    write_csv("公安_户籍人口_f.csv", HUKOU_ROWS, encoding="gbk")
    bad = write_csv("公安_户籍人口_g.csv", [{k: v for k, v in r.items() if k != "姓名"} for r in HUKOU_ROWS])
    outcomes = ingest(home, [bad.parent])
    assert [o.path.name for o in outcomes] == sorted(o.path.name for o in outcomes)  # reported in file order
    assert [o.status for o in outcomes].count("loaded") == 6
    assert next(o for o in outcomes if o.path == bad).status == "refused"
    entries = log(home).filter(pl.col("dataset") == "marriages")
    assert [Path(f).name for f in entries["source_file"]] == names  # logged in file order
    [version] = entries["raw_version"].unique().to_list()  # the dataset's five files land in one raw commit
    table = home.table_path("raw", "marriages")
    assert delta.version(table) == version == 0
    commit = (table / "_delta_log" / f"{version:020d}.json").read_text(encoding="utf-8").splitlines()
    added = [json.loads(line)["add"]["path"] for line in commit if '"add"' in line]
    landed = [pl.read_parquet(table / name)["_batch_id"].unique().item() for name in added]
    assert landed == entries["batch_id"].to_list()  # added in file order, one Parquet file per source file
    txns = [json.loads(line)["txn"]["appId"] for line in commit if '"txn"' in line]
    assert txns == [f"govlake.ingest/{batch}" for batch in landed]  # with every file's app transaction
    assert raw(home, "marriages").height == 25 and raw(home, "hukou").height == 2


def test_files_already_logged_are_not_parsed_again(home, write_csv, write_jsonl, monkeypatch):
    import lake.ingest

    paths = [write_csv("公安_户籍人口_a.csv", HUKOU_ROWS, encoding="gbk"),
             write_jsonl("民政_婚姻登记_a.jsonl", [{"登记证字号": "J1", "登记类型": "结婚", "登记日期": "2020-01-01"}])]
    ingest(home, paths)

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an already ingested file was parsed again")

    monkeypatch.setattr(lake.ingest, "READERS", {name: no_parse for name in lake.ingest.READERS})
    assert [o.status for o in ingest(home, paths)] == ["already", "already"]


def test_a_tiny_in_flight_budget_still_ingests_everything(home, write_csv, write_jsonl, monkeypatch):
    import lake.ingest

    monkeypatch.setattr(lake.ingest, "IN_FLIGHT_BYTES", 1)  # one file at a time
    write_csv("公安_户籍人口_b.csv", HUKOU_ROWS, encoding="gbk")
    for day in (1, 2, 3):
        write_jsonl(f"民政_婚姻登记_b{day}.jsonl",
                    [{"登记证字号": f"J{day}", "登记类型": "结婚", "登记日期": "2020-01-01"}])
    outcomes = ingest(home, [home.root.parent / "in"])
    assert [o.status for o in outcomes] == ["loaded"] * 4
    assert log(home).height == 4


def test_an_unexpected_error_stops_the_dataset_without_committing_out_of_order(home, write_jsonl, monkeypatch):
    import lake.ingest
    from govlake.errors import GovLakeError

    rows = [{"登记证字号": "J1", "登记类型": "结婚", "登记日期": "2020-01-01"}]
    first = write_jsonl("民政_婚姻登记_e1.jsonl", rows)
    write_jsonl("民政_婚姻登记_e2.jsonl", [{**rows[0], "登记证字号": "J2"}])
    original = lake.ingest._with_lineage

    def fail_first(contracted, batch_id, source, sha, at):
        if source == str(first.absolute()):
            raise GovLakeError("disk full")
        return original(contracted, batch_id, source, sha, at)

    monkeypatch.setattr(lake.ingest, "_with_lineage", fail_first)
    with pytest.raises(GovLakeError, match="disk full"):
        ingest(home, [first.parent])
    assert not delta.is_table(home.table_path("raw", "marriages"))  # the second file did not land alone
    assert not list(home.table_path("raw", "marriages").glob("*.parquet"))  # its staged rows were deleted
    assert not delta.is_table(home.table_path("system", "ingest_log"))


def test_utf8_checked_without_decoding_still_falls_back_to_gbk(home, write_csv):
    rows = [{"行政处罚决定书文号": "罚字1号", "行政相对人名称": "张三", "行政相对人类别": "自然人",
             "行政相对人代码": "330106199003071236", "处罚类别": "警告", "处罚决定日期": "2026-01-01",
             "处罚机关": "杭州市公安局", "数据来源单位": "public_security"}]
    [outcome] = ingest(home, [write_csv("双公示_行政处罚_测试_1.csv", rows, encoding="gbk")])  # catalog says utf-8
    assert outcome.status == "loaded" and outcome.encoding == "gbk"
    assert raw(home, "admin_penalties")["party_name"].to_list() == ["张三"]


def test_gbk_decoded_piece_by_piece_falls_back_for_an_undecodable_line(home, tmp_path, monkeypatch):
    from lake import sources

    path = hukou_csv(tmp_path, "公安_户籍人口_undecodable.csv", hukou_lines(30))
    data = path.read_bytes()
    line = data.split(b"\r\n")[15]  # physical line 16
    path.write_bytes(data.replace(line, line.replace(b"1990", b"\xff\xff90", 1), 1))
    monkeypatch.setattr(sources, "CSV_PIECE_BYTES", 128)
    [outcome] = ingest(home, [path])
    assert (outcome.encoding, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == ("gbk", 30, 29, 1)
    [row] = quarantine(home).rows(named=True)
    assert row["source_row"] == 16 and row["reason"].startswith("undecodable bytes as gbk")
    assert raw(home, "hukou")["_source_row"].to_list() == [n for n in range(2, 32) if n != 16]


@pytest.mark.slow
def test_bench_ingest_compares_the_same_rows_and_reports_the_load(tmp_path):
    from govlake.bench import ingest as bench

    home = Home(tmp_path / "home").ensure()
    result = bench.run(home, persons=200, seed=3, runs=1)
    assert result["rows_read"] == result["rows_loaded"] + result["rows_quarantined"] > 0
    parsed = home.root / "bench" / "parsed-exports-p200-s3"
    assert result["bare_write_tables"] == len(list(parsed.glob("*.parquet")))  # one table per raw dataset
    assert result["logical_rows_registered"] > 0
    text = bench.report(result)
    assert "rows/s" in text and "load average" in text and "registered in place" in text


# --- staged raw writes: Parquet first, one commit per dataset ------------------------------------


def _cli(home: Home, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "govlake.cli", "--home", str(home.root), "ingest", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def test_a_kill_between_the_parquet_writes_and_the_raw_commit_shows_nothing_and_the_rerun_lands_once(
        home, tmp_path):
    from govlake.doctor import diagnose
    from lake.vacuum import vacuum

    lines = hukou_lines(40)
    lines[7] = "330106199003079999,只有两列"  # quarantined: its commit lands before the raw one
    path = hukou_csv(tmp_path, "公安_户籍人口_kill.csv", lines)
    killed = _cli(home, str(path), env={"GOVLAKE_KILL_AT": "delta.commit.before@raw.hukou:1"})
    killed.communicate(timeout=120)
    assert killed.returncode == -9
    table = home.table_path("raw", "hukou")
    assert list(table.glob("*.parquet")) and not delta.is_table(table)  # written, never committed: invisible
    assert quarantine(home).height == 1 and not delta.is_table(home.table_path("system", "ingest_log"))

    again = _cli(home, str(path))
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    assert raw(home, "hukou")["_source_row"].to_list() == [n for n in range(2, 42) if n != 9]  # once each
    assert quarantine(home).height == 1 and log(home)["rows_loaded"].to_list() == [39]
    cleaned = vacuum(home, apply=True)
    assert [f.kind for f in cleaned.files] == ["orphan"]  # the killed run's Parquet file, and nothing else
    problems = [p for p in diagnose(home).problems if p.check in ("tables", "ingest_log", "leftovers")]
    assert not problems, problems


def test_two_processes_creating_one_raw_table_at_once_both_land(home, tmp_path):
    """One ingest is held just before it creates raw.hukou while another creates it: the first then appends."""
    first = hukou_csv(tmp_path, "公安_户籍人口_one.csv", hukou_lines(10))
    second = hukou_csv(tmp_path, "公安_户籍人口_two.csv", [line.replace("张三", "王五") for line in hukou_lines(7)])
    gate = tmp_path / "gate"
    held = _cli(home, str(first), env={"GOVLAKE_PAUSE_AT": f"delta.commit.before@raw.hukou:1:{gate}"})
    try:
        deadline = time.monotonic() + 60
        while not (gate / "paused").exists():
            assert held.poll() is None and time.monotonic() < deadline, "the held ingest never paused"
            time.sleep(0.05)
        other = _cli(home, str(second))
        _, err = other.communicate(timeout=120)
        assert other.returncode == 0, err.decode()
        assert delta.version(home.table_path("raw", "hukou")) == 0  # created by the other process
    finally:
        gate.mkdir(exist_ok=True)
        (gate / "resume").touch()
    _, err = held.communicate(timeout=120)
    assert held.returncode == 0, err.decode()
    table = raw(home, "hukou")
    assert table.height == 17 and sorted(table["name"].unique().to_list()) == ["张三", "王五"]
    assert log(home).height == 2


def test_the_same_file_twice_in_one_run_lands_once(home, tmp_path):
    path = hukou_csv(tmp_path, "公安_户籍人口_a.csv", hukou_lines(5))
    copy = path.with_name("公安_户籍人口_b.csv")
    copy.write_bytes(path.read_bytes())
    outcomes = ingest(home, [path.parent])
    assert [o.status for o in outcomes] == ["loaded", "already"]
    assert raw(home, "hukou").height == 5 and log(home).height == 1
    assert len(list(home.table_path("raw", "hukou").glob("*.parquet"))) == 1  # the copy's rows were deleted


def test_the_same_export_gives_the_same_tables(tmp_path, write_jsonl):
    lines: list[dict[str, object] | str] = [{"登记证字号": f"J{n}", "登记类型": "结婚", "登记日期": "2020-01-01"}
                                            for n in range(50)]
    lines[9] = "{broken"
    write_jsonl("民政_婚姻登记_same.jsonl", lines)
    hukou_csv(tmp_path, "公安_户籍人口_same.csv", hukou_lines(30))
    homes = [Home(tmp_path / name).ensure() for name in ("h1", "h2")]
    for home in homes:
        ingest(home, [tmp_path / "in"])
    for name in ("raw/hukou", "raw/marriages", "system/quarantine", "system/ingest_log"):
        frames = [delta.read(h.root / "lake" / name) for h in homes]
        timeless = [f.drop([c for c in f.columns if c.endswith("_at")]) for f in frames]
        timeless = [f.sort(f.columns) for f in timeless]
        assert timeless[0].equals(timeless[1]), name


def test_json_lines_not_in_utf8_take_the_general_way(home, tmp_path):
    rows = [{"登记证字号": f"J{n}", "登记类型": "结婚", "登记日期": "2020-01-01", "男方姓名": "张三"} for n in range(6)]
    lines = [json.dumps(row, ensure_ascii=False).encode("utf-8") for row in rows]
    lines[2] = b'{"\xe7\x99\xbb\xe8\xae\xb0\xe8\xaf\x81\xe5\xad\x97\xe5\x8f\xb7": "J\xff"}'  # a bad byte in a value
    lines[4] = b'{"broken \xff'  # and in a line that is not JSON at all
    utf8 = tmp_path / "in" / "民政_婚姻登记_u.jsonl"
    utf8.parent.mkdir(parents=True, exist_ok=True)
    utf8.write_bytes(b"\n".join(lines) + b"\n")
    gbk = tmp_path / "in" / "民政_婚姻登记_g.jsonl"  # the catalog says UTF-8
    gbk.write_bytes("\n".join(json.dumps(row, ensure_ascii=False) for row in rows[:3]).encode("gbk"))
    by_name = {o.path.name: o for o in ingest(home, [utf8, gbk])}
    first, second = by_name[utf8.name], by_name[gbk.name]
    assert (first.encoding, first.rows_read, first.rows_loaded, first.rows_quarantined) == ("utf-8", 6, 4, 2)
    assert sorted(quarantine(home)["source_row"].to_list()) == [3, 5]
    assert all(reason.startswith("undecodable bytes as utf-8") for reason in quarantine(home)["reason"])
    assert (second.encoding, second.rows_loaded) == ("gbk", 3)
    names = raw(home, "marriages").filter(pl.col("_batch_id") == second.batch_id)["husband_name"].to_list()
    assert names == ["张三"] * 3


def test_many_empty_keys_in_json_lines_are_dropped_by_a_filter_the_same_way(home, write_jsonl, monkeypatch):
    import pyarrow.parquet as pq

    import lake.ingest

    monkeypatch.setattr(lake.ingest, "SLICE_DROP_LIMIT", 1)  # polars' string views take the filter path
    lines = [{"登记证字号": f"J{n}" if n % 3 else " ", "登记类型": "结婚", "登记日期": "2020-01-01"} for n in range(12)]
    [outcome] = ingest(home, [write_jsonl("民政_婚姻登记_keys.jsonl", lines)])
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (8, 4)
    assert raw(home, "marriages")["_source_row"].to_list() == [n + 1 for n in range(12) if n % 3]
    [file] = home.table_path("raw", "marriages").glob("*.parquet")
    assert b"ARROW:schema" not in (pq.read_schema(file).metadata or {})  # readers see Parquet's plain text
    assert "view" not in str(pq.read_schema(file)).lower()


@pytest.mark.parametrize("oddity", [None, b"\x80", b"\xff\xff"])
def test_gbk_through_iconv_lands_exactly_as_through_python(tmp_path, monkeypatch, oddity):
    """glibc's iconv (big GBK files) and Python's codec give the same tables, also for bytes Python refuses."""
    from lake import sources

    iconv = sources._iconv_gbk()
    if iconv is None:
        pytest.skip("this C library has no GBK converter that decodes as Python does")
    calls: list[int] = []

    def counted(text: bytes, start: int, end: int) -> bytes | None:
        calls.append(end - start)
        return iconv(text, start, end)

    monkeypatch.setattr(sources, "_iconv_gbk", lambda: counted)
    lines = hukou_lines(60)
    path = hukou_csv(tmp_path, "公安_户籍人口_iconv.csv", lines)
    if oddity is not None:  # physical line 21; 0x80 alone is the euro sign to glibc, refused by Python
        data = path.read_bytes()
        line = data.split(b"\r\n")[20]
        path.write_bytes(data.replace(line, line.replace(b"1990", b"19" + oddity, 1), 1))
    monkeypatch.setattr(sources, "CSV_PIECE_BYTES", 512)
    tables = []
    for name, threshold in (("iconv", 0), ("python", 1 << 40)):
        monkeypatch.setattr(sources, "ICONV_MIN_BYTES", threshold)
        home = Home(tmp_path / name).ensure()
        [outcome] = ingest(home, [path])
        counts = (outcome.encoding, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined)
        assert counts == (("gbk", 60, 60, 0) if oddity is None else ("gbk", 60, 59, 1))
        bad = quarantine(home).drop("ingested_at") if oddity is not None else None
        tables.append((raw(home, "hukou").drop("_ingested_at"), bad))
        if name == "iconv":
            assert len(calls) > 5  # the pieces went through iconv
            calls.clear()
    assert not calls  # and not when the file is small
    assert tables[0][0].equals(tables[1][0])
    assert oddity is None or (tables[0][1] is not None and tables[0][1].equals(tables[1][1]))
    assert tables[0][0]["name"].unique().to_list() == ["张三"]


def _pieces_one_line_at_a_time(text: bytes, start: int, first_line: int, size: int) -> list[tuple[object, ...]]:
    """What lake.sources._pieces must return, the slow way: walk the lines one by one."""
    lines = []  # (start, stop just past the newline, blank)
    position = start
    while position < len(text):
        newline = text.find(b"\n", position)
        stop = len(text) if newline < 0 else newline + 1
        content = text[position:stop].removesuffix(b"\n")
        lines.append((position, stop, content in (b"", b"\r")))
        position = stop
    lone_cr = [i for i in range(start, len(text)) if text[i] == 13 and text[i + 1:i + 2] != b"\n"]
    pieces, first = [], 0
    while first < len(lines):
        last = first + 1
        while last < len(lines) and lines[last][0] < lines[first][0] + size:
            last += 1
        begin, end = lines[first][0], lines[last - 1][1]
        plain = not any(blank for _, _, blank in lines[first:last]) and not any(begin <= i < end for i in lone_cr)
        pieces.append((begin, end, first_line + first, last - first, plain))
        first = last
    return pieces


def test_csv_pieces_are_cut_as_walking_the_lines_would(tmp_path):
    import random

    from lake import sources

    rng = random.Random(7)
    for _ in range(3000):
        text = b"".join(rng.choice([b"a", b",", b"\n", b"\r", b"\r\n", b" "]) for _ in range(rng.randint(0, 40)))
        start, size = rng.randint(0, len(text)), rng.randint(1, 15)
        got = [(p.start, p.end, p.first_line, p.lines, p.plain) for p in sources._pieces(text, start, 2, size)]
        assert got == _pieces_one_line_at_a_time(text, start, 2, size), (text, start, size)
