"""docs/sharing.md: the walkthrough's commands run, in order, on a copy of the demo home, with the output it shows."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from govlake.cli import main
from govlake.home import Home
from tests.conftest import copy_home

DOC = Path(__file__).parents[2] / "docs" / "sharing.md"
FENCE = re.compile(r"```console\n(.*?)```", re.S)


def walkthrough() -> list[tuple[str, list[str]]]:
    """(command, the output lines the doc shows after it) for the first console block."""
    body = FENCE.findall(DOC.read_text(encoding="utf-8"))[0]
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif line.strip():
            steps[-1][1].append(line)
    return steps


def pattern(shown: str) -> re.Pattern[str]:
    """A shown line as a pattern: ``<time>`` stands for a timestamp."""
    parts = [re.escape(part) for part in shown.split("<time>")]
    return re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC".join(parts))


def test_the_walkthrough_runs_as_documented(built_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "home"
    copy_home(built_home.root, root, "cache", "duckdb_extensions", "exports", "spool", "sharing")
    monkeypatch.chdir(tmp_path)  # the extract is written next to the reader
    steps = walkthrough()
    assert len(steps) >= 12
    for command, shown in steps:
        argv = shlex.split(command)
        assert argv[0] == "govlake"
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--home", str(root), *argv[1:]])
        expected = 2 if shown and shown[0].startswith("Error:") else 1 if any(
            s.startswith("not valid:") for s in shown) else 0
        assert code == expected, f"{command}\n{out.getvalue()}\n{err.getvalue()}"
        produced = (out.getvalue() + err.getvalue()).splitlines()
        for line in shown:
            assert any(pattern(line).fullmatch(got) for got in produced), f"{command}: no line like {line!r} in\n" + \
                "\n".join(produced)
