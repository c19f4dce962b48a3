"""docs/reliability.md: the commands it quotes parse, and its table of excluded columns is the harness's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from govlake.cli import COMMANDS, build_parser
from tests.faults.harness import EXCLUDED

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
#: placeholders the doc uses in commands -> a value that parses
PLACEHOLDERS = {"TABLE": "base.population", "N": "3", "raw.X": "raw.hukou", "U": "ops", "<the": None}


def _commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    commands = re.findall(r"`(govlake [^`]+)`", text)
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        commands += [line.split("  #")[0] for line in block.splitlines() if re.match(r"^(\w+=\S+ )*govlake ", line)]
    return commands


def test_quoted_commands_parse() -> None:
    commands = _commands()
    assert len(commands) >= 15
    for command in commands:
        argv = [PLACEHOLDERS.get(word, word) for word in shlex.split(command) if not re.match(r"^[A-Z_]+=", word)]
        assert argv[0] == "govlake" and argv[1] in COMMANDS, command
        if len(argv) == 2 or None in argv or "[" in command:
            continue  # the command named, or a synopsis with [options]
        assert build_parser().parse_args(argv[1:]).command == argv[1], command


def test_the_excluded_columns_table_matches_the_harness() -> None:
    text = DOC.read_text(encoding="utf-8").split("leaving out only columns", 1)[1]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    for table, columns in EXCLUDED.items():
        row = next((line for line in rows if f"`{table}`" in line.split("|")[1]), None)
        assert row is not None, f"{table} is not in the doc's table"
        for column in columns:
            assert f"`{column}`" in row.split("|")[2], f"{table}.{column} is excluded by the harness but not in the doc"
