"""The home's catalog: shipped datasets plus those received by return flow (回流), in `govlake catalog`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from govlake import cli
from govlake.errors import ConfigError
from govlake.home import Home
from lake import handback
from lake.catalog.load import load_catalog, load_home_catalog
from lake.catalog.received import RECEIVED_CLASS, ReceivedDataset, load_received, write_received

EXPORTED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def received(dataset_id: str = "population_3301", **changes: object) -> ReceivedDataset:
    dataset = ReceivedDataset(
        id=dataset_id, name="人口基础库（杭州市·回流）",
        abstract="由上级节点 浙江省节点 回流的人口基础库，区划 3301（杭州市），812 行；依据：《浙江省公共数据条例》。",
        access="physical", location="/nowhere/lake/raw/population_3301", source_node_id="zj-node-0001",
        source_node_name="浙江省节点", source_table="base.population", source_version=4, division="3301",
        division_name="杭州市", package_id="pkg-1", exported_at=EXPORTED, received_at=EXPORTED + dt.timedelta(hours=1),
        rows=812, basis="《浙江省公共数据条例》", table_version=0,
        columns={"resident_id": "公民身份号码（GB 11643）", "hukou_division": "户籍地行政区划代码"},
    )
    return dataclasses.replace(dataset, **changes)  # type: ignore[arg-type]


@pytest.fixture
def city(tmp_path: Path) -> Home:
    home = Home(tmp_path / "hangzhou").ensure()
    write_received(home, received())
    return home


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_home_catalog_adds_what_the_home_received(city: Home, tmp_path: Path) -> None:
    home_catalog = load_home_catalog(city)
    assert home_catalog.catalog is load_catalog()  # the shipped catalog is not touched
    assert list(home_catalog.received) == ["population_3301"]
    assert home_catalog.find("population_3301") == home_catalog.find("人口基础库（杭州市·回流）") is not None
    assert home_catalog.find("hukou") is None
    assert load_home_catalog(None).received == {} and load_home_catalog(Home(tmp_path / "absent")).received == {}
    assert not (tmp_path / "absent").exists()  # reading a catalog never creates a home


def test_search_ranks_received_and_shipped_datasets_together(city: Home) -> None:
    hits = load_home_catalog(city).search("杭州 人口")
    assert hits[0][1] is not None and hits[0][0].dataset.id == "population_3301"
    assert RECEIVED_CLASS in hits[0][0].dataset.classification
    assert any(hit.dataset.id == "hukou" and source is None for hit, source in hits)
    by_node = load_home_catalog(city).search("浙江省节点")
    assert [hit.dataset.id for hit, _ in by_node] == ["population_3301"]
    shipped_only = load_home_catalog(None).search("户籍")
    assert shipped_only[0][0].dataset.id == "hukou" and all(source is None for _, source in shipped_only)


def test_a_received_id_that_is_a_catalog_id_is_refused(city: Home) -> None:
    write_received(city, received("hukou"))
    with pytest.raises(ConfigError, match=r"hukou\.toml: id.*also the id of a catalog dataset"):
        load_home_catalog(city)


def test_catalog_list_marks_received_datasets(city: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--home", str(city.root), "catalog", "list")
    assert code == 0 and "13 datasets" in out
    section = out.split("Received by return flow (回流), 1 datasets:", 1)[1].splitlines()
    assert section[1].split()[:2] == ["ID", "NAME"] and "SOURCE NODE" in section[1]
    assert section[2].split() == ["population_3301", "人口基础库（杭州市·回流）", "浙江省节点", "base.population", "v4",
                                  "3301", "杭州市", "物理汇聚", "812", "2026-11-20"]
    code, out, _ = run(capsys, "--home", str(city.root), "catalog", "list", "--json")
    rows = json.loads(out)
    assert len(rows) == 14 and sum(row["received"] for row in rows) == 1
    mine = next(row for row in rows if row["received"])
    assert mine["source_node"] == {"id": "zj-node-0001", "name": "浙江省节点"} and mine["rows"] == 812
    code, out, _ = run(capsys, "--home", str(city.root.parent / "elsewhere"), "catalog", "list")
    assert code == 0 and "回流" not in out  # a home that received nothing lists the shipped catalog only


def test_catalog_show_and_search_received(city: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--home", str(city.root), "catalog", "show", "population_3301")
    assert code == 0 and "回流（received from 浙江省节点）" in out.splitlines()[0]
    assert "浙江省节点 (zj-node-0001)" in out and "base.population v4" in out and "《浙江省公共数据条例》" in out
    assert "hukou_division" in out
    code, out, _ = run(capsys, "--home", str(city.root), "catalog", "show", "population_3301", "--json")
    detail = json.loads(out)
    assert detail["received"] is True and detail["source_node"]["name"] == "浙江省节点"
    assert detail["file"].endswith("population_3301.toml")
    code, out, err = run(capsys, "--home", str(city.root), "catalog", "show", "population_330")
    assert code == 1 and "did you mean 'population_3301', received by return flow?" in err
    code, out, _ = run(capsys, "--home", str(city.root), "catalog", "search", "杭州", "人口")
    first = out.splitlines()[1].split()
    assert first[1:4] == ["回流", "population_3301", "人口基础库（杭州市·回流）"] and first[4] == "浙江省节点（回流）"
    code, out, _ = run(capsys, "--home", str(city.root), "catalog", "search", "人口", "--json")
    hits = json.loads(out)
    assert {hit["id"]: hit["received"] for hit in hits}["population_3301"] is True
    assert {hit["id"]: hit["received"] for hit in hits}["hukou"] is False


def test_a_real_return_flow_appears_in_the_receiving_catalog(built_home: Home, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Export from a copy of the test home, receive into a fresh home, and find it in that home's catalog."""
    province = Home(tmp_path / "province")
    shutil.copytree(built_home.root, province.root, ignore=shutil.ignore_patterns("cache", "spool",
                                                                                  "duckdb_extensions"))
    shutil.copytree(built_home.extensions, province.extensions, copy_function=os.link)
    package = handback.export(province, to=tmp_path / "to-hangzhou", division="3301", tables=["legal_entity"],
                              basis="《浙江省公共数据条例》第二十五条")
    city = Home(tmp_path / "hangzhou")
    handback.receive(city, package.path, access="logical")
    [entry] = load_received(city).values()
    code, out, _ = run(capsys, "--home", str(city.root), "catalog", "list")
    assert code == 0 and "Received by return flow (回流), 1 datasets:" in out
    row = next(line for line in out.splitlines() if line.startswith("legal_entity_3301"))
    assert handback.node(province).name in row and "逻辑接入" in row and f"{entry.rows:,}" in row
    code, out, _ = run(capsys, "--home", str(province.root), "catalog", "list")
    assert "回流" not in out  # the exporting node received nothing
