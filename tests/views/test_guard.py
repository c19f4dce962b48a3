"""The governed-SQL guard: bypass attempts are refused with the right reason; real queries pass.

Each refused case names the reason fragment it must produce, so a refusal for the
wrong reason (say, a parse error where a function should have been named) fails too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from govlake.errors import PolicyDenied
from views.guard import (
    ALLOWED_ANONYMOUS_FUNCTIONS,
    MAX_QUERY_CHARS,
    CheckedQuery,
    GuardContext,
    Refused,
    check,
    cross_check_with_duckdb,
)

GRANTED_VIEWS: Mapping[str, Sequence[str]] = {
    "population": ["resident_id", "name", "division", "birth_date", "gender", "age"],
    "legal_entity": ["uscc", "name", "division", "registered_capital", "established"],
}
"""What the analyst may read: the views the ``governed_connection`` fixture defines."""

KIND = "statements are not allowed; only read-only SELECT queries are"
NOT_GRANTED = "is not granted to you"
PATH = "file paths in FROM are not allowed"
IN_FROM = "is not allowed in FROM; FROM may only name views"
MULTIPLE = "multiple statements are not allowed"


def refusal(sql: str, views: Mapping[str, Sequence[str]] = GRANTED_VIEWS) -> str:
    with pytest.raises(PolicyDenied) as caught:
        check(sql, user="analyst", views=views)
    assert caught.value.user == "analyst"
    assert caught.value.exit_code == 2
    return caught.value.reason


def passes(sql: str) -> CheckedQuery:
    return check(sql, user="analyst", views=GRANTED_VIEWS)


# --------------------------------------------------------------------------- refused

STATEMENT_KINDS = [
    ("COPY population TO '/home/lake/base/out.csv'", f"COPY {KIND}"),
    ("COPY population FROM '/tmp/x.csv'", f"COPY {KIND}"),
    ("COPY (SELECT * FROM population) TO '/home/lake/base/leak.parquet' (FORMAT parquet)", f"COPY {KIND}"),
    ("/* harmless */COPY population TO '/tmp/x'", f"COPY {KIND}"),
    ("-- comment\nCOPY population TO '/tmp/x'", f"COPY {KIND}"),
    ("ATTACH '/home/lake/base/population' AS p (TYPE delta)", f"ATTACH {KIND}"),
    ("ATTACH 'other.duckdb' AS other", f"ATTACH {KIND}"),
    ("DETACH other", f"DETACH {KIND}"),
    ("USE other", f"USE {KIND}"),
    ("SET enable_external_access = true", f"SET {KIND}"),
    ("SET GLOBAL threads = 1", f"SET {KIND}"),
    ("SET VARIABLE x = 1", f"SET {KIND}"),
    ("RESET threads", f"RESET {KIND}"),
    ("PRAGMA enable_profiling", f"PRAGMA {KIND}"),
    ("PRAGMA database_list", f"PRAGMA {KIND}"),
    ("INSTALL httpfs", f"INSTALL {KIND}"),
    ("FORCE INSTALL delta", f"FORCE INSTALL {KIND}"),
    ("LOAD delta", f"LOAD {KIND}"),
    ("CREATE VIEW v AS SELECT * FROM population", f"CREATE VIEW {KIND}"),
    ("CREATE OR REPLACE VIEW population AS SELECT * FROM base_population", f"CREATE VIEW {KIND}"),
    ("CREATE TABLE t AS SELECT * FROM population", f"CREATE TABLE {KIND}"),
    ("CREATE TEMP TABLE t (x INT)", f"CREATE TABLE {KIND}"),
    ("CREATE MACRO leak(p) AS TABLE SELECT * FROM read_csv(p)", f"CREATE MACRO {KIND}"),
    ("CREATE OR REPLACE TEMP MACRO m(x) AS x + 1", f"CREATE MACRO {KIND}"),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')", f"CREATE SECRET {KIND}"),
    ("CREATE SEQUENCE s", f"CREATE SEQUENCE {KIND}"),
    ("INSERT INTO population VALUES (1)", f"INSERT {KIND}"),
    ("UPDATE population SET age = 1", f"UPDATE {KIND}"),
    ("DELETE FROM population", f"DELETE {KIND}"),
    ("DROP VIEW population", f"DROP VIEW {KIND}"),
    ("ALTER VIEW population RENAME TO p", f"ALTER VIEW {KIND}"),
    ("EXPORT DATABASE '/home/lake/base/dump'", f"EXPORT DATABASE {KIND}"),
    ("IMPORT DATABASE '/tmp/dump'", f"IMPORT DATABASE {KIND}"),
    ("CALL duckdb_settings()", f"CALL {KIND}"),
    ("CALL pragma_version()", f"CALL {KIND}"),
    ("DESCRIBE population", f"DESCRIBE {KIND}"),
    ("DESCRIBE SELECT * FROM population", f"DESCRIBE {KIND}"),
    ("SHOW TABLES", f"SHOW {KIND}"),
    ("SHOW ALL TABLES", f"SHOW {KIND}"),
    ("SUMMARIZE population", f"SUMMARIZE {KIND}"),
    ("SUMMARIZE SELECT * FROM population", f"SUMMARIZE {KIND}"),
    ("CHECKPOINT", f"CHECKPOINT {KIND}"),
    ("VACUUM", f"VACUUM {KIND}"),
    ("EXPLAIN SELECT * FROM population", f"EXPLAIN {KIND}"),
    ("EXPLAIN ANALYZE SELECT * FROM population", f"EXPLAIN {KIND}"),
    ("PIVOT population ON gender USING count(*)", f"PIVOT {KIND}"),
    ("UNPIVOT population ON name INTO NAME k VALUE v", f"UNPIVOT {KIND}"),
    ("VALUES (1), (2)", f"VALUES {KIND}"),
    ("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", f"INSERT {KIND}"),
    ("BEGIN TRANSACTION", f"BEGIN {KIND}"),
    ("TRUNCATE population", f"TRUNCATE {KIND}"),
    ("PREPARE leak AS SELECT * FROM tax_record", f"PREPARE {KIND}"),
    ("EXECUTE leak", f"EXECUTE {KIND}"),
    ("UPDATE EXTENSIONS", f"UPDATE {KIND}"),
    ("population", "only read-only SELECT queries are allowed, and this is not one"),
]

MULTIPLE_STATEMENTS = [
    ("SELECT 1; SELECT 2", MULTIPLE),
    ("SELECT * FROM population; COPY population TO '/tmp/x'", MULTIPLE),
    ("SELECT 1 /* ; */; COPY population TO '/tmp/x'", MULTIPLE),
    ("SELECT 1 -- hide\n; COPY population TO '/tmp/x'", MULTIPLE),
    ("SELECT ';'; DROP VIEW population", MULTIPLE),
    ("SELECT 1;\n/* looks like a comment */ ATTACH 'x' AS y (TYPE delta)", MULTIPLE),
    ("SELECT 1;;SELECT 2", MULTIPLE),
    # DuckDB strings have no backslash escapes, so this ends the string and starts a COPY.
    ("SELECT * FROM population WHERE name = 'a\\'; COPY population TO '/tmp/x'", MULTIPLE),
]

SOURCES = [
    # views that are not granted, system objects, and the error-message side channel
    ("SELECT * FROM tax_record", f"view 'tax_record' {NOT_GRANTED}"),
    ("SELECT * FROM no_such_thing", f"view 'no_such_thing' {NOT_GRANTED}"),
    ("SELECT * FROM base_population", f"view 'base_population' {NOT_GRANTED}"),
    ("SELECT name FROM population UNION SELECT note FROM tax_record", f"view 'tax_record' {NOT_GRANTED}"),
    ("SELECT name FROM population UNION ALL SELECT name FROM base_population", NOT_GRANTED),
    ("SELECT name FROM population EXCEPT SELECT note FROM tax_record", NOT_GRANTED),
    ("SELECT * FROM population WHERE name IN (SELECT note FROM tax_record)", NOT_GRANTED),
    ("SELECT (SELECT max(note) FROM tax_record) FROM population", NOT_GRANTED),
    ("SELECT * FROM population WHERE EXISTS (SELECT 1 FROM (SELECT * FROM tax_record) t)", NOT_GRANTED),
    ("SELECT * FROM population p, LATERAL (SELECT * FROM tax_record) t", NOT_GRANTED),
    ("SELECT * FROM population JOIN tax_record ON true", NOT_GRANTED),
    ("TABLE tax_record", f"view 'tax_record' {NOT_GRANTED}"),
    ("SELECT * FROM population UNION ALL FROM tax_record", NOT_GRANTED),
    ("SELECT * FROM population WHERE name = ANY (SELECT note FROM tax_record)", NOT_GRANTED),
    ("SELECT * FROM population ORDER BY (SELECT max(id) FROM tax_record)", NOT_GRANTED),
    ("SELECT name FROM population LIMIT (SELECT count(*) FROM tax_record)", NOT_GRANTED),
    ("SELECT * FROM population QUALIFY (SELECT 1 FROM tax_record) = 1", NOT_GRANTED),
    ("SELECT * FROM population WINDOW w AS (ORDER BY (SELECT 1 FROM tax_record))", NOT_GRANTED),
    ("SELECT list_transform([1], x -> (SELECT note FROM tax_record))", NOT_GRANTED),
    ("SELECT 1 FROM population WHERE 1 = 1 -- x\nAND EXISTS (SELECT 1 FROM tax_record)", NOT_GRANTED),
    ("SELECT * FROM information_schema.tables", f"view 'information_schema.tables' {NOT_GRANTED}"),
    ("SELECT * FROM information_schema.columns", NOT_GRANTED),
    ("SELECT * FROM pg_catalog.pg_tables", NOT_GRANTED),
    ("SELECT * FROM sqlite_master", f"view 'sqlite_master' {NOT_GRANTED}"),
    ("SELECT * FROM duckdb_tables", f"view 'duckdb_tables' {NOT_GRANTED}"),
    ("SELECT * FROM duckdb_settings", NOT_GRANTED),
    ("SELECT * FROM system.main.duckdb_tables", NOT_GRANTED),
    ("SELECT * FROM main.base_population", NOT_GRANTED),
    ("SELECT * FROM memory.main.tax_record", NOT_GRANTED),
    ("SELECT * FROM main.population", "write view names without a schema: use 'population'"),
    ('SELECT * FROM "memory"."main"."population"', "write view names without a schema"),
    ("SELECT * FROM рopulation", NOT_GRANTED),  # Cyrillic 'р'
    ("SELECT * FROM ｐopulation", NOT_GRANTED),  # full-width 'ｐ'
    ('SELECT * FROM "population\\"', NOT_GRANTED),
    ('SELECT * FROM "population "', NOT_GRANTED),
    # CTEs: shadowing and scope
    ("WITH population AS (SELECT * FROM base_population) SELECT * FROM population",
     "CTE name 'population' shadows a view; rename it"),
    ('WITH "POPULATION" AS (SELECT 1) SELECT * FROM population', "CTE name 'POPULATION' shadows a view"),
    ("SELECT * FROM (WITH legal_entity AS (SELECT 1) SELECT * FROM legal_entity) t", "shadows a view"),
    ("SELECT * FROM (WITH s AS (SELECT 1 AS x) SELECT * FROM s) t, s", f"view 's' {NOT_GRANTED}"),
    ("SELECT * FROM population WHERE name IN (WITH s AS (SELECT 'a' AS x) SELECT x FROM s) "
     "AND name IN (SELECT * FROM s)", f"view 's' {NOT_GRANTED}"),
    ("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM population) SELECT * FROM a",
     f"view 'b' {NOT_GRANTED}"),
    ("WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings",
     f"view 'duckdb_settings' {NOT_GRANTED}"),
    # Python's lower() folds the Kelvin sign to "k"; DuckDB folds ASCII only, so this CTE does
    # not capture the reference and DuckDB would read its system view.
    ('WITH "duc\u212adb_tables" AS (SELECT 1 AS x) SELECT * FROM duckdb_tables',
     f"view 'duckdb_tables' {NOT_GRANTED}"),
    ('SELECT * FROM "populat\u0130on"', NOT_GRANTED),
    ("WITH RECURSIVE a AS (SELECT * FROM tax_record), tax_record AS (SELECT 1) SELECT * FROM a",
     f"view 'tax_record' {NOT_GRANTED}"),
    # table functions, each one
    *[
        (f"SELECT * FROM {call}", f"function {call.split('(')[0]} {IN_FROM}")
        for call in [
            "delta_scan('/home/lake/base/population')",
            "read_parquet('/home/lake/base/population/part-0.parquet')",
            "read_csv('/etc/passwd')",
            "read_csv_auto('/etc/passwd')",
            "read_json('x.json')",
            "read_json_auto('x.json')",
            "read_text('/etc/passwd')",
            "read_blob('/etc/passwd')",
            "glob('/home/lake/**')",
            "delta_list_files('/home/lake/base/tax_record')",
            "parquet_metadata('x.parquet')",
            "parquet_schema('x.parquet')",
            "sqlite_scan('x.db', 't')",
            "query('SELECT * FROM tax_record')",
            "query_table('tax_record')",
            "range(10)",
            "generate_series(1, 3)",
            "duckdb_settings()",
            "duckdb_tables()",
            "duckdb_extensions()",
            "duckdb_secrets()",
            "pragma_database_list()",
            "st_read('x.shp')",
            "json_execute_serialized_sql('{}')",
            "unnest([1, 2])",
            "histogram(tax_record, id)",
        ]
    ],
    ("SELECT * FROM system.main.duckdb_settings()", IN_FROM),
    ("SELECT * FROM population, read_parquet('x.parquet')", f"function read_parquet {IN_FROM}"),
    ("SELECT * FROM population JOIN read_csv('/etc/passwd') ON true", f"function read_csv {IN_FROM}"),
    ("SELECT * FROM population, LATERAL read_parquet(name)", f"function read_parquet {IN_FROM}"),
    ("SELECT * FROM population p CROSS JOIN LATERAL (SELECT * FROM read_text(p.name)) t",
     f"function read_text {IN_FROM}"),
    ("SELECT * FROM population WHERE name IN (SELECT * FROM read_csv('/etc/passwd'))",
     f"function read_csv {IN_FROM}"),
    ("SELECT (SELECT content FROM read_text('/etc/passwd'))", f"function read_text {IN_FROM}"),
    ("SELECT name FROM population UNION ALL SELECT content FROM read_text('/etc/passwd')", IN_FROM),
    ("WITH t AS (SELECT * FROM delta_scan('/home/lake/base/tax_record')) SELECT * FROM t", IN_FROM),
    # file paths
    ("SELECT * FROM '/etc/passwd'", f"{PATH}: '/etc/passwd'"),
    ("SELECT * FROM 'x.csv'", f"{PATH}: 'x.csv'"),
    ("SELECT * FROM '/home/lake/base/tax_record/*.parquet'", PATH),
    ("SELECT * FROM 's3://bucket/leak.parquet'", PATH),
    ("SELECT * FROM population JOIN '/etc/passwd' AS f ON true", PATH),
    ("FROM '/home/lake/base/population/part-0.parquet'", PATH),
    ('SELECT * FROM "x.csv"', f"view 'x.csv' {NOT_GRANTED}"),
    ('SELECT * FROM "/etc/passwd"', f"view '/etc/passwd' {NOT_GRANTED}"),
    ("SELECT * FROM read_csv('x.csv')", f"function read_csv {IN_FROM}"),
    # other sources that are not views
    ("SELECT * FROM (VALUES (1), (2)) t(x)", f"VALUES {IN_FROM}"),
    ("SELECT name FROM population UNION SELECT * FROM (VALUES ('x'))", f"VALUES {IN_FROM}"),
    ("SELECT * FROM population PIVOT (count(*) FOR gender IN ('M', 'F'))", "PIVOT / UNPIVOT"),
    ("SELECT * FROM population UNPIVOT (v FOR k IN (name, gender))", "PIVOT / UNPIVOT"),
    ("SELECT * FROM population AT (VERSION => 1)", "time travel"),
    ("SELECT * FROM population TABLESAMPLE 10 ROWS", "sampling"),
]

FUNCTIONS = [
    *[
        (f"SELECT {call}", f"function {call.split('(')[0]} is not allowed")
        for call in [
            "read_text('/etc/passwd')",
            "read_blob('/etc/passwd')",
            "getenv('HOME')",
            "getvariable('x')",
            "current_setting('enable_external_access')",
            "query('SELECT 1')",
            "glob('/home/*')",
            "delta_list_files('/x')",
            "parquet_metadata('x')",
            "sqlite_scan('x', 'y')",
            "st_read('x')",
            "load_extension('x')",
            "duckdb_settings()",
            "pragma_version()",
            "enable_profiling()",
            "nextval('s')",
            "error('boom')",
            "version()",
            "current_database()",
            "current_schema()",
            "txid_current()",
            "which_secret('s3://x', 's3')",
            "json_execute_serialized_sql('{}')",
            "query_table('tax_record')",
        ]
    ],
    ("SELECT read_text('/etc/passwd') AS leak FROM population", "function read_text is not allowed"),
    ("SELECT name FROM population WHERE getenv('HOME') IS NOT NULL", "function getenv is not allowed"),
    ("SELECT list_transform(['HOME'], x -> getenv(x))", "function getenv is not allowed"),
    ("SELECT [getenv(x) FOR x IN ['HOME']]", "function getenv is not allowed"),
    ("SELECT 'HOME'.getenv()", "method-call syntax (x.f()) is not allowed"),
    ("SELECT upper(current_setting('threads'))", "function current_setting is not allowed"),
    ("SELECT system.main.getenv('HOME')", "not allowed"),
    ("SELECT * REPLACE (read_text(name) AS name) FROM population", "function read_text is not allowed"),
    ("SELECT struct_pack(a := getenv('HOME'))", "function getenv is not allowed"),
]

CONSTRUCTS = [
    ("SELECT $1", "a query parameter"),
    ("SELECT * FROM population WHERE age > ?", "a query parameter"),
    ("SELECT $name", "a query parameter"),
    ("SELECT * INTO leaked FROM population", "SELECT ... INTO is not allowed"),
    ("SELECT * FROM population FOR UPDATE", "FOR UPDATE / FOR SHARE is not allowed"),
    ("SELECT #1 FROM population", "a positional column reference"),
    ("SELECT E'\\x41'", "an escape string"),
    ("SELECT COLUMNS('.*') FROM population", "function columns is not allowed"),
    # sqlglot prints user-defined type names verbatim: no smuggling statements through a cast.
    ("SELECT age::\"int); COPY population TO '/tmp/x' (FORMAT csv); SELECT (1\" FROM population",
     "is not allowed"),
    ('SELECT age::"weird; type" FROM population', "casting to type 'weird; type' is not allowed"),
    ("SELECT name::regclass FROM population", "casting to type 'regclass' is not allowed"),
    ("SELECT population FROM population", "a whole view row ('population') cannot be selected"),
    ("SELECT nosuch FROM population", "column 'nosuch' is not a column of the views this query reads"),
    ("SELECT divison FROM population", "did you mean 'division'?"),
    ("SELECT division FROM population, legal_entity",
     "column 'division' is ambiguous: it is in views 'legal_entity' and 'population'"),
    ("SELECT p.nosuch FROM population p", "nosuch"),
]

PARSING = [
    ("", "the query is empty"),
    ("   ;  ", "the query is empty"),
    ("-- only a comment", "the query is empty"),
    ("SELECT 'unterminated", "cannot parse the query"),
    ("SELECT (1", "cannot parse the query: Expecting )"),
    ("SELECT * FROM population WHERE", "cannot parse the query"),
    ("SELEC * FROM population", "cannot parse the query"),
    ("SELECT " + "(" * 300 + "1" + ")" * 300, "nested too deeply"),
    ("SELECT 1 -- " + "x" * MAX_QUERY_CHARS, "the query is too long"),
]

REFUSED = STATEMENT_KINDS + MULTIPLE_STATEMENTS + SOURCES + FUNCTIONS + CONSTRUCTS + PARSING


@pytest.mark.parametrize(("sql", "reason"), REFUSED, ids=[sql[:60] for sql, _ in REFUSED])
def test_refused_with_reason(sql: str, reason: str) -> None:
    assert reason in refusal(sql)


@pytest.mark.parametrize("name", ["tax_record", "base_population", "duckdb_settings", "no_such_thing"])
def test_refusal_does_not_reveal_whether_an_object_exists(
    name: str, governed_connection: duckdb.DuckDBPyConnection
) -> None:
    exists = bool(
        governed_connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
        ).fetchone()[0]  # type: ignore[index]
    )
    reason = refusal(f"SELECT * FROM {name}")
    assert reason.replace(name, "NAME") == "view 'NAME' is not granted to you", exists
    nonexistent = refusal("SELECT * FROM zz_never_defined")
    assert reason.replace(name, "NAME") == nonexistent.replace("zz_never_defined", "NAME")


def test_policy_denied_names_user_and_reason() -> None:
    with pytest.raises(PolicyDenied) as caught:
        check("COPY population TO '/tmp/x'", user="zhang.san", views=GRANTED_VIEWS)
    assert str(caught.value) == (
        "refused for user 'zhang.san': COPY statements are not allowed; only read-only SELECT queries are"
    )


def test_a_view_granted_to_someone_else_is_refused() -> None:
    assert refusal("SELECT * FROM legal_entity", views={"population": GRANTED_VIEWS["population"]}) == (
        "view 'legal_entity' is not granted to you"
    )


# --------------------------------------------------------------------------- allowed

ALLOWED = [
    "SELECT * FROM population",
    "SELECT name, age FROM population WHERE division = '330106' ORDER BY age DESC LIMIT 10",
    # Masking happens inside the view, so wrapping a masked column in functions is fine.
    "SELECT upper(resident_id) AS r FROM population",
    "SELECT left(resident_id, 6) AS region, right(resident_id, 4) AS tail, length(resident_id) "
    "FROM population",
    "SELECT substring(resident_id, 1, 6) || '-' || replace(name, '张', 'Z') AS label FROM population",
    "SELECT division, count(*) AS n, avg(age) AS mean_age FROM population GROUP BY division ORDER BY n DESC",
    "SELECT division, count(DISTINCT gender), min(birth_date), max(birth_date) FROM population "
    "GROUP BY ALL ORDER BY ALL",
    "SELECT gender, median(age), quantile_cont(age, 0.9), approx_count_distinct(name) "
    "FROM population GROUP BY 1",
    "SELECT division, string_agg(name, ',' ORDER BY name) FROM population GROUP BY division",
    "SELECT p.name, l.name AS company FROM population p JOIN legal_entity l ON p.division = l.division",
    "SELECT p.division, count(*) FROM population AS p LEFT JOIN legal_entity AS l USING (division) "
    "GROUP BY 1",
    "SELECT * FROM population p JOIN legal_entity l "
    "ON p.division = l.division AND l.registered_capital > 1000",
    "WITH adults AS (SELECT * FROM population WHERE age >= 18) "
    "SELECT division, count(*) FROM adults GROUP BY 1",
    "WITH a AS (SELECT division FROM population), b AS (SELECT division FROM a) SELECT * FROM b",
    "WITH firms AS (SELECT division, sum(registered_capital) AS capital FROM legal_entity GROUP BY 1) "
    "SELECT p.division, count(*), max(f.capital) FROM population p JOIN firms f USING (division) GROUP BY 1",
    "SELECT name, row_number() OVER (PARTITION BY division ORDER BY age) AS rn FROM population",
    "SELECT name, rank() OVER w, lag(age) OVER w, lead(age, 1) OVER w FROM population "
    "WINDOW w AS (PARTITION BY division ORDER BY age)",
    "SELECT name, sum(age) OVER (ORDER BY birth_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
    "FROM population",
    "SELECT name FROM population QUALIFY row_number() OVER (PARTITION BY division ORDER BY age DESC) = 1",
    "SELECT name FROM population UNION SELECT name FROM legal_entity",
    "SELECT name FROM population UNION ALL SELECT name FROM legal_entity ORDER BY name",
    "(SELECT division FROM population) INTERSECT (SELECT division FROM legal_entity)",
    "SELECT division FROM population EXCEPT SELECT division FROM legal_entity",
    "SELECT * FROM population "
    "WHERE division IN (SELECT division FROM legal_entity WHERE registered_capital > 1)",
    "SELECT * FROM population p WHERE EXISTS (SELECT 1 FROM legal_entity l WHERE l.division = p.division)",
    "SELECT name, (SELECT count(*) FROM legal_entity l WHERE l.division = p.division) AS firms "
    "FROM population p",
    "SELECT * FROM (SELECT name, age FROM population WHERE age > 30) AS older ORDER BY age",
    "SELECT date_trunc('month', birth_date) AS m, count(*) FROM population GROUP BY 1 ORDER BY 1",
    "SELECT year(birth_date), month(birth_date), extract(day FROM birth_date), strftime(birth_date, '%Y-%m') "
    "FROM population",
    "SELECT date_diff('day', birth_date, DATE '2025-01-01') AS days FROM population",
    "SELECT name FROM population WHERE birth_date >= current_date - INTERVAL 100 YEAR",
    "SELECT strptime('2020-01-01', '%Y-%m-%d') < now() AS past",
    "SELECT CASE WHEN age < 18 THEN 'minor' WHEN age < 60 THEN 'adult' ELSE 'senior' END AS band, count(*) "
    "FROM population GROUP BY band",
    "SELECT coalesce(nullif(gender, ''), 'unknown'), CAST(age AS VARCHAR), TRY_CAST(name AS INTEGER), "
    "age::DOUBLE FROM population",
    "SELECT round(avg(registered_capital) / 10000, 2) AS wan FROM legal_entity",
    "SELECT name FROM population WHERE name LIKE '张%' OR regexp_matches(name, '^李') OR name ILIKE 'x%'",
    "SELECT list_transform([1, 2, 3], x -> x * 2) AS doubled",
    "SELECT list(name ORDER BY age) FROM population",
    "SELECT division, count(*) FILTER (WHERE gender = 'F') AS women FROM population GROUP BY division",
    "SELECT * EXCLUDE (resident_id) FROM population",
    "SELECT DISTINCT division FROM population",
    "SELECT DISTINCT ON (division) division, name FROM population ORDER BY division, age",
    "FROM population SELECT name WHERE age > 30",
    "FROM population",
    'SELECT "Name" FROM "POPULATION"',
    "SELECT age AS a FROM population ORDER BY a",
    "SELECT 1; -- trailing comment",
    "SELECT name FROM population LIMIT 2 OFFSET 1",
    "SELECT division, count(*) FROM population GROUP BY ROLLUP (division)",
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "SELECT p1.name, p2.name FROM population p1 JOIN population p2 ON p1.division = p2.division "
    "AND p1.name < p2.name",
    "SELECT 'it''s', 'back\\slash', '/etc/passwd' AS just_a_string",
    "SELECT name FROM population WHERE name ILIKE '%x!%%' ESCAPE '!'",
    "SELECT p.name, x FROM population p, LATERAL (SELECT p.age + 1 AS x) t",
    "SELECT * FROM population p WHERE p.age = (SELECT max(p2.age) FROM population p2 "
    "WHERE p2.division = p.division)",
    "SELECT division, count(*) * 100.0 / sum(count(*)) OVER () AS pct FROM population GROUP BY division",
    "SELECT upper(division) AS d, count(*) AS n FROM population GROUP BY d HAVING n > 1",
    "SELECT arg_max(name, age), max_by(name, age), mode(gender), first(name ORDER BY age) FROM population",
    # A CTE may reuse a system object's name: DuckDB binds the CTE first (see the run-for-real test).
    "WITH duckdb_settings AS (SELECT 1 AS x) SELECT * FROM duckdb_settings",
    "SELECT name FROM population WHERE division = ANY (SELECT division FROM legal_entity)",
    "TABLE population",
    "(SELECT name FROM population) ORDER BY name LIMIT 1",
    "((SELECT name FROM population))",
    "SELECT name AS \"a\"\" ; COPY\" FROM population",
]


@pytest.mark.parametrize("sql", ALLOWED, ids=[sql[:60] for sql in ALLOWED])
def test_allowed(sql: str, governed_connection: duckdb.DuckDBPyConnection) -> None:
    checked = passes(sql)
    assert checked.statement_kind in {"SELECT", "UNION", "INTERSECT", "EXCEPT"}
    assert checked.views <= set(GRANTED_VIEWS)
    # Stable: checking the generated text again gives the same text.
    assert passes(checked.sql_for_duckdb).sql_for_duckdb == checked.sql_for_duckdb
    # The generated text carries no comments.
    assert "--" not in checked.sql_for_duckdb and "/*" not in checked.sql_for_duckdb
    # And it means the same to DuckDB: same rows (as a multiset) as the analyst's own text.
    assert _rows(governed_connection, checked.sql_for_duckdb) == _rows(governed_connection, sql)


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return sorted(repr(row) for row in connection.execute(sql).fetchall())


@pytest.mark.parametrize(
    ("sql", "views", "columns", "kind"),
    [
        (
            "SELECT * FROM population",
            {"population"},
            {"population": set(GRANTED_VIEWS["population"])},
            "SELECT",
        ),
        (
            "SELECT upper(resident_id) AS r, count(*) FROM population WHERE age > 18 GROUP BY r",
            {"population"},
            {"population": {"resident_id", "age"}},
            "SELECT",
        ),
        (
            "SELECT p.name AS who, l.uscc FROM population p JOIN legal_entity l ON p.division = l.division",
            {"population", "legal_entity"},
            {"population": {"name", "division"}, "legal_entity": {"uscc", "division"}},
            "SELECT",
        ),
        (
            "WITH t AS (SELECT name AS n, age FROM population) SELECT n FROM t WHERE age > 1",
            {"population"},
            {"population": {"name", "age"}},
            "SELECT",
        ),
        (
            "SELECT t.* FROM (SELECT * FROM legal_entity) AS t",
            {"legal_entity"},
            {"legal_entity": set(GRANTED_VIEWS["legal_entity"])},
            "SELECT",
        ),
        (
            "SELECT * EXCLUDE (resident_id) FROM population",
            {"population"},
            {"population": set(GRANTED_VIEWS["population"]) - {"resident_id"}},
            "SELECT",
        ),
        ("SELECT count(*) FROM population", {"population"}, {}, "SELECT"),
        (
            "SELECT name FROM population UNION SELECT name FROM legal_entity",
            {"population", "legal_entity"},
            {"population": {"name"}, "legal_entity": {"name"}},
            "UNION",
        ),
        (
            "SELECT name FROM population p "
            "WHERE EXISTS (SELECT 1 FROM legal_entity l WHERE l.division = p.division)",
            {"population", "legal_entity"},
            {"population": {"name", "division"}, "legal_entity": {"division"}},
            "SELECT",
        ),
        ('SELECT "AGE" FROM "POPULATION"', {"population"}, {"population": {"age"}}, "SELECT"),
    ],
)
def test_views_and_columns_touched(
    sql: str, views: set[str], columns: dict[str, set[str]], kind: str
) -> None:
    checked = passes(sql)
    assert checked.views == views
    assert checked.columns == {view: frozenset(cols) for view, cols in columns.items()}
    assert checked.statement_kind == kind


def test_kelvin_sign_cte_would_leak_the_catalog_in_duckdb(
    governed_connection: duckdb.DuckDBPyConnection,
) -> None:
    """Why names are folded the DuckDB way (ASCII only): this text really reads duckdb_tables."""
    sql = 'WITH "duc\u212adb_tables" AS (SELECT 1 AS x) SELECT table_name FROM duckdb_tables'
    leaked = {row[0] for row in governed_connection.execute(sql).fetchall()}
    assert "tax_record" in leaked
    assert refusal(sql) == "view 'duckdb_tables' is not granted to you"


def test_view_names_are_rewritten_to_the_granted_spelling_and_quoted() -> None:
    checked = passes('SELECT name FROM "POPULATION" AS P')
    assert checked.sql_for_duckdb == 'SELECT "name" FROM "population" AS "P"'


def test_comments_are_dropped_from_the_generated_sql() -> None:
    checked = passes("SELECT name /* */ FROM population -- a */ ; COPY population TO '/tmp/x'\n")
    assert checked.sql_for_duckdb == 'SELECT "name" FROM "population"'


RUN_FOR_REAL = [
    "SELECT resident_id, name FROM population ORDER BY resident_id",
    "SELECT upper(resident_id) AS r FROM population ORDER BY r",
    "SELECT division, count(*) AS n, avg(age) AS mean_age FROM population "
    "GROUP BY division ORDER BY division",
    "SELECT p.name, l.uscc FROM population p JOIN legal_entity l ON p.division = l.division ORDER BY 1, 2",
    "WITH adults AS (SELECT * FROM population WHERE age >= 30) SELECT name FROM adults ORDER BY name",
    "SELECT name, row_number() OVER (PARTITION BY division ORDER BY age) AS rn FROM population ORDER BY name",
    "SELECT name FROM population UNION SELECT name FROM legal_entity ORDER BY name",
    "SELECT list_transform([1, 2, 3], x -> x * 2) AS doubled",
    "SELECT * EXCLUDE (resident_id) FROM population ORDER BY name",
    "SELECT date_trunc('year', birth_date) AS y, count(*) FROM population GROUP BY ALL ORDER BY ALL",
    'SELECT "NAME", "Age" FROM "POPULATION" ORDER BY 1',
    "SELECT 'it''s' AS quote, 'back\\slash' AS backslash",
]


@pytest.mark.parametrize("sql", RUN_FOR_REAL, ids=[sql[:60] for sql in RUN_FOR_REAL])
def test_generated_sql_runs_and_returns_the_same_rows(
    sql: str, governed_connection: duckdb.DuckDBPyConnection
) -> None:
    checked = passes(sql)
    expected = governed_connection.execute(sql).fetchall()
    assert governed_connection.execute(checked.sql_for_duckdb).fetchall() == expected
    assert expected, "the fixture data should make every query return rows"


def test_a_cte_named_like_a_system_object_is_bound_as_the_cte(
    governed_connection: duckdb.DuckDBPyConnection,
) -> None:
    checked = passes("WITH duckdb_settings AS (SELECT 1 AS x) SELECT * FROM duckdb_settings")
    assert governed_connection.execute(checked.sql_for_duckdb).fetchall() == [(1,)]


def test_masked_values_stay_masked_through_the_guard(governed_connection: duckdb.DuckDBPyConnection) -> None:
    checked = passes("SELECT resident_id FROM population")
    rows = governed_connection.execute(checked.sql_for_duckdb).fetchall()
    assert rows and all(re.fullmatch(r"\d{6}\*{8}\d{4}", row[0]) for row in rows)


# --------------------------------------------------------------------------- the allowlists themselves


def test_allowed_anonymous_functions_are_plain_duckdb_scalars_or_aggregates() -> None:
    connection = duckdb.connect(":memory:")
    rows = connection.execute(
        "SELECT function_name, list(DISTINCT function_type) FROM duckdb_functions() GROUP BY 1"
    ).fetchall()
    kinds = {name: set(types) for name, types in rows}
    for name in sorted(ALLOWED_ANONYMOUS_FUNCTIONS):
        assert name in kinds, f"{name} is not a DuckDB function"
        assert kinds[name] <= {"scalar", "aggregate", "macro"}, f"{name} is also a {kinds[name]} function"
        forms = [sqlglot.parse_one(f"SELECT {name}({args})", read="duckdb") for args in ("1", "1, 2")]
        forms = [form.expressions[0] for form in forms]
        assert any(isinstance(form, exp.Anonymous) for form in forms), f"{name} has a sqlglot class; allow it"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ('SELECT * FROM read_parquet(\'x\')', "function read_parquet is not allowed in FROM"),
        ('SELECT * FROM "tax_record"', "view 'tax_record' is not granted to you"),
        ("SELECT * FROM main.population", "view 'population' is not granted to you"),
        ("SELECT getenv('HOME')", "function getenv is not allowed"),
        ("SELECT system.main.upper('x')", "function upper is not allowed"),
        ("SHOW TABLES", "DuckDB reads a SHOW_REF source"),
        ("DESCRIBE population", "DuckDB reads a SHOW_REF source"),
        ("SELECT * FROM (VALUES (1))", "DuckDB reads a EXPRESSION_LIST source"),
        ("SELECT 1; SELECT 2", MULTIPLE),
        ("COPY population TO 'x'", "DuckDB does not read this as a single SELECT"),
        ("SELECT $1", "a query parameter"),
    ],
)
def test_duckdb_cross_check_catches_what_sqlglot_might_misread(sql: str, reason: str) -> None:
    """The second layer, on its own: DuckDB's reading of the final text is checked too."""
    context = GuardContext(sql=sql, views=GRANTED_VIEWS, granted={v: v for v in GRANTED_VIEWS})
    context.sql_for_duckdb = sql
    with pytest.raises(Refused) as caught:
        cross_check_with_duckdb(context)
    assert reason in caught.value.reason
