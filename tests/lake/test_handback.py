"""Return flow (回流): a province node returns one city's slice to the city's node, two homes on one machine."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.errors import ContractError, NotFound, PolicyDenied, StateError
from govlake.home import Home
from lake import audit, delta, handback, sharing
from lake.catalog.received import load_received, received_dir
from lake.extensions import connect
from lake.system import HANDBACK_EXPORTS, HANDBACK_RECEIVED
from views.handback import grant_reader

BASIS = "《浙江省公共数据条例》第二十五条：省级平台向设区的市回流公共数据"


def copy_home(source: Home, root: Path) -> Home:
    """A writable copy of a built home (extension binaries hard-linked: they are only read)."""
    shutil.copytree(source.root, root, ignore=shutil.ignore_patterns("cache", "spool", "duckdb_extensions"))
    shutil.copytree(source.extensions, root / "duckdb_extensions", copy_function=os.link)
    return Home(root)


@pytest.fixture
def province(built_home: Home, tmp_path: Path) -> Home:
    return copy_home(built_home, tmp_path / "province")


@pytest.fixture
def city(tmp_path: Path) -> Home:
    return Home(tmp_path / "hangzhou").ensure()


def stored_slice(home: Home, table: str, column: str, prefix: str) -> pl.DataFrame:
    return delta.read(home.table_path("base", table)).filter(pl.col(column).str.starts_with(prefix))


def test_export_and_receive_physically(province: Home, city: Home, tmp_path: Path) -> None:
    package = handback.export(province, to=tmp_path / "to-hangzhou", division="330100",
                              tables=["population", "legal_entity"], basis=BASIS)
    expected = stored_slice(province, "population", "hukou_division", "3301")
    assert package.division == "3301" and package.division_name == "杭州市"
    assert package.tables["population"].rows == expected.height > 0
    assert package.tables["population"].source_version == delta.version(province.table_path("base", "population"))
    manifest = json.loads((package.path / handback.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["source_node"]["id"] == handback.node(province).id and manifest["basis"] == BASIS
    exported = delta.read(province.table_path("system", HANDBACK_EXPORTS.name))
    assert exported["package_id"].to_list() == [package.package_id]

    [population, entities] = handback.receive(city, package.path)
    assert not population.already and population.dataset.id == "population_3301"
    assert population.dataset.access == "physical" and population.dataset.rows == expected.height
    # Query the received table in the city's lake, with a stock DuckDB and the delta extension.
    con = connect(extensions=("delta",))
    received = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT starts_with(hukou_division, '3301')), "
        f"count(DISTINCT _batch_id) FROM delta_scan('{city.table_path('raw', 'population_3301')}')").fetchone()
    assert received == (expected.height, 0, 1)
    rows = handback.read_received(city, "population_3301").drop(list(_lineage()))
    assert rows.sort("resident_id").equals(expected.sort("resident_id"))
    assert entities.dataset.rows == stored_slice(province, "legal_entity", "division", "3301").height

    # The city's catalog records both, with their provenance; the shipped catalog is untouched.
    catalog = load_received(city)
    assert set(catalog) == {"population_3301", "legal_entity_3301"}
    entry = catalog["population_3301"]
    assert entry.source_node_id == handback.node(province).id and entry.basis == BASIS
    assert entry.source_table == "base.population" and entry.columns["resident_id"].startswith("公民身份号码")
    log = delta.read(city.table_path("system", HANDBACK_RECEIVED.name))
    assert sorted(log["dataset"].to_list()) == ["legal_entity_3301", "population_3301"]
    assert [r["statement_kind"] for r in audit.entries(city)] == ["handback.receive", "handback.receive"]

    # Receiving the same package again writes nothing.
    again = handback.receive(city, package.path)
    assert all(result.already for result in again)
    assert delta.version(city.table_path("raw", "population_3301")) == 0


def _lineage() -> tuple[str, ...]:
    from lake.system import LINEAGE_COLUMNS

    return tuple(LINEAGE_COLUMNS)


def test_logical_receive_reads_the_package_in_place(province: Home, city: Home, tmp_path: Path) -> None:
    package = handback.export(province, to=tmp_path / "pkg", division="3301", basis=BASIS)
    [result] = handback.receive(city, package.path, access="logical")
    assert result.dataset.access == "logical" and Path(result.dataset.location) == package.table_path("population")
    assert not city.table_path("raw", "population_3301").exists()
    assert handback.read_received(city, "population_3301").height == package.tables["population"].rows


def test_a_changed_package_is_refused_whole(province: Home, city: Home, tmp_path: Path) -> None:
    package = handback.export(province, to=tmp_path / "pkg", division="3301", tables=["population", "legal_entity"],
                              basis=BASIS)
    data = next(package.table_path("legal_entity").glob("*.parquet"))
    data.write_bytes(data.read_bytes() + b"\0")
    with pytest.raises(ContractError, match="SHA-256"):
        handback.receive(city, package.path)
    # Nothing at all was written, not even the population table that was intact.
    assert not received_dir(city).exists() and not any(city.zone("raw").iterdir())
    assert not delta.is_table(city.table_path("system", HANDBACK_RECEIVED.name))


def test_rows_outside_the_division_are_refused(province: Home, city: Home, tmp_path: Path) -> None:
    package = handback.export(province, to=tmp_path / "pkg", division="3301", basis=BASIS)
    manifest_path = package.path / handback.MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["division"] = "330106"  # claims a narrower slice than it holds
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ContractError, match="outside division 330106"):
        handback.receive(city, package.path)


def test_exports_need_authority_and_a_fresh_folder(province: Home, tmp_path: Path) -> None:
    with pytest.raises(PolicyDenied, match="--basis"):
        handback.export(province, to=tmp_path / "a", division="3301")
    with pytest.raises(NotFound, match="did you mean 'population'"):
        handback.export(province, to=tmp_path / "a", division="3301", tables=["populaton"], basis=BASIS)
    with pytest.raises(Exception, match="not a division code"):
        handback.export(province, to=tmp_path / "a", division="33A1", basis=BASIS)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(StateError, match="never written over"):
        handback.export(province, to=tmp_path / "full", division="3301", basis=BASIS)
    assert (tmp_path / "full" / "keep.txt").read_text() == "x" and not (tmp_path / "a").exists()


def test_an_older_package_never_replaces_a_newer_slice(province: Home, city: Home, tmp_path: Path) -> None:
    older = handback.export(province, to=tmp_path / "old", division="3301", basis=BASIS)
    newer = handback.export(province, to=tmp_path / "new", division="3301", basis=BASIS)
    handback.receive(city, newer.path)
    with pytest.raises(StateError, match="newer slice"):
        handback.receive(city, older.path)
    assert load_received(city)["population_3301"].package_id == newer.package_id
    with pytest.raises(StateError, match="exported by this node"):
        handback.receive(province, newer.path)


def test_a_grant_limits_the_slice_to_what_it_approved(province: Home, city: Home, tmp_path: Path) -> None:
    """Under a grant the package holds the granted columns as the grantee sees them; revoked, it is refused."""
    share = sharing.request(province, user="hz_pubsec", target="population",
                            columns=["resident_id", "name", "hukou_division"], purpose="户籍人口回流核对",
                            legal_basis="《浙江省公共数据条例》第二十五条 数据回流", period_days=30, scope="3301")
    if share.state == "pending":
        grant = sharing.approve(province, user="mps_officer", request_id=share.id)
    else:
        grant = sharing.get_grant(province, str(share.grant_id))
    assert grant.state == "active"
    package = handback.export(province, to=tmp_path / "granted", division="3301", grant=grant.id,
                              reader=grant_reader(province, grant.id))
    rows = delta.read(package.table_path("population"))
    assert rows.columns == ["resident_id", "name", "hukou_division"]
    assert rows.height == stored_slice(province, "population", "hukou_division", "3301").height
    assert all(name.endswith("*") for name in rows["name"].drop_nulls())  # masked as the grantee sees it
    assert package.grant_id == grant.id and handback.receive(city, package.path)[0].dataset.grant_id == grant.id

    with pytest.raises(PolicyDenied, match="not 'legal_entity'"):
        handback.export(province, to=tmp_path / "wrong", division="3301", tables=["legal_entity"], grant=grant.id,
                        reader=grant_reader(province, grant.id))
    with pytest.raises(PolicyDenied, match="covers rows of division '3301'"):
        handback.export(province, to=tmp_path / "wide", division="33", grant=grant.id,
                        reader=grant_reader(province, grant.id))
    sharing.revoke(province, user="mps_officer", grant_id=grant.id, reason="核对完成")
    with pytest.raises(PolicyDenied, match="revoked"):
        handback.export(province, to=tmp_path / "late", division="3301", grant=grant.id,
                        reader=grant_reader(province, grant.id))


def test_command_line_with_two_homes(province: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    city_root = tmp_path / "city"
    package = tmp_path / "pkg"
    assert main(["--home", str(province.root), "handback", "export", "--to", str(package), "--division", "3301",
                 "--tables", "population", "--basis", BASIS]) == 0
    assert "Exported package" in capsys.readouterr().out
    assert main(["--home", str(city_root), "handback", "receive", str(package)]) == 0
    assert "population_3301" in capsys.readouterr().out
    assert main(["--home", str(city_root), "handback", "list"]) == 0
    assert "received population_3301" in capsys.readouterr().out
    assert main(["--home", str(province.root), "handback", "export", "--to", str(tmp_path / "x"), "--division",
                 "3301"]) == 2


def test_the_commands_in_the_doc_parse() -> None:
    import shlex

    from govlake.cli import build_parser

    doc = Path(__file__).resolve().parents[2] / "docs" / "return-flow.md"
    commands = [line.split("$ ", 1)[1].split("  #")[0] for line in doc.read_text(encoding="utf-8").splitlines()
                if line.startswith("$ govlake")]
    assert len(commands) >= 5
    parsed = [build_parser().parse_args(shlex.split(command)[1:]) for command in commands]
    assert [args.command for args in parsed].count("handback") == 3
