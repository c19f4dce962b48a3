"""Delivered extracts (views/publish.py): what the file holds, that stock DuckDB opens it, and the audit."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from govlake.cli import main
from govlake.errors import PolicyDenied, StateError
from govlake.home import Home
from lake import audit
from policies import load_policies
from views import publish as publish_module
from views.publish import METADATA_TABLE, Extract, ExtractInvalid, publish, read_extract
from views.session import open_session, table_locations

DOC = Path(__file__).parents[2] / "docs" / "analysts.md"
DUCKDB_CLI = Path(sys.executable).with_name("duckdb")


@pytest.fixture(scope="module")
def extract(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Extract:
    return publish("hz_analyst", home=built_home, out=tmp_path_factory.mktemp("extracts"))


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.execute(sql).pl()


def test_the_file_is_read_only_and_named_for_the_user(extract: Extract) -> None:
    assert re.fullmatch(r"hz_analyst-\d{8}T\d{6}Z\.duckdb", extract.path.name)
    assert stat.S_IMODE(extract.path.stat().st_mode) == 0o444
    assert sorted(p.name for p in extract.path.parent.iterdir()) == [extract.path.name]  # no .part, no .wal


def test_tables_hold_what_the_session_shows(extract: Extract, built_home: Home) -> None:
    """Every granted view, row for row as the user's governed session answers it (masks, scope, NULLs)."""
    con = duckdb.connect(str(extract.path), read_only=True)
    session = open_session("hz_analyst", home=built_home)
    try:
        tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == {*session.views(), METADATA_TABLE}
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == (0,)
        for view in session.views():
            result = session.query(f'SELECT * FROM "{view}" ORDER BY ALL')
            assert not result.truncated
            expected = pl.from_arrow(result.table)
            assert isinstance(expected, pl.DataFrame)
            got = _frame(con, f'SELECT * FROM "{view}" ORDER BY ALL')
            assert got.equals(expected), view
            assert extract.tables[view] == got.height
        population = _frame(con, "SELECT * FROM population")
        assert population.height > 0
        assert population["birth_date"].null_count() == population.height  # hidden, with its type
        assert population.schema["birth_date"] == pl.Date
        assert population["resident_id"].str.contains(r"^\d{6}\*{8}[\dX]{4}$").all()
        assert population["hukou_division"].str.starts_with("3301").all()
    finally:
        con.close()
        session.close()


def test_comments_and_metadata(extract: Extract, built_home: Home) -> None:
    con = duckdb.connect(str(extract.path), read_only=True)
    try:
        comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'population'").fetchone()
        assert comment is not None and comment[0].startswith("人口（个人明细）") and "3301" in comment[0]
        columns = dict(con.execute("SELECT column_name, comment FROM duckdb_columns() "
                                   "WHERE table_name = 'population'").fetchall())
        assert "脱敏" in columns["resident_id"] and "已隐藏" in columns["birth_date"]
    finally:
        con.close()
    read = read_extract(extract.path)
    assert read.problems == ()
    assert (read.user, read.extract_id, read.tables, read.sources, read.audit_seq) == (
        "hz_analyst", extract.extract_id, extract.tables, extract.sources, extract.audit_seq)
    assert read.built_at == extract.built_at and read.built_at.utcoffset() is not None
    assert read.grant_id is None and read.expires_at is None and read.format_version == 1
    # the versions listed are the ones in the lake (pinned in every delta_scan)
    locations = table_locations(built_home, list(extract.sources))
    assert extract.sources == {name: location.version for name, location in locations.items()}
    assert "base.population" in extract.sources


def test_the_publish_is_audited(extract: Extract, built_home: Home) -> None:
    entry = next(e for e in audit.entries(built_home, user="hz_analyst", flush_first=False)
                 if e["seq"] == extract.audit_seq)
    assert entry["decision"] == "allowed" and entry["statement_kind"] == "PUBLISH"
    assert entry["session_id"] == extract.extract_id and entry["rows"] == extract.rows
    assert "population.birth_date" in entry["columns"] and set(entry["views"]) == set(extract.tables)
    assert str(extract.path) in entry["sql"] and "version :=" in entry["sql_run"]


