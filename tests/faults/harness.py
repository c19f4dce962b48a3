"""The kill harness: run the real ``govlake`` CLI, SIGKILL it, check, re-run, compare to a clean run.

No mocks: every run is a separate ``govlake`` process on a real home, killed with a real
SIGKILL, either after a seeded random delay or at the n-th pass of a fault point
(lake/faults.py, ``GOVLAKE_KILL_AT=any:n``: the n-th commit boundary of the run).

After each kill (:func:`kill_and_recover`):

1. every table reads cleanly with deltalake (``DeltaTable.version()`` / ``files()``, never
   ``to_pyarrow_table``), polars (``pl.scan_delta``, all rows) and DuckDB (``delta_scan``);
2. the same command is run again and must succeed;
3. the end state must equal the uninterrupted reference run's (:func:`snapshot`,
   :func:`differences`), and once ``govlake vacuum --apply`` has removed what the killed
   writer left, ``govlake doctor`` must find nothing at all.

What "the same end state" means is :func:`snapshot`: every Delta table's rows as a multiset
(row order is not a contract), minus :data:`EXCLUDED` columns, which hold the wall-clock time
of the run or Delta versions (a killed run commits some steps twice over, e.g. an overwrite
the re-run repeats, so versions legitimately move on). What those columns stood for is
checked another way: the build manifest's versions must equal the tables' current versions
(the doctor's ``builds`` check), the ingestion log must reconcile with the raw and quarantine
tables and list each batch once (``ingest_log``), and the audit chain must verify (``audit``).
The audit table itself is compared that way only: its entries carry ids and times, and a
publish killed after its audit entry leaves one entry more (over-reporting, never under).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tests.conftest import copy_home

GOVLAKE = Path(sys.executable).with_name("govlake")

#: zone.table (or zone.* ) -> columns left out of the comparison, and why (see the module docstring).
EXCLUDED: dict[str, tuple[str, ...]] = {
    "raw.*": ("_ingested_at",),  # when the batch landed
    "system.quarantine": ("ingested_at",),  # when the batch landed
    "system.ingest_log": ("started_at", "finished_at"),  # when the file was ingested
    "system.logical_sources": ("registered_at",),  # when the source was registered
    # when the build ran; outputs are Delta versions, checked against the tables instead
    "system.builds": ("started_at", "finished_at", "outputs"),
    # when a quality run happened (its run_id derives from its inputs, not the time)
    "system.quality_results": ("run_at",),
    "system.quality_failures": ("run_at",),
    # when a quality run opened or updated a feedback ticket (lake/feedback.py)
    "system.feedback_events": ("at", "opened_at"),
}
#: Tables compared by their own invariants, not row by row (see the module docstring).
SEPARATE = ("system.audit",)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    killed: bool


def run(home: Path, args: list[str], *, env: dict[str, str] | None = None, kill_after: float | None = None,
        timeout: float = 600) -> Run:
    """``govlake --home HOME ARGS`` in a new process; SIGKILL it after ``kill_after`` seconds if still running."""
    started = time.perf_counter()
    process = subprocess.Popen([str(GOVLAKE), "--home", str(home), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    killed = False
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            killed = True
    stdout, stderr = process.communicate(timeout=timeout)
    killed = killed or process.returncode == -signal.SIGKILL
    return Run(process.returncode, stdout, stderr, time.perf_counter() - started, killed)


def trace(home: Path, args: list[str]) -> tuple[Run, list[str]]:
    """Run once, uninterrupted, recording every fault point passed (``GOVLAKE_FAULT_TRACE``)."""
    trace_file = home.parent / f"{home.name}.trace"
    trace_file.unlink(missing_ok=True)
    done = run(home, args, env={"GOVLAKE_FAULT_TRACE": str(trace_file)})
    points = trace_file.read_text(encoding="utf-8").splitlines() if trace_file.exists() else []
    return done, points


# --------------------------------------------------------------------------- reading


def tables(home: Path) -> dict[str, Path]:
    """zone.table -> path of every Delta table in the home (a folder whose log has a commit)."""
    found = {}
    lake = home / "lake"
    for zone in sorted(p for p in lake.iterdir() if p.is_dir()) if lake.is_dir() else []:
        for path in sorted(p for p in zone.iterdir() if p.is_dir()):
            if any((path / "_delta_log").glob("*.json")):
                found[f"{zone.name}.{path.name}"] = path
    return found


def check_readable(home: Path) -> None:
    """Every table reads cleanly with deltalake, polars and DuckDB; raises AssertionError naming the table."""
    from deltalake import DeltaTable

    from lake.extensions import connect

    con = connect(":memory:", extensions=("delta",))
    try:
        for name, path in tables(home).items():
            try:
                table = DeltaTable(str(path))
                version = table.version()
                files = table.file_uris()
                missing = [f for f in files if not Path(f.removeprefix("file://")).exists()]
                assert not missing, f"{len(missing)} data files missing"
                rows = pl.scan_delta(str(path)).collect().height
                row = con.execute(f"SELECT count(*) FROM delta_scan('{path}')").fetchone()
                assert row is not None and row[0] == rows, f"DuckDB counts {row} rows, polars {rows}"
            except Exception as error:
                raise AssertionError(f"{name} does not read cleanly after the kill: {error}") from error
            assert version >= 0
    finally:
        con.close()


def _excluded(name: str) -> tuple[str, ...]:
    zone = name.split(".", 1)[0]
    return EXCLUDED.get(name, ()) + EXCLUDED.get(f"{zone}.*", ())


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value if value is None or isinstance(value, int | str | bool) else str(value)


def rows_of(frame: pl.DataFrame) -> Counter[str]:
    """A frame's rows as a multiset of canonical JSON texts."""
    return Counter(json.dumps(_canonical(row), sort_keys=True, ensure_ascii=False) for row in frame.to_dicts())


