"""Mask SQL on real values, column treatments, and grants validated against the views."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from govlake.errors import ConfigError
from policies import ColumnGrant, load_policies, load_policies_from
from policies.load import POLICIES_DIR
from views.columns import ColumnFlags, ViewColumn
from views.definitions import load_views, shipped_views
from views.masks import MASKS, check_grants, treatment, user_access


def masked(kind: str, value: str | None) -> str | None:
    row = duckdb.sql(f"SELECT {MASKS[kind]('x')} FROM (SELECT ?::VARCHAR AS x)", params=[value]).fetchone()
    assert row is not None
    return row[0] if row[0] is None else str(row[0])


@pytest.mark.parametrize(("kind", "value", "expected"), [
    ("resident_id", "330106199003071236", "330106********1236"),
    ("resident_id", "33010619900307123X", "330106********123X"),
    ("resident_id", "330106900307123", "******************"),  # 15 digits: nothing kept
    ("resident_id", None, None),
    ("name", "张三", "张*"),
    ("name", "张三丰", "张*"),  # the length of the given name is hidden too
    ("name", "欧阳娜娜", "欧阳*"),
    ("name", "司马迁", "司马*"),
    ("name", "阿依古丽·买买提", "阿*"),
    ("phone", "13812345678", "138****5678"),
    ("phone", "0571-88001234", "057****1234"),
    ("phone", "12345", "****"),
    ("party_id", "91330106MA2GXQ7A1X", "91330106MA2GXQ7A1X"),  # a USCC is public registration data
    ("party_id", "330106199003071236", "330106********1236"),
    ("party_id", "913301061234567890", "913301********7890"),  # all digits: could be a person, masked
    ("party_id", "ABC", "******************"),
    ("party_name", "杭州某某科技有限公司", "杭州某某科技有限公司"),
    ("party_name", "西湖区李记小吃店", "西湖区李记小吃店"),
    ("party_name", "张三", "张*"),
    ("party_name", "李记店", "李*"),  # too short to tell: masked
])
def test_mask_sql(kind: str, value: str | None, expected: str | None) -> None:
    assert masked(kind, value) == expected


def test_every_mask_kind_in_policies_has_sql() -> None:
    assert set(load_policies().masks.kinds) == set(MASKS)


def column(name: str, pi: str, mask: str, *, direct: bool = True) -> ViewColumn:
    return ViewColumn(name, ColumnFlags(pi, "important", mask), (), direct)


@pytest.mark.parametrize(("flags", "grant", "expected"), [
    (column("rid", "personal", "resident_id"), ColumnGrant("v"), "resident_id"),
    (column("rid", "personal", "resident_id"), ColumnGrant("v", unmask=frozenset({"rid"})), "clear"),
    (column("rid", "sensitive", "resident_id"), ColumnGrant("v"), "hidden"),
    (column("rid", "sensitive", "resident_id"), ColumnGrant("v", reveal=frozenset({"rid"})), "resident_id"),
    (column("x", "personal", "hidden"), ColumnGrant("v"), "hidden"),
    (column("x", "personal", "hidden"), ColumnGrant("v", reveal=frozenset({"x"})), "clear"),
    (column("x", "personal", "clear"), ColumnGrant("v"), "clear"),
    (column("x", "none", "clear", direct=False), ColumnGrant("v"), "clear"),
])
def test_treatment(flags: ViewColumn, grant: ColumnGrant, expected: str) -> None:
    assert treatment(flags, grant, open_view=False)[0] == expected
    assert treatment(flags, grant, open_view=True)[0] == "clear"


def test_demo_users_access() -> None:
    policies = load_policies()
    views = shipped_views()
    analyst = user_access(policies.user("hz_analyst"), policies, views)
    assert analyst["population"].scope_prefix == "3301"
    assert analyst["population"].columns["resident_id"].treatment == "resident_id"
    assert analyst["population"].columns["sex"].treatment == "clear"  # revealed by the analyst grant
    assert analyst["credit_person"].columns["name"].treatment == "hidden"  # not revealed there
    pubsec = user_access(policies.user("hz_pubsec"), policies, views)
    assert pubsec["population"].columns["resident_id"].treatment == "clear"
    assert pubsec["legal_entity"].columns["legal_rep_id"].treatment == "resident_id"  # only population unmasked
    leader = user_access(policies.user("zj_leader"), policies, views)
    assert leader["department_aggregation"].scope_prefix == ""  # unscoped aggregate
    assert leader["population_structure"].scope_prefix == "33"


def edited_policies(tmp_path: Path, file: str, edit: Callable[[str], str]) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder / file
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("file", "edit", "message"), [
    ("grants.toml", lambda t: t.replace('"population", "legal_entity", "conflicts"', '"population", "legal_entty", '
                                        '"conflicts"'),
     "view 'legal_entty' does not exist (did you mean 'legal_entity'?)"),
    ("grants.toml", lambda t: t.replace('reveal = ["name", "sex", "age"]', 'reveal = ["name", "hukou_division"]'),
     "column population.hukou_division is not hidden, so reveal does nothing"),
    ("grants.toml", lambda t: t.replace('unmask = ["resident_id"]', 'unmask = ["residence_division"]'),
     "column population.residence_division holds no personal information"),
    ("grants.toml", lambda t: t.replace('unmask = ["resident_id"]', 'unmask = ["resident_ID"]'),
     "view 'population' has no column 'resident_ID'"),
    ("grants.toml", lambda t: t.replace('views = ["open_population", "open_entities", "open_admin_licences"',
                                        'views = ["open_population", "population_structure", "open_admin_licences"'),
     "role 'open_data' is open-data only but view 'population_structure' is not an open-data view"),
])
def test_bad_grants_are_refused(tmp_path: Path, file: str, edit: Callable[[str], str], message: str) -> None:
    policies = load_policies_from(edited_policies(tmp_path, file, edit))
    with pytest.raises(ConfigError, match=r"grants\.toml") as caught:
        check_grants(policies, shipped_views())
    assert message in str(caught.value)


def test_scoped_users_get_unscoped_views_only_when_aggregate(tmp_path: Path) -> None:
    views_dir = tmp_path / "views"
    views_dir.mkdir()
    for view in shipped_views().values():
        shutil.copy(view.file, views_dir)
    (views_dir / "everyone.sql").write_text(
        "-- 全部人口\n-- @scope: none — 演示用的全部人口\nSELECT hukou_division, resident_id FROM base.population",
        encoding="utf-8")
    views = load_views(views_dir)
    folder = edited_policies(tmp_path, "grants.toml", lambda t: t.replace('"population", "legal_entity", "conflicts"',
                                                                          '"population", "everyone", "conflicts"'))
    with pytest.raises(ConfigError, match=r"has no division column .* and is not an aggregate"):
        check_grants(load_policies_from(folder), views)
    check_grants(load_policies(), views)  # fine as long as no scoped user has it
