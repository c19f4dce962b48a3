"""Portability: the governed view definitions, transpiled for Spark or Trino by sqlglot.

For a lake that outgrows one machine, :func:`export` writes one ``<view>.sql`` file per view:
a ``CREATE OR REPLACE VIEW`` in the target dialect, with the view and column comments, over
catalog tables instead of files. Two kinds of definition can be exported:

* **a user's** (``user="hz_analyst"``, the default and the useful one): the definitions
  that user's governed session runs (:func:`views.session.governed_views`), masks and row
  scope inside. Deploy one schema of views per user (``<schema>_<user>`` by default) and
  grant users their views, never the tables.
* **the view files as written** (``raw=True``): no masks and no scope. They are for an
  engine that applies its own masking, and the header of every file says so.

Tables are named ``[<catalog>.]<schema>.<zone>_<table>``, ``govlake.base_population`` by
default: ``delta_scan('<lake path>')`` (a user's definition) or ``base.population`` (a view
file) becomes that name, so no path of the home appears in the output. Register the Delta
tables of the lake under those names in the target catalog.

Translation is a pipeline of rules over the sqlglot tree (:data:`RULES`), run before
sqlglot generates the target dialect:

1. :func:`name_tables`: files and ``zone.table`` names become catalog tables;
2. :func:`expand_group_by_all`: ``GROUP BY ALL`` (DuckDB; Trino reads ``ALL`` differently)
   becomes the list of non-aggregate, non-constant projections, as DuckDB infers it;
3. :func:`full_match_as_regexp_like`: ``regexp_full_match(x, p)``, which neither engine
   has, becomes ``regexp_like(x, '^(?:p)\\z')`` / ``x RLIKE '^(?:p)\\z'``;
4. :func:`java_regex_anchors`: both engines use Java regular expressions, whose ``$`` also
   matches before a final line break (RE2's, DuckDB's, does not). A trailing ``$`` becomes
   ``\\z``, so a mask decides the same way on ``'…店\\n'`` as in DuckDB;
5. :func:`portable_types`: ``HUGEINT`` and unsigned 64/128-bit integers become ``DECIMAL(38, 0)``.

Every function left in the tree must then be one known to exist in the target with the
same meaning (:data:`PORTABLE_FUNCTIONS`, an allowlist as in the guard). Anything else,
and anything sqlglot reports as unsupported, is an :class:`ExportError` naming the view
and the function: extend the rules, or the list, after checking the target's semantics.

>>> files = export("trino", user="hz_analyst", home="govlake_home", out="views-trino")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError
from sqlglot.optimizer.scope import find_in_scope

from govlake.errors import ConfigError, GovLakeError, StateError, did_you_mean
from govlake.home import Home

DIALECTS = ("spark", "trino")
SOURCE_DIALECT = "duckdb"

#: sqlglot function classes whose Spark and Trino output is a function of the same meaning.
#: Checked by hand against each engine's documentation; add to it the same way.
PORTABLE_FUNCTIONS: frozenset[type[exp.Func]] = frozenset({
    exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Coalesce, exp.Cast, exp.TryCast, exp.Case, exp.If,
    exp.StartsWith, exp.Left, exp.Right, exp.Substring, exp.Length, exp.Concat, exp.RegexpLike, exp.Lower,
    exp.Upper, exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Nullif, exp.Greatest, exp.Least,
    # list membership (the name mask): ARRAY_CONTAINS(ARRAY(...)) in Spark, CONTAINS(ARRAY[...]) in Trino
    exp.ArrayContains, exp.Array,
    # the publicity period of the open record views (open_admin_penalties...): CURRENT_DATE everywhere
    exp.CurrentDate,
})


class ExportError(GovLakeError):
    """A view cannot be translated to the target dialect; the message names the view and the construct."""


@dataclass(frozen=True)
class ExportContext:
    """What the rules need: the target, and how each source table is named there."""

    dialect: str
    view: str
    #: ``zone.table`` and ``delta_scan`` paths -> the catalog table that replaces them
    tables: Mapping[str, exp.Table]


#: A translation step: the tree (modified in place or replaced) for one view.
Rule = Callable[[exp.Expr, ExportContext], exp.Expr]


@dataclass(frozen=True)
class ExportedView:
    """One exported view: its file and the text written there."""

    name: str
    dialect: str
    sql: str
    file: Path | None = None
    tables: tuple[str, ...] = field(default_factory=tuple)  # catalog tables it reads


def catalog_table(name: str, *, catalog: str | None, schema: str) -> exp.Table:
    """The catalog table for ``zone.table``: ``[catalog.]schema.zone_table``."""
    zone, table = name.split(".", 1)
    return exp.table_(f"{zone}_{table}", db=schema, catalog=catalog, quoted=False)


# --------------------------------------------------------------------------- rules


def name_tables(tree: exp.Expr, context: ExportContext) -> exp.Expr:
    """``delta_scan('<path>')`` and ``zone.table`` -> the catalog table; anything unknown is an error."""
    for table in list(tree.find_all(exp.Table)):
        source = table.this
        if isinstance(source, exp.Anonymous) and source.name.lower() == "delta_scan":
            key = source.expressions[0].name if source.expressions else ""
        elif isinstance(source, exp.Identifier) and table.db:
            key = f"{table.db}.{table.name}"
        else:
            continue  # a CTE reference
        replacement = context.tables.get(key)
        if replacement is None:
            raise ExportError(f"view {context.view!r} reads {'a file' if table.db == '' else key!r} that is not "
                              "a GovLake table; it cannot be exported")
        named = replacement.copy()
        named.set("alias", table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name)))
        table.replace(named)
    leftover = [f for f in tree.find_all(exp.Anonymous) if f.name.lower() in {"delta_scan", "read_parquet"}]
    if leftover:
        raise ExportError(f"view {context.view!r} still reads a file through {leftover[0].name}; cannot export it")
    return tree


def expand_group_by_all(tree: exp.Expr, context: ExportContext) -> exp.Expr:
    """``GROUP BY ALL`` -> the projections without aggregates or columns-free constants (DuckDB's inference)."""
    for select in list(tree.find_all(exp.Select)):
        group = select.args.get("group")
        if not group or not group.args.get("all"):
            continue
        if group.expressions or group.args.get("cube") or group.args.get("rollup") or group.args.get("grouping_sets"):
            raise ExportError(f"view {context.view!r} uses GROUP BY ALL with grouping sets; write the keys out")
        if select.is_star:
            raise ExportError(f"view {context.view!r} uses GROUP BY ALL with *; write the keys out")
        keys = []
        for projection in select.expressions:
            inner = projection.unalias()
            if find_in_scope(inner, exp.AggFunc) or find_in_scope(inner, exp.Window):
                continue
            if not find_in_scope(inner, exp.Column):
                continue  # a constant: DuckDB does not group by it either
            keys.append(inner.copy())
        select.set("group", exp.Group(expressions=keys) if keys else None)
    return tree


def full_match_as_regexp_like(tree: exp.Expr, context: ExportContext) -> exp.Expr:
    """``regexp_full_match(x, 'p')`` -> ``regexp_like(x, '^(?:p)\\z')`` (a literal pattern only)."""
    for match in list(tree.find_all(exp.RegexpFullMatch)):
        pattern = match.expression
        if not isinstance(pattern, exp.Literal) or not pattern.is_string:
            raise ExportError(f"view {context.view!r}: regexp_full_match with a computed pattern cannot be "
                              "translated; use a literal pattern")
        anchored = exp.Literal.string(f"^(?:{pattern.name})\\z")
        match.replace(exp.RegexpLike(this=match.this.copy(), expression=anchored))
    return tree


_TRAILING_DOLLAR = re.compile(r"(?<!\\)((?:\\\\)*)\$$")


def java_regex_anchors(tree: exp.Expr, context: ExportContext) -> exp.Expr:
    """A pattern ending in ``$`` ends in ``\\z`` instead: Java's ``$`` also matches before a final newline."""
    for like in tree.find_all(exp.RegexpLike):
        pattern = like.expression
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            like.set("expression", exp.Literal.string(_TRAILING_DOLLAR.sub(r"\1\\z", pattern.name)))
        else:
            raise ExportError(f"view {context.view!r}: a regular expression with a computed pattern cannot be "
                              "checked for Java semantics; use a literal pattern")
    return tree


_WIDE_INTEGERS = {exp.DataType.Type.INT128, exp.DataType.Type.UINT128, exp.DataType.Type.UBIGINT}


def portable_types(tree: exp.Expr, context: ExportContext) -> exp.Expr:
    """DuckDB's 128-bit and unsigned 64-bit integers -> ``DECIMAL(38, 0)``, which both engines have."""
    for data_type in list(tree.find_all(exp.DataType)):
        if data_type.this in _WIDE_INTEGERS:
            data_type.replace(exp.DataType.build("DECIMAL(38, 0)"))
    return tree


#: The translation, in order (a pipeline is data: reorder here).
RULES: tuple[Rule, ...] = (name_tables, expand_group_by_all, full_match_as_regexp_like, java_regex_anchors,
                           portable_types)


def check_functions(tree: exp.Expr, context: ExportContext) -> None:
    """Refuse any function not in :data:`PORTABLE_FUNCTIONS`, naming the view and the function."""
    for node in tree.find_all(exp.Func):
        if type(node) in PORTABLE_FUNCTIONS or isinstance(node, exp.Connector):  # AND / OR are operators
            continue
        written = re.match(r"[A-Za-z_][A-Za-z0-9_]*", node.sql(dialect=SOURCE_DIALECT))  # as the view spells it
        name = node.name if isinstance(node, exp.Anonymous) else written.group(0) if written else node.sql_name()
        raise ExportError(
            f"view {context.view!r} uses function {name.lower()}, which GovLake does not translate to "
            f"{context.dialect} (sqlglot {type(node).__name__}); add a rule to RULES or, once checked, the function "
            "to PORTABLE_FUNCTIONS in views/export.py")


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class _Source:
    name: str
    sql: str
    description: str
    column_comments: dict[str, str]
    tables: tuple[str, ...]  # zone.table
    paths: dict[str, str] = field(default_factory=dict)  # delta_scan path -> zone.table


def export(dialect: str, *, user: str | None = None, raw: bool = False,
           home: Home | str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None,
           catalog: str | None = None, schema: str = "govlake", view_schema: str | None = None,
           overwrite: bool = False) -> dict[str, ExportedView]:
    """Translate the views to ``dialect`` and, with ``out``, write ``<out>/<view>.sql``; return them by name.

    Give exactly one of ``user`` (that user's governed definitions; the home resolves the
    tables) and ``raw=True`` (the view files, unmasked). Views are created in
    ``[catalog.]view_schema``, by default ``<schema>_<user>`` or ``<schema>_ungoverned``.
    Existing files are not replaced unless ``overwrite``.
    """
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown dialect {dialect!r}{did_you_mean(dialect, DIALECTS)}; "
                          f"choose {' or '.join(DIALECTS)}", location="views export --dialect")
    if (user is None) == (not raw):
        raise GovLakeError("give --user USER (that user's definitions, masks and scope inside) or --raw "
                           "(the view files as written, no masks or scopes), not both or neither")
    for part, what in ((schema, "--schema"), (catalog, "--catalog"), (view_schema, "--view-schema")):
        if part is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            raise ConfigError(f"{part!r} is not a plain identifier (letters, digits, _)",
                              location=f"views export {what}")
    sources = _raw_sources() if raw else _user_sources(str(user), home)
    target_schema = view_schema or (f"{schema}_ungoverned" if raw else f"{schema}_{user}")
    names: set[str] = {t for source in sources for t in source.tables}
    tables = {name: catalog_table(name, catalog=catalog, schema=schema) for name in names}
    exported = {}
    for source in sources:
        exported[source.name] = _export_view(source, dialect, tables, exp.table_(source.name, db=target_schema,
                                                                                  catalog=catalog),
                                             user=user)
    if out is not None:
        folder = Path(out).expanduser().absolute()
        folder.mkdir(parents=True, exist_ok=True)
        existing = sorted(name for name in exported if (folder / f"{name}.sql").exists())
        if existing and not overwrite:
            raise StateError(f"{folder} already holds {', '.join(f'{n}.sql' for n in existing)}; pass --overwrite "
                             "to replace them, or choose another --out")
        for name, view in exported.items():
            file = folder / f"{name}.sql"
            file.write_text(view.sql, encoding="utf-8")
            exported[name] = ExportedView(view.name, view.dialect, view.sql, file, view.tables)
    return exported


