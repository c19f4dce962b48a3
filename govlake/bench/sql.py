"""``govlake bench sql``: five dashboard queries as ``hz_analyst``, governed against raw DuckDB.

**Measured.** Each query runs through the analyst's governed session
(:meth:`views.session.GovernedSession.arrow`): the guard (memoized, as a dashboard sends the
same text again), a cursor on the read-only, locked-down database, the view with its masks
and per-column scope guards over ``delta_scan``, the row-limit reader, and the audit append
(and, every ~256 queries, the audit flush that falls in the timed window).

**Baseline.** The same logical query written by hand directly over ``delta_scan('<path>')`` of
the same Delta tables, on a plain in-memory DuckDB connection with the delta extension
loaded, fetched to Arrow. It does the work the answer needs and nothing else: the 杭州 scope
as one ``LIKE '3301%'`` filter on the view's division column (what the view pushes into the
scan), and, for the one query that shows masked columns, the same mask expressions
(:data:`views.masks.MASKS`) on those columns only. Masking the answer is a requirement, not
overhead; so the ratio measures the governance machinery: guard, views over subqueries,
scope guards on every column, cursor, limits, audit. Before timing, each trial checks that
both sides return the same rows, so the baseline cannot drift into an easier query.

**Split.** A third side runs the guard's output (``sql_for_duckdb``) on the governed
database directly, through a cursor, without guard, limits or audit (the bench reaches into
the session's connection for this). governed - views is the session's own machinery;
views - raw is the view layer (subqueries, masks and scope guards DuckDB must plan).

**Guard time.** :func:`views.guard.check` un-memoized (parse with sqlglot, allowlists,
DuckDB's own parse, column lineage): the cost of the first time a dashboard sends a query.

Trials run in fresh subprocesses (``--runs``), each with its own connections; within a trial
governed and raw runs alternate (which one goes first flips every repetition), after a
warm-up. The figures are medians over every repetition of every trial. Targets
(docs/benchmarks.md): governed / raw at most 1.2× for each query; guard at most 5 ms.

The home is ``<home>/bench/sql-p<N>-s<seed>``: prepared once (generate, ingest, build), from
``govlake bench build``'s ingested base when it exists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govlake.bench import machine, median, run_worker, save
from govlake.home import Home

WORKER = "govlake.bench.sql"
USER = "hz_analyst"
SCOPE = "3301"
#: repetitions of each query per trial (each is one governed and one raw run)
REPETITIONS = 40
WARMUP = 3
TARGET_RATIO = 1.2
TARGET_GUARD_MS = 5.0


@dataclass(frozen=True)
class Query:
    """One dashboard query: as the analyst writes it, and the same answer written by hand over the tables.

    ``raw`` is a template: ``{table:zone.name}`` becomes ``delta_scan('<path>')`` and
    ``{mask:kind:column}`` the mask of that kind applied to ``column``.
    """

    name: str
    description: str
    governed: str
    raw: str


QUERIES: tuple[Query, ...] = (
    Query(
        "persons_by_county", "population: living and insured persons per county (person-level, scoped)",
        "SELECT hukou_division, count(*) AS persons, count(*) FILTER (WHERE insured) AS insured "
        "FROM population WHERE alive GROUP BY hukou_division ORDER BY hukou_division",
        "SELECT hukou_division, count(*) AS persons, count(*) FILTER (WHERE insured) AS insured "
        "FROM {table:base.population} WHERE hukou_division LIKE '3301%' AND alive "
        "GROUP BY hukou_division ORDER BY hukou_division",
    ),
    Query(
        "age_pyramid", "population_structure: 杭州市 by five-year age band and sex (topic mart)",
        "SELECT age_band, sex, sum(hukou_persons) AS persons FROM population_structure "
        "WHERE division = '330100' GROUP BY age_band, sex ORDER BY age_band, sex",
        "SELECT age_band, sex, sum(hukou_persons) AS persons FROM {table:topic.population_by_division_age_sex} "
        "WHERE division LIKE '3301%' AND division = '330100' GROUP BY age_band, sex ORDER BY age_band, sex",
    ),
    Query(
        "registrations_by_month", "entity_registrations: 杭州市 registrations and cancellations per month",
        "SELECT month, sum(registered) AS registered, sum(cancelled) AS cancelled FROM entity_registrations "
        "WHERE division = '330100' GROUP BY month ORDER BY month",
        "SELECT month, sum(registered) AS registered, sum(cancelled) AS cancelled "
        "FROM {table:topic.entities_by_industry_division_month} WHERE division LIKE '3301%' AND division = '330100' "
        "GROUP BY month ORDER BY month",
    ),
    Query(
        "entities_by_industry", "legal_entity: entities and registered capital per industry and category",
        "SELECT industry_section, category, count(*) AS entities, sum(registered_capital) AS capital "
        "FROM legal_entity GROUP BY industry_section, category ORDER BY industry_section, category",
        "SELECT industry_section, category, count(*) AS entities, sum(registered_capital) AS capital "
        "FROM {table:base.legal_entity} WHERE division LIKE '3301%' "
        "GROUP BY industry_section, category ORDER BY industry_section, category",
    ),
    Query(
        "elderly_list", "population: a detail page, persons aged 70+ (masked ID, name and phone)",
        "SELECT resident_id, name, sex, age, hukou_division, phone FROM population "
        "WHERE age >= 70 ORDER BY age DESC, resident_id",
        "SELECT {mask:resident_id:resident_id} AS resident_id, {mask:name:name} AS name, sex, age, hukou_division, "
        "{mask:phone:phone} AS phone FROM {table:base.population} WHERE hukou_division LIKE '3301%' AND age >= 70 "
        "ORDER BY age DESC, {mask:resident_id:resident_id}",
    ),
)


def raw_sql(query: Query, home: Home, attached: dict[str, str] | None = None) -> str:
    """The baseline's text: tables as ``delta_scan`` of their paths (or, with ``attached``, as the
    catalog each ``zone.table`` is attached under), masks written out."""
    import re

    from views.masks import MASKS

    def table(match: re.Match[str]) -> str:
        if attached is not None:
            return f'"{attached[match.group(1)]}"'
        zone, name = match.group(1).split(".", 1)
        return f"delta_scan('{home.table_path(zone, name)}')"

    def mask(match: re.Match[str]) -> str:
        return "(" + MASKS[match.group(1)](match.group(2)) + ")"

    text = re.sub(r"\{table:([a-z_.]+)\}", table, query.raw)
    return re.sub(r"\{mask:([a-z_]+):([a-z_]+)\}", mask, text)


# --------------------------------------------------------------------------- preparing the home


def prepare(home: Home, persons: int, seed: int) -> Path:
    """The built home the bench runs on (prepared once per scale and seed)."""
    from govlake.bench.ingest import exports_for
    from lake.ingest import ingest
    from transforms.build import build

    folder = home.root / "bench" / f"sql-p{persons}-s{seed}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    base = home.root / "bench" / f"build-base-p{persons}-s{seed}"
    if (base / ".complete").exists():
        shutil.copytree(base, folder, symlinks=True)
        (folder / ".complete").unlink()
    else:
        ingest(Home(folder).ensure(), [exports_for(home, persons, seed)])
    build(Home(folder))
    (folder / ".complete").write_text("ok")
    return folder


# --------------------------------------------------------------------------- one trial (a subprocess)


def trial(target: Path, repetitions: int) -> dict[str, Any]:
    """Open both connections, check both sides agree, then time interleaved runs; return the timings."""
    import re

    from lake.extensions import connect
    from views.guard import check
    from views.session import open_session, table_locations

    home = Home(target)
    started = time.perf_counter()
    session = open_session(USER, home=home)
    setup_ms = (time.perf_counter() - started) * 1000
    raw = connect(extension_dir=home.extensions)
    grants = {view: list(session.columns(view)) for view in session.views()}
    raw_texts = {q.name: raw_sql(q, home) for q in QUERIES}
    # The second baseline: what a careful analyst could also do by hand, the same pinned
    # snapshot the session reads (ATTACH ... PIN_SNAPSHOT at the build's version). The ratio
    # to it is the governance machinery alone, with no help from snapshot caching.
    pinned = connect(extension_dir=home.extensions)
    attached: dict[str, str] = {}
    for name, location in table_locations(home, sorted(set(re.findall(r"\{table:([a-z_.]+)\}",
                                                                        " ".join(q.raw for q in QUERIES))))).items():
        attached[name] = f"pinned_{name.replace('.', '_')}"
        pinned.execute(f"ATTACH '{location.path}' AS \"{attached[name]}\" (TYPE delta, PIN_SNAPSHOT, "
                       f"VERSION {location.version})")
    pinned_texts = {q.name: raw_sql(q, home, attached) for q in QUERIES}

    def governed_run(query: Query) -> Any:
        return session.arrow(query.governed)

    def raw_run(query: Query) -> Any:
        return raw.execute(raw_texts[query.name]).arrow().read_all()

    def pinned_run(query: Query) -> Any:
        return pinned.execute(pinned_texts[query.name]).arrow().read_all()

    checked = {q.name: check(q.governed, user=USER, views=grants).sql_for_duckdb for q in QUERIES}

    def views_run(query: Query) -> Any:
        cursor = session._connection.cursor()  # deliberately past the session: the view layer alone
        try:
            return cursor.execute(checked[query.name]).arrow().read_all()
        finally:
            cursor.close()

    results: dict[str, dict[str, Any]] = {}
    for query in QUERIES:
        governed_rows = governed_run(query).to_pylist()
        for baseline in (raw_run, pinned_run):
            raw_rows = baseline(query).to_pylist()
            if sorted(map(repr, governed_rows)) != sorted(map(repr, raw_rows)):
                raise SystemExit(f"query {query.name}: the baseline does not return the governed rows "
                                 f"({len(governed_rows)} vs {len(raw_rows)} rows); fix QUERIES")
        for _ in range(WARMUP):
            governed_run(query)
            views_run(query)
            raw_run(query)
            pinned_run(query)
        guard = []
        for _ in range(repetitions):
            clock = time.perf_counter()
            check(query.governed, user=USER, views=grants)
            guard.append((time.perf_counter() - clock) * 1000)
        results[query.name] = {"rows": len(governed_rows), "governed_ms": [], "views_ms": [], "raw_ms": [],
                               "pinned_ms": [], "guard_ms": guard}
    sides = [("governed_ms", governed_run), ("views_ms", views_run), ("raw_ms", raw_run), ("pinned_ms", pinned_run)]
    for repetition in range(repetitions):
        for query in QUERIES:
            turn = repetition % len(sides)  # each side goes first, second and last equally often
            for key, run in sides[turn:] + sides[:turn]:
                clock = time.perf_counter()
                run(query)
                results[query.name][key].append((time.perf_counter() - clock) * 1000)
    session.close()
    raw.close()
    pinned.close()
    return {"setup_ms": setup_ms, "queries": results}


# --------------------------------------------------------------------------- the bench


def run(home: Home, *, persons: int, seed: int, runs: int) -> dict[str, Any]:
    target = prepare(home, persons, seed)
    load_before = os.getloadavg()
    trials = [run_worker(WORKER, str(target), str(REPETITIONS)) for _ in range(runs)]
    queries = {}
    for query in QUERIES:
        measured = [t["queries"][query.name] for t in trials]
        governed = [v for m in measured for v in m["governed_ms"]]
        raw = [v for m in measured for v in m["raw_ms"]]
        views_only = [v for m in measured for v in m["views_ms"]]
        pinned = [v for m in measured for v in m["pinned_ms"]]
        guard = [v for m in measured for v in m["guard_ms"]]
        paired = [g / r for m in measured for g, r in zip(m["governed_ms"], m["raw_ms"], strict=True)]
        queries[query.name] = {
            "description": query.description, "governed_sql": query.governed, "raw_sql_template": query.raw,
            "rows": measured[0]["rows"], "repetitions": len(governed),
            "governed_ms_median": median(governed), "views_ms_median": median(views_only),
            "raw_ms_median": median(raw),
            "governed_ms_min": min(governed), "raw_ms_min": min(raw),
            "ratio": median(governed) / median(raw), "paired_ratio_median": median(paired),
            "min_ratio": min(governed) / min(raw),
            "pinned_ms_median": median(pinned), "pinned_ratio": median(governed) / median(pinned),
            "guard_ms_median": median(guard),
        }
    result = {
        "bench": "sql", "date": dt.date.today().isoformat(), "machine": machine(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "command": f"govlake bench sql --persons {persons} --seed {seed} --runs {runs}",
        "persons": persons, "user": USER, "trials": runs, "repetitions_per_trial": REPETITIONS,
        "session_setup_ms_median": median([t["setup_ms"] for t in trials]),
        "queries": queries,
        "max_ratio": max(q["ratio"] for q in queries.values()),
        "max_pinned_ratio": max(q["pinned_ratio"] for q in queries.values()),
        "max_guard_ms": max(q["guard_ms_median"] for q in queries.values()),
        "targets": {"ratio": TARGET_RATIO, "guard_ms": TARGET_GUARD_MS},
    }
    result["saved_to"] = str(save(home.root / "bench", "sql", result))
    return result


def report(result: dict[str, Any]) -> str:
    width = max(len(name) for name in result["queries"])
    lines = [
        f"governed SQL as {result['user']} on {result['persons']:,} persons: medians of "
        f"{result['trials']} trials x {result['repetitions_per_trial']} interleaved runs "
        f"(1-min load average {result['load_average_before'][0]:.1f} before, {result['load_average_after'][0]:.1f} "
        "after)",
        f"  {'query':<{width}}  {'rows':>6}  {'governed':>9}  {'views':>9}  {'raw':>9}  {'ratio':>6}  {'paired':>6}  "
        f"{'min':>6}  {'pinned':>9}  {'/pinned':>7}  {'guard':>8}",
    ]
    for name, q in result["queries"].items():
        flags = ("" if q["ratio"] <= TARGET_RATIO else "  ratio over target") + (
            "" if q["guard_ms_median"] <= TARGET_GUARD_MS else "  guard over target")
        lines.append(f"  {name:<{width}}  {q['rows']:>6,}  {q['governed_ms_median']:>7.2f}ms  "
                     f"{q['views_ms_median']:>7.2f}ms  {q['raw_ms_median']:>7.2f}ms  {q['ratio']:>5.2f}x  "
                     f"{q['paired_ratio_median']:>5.2f}x  {q['min_ratio']:>5.2f}x  "
                     f"{q['pinned_ms_median']:>7.2f}ms  {q['pinned_ratio']:>6.2f}x  "
                     f"{q['guard_ms_median']:>6.2f}ms{flags}")
    lines += [
        f"  targets: ratio <= {TARGET_RATIO}x (worst {result['max_ratio']:.2f}x), guard <= {TARGET_GUARD_MS:g} ms "
        f"(worst {result['max_guard_ms']:.2f} ms); session setup {result['session_setup_ms_median']:.0f} ms",
        f"  against the pinned-snapshot baseline (the governance machinery alone): worst "
        f"{result['max_pinned_ratio']:.2f}x",
        f"  saved to {result['saved_to']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    home_path, repetitions = sys.argv[1:3]
    print(json.dumps(trial(Path(home_path), int(repetitions)), default=str))
