"""``govlake app``: the command line it runs and the address it prints (the server itself: test_e2e.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from govlake.cli import COMMANDS, build_parser
from govlake.commands import app


def test_app_is_a_command_with_port_and_headless() -> None:
    assert COMMANDS["app"] == "govlake.commands.app"
    args = build_parser().parse_args(["--home", "/tmp/h", "app", "--port", "8600", "--headless"])
    assert (args.port, args.headless, args.address) == (8600, True, "localhost")
    defaults = build_parser().parse_args(["app"])
    assert (defaults.port, defaults.headless) == (8501, False)


def test_streamlit_runs_the_dashboards_headless() -> None:
    command = app.streamlit_command(8600, "localhost")
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(app.APP_MAIN)
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.port"] == "8600" and options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"  # nothing leaves the machine
    assert options["--client.showErrorDetails"] == "none"  # no tracebacks for users
    assert app.APP_MAIN.is_file()


def test_the_app_starts_without_a_terminal_on_a_machine_where_streamlit_never_ran(tmp_path: Path) -> None:
    """Streamlit asks for an e-mail address on its first run unless headless; with no terminal
    (``make run`` from a script) that prompt ended the server. Start it as a new machine would:
    no ~/.streamlit, stdin closed, no display, and without --headless."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["HOME"] = str(tmp_path / "new-user")
    (tmp_path / "new-user").mkdir()
    log = tmp_path / "app.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(Path(sys.executable).with_name("govlake")), "--home", str(tmp_path / "home"),
                                   "app", "--port", str(port)], stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            deadline, answered = time.monotonic() + 90, False
            while time.monotonic() < deadline and server.poll() is None and not answered:
                try:
                    with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as reply:
                        answered = reply.status == 200
                except OSError:
                    time.sleep(0.5)
            assert answered, f"the server did not come up (exit {server.poll()}): {log.read_text()[-2000:]}"
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    assert "Email" not in log.read_text()
