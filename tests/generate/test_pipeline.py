"""Files, names, headers, formats and encodings of the generated exports; determinism."""

from __future__ import annotations

import fnmatch
import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from govlake.generate import AS_OF, generate
from lake.catalog import load_catalog
from tests.generate.conftest import files_of
from tests.generate.readback import headers, raw_lines, records

CATALOG = load_catalog()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    first = generate(tmp_path / "a", persons=2_000, seed=7)
    second = generate(tmp_path / "b", persons=2_000, seed=7)
    a, b = _tree(first.out), _tree(second.out)
    assert a.keys() == b.keys()
    assert len(a) == first.files + 4  # the exports plus four truth files
    different = [name for name in a if a[name] != b[name]]
    assert different == []
    other = _tree(generate(tmp_path / "c", persons=2_000, seed=8).out)
    assert other["公安_户籍人口_20261120.csv"] != a["公安_户籍人口_20261120.csv"]


def test_every_dataset_is_written_under_its_file_pattern_with_a_date(generated):
    written = {o.dataset for o in generated.outputs}
    assert written == set(CATALOG.datasets)
    stamp = AS_OF.strftime("%Y%m%d")
    for output in generated.outputs:
        dataset = CATALOG.dataset(output.dataset)
        assert fnmatch.fnmatch(output.name, dataset.file_pattern), output.name
        assert (generated.out / output.name).is_file()
        if dataset.format == "sqlite":
            assert output.name == "人社_社保参保.sqlite"
        else:
            assert stamp in output.name or "20261113" in output.name
    assert generated.as_of == AS_OF
    assert json.loads((generated.truth / "metadata.json").read_text())["as_of"] == "2026-11-20"


def test_headers_are_the_catalog_sources_in_catalog_order(generated):
    for output in generated.outputs:
        dataset = CATALOG.dataset(output.dataset)
        assert headers(generated.out / output.name, dataset) == [i.source for i in dataset.items], output.name


def test_encodings_follow_the_catalog(generated):
    [hukou] = files_of(generated, "hukou")
    data = hukou.read_bytes()
    assert "公民身份号码".encode("gbk") in data[:200]
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    data.decode("gbk")
    assert b"\r\n" in data[:300]
    for dataset in ("births", "deaths"):
        for path in files_of(generated, dataset):
            assert path.read_bytes().startswith(b"\xef\xbb\xbf"), path.name
    for dataset in ("marriages", "market_entities", "social_orgs", "e_licences", "dishonest_debtors"):
        for path in files_of(generated, dataset):
            data = path.read_bytes()
            assert not data.startswith(b"\xef\xbb\xbf")
            text = data.decode("utf-8")
            assert "\\u" not in text  # Chinese written as is, not escaped
    [parcels] = files_of(generated, "land_parcels")
    collection = json.loads(parcels.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    assert collection["crs"]["properties"]["name"].endswith("4490")
    assert collection["features"][0]["geometry"]["type"] == "Polygon"


def test_sqlite_and_parquet_sources_are_typed_as_described(generated):
    [database] = files_of(generated, "social_insurance")
    connection = sqlite3.connect(database)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        count = connection.execute('SELECT count(*) FROM "参保人员"').fetchone()[0]
    finally:
        connection.close()
    assert tables == ["参保人员"]
    assert count == generated.rows_by_dataset()["social_insurance"]
    [ratings] = files_of(generated, "tax_credit")
    schema = pl.read_parquet_schema(ratings)
    assert schema["评价年度"] == pl.Int32 and schema["评定日期"] == pl.Date


def test_double_publicity_files_come_one_per_department(generated):
    departments = CATALOG.departments
    for dataset in ("admin_licences", "admin_penalties"):
        files = files_of(generated, dataset)
        assert 2 <= len(files) <= 5
        for path in files:
            short_name = path.name.split("_")[2]
            [department] = [d for d in departments.values() if d.short_name == short_name]
            senders = {r["数据来源单位"] for r in records(path, CATALOG.dataset(dataset)) if isinstance(r, dict)}
            assert senders == {department.id}


def test_event_datasets_come_in_an_earlier_and_a_later_file(generated):
    for dataset in ("births", "deaths", "marriages"):
        names = sorted(p.name for p in files_of(generated, dataset))
        assert [n.rsplit("_", 1)[1][:8] for n in names] == ["20261113", "20261120"]


def test_clean_run_has_no_defects_and_no_broken_lines(clean):
    assert clean.defects == 0
    assert pl.read_parquet(clean.truth / "defects.parquet").height == 0
    for output in clean.outputs:
        dataset = CATALOG.dataset(output.dataset)
        rows = records(clean.out / output.name, dataset)
        assert all(isinstance(r, dict) for r in rows), output.name
        if dataset.format in ("csv", "jsonl"):
            assert len(raw_lines(clean.out / output.name, dataset)) == output.rows
