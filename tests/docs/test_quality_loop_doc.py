"""docs/quality-loop.md: every command it quotes parses with the real CLI parser."""

from __future__ import annotations

import shlex
from pathlib import Path

from govlake.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "quality-loop.md"


def quoted_commands() -> list[str]:
    """The ``govlake ...`` lines of the code blocks, with backslash continuations joined and comments cut."""
    commands, block, current = [], False, ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            block = not block
            continue
        if not block:
            continue
        text = (current + " " + line.strip()) if current else line.strip()
        if text.endswith("\\"):
            current = text[:-1].strip()
            continue
        current = ""
        if text.startswith("govlake "):
            commands.append(text.split("  #")[0])
    return commands


def test_quoted_commands_parse() -> None:
    commands = quoted_commands()
    assert {shlex.split(c)[1] for c in commands} == {"feedback", "objection", "report"}
    for command in commands:
        words = [w for w in shlex.split(command)[1:] if "|" not in w]
        if "[" in command:  # a synopsis line: keep the required words only
            words = shlex.split(command.split("[")[0])[1:]
        args = build_parser().parse_args(words)
        assert args.command in ("feedback", "objection", "report"), command
