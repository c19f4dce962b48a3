"""The gate in front of governed SQL: decide by parsing whether an analyst's query may run.

Each analyst gets a DuckDB connection in which GovLake has defined the views granted to
them, with masks and row scopes already inside the view definitions. The analyst's SQL
must do nothing but read those views. DuckDB's own settings (read-only, allowed
directories, ``enable_external_access=false``, ``lock_configuration``, no autoload) are
defence in depth only, because two known facts defeat them: the delta extension answers
``DESCRIBE``, ``delta_list_files`` and ``ATTACH ... (TYPE delta)`` on any table despite
those settings, and ``allowed_directories`` also allows ``COPY ... TO`` into them. So the
real gate is here, and it is an **allowlist over the parsed query**, never a regex:

1. The text is parsed with sqlglot (duckdb dialect). Exactly one statement is accepted
   (a trailing ``;`` or a comment-only tail is not a statement), and its root must be a
   SELECT or a set operation (UNION / INTERSECT / EXCEPT), optionally with WITH and
   parentheses. Everything else (COPY, ATTACH, SET, PRAGMA, CREATE, EXPLAIN, DESCRIBE,
   anything sqlglot could only parse as a raw ``Command``...) is refused by kind.
2. Every ``FROM`` / ``JOIN`` source is a view name, a CTE in scope, or a subquery of
   those. Table functions, file paths, ``VALUES``, ``UNNEST`` and qualified names are
   refused. Names compare case-insensitively over ASCII letters only, exactly as DuckDB
   does (:func:`fold_name`), and view names are rewritten to the granted spelling. A CTE
   may not be named like a granted view, and CTE scoping is resolved conservatively.
3. Every node of the tree must be of an allowed sqlglot expression class
   (:data:`ALLOWED_NODES`, :data:`ALLOWED_FUNCTIONS`), compared by exact type so a new
   subclass is refused until someone allows it. Functions sqlglot does not model
   (``exp.Anonymous``) must be in :data:`ALLOWED_ANONYMOUS_FUNCTIONS` by lowercase name.
   Clauses are allowlisted too (no INTO, FOR UPDATE, time travel, sampling, PIVOT), and
   casts only to built-in types, because sqlglot prints a user-defined type name verbatim.
4. The SQL that DuckDB will run (:attr:`CheckedQuery.sql_for_duckdb`) is generated from
   the checked tree: comments dropped, every identifier quoted. It is then parsed a
   second time by DuckDB itself (``json_serialize_sql``, parse only, on a private
   connection) and the two readings must agree: one SELECT, no table functions, no
   ``SHOW``/``PIVOT``/``VALUES`` sources, only granted views and CTEs, no denied function.
5. The columns read are worked out with sqlglot's ``qualify`` and scopes, against a
   schema built from the grants. Unknown or ambiguous columns are refused with a reason.

Every refusal is a :class:`~govlake.errors.PolicyDenied` whose reason names the
statement kind, function, view, path or construct. The message for a view that is not
granted is the same whether or not it exists, so errors reveal nothing about other
objects.

>>> checked = check("SELECT division, count(*) AS n FROM population GROUP BY division",
...                 user="analyst", views={"population": ["resident_id", "division"]})
>>> checked.sql_for_duckdb
'SELECT "division", COUNT(*) AS "n" FROM "population" GROUP BY "division"'
>>> checked.columns
{'population': frozenset({'division'})}
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokens import TokenType

from govlake.errors import PolicyDenied, did_you_mean

DIALECT = "duckdb"
MAX_QUERY_CHARS = 100_000
"""Longer texts are refused before parsing, so the parser is not a denial-of-service lever."""


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed :func:`check`, and what it reads.

    ``sql_for_duckdb`` is the text to run: generated from the checked tree, so what runs
    is exactly what was checked. ``views`` are the granted views it reads (in the
    spelling of the grants). ``columns`` maps each of those views to the columns the
    query references anywhere (select list, filters, joins, grouping, ordering); a
    ``SELECT *`` counts as every column of the view. ``statement_kind`` is ``SELECT``,
    ``UNION``, ``INTERSECT`` or ``EXCEPT``.
    """

    sql_for_duckdb: str
    views: frozenset[str]
    columns: dict[str, frozenset[str]]
    statement_kind: str


