"""``govlake bench app``: each dashboard page's time to fully rendered in a real browser, cold and warm.

**What runs.** A trial is one fresh server and one fresh browser for one user: the real
``govlake app --headless`` (the Streamlit server, as a leader's assistant starts it) on the
bench home, driven by Debian's Chromium through Playwright (``--no-sandbox --disable-gpu``).
The trial signs in with the demo password through the sign-in form, then opens every page of
the navigation (``app.main.PAGES``, so pages added later are measured too) by clicking its
link in the sidebar, as a person would.

**Fully rendered** means, all at once, polled on every animation frame in the browser:

* the page's own ``<h1>`` title is shown (so the previous page's content does not count);
* Streamlit's script run has finished (``stApp[data-test-script-state="notRunning"]``) and
  its running indicator (``stStatusWidget``) has gone, fade-out included;
* no element is stale (left over from the previous page and not yet replaced), and none is a
  placeholder (``stSkeleton``) waiting for its component's code to load;
* every Vega-Lite chart (charts and maps) has drawn its SVG or canvas, and every table its
  canvas.

The clock starts just before the click (or, for the first page, the click on 登录) and stops
when the condition first holds, measured in the bench process; Playwright's round trip adds a
few milliseconds.

**Cold** is the first load of a page on a fresh server process: every ``st.cache_data``
and ``st.cache_resource`` cache is empty, and nothing has been asked of the lake. The first page
after signing in is 总览, so its cold time also covers the password check and opening the
user's governed session (DuckDB connection, views, extensions); each other page's cold time
covers all of that page's governed queries, uncached, with the session already open (the
sidebar's division list is shared by every page and is cached by then). The operating
system's file cache is warm after the first trial, as it is on a server that has run before.
The trial clicks 登录 :data:`THINK_SECONDS` after the sign-in form appears (choosing an account
and typing a password takes a person at least that long); the server spends that time loading
what every governed session shares (views/warmup.py). The per-user governed database
(``<home>/cache/governed``) is built by the first session of a user after a build and reused by
every later process, so only the first trial of each user after a build pays for it.

**Warm** is a second (and third) load of the same page, after the cold pass, with the query
caches filled: what a leader sees switching between pages.

**Baseline.** The sign-in page, loaded on the same fresh server at the start of the trial:
Streamlit, the browser and the app's imports with no governed query. Every page costs at
least this much; the rest is the page's queries, its data shaping and the charts.

**Where the time goes.** After a trial the bench reads the audit trail of the bench home: each
governed query is one entry with its duration, so each page load's query time (the sum of the
durations of the entries recorded during it) is reported beside its total.

The figures are medians over trials (``--runs``, one fresh server per run and user) for each
of :data:`USERS`: the national leader (the widest scope, the largest aggregates) and the
杭州 analyst (record-level views, masks, entity points). Targets (issue #5,
docs/benchmarks.md): every page at most 2 s warm and 5 s cold, at 1M persons.

The home is the governed-SQL bench's home, ``<home>/bench/sql-p<N>-s<seed>``, prepared once
(generate, ingest, build) and rebuilt when a view reads a table that its build did not write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govlake.bench import machine, median, run_worker, save
from govlake.errors import EnvironmentProblem
from govlake.home import Home

WORKER = "govlake.bench.app"
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run")
#: Who signs in: the widest aggregate scope, and a scoped analyst with record-level views.
USERS: tuple[str, ...] = ("national_leader", "hz_analyst")
PASSWORD = "govlake-demo"
VIEWPORT = {"width": 1440, "height": 900}
#: Loads of each page after the cold one.
WARM_PASSES = 2
#: Seconds from the sign-in form appearing to the click on 登录: choosing an account and typing a
#: password takes a person at least this long, and the server uses it (views/warmup.py).
THINK_SECONDS = 2.0
TARGET_WARM_S = 2.0
TARGET_COLD_S = 5.0
#: Longest a page may take before the trial gives up on it (seconds).
PAGE_TIMEOUT_S = 60
SERVER_START_TIMEOUT_S = 90

#: Runs in the browser: true once the page titled ``title`` is fully rendered (see the module docstring).
RENDERED = """(title) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  const h1 = main && main.querySelector('h1');
  if (!h1 || h1.innerText.trim() !== title) return false;
  if (main.querySelector('[data-stale="true"]')) return false;
  // an element whose code is still loading (a hidden tab's elements load when it is opened)
  const skeletons = Array.from(main.querySelectorAll('[data-testid="stSkeleton"]'));
  if (skeletons.some(skeleton => skeleton.getClientRects().length)) return false;
  for (const chart of main.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    if (chart.getClientRects().length && !chart.querySelector('svg, canvas')) return false;
  }
  for (const table of main.querySelectorAll('[data-testid="stDataFrame"]')) {
    if (table.getClientRects().length && !table.querySelector('canvas')) return false;  // hidden tabs draw later
  }
  return true;
}"""
#: Runs in the browser: the sign-in form is shown and the script has finished.
SIGNIN_READY = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!(app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stStatusWidget"]')
    && document.querySelector('input[type="password"]')
    && document.querySelector('[data-testid="stSelectbox"]'));
}"""


