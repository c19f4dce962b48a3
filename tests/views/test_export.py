"""Portable view definitions (views/export.py): every file parses back in its dialect, reads no path,
and still means what the governed view means."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from govlake.cli import main
from govlake.errors import StateError
from govlake.home import Home
from views import export as export_module
from views.export import DIALECTS, ExportError, export
from views.session import open_session

USERS = ("hz_analyst", "hz_pubsec", "zj_leader", "national_leader", "open_public")


def _statements(text: str, dialect: str) -> list[exp.Expr]:
    parsed = [s for s in sqlglot.parse(text, read=dialect, error_level=ErrorLevel.RAISE) if s is not None]
    assert parsed and not any(isinstance(s, exp.Command) for s in parsed), text[:500]
    return parsed


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("who", [*USERS, "raw"])
def test_each_file_parses_back_and_names_tables_not_paths(built_home: Home, tmp_path: Path, dialect: str,
                                                          who: str) -> None:
    options = {"raw": True} if who == "raw" else {"user": who, "home": built_home}
    exported = export(dialect, out=tmp_path, **options)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.sql" for name in exported)
    schema = "govlake_ungoverned" if who == "raw" else f"govlake_{who}"
    for name, view in exported.items():
        assert view.file is not None
        text = view.file.read_text(encoding="utf-8")
        lowered = text.lower()
        assert "delta_scan" not in lowered and "/lake/" not in text and str(built_home.root) not in text
        assert "regexp_full_match" not in lowered and "group by all" not in lowered
        statements = _statements(text, dialect)
        create = statements[0]
        assert isinstance(create, exp.Create) and create.kind == "VIEW"
        target = create.find(exp.Table)
        assert target is not None and (target.db, target.name) == (schema, name)
        read = {t.sql(dialect=dialect) for t in create.expression.find_all(exp.Table)}
        assert read and all(t.startswith("govlake.base_") or t.startswith("govlake.topic_") for t in read), read
        if dialect == "trino":
            assert all(isinstance(s, exp.Comment) for s in statements[1:]) and "SECURITY DEFINER" in text
        assert ("NO masks" in text) == (who == "raw")


@pytest.fixture(scope="module")
def catalog(built_home: Home) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB standing in for the target catalog: govlake.<zone>_<table> over the lake's Delta tables."""
    from lake.extensions import connect

    con = connect(extension_dir=built_home.extensions)
    con.execute("CREATE SCHEMA govlake")
    for zone in ("base", "topic"):
        for path in sorted(built_home.zone(zone).iterdir()):
            con.execute(f"CREATE VIEW govlake.{zone}_{path.name} AS SELECT * FROM delta_scan('{path}')")
    yield con
    con.close()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("user", ["hz_analyst", "open_public"])
def test_exported_views_answer_like_the_session(built_home: Home, catalog: duckdb.DuckDBPyConnection,
                                                dialect: str, user: str) -> None:
    """Read back from the dialect and run in DuckDB: the same rows as the governed session.

    This checks the rules (GROUP BY ALL, regular expressions, table names) as sqlglot reads
    each dialect; it cannot stand in for running Spark or Trino.
    """
    session = open_session(user, home=built_home)
    try:
        for name, view in export(dialect, user=user, home=built_home).items():
            create = _statements(view.sql, dialect)[0]
            query = create.expression.sql(dialect="duckdb")
            got = catalog.execute(f"SELECT * FROM ({query}) ORDER BY ALL").pl()
            expected = pl.from_arrow(session.query(f'SELECT * FROM "{name}" ORDER BY ALL').table)
            assert isinstance(got, pl.DataFrame) and isinstance(expected, pl.DataFrame)
            assert got.rows() == expected.rows(), (dialect, name)
    finally:
        session.close()


def test_regular_expressions_keep_duckdb_semantics() -> None:
    tree = sqlglot.parse_one("SELECT regexp_full_match(a, '[0-9]{2}') AS x, regexp_matches(b, '(公司|店)$') AS y "
                             "FROM base.population", read="duckdb")
    context = export_module.ExportContext("spark", "demo", {})
    tree = export_module.java_regex_anchors(export_module.full_match_as_regexp_like(tree, context), context)
    patterns = [like.expression.name for like in tree.find_all(exp.RegexpLike)]
    assert patterns == ["^(?:[0-9]{2})\\z", "(公司|店)\\z"]
    assert "RLIKE '^(?:[0-9]{2})\\\\z'" in tree.sql(dialect="spark")  # Spark string literals unescape \\
    assert "REGEXP_LIKE(a, '^(?:[0-9]{2})\\z')" in tree.sql(dialect="trino")


def test_group_by_all_becomes_the_keys() -> None:
    tree = sqlglot.parse_one("SELECT left(d, 2) AS p, 'x' AS k, count(*) AS n FROM base.t GROUP BY ALL",
                             read="duckdb")
    tree = export_module.expand_group_by_all(tree, export_module.ExportContext("trino", "demo", {}))
    assert tree.sql(dialect="trino").endswith("GROUP BY SUBSTR(d, 1, 2)")


def test_a_duckdb_only_function_is_reported_with_the_view(monkeypatch: pytest.MonkeyPatch) -> None:
    source = export_module._Source("lists", "SELECT list_sort(insurance_types) AS sorted FROM base.population", "d",
                                   {}, ("base.population",))
    monkeypatch.setattr(export_module, "_raw_sources", lambda: [source])
    with pytest.raises(ExportError, match=r"view 'lists' uses function list_sort, which GovLake does not translate"):
        export("trino", raw=True)


def test_catalog_and_schema_name_the_tables(tmp_path: Path) -> None:
    exported = export("trino", raw=True, catalog="hive", schema="lake", view_schema="analytics")
    create = _statements(exported["population"].sql, "trino")[0]
    assert create.find(exp.Table).sql(dialect="trino") == "hive.analytics.population"  # type: ignore[union-attr]
    assert exported["population"].tables == ("hive.lake.base_population",)


def test_cli_writes_files_and_refuses_to_overwrite(built_home: Home, tmp_path: Path) -> None:
    argv = ["--home", str(built_home.root), "views", "export", "--dialect", "spark", "--user", "zj_leader",
            "--out", str(tmp_path)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    assert "view definitions for user zj_leader" in out.getvalue() and (tmp_path / "population_structure.sql").exists()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(argv) == 1
    assert "--overwrite" in err.getvalue()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*argv, "--overwrite"]) == 0
    with pytest.raises(StateError):
        export("spark", user="zj_leader", home=built_home, out=tmp_path)