class Refused(Exception):
    """Internal: a rule refused the query. :func:`check` turns it into PolicyDenied."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- allowlists

ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        # query structure
        exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.From, exp.Join,
        exp.Lateral, exp.Where, exp.Group, exp.Having, exp.Qualify, exp.Order, exp.Ordered,
        exp.Limit, exp.Offset, exp.LimitOptions, exp.With, exp.CTE, exp.TableAlias, exp.Alias,
        exp.Column, exp.Identifier, exp.Star, exp.Table, exp.Window, exp.WindowSpec,
        exp.Distinct, exp.GroupingSets, exp.Cube, exp.Rollup, exp.Exists, exp.Any, exp.All,
        # values and operators
        exp.Paren, exp.Tuple, exp.Literal, exp.Boolean, exp.Null, exp.DataType,
        exp.DataTypeParam, exp.Interval, exp.Var, exp.Lambda, exp.Filter, exp.IgnoreNulls,
        exp.RespectNulls, exp.Bracket, exp.Slice, exp.PropertyEQ, exp.Comprehension,
        exp.In, exp.Between, exp.Is, exp.Like, exp.ILike, exp.Escape, exp.SimilarTo, exp.Glob, exp.Case,
        exp.If, exp.Cast, exp.TryCast, exp.Collate, exp.Not, exp.And, exp.Or, exp.Neg,
        exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.EQ, exp.NEQ, exp.GT,
        exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.DPipe,
        exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot,
        exp.BitwiseLeftShift, exp.BitwiseRightShift, exp.JSONPath, exp.JSONPathKey,
        exp.JSONPathRoot, exp.JSONPathSubscript, exp.JSONExtract, exp.JSONExtractScalar,
    }
)
"""Structural and operator node classes a governed query may contain."""

ALLOWED_FUNCTIONS: frozenset[type[exp.Expr]] = frozenset(
    {
        # strings
        exp.Substring, exp.Left, exp.Right, exp.Length, exp.Upper, exp.Lower, exp.Concat,
        exp.ConcatWs, exp.Replace, exp.Trim, exp.StrPosition, exp.RegexpLike,
        exp.RegexpFullMatch, exp.RegexpReplace, exp.RegexpExtract, exp.RegexpExtractAll,
        exp.RegexpSplit, exp.Contains, exp.StartsWith, exp.EndsWith, exp.Pad, exp.SplitPart,
        exp.Split, exp.Reverse, exp.Repeat, exp.Initcap, exp.Ascii, exp.Chr, exp.Unicode,
        exp.Format, exp.Levenshtein, exp.JarowinklerSimilarity, exp.MD5, exp.SHA, exp.SHA2,
        exp.Hex, exp.Unhex, exp.ToBase64, exp.FromBase64, exp.Encode, exp.Decode,
        exp.BitLength, exp.Getbit,
        # dates and times
        exp.TimestampTrunc, exp.DateTrunc, exp.Extract, exp.Year, exp.Quarter, exp.Month,
        exp.Week, exp.WeekOfYear, exp.Day, exp.DayOfMonth, exp.DayOfWeek, exp.DayOfWeekIso,
        exp.DayOfYear, exp.Hour, exp.Minute, exp.Second, exp.Dayname, exp.Monthname,
        exp.TimeToStr, exp.StrToTime, exp.DateDiff, exp.DateAdd, exp.DateSub, exp.DateBin,
        exp.CurrentDate, exp.CurrentTime, exp.CurrentTimestamp, exp.Localtimestamp,
        exp.DateFromParts, exp.TimestampFromParts, exp.TimeFromParts, exp.LastDay,
        exp.TimeToUnix, exp.UnixToTime, exp.ToDays,
        # maths
        exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Sqrt, exp.Cbrt, exp.Pow, exp.Ln, exp.Log,
        exp.Exp, exp.Greatest, exp.Least, exp.Sign, exp.Trunc, exp.Pi, exp.Rand, exp.IsNan,
        exp.IsInf, exp.Sin, exp.Cos, exp.Tan, exp.Cot, exp.Asin, exp.Acos, exp.Atan,
        exp.Atan2, exp.Degrees, exp.Radians, exp.Factorial,
        # conditionals and conversion
        exp.Coalesce, exp.Nullif, exp.Typeof, exp.Uuid, exp.ParseJSON, exp.JSONObject,
        exp.JSONKeyValue, exp.JSONArray, exp.JSONKeys, exp.JSONType,
        # lists, structs and maps
        exp.Array, exp.Struct, exp.StructExtract, exp.ArrayContains, exp.ArrayContainsAll,
        exp.ArrayOverlaps, exp.ArrayDistinct, exp.ArrayFilter, exp.ArraySize, exp.ArraySlice,
        exp.ArraySort, exp.ArrayToString, exp.ArrayConcat, exp.ArrayPosition, exp.ArrayMax,
        exp.ArrayMin, exp.Transform, exp.Flatten, exp.Explode, exp.MapKeys,
        # aggregates
        exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.ApproxDistinct, exp.Median,
        exp.Quantile, exp.PercentileCont, exp.PercentileDisc, exp.ApproxQuantile,
        exp.GroupConcat, exp.ArrayAgg, exp.Stddev, exp.StddevPop, exp.StddevSamp,
        exp.Variance, exp.VariancePop, exp.Mode, exp.First, exp.Last, exp.AnyValue,
        exp.ArgMax, exp.ArgMin, exp.LogicalAnd, exp.LogicalOr, exp.Corr, exp.CovarPop,
        exp.CovarSamp, exp.CountIf, exp.Kurtosis, exp.Skewness, exp.BitwiseAndAgg,
        exp.BitwiseOrAgg, exp.BitwiseXorAgg, exp.RegrSlope, exp.RegrIntercept, exp.RegrR2,
        exp.RegrCount, exp.Grouping,
        # window functions
        exp.RowNumber, exp.Rank, exp.DenseRank, exp.PercentRank, exp.CumeDist, exp.Ntile,
        exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue,
    }
)
"""Function classes (as sqlglot models them) a governed query may call."""

ALLOWED_ANONYMOUS_FUNCTIONS: frozenset[str] = frozenset(
    """
    age arbitrary array_extract array_has_any array_value bar base64 bit_count cardinality
    century damerau_levenshtein date_part datepart date_sub datesub decade element_at
    entropy epoch_ns epoch_us era even favg format_bytes fsum gamma gcd
    greatest_common_divisor hamming hash isfinite isoyear jaccard jaro_similarity
    json_array_length json_valid kahan_sum kurtosis_pop lcm least_common_multiple
    length_grapheme lgamma list_aggregate list_apply list_avg list_cosine_similarity
    list_count list_element list_extract list_has_all list_position list_reduce
    list_reverse list_reverse_sort list_slice list_sort list_sum list_unique list_zip mad
    map_values md5_number mean microsecond millennium millisecond mismatches nanosecond
    nfc_normalize now octet_length ord prefix printf product regexp_escape
    regexp_split_to_array round_even sem signbit strip_accents strlen suffix to_hours
    to_json to_milliseconds to_minutes to_months to_quarters to_seconds to_weeks to_years
    try_strptime weekday yearweek
    """.split()
)
"""DuckDB functions sqlglot has no class for, allowed by lowercase name. Each one is a
scalar or aggregate function in DuckDB (tests check this against ``duckdb_functions()``).
Never add anything that reads files, settings, variables, the environment, extensions or
the catalog."""

DENIED_DUCKDB_FUNCTION_PREFIXES: tuple[str, ...] = (
    "read_", "duckdb_", "pragma_", "delta_", "parquet_", "sqlite_", "iceberg_", "postgres_",
    "mysql_", "st_read", "glob", "getenv", "getvariable", "current_setting", "query",
    "load_extension", "install_", "enable_", "disable_", "json_execute", "checkpoint",
    "force_checkpoint", "which_secret", "sql_auto_complete", "set_", "current_database",
    "current_schema", "current_catalog", "version", "pg_", "has_", "nextval", "currval",
    "error", "export_", "test_", "summary",
)
"""Second-layer denylist applied to DuckDB's own reading of the generated SQL. The first
layer (the allowlists above) already refuses all of these; this catches any disagreement
between sqlglot's reading of the text and DuckDB's."""

# DuckDB's parse tree (json_serialize_sql): the FROM sources it may contain, and node types
# that must not appear anywhere.
_DUCKDB_ALLOWED_SOURCES: frozenset[str] = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "EMPTY", "EMPTY_FROM"})
_DUCKDB_DENIED_TYPES: frozenset[str] = frozenset(
    {"TABLE_FUNCTION", "SHOW_REF", "EXPRESSION_LIST", "PIVOT", "COLUMN_DATA", "DELIM_GET"}
)

_QUERY_ROOTS: dict[type[exp.Expr], str] = {
    exp.Select: "SELECT", exp.Union: "UNION", exp.Intersect: "INTERSECT", exp.Except: "EXCEPT",
}
# DuckDB statement keywords, so a refusal can name the kind ("COPY statements are not
# allowed") while a typo like `SELEC` still gets "cannot parse the query".
_STATEMENT_WORDS = frozenset(
    """
    ABORT ALTER ANALYZE ATTACH BEGIN CALL CHECKPOINT COMMENT COMMIT COPY CREATE DEALLOCATE
    DELETE DESC DESCRIBE DETACH DROP END EXECUTE EXPLAIN EXPORT FORCE IMPORT INSERT INSTALL
    LOAD MERGE PIVOT PRAGMA PREPARE RESET ROLLBACK SET SHOW START SUMMARIZE TABLE TRUNCATE
    UNPIVOT UPDATE USE VACUUM VALUES
    """.split()
)
_QUERY_START_TOKENS = frozenset({TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.L_PAREN})

# Clauses a SELECT / set operation / table / join may carry. Anything else that is set
# (INTO, FOR UPDATE, SETTINGS, FORMAT, PREWHERE, CONNECT BY, PIVOT, AT/time travel...) is refused.
_ALLOWED_ARGS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Select: frozenset(
        {"with_", "expressions", "distinct", "from_", "joins", "where", "group",
         "having", "qualify", "windows", "order", "limit", "offset"}
    ),
    exp.Union: frozenset({"with_", "this", "expression", "distinct", "by_name", "order", "limit", "offset"}),
    exp.Table: frozenset({"this", "alias", "db", "catalog"}),
    exp.Join: frozenset({"this", "on", "side", "kind", "using", "method"}),
    exp.Subquery: frozenset({"this", "alias", "order", "limit", "offset"}),
    exp.Lateral: frozenset({"this", "view", "outer", "alias", "ordinality"}),
}
_ALLOWED_ARGS[exp.Intersect] = _ALLOWED_ARGS[exp.Union]
_ALLOWED_ARGS[exp.Except] = _ALLOWED_ARGS[exp.Union]

# Friendly names for constructs people try; anything else is named by its sqlglot class.
_CONSTRUCT_NAMES: dict[type[exp.Expr], str] = {
    exp.Placeholder: "a query parameter ($1, ?, $name)",
    exp.Parameter: "a query parameter ($1, ?, $name)",
    exp.Into: "SELECT ... INTO",
    exp.Lock: "FOR UPDATE / FOR SHARE",
    exp.Values: "VALUES",
    exp.Pivot: "PIVOT / UNPIVOT",
    exp.Unnest: "UNNEST",
    exp.TableSample: "sampling (TABLESAMPLE / USING SAMPLE)",
    exp.HistoricalData: "time travel (AT / VERSION)",
    exp.Columns: "COLUMNS(...)",
    exp.Dot: "dotted access or method-call syntax (x.f())",
    exp.PositionalColumn: "a positional column reference (#1)",
    exp.ByteString: "an escape string (E'...')",
    exp.RawString: "a dollar-quoted string ($$...$$)",
    exp.Command: "a raw command",
}
_NOT_IN_FROM = "is not allowed in FROM; FROM may only name views"
# Token-level hardening only (never the gate): sqlglot prints Var names and number literals
# verbatim, so they must look like what the tokenizer could have produced.
_SIMPLE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?|\.[0-9_]+([eE][+-]?[0-9]+)?")


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold_name(name: str) -> str:
    """Fold a name the way DuckDB compares identifiers: ASCII letters only.

    Python's ``str.lower`` also folds other letters: the Kelvin sign (U+212A) becomes "k",
    so ``WITH "duc<U+212A>db_tables" AS (...) SELECT * FROM duckdb_tables`` would look like a
    CTE reference to the guard while DuckDB, folding ASCII only, reads its system view.
    """
    return name.translate(_ASCII_LOWER)


# --------------------------------------------------------------------------- the pipeline


@dataclass
class GuardContext:
    """What the rules share: the text, the grants, and the tree as it is being checked."""

    sql: str
    views: Mapping[str, Sequence[str]]
    granted: dict[str, str]  # lowercased name -> name as granted
    tree: exp.Expr | None = None
    statement_kind: str = ""
    sql_for_duckdb: str = ""
    cte_names: set[str] = field(default_factory=set)
    views_read: set[str] = field(default_factory=set)
    columns: dict[str, set[str]] = field(default_factory=dict)


Rule = Callable[[GuardContext], None]


def check(sql: str, *, user: str, views: Mapping[str, Sequence[str]]) -> CheckedQuery:
    """Check an analyst's SQL against the views granted to ``user``; refuse with a reason.

    ``views`` maps each granted view name to its column names. Returns a
    :class:`CheckedQuery` whose ``sql_for_duckdb`` is the text to run. Raises
    :class:`~govlake.errors.PolicyDenied` naming the statement kind, view, function, path
    or construct that is not allowed.
    """
    context = GuardContext(sql=sql, views=views, granted={fold_name(name): name for name in views})
    try:
        for rule in RULES:
            rule(context)
    except Refused as refusal:
        raise PolicyDenied(user, refusal.reason) from None
    except RecursionError:
        raise PolicyDenied(user, "the query is nested too deeply") from None
    assert context.tree is not None
    return CheckedQuery(
        sql_for_duckdb=context.sql_for_duckdb,
        views=frozenset(context.views_read),
        columns={view: frozenset(cols) for view, cols in sorted(context.columns.items())},
        statement_kind=context.statement_kind,
    )


def parse_single_statement(context: GuardContext) -> None:
    """Parse the text; accept exactly one statement (empty trailing statements don't count)."""
    sql = context.sql
    if len(sql) > MAX_QUERY_CHARS:
        raise Refused(f"the query is too long ({len(sql)} characters; the limit is {MAX_QUERY_CHARS})")
    if "\x00" in sql:
        raise Refused("the query contains a NUL character")
    try:
        statements = sqlglot.parse(sql, read=DIALECT, error_level=ErrorLevel.IMMEDIATE)
    except ParseError as error:
        kind = _leading_statement_kind(sql)
        if kind:
            raise _kind_refusal(kind) from None
        first = error.errors[0] if error.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        description = first.get("description") or str(error).splitlines()[0]
        raise Refused(f"cannot parse the query: {description}{where}") from None
    except TokenError as error:
        raise Refused(f"cannot parse the query: {_first_line(error)}") from None
    except SqlglotError as error:
        raise Refused(f"cannot parse the query: {_first_line(error)}") from None
    except RecursionError:
        raise
    except Exception as error:  # a sqlglot bug on odd input must refuse, not crash the caller
        raise Refused(f"cannot parse the query ({type(error).__name__})") from None
    real = [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]
    if not real:
        raise Refused("the query is empty")
    if len(real) > 1:
        raise Refused("multiple statements are not allowed")
    context.tree = real[0]


def require_read_only_query(context: GuardContext) -> None:
    """The root must be SELECT or a set operation (parentheses allowed); refuse other kinds."""
    root = _tree(context)
    # Drop bare parentheses; keep `(SELECT ...) ORDER BY ... LIMIT ...` as it is.
    while type(root) is exp.Subquery and not any(v for k, v in root.args.items() if k != "this"):
        root = root.this
    inner = root
    while type(inner) is exp.Subquery:
        inner = inner.this
    kind = _QUERY_ROOTS.get(type(inner))
    if kind is None:
        raise _kind_refusal(_statement_kind(root, context.sql))
    context.tree = root
    context.statement_kind = kind


def check_sources(context: GuardContext) -> None:
    """Every FROM/JOIN source is a granted view, a CTE in scope or a subquery of those."""
    tree = _tree(context)
    for cte in tree.find_all(exp.CTE):
        name = cte.alias_or_name
        if fold_name(name) in context.granted:
            raise Refused(f"CTE name {name!r} shadows a view; rename it")
        context.cte_names.add(fold_name(name))
    for holder in tree.find_all(exp.From, exp.Join, exp.Lateral):
        source = holder.this
        allowed: tuple[type[exp.Expr], ...] = (exp.Subquery,)
        if not isinstance(holder, exp.Lateral):
            allowed = (exp.Table, exp.Subquery, exp.Lateral)
        if type(source) not in allowed:
            raise Refused(_source_refusal(source, context.sql))
    for table in tree.find_all(exp.Table):
        _check_table(table, context)


def check_nodes(context: GuardContext) -> None:
    """Every node is of an allowed class, with only allowed clauses and safe raw text."""
    for node in _tree(context).walk():
        kind = type(node)
        if kind is exp.Anonymous:
            name = fold_name(node.name)
            if not isinstance(node.this, str) or name not in ALLOWED_ANONYMOUS_FUNCTIONS:
                raise Refused(f"function {_written_name(node, context.sql)} is not allowed")
        elif kind in ALLOWED_FUNCTIONS:
            pass
        elif kind in ALLOWED_NODES:
            _check_node_details(node)
        elif isinstance(node, exp.Func):
            raise Refused(f"function {_written_name(node, context.sql)} is not allowed")
        else:
            raise Refused(f"{_construct_name(node)} is not allowed in governed queries")


def generate_sql(context: GuardContext) -> None:
    """Generate the text to run from the checked tree: no comments, every identifier quoted."""
    try:
        context.sql_for_duckdb = _tree(context).sql(
            dialect=DIALECT, comments=False, identify=True, unsupported_level=ErrorLevel.RAISE
        )
    except SqlglotError as error:
        raise Refused(f"cannot re-generate the query for DuckDB: {_first_line(error)}") from None
    except RecursionError:
        raise
    except Exception as error:  # fail closed on generator bugs too
        raise Refused(f"cannot re-generate the query for DuckDB ({type(error).__name__})") from None


def cross_check_with_duckdb(context: GuardContext) -> None:
    """Parse the generated text with DuckDB's own parser and require the same reading."""
    reading = _duckdb_parse(context.sql_for_duckdb)
    if reading.get("error"):
        message = str(reading.get("error_message", ""))[:120]
        raise Refused(f"DuckDB does not read this as a single SELECT: {message}")
    statements = reading.get("statements") or []
    if len(statements) != 1:
        raise Refused("multiple statements are not allowed")
    known = set(context.granted) | context.cte_names
    for node in _json_objects(statements[0]):
        node_type = node.get("type")
        if not isinstance(node_type, str):
            node_type = ""
        if node.get("class") == "PARAMETER":
            raise Refused("a query parameter ($1, ?, $name) is not allowed in governed queries")
        if node_type in _DUCKDB_DENIED_TYPES:
            raise Refused(_duckdb_source_refusal(node))
        for source in _duckdb_sources(node.get("from_table")):
            if source.get("type") not in _DUCKDB_ALLOWED_SOURCES:
                raise Refused(_duckdb_source_refusal(source))
        if node_type == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if node.get("schema_name") or node.get("catalog_name") or fold_name(name) not in known:
                raise Refused(f"view {name!r} is not granted to you")
        if "function_name" in node:
            name = fold_name(str(node["function_name"]))
            if node.get("catalog") or node.get("schema") not in ("", "main", None) or name.startswith(
                DENIED_DUCKDB_FUNCTION_PREFIXES
            ):
                raise Refused(f"function {name} is not allowed")


def resolve_columns(context: GuardContext) -> None:
    """Work out which columns of which views the query reads; refuse unknown/ambiguous ones."""
    tree = _tree(context)
    schema: dict[str, object] = {name: dict.fromkeys(cols, "UNKNOWN") for name, cols in context.views.items()}
    try:
        qualified = qualify(
            tree, schema=schema, dialect=DIALECT, validate_qualify_columns=True,
            quote_identifiers=False, identify=False,
        )
        scopes = list(traverse_scope(qualified))
    except OptimizeError as error:
        raise Refused(_column_refusal(str(error), context)) from None
    except SqlglotError as error:
        raise Refused(f"cannot resolve the columns of the query: {_first_line(error)}") from None
    except RecursionError:
        raise
    except Exception as error:  # fail closed on optimizer bugs too
        raise Refused(f"cannot resolve the columns of the query ({type(error).__name__})") from None
    view_columns = {
        name.lower(): {column.lower(): column for column in columns}
        for name, columns in context.views.items()
    }
    resolved: set[int] = set()
    for scope in scopes:
        for source in scope.sources.values():
            if isinstance(source, exp.Table):
                context.views_read.add(_granted_view(source, context))
        for column in scope.columns:
            source = _source_of(scope, column.table)
            if isinstance(source, exp.Table):
                view = _granted_view(source, context)
                known = view_columns[view.lower()]
                if column.name.lower() not in known:
                    raise Refused(f"column {column.name!r} is not in view {view!r}"
                                  f"{did_you_mean(column.name, known.values())}")
                context.columns.setdefault(view, set()).add(known[column.name.lower()])
                resolved.add(id(column))
            elif isinstance(source, Scope):
                resolved.add(id(column))
        if _has_unexpanded_star(scope):
            # qualify could not expand it: count every column of every view it could reach.
            for source in scope.sources.values():
                if isinstance(source, exp.Table):
                    view = _granted_view(source, context)
                    context.columns.setdefault(view, set()).update(view_columns[view.lower()].values())
    for row in qualified.find_all(exp.TableColumn):
        raise Refused(f"a whole view row ({row.name!r}) cannot be selected as a value; name its columns")
    for column in qualified.find_all(exp.Column):
        if id(column) in resolved or isinstance(column.this, exp.Star) or _is_local_name(column):
            continue
        written = column.sql(dialect=DIALECT)
        hint = did_you_mean(column.name, _other_columns(column.name, context))
        raise Refused(f"column {written!r} is not a column of the views this query reads{hint}")


RULES: tuple[Rule, ...] = (
    parse_single_statement,
    require_read_only_query,
    check_sources,
    check_nodes,
    generate_sql,
    cross_check_with_duckdb,
    resolve_columns,
)
"""The guard as data: each rule reads and fills the context, or raises :class:`Refused`."""


# --------------------------------------------------------------------------- helpers


def _tree(context: GuardContext) -> exp.Expr:
    assert context.tree is not None, "parse_single_statement runs first"
    return context.tree


def _first_line(error: Exception) -> str:
    lines = str(error).splitlines()
    return lines[0][:120] if lines else type(error).__name__


def _kind_refusal(kind: str) -> Refused:
    if not kind:
        return Refused("only read-only SELECT queries are allowed, and this is not one")
    return Refused(f"{kind} statements are not allowed; only read-only SELECT queries are")


def _leading_statement_kind(sql: str) -> str:
    """The statement keyword(s) a text starts with, or '' if it starts like a query."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except SqlglotError:
        return ""
    if not tokens or tokens[0].token_type in _QUERY_START_TOKENS:
        return ""
    words = [token.text.upper() for token in tokens[:6]]
    if words[0] not in _STATEMENT_WORDS:
        return ""
    if words[0] in ("CREATE", "DROP", "ALTER", "EXPORT", "IMPORT", "FORCE"):
        skip = {"OR", "REPLACE", "TEMP", "TEMPORARY", "PERSISTENT", "UNIQUE", "IF", "NOT", "EXISTS"}
        rest = [word for word in words[1:] if word not in skip]
        return f"{words[0]} {rest[0]}" if rest and _SIMPLE_WORD.fullmatch(rest[0]) else words[0]
    return words[0]


def _statement_kind(root: exp.Expr, sql: str) -> str:
    if isinstance(root, exp.Create):
        return f"CREATE {root.args.get('kind') or ''}".strip()
    if isinstance(root, exp.Values):
        return "VALUES"
    if isinstance(root, exp.Pivot):
        return "UNPIVOT" if root.args.get("unpivot") else "PIVOT"
    by_class = type(root).__name__.upper()
    return _leading_statement_kind(sql) or (by_class if by_class in _STATEMENT_WORDS else "")


def _source_refusal(source: exp.Expr, sql: str) -> str:
    if isinstance(source, exp.Values):
        return f"VALUES {_NOT_IN_FROM}"
    if isinstance(source, exp.Func):
        return f"function {_written_name(source, sql)} {_NOT_IN_FROM}"
    return f"{_construct_name(source)} {_NOT_IN_FROM}"


def _check_table(table: exp.Table, context: GuardContext) -> None:
    """A table reference: a CTE in scope or a granted view, given by a plain name."""
    if type(table.parent) not in (exp.From, exp.Join, exp.Subquery, exp.Lateral):
        raise Refused(f"{_construct_name(table.parent)} is not allowed in governed queries")
    if isinstance(table.this, exp.Func) or not isinstance(table.this, exp.Identifier):
        raise Refused(_source_refusal(table.this, context.sql))
    for key, value in table.args.items():
        if value and key not in _ALLOWED_ARGS[exp.Table]:
            raise Refused(f"{_construct_name(value)} is not allowed on a view reference")
    identifier = table.this
    start = identifier.meta.get("start")
    if isinstance(start, int) and context.sql[start : start + 1] == "'":
        raise Refused(f"file paths in FROM are not allowed: {identifier.name!r}")
    written = ".".join(part.name for part in table.parts)
    name = fold_name(identifier.name)
    if table.args.get("db") or table.args.get("catalog"):
        if name in context.granted:
            granted = context.granted[name]
            raise Refused(f"write view names without a schema: use {granted!r}, not {written!r}")
        raise Refused(f"view {written!r} is not granted to you")
    if name in _visible_ctes(table):
        return
    if name not in context.granted:
        raise Refused(f"view {written!r} is not granted to you")
    # Run what was checked: the granted spelling, quoted, so DuckDB's case folding cannot differ.
    table.set("this", exp.Identifier(this=context.granted[name], quoted=True))


def _visible_ctes(table: exp.Table) -> set[str]:
    """CTE names visible at ``table``. Conservative: a CTE sees earlier siblings only (and
    itself when RECURSIVE); a forward reference is treated as a catalog name and refused."""
    visible: set[str] = set()
    child: exp.Expr = table
    via_cte: exp.CTE | None = None
    node = table.parent
    while node is not None:
        if isinstance(node, exp.CTE):
            via_cte = node
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            if child is with_ and via_cte is not None and via_cte in ctes:
                position = ctes.index(via_cte)
                visible.update(fold_name(cte.alias_or_name) for cte in ctes[:position])
                if with_.args.get("recursive"):
                    visible.add(fold_name(via_cte.alias_or_name))
            elif child is not with_:
                visible.update(fold_name(cte.alias_or_name) for cte in ctes)
        child, node = node, node.parent
    return visible


def _check_node_details(node: exp.Expr) -> None:
    """Clause allowlists for the structural nodes, and raw-text checks where sqlglot emits text verbatim."""
    allowed_args = _ALLOWED_ARGS.get(type(node))
    if allowed_args is not None:
        for key, value in node.args.items():
            if value and key not in allowed_args:
                raise Refused(f"{_construct_name(value)} is not allowed in governed queries")
    if isinstance(node, exp.DataType):
        # sqlglot prints user-defined type names verbatim, so `x::"int); COPY ..."` would
        # smuggle text into the generated SQL. Only built-in types are allowed.
        if node.this == exp.DataType.Type.USERDEFINED or node.args.get("kind"):
            type_name = node.args.get("kind") or node.sql(dialect=DIALECT)
            raise Refused(f"casting to type {type_name!r} is not allowed; use a built-in type")
    elif isinstance(node, exp.Var):
        if not _SIMPLE_WORD.fullmatch(node.name):
            raise Refused(f"keyword {node.name!r} is not allowed in governed queries")
    elif isinstance(node, exp.Literal) and not node.is_string:
        if not _NUMBER.fullmatch(node.name):
            raise Refused(f"number {node.name!r} is not allowed in governed queries")


def _written_name(node: exp.Expr, sql: str) -> str:
    """The function name as the user wrote it, for messages."""
    start, end = node.meta.get("start"), node.meta.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end < len(sql):
        written = sql[start : end + 1].strip().strip('"')
        if written:
            return written.lower()
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def _construct_name(node: Any) -> str:
    if isinstance(node, list):
        node = node[0] if node else None
    if not isinstance(node, exp.Expr):
        return f"the clause {node!r}"
    for kind, name in _CONSTRUCT_NAMES.items():
        if isinstance(node, kind):
            return name
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(node).__name__).upper()
    return f"{words} syntax"


def _duckdb_parse(sql: str) -> dict[str, Any]:
    """DuckDB's parse tree of ``sql`` as JSON (parse only: nothing is bound or executed)."""
    with _DUCKDB_LOCK:
        connection = _duckdb_connection()
        row = connection.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    if row is None:
        raise Refused("DuckDB could not read the query")
    reading: dict[str, Any] = json.loads(row[0])
    return reading


_DUCKDB_LOCK = threading.Lock()
_DUCKDB_CONNECTIONS: list[Any] = []


def _duckdb_connection() -> Any:
    """A private, locked-down in-memory connection used only to parse (imported lazily)."""
    if not _DUCKDB_CONNECTIONS:
        import duckdb

        connection = duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "lock_configuration": True,
            },
        )
        _DUCKDB_CONNECTIONS.append(connection)
    return _DUCKDB_CONNECTIONS[0]