@dataclass(frozen=True)
class Load:
    """One page load: which page, cold or warm, how long, and what happened on the server meanwhile."""

    page: str
    kind: str  # "cold" or "warm"
    seconds: float
    started: dt.datetime
    finished: dt.datetime
    exceptions: int
    charts: int


# --------------------------------------------------------------------------- preparing the home


def prepare(home: Home, persons: int, seed: int) -> Path:
    """The governed-SQL bench's built home, rebuilt in full when a view needs a table it lacks."""
    from govlake.bench.sql import prepare as prepare_sql
    from lake import delta
    from transforms.build import build
    from views.definitions import load_views

    target = prepare_sql(home, persons, seed)
    built = Home(target)
    needed = {table for view in load_views().values() for table in view.tables}
    missing = sorted(t for t in needed if not delta.is_table(built.table_path(*t.split(".", 1))))
    if missing:
        build(built, full=True)
    return target


def pages() -> list[str]:
    """The navigation's page titles, in order (``app.main.PAGES``)."""
    from app.main import PAGES

    return [title for _path, title, _icon, _url in PAGES]


# --------------------------------------------------------------------------- one trial (a subprocess)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Server:
    """``govlake app --headless`` on ``home`` in its own process group, stopped with everything it started."""

    def __init__(self, home: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}"
        self._log = log.open("w")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("govlake")), "--home", str(home), "app", "--headless",
             "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO,
        )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"govlake app exited with {self.process.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the Streamlit server did not answer within {SERVER_START_TIMEOUT_S} s") \
                        from None
                time.sleep(0.1)
        self.start_seconds = time.perf_counter() - started

    def rss_bytes(self) -> int:
        """Resident memory of the server and its children (the Streamlit process holds the caches)."""
        import psutil

        try:
            root = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