def snapshot(home: Path, *, drop_newest: tuple[str, str] | None = None) -> dict[str, Counter[str]]:
    """Every table's rows minus :data:`EXCLUDED` columns (see the module docstring).

    ``drop_newest`` = (table, ordering column) leaves that table's newest row out.
    """
    state = {}
    for name, path in tables(home).items():
        if name in SEPARATE:
            continue
        frame = pl.read_delta(str(path))
        if drop_newest is not None and name == drop_newest[0]:
            frame = frame.sort(drop_newest[1]).head(frame.height - 1)
        state[name] = rows_of(frame.drop([c for c in _excluded(name) if c in frame.columns]))
    return state


def differences(reference: dict[str, Counter[str]], recovered: dict[str, Counter[str]]) -> list[str]:
    """What differs between two snapshots, table by table (empty when they are the same)."""
    found = []
    for name in sorted(set(reference) | set(recovered)):
        if name not in recovered:
            found.append(f"{name} is missing after recovery")
            continue
        if name not in reference:
            found.append(f"{name} exists only after recovery ({sum(recovered[name].values())} rows)")
            continue
        if reference[name] != recovered[name]:
            lost, extra = reference[name] - recovered[name], recovered[name] - reference[name]
            sample = next(iter(lost or extra))[:300]
            found.append(f"{name}: {sum(lost.values())} row(s) lost, {sum(extra.values())} extra; e.g. {sample}")
    return found


# --------------------------------------------------------------------------- one kill


@dataclass
class Scenario:
    """A command run on a prepared home; ``start`` is the home before the command (None: no home yet)."""

    name: str
    args: list[str]
    start: Path | None
    #: extra comparison of the end state (e.g. the extract a publish delivered); returns differences
    extra: Callable[[Path, Path], list[str]] | None = None
    #: (table, ordering column) of a record the command adds every time it runs to the end, for a
    #: command that is not a no-op when repeated (``build --full`` rebuilds and records a build
    #: whatever the state): when the killed run had already added it, the re-run adds one more.
    repeats: tuple[str, str] | None = None


@dataclass
class Reference:
    scenario: Scenario
    home: Path
    state: dict[str, Counter[str]]
    points: list[str]
    seconds: float


def reference(scenario: Scenario, workspace: Path) -> Reference:
    """The uninterrupted run the recoveries are compared with (traced, to count its fault points)."""
    home = workspace / f"{scenario.name}-reference"
    _fresh_copy(scenario, home)
    done, points = trace(home, scenario.args)
    assert done.returncode == 0, f"reference run of {scenario.name} failed: {done.stderr[-2000:]}"
    return Reference(scenario, home, snapshot(home), points, done.seconds)


