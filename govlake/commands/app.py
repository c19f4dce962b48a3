"""``govlake app [--port 8501] [--headless]``: run the Streamlit dashboards (政务大数据看板).

Starts ``python -m streamlit run app/main.py`` with the home handed over in ``GOVLAKE_HOME``,
prints ``GovLake 看板: http://localhost:<port>`` and waits until the server stops (Ctrl-C stops
it). An unbuilt home is not an error here: the app itself says, in Chinese, what to run.

Streamlit itself always runs headless: otherwise, on a machine where it never ran, it first
asks for an e-mail address on the terminal (and fails when there is no terminal, as under
``make run`` in a script). Without ``--headless``, GovLake opens the browser itself once the
server answers, when there is a display to open it on.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from govlake.commands import home_of

#: The dashboards' entry point.
APP_MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"
DEFAULT_PORT = 8501


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("app", help="run the Streamlit dashboards (http://localhost:8501)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--address", default="localhost",
                        help="address to listen on (default localhost; 0.0.0.0 serves every interface)")
    parser.add_argument("--headless", action="store_true", help="do not open a browser")
    parser.set_defaults(func=run)


def streamlit_command(port: int, address: str) -> list[str]:
    """The Streamlit command line: fixed options, so the dashboards behave the same on every machine."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_MAIN),
        "--server.port", str(port),
        "--server.address", address,
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--browser.serverAddress", "localhost",
        "--client.toolbarMode", "viewer",
        "--client.showErrorDetails", "none",
        "--theme.base", "light",
        "--theme.primaryColor", "#c0392b",
        "--logger.level", "warning",
    ]


def run(args: argparse.Namespace) -> int:
    home = home_of(args)
    env = {**os.environ, "GOVLAKE_HOME": str(home.root), "PYTHONPATH": _pythonpath()}
    command = streamlit_command(args.port, args.address)
    process = subprocess.Popen(command, env=env)
    url = f"http://localhost:{args.port}"
    print(f"GovLake 看板: {url}", flush=True)
    print(f"  home: {home.root}  (Ctrl-C to stop)", flush=True)
    if not args.headless and _has_display():
        threading.Thread(target=_open_when_up, args=(url, process), daemon=True).start()

    def stop(signum: int, _frame: object) -> None:
        process.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        status = process.wait()
    except KeyboardInterrupt:  # Ctrl-C reached Streamlit too; give it time to close its sessions
        process.terminate()
        try:
            status = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    # Stopped by a signal we asked for: a normal end, not a failure.
    return 0 if status in (0, -signal.SIGTERM, -signal.SIGINT) else status


def _has_display() -> bool:
    """Whether a browser window can open here (a desktop session, or macOS/Windows)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_when_up(url: str, process: subprocess.Popen[bytes]) -> None:
    """Open ``url`` in the user's browser once the server answers (at most 60 s of waiting)."""
    import webbrowser

    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                webbrowser.open(url)
                return
        except OSError:
            time.sleep(0.5)


def _pythonpath() -> str:
    """The repository root first, so ``import app`` resolves to these dashboards in the Streamlit process."""
    root = str(APP_MAIN.parents[1])
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root
