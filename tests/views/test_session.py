"""The governed session end to end on the shared demo home: setup, lock-down, limits, exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

import govlake
from govlake.errors import PolicyDenied
from govlake.home import Home
from lake import audit
from views.session import GovernedSession, RowLimitWarning, governed_views, open_session, table_locations


@pytest.fixture(scope="module")
def analyst(built_home: Home) -> GovernedSession:
    return govlake.connect(user="hz_analyst", home=built_home)


def test_connect_returns_polars_and_arrow(analyst: GovernedSession) -> None:
    frame = analyst.sql("SELECT hukou_division, count(*) AS persons FROM population GROUP BY ALL")
    assert isinstance(frame, pl.DataFrame) and frame.height > 0
    table = analyst.arrow("SELECT count(*) AS persons FROM population")
    assert table.column("persons")[0].as_py() == frame["persons"].sum()


def test_import_govlake_stays_cheap() -> None:
    import subprocess
    import sys

    heavy = "('duckdb', 'polars', 'sqlglot', 'deltalake')"
    code = f"import sys, govlake; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_only_granted_views_exist(analyst: GovernedSession) -> None:
    views = set(analyst.views())
    assert {"population", "legal_entity", "conflicts"} <= views
    assert not views & {"open_population", "open_entities", "department_aggregation"}
    # The database itself holds exactly those views: nothing else to reach by name.
    names = {row[0] for row in analyst._connection.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal")
             .fetchall()}
    assert names == views
    tables = analyst._connection.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name NOT LIKE "
                                         "'\\_\\_govlake\\_%' ESCAPE '\\'").fetchone()
    assert tables == (0,)
    # The pinned snapshots the views read are attached under catalogs of their own; reachable by
    # name in DuckDB, so the guard must refuse each of them, bare or qualified, quoted or not.
    attached = [row[0] for row in analyst._connection.execute(
        "SELECT database_name FROM duckdb_databases() WHERE type = 'delta'").fetchall()]
    assert attached and all(name.startswith("__govlake_") for name in attached)
    for name in attached:
        for reference in (name, f'"{name}"', f"{name}.{name}", f'"{name}"."{name}"', f"{name}.main.{name}"):
            with pytest.raises(PolicyDenied, match="not granted"):
                analyst.sql(f"SELECT * FROM {reference}")


def test_connection_is_read_only_and_locked(analyst: GovernedSession, built_home: Home) -> None:
    con = analyst._connection
    settings = dict(con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('access_mode', 'enable_external_access', "
        "'lock_configuration', 'autoload_known_extensions', 'autoinstall_known_extensions', "
        "'allow_community_extensions')").fetchall())
    assert settings == {"access_mode": "read_only", "enable_external_access": "false", "lock_configuration": "true",
                        "autoload_known_extensions": "false", "autoinstall_known_extensions": "false",
                        "allow_community_extensions": "false"}
    # Even the raw connection, past the guard, cannot undo the lock-down or write.
    for statement in ("SET enable_external_access = true", "SET lock_configuration = false",
                      "SET allowed_directories = ['/']", "CREATE VIEW x AS SELECT 1",
                      "SELECT * FROM read_csv('/etc/passwd')"):
        with pytest.raises(duckdb.Error):
            con.execute(statement)
    exported = next(built_home.exports.glob("*.csv"))
    with pytest.raises(duckdb.Error, match="Permission Error"):  # outside allowed_directories
        con.execute(f"SELECT * FROM read_csv('{exported}')")
    assert table_locations(built_home, ["raw.hukou"])["raw.hukou"].version is not None


def test_views_and_columns_carry_comments(analyst: GovernedSession) -> None:
    comment = analyst._connection.execute(
        "SELECT comment FROM duckdb_views() WHERE view_name = 'population'").fetchone()
    assert comment is not None and comment[0].startswith("人口（个人明细）") and "3301" in comment[0]
    columns = dict(analyst._connection.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'population'").fetchall())
    assert columns["resident_id"].startswith("公民身份号码") and "脱敏" in columns["resident_id"]
    assert "已隐藏" in columns["birth_date"] and "敏感个人信息" in columns["birth_date"]


def test_column_treatments_per_user(built_home: Home) -> None:
    with open_session("hz_analyst", home=built_home) as session:
        columns = session.columns("population")
    assert columns["resident_id"] == "resident_id" and columns["name"] == "name" and columns["phone"] == "phone"
    assert columns["birth_date"] == "hidden" and columns["age"] == "clear"
    with open_session("hz_pubsec", home=built_home) as session:
        assert session.columns("population")["resident_id"] == "clear"
        assert session.columns("population")["name"] == "name"


def test_row_limit_cuts_and_says_so(built_home: Home) -> None:
    session = open_session("zj_leader", home=built_home)
    session.row_limit = 5
    result = session.query("SELECT * FROM population_structure")
    assert result.truncated and result.rows == 5
    with pytest.warns(RowLimitWarning, match="row limit"):
        assert session.sql("SELECT * FROM population_structure").height == 5
    assert not session.query("SELECT * FROM population_structure LIMIT 5").truncated
    entry = audit.entries(built_home, user="zj_leader", flush_first=False)[-1]
    assert entry["rows"] == 5 and entry["decision"] == "allowed"


def test_time_limit_interrupts(built_home: Home) -> None:
    session = open_session("national_leader", home=built_home)
    session.time_limit_s = 0.3
    with pytest.raises(PolicyDenied, match="time limit") as refused:
        session.sql("SELECT count(*) FROM geo_division a, geo_division b, geo_division c, geo_division d "
                    "WHERE a.area_km2 + b.area_km2 + c.area_km2 + d.area_km2 < 0")
    assert refused.value.exit_code == 2
    entry = audit.entries(built_home, user="national_leader", flush_first=False)[-1]
    assert entry["decision"] == "refused" and "time limit" in entry["reason"]
    # the connection is still usable afterwards
    assert session.sql("SELECT count(*) AS n FROM geo_division")["n"][0] > 0


def test_unknown_user_is_refused_and_audited(built_home: Home) -> None:
    with pytest.raises(PolicyDenied, match="unknown user"):
        govlake.connect(user="mallory", home=built_home)
    assert audit.entries(built_home, user="mallory", flush_first=False)[-1]["decision"] == "refused"


def test_governed_views_export_runs_anywhere(built_home: Home, analyst: GovernedSession) -> None:
    """The per-view SELECT text (for publish / views export / bench) gives what the session gives."""
    definitions = governed_views("hz_analyst", home=built_home)
    assert set(definitions) == set(analyst.views())
    population = definitions["population"]
    assert "delta_scan(" in population.sql.lower() and "'3301'" in population.sql
    from lake.extensions import connect

    con = connect(extension_dir=built_home.extensions)
    try:
        exported = pl.from_arrow(con.execute(f"SELECT * FROM ({population.sql}) ORDER BY ALL").arrow())
    finally:
        con.close()
    assert exported.equals(analyst.sql("SELECT * FROM population ORDER BY ALL"))


def test_sessions_share_a_cached_database(built_home: Home) -> None:
    first = open_session("hz_analyst", home=built_home)
    second = open_session("hz_analyst", home=built_home)
    assert first._connection is second._connection
    files = list((built_home.cache / "governed").glob("hz_analyst-*.duckdb"))
    assert len(files) == 1


def test_views_over_unbuilt_tables_are_reported(tmp_path: Path) -> None:
    empty = Home(tmp_path / "home").ensure()
    with govlake.connect(user="hz_analyst", home=empty) as session:
        assert session.views() == {} and "population" in session.unavailable
        with pytest.raises(PolicyDenied, match=r"table base\.population has not been built"):
            session.sql("SELECT * FROM population")


def test_the_real_cli_process(built_home: Home) -> None:
    """Once through a real `govlake` process: exit 2 and the reason for a refusal, 0 and CSV otherwise."""
    import subprocess
    import sys

    govlake_bin = Path(sys.executable).with_name("govlake")
    base = [str(govlake_bin), "--home", str(built_home.root), "sql", "--user", "hz_analyst"]
    refused = subprocess.run([*base, f"COPY population TO '{built_home.lake}/base/x.csv'"], capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "COPY statements are not allowed" in refused.stderr and str(built_home.root) not in refused.stderr
    answered = subprocess.run([*base, "--format", "csv", "SELECT resident_id FROM population LIMIT 2"],
                              capture_output=True, text=True, timeout=120)
    assert answered.returncode == 0, answered.stderr
    lines = answered.stdout.splitlines()
    assert lines[0] == "resident_id" and all("********" in line for line in lines[1:])


def test_watchdog_interrupts_a_shorter_deadline_after_a_longer_one() -> None:
    """The watchdog thread sleeps until the earliest deadline it knows; a query with an earlier
    one must wake it (and an idle watchdog must wake for any query)."""
    import threading
    import time

    from views.session import _Watchdog

    watchdog = _Watchdog()
    fired: list[str] = []
    done = threading.Event()

    def interrupt(name: str) -> Any:
        def call() -> None:
            fired.append(name)
            done.set()
        return call

    long_ticket = watchdog.watch(60, interrupt("long"))
    time.sleep(0.05)  # the thread is now asleep until the 60 s deadline
    started = time.monotonic()
    watchdog.watch(0.2, interrupt("short"))
    assert done.wait(5), "the short deadline was missed"
    assert fired == ["short"] and 0.15 <= time.monotonic() - started < 2
    watchdog.cancel(long_ticket)
    done.clear()
    time.sleep(0.05)
    cancelled = watchdog.watch(0.1, interrupt("cancelled"))
    watchdog.cancel(cancelled)
    watchdog.watch(0.3, interrupt("after"))
    assert done.wait(5) and fired == ["short", "after"]
