"""Open data by grade (分级开放): the catalog decides, aggregates only, small cells suppressed, files for Excel."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.home import Home
from lake import audit, delta, opendata
from lake.catalog import load_catalog
from lake.system import OPEN_DATA_RELEASES
from views.masks import MIN_PERSONS
from views.opendata import open_data_user, plan, publish, releases


def copy_home(source: Home, root: Path) -> Home:
    """A writable copy of a built home (extension binaries hard-linked: they are only read)."""
    shutil.copytree(source.root, root,
                    ignore=shutil.ignore_patterns("cache", "spool", "duckdb_extensions", "open_data"))
    shutil.copytree(source.extensions, root / "duckdb_extensions", copy_function=os.link)
    return Home(root)


@pytest.fixture
def home(built_home: Home, tmp_path: Path) -> Home:
    """Each test publishes into its own copy, so the tests hold in any order."""
    return copy_home(built_home, tmp_path / "home")


def test_the_catalog_decides() -> None:
    catalog = load_catalog()
    assert opendata.decide(catalog.dataset("market_entities")).allowed
    conditional = opendata.decide(catalog.dataset("tax_credit"))
    assert not conditional.allowed and "有条件开放" in conditional.reason
    assert "govlake share request --target tax_credit" in conditional.reason
    closed = opendata.decide(catalog.dataset("hukou"))
    assert not closed.allowed and "不予开放" in closed.reason and "hukou" in closed.reason


def test_release_sources_come_from_lineage() -> None:
    found = releases()
    assert set(found["open_entities"].datasets) == {"market_entities", "social_orgs"}
    assert {"hukou", "births"} <= set(found["open_population"].datasets)
    dictionary = {entry.column: entry for entry in found["open_entities"].dictionary}
    assert dictionary["division"].element == "division_code" and dictionary["division"].name == "住所省级行政区划代码"
    assert dictionary["entities"].name == "存续主体数"
    assert open_data_user() == "open_public"


def test_plan_refuses_what_the_catalog_does_not_open() -> None:
    asked = ["hukou", "tax_credit", "open_population", "market_entities", "admin_penalties"]
    planned = {subject: (release, reason) for subject, release, reason in plan(asked)}
    assert planned["hukou"][0] is None and "不予开放" in planned["hukou"][1]
    assert planned["tax_credit"][0] is None and "共享申请" in planned["tax_credit"][1]
    assert "户籍人口信息" in planned["open_population"][1]  # one closed source refuses the whole release
    assert planned["open_entities"][1] == ""  # market_entities stands for the release that draws on it
    assert planned["open_admin_penalties"][1] == ""  # so does admin_penalties, for its record release


def test_publish_writes_parquet_csv_dictionary_and_metadata(home: Home) -> None:
    outcomes = {o.subject: o for o in publish(home)}
    assert not outcomes["open_population"].ok and "不予开放" in outcomes["open_population"].reason
    release = outcomes["open_entities"].published
    assert release is not None and release.version == 1
    parquet = pl.read_parquet(release.file("parquet"))
    raw_csv = release.file("csv").read_bytes()
    assert raw_csv.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel reads the Chinese
    csv = pl.read_csv(release.file("csv"), schema_overrides={"division": pl.String})
    assert parquet.height == csv.height == release.rows > 0
    assert parquet.columns == csv.columns == ["division", "industry_section", "entities"]
    # What is published is what the public sees through the governed view: no cell under the threshold.
    with __import__("govlake").connect(user="open_public", home=home) as session:
        public = session.sql("SELECT * FROM open_entities ORDER BY ALL")
    assert parquet.sort(pl.all()).equals(public.sort(pl.all()))
    assert parquet["entities"].drop_nulls().min() >= MIN_PERSONS  # type: ignore[operator]
    dictionary = pl.read_csv(release.file("dictionary"))
    assert dictionary.columns == ["column", "中文名称", "数据元", "说明"]
    assert dictionary["column"].to_list() == parquet.columns
    meta = json.loads(release.file("metadata").read_text(encoding="utf-8"))
    assert {d["id"] for d in meta["datasets"]} == {"market_entities", "social_orgs"}
    assert meta["source_versions"]["base.legal_entity"] == delta.version(home.table_path("base", "legal_entity"))
    assert meta["as_of"] and meta["build_id"] and "不得" in meta["licence"] and str(MIN_PERSONS) in meta["suppression"]
    assert opendata.verify(release) == []
    # The record releases are tested in tests/lake/test_opendata_records.py.
    records = ["open_admin_licences", "open_admin_penalties", "open_dishonest_debtors"]
    assert [p.meta.release for p in opendata.published(home)] == sorted([*records, "open_entities"])
    logged = delta.read(home.table_path("system", OPEN_DATA_RELEASES.name)).filter(pl.col("release") == "open_entities")
    assert logged.height == 1 and logged["rows"][0] == release.rows
    events = [(row["statement_kind"], row["decision"]) for row in audit.entries(home)
              if row["statement_kind"] == "opendata.publish"]
    assert ("opendata.publish", "allowed") in events and ("opendata.publish", "refused") in events


def test_a_crafted_small_cell_is_suppressed(home: Home) -> None:
    """3 entities in one cell and 12 in another, in a province of their own: only the 12 are published."""
    from transforms import manifest

    path = home.table_path("base", "legal_entity")
    template = delta.read(path).filter(pl.col("status") == "1").head(15)
    crafted = template.with_columns(
        pl.format("99XMADE{}", pl.int_range(0, 15).cast(pl.String).str.zfill(10)).alias("uscc"),
        pl.lit("990101").alias("division"), pl.lit("99").alias("province"),
        pl.when(pl.int_range(0, 15) < 3).then(pl.lit("A")).otherwise(pl.lit("B")).alias("industry_section"),
    )
    version = delta.write(path, crafted.to_arrow())
    latest = manifest.latest(home)
    assert latest is not None
    manifest.record(home, kind="incremental", as_of=latest.as_of, batches=latest.batches, new_batches=frozenset(),
                    outputs={**latest.outputs, "base.legal_entity": version}, keys_rebuilt=0,
                    started_at=dt.datetime.now(dt.UTC))
    [outcome] = publish(home, ["open_entities"])
    assert outcome.published is not None and outcome.published.version == 1
    published = pl.read_parquet(outcome.published.file("parquet")).filter(pl.col("division") == "990000")
    assert published.rows() == [("990000", "B", 12)]
    text = outcome.published.file("csv").read_text(encoding="utf-8-sig")
    assert "990000,B,12" in text and "990000,A" not in text
    assert outcome.published.meta.source_versions["base.legal_entity"] == version


def test_tampering_is_detected(home: Home, tmp_path: Path) -> None:
    [outcome] = publish(home, ["open_entities"])
    assert outcome.published is not None
    copy = tmp_path / "copy"
    shutil.copytree(outcome.published.folder, copy)
    moved = opendata.read_release(copy)
    csv = moved.file("csv")
    csv.write_bytes(csv.read_bytes().replace(b"\n", b"\n\n", 1))
    assert [p for p in opendata.verify(moved) if "open_entities.csv" in p]


def test_command_line(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home.root), "opendata", "publish", "market_entities"]) == 0
    assert "published open_entities v1" in capsys.readouterr().out
    assert main(["--home", str(home.root), "opendata", "publish", "hukou"]) == 2
    assert "不予开放" in capsys.readouterr().out
    assert main(["--home", str(home.root), "opendata", "list"]) == 0
    out = capsys.readouterr().out
    assert "tax_credit" in out and "有条件开放" in out and "open_entities v1" in out


def test_the_commands_in_the_doc_parse() -> None:
    import shlex

    from govlake.cli import build_parser

    doc = Path(__file__).resolve().parents[2] / "docs" / "open-data.md"
    commands = [line.split("$ ", 1)[1].split("  #")[0] for line in doc.read_text(encoding="utf-8").splitlines()
                if line.startswith("$ govlake")]
    assert len(commands) >= 5
    for command in commands:
        assert build_parser().parse_args(shlex.split(command)[1:]).command == "opendata", command
