"""One module per ``govlake`` subcommand; see :data:`govlake.cli.COMMANDS`."""

from __future__ import annotations

import argparse

from govlake.home import Home


def home_of(args: argparse.Namespace) -> Home:
    """The home chosen by ``--home`` / ``GOVLAKE_HOME`` / default, checked and created."""
    return Home.resolve(getattr(args, "home", None)).ensure()
