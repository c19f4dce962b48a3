"""Column flags from the catalog, libraries and TableSpecs, and view-column lineage with sqlglot."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.errors import ConfigError
from govlake.home import Home
from lake import delta
from policies import load_policies
from transforms.tables import TableSpec, all_tables
from views.columns import ColumnFlags, TableFlagResolver, ViewColumn, combine, view_columns
from views.definitions import load_view, shipped_views


def flags_of(view: str) -> dict[str, ViewColumn]:
    return view_columns(shipped_views()[view], load_policies())


def test_population_flags_follow_the_catalog() -> None:
    columns = flags_of("population")
    resident_id = columns["resident_id"]
    assert (resident_id.flags.pi, resident_id.flags.grade, resident_id.flags.mask) == ("personal", "important",
                                                                                      "resident_id")
    assert resident_id.direct and resident_id.inputs == ("base.population.resident_id",)
    # births (minors under 14) is a source of name, sex and birth date: strictest PI wins (就高从严)
    assert columns["name"].flags.pi == "sensitive" and columns["name"].flags.mask == "name"
    assert columns["birth_date"].flags.pi == "sensitive"
    assert columns["age"].flags.pi == "sensitive"  # TableSpec.derived_from: birth_date
    assert columns["phone"].flags.mask == "phone"
    assert columns["hukou_division"].flags.pi == "none" and columns["hukou_division"].flags.mask == "clear"
    assert "hukou" in columns["resident_id"].flags.datasets


def test_masks_of_other_views() -> None:
    legal = flags_of("legal_entity")
    assert legal["legal_rep_id"].flags.mask == "resident_id" and legal["legal_rep_name"].flags.mask == "name"
    assert legal["uscc"].flags.mask == "clear" and legal["entity_name"].flags.mask == "clear"
    conflicts = flags_of("conflicts")
    assert conflicts["key"].flags.mask == "party_id" and conflicts["chosen_value"].flags.mask == "hidden"
    # derived from two non-personal division columns of an important and a general table
    assert conflicts["division"].flags == ColumnFlags("none", "important", "clear",
                                                      conflicts["division"].flags.datasets, "")
    licence = flags_of("e_licence")
    assert licence["holder_code"].flags.mask == "party_id" and licence["holder_name"].flags.mask == "party_name"


def test_derived_columns_of_masked_inputs_are_hidden(tmp_path: Path) -> None:
    path = tmp_path / "probe.sql"
    path.write_text(
        "-- probe\n-- @scope: d\n"
        "WITH p AS (SELECT resident_id AS rid, name, age, hukou_division FROM base.population)\n"
        "SELECT rid, upper(name) AS loud, left(rid, 6) AS prefix, count(*) OVER () AS total,\n"
        "       CASE WHEN age < 18 THEN 'minor' END AS band, hukou_division AS d,\n"
        "       (SELECT max(x.rid) FROM p AS x) AS top\n"
        "FROM (SELECT * FROM p) AS q", encoding="utf-8")
    view = load_view(path, known_tables=frozenset({"base.population"}))
    columns = view_columns(view, load_policies())
    assert columns["rid"].direct and columns["rid"].flags.mask == "resident_id"
    assert not columns["loud"].direct and columns["loud"].flags.mask == "hidden"
    assert columns["prefix"].flags.mask == "hidden"
    assert columns["total"].flags == ColumnFlags("none", "general", "clear") and columns["total"].inputs == ()
    assert columns["band"].flags.mask == "clear" and columns["band"].flags.pi == "sensitive"
    assert columns["d"].direct and columns["d"].flags.pi == "none"
    assert columns["top"].inputs == ("base.population.resident_id",) and columns["top"].flags.mask == "hidden"


def test_combine_is_strictest_and_highest() -> None:
    general = ColumnFlags("personal", "general", "name")
    important = ColumnFlags("sensitive", "important", "name")
    assert combine([general, important], direct=True) == ColumnFlags("sensitive", "important", "name")
    assert combine([general, ColumnFlags("personal", "core", "phone")], direct=True).mask == "hidden"
    assert combine([general], direct=False).mask == "hidden"
    assert combine([ColumnFlags("none", "core", "clear")], direct=False) == ColumnFlags("none", "core", "clear")


def test_unflagged_columns_fail_closed() -> None:
    specs = {**all_tables(), "base.mystery": TableSpec("谜", {"secret": "未声明"})}
    resolver = TableFlagResolver(load_policies(), specs)
    with pytest.raises(ConfigError, match=r"base\.mystery\.secret has no personal-information flag"):
        resolver.flags("base.mystery", "secret")
    flagged = TableFlagResolver(load_policies(), {
        **specs, "base.mystery": TableSpec("谜", {"secret": "x", "id": "y"}, derived_from={"id": ("hukou.phone",)},
                                           default_pi="none", grade="core")})
    assert flagged.flags("base.mystery", "secret") == ColumnFlags("none", "core", "clear", frozenset(), "x")
    assert flagged.flags("base.mystery", "id").mask == "phone"


def test_circular_derivation_is_an_error() -> None:
    specs = {"base.loop": TableSpec("环", {"a": "", "b": ""},
                                    derived_from={"a": ("base.loop.b",), "b": ("base.loop.a",)})}
    with pytest.raises(ConfigError, match="circular"):
        TableFlagResolver(load_policies(), specs).flags("base.loop", "a")


def test_table_specs_list_every_stored_column(built_home: Home) -> None:
    """The lineage schema comes from the TableSpecs, so they must know every column a view reads."""
    resolver = TableFlagResolver(load_policies())
    for table in sorted({t for view in shipped_views().values() for t in view.tables}):
        zone, name = table.split(".")
        stored = set(delta.read(built_home.table_path(zone, name)).columns)
        assert stored <= set(resolver.table_columns(table)), table