def _fresh_copy(scenario: Scenario, home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
    if scenario.start is not None:
        copy_home(scenario.start, home, "cache")


@dataclass
class Outcome:
    scenario: str
    how: str  # "point any:17", "after 1.234 s", or several joined by " then "
    kills: int  # real kills in the sequence (a run that finished first was not killed)
    exact: bool
    problems: list[str] = field(default_factory=list)
    leftovers: int = 0  # files vacuum removed after recovery

    @property
    def killed(self) -> bool:
        return self.kills > 0


Kill = tuple[str, Any]  # ("point", n) or ("delay", seconds)


def _rows(home: Path, table: str) -> int:
    path = home / "lake" / Path(*table.split(".", 1))
    return pl.scan_delta(str(path)).select(pl.len()).collect().item() if any(path.glob("_delta_log/*.json")) else 0


def kill_plan(ref: Reference, count: int, *, seed: int) -> list[Kill]:
    """``count`` kills spread over the run, seeded: alternately at a fault point and after a delay.

    Points are drawn from the reference run's passes; delays from its duration (a process
    that finishes first was not killed, and the caller draws again).
    """
    rng = random.Random(f"{ref.scenario.name}:{seed}")
    plan: list[Kill] = []
    passes = len(ref.points)
    for index in range(count):
        if index % 2 == 0 and passes:
            plan.append(("point", rng.randint(1, passes)))
        else:
            plan.append(("delay", round(rng.uniform(0.2, ref.seconds), 3)))
    return plan


def kill_and_recover(ref: Reference, workspace: Path, *kills: Kill) -> Outcome:
    """Kill the command (then, for several kills, the re-run too, and so on), then finish it with one
    more run and make every check of the module docstring; the outcome says what held."""
    from govlake.doctor import diagnose
    from govlake.home import Home
    from lake.vacuum import vacuum

    scenario = ref.scenario
    labels = [f"point any:{value}" if kind == "point" else f"after {value:.3f} s" for kind, value in kills]
    home = workspace / (f"{scenario.name}-" + "-".join(f"{kind}{value}" for kind, value in kills))
    _fresh_copy(scenario, home)
    outcome = Outcome(scenario.name, " then ".join(labels), 0, exact=False)
    for kind, value in kills:
        if kind == "point":
            attempt = run(home, scenario.args, env={"GOVLAKE_KILL_AT": f"any:{value}"})
        else:
            attempt = run(home, scenario.args, kill_after=float(value))
        if not attempt.killed:
            assert attempt.returncode == 0, f"{scenario.name} failed without a kill: {attempt.stderr[-2000:]}"
            continue
        outcome.kills += 1
        try:
            if home.exists():
                check_readable(home)
        except AssertionError as error:
            outcome.problems.append(str(error))
        time.sleep(max(0.0, 1.05 - (time.time() % 1)))  # publish names extracts by the second
    finished = scenario.repeats is not None and _rows(home, scenario.repeats[0]) == sum(
        ref.state.get(scenario.repeats[0], Counter()).values())
    again = run(home, scenario.args)
    if again.returncode != 0:
        outcome.problems.append(f"re-run failed ({again.returncode}): {again.stderr.strip()[-1000:]}")
        return outcome
    if finished:
        outcome.how += " (it had finished; the re-run ran it again)"
    outcome.problems += differences(ref.state, snapshot(home, drop_newest=scenario.repeats if finished else None))
    if scenario.extra is not None:
        outcome.problems += scenario.extra(ref.home, home)
    # vacuum deletes only leftovers of killed writers; then the doctor must find nothing at all
    cleaned = vacuum(Home(home), apply=True)
    outcome.leftovers = len(cleaned.files)
    outcome.problems += [f"doctor: [{p.check}] {p.subject}: {p.message}" for p in diagnose(Home(home)).problems]
    outcome.exact = not outcome.problems
    shutil.rmtree(home, ignore_errors=True)
    return outcome


def campaign(ref: Reference, workspace: Path, *, kills: int, seed: int, max_draws: int | None = None) -> list[Outcome]:
    """``kills`` separate real kills of the scenario's command, each recovered and checked on its own
    (drawing more delays when a run finished first)."""
    outcomes: list[Outcome] = []
    draws = 0
    limit = max_draws or kills * 3
    plan = kill_plan(ref, limit, seed=seed)
    while sum(o.kills for o in outcomes) < kills and draws < limit:
        outcomes.append(kill_and_recover(ref, workspace, plan[draws]))
        draws += 1
    return outcomes


def repeated_kills(ref: Reference, workspace: Path, *, seed: int) -> Outcome:
    """Two kills in a row, a random fault point of the run and then one early in the re-run,
    before one run finishes the work: the cheap test of the fast tier, and a harder one (a
    recovery that is itself killed)."""
    rng = random.Random(f"{ref.scenario.name}:{seed}:twice")
    passes = max(1, len(ref.points))
    return kill_and_recover(ref, workspace, ("point", rng.randint(1, passes)),
                            ("point", rng.randint(1, max(1, passes // 3))))


def summary(outcomes: list[Outcome]) -> str:
    killed = [o for o in outcomes if o.killed]
    return (f"{sum(o.kills for o in killed)} kills in {len(killed)} runs, {sum(o.exact for o in killed)} recovered "
            f"exactly; {sum(o.leftovers for o in killed)} leftover files vacuumed")


# --------------------------------------------------------------------------- another environment

REPO = Path(__file__).parents[2]


def site_overlay(folder: Path, *, without: tuple[str, ...] = (), duckdb_version: str | None = None) -> Path:
    """A site-packages of symlinks to the installed one, minus ``without``, maybe with duckdb's metadata changed."""
    import duckdb

    site = Path(duckdb.__file__).parents[1]
    folder.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name.startswith(without) or entry.suffix == ".pth":
            continue
        if duckdb_version and entry.name.startswith("duckdb-") and entry.name.endswith(".dist-info"):
            fake = folder / f"duckdb-{duckdb_version}.dist-info"
            shutil.copytree(entry, fake)
            metadata = (fake / "METADATA").read_text(encoding="utf-8")
            (fake / "METADATA").write_text(metadata.replace("\nVersion: ", f"\nVersion: {duckdb_version}\nX-Was: ", 1),
                                           encoding="utf-8")
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def govlake_in(overlay: Path, *args: str, source: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The CLI on an interpreter that sees only ``overlay`` as installed packages and GovLake from ``source``."""
    return subprocess.run([sys.executable, "-S", "-c", "import sys; from govlake.cli import main; sys.exit(main())",
                           *args], capture_output=True, text=True, cwd=source,
                          env={**os.environ, "PYTHONPATH": f"{overlay}{os.pathsep}{source}"})