#: Runs in the browser: what is still missing, for the message when a page never finishes.
DIAGNOSE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]');
  const h1 = main && main.querySelector('h1');
  return {
    script_state: app && app.getAttribute('data-test-script-state'),
    status_widget: !!document.querySelector('[data-testid="stStatusWidget"]'),
    title: h1 ? h1.innerText.trim() : null,
    stale: main ? main.querySelectorAll('[data-stale="true"]').length : null,
    skeletons: main ? Array.from(main.querySelectorAll('[data-testid="stSkeleton"]'))
      .filter(s => s.getClientRects().length).length : null,
    charts_not_drawn: main ? Array.from(main.querySelectorAll('[data-testid="stVegaLiteChart"]'))
      .filter(c => c.getClientRects().length && !c.querySelector('svg, canvas')).length : null,
    tables_not_drawn: main ? Array.from(main.querySelectorAll('[data-testid="stDataFrame"]'))
      .filter(t => t.getClientRects().length && !t.querySelector('canvas')).length : null,
    exceptions: main ? Array.from(main.querySelectorAll('[data-testid="stException"]'))
      .map(e => e.innerText.slice(0, 300)) : [],
    shown: main ? main.innerText.slice(0, 300) : document.body.innerText.slice(0, 300),
  };
}"""


def _wait(page: Any, script: str, arg: Any = None) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(script, arg=arg, polling="raf", timeout=PAGE_TIMEOUT_S * 1000)
    except PlaywrightTimeout:
        state = page.evaluate(DIAGNOSE)
        raise RuntimeError(f"the page {arg or 'sign-in'!r} did not finish rendering within {PAGE_TIMEOUT_S} s; "
                           f"in the browser: {json.dumps(state, ensure_ascii=False)}") from None


def _load(page: Any, title: str, kind: str, action: Any) -> Load:
    """Do ``action`` (a click) and time it until ``title`` is fully rendered."""
    started_at = _now()
    clock = time.perf_counter()
    action()
    _wait(page, RENDERED, title)
    seconds = time.perf_counter() - clock
    main = page.locator('[data-testid="stMain"]')
    return Load(title, kind, seconds, started_at, _now(),
                exceptions=main.locator('[data-testid="stException"]').count(),
                charts=main.locator('[data-testid="stVegaLiteChart"]').count())


def _query_time(home: Path, user: str, loads: list[Load]) -> list[dict[str, Any]]:
    """Each load with the governed queries the audit trail recorded during it (count and summed duration)."""
    from lake import audit

    entries = [e for e in audit.entries(Home(home), user=user) if e.get("at") is not None]
    out = []
    for load in loads:
        inside = [e for e in entries if load.started <= _aware(e["at"]) <= load.finished]
        out.append({"page": load.page, "kind": load.kind, "seconds": load.seconds,
                    "exceptions": load.exceptions, "charts": load.charts,
                    "queries": len(inside),
                    "query_seconds": sum(float(e.get("duration_ms") or 0) for e in inside) / 1000})
    return out


def _aware(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def trial(home: Path, user: str, warm_passes: int = WARM_PASSES,
          think_seconds: float = THINK_SECONDS) -> dict[str, Any]:
    """Start a fresh server and browser, sign ``user`` in, load every page cold, then warm; return the timings."""
    from playwright.sync_api import sync_playwright

    titles = pages()
    with tempfile.TemporaryDirectory(prefix="govlake-bench-app-") as scratch:
        server = Server(home, Path(scratch) / "server.log")
        loads: list[Load] = []
        rss: list[int] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
                page = browser.new_page(viewport=VIEWPORT, locale="zh-CN")  # type: ignore[arg-type]
                clock = time.perf_counter()
                page.goto(server.url)
                _wait(page, SIGNIN_READY)
                signin_seconds = time.perf_counter() - clock

                page.locator('[data-testid="stSelectbox"]').first.click()
                page.locator('[role="option"]', has_text=f"（{user}）").click()
                page.locator('input[type="password"]').fill(PASSWORD)
                submit = page.get_by_role("button", name="登录")
                typing = think_seconds - (time.perf_counter() - clock - signin_seconds)
                if typing > 0:
                    time.sleep(typing)
                loads.append(_load(page, titles[0], "cold", submit.click))
                rss.append(server.rss_bytes())

                def open_page(title: str) -> Any:
                    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title).first
                    more = page.locator('[data-testid="stSidebarNavViewButton"]', has_text="more")
                    if not link.is_visible() and more.count():
                        more.first.click()  # a long navigation is folded ("View N more"); not timed
                    return link.click

                for title in titles[1:]:
                    loads.append(_load(page, title, "cold", open_page(title)))
                    rss.append(server.rss_bytes())
                for _ in range(warm_passes):
                    for title in titles:
                        loads.append(_load(page, title, "warm", open_page(title)))
                rss.append(server.rss_bytes())
                browser.close()
        finally:
            server.stop()
    return {"user": user, "think_seconds": think_seconds, "server_start_seconds": server.start_seconds,
            "signin_seconds": signin_seconds,
            "server_rss_bytes_max": max(rss or [0]), "loads": _query_time(home, user, loads)}


# --------------------------------------------------------------------------- the bench


def _summary(loads: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(loads),
        "seconds_median": median([load["seconds"] for load in loads]),
        "seconds_max": max(load["seconds"] for load in loads),
        "query_seconds_median": median([load["query_seconds"] for load in loads]),
        "queries_median": median([load["queries"] for load in loads]),
        "exceptions": sum(load["exceptions"] for load in loads),
    }


def run(home: Home, *, persons: int, seed: int, runs: int) -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        raise EnvironmentProblem("the app bench drives a browser with Playwright, a development dependency; "
                                 "install it with `pip install -e '.[dev]'` (make install does this)")
    if not CHROMIUM.exists():
        raise EnvironmentProblem(f"{CHROMIUM} is missing: the app bench drives Debian's Chromium; "
                                 "install it with `apt-get install -y chromium fonts-noto-cjk` (or `make browser`)")
    target = prepare(home, persons, seed)
    titles = pages()
    load_before = os.getloadavg()
    trials = [run_worker(WORKER, str(target), user) for _ in range(runs) for user in USERS]
    users: dict[str, Any] = {}
    for user in USERS:
        mine = [t for t in trials if t["user"] == user]
        every = [load for t in mine for load in t["loads"]]
        users[user] = {
            "signin_seconds_median": median([t["signin_seconds"] for t in mine]),
            "server_start_seconds_median": median([t["server_start_seconds"] for t in mine]),
            "server_rss_bytes_max": max(t["server_rss_bytes_max"] for t in mine),
            "pages": {title: {kind: _summary([load for load in every if load["page"] == title
                                              and load["kind"] == kind])
                              for kind in ("cold", "warm")}
                      for title in titles},
        }
    worst = {kind: max(p[kind]["seconds_median"] for u in users.values() for p in u["pages"].values())
             for kind in ("cold", "warm")}
    result = {
        "bench": "app", "date": dt.date.today().isoformat(), "machine": machine(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "command": f"govlake bench app --persons {persons} --seed {seed} --runs {runs}",
        "persons": persons, "trials_per_user": runs, "warm_passes": WARM_PASSES, "think_seconds": THINK_SECONDS,
        "browser": str(CHROMIUM),
        "users": users, "worst_cold_seconds": worst["cold"], "worst_warm_seconds": worst["warm"],
        "targets": {"cold_seconds": TARGET_COLD_S, "warm_seconds": TARGET_WARM_S},
        "met": worst["cold"] <= TARGET_COLD_S and worst["warm"] <= TARGET_WARM_S,
        "trials": trials,
    }
    result["saved_to"] = str(save(home.root / "bench", "app", result))
    return result


def _display_width(text: str) -> int:
    """Terminal columns of ``text``: Chinese characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def report(result: dict[str, Any]) -> str:
    lines = [
        f"dashboards on {result['persons']:,} persons, real server + Chromium: medians of {result['trials_per_user']} "
        f"fresh servers per user (cold) and {result['trials_per_user'] * result['warm_passes']} loads (warm); "
        f"1-min load average {result['load_average_before'][0]:.1f} before, "
        f"{result['load_average_after'][0]:.1f} after",
    ]
    for user, figures in result["users"].items():
        lines.append(f"  {user}: sign-in page (baseline) {figures['signin_seconds_median']:.2f} s, server start "
                     f"{figures['server_start_seconds_median']:.1f} s, server RSS up to "
                     f"{figures['server_rss_bytes_max'] / 2**20:,.0f} MiB")
        width = max(_display_width(title) for title in figures["pages"]) + 2
        lines.append(f"    {'page'.ljust(width)}{'cold':>7} {'(queries)':>10}  {'warm':>6} {'(queries)':>10}")
        for title, page in figures["pages"].items():
            cold, warm = page["cold"], page["warm"]
            flags = ("" if cold["seconds_median"] <= TARGET_COLD_S else "  cold over target") + (
                "" if warm["seconds_median"] <= TARGET_WARM_S else "  warm over target") + (
                f"  {cold['exceptions'] + warm['exceptions']} exception boxes"
                if cold["exceptions"] + warm["exceptions"] else "")
            lines.append(f"    {title}{' ' * (width - _display_width(title))}{cold['seconds_median']:>6.2f}s "
                         f"{cold['query_seconds_median']:>9.2f}s  {warm['seconds_median']:>5.2f}s "
                         f"{warm['query_seconds_median']:>9.2f}s{flags}")
    lines += [
        f"  targets: cold <= {TARGET_COLD_S:g} s (worst median {result['worst_cold_seconds']:.2f} s), warm <= "
        f"{TARGET_WARM_S:g} s (worst median {result['worst_warm_seconds']:.2f} s): "
        + ("met" if result["met"] else "NOT met"),
        f"  saved to {result['saved_to']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    home_path, user_name = sys.argv[1:3]
    passes = int(sys.argv[3]) if len(sys.argv) > 3 else WARM_PASSES
    think = float(sys.argv[4]) if len(sys.argv) > 4 else THINK_SECONDS
    print(json.dumps(trial(Path(home_path), user_name, passes, think), default=str))