def _user_sources(user: str, home: Home | str | os.PathLike[str] | None) -> list[_Source]:
    from policies import load_policies
    from views.definitions import shipped_views
    from views.session import governed_views, table_locations

    resolved = home if isinstance(home, Home) else Home.resolve(home)
    policies = load_policies()
    if user not in policies.users:
        raise ConfigError(f"unknown user {user!r}{did_you_mean(user, policies.users)}",
                          location=str(policies.folder / "users.toml"))
    definitions = governed_views(user, home=resolved)
    if not definitions:
        raise StateError(f"user {user!r} has no views available in {resolved.root}: none are granted, or their "
                         "tables are not built (`govlake build`)")
    views = shipped_views()
    sources = []
    for name, view in definitions.items():
        read = views[name].tables
        paths = {str(location.path): table for table, location in table_locations(resolved, read).items()}
        sources.append(_Source(name, view.sql, view.description, view.column_comments, read, paths))
    return sources


def _raw_sources() -> list[_Source]:
    from views.definitions import shipped_views

    return [_Source(view.name, view.query.sql(dialect=SOURCE_DIALECT), view.description, view.column_comments,
                    view.tables) for view in shipped_views().values()]


def _export_view(source: _Source, dialect: str, tables: Mapping[str, exp.Table], view_table: exp.Table,
                 *, user: str | None) -> ExportedView:
    lookup: dict[str, exp.Table] = {name: tables[name] for name in source.tables}
    for path, name in source.paths.items():
        lookup[path] = tables[name]
    context = ExportContext(dialect, source.name, lookup)
    try:
        tree: exp.Expr = sqlglot.parse_one(source.sql, read=SOURCE_DIALECT)
    except SqlglotError as error:
        raise ExportError(f"view {source.name!r} cannot be parsed: {str(error).splitlines()[0]}") from None
    for rule in RULES:
        tree = rule(tree, context)
    check_functions(tree, context)
    if not isinstance(tree, exp.Query):
        raise ExportError(f"view {source.name!r} is not a query")
    columns = [projection.alias_or_name for projection in tree.selects]
    statements: list[exp.Expr] = [_create(view_table, tree, source, columns, dialect)]
    if dialect == "trino":  # Trino's CREATE VIEW has no column list: comments are separate statements
        statements += [
            exp.Comment(this=exp.column(column, table=view_table.name, db=view_table.db or None,
                                        catalog=view_table.catalog or None),
                        kind="COLUMN", expression=exp.Literal.string(_one_line(comment)))
            for column, comment in source.column_comments.items()
        ]
    try:
        body = ";\n\n".join(s.sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)
                            for s in statements) + ";\n"
    except SqlglotError as error:
        raise ExportError(f"view {source.name!r} cannot be written for {dialect}: {str(error).splitlines()[0]}"
                          ) from None
    read = tuple(sorted({tables[name].sql(dialect=dialect) for name in source.tables}))
    return ExportedView(source.name, dialect, _header(source, dialect, user, read) + body, tables=read)


