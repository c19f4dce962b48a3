"""Masks and row scopes inside each user's view definitions, and the grants that shape them.

For each view granted to a user this module decides how every column is shown (its
*treatment*: a mask kind, ``clear`` or ``hidden``) and writes the user's definition of the
view::

    SELECT CASE WHEN <in scope> THEN <mask>(v."resident_id") END AS "resident_id", ...
    FROM (<the view's SELECT over delta_scan('<table path>')>) AS v
    WHERE <in scope>

Masks and scopes therefore live inside the view the user queries: a WHERE on a masked
column compares the masked value, and no query can name the stored one. Every column
also repeats the scope test, so even if DuckDB evaluated a user's predicate before the
scope filter (it may reorder conjuncts), rows outside the scope would present only
NULLs — no value of another division can reach a user's expression, an error message or
an error-as-oracle. The one exception is the scope column itself: guarding it would stop
DuckDB from pushing a user's ``division = '330106'`` into the scan (a governed dashboard
query must cost at most 1.2× the raw one), and the most it could reveal through such an
oracle is which division codes occur outside the scope.

An open-data view (``@open``) is wrapped the same way with "the cell has at least
:data:`MIN_PERSONS` persons" as the guard, so small cells are suppressed and even the group
keys of suppressed rows cannot be probed.

Treatment of a column, from its flags (:mod:`views.columns`) and the user's grants:

====================================  =====================================
unmasked by a grant                   clear
sensitive PI, not revealed            hidden
flag ``hidden``, not revealed         hidden (``clear`` when revealed)
a mask kind (direct columns only)     that mask
otherwise                             clear
====================================  =====================================

Hidden columns keep their name and type and are NULL, so the same SQL runs for every user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govlake.errors import ConfigError, did_you_mean
from views.columns import GRADE_ORDER, ViewColumn, view_columns

if TYPE_CHECKING:
    from policies import ColumnGrant, Policies, User
    from views.definitions import View

#: Open-data cells counting fewer persons (or entities) than this are suppressed.
MIN_PERSONS = 10

COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "令狐", "端木", "西门", "南宫", "独孤", "百里", "呼延", "太史", "申屠", "澹台", "公冶", "濮阳",
)
ORGANISATION_SUFFIXES = (
    "公司", "合作社", "中心", "协会", "商会", "学会", "基金会", "研究会", "联合会", "促进会", "医院", "学校",
    "幼儿园", "研究院", "研究所", "事务所", "工作室", "委员会", "集团", "银行", "店", "厂", "馆", "行", "社",
    "部", "院", "所", "站", "场", "园", "队", "局", "处", "厅", "室",
)
_USCC_SHAPE = "[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"
_RESIDENT_ID_SHAPE = "[0-9]{17}[0-9Xx]"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mask_resident_id(value: str) -> str:
    """First 6 (division) + 8 stars + last 4; a value that is not 18 characters long is all stars."""
    return (f"CASE WHEN {value} IS NULL THEN NULL WHEN length({value}) = 18 "
            f"THEN left({value}, 6) || '********' || right({value}, 4) ELSE '******************' END")


def mask_name(value: str) -> str:
    """Surname (two characters for a compound surname) + one star, so the name's length is hidden too."""
    compound = ", ".join(_quote(s) for s in COMPOUND_SURNAMES)
    # list_contains, not IN (...): DuckDB plans a long IN list as a MARK join that projection
    # pruning cannot remove, so every query on the view paid for it (docs/benchmarks.md).
    return (f"CASE WHEN {value} IS NULL THEN NULL WHEN length({value}) > 2 "
            f"AND list_contains([{compound}], left({value}, 2)) "
            f"THEN left({value}, 2) || '*' ELSE left({value}, 1) || '*' END")


def mask_phone(value: str) -> str:
    """First 3 + 4 stars + last 4; shorter values are all stars."""
    return (f"CASE WHEN {value} IS NULL THEN NULL WHEN length({value}) >= 11 "
            f"THEN left({value}, 3) || '****' || right({value}, 4) ELSE '****' END")


def mask_party_id(value: str) -> str:
    """A USCC-shaped code (not all digits) as stored; anything else masked like a resident ID."""
    return (f"CASE WHEN {value} IS NULL THEN NULL WHEN regexp_full_match({value}, {_quote(_USCC_SHAPE)}) "
            f"AND NOT regexp_full_match({value}, {_quote(_RESIDENT_ID_SHAPE)}) THEN {value} "
            f"ELSE {mask_resident_id(value)} END")


def mask_party_name(value: str) -> str:
    """An organisation name (5+ characters ending in an organisation suffix) as stored; else a masked name."""
    suffixes = "|".join(ORGANISATION_SUFFIXES)
    return (f"CASE WHEN {value} IS NULL THEN NULL WHEN length({value}) >= 5 AND "
            f"regexp_matches({value}, {_quote('(' + suffixes + ')$')}) THEN {value} ELSE {mask_name(value)} END")


