"""View files: header, directives and the SELECT are validated; errors name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.errors import ConfigError
from views.definitions import load_view, shipped_views

KNOWN = frozenset({"base.population", "base.legal_entity", "topic.population_by_division_age_sex"})


def write(tmp_path: Path, text: str, name: str = "v") -> Path:
    path = tmp_path / f"{name}.sql"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_views_load_with_descriptions_and_scopes() -> None:
    views = shipped_views()
    assert {"population", "legal_entity", "conflicts", "open_population", "open_entities"} <= set(views)
    for view in views.values():
        assert view.description and all(t.split(".")[0] in ("base", "topic") for t in view.tables)
        assert view.scope is not None or view.unscoped_reason
    assert views["population"].scope == "hukou_division"
    assert views["open_population"].open_counts == ("persons",) and views["open_population"].is_aggregate
    assert views["department_aggregation"].scope is None and views["department_aggregation"].is_aggregate
    assert views["conflicts"].column_comments["division"].startswith("对象所在行政区划")


def test_header_is_the_description(tmp_path: Path) -> None:
    view = load_view(write(tmp_path, "-- 第一行，\n-- 第二行。\n-- @scope: hukou_division\n"
                                     "SELECT hukou_division FROM base.population"), known_tables=KNOWN)
    assert view.description == "第一行，第二行。" and view.columns == ("hukou_division",)


BAD = [
    ("SELECT resident_id FROM base.population", "needs a header comment"),
    ("-- x\n-- @scop: a\nSELECT 1 AS a FROM base.population", "unknown directive @scop (did you mean 'scope'?)"),
    ("-- x\nSELECT hukou_division FROM base.population", "declare the row scope"),
    ("-- x\n-- @scope: division\nSELECT hukou_division FROM base.population",
     "@scope column 'division' is not an output column (did you mean 'hukou_division'?)"),
    ("-- x\n-- @scope: none\nSELECT hukou_division FROM base.population", "'@scope: none' needs a reason"),
    ("-- x\n-- @scope: none — y\nSELECT * FROM base.population", "SELECT * is not allowed in a view"),
    ("-- x\n-- @scope: none — why\nSELECT upper(name) FROM base.population", "needs a lower_snake_case name"),
    ("-- x\n-- @scope: none — why\nSELECT a AS b, c AS b FROM base.population", "appears twice"),
    ("-- x\n-- @scope: none — why\nSELECT name FROM raw.hukou", "must be written zone.table with zone base or topic"),
    ("-- x\n-- @scope: none — why\nSELECT name FROM system.audit", "must be written zone.table"),
    ("-- x\n-- @scope: none — why\nSELECT name FROM population", "must be written zone.table"),
    ("-- x\n-- @scope: none — why\nSELECT name FROM base.popluation", "is not built by any step"),
    ("-- x\n-- @scope: none — why\nSELECT a FROM read_csv('/etc/passwd')", "never table functions or files"),
    ("-- x\n-- @scope: none — why\nSELECT a FROM base.population; SELECT 2", "exactly one SELECT"),
    ("-- x\n-- @scope: none — why\nCOPY base.population TO 'x'", "a view is one SELECT (CTEs allowed), not COPY"),
    ("-- x\n-- @scope: hukou_division\n-- @open: n\nSELECT hukou_division, 1 AS n FROM base.population",
     "must be an aggregate"),
    ("-- x\n-- @scope: d\n-- @open: n\nSELECT hukou_division AS d, sex, count(*) AS n FROM base.population "
     "GROUP BY hukou_division", "column 'sex' of an @open view is not a GROUP BY key"),
    ("-- x\n-- @scope: d\n-- @open: n\nSELECT hukou_division AS d, max(age) AS m, count(*) AS n FROM base.population "
     "GROUP BY ALL", "is an aggregate but not a declared count"),
    ("-- x\n-- @scope: d\n-- @open: n\nSELECT hukou_division AS d, max(age) AS n FROM base.population GROUP BY ALL",
     "must be count(...) or sum(...)"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_view_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_view(path, known_tables=KNOWN)
    assert message in str(caught.value) and caught.value.location == str(path)


def test_view_names_come_from_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lower_snake_case"):
        load_view(write(tmp_path, "-- x\n-- @scope: none — y\nSELECT 1 AS a FROM base.population", "Bad-Name"),
                  known_tables=KNOWN)
