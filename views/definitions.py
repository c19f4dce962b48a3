"""Governed views as ``.sql`` files: one file per view, its header comment the description.

A view file is a DuckDB SELECT over built tables written ``zone.table`` (``base.population``,
``topic.population_by_division_age_sex``). Its leading ``--`` comment lines are the
view's description, except directive lines of the form ``-- @key: value``:

``@scope: <column>``
    the output column holding a division code; a user with a row scope sees only rows
    whose value starts with the scope's prefix (``@scope: none — <reason>`` for a view with
    no such column; see :func:`views.masks.check_grants` for who may have one).
``@open: <count column>[, <count column>...]``
    an open-data view: an aggregate (top-level GROUP BY) whose count cells below
    :data:`views.masks.MIN_PERSONS` are suppressed by the session, not by the file.
``@open: records``
    an open-data view of records the law makes public (双公示 decisions, the list of
    dishonest debtors): no GROUP BY, every column shown with its masks (never clear by
    default), and a party identifier or name masked as a natural person's on every row that
    ``@party`` does not mark as a legal person (:func:`views.masks.governed_sql`).
``@party: <column>``
    (``@open: records`` only) the output column holding the party kind, ``entity`` for a
    legal person or organisation; it must read a built column that holds no personal
    information, as it is (checked by :func:`views.masks.check_grants`).

A trailing ``-- comment`` on a select-list line becomes that column's comment; otherwise
the comment of the table column it reads is used.

>>> views = load_views()
>>> views["population"].scope
'hukou_division'
>>> views["population"].tables
('base.population',)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from govlake.errors import ConfigError, did_you_mean

VIEWS_DIR = Path(__file__).parent
DIALECT = "duckdb"
#: Zones a governed view may read. Raw and system tables are never exposed.
READABLE_ZONES = ("base", "topic")
DIRECTIVES = ("scope", "open", "party")
#: ``@open: records``: a record-level open-data view (see the module docstring).
OPEN_RECORDS = "records"
VIEW_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DIRECTIVE = re.compile(r"^@(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*)$")
_NONE_REASON = re.compile(r"^none\s*(?:[—:-]+\s*)?(?P<reason>.*)$")


@dataclass(frozen=True)
class View:
    """A governed view as its file declares it (before any user's masks and scope)."""

    name: str
    description: str
    query: exp.Select
    columns: tuple[str, ...]
    tables: tuple[str, ...]  # zone.table, in order of first use
    scope: str | None  # output column with the division code; None = unscoped
    unscoped_reason: str = ""
    open_counts: tuple[str, ...] = ()
    column_comments: dict[str, str] = field(default_factory=dict)
    file: Path = VIEWS_DIR
    open_records: bool = False  # @open: records
    party: str | None = None  # @party: output column of the party kind ('entity' = legal person)

    @property
    def is_open(self) -> bool:
        """An open-data aggregate (``@open: <counts>``): cells are suppressed, columns shown clear."""
        return bool(self.open_counts)

    @property
    def is_open_data(self) -> bool:
        """Any open-data view: an aggregate (:attr:`is_open`) or records (``@open: records``)."""
        return self.is_open or self.open_records

    @property
    def is_aggregate(self) -> bool:
        """Rows are groups, not records: a top-level GROUP BY, or only topic marts are read."""
        return bool(self.query.args.get("group")) or all(t.startswith("topic.") for t in self.tables)

    @property
    def sql(self) -> str:
        return self.query.sql(dialect=DIALECT, pretty=True)


def load_views(folder: Path = VIEWS_DIR, *, known_tables: frozenset[str] | None = None) -> dict[str, View]:
    """Every ``*.sql`` view in ``folder``, validated; errors name the file and the fix."""
    if known_tables is None:
        known_tables = _known_tables()
    views = {}
    for path in sorted(folder.glob("*.sql")):
        view = load_view(path, known_tables=known_tables)
        views[view.name] = view
    return views


@lru_cache(maxsize=1)
def shipped_views() -> dict[str, View]:
    """The views shipped in ``views/`` (cached)."""
    return load_views()


def load_view(path: Path, *, known_tables: frozenset[str]) -> View:
    where = str(path)
    name = path.stem
    if not VIEW_NAME.match(name):
        raise ConfigError(f"view name {name!r} must be lower_snake_case ASCII; rename the file", location=where)
    text = path.read_text(encoding="utf-8")
    description, directives = _header(text, where)
    query = _parse(text, where)
    columns = _output_columns(query, where)
    tables = _tables(query, known_tables, where)
    scope, reason = _scope(directives, columns, where)
    open_records, party = _open_records(directives, query, columns, where)
    open_counts = () if open_records else _open_counts(directives.get("open", ""), query, columns, where)
    comments = {
        select.alias_or_name: " ".join(c.strip() for c in select.comments if c.strip())
        for select in query.expressions
        if select.comments
    }
    return View(name, description, query, columns, tables, scope, reason, open_counts, comments, path,
                open_records, party)


def _header(text: str, where: str) -> tuple[str, dict[str, str]]:
    lines: list[str] = []
    directives: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if lines or directives:
                break
            continue
        if not line.startswith("--"):
            break
        body = line[2:].strip()
        match = _DIRECTIVE.match(body)
        if match:
            key = match.group("key").lower()
            if key not in DIRECTIVES:
                raise ConfigError(f"unknown directive @{key}{did_you_mean(key, DIRECTIVES)}; known: "
                                  f"{', '.join('@' + d for d in DIRECTIVES)}", location=where)
            if key in directives:
                raise ConfigError(f"directive @{key} is given twice; keep one", location=where)
            directives[key] = match.group("value").strip()
        elif body:
            lines.append(body)
    if not lines:
        raise ConfigError("the view needs a header comment (-- lines at the top) describing it", location=where)
    return "".join(lines), directives


def _parse(text: str, where: str) -> exp.Select:
    try:
        statements = [s for s in sqlglot.parse(text, read=DIALECT) if s is not None]
    except SqlglotError as error:
        raise ConfigError(f"cannot parse the view: {str(error).splitlines()[0]}", location=where) from None
    if len(statements) != 1:
        raise ConfigError(f"a view file holds exactly one SELECT, found {len(statements)} statements",
                          location=where)
    query = statements[0]
    if not isinstance(query, exp.Select):
        raise ConfigError(f"a view is one SELECT (CTEs allowed), not {type(query).__name__.upper()}",
                          location=where)
    return query


def _output_columns(query: exp.Select, where: str) -> tuple[str, ...]:
    names: list[str] = []
    for select in query.expressions:
        if isinstance(select, exp.Star) or (isinstance(select, exp.Column) and isinstance(select.this, exp.Star)):
            # A new table column must never appear in a view (and so to users) by itself.
            raise ConfigError("SELECT * is not allowed in a view; list the columns", location=where)
        name = select.alias_or_name
        if not name or not VIEW_NAME.match(name):
            raise ConfigError(f"output column {select.sql(dialect=DIALECT)!r} needs a lower_snake_case name "
                              "(add AS name)", location=where)
        if name in names:
            raise ConfigError(f"output column {name!r} appears twice; alias one of them", location=where)
        names.append(name)
    return tuple(names)


def _tables(query: exp.Select, known: frozenset[str], where: str) -> tuple[str, ...]:
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    tables: list[str] = []
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise ConfigError(f"{table.sql(dialect=DIALECT)!r}: a view reads built tables only, "
                              "never table functions or files", location=where)
        if not table.db and table.name in ctes:
            continue
        if table.args.get("catalog") or table.db not in READABLE_ZONES:
            raise ConfigError(f"table {table.sql(dialect=DIALECT)!r} must be written zone.table with zone "
                              f"{' or '.join(READABLE_ZONES)}", location=where)
        full = f"{table.db}.{table.name}"
        if full not in known:
            raise ConfigError(f"table {full!r} is not built by any step{did_you_mean(full, known)}",
                              location=where)
        if full not in tables:
            tables.append(full)
    if not tables:
        raise ConfigError("the view reads no table", location=where)
    return tuple(tables)


def _scope(directives: dict[str, str], columns: tuple[str, ...], where: str) -> tuple[str | None, str]:
    value = directives.get("scope")
    if value is None:
        raise ConfigError("declare the row scope: '-- @scope: <division column>' or '-- @scope: none — <reason>'",
                          location=where)
    none = _NONE_REASON.match(value)
    if none:
        reason = none.group("reason").strip()
        if len(reason) < 4:
            raise ConfigError("'@scope: none' needs a reason, e.g. '-- @scope: none — <why rows need no scope>'",
                              location=where)
        return None, reason
    if value not in columns:
        raise ConfigError(f"@scope column {value!r} is not an output column{did_you_mean(value, columns)}",
                          location=where)
    return value, ""


def _open_records(directives: dict[str, str], query: exp.Select, columns: tuple[str, ...],
                  where: str) -> tuple[bool, str | None]:
    """(``@open: records`` given, the ``@party`` column) with their rules checked."""
    records = directives.get("open", "").strip().lower() == OPEN_RECORDS
    party = directives.get("party")
    if party is not None and not records:
        raise ConfigError(f"@party is for record-level open-data views only; add '-- @open: {OPEN_RECORDS}' or "
                          "remove @party", location=where)
    if not records:
        return False, None
    aggregates = any(isinstance(node, exp.AggFunc) for select in query.expressions for node in select.walk())
    if query.args.get("group") or aggregates:
        raise ConfigError(f"an '@open: {OPEN_RECORDS}' view publishes records, so it must not aggregate; for an "
                          "aggregate write '@open: <count column>'", location=where)
    if party is not None and party not in columns:
        raise ConfigError(f"@party column {party!r} is not an output column{did_you_mean(party, columns)}",
                          location=where)
    return True, party


def _open_counts(value: str, query: exp.Select, columns: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not value:
        return ()
    counts = tuple(part.strip() for part in value.split(",") if part.strip())
    for count in counts:
        if count not in columns:
            raise ConfigError(f"@open count column {count!r} is not an output column{did_you_mean(count, columns)}",
                              location=where)
    group = query.args.get("group")
    if not isinstance(group, exp.Group):
        raise ConfigError("an @open view must be an aggregate: add GROUP BY", location=where)
    grouped = {e.sql(dialect=DIALECT) for e in group.expressions}
    for select in query.expressions:
        name, inner = select.alias_or_name, select.unalias()
        if name in counts:
            if not isinstance(inner, exp.Count | exp.Sum):
                raise ConfigError(f"@open count column {name!r} must be count(...) or sum(...) at the top level",
                                  location=where)
            continue
        if any(isinstance(node, exp.AggFunc | exp.Window) for node in inner.walk()):
            raise ConfigError(f"column {name!r} of an @open view is an aggregate but not a declared count; "
                              "only group keys and @open counts may be published", location=where)
        if not group.args.get("all") and inner.sql(dialect=DIALECT) not in grouped and name not in grouped:
            raise ConfigError(f"column {name!r} of an @open view is not a GROUP BY key", location=where)
    return counts


def _known_tables() -> frozenset[str]:
    from transforms.tables import all_tables

    return frozenset(name for name in all_tables() if name.split(".", 1)[0] in READABLE_ZONES)
