"""docs/notebooks.md: every snippet and command it quotes runs, unchanged, on a demo home built twice.

The snippets name the home ``govlake_home``, the default, relative to where the reader runs them.
The test runs them from the folder holding ``rebuilt_home`` (tests/conftest.py names it so), in
document order, as a reader would: each Python block in a fresh namespace, since each must stand
alone when copied.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from govlake.cli import main
from tests.conftest import Rebuilt

DOC = Path(__file__).parents[2] / "docs" / "notebooks.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
HOME_LINE = 'home = "govlake_home"'


def blocks() -> list[tuple[str, int, str]]:
    """(language, line number, body) of every fenced block, in document order."""
    text = DOC.read_text(encoding="utf-8")
    return [(match[1], text.count("\n", 0, match.start()) + 2, match[2]) for match in FENCE.finditer(text)]


def commands(body: str) -> list[tuple[str, str]]:
    """(command, the output shown under it) of a console block."""
    parts = re.split(r"^\$ ", body, flags=re.M)
    return [(command, output) for command, _, output in (part.partition("\n") for part in parts[1:])]


def test_the_doc_covers_each_way_to_read() -> None:
    python = [body for kind, _, body in blocks() if kind == "python"]
    assert len(python) >= 6
    code = "\n".join(python)
    for needle in ("pl.read_delta(", "pl.scan_delta(", "DeltaTable(", ".metadata()", "delta_scan(",
                   "version=", "version =>", "INSTALL '", "LOAD delta", "system/builds"):
        assert needle in code, needle
    # Each block stands alone, with the one line a reader changes for another home.
    assert all(body.count(HOME_LINE) == 1 for body in python)
    # delta-rs#2184: never show the calls that abort the interpreter at exit.
    assert ".to_pyarrow_table(" not in code and not re.search(r"DeltaTable\([^)]*\)\.to_pandas", code)


def run_command(command: str, shown: str, where: Path) -> None:
    argv = shlex.split(command)
    if argv[0] == "govlake":
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv[1:])
        assert code == 0, f"{command}: {err.getvalue()}"
        printed = out.getvalue()
    else:
        assert argv[0] == "duckdb", f"unexpected command in {DOC.name}: {command}"
        done = subprocess.run([str(Path(sys.executable).with_name("duckdb")), *argv[1:]], cwd=where,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Error" not in done.stderr, f"{command}: {done.stderr}"
        printed = done.stdout
    if shown.strip():  # the columns shown are the columns printed; the rows are the reader's own
        assert printed.splitlines()[0].split() == shown.splitlines()[0].split(), command


def test_snippets_and_commands_run(rebuilt_home: Rebuilt, monkeypatch: pytest.MonkeyPatch) -> None:
    home = rebuilt_home.home
    assert home.root.name == "govlake_home"
    # The doc says a build installs the delta extension into the home for stock DuckDB.
    assert list(home.extensions.rglob("delta.duckdb_extension")), (
        "the build no longer installs the delta extension into <home>/duckdb_extensions: update docs/notebooks.md")
    monkeypatch.chdir(home.root.parent)
    monkeypatch.delenv("GOVLAKE_HOME", raising=False)
    ran = 0
    for kind, line, body in blocks():
        if kind == "python":
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(body, f"{DOC}:{line}", "exec"), {"__name__": "notebook"})
            ran += 1
        elif kind == "console":
            for command, shown in commands(body):
                run_command(command, shown, home.root.parent)
                ran += 1
    assert ran >= 8