def _json_objects(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _duckdb_source_refusal(source: dict[str, Any]) -> str:
    if source.get("type") == "TABLE_FUNCTION":
        function = source.get("function") or {}
        return f"function {function.get('function_name', '?')} {_NOT_IN_FROM}"
    return f"DuckDB reads a {source.get('type')} source in this query; FROM may only name views"


def _duckdb_sources(reference: Any) -> Iterator[dict[str, Any]]:
    """A FROM clause in DuckDB's parse tree, with joins opened up into their sides."""
    stack = [reference]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            if item.get("type") == "JOIN":
                stack.extend((item.get("left"), item.get("right")))


def _source_of(scope: Scope, name: str) -> Any:
    """The source a column qualifier names, looking outwards for correlated references."""
    current: Scope | None = scope
    while current is not None:
        if name in current.sources:
            return current.sources[name]
        current = current.parent
    return None


def _has_unexpanded_star(scope: Scope) -> bool:
    expression = scope.expression
    if not isinstance(expression, exp.Select):
        return False
    return any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in expression.expressions
    )


def _granted_view(table: exp.Table, context: GuardContext) -> str:
    """The granted name a resolved base table refers to (check_sources has vetted it)."""
    # qualify() lowercases identifiers the Python way; the grants are keyed the DuckDB way.
    by_lower = {name.lower(): name for name in context.granted.values()}
    view = context.granted.get(fold_name(table.name)) or by_lower.get(table.name.lower())
    if view is None or table.args.get("db") or table.args.get("catalog"):
        raise Refused(f"view {table.sql(dialect=DIALECT)!r} is not granted to you")
    return view


