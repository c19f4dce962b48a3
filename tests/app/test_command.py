"""``govlake app``: the command line it runs and the address it prints (the server itself: test_e2e.py)."""

from __future__ import annotations

from govlake.cli import COMMANDS, build_parser
from govlake.commands import app


def test_app_is_a_command_with_port_and_headless() -> None:
    assert COMMANDS["app"] == "govlake.commands.app"
    args = build_parser().parse_args(["--home", "/tmp/h", "app", "--port", "8600", "--headless"])
    assert (args.port, args.headless, args.address) == (8600, True, "localhost")
    defaults = build_parser().parse_args(["app"])
    assert (defaults.port, defaults.headless) == (8501, False)


def test_streamlit_runs_the_dashboards_headless() -> None:
    command = app.streamlit_command(8600, "localhost", headless=True)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(app.APP_MAIN)
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.port"] == "8600" and options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"  # nothing leaves the machine
    assert options["--client.showErrorDetails"] == "none"  # no tracebacks for users
    assert app.APP_MAIN.is_file()
