"""Bypass attempts END TO END, as the demo users, through ``govlake.connect`` and the CLI.

Each attempt must either be refused (PolicyDenied, CLI exit status 2, a reason naming the
problem, never a path of the home) or return only masked and scoped data. Where "only
masked and scoped" is a property of the result, the test checks it against the stored
tables read directly (the truth the user must not learn).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl
import pytest

import govlake
from govlake.cli import main
from govlake.errors import PolicyDenied
from govlake.home import Home
from lake import delta
from views.session import GovernedSession

MASKED_ID = re.compile(r"^\d{6}\*{8}[\dX]{4}$")
EIGHT_DIGITS = re.compile(r"\d{8}")


@dataclass(frozen=True)
class Truth:
    """What is stored, read around the governance layer."""

    population: pl.DataFrame
    in_scope: pl.DataFrame  # hukou_division 3301...

    @property
    def person(self) -> dict[str, object]:
        """A Hangzhou person with an 18-character ID, a two-character name and a phone."""
        candidates = self.in_scope.filter(
            (pl.col("resident_id").str.len_chars() == 18) & pl.col("phone").is_not_null()
            & (pl.col("name").str.len_chars() == 2) & pl.col("birth_date").is_not_null())
        return candidates.sort("resident_id").row(0, named=True)


@pytest.fixture(scope="module")
def truth(built_home: Home) -> Truth:
    people = delta.read(built_home.table_path("base", "population")).drop("provenance")
    return Truth(people, people.filter(pl.col("hukou_division").str.starts_with("3301")))


@pytest.fixture(scope="module")
def sessions(built_home: Home) -> Iterator[dict[str, GovernedSession]]:
    users = ("national_leader", "zj_leader", "hz_analyst", "hz_pubsec", "open_public")
    opened = {user: govlake.connect(user=user, home=built_home) for user in users}
    yield opened
    for session in opened.values():
        session.close()


def cli(home: Home, user: str, sql: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--home", str(home.root), "sql", "--user", user, "--format", "json", sql])
    return code, out.getvalue(), err.getvalue()


def run_both(sessions: dict[str, GovernedSession], home: Home, user: str, sql: str) -> pl.DataFrame:
    """The result through the API, checked equal to the result through the CLI."""
    frame = sessions[user].sql(sql)
    code, out, err = cli(home, user, sql)
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == frame.height
    through_cli = sorted(str([str(v) for v in row.values()]) for row in rows)
    through_api = sorted(str([str(v) for v in row]) for row in frame.rows())
    if frame.height and not any(dtype.is_nested() or dtype == pl.Binary for dtype in frame.dtypes):
        assert through_cli == through_api
    return frame


def refused_both(sessions: dict[str, GovernedSession], home: Home, user: str, sql: str) -> str:
    """The refusal through the API and the CLI: exit 2, same reason, no home path in it."""
    with pytest.raises(PolicyDenied) as caught:
        sessions[user].sql(sql)
    reason = caught.value.reason
    code, out, err = cli(home, user, sql)
    assert code == 2, (out, err)
    assert out == "" and reason in err
    for text in (reason, err):
        assert str(home.root) not in text and "/lake/" not in text and "duckdb_extensions" not in text
    return reason


# --------------------------------------------------------------------------- refused


def test_everything_but_a_select_is_refused(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    lake = built_home.lake
    attempts = {
        f"COPY (SELECT * FROM population) TO '{lake}/base/leak.csv'": "COPY statements are not allowed",
        f"COPY population TO '{lake}/base/leak.parquet' (FORMAT parquet)": "COPY statements are not allowed",
        f"ATTACH '{lake}/base/population' AS p (TYPE delta)": "ATTACH statements are not allowed",
        "DESCRIBE population": "DESCRIBE statements are not allowed",
        f"DESCRIBE SELECT * FROM delta_scan('{lake}/base/population')": "DESCRIBE statements are not allowed",
        "SUMMARIZE population": "SUMMARIZE statements are not allowed",
        "EXPLAIN SELECT * FROM population": "EXPLAIN statements are not allowed",
        "EXPLAIN ANALYZE SELECT * FROM population": "EXPLAIN statements are not allowed",
        "SET enable_external_access = true": "SET statements are not allowed",
        "RESET lock_configuration": "RESET statements are not allowed",
        "PRAGMA database_list": "PRAGMA statements are not allowed",
        "LOAD httpfs": "LOAD statements are not allowed",
        "INSTALL httpfs": "INSTALL statements are not allowed",
        "CREATE TEMP TABLE t AS SELECT * FROM population": "CREATE TABLE statements are not allowed",
        "CREATE OR REPLACE VIEW population AS SELECT 1 AS resident_id": "CREATE VIEW statements are not allowed",
        "CREATE MACRO leak(p) AS TABLE SELECT * FROM read_csv(p)": "CREATE MACRO statements are not allowed",
        "DROP VIEW population": "DROP VIEW statements are not allowed",
        "DETACH governed": "DETACH statements are not allowed",
        "CALL duckdb_settings()": "CALL statements are not allowed",
        "VALUES (1)": "VALUES statements are not allowed",
        "PREPARE q AS SELECT 1": "PREPARE statements are not allowed",
    }
    for sql, reason in attempts.items():
        assert reason in refused_both(sessions, built_home, "hz_analyst", sql), sql
    assert not (lake / "base" / "leak.csv").exists() and not (lake / "base" / "leak.parquet").exists()


def test_multiple_statements_and_comment_tricks(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    for sql in [
        "SELECT 1 FROM population; SELECT * FROM population",
        "SELECT 1 /* ; */; COPY population TO '/tmp/x.csv'",
        "SELECT 1 -- hide\n; ATTACH 'x' AS y (TYPE delta)",
        "SELECT * FROM population WHERE name = 'a\\'; COPY population TO '/tmp/x.csv'",
        "SELECT ';'; SET enable_external_access = true",
    ]:
        assert "multiple statements are not allowed" in refused_both(sessions, built_home, "hz_analyst", sql)


def test_table_functions_paths_and_settings(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    lake = built_home.lake
    for sql in [
        f"SELECT * FROM delta_scan('{lake}/base/population')",
        f"SELECT count(*) FROM delta_list_files('{lake}/base/population')",
        f"SELECT * FROM read_parquet('{lake}/base/population/*/*.parquet')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM glob('{lake}/**')",
        "SELECT * FROM duckdb_views()",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM pragma_table_info('population')",
        "SELECT * FROM query('SELECT * FROM population')",
        "SELECT * FROM population p, LATERAL (SELECT * FROM read_csv('/etc/passwd')) t",
    ]:
        assert "is not allowed in FROM" in refused_both(sessions, built_home, "hz_analyst", sql), sql
    for sql in [
        f"SELECT * FROM '{lake}/base/population/province=33/x.parquet'",
        f'SELECT * FROM "{lake}/base/population"',
        "SELECT current_setting('allowed_directories')",
        "SELECT getenv('HOME')",
        "SELECT getvariable('x')",
        "SELECT version()",
        "SELECT * FROM population WHERE name = current_setting('home_directory')",
    ]:
        reason = refused_both(sessions, built_home, "hz_analyst", sql)
        assert "not allowed" in reason or "not granted" in reason, sql


def test_other_views_tables_and_schemas(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    not_granted = "is not granted to you"
    cases = [
        ("hz_analyst", "SELECT * FROM open_population"),
        ("hz_analyst", "SELECT resident_id FROM population UNION SELECT division FROM department_aggregation"),
        ("hz_analyst", "SELECT * FROM system.audit"),
        ("hz_analyst", "SELECT * FROM duckdb_tables"),
        ("hz_analyst", "SELECT * FROM information_schema.columns"),
        ("national_leader", "SELECT * FROM population"),
        ("zj_leader", "SELECT count(*) FROM population_structure WHERE division IN (SELECT hukou_division FROM "
                      "population)"),
        ("open_public", "SELECT * FROM population"),
        ("hz_analyst", 'SELECT * FROM "populat\u0456on"'),  # Cyrillic і
        ("hz_analyst", 'SELECT * FROM "population "'),
        ("open_public", "SELECT * FROM open_population UNION ALL SELECT division, sex, age_band, hukou_persons "
                        "FROM population_structure"),
    ]
    for user, sql in cases:
        assert not_granted in refused_both(sessions, built_home, user, sql), (user, sql)
    # Existing-but-not-granted and non-existent views get the same message: no existence oracle.
    exists = refused_both(sessions, built_home, "hz_analyst", "SELECT * FROM open_population")
    missing = refused_both(sessions, built_home, "hz_analyst", "SELECT * FROM open_populatioz")
    assert exists.replace("open_population", "X") == missing.replace("open_populatioz", "X")
    for sql in ("SELECT * FROM main.population", "SELECT * FROM base.population"):
        # names the granted view only: the stored table behind it is never reachable by name
        assert "write view names without a schema: use 'population'" in refused_both(
            sessions, built_home, "hz_analyst", sql)


def test_cte_shadowing_of_view_names(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    lake = built_home.lake
    for sql in [
        f"WITH population AS (SELECT * FROM delta_scan('{lake}/base/population')) SELECT * FROM population",
        "WITH population AS (SELECT '330106199003071236' AS resident_id) SELECT * FROM population",
        'WITH "Population" AS (SELECT 1) SELECT * FROM population',
        "SELECT * FROM (WITH legal_entity AS (SELECT 1) SELECT * FROM legal_entity) t",
    ]:
        reason = refused_both(sessions, built_home, "hz_analyst", sql)
        assert "shadows a view" in reason or "not allowed in FROM" in reason, sql


def test_error_messages_are_side_channel_free(sessions: dict[str, GovernedSession], built_home: Home,
                                               truth: Truth) -> None:
    """A failing query reports the failure, never a value (it could be someone else's) or a path."""
    session = sessions["hz_pubsec"]
    with pytest.raises(govlake.errors.GovLakeError) as failed:  # type: ignore[attr-defined]
        session.sql("SELECT CAST(resident_id AS BIGINT) FROM population")
    message = str(failed.value)
    assert "Conversion Error" in message and "'…'" in message
    assert not EIGHT_DIGITS.search(message) and str(built_home.root) not in message
    code, _, err = cli(built_home, "hz_pubsec", "SELECT CAST(resident_id AS BIGINT) FROM population")
    assert code == 1 and not EIGHT_DIGITS.search(err)
    # A stored column the view leaves out is unknown; a hint names granted columns only.
    reason = refused_both(sessions, built_home, "hz_analyst", "SELECT provenance FROM population")
    granted = {column for view in session.views() for column in session.columns(view)}
    assert "provenance" in reason and set(re.findall(r"did you mean '(\w+)'", reason)) <= granted


# --------------------------------------------------------------------------- masked


def test_where_on_a_masked_column_sees_the_masked_value(sessions: dict[str, GovernedSession], built_home: Home,
                                                         truth: Truth) -> None:
    person = truth.person
    rid, birth = str(person["resident_id"]), str(person["resident_id"])[6:14]
    for sql in [
        f"SELECT resident_id FROM population WHERE resident_id = '{rid}'",
        f"SELECT resident_id FROM population WHERE resident_id LIKE '{rid[:12]}%'",
        f"SELECT resident_id FROM population WHERE starts_with(resident_id, '{rid[:10]}')",
        f"SELECT count(*) AS n FROM population WHERE substr(resident_id, 7, 8) = '{birth}' HAVING n > 0",
        f"SELECT resident_id FROM population WHERE regexp_matches(resident_id, '^{rid[:8]}')",
        f"SELECT resident_id FROM population WHERE phone = '{person['phone']}'",
        f"SELECT resident_id FROM population WHERE name = '{person['name']}'",
        "SELECT resident_id FROM population WHERE birth_date IS NOT NULL",
        "SELECT resident_id FROM population WHERE birth_date > DATE '1900-01-01'",
    ]:
        assert run_both(sessions, built_home, "hz_analyst", sql).height == 0, sql
    # The same predicate finds the person when the grant unmasks resident IDs (hz_pubsec).
    found = run_both(sessions, built_home, "hz_pubsec",
                     f"SELECT resident_id FROM population WHERE resident_id = '{rid}'")
    assert found["resident_id"].to_list() == [rid]


def test_functions_on_masked_values_reveal_only_masked_text(sessions: dict[str, GovernedSession], built_home: Home,
                                                            truth: Truth) -> None:
    frame = run_both(sessions, built_home, "hz_analyst", """
        SELECT resident_id, length(resident_id) AS len, upper(lower(resident_id)) AS same,
               substr(resident_id, 7, 8) AS middle, md5(resident_id) AS md5, hash(resident_id) AS h,
               ascii(substr(resident_id, 9, 1)) AS a, unicode(substr(resident_id, 10, 1)) AS u,
               regexp_extract(resident_id, '[0-9]{7,}') AS digits, replace(resident_id, '*', '') AS stripped,
               reverse(resident_id) AS rev, to_base64(encode(resident_id)) AS b64,
               name, length(name) AS name_len, substr(name, 2) AS given, phone, substr(phone, 4, 4) AS phone_mid,
               CAST(resident_id AS BLOB) AS raw_bytes, resident_id || name AS joined
        FROM population""")
    assert frame.height == truth.in_scope.height
    masked = frame["resident_id"].to_list()
    assert all(MASKED_ID.match(value) for value in masked)
    assert set(frame["middle"]) == {"********"} and set(frame["len"]) == {18}
    assert frame["md5"].to_list() == [hashlib.md5(v.encode()).hexdigest() for v in masked]
    assert set(frame["a"]) == {ord("*")} and set(frame["u"]) == {ord("*")}
    assert all(len(d or "") < 7 for d in frame["digits"])
    assert all(len(s) == 10 for s in frame["stripped"])
    assert set(frame["given"]) <= {"*"} and set(frame["name_len"]) <= {2, 3}
    assert set(frame["phone_mid"]) <= {"****"}
    real_ids = set(truth.in_scope["resident_id"])
    flat = " ".join(str(v) for row in frame.rows() for v in row)
    assert not any(real in flat for real in real_ids)
    assert not any(str(real) in flat for real in truth.in_scope["phone"].drop_nulls())


def test_hidden_columns_stay_hidden_under_aggregates(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    frame = run_both(sessions, built_home, "hz_analyst", """
        SELECT count(birth_date) AS known, min(birth_date) AS earliest, count(DISTINCT birth_date) AS distinct_dates,
               max(year(birth_date)) AS y, list(birth_date) FILTER (WHERE birth_date IS NOT NULL) AS dates
        FROM population""")
    assert frame.row(0) == (0, None, 0, None, None)


def test_derived_and_renamed_columns_through_ctes(sessions: dict[str, GovernedSession], built_home: Home,
                                                  truth: Truth) -> None:
    frame = run_both(sessions, built_home, "hz_analyst", """
        WITH p AS (SELECT resident_id AS id, name AS n FROM population),
             q AS (SELECT id AS again, n FROM p)
        SELECT again, n, "RESIDENT_ID" FROM q, (SELECT "RESIDENT_ID" FROM "Population") AS r LIMIT 50""")
    assert all(MASKED_ID.match(v) for v in frame["again"]) and all(MASKED_ID.match(v) for v in frame[:, 2])
    assert set(frame["n"].str.slice(1)) <= {"*", "**"}


def test_governance_and_credit_views_mask_persons(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    conflicts = run_both(sessions, built_home, "hz_analyst",
                         "SELECT library, key, chosen_value, other_value FROM conflicts")
    for library, key, chosen, other in conflicts.rows():
        assert chosen is None and other is None
        assert MASKED_ID.match(key) if library == "population" else not MASKED_ID.match(key)
    people = run_both(sessions, built_home, "hz_pubsec", "SELECT resident_id, name FROM credit_person")
    assert all(MASKED_ID.match(v) for v in people["resident_id"]) and people["name"].null_count() == people.height
    licences = run_both(sessions, built_home, "hz_analyst",
                        "SELECT holder_code, holder_code_type FROM e_licence WHERE holder_code_type = '2'")
    assert all(MASKED_ID.match(v) for v in licences["holder_code"])


def test_joins_against_masked_keys_find_nothing_real(sessions: dict[str, GovernedSession], built_home: Home) -> None:
    # A join on masked IDs only matches masked text: legal representatives are masked the same way.
    frame = run_both(sessions, built_home, "hz_analyst", """
        SELECT e.legal_rep_id, p.resident_id FROM legal_entity e JOIN population p ON e.legal_rep_id = p.resident_id""")
    assert all(MASKED_ID.match(v) for v in frame["legal_rep_id"])


# --------------------------------------------------------------------------- scoped


def test_scoped_users_never_see_other_divisions(sessions: dict[str, GovernedSession], built_home: Home,
                                                 truth: Truth) -> None:
    for sql in [
        "SELECT hukou_division AS d FROM population",
        "SELECT hukou_division AS d FROM population UNION ALL SELECT division FROM legal_entity "
        "UNION ALL SELECT division FROM e_licence UNION ALL SELECT division FROM conflicts "
        "UNION ALL SELECT division FROM geo_entity UNION ALL SELECT code FROM geo_division "
        "UNION ALL SELECT division FROM population_structure",
        "SELECT p.hukou_division AS d FROM population p FULL OUTER JOIN legal_entity e ON true",
        "SELECT coalesce(hukou_division, residence_division, '3301') AS d FROM population",
    ]:
        frame = run_both(sessions, built_home, "hz_analyst", sql)
        assert frame.height > 0 and frame["d"].drop_nulls().str.starts_with("3301").all(), sql
    total = run_both(sessions, built_home, "hz_analyst", "SELECT count(*) AS n FROM population")
    assert total["n"][0] == truth.in_scope.height
    # residence elsewhere does not widen the scope: rows are scoped by hukou division
    moved = run_both(sessions, built_home, "hz_analyst",
                     "SELECT count(*) AS n FROM population WHERE NOT starts_with(hukou_division, '3301')")
    assert moved["n"][0] == 0
    province = run_both(sessions, built_home, "zj_leader", "SELECT DISTINCT province FROM population_structure "
                        "UNION SELECT province FROM vital_statistics")
    assert province["province"].to_list() == ["330000"]


def test_out_of_scope_rows_never_reach_a_predicate(sessions: dict[str, GovernedSession], built_home: Home,
                                                   truth: Truth) -> None:
    """Errors as an oracle: a predicate that would fail on any out-of-scope value never fails."""
    assert (truth.population["hukou_division"].str.starts_with("11")).any()
    for user, sql in [
        ("hz_analyst", "SELECT count(*) AS n FROM population "
                       "WHERE CAST(CASE WHEN hukou_division LIKE '11%' THEN 'x' ELSE '1' END AS INT) = 1"),
        ("hz_pubsec", "SELECT count(*) AS n FROM population "
                      "WHERE CAST(CASE WHEN resident_id LIKE '11%' THEN 'x' ELSE '1' END AS INT) = 1"),
        ("hz_pubsec", "SELECT count(*) AS n FROM population WHERE hukou_division = '110101' "
                      "OR CAST(CASE WHEN left(resident_id, 2) <> '33' THEN 'x' ELSE '1' END AS INT) = 1"),
    ]:
        frame = run_both(sessions, built_home, user, sql)
        assert frame["n"][0] == truth.in_scope.height, (user, sql)


def test_unmasking_grant_is_scoped_too(sessions: dict[str, GovernedSession], built_home: Home, truth: Truth) -> None:
    frame = run_both(sessions, built_home, "hz_pubsec", "SELECT resident_id, name, birth_date FROM population")
    assert set(frame["resident_id"]) == set(truth.in_scope["resident_id"])
    assert frame["birth_date"].null_count() == frame.height  # still hidden: not named in the grant
    assert all(re.fullmatch(r".{1,2}\*", n) for n in frame["name"].drop_nulls())
    other = truth.population.filter(~pl.col("hukou_division").str.starts_with("3301"))["resident_id"][0]
    assert run_both(sessions, built_home, "hz_pubsec",
                    f"SELECT * FROM population WHERE resident_id = '{other}'").height == 0


# --------------------------------------------------------------------------- open data


def test_open_data_suppresses_small_cells(sessions: dict[str, GovernedSession], built_home: Home,
                                          truth: Truth) -> None:
    frame = run_both(sessions, built_home, "open_public", "SELECT * FROM open_population")
    assert frame.height > 0 and frame["persons"].min() >= 10  # type: ignore[operator]
    alive = truth.population.filter(pl.col("alive"))
    cells = alive.group_by(pl.col("hukou_division").str.slice(0, 2).alias("p"), "sex",
                           pl.when(pl.col("age") < 15).then(pl.lit("0-14")).when(pl.col("age") < 60)
                           .then(pl.lit("15-59")).when(pl.col("age").is_not_null()).then(pl.lit("60+"))
                           .alias("g")).len()
    small = cells.filter(pl.col("len") < 10).sort("len").row(0, named=True)
    assert frame["persons"].sum() == cells.filter(pl.col("len") >= 10)["len"].sum()
    probe = (f"division = '{small['p']}0000' AND sex = '{small['sex']}' AND age_group = '{small['g']}'")
    for sql in [
        f"SELECT * FROM open_population WHERE {probe}",
        "SELECT * FROM open_population WHERE persons < 10 OR persons IS NULL",
        f"SELECT count(*) AS n FROM open_population WHERE {probe} HAVING n > 0",
    ]:
        assert run_both(sessions, built_home, "open_public", sql).height == 0, sql
    # Probing a suppressed cell's key with an error oracle raises nothing.
    oracle = run_both(sessions, built_home, "open_public",
                      f"SELECT count(*) AS n FROM open_population WHERE CAST(CASE WHEN {probe} THEN 'x' ELSE '1' END "
                      "AS INT) = 1")
    assert oracle["n"][0] == frame.height
    entities = run_both(sessions, built_home, "open_public", "SELECT min(entities) AS m FROM open_entities")
    assert entities["m"][0] is None or entities["m"][0] >= 10