def _is_local_name(column: exp.Column) -> bool:
    """An unqualified name bound inside the query: a list-comprehension variable, or a
    select-list alias used in WHERE/GROUP BY/HAVING/QUALIFY/ORDER BY (DuckDB allows both)."""
    if column.table:
        return False
    name = column.name.lower()
    child: exp.Expr = column
    node = column.parent
    while node is not None:
        if isinstance(node, exp.Comprehension) and node.expression.name.lower() == name:
            return True
        if isinstance(node, exp.Select):
            aliases = {select.alias.lower() for select in node.expressions if isinstance(select, exp.Alias)}
            return child.arg_key != "expressions" and name in aliases
        if isinstance(node, exp.SetOperation):
            # ORDER BY after UNION/INTERSECT/EXCEPT names the output columns.
            return child.arg_key == "order" and name in {n.lower() for n in node.named_selects}
        child, node = node, node.parent
    return False


def _other_columns(name: str, context: GuardContext) -> list[str]:
    """Granted column names other than ``name``, for "did you mean" hints."""
    every = {column for columns in context.views.values() for column in columns}
    return sorted(column for column in every if column.lower() != name.lower())


def _column_refusal(message: str, context: GuardContext) -> str:
    """Turn sqlglot's qualify error into a reason the analyst can act on."""
    match = re.search(r"Column '([^']+)' could not be resolved", message)
    if not match:
        return f"cannot resolve the columns of the query: {message.splitlines()[0][:120]}"
    name = match.group(1)
    holders = sorted(
        context.granted[fold_name(view)]
        for view, columns in context.views.items()
        if view.lower() in {t.name.lower() for t in _tree(context).find_all(exp.Table)}
        and name.lower() in {c.lower() for c in columns}
    )
    if len(holders) > 1:
        listed = " and ".join(repr(view) for view in holders)
        return f"column {name!r} is ambiguous: it is in views {listed}; prefix it with the view name"
    hint = did_you_mean(name, _other_columns(name, context))
    return f"column {name!r} is not a column of the views this query reads{hint}"
