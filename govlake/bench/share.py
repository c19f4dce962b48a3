"""``govlake bench share``: what time-limited sharing grants cost a governed session.

**Per-query check.** Before every query a session reads its user's grant file and looks at
the clock (:meth:`lake.sharing.GrantWatch.changed`), so that a revocation or an expiry
takes effect on the next query. Timed on its own, many times: the median in microseconds,
next to the median governed query, gives the check's share of a query.

**Grant view against role view and raw.** ``hz_pubsec`` holds a grant of ``population``
columns (scope 3301) and also reads ``population`` through a role. Two dashboard-like
queries run on the grant's view (``shared_population``), on the role's view and directly
over ``delta_scan`` (the 3301 scope as one ``LIKE``), interleaved, after a warm-up; each
trial first checks that the three answer alike. Ratios are of medians.

**Taking effect.** In each trial: an unconditional request is granted at once; the first
query of the new view is timed (it re-plans the session and builds the user's governed
database again); the grant is revoked and the next query, refused, is timed (it re-plans
back to the set of views the session had before, whose database and connection are kept).

Trials run in fresh subprocesses (``--runs``); the home is a copy of ``govlake bench sql``'s
prepared home, with its own sharing state (``<home>/bench/share-p<N>-s<seed>``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from govlake.bench import machine, median, run_worker, save
from govlake.home import Home

WORKER = "govlake.bench.share"
USER = "hz_pubsec"
APPROVER = "mps_officer"
REPETITIONS = 30
WARMUP = 3
CHECK_CALLS = 5_000
GRANT_COLUMNS = ["resident_id", "sex", "age", "hukou_division", "alive"]
QUERIES = {
    "persons_by_county": "SELECT hukou_division, count(*) AS persons FROM {view} WHERE alive "
                         "GROUP BY hukou_division ORDER BY hukou_division",
    "elderly_by_sex": "SELECT sex, count(*) AS persons FROM {view} WHERE age >= 60 GROUP BY sex ORDER BY sex",
}


def prepare(home: Home, persons: int, seed: int) -> Path:
    """A copy of the sql bench's built home with one approved population grant to ``USER``."""
    from govlake.bench.sql import prepare as prepare_sql
    from lake import sharing

    source = prepare_sql(home, persons, seed)
    folder = home.root / "bench" / f"share-p{persons}-s{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder, symlinks=True, ignore=shutil.ignore_patterns("cache", "sharing", "spool"))
    shutil.rmtree(folder / "lake" / "system" / "share_events", ignore_errors=True)
    target = Home(folder)
    made = sharing.request(target, user=USER, target="population", columns=GRANT_COLUMNS,
                           purpose="基准测试：人口统计核查", legal_basis="《人民警察法》第六条（基准测试）",
                           period_days=sharing.MAX_PERIOD_DAYS)
    sharing.approve(target, user=APPROVER, request_id=made.id)
    return folder


def trial(target: Path, repetitions: int) -> dict[str, Any]:
    from govlake.errors import PolicyDenied
    from lake import sharing
    from lake.extensions import connect
    from views.session import open_session

    home = Home(target)
    session = open_session(USER, home=home)
    raw = connect(extension_dir=home.extensions)
    path = home.table_path("base", "population")
    texts = {name: {"grant": sql.format(view="shared_population"), "role": sql.format(view="population"),
                    "raw": sql.format(view=f"delta_scan('{path}')").replace(
                        "WHERE ", "WHERE hukou_division LIKE '3301%' AND ")}
             for name, sql in QUERIES.items()}

    def run(name: str, side: str) -> Any:
        if side == "raw":
            return raw.execute(texts[name]["raw"]).arrow().read_all()
        return session.arrow(texts[name][side])

    sides = ("grant", "role", "raw")
    results: dict[str, dict[str, list[float]]] = {}
    for name in QUERIES:
        answers = [sorted(map(repr, run(name, side).to_pylist())) for side in sides]
        if answers[0] != answers[1] or answers[0] != answers[2]:
            raise SystemExit(f"query {name}: grant, role and raw answers differ; fix QUERIES")
        for _ in range(WARMUP):
            for side in sides:
                run(name, side)
        results[name] = {side: [] for side in sides}
    for repetition in range(repetitions):
        for name in QUERIES:
            turn = repetition % len(sides)
            for side in sides[turn:] + sides[:turn]:
                clock = time.perf_counter()
                run(name, side)
                results[name][side].append((time.perf_counter() - clock) * 1000)

    watch = session._watch  # the per-query check alone
    checks = []
    for _ in range(5):
        clock = time.perf_counter()
        for _ in range(CHECK_CALLS):
            watch.changed()
        checks.append((time.perf_counter() - clock) / CHECK_CALLS * 1e6)

    clock = time.perf_counter()
    made = sharing.request(home, user=USER, target="legal_entity", columns=["uscc", "category", "division"],
                           purpose="基准测试：授权生效时间", legal_basis="《优化营商环境条例》（基准测试）",
                           period_days=1)
    request_ms = (time.perf_counter() - clock) * 1000
    assert made.grant_id is not None, made
    clock = time.perf_counter()
    session.arrow("SELECT count(*) AS n FROM shared_legal_entity")
    first_query_ms = (time.perf_counter() - clock) * 1000
    clock = time.perf_counter()
    sharing.revoke(home, user=USER, grant_id=made.grant_id, reason="基准测试结束")
    revoke_ms = (time.perf_counter() - clock) * 1000
    clock = time.perf_counter()
    try:
        session.arrow("SELECT count(*) AS n FROM shared_legal_entity")
    except PolicyDenied:
        refused_ms = (time.perf_counter() - clock) * 1000
    else:
        raise SystemExit("the revoked grant was still usable on the next query")
    session.close()
    raw.close()
    return {"queries": results, "check_us": checks, "request_ms": request_ms, "first_query_ms": first_query_ms,
            "revoke_ms": revoke_ms, "refused_query_ms": refused_ms, "check_bytes": len(watch._bytes)}


