"""One module per ``govlake`` subcommand; see :data:`govlake.cli.COMMANDS`."""

from __future__ import annotations

import argparse

from govlake.home import Home


def home_of(args: argparse.Namespace) -> Home:
    """The home chosen by ``--home`` / ``GOVLAKE_HOME`` / default, checked and created.

    Checked before anything is written: a home of a newer format, the installed duckdb and
    extension packages (docs/reliability.md, "Bad environment"), then a writable home.
    """
    from lake.extensions import check_environment

    home = Home.resolve(getattr(args, "home", None))
    home.check_format()
    check_environment()
    return home.ensure()