def test_stock_duckdb_cli_runs_the_documented_commands(extract: Extract, tmp_path: Path) -> None:
    """docs/analysts.md's `duckdb` commands, through the real CLI binary, with no extension available."""
    shown = re.findall(r"```shell\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    commands = [line[2:] for block in shown for line in block.splitlines() if line.startswith("$ duckdb ")]
    assert len(commands) >= 2
    env = {**os.environ, "HOME": str(tmp_path)}  # no ~/.duckdb/extensions to fall back on
    for command in commands:
        argv = [str(DUCKDB_CLI) if part == "duckdb" else str(extract.path) if part.endswith(".duckdb") else part
                for part in shlex.split(command)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.startswith("┌") and "Error" not in done.stderr
    checks = ("SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = 'delta'; "
              "SELECT count(*) FROM population WHERE hukou_division NOT LIKE '3301%'")
    done = subprocess.run([str(DUCKDB_CLI), "-readonly", "-csv", "-noheader", str(extract.path), checks],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and done.stdout.split() == ["0", "0"], done.stderr
    done = subprocess.run([str(DUCKDB_CLI), "-readonly", str(extract.path), "CREATE TABLE x (a INT)"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0 and "read-only" in done.stderr


def test_verify_reports_what_it_holds_and_tampering(extract: Extract, tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["publish", "--verify", str(extract.path)]) == 0
    assert "hz_analyst" in out.getvalue() and "ok: the file matches" in out.getvalue()
    tampered = tmp_path / "tampered.duckdb"
    shutil.copyfile(extract.path, tampered)
    con = duckdb.connect(str(tampered))
    con.execute("DELETE FROM population WHERE age > 30")
    con.execute("CREATE TABLE extra AS SELECT 1 AS a")
    con.close()
    problems = read_extract(tampered).problems
    assert any("population has" in p for p in problems) and any("extra is not listed" in p for p in problems)
    assert any("writable" in p for p in problems)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["publish", "--verify", str(tampered)]) == 1
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    with pytest.raises(ExtractInvalid, match="no _govlake_extract table"):
        read_extract(plain)


def test_cli_prints_path_tables_and_rows(built_home: Home, tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--home", str(built_home.root), "publish", "--user", "open_public", "--out", str(tmp_path)]) == 0
    text = out.getvalue()
    path = Path(text.splitlines()[0].removeprefix("Published "))
    assert path.parent == tmp_path and path.exists()
    granted = load_policies().views_of(load_policies().user("open_public"))
    assert re.search(r"open_population\s+[\d,]+", text) and f"{len(granted)} tables" in text


def test_an_existing_file_is_never_overwritten(built_home: Home, tmp_path: Path) -> None:
    target = tmp_path / "mine.duckdb"
    target.write_text("keep me")
    with pytest.raises(StateError, match="never overwritten"):
        publish("open_public", home=built_home, out=target)
    assert target.read_text() == "keep me"


def test_a_failed_publish_leaves_no_file(built_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / ".old.duckdb.999999999.part"  # left by a publish that was killed (no such process)
    stale.write_text("half")

    def crash(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish_module, "_write_metadata", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        publish("open_public", home=built_home, out=tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the half file nor the stale one
    entry = audit.entries(built_home, user="open_public", flush_first=False)[-1]
    assert entry["decision"] == "failed" and "not delivered: disk full" in entry["reason"]


def test_unknown_users_and_users_without_views_are_refused(built_home: Home, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PolicyDenied, match="unknown user"):
        publish("mallory", home=built_home, out=tmp_path)
    import policies
    from policies import load_policies_from

    folder = tmp_path / "policies"
    shutil.copytree(Path(policies.__file__).parent, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    with (folder / "roles.toml").open("a", encoding="utf-8") as roles:
        roles.write('\n[visitor]\ndescription = "来访者：无任何授权"\nrow_limit = 10\ntime_limit_s = 1\n')
    users = (folder / "users.toml").read_text(encoding="utf-8")
    password = re.search(r'password_hash = "[^"]+"', users)
    assert password is not None
    (folder / "users.toml").write_text(users + f'\n[visitor_user]\nname = "来访者"\nroles = ["visitor"]\n'
                                       f'scope = "national"\n{password.group(0)}\n', encoding="utf-8")
    custom = load_policies_from(folder)
    monkeypatch.setattr(policies, "load_policies", lambda: custom)
    with pytest.raises(PolicyDenied, match="no views are granted to you") as refused:
        publish("visitor_user", home=built_home, out=tmp_path)
    assert refused.value.exit_code == 2
    assert list(tmp_path.glob("*.duckdb")) == []
    entry = audit.entries(built_home, user="visitor_user", flush_first=False)[-1]
    assert entry["decision"] == "refused" and entry["statement_kind"] == "PUBLISH"


def test_a_killed_publish_leaves_a_whole_extract_or_none(built_home: Home, tmp_path: Path) -> None:
    """SIGKILL a real `govlake publish` part-way: whatever is left under a final name is a whole extract."""
    import signal
    import time

    govlake_bin = Path(sys.executable).with_name("govlake")
    process = subprocess.Popen([str(govlake_bin), "--home", str(built_home.root), "publish", "--user", "hz_analyst",
                                "--out", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".*.part")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for extract_file in tmp_path.glob("*.duckdb"):  # only if it finished before the kill
        assert read_extract(extract_file).problems == ()
    publish("open_public", home=built_home, out=tmp_path)  # the next publish sweeps the dead one's .part
    assert not list(tmp_path.glob(".*.part*"))