#: Mask kind -> SQL (DuckDB) of the masked value, given the SQL of a VARCHAR value.
MASKS: dict[str, Callable[[str], str]] = {
    "resident_id": mask_resident_id,
    "name": mask_name,
    "phone": mask_phone,
    "party_id": mask_party_id,
    "party_name": mask_party_name,
}


@dataclass(frozen=True)
class ColumnAccess:
    """How one column of a view is shown to one user, and why (for comments and docs)."""

    column: ViewColumn
    treatment: str  # a mask kind, "clear" or "hidden"
    why: str


@dataclass(frozen=True)
class ViewAccess:
    """One view as one user sees it: column treatments and the row scope."""

    view: View
    columns: dict[str, ColumnAccess]
    scope_prefix: str  # '' = every row
    grant_basis: str = ""

    @property
    def name(self) -> str:
        return self.view.name

    def max_grade(self, columns: frozenset[str] | set[str]) -> str | None:
        grades = [self.columns[c].column.flags.grade for c in columns if c in self.columns]
        return max(grades, key=GRADE_ORDER.__getitem__) if grades else None


def treatment(column: ViewColumn, grant: ColumnGrant, *, open_view: bool) -> tuple[str, str]:
    """(treatment, why) for one column under one grant; see the module docstring."""
    flags = column.flags
    if open_view:
        return "clear", f"开放数据：汇总单元格不足 {MIN_PERSONS} 的不予公开"
    if column.name in grant.unmask:
        return "clear", f"按授权不脱敏（{grant.basis}）"
    revealed = column.name in grant.reveal
    if flags.pi == "sensitive" and not revealed:
        return "hidden", "敏感个人信息，默认隐藏（需授权）"
    if flags.mask == "hidden":
        if revealed:
            return "clear", f"按授权显示（{grant.basis}）"
        why = "由脱敏或隐藏的列计算得出，默认隐藏（需授权）" if not column.direct else "个人信息，默认隐藏（需授权）"
        return "hidden", why
    if flags.mask in MASKS:
        return flags.mask, "个人信息，脱敏显示"
    return "clear", ("按授权显示（" + grant.basis + "）") if revealed else ""


def user_access(user: User, policies: Policies, views: Mapping[str, View]) -> dict[str, ViewAccess]:
    """Every view granted to ``user`` (any of its roles), with column treatments and scope."""
    result: dict[str, ViewAccess] = {}
    for name, grant in sorted(policies.views_of(user).items()):
        view = views[name]
        columns = view_columns(view, policies)
        access = {
            column: ColumnAccess(flags, *treatment(flags, grant, open_view=view.is_open))
            for column, flags in columns.items()
        }
        prefix = user.scope.division_prefix if view.scope else ""
        result[name] = ViewAccess(view, access, prefix, grant.basis)
    return result


def check_grants(policies: Policies, views: Mapping[str, View]) -> None:
    """Validate grants against the views; a ConfigError names the grant, the view and the fix.

    - a granted view exists, and its columns can be flagged (fail closed);
    - ``reveal`` names hidden columns of that view, ``unmask`` masked or hidden ones whose
      datasets may be shared at all (共享属性 is not 不予共享);
    - an open-data-only role is granted open-data views only;
    - a user with a row scope is granted only views with a ``@scope`` column, or aggregates
      whose ``@scope: none`` gives the reason they need no scope.
    """
    from lake.catalog import load_catalog

    catalog = load_catalog()
    for role, grant in policies.grants.items():
        where = f"{grant.file}: [{role}]"
        for name in grant.views:
            if name not in views:
                raise ConfigError(f"view {name!r} does not exist{did_you_mean(name, views)}; views are the "
                                  "views/*.sql files", location=where)
            view = views[name]
            if policies.roles[role].open_data_only and not view.is_open:
                raise ConfigError(f"role {role!r} is open-data only but view {name!r} is not an open-data view "
                                  "(@open)", location=where)
            columns = view_columns(view, policies)
            extra = grant.columns.get(name)
            if extra is None:
                continue
            for column in sorted(extra.reveal | extra.unmask):
                if column not in columns:
                    raise ConfigError(f"view {name!r} has no column {column!r}{did_you_mean(column, columns)}",
                                      location=f"{where} columns.{name}")
            for column in sorted(extra.reveal):
                flags = columns[column].flags
                if flags.pi != "sensitive" and flags.mask != "hidden":
                    raise ConfigError(f"column {name}.{column} is not hidden, so reveal does nothing; remove it "
                                      "(use unmask to show a masked column as stored)",
                                      location=f"{where} columns.{name}")
            for column in sorted(extra.unmask):
                flags = columns[column].flags
                if flags.pi == "none":
                    raise ConfigError(f"column {name}.{column} holds no personal information and is not masked; "
                                      "remove it from unmask", location=f"{where} columns.{name}")
                closed = sorted(d for d in flags.datasets if catalog.datasets[d].share.type == "none")
                if closed:
                    raise ConfigError(f"column {name}.{column} comes from dataset {closed[0]!r}, whose share type "
                                      "is 不予共享 (none); it cannot be unmasked", location=f"{where} columns.{name}")
    for user in policies.users.values():
        if not user.scope.division_prefix:
            continue
        for name in policies.views_of(user):
            view = views[name]
            if view.scope is None and not view.is_aggregate:
                raise ConfigError(
                    f"user {user.name!r} has row scope {user.scope.name!r} but view {name!r} has no division column "
                    "(@scope: none) and is not an aggregate; give the view a @scope column or do not grant it to "
                    "scoped users", location=str(policies.folder / "users.toml"))