def _create(view_table: exp.Table, query: exp.Query, source: _Source, columns: list[str],
            dialect: str) -> exp.Create:
    definitions = [
        exp.ColumnDef(this=exp.to_identifier(column), constraints=[exp.ColumnConstraint(
            kind=exp.CommentColumnConstraint(this=exp.Literal.string(_one_line(source.column_comments[column]))))]
            if column in source.column_comments else [])
        for column in columns
    ]
    this: exp.Expr = exp.Schema(this=view_table, expressions=definitions) if dialect != "trino" else view_table
    properties: list[exp.Expr] = [exp.SchemaCommentProperty(this=exp.Literal.string(_one_line(source.description)))]
    if dialect == "trino":  # the view reads the tables with its owner's rights: users need the view only
        properties.append(exp.SqlSecurityProperty(this=exp.var("DEFINER")))
    return exp.Create(kind="VIEW", replace=True, this=this, expression=query,
                      properties=exp.Properties(expressions=properties))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _header(source: _Source, dialect: str, user: str | None, tables: tuple[str, ...]) -> str:
    whose = (f"the governed definition for user {user}: masks and row scope are inside the view"
             if user else "the view file as written: NO masks and NO row scope; apply your engine's own before "
                          "granting it to anyone")
    lines = [
        f"{source.name}: {_one_line(source.description)}",
        f"This is {whose}.",
        f"Exported by `govlake views export --dialect {dialect}` on {dt.date.today().isoformat()} "
        f"(sqlglot {sqlglot.__version__}).",
        f"Reads {', '.join(tables)}: register GovLake's Delta tables under these names; grant the view, never "
        "the tables.",
    ]
    return "".join(f"-- {line}\n" for line in lines) + "\n"
