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

A record-level open-data view (``@open: records``, records the law makes public such as 双公示
decisions) gets the ordinary treatments below, never ``clear`` by default, with one rule more
for its party columns (:func:`party_value`): a ``party_id`` or ``party_name`` column is masked as
a natural person's (``resident_id`` / ``name``) on every row, except where the view's ``@party``
column says ``entity`` (a legal person or organisation, whose code and name are public) and
no ``party_id`` column of the row passes the resident-ID check (a person filed as a legal person
keeps a masked name and identifier). A row's kind, not the shape of its values, decides, so a
legal person's all-digit credit code stays public and a natural person's identifier is never
shown because it happens to look like a credit code.

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govlake.errors import ConfigError, did_you_mean
from views.columns import GRADE_ORDER, ColumnFlags, ViewColumn, view_columns

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

#: In an ``@open: records`` view: party mask kind -> the mask of a natural person's value.
PERSON_MASKS = {"party_id": "resident_id", "party_name": "name"}
#: The ``@party`` value of a legal person or organisation (``base.credit_facts.subject_type``).
LEGAL_PERSON = "entity"
#: Why a party column of an ``@open: records`` view is shown as it is (in its column comment).
PUBLIC_PARTY_WHY = "依法公示：法人、非法人组织和个体工商户的原样显示，自然人的一律按姓名或公民身份号码脱敏"
#: GB 11643 weights of the first 17 digits, and the check character for each remainder mod 11.
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"


def is_resident_id(value: str) -> str:
    """SQL: TRUE when ``value`` (VARCHAR) is 17 digits and a check character that fits (GB 11643).

    Written out term by term, without lambdas, so it exports to other dialects (views/export.py).
    """
    digits = " + ".join(f"TRY_CAST(substr({value}, {i}, 1) AS INTEGER) * {w}"
                        for i, w in enumerate(_RESIDENT_ID_WEIGHTS, start=1))
    return (f"coalesce(regexp_full_match(upper({value}), '[0-9]{{17}}[0-9X]') AND "
            f"substr({_quote(_RESIDENT_ID_CHECK)}, (({digits}) % 11) + 1, 1) = upper(right({value}, 1)), false)")


def party_value(value: str, kind: str, party: str | None, identifiers: Sequence[str] = ()) -> str:
    """SQL of a ``party_id`` / ``party_name`` column (VARCHAR ``value``) in an ``@open: records`` view.

    ``party`` is the SQL of the row's party kind (None: the view declares none, so every row is
    treated as a natural person's); ``identifiers`` the VARCHAR SQL of the row's ``party_id``
    columns. Only a legal person's row none of whose identifiers is a resident ID shows the value
    as stored.
    """
    person = MASKS[PERSON_MASKS[kind]](value)
    if party is None:
        return person
    public = " AND ".join([f"{party} = {_quote(LEGAL_PERSON)}", *(f"NOT {is_resident_id(i)}" for i in identifiers)])
    return f"CASE WHEN {public} THEN {value} ELSE {person} END"


@dataclass(frozen=True)
class ColumnAccess:
    """How one column of a view is shown to one user, and why (for comments and docs)."""

    column: ViewColumn
    treatment: str  # a mask kind, "clear" or "hidden"
    why: str


#: Every record-level view that carries a base library's key gains this column: '异议处理中' while
#: the record is under objection (lake/objections.py), else NULL. Every role that sees the record
#: sees it; the keys are read from system.objections when the session is set up and again after
#: every change to that ledger (views/session.py), so it is current on the next query.
OBJECTION_COLUMN = "objection_status"
OBJECTION_COMMENT = ("异议状态：该记录有尚未办结的数据异议时为「异议处理中」，否则为空"
                     "（查询时读取异议台账 system.objections，见 govlake objection）")


@dataclass(frozen=True)
class ObjectionMarker:
    """Where a view carries a record key: the output column, and the library whose key it is."""

    key_column: str
    library: str


