"""docs/dashboards.md: the commands it quotes parse, and every screenshot it shows exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from govlake.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "dashboards.md"


def test_quoted_commands_parse() -> None:
    commands = [line.split("$ ", 1)[1].split("  #")[0] for line in DOC.read_text(encoding="utf-8").splitlines()
                if line.startswith("$ govlake")]
    assert commands
    for command in commands:
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert args.command == "app", command


def test_every_screenshot_exists() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", DOC.read_text(encoding="utf-8"))
    assert len(images) >= 7
    missing = [image for image in images if not (DOC.parent / image).is_file()]
    assert missing == [], "run GOVLAKE_UPDATE_DOC_SCREENSHOTS=1 pytest tests/app/test_e2e.py"