def run(home: Home, *, persons: int, seed: int, runs: int) -> dict[str, Any]:
    target = prepare(home, persons, seed)
    load_before = os.getloadavg()
    trials = [run_worker(WORKER, str(target), str(REPETITIONS)) for _ in range(runs)]
    queries: dict[str, dict[str, Any]] = {}
    for name in QUERIES:
        sides = {side: [v for t in trials for v in t["queries"][name][side]] for side in ("grant", "role", "raw")}
        queries[name] = {
            "sql": QUERIES[name].format(view="shared_population"),
            **{f"{side}_ms_median": median(values) for side, values in sides.items()},
            "grant_over_raw": median(sides["grant"]) / median(sides["raw"]),
            "grant_over_role": median(sides["grant"]) / median(sides["role"]),
        }
    check_us = median([v for t in trials for v in t["check_us"]])
    result = {
        "bench": "share", "date": dt.date.today().isoformat(), "machine": machine(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "command": f"govlake bench share --persons {persons} --seed {seed} --runs {runs}",
        "persons": persons, "user": USER, "trials": runs, "repetitions_per_trial": REPETITIONS,
        "check_us_median": check_us, "check_file_bytes": trials[0]["check_bytes"],
        "check_share_of_query": check_us / 1000 / min(q["grant_ms_median"] for q in queries.values()),
        "queries": queries,
        **{f"{key}_median": median([t[key] for t in trials])
           for key in ("request_ms", "first_query_ms", "revoke_ms", "refused_query_ms")},
    }
    result["saved_to"] = str(save(home.root / "bench", "share", result))
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"sharing grants as {result['user']} on {result['persons']:,} persons: medians of {result['trials']} trials "
        f"(1-min load average {result['load_average_before'][0]:.1f} before, {result['load_average_after'][0]:.1f} "
        "after)",
        f"  per-query grant check: {result['check_us_median']:.1f} µs (reads a {result['check_file_bytes']}-byte "
        f"file), {result['check_share_of_query']:.2%} of the fastest governed query",
        f"  {'query':<18}  {'grant view':>10}  {'role view':>10}  {'raw':>9}  {'grant/raw':>9}  {'grant/role':>10}",
    ]
    for name, q in result["queries"].items():
        lines.append(f"  {name:<18}  {q['grant_ms_median']:>8.2f}ms  {q['role_ms_median']:>8.2f}ms  "
                     f"{q['raw_ms_median']:>7.2f}ms  {q['grant_over_raw']:>8.2f}x  {q['grant_over_role']:>9.2f}x")
    lines += [
        f"  unconditional request granted in {result['request_ms_median']:.0f} ms; first query of the new view "
        f"{result['first_query_ms_median']:.0f} ms (re-plan and governed database rebuild)",
        f"  revoke {result['revoke_ms_median']:.0f} ms; next query refused in "
        f"{result['refused_query_ms_median']:.0f} ms (re-plan; the database without the grant is reused)",
        f"  saved to {result['saved_to']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    home_path, repetitions = sys.argv[1:3]
    print(json.dumps(trial(Path(home_path), int(repetitions)), default=str))