@dataclass(frozen=True)
class ViewAccess:
    """One view as one user sees it: column treatments and the row scope."""

    view: View
    columns: dict[str, ColumnAccess]
    scope_prefix: str  # '' = every row
    grant_basis: str = ""
    objection_marker: ObjectionMarker | None = None

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
        if view.open_records:
            access = {c: ColumnAccess(a.column, a.treatment, PUBLIC_PARTY_WHY) if a.treatment in PERSON_MASKS else a
                      for c, a in access.items()}
        prefix = user.scope.division_prefix if view.scope else ""
        marker = objection_marker(view, columns)
        if marker is not None:
            flags = ColumnFlags("none", "general", "clear", comment=OBJECTION_COMMENT)
            access[OBJECTION_COLUMN] = ColumnAccess(ViewColumn(OBJECTION_COLUMN, flags, (), False), "clear", "")
        result[name] = ViewAccess(view, access, prefix, grant.basis, marker)
    return result


def objection_marker(view: View, columns: Mapping[str, ViewColumn]) -> ObjectionMarker | None:
    """The record key a view carries: a direct column named, and read from, a base library's key
    (``resident_id`` of population, ``uscc`` of legal_entity). None for aggregates and open data."""
    from lake.catalog.libraries import load_libraries

    if view.is_open_data or view.is_aggregate or OBJECTION_COLUMN in columns:
        return None
    keys = {library.key: library.id for library in load_libraries().values()}
    for name, column in columns.items():
        if name in keys and column.direct and len(column.inputs) == 1 and column.inputs[0].rsplit(".", 1)[-1] == name:
            return ObjectionMarker(name, keys[name])
    return None


def objection_status_sql(key: str, keys: Sequence[str]) -> str:
    """The marker's SQL for the record key ``key`` given the keys under objection (a constant list:
    DuckDB drops it when a query does not read the column, unlike a join)."""
    from lake.objections import MARK_LABEL

    if not keys:
        return "CAST(NULL AS VARCHAR)"
    listed = ", ".join(_quote(k) for k in keys)
    return f"CASE WHEN list_contains([{listed}], {key}) THEN {_quote(MARK_LABEL)} END"


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
            if policies.roles[role].open_data_only and not view.is_open_data:
                raise ConfigError(f"role {role!r} is open-data only but view {name!r} is not an open-data view "
                                  "(@open)", location=where)
            columns = view_columns(view, policies)
            if view.party is not None:
                party = columns[view.party]
                if not party.direct or len(party.inputs) != 1 or party.flags.pi != "none":
                    raise ConfigError(f"@party column {name}.{view.party} must read one built column that holds no "
                                      f"personal information, as it is (it reads {', '.join(party.inputs) or 'none'})",
                                      location=str(view.file))
            extra = grant.columns.get(name)
            if extra is not None and policies.roles[role].open_data_only and (extra.reveal or extra.unmask):
                raise ConfigError(f"role {role!r} is open-data only, so it cannot reveal or unmask columns of "
                                  f"{name!r}; remove the [[{role}.columns]] entry", location=where)
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


def governed_sql(access: ViewAccess, tables: Mapping[str, str], *, types: Mapping[str, str] | None = None,
                 objections: Mapping[str, Sequence[str]] | None = None) -> str:
    """The user's definition of one view: masks and scope inlined, tables as ``delta_scan``.

    ``tables`` maps ``zone.table`` to the table's path; ``types`` maps output columns to
    their DuckDB type, so a hidden column keeps its type (else it is a VARCHAR NULL).
    ``objections`` maps a library to its record keys under objection (:data:`OBJECTION_COLUMN`).
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
        marker = access.objection_marker
        if name == OBJECTION_COLUMN and marker is not None:
            keys = (objections or {}).get(marker.library, ())
            value = objection_status_sql(f"v.{_ident(marker.key_column)}", keys)
        elif view.open_records and column.treatment in PERSON_MASKS:
            identifiers = [_text(other, types) for other, c in access.columns.items() if c.treatment == "party_id"]
            party = f"v.{_ident(view.party)}" if view.party else None
            value = party_value(_text(name, types), column.treatment, party, identifiers)
        else:
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


def _text(name: str, types: Mapping[str, str] | None) -> str:
    """The view column ``name`` as VARCHAR SQL."""
    return f"v.{_ident(name)}" if (types or {}).get(name) == "VARCHAR" else f"CAST(v.{_ident(name)} AS VARCHAR)"


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
    if column.why == PUBLIC_PARTY_WHY:  # masked by the row's party kind, not by the value's shape
        shown, why = PUBLIC_PARTY_WHY, ""
    note = f"〔{'·'.join(parts)}·{shown}" + (f"；{why}" if why else "") + "〕"
    return f"{description}{note}" if description else note