def governed_sql(access: ViewAccess, tables: Mapping[str, str], *, types: Mapping[str, str] | None = None) -> str:
    """The user's definition of one view: masks and scope inlined, tables as ``delta_scan``.

    ``tables`` maps ``zone.table`` to the table's path; ``types`` maps output columns to
    their DuckDB type, so a hidden column keeps its type (else it is a VARCHAR NULL).
    """
    view = access.view
    inner = body_sql(view, tables)
    scope = f"starts_with(v.{_ident(view.scope)}, {_quote(access.scope_prefix)})" if access.scope_prefix else ""
    # LIKE on a literal prefix becomes a range filter DuckDB pushes into the scan (file skipping).
    scope_filter = f"v.{_ident(view.scope)} LIKE {_quote(access.scope_prefix + '%')}" if access.scope_prefix else ""
    guards = [scope] if scope else []
    conditions = [scope_filter] if scope_filter else []
    if view.is_open:
        keep = "(" + " OR ".join(f"v.{_ident(c)} >= {MIN_PERSONS}" for c in view.open_counts) + ")"
        guards.append(keep)
        conditions.append(keep)
    selects = []
    for name, column in access.columns.items():
        value = _treated(f"v.{_ident(name)}", column.treatment, (types or {}).get(name))
        if view.is_open and name in view.open_counts:
            value = f"CASE WHEN {value} >= {MIN_PERSONS} THEN {value} END"
        row_guards = [g for g in guards if not (g == scope and name == view.scope)]
        if row_guards and column.treatment != "hidden":
            value = f"CASE WHEN {' AND '.join(row_guards)} THEN {value} END"
        selects.append(f"    {value} AS {_ident(name)}")
    sql = "SELECT\n" + ",\n".join(selects) + f"\nFROM (\n{inner}\n) AS v"
    if conditions:
        sql += "\nWHERE " + " AND ".join(conditions)
    return sql


def body_sql(view: View, tables: Mapping[str, str]) -> str:
    """The view's own SELECT with each ``zone.table`` replaced by ``delta_scan('<path>')``."""
    from sqlglot import exp

    query = view.query.copy()
    for table in list(query.find_all(exp.Table)):
        full = f"{table.db}.{table.name}" if table.db else ""
        if full not in tables:
            continue
        alias = table.alias or table.name
        scan = exp.Table(
            this=exp.Anonymous(this="delta_scan", expressions=[exp.Literal.string(str(tables[full]))]),
            alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
        )
        table.replace(scan)
    return str(query.sql(dialect="duckdb", comments=False, pretty=True))


def _treated(value: str, kind: str, type_: str | None) -> str:
    if kind == "clear":
        return value
    if kind == "hidden":
        return f"CAST(NULL AS {type_ or 'VARCHAR'})"
    return MASKS[kind](value if type_ == "VARCHAR" else f"CAST({value} AS VARCHAR)")


def _ident(name: str | None) -> str:
    assert name is not None
    return '"' + name.replace('"', '""') + '"'


def column_comment(column: ColumnAccess, description: str, masks: Mapping[str, str] | None = None) -> str:
    """The comment DuckDB users see on a view column: description, then flags and treatment.

    ``masks`` maps mask kinds to their descriptions (policies/masks.toml).
    """
    from lake.catalog.model import GRADE_LABELS, PI_LABELS

    flags = column.column.flags
    parts = [PI_LABELS.get(flags.pi, flags.pi), GRADE_LABELS.get(flags.grade, flags.grade)]
    kind = column.treatment
    shown = {"clear": "明文", "hidden": "已隐藏"}.get(kind) or f"脱敏（{(masks or {}).get(kind, kind)}）"
    why = column.why if kind in ("clear", "hidden") else ""
    note = f"〔{'·'.join(parts)}·{shown}" + (f"；{why}" if why else "") + "〕"
    return f"{description}{note}" if description else note
