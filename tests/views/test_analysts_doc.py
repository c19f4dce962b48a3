"""docs/analysts.md: every command and Python example it quotes really runs on the demo home."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from govlake.cli import main
from govlake.home import Home

DOC = Path(__file__).parents[2] / "docs" / "analysts.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text(encoding="utf-8")) if lang == kind]


def commands() -> list[tuple[str, str]]:
    """(command, the output the doc shows right after it)."""
    found = []
    for body in blocks("console"):
        parts = re.split(r"^\$ ", body, flags=re.M)
        for part in parts[1:]:
            command, _, output = part.partition("\n")
            found.append((command, output))
    return found


def test_the_doc_quotes_commands_and_code() -> None:
    assert len(commands()) >= 10 and blocks("python")


@pytest.mark.parametrize(("command", "shown"), commands(), ids=[c for c, _ in commands()])
def test_quoted_commands_run(built_home: Home, command: str, shown: str) -> None:
    argv = shlex.split(command)
    assert argv[0] == "govlake"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--home", str(built_home.root), *argv[1:]])
    if shown.startswith("Error:"):
        assert code == 2 and err.getvalue().strip() == shown.strip().splitlines()[0]
    else:
        assert code == 0, err.getvalue()
        header = shown.splitlines()[0] if shown.strip() else ""
        if header.startswith("┌") or "," in header:  # the table's or CSV's columns, not the data
            assert out.getvalue().splitlines()[0].count("┬") == header.count("┬")
            if "," in header:
                assert out.getvalue().splitlines()[0] == header


def test_python_examples_run(built_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVLAKE_HOME", str(built_home.root))
    for code in blocks("python"):
        exec(compile(code, str(DOC), "exec"), {})
