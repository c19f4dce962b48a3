"""Problem-data feedback tickets (lake/feedback.py): grouping, SLA due dates, the lifecycle, refusals, idempotency.

The quality tables are written here with lake.delta, in the shape `govlake quality run` writes
them (system.quality_results / system.quality_failures), over batches really ingested into a
small home, so tickets point at real batches and files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.errors import GovLakeError, NotFound, PolicyDenied, StateError
from govlake.home import Home
from lake import audit, delta, feedback, ledger
from lake.ingest import ingest
from tests.lake.conftest import HUKOU_ROWS

RULE = "hukou.resident_id.check_char"
ACTOR = "hz_pubsec"


def _hukou_batch(home: Home, write_csv: Callable[..., Path], name: str, rows: list[dict[str, str]]) -> tuple[str, str]:
    path = write_csv(name, rows)
    (outcome,) = ingest(home, [path])
    assert outcome.status == "loaded", outcome.message
    assert outcome.batch_id is not None
    return outcome.batch_id, str(path)


@pytest.fixture
def batches(home: Home, write_csv: Callable[..., Path]) -> dict[str, tuple[str, str]]:
    """Two batches of 户籍人口 (the first with the problems, the second the department's correction)."""
    first = _hukou_batch(home, write_csv, "公安_户籍人口_20261101.csv", HUKOU_ROWS)
    corrected = [{**row, "更新日期": "2026-11-21"} for row in HUKOU_ROWS]
    second = _hukou_batch(home, write_csv, "公安_户籍人口_20261121.csv", corrected)
    return {"first": first, "second": second}


def write_run(home: Home, run_id: str, run_at: dt.datetime, *, checked: list[tuple[str, str, str | None, int]],
              failures: list[dict[str, object]]) -> None:
    """Append one quality run: results (rule, dataset, batch, checked) and failing records."""
    failed: dict[tuple[str, str, str | None], int] = {}
    for row in failures:
        key = (str(row["rule_id"]), str(row.get("dataset", "hukou")), row.get("batch_id"))  # type: ignore[arg-type]
        failed[key] = failed.get(key, 0) + 1
    results = pl.DataFrame([
        {"run_id": run_id, "run_at": run_at, "rule_id": rule, "stage": "before", "dimension": "validity",
         "dataset": dataset, "batch_id": batch, "source_file": None, "department": "public_security",
         "checked": count, "failed": failed.get((rule, dataset, batch), 0), "sample_keys": []}
        for rule, dataset, batch, count in checked
    ], schema={"run_id": pl.String, "run_at": pl.Datetime("us", "UTC"), "rule_id": pl.String, "stage": pl.String,
               "dimension": pl.String, "dataset": pl.String, "batch_id": pl.String, "source_file": pl.String,
               "department": pl.String, "checked": pl.Int64, "failed": pl.Int64, "sample_keys": pl.List(pl.String)})
    delta.write(home.table_path("system", "quality_results"), results.to_arrow())
    frame = pl.DataFrame([
        {"run_id": run_id, "rule_id": row["rule_id"], "dimension": row.get("dimension", "validity"),
         "dataset": row.get("dataset", "hukou"), "department": row.get("department", "public_security"),
         "batch_id": row.get("batch_id"), "source_file": row.get("source_file"), "source_row": row.get("source_row"),
         "record_key": row.get("record_key"), "field": row.get("field", "resident_id"), "value": row.get("value"),
         "detail": row.get("detail", "check character is wrong")}
        for row in failures
    ], schema={"run_id": pl.String, "rule_id": pl.String, "dimension": pl.String, "dataset": pl.String,
               "department": pl.String, "batch_id": pl.String, "source_file": pl.String, "source_row": pl.Int64,
               "record_key": pl.String, "field": pl.String, "value": pl.String, "detail": pl.String})
    delta.write(home.table_path("system", "quality_failures"), frame.to_arrow())


def write_rechecks(home: Home, run_id: str, ticket_id: str, *, rule: str = RULE, dataset: str = "hukou",
                   corrected_by: str, records: list[tuple[str, str | None, bool | None]]) -> None:
    """What a quality run records for a corrected ticket: (record key, batch that checked it or None, failed)."""
    frame = pl.DataFrame([
        {"run_id": run_id, "ticket_id": ticket_id, "rule_id": rule, "dataset": dataset,
         "corrected_by_batch": corrected_by, "record_key": key, "checked": batch is not None, "batch_id": batch,
         "failed": failed}
        for key, batch, failed in records
    ], schema={"run_id": pl.String, "ticket_id": pl.String, "rule_id": pl.String, "dataset": pl.String,
               "corrected_by_batch": pl.String, "record_key": pl.String, "checked": pl.Boolean, "batch_id": pl.String,
               "failed": pl.Boolean})
    delta.write(home.table_path("system", "quality_rechecks"), frame.to_arrow())


def failure(batch: tuple[str, str], key: str, row: int, *, rule: str = RULE, **extra: object) -> dict[str, object]:
    return {"rule_id": rule, "batch_id": batch[0], "source_file": batch[1], "source_row": row, "record_key": key,
            "value": key, **extra}


def events(home: Home) -> pl.DataFrame:
    rows = ledger.read(feedback.events_path(home))
    assert rows is not None
    return rows


def feedback_audit(home: Home) -> list[dict[str, object]]:
    return [e for e in audit.entries(home) if str(e["statement_kind"] or "").startswith("feedback.")]


NOW = dt.datetime.now(dt.UTC)


def test_sync_groups_failures_into_attributable_tickets_with_sla_due_dates(home: Home, batches) -> None:
    first = batches["first"]
    write_run(home, "run-1", NOW, checked=[(RULE, "hukou", first[0], 2), ("hukou.name.required", "hukou", first[0], 2)],
              failures=[failure(first, "K1", 2), failure(first, "K2", 3),
                        failure(first, "K1", 2, rule="hukou.name.required", dimension="completeness", field="name"),
                        # a record failing twice for one rule counts once
                        failure(first, "K2", 3, detail="second finding")])
    report = feedback.sync_tickets(home, "run-1")
    assert len(report.opened) == 2 and report.failing_records == 4
    check = feedback.ticket(home, feedback.ticket_id_for("public_security", "hukou", RULE, first[0]))
    assert (check.state, check.department, check.dataset, check.batch_id) == ("open", "public_security", "hukou",
                                                                               first[0])
    assert check.source_file == first[1], "the file that introduced the problem"
    assert check.failed_records == 2 and check.checked_records == 2
    assert set(check.sample_keys) == {"K1", "K2"} and check.samples[0]["source_row"] == 2
    # 公安 answers within sla_days = 10 (lake/catalog/departments.toml), counted in Beijing days
    assert check.due_date == ledger.beijing_date(NOW) + dt.timedelta(days=10)
    required = feedback.ticket(home, feedback.ticket_id_for("public_security", "hukou", "hukou.name.required",
                                                            first[0]))
    assert required.dimension == "completeness" and required.failed_records == 1
    assert {t.ticket_id for t in feedback.tickets(home, department="公安")} == {check.ticket_id, required.ticket_id}
    assert feedback.tickets(home, department="civil_affairs") == []


def test_sync_is_idempotent_for_a_run(home: Home, batches) -> None:
    first = batches["first"]
    write_run(home, "run-1", NOW, checked=[(RULE, "hukou", first[0], 2)], failures=[failure(first, "K1", 2)])
    feedback.sync_tickets(home, "run-1")
    before = events(home)
    again = feedback.sync_tickets(home, "run-1")
    assert again.already and not again.opened
    assert events(home).equals(before), "a re-run of the same run id writes nothing"
    syncs = [json.loads(str(e["sql"])) for e in feedback_audit(home) if e["statement_kind"] == "feedback.sync"]
    assert [s["already_synced"] for s in syncs] == [False, True], "both calls are audited"


def test_a_run_without_failures_is_remembered_as_synced(home: Home, batches) -> None:
    write_run(home, "clean", NOW, checked=[(RULE, "hukou", batches["first"][0], 2)], failures=[])
    assert not feedback.sync_tickets(home, "clean").already
    assert feedback.sync_tickets(home, "clean").already
    assert feedback.tickets(home) == []


def test_unknown_run_is_refused(home: Home, batches) -> None:
    with pytest.raises(NotFound, match=r"no rows in system\.quality_results"):
        feedback.sync_tickets(home, "no-such-run")


def test_lifecycle_verified_only_by_a_later_run_that_rechecks_the_corrected_batch(home: Home, batches) -> None:
    first, second = batches["first"], batches["second"]
    write_run(home, "run-1", NOW - dt.timedelta(hours=3), checked=[(RULE, "hukou", first[0], 2)],
              failures=[failure(first, "K1", 2), failure(first, "K2", 3)])
    feedback.sync_tickets(home, "run-1")
    tid = feedback.ticket_id_for("public_security", "hukou", RULE, first[0])
    assert feedback.acknowledge(home, tid, user=ACTOR).state == "acknowledged"
    corrected = feedback.resolve(home, tid, user=ACTOR, corrected_by_batch=second[0])
    assert (corrected.state, corrected.corrected_by_batch) == ("corrected", second[0])

    # a run that does not check the correcting batch leaves the ticket waiting
    write_run(home, "run-2", NOW - dt.timedelta(hours=2), checked=[("hukou.name.required", "hukou", second[0], 2)],
              failures=[])
    feedback.sync_tickets(home, "run-2")
    assert feedback.ticket(home, tid).state == "corrected"

    # the correcting batch re-checked, one of the ticket's records still failing: back to open, with a note
    write_run(home, "run-3", NOW - dt.timedelta(hours=1), checked=[(RULE, "hukou", second[0], 2)],
              failures=[failure(second, "K2", 3)])
    write_rechecks(home, "run-3", tid, corrected_by=second[0], records=[("K1", second[0], False),
                                                                         ("K2", second[0], True)])
    report = feedback.sync_tickets(home, "run-3")
    reopened = feedback.ticket(home, tid)
    assert report.reopened == [tid] and reopened.state == "open"
    assert "1 of the 2 records still fail" in (reopened.note or "") and "(K2)" in (reopened.note or "")
    assert reopened.due_date == ledger.beijing_date(NOW - dt.timedelta(hours=1)) + dt.timedelta(days=10)
    # the failure in the correcting batch is also a ticket of its own, attributed to that batch
    assert feedback.ticket_id_for("public_security", "hukou", RULE, second[0]) in report.opened

    feedback.resolve(home, tid, user=ACTOR, corrected_by_batch=second[0], note="fixed K2 too")
    write_run(home, "run-4", NOW, checked=[(RULE, "hukou", second[0], 2)], failures=[])
    write_rechecks(home, "run-4", tid, corrected_by=second[0], records=[("K1", second[0], False),
                                                                         ("K2", second[0], False)])
    assert feedback.sync_tickets(home, "run-4").verified == [tid]
    verified = feedback.ticket(home, tid)
    assert verified.state == "verified" and "passes for all 2 records" in (verified.note or "")
    history = feedback.history(home, tid)
    assert [e["action"] for e in history] == ["open", "acknowledge", "correct", "reopen", "correct", "verify"]
    assert [e["actor"] for e in history if e["action"] in ("verify", "reopen")] == ["govlake", "govlake"]


def test_a_correcting_batch_that_leaves_a_record_out_is_not_verified(home: Home, batches,
                                                                     write_csv: Callable[..., Path]) -> None:
    """Counts per batch cannot tell a corrected record from a missing one; the run's re-check rows can."""
    first, second = batches["first"], batches["second"]
    write_run(home, "run-1", NOW - dt.timedelta(hours=3), checked=[(RULE, "hukou", first[0], 3)],
              failures=[failure(first, "K1", 2), failure(first, "K2", 3), failure(first, "K3", 4)])
    feedback.sync_tickets(home, "run-1")
    tid = feedback.ticket_id_for("public_security", "hukou", RULE, first[0])
    assert feedback.ticket_keys(home, [feedback.ticket(home, tid)]) == {tid: ["K1", "K2", "K3"]}
    feedback.resolve(home, tid, user=ACTOR, corrected_by_batch=second[0])

    # the rule re-checked the correcting batch and nothing failed there, but the run recorded no
    # record of the ticket (it did not know of the correction): nothing is decided
    write_run(home, "run-2", NOW - dt.timedelta(hours=2), checked=[(RULE, "hukou", second[0], 2)], failures=[])
    assert feedback.sync_tickets(home, "run-2").verified == []
    assert feedback.ticket(home, tid).state == "corrected"

    # the batch holds K1 and K2, corrected, and leaves K3 out: back to open, naming K3
    write_run(home, "run-3", NOW - dt.timedelta(hours=1), checked=[(RULE, "hukou", second[0], 2)], failures=[])
    write_rechecks(home, "run-3", tid, corrected_by=second[0], records=[("K1", second[0], False),
                                                                         ("K2", second[0], False), ("K3", None, None)])
    report = feedback.sync_tickets(home, "run-3")
    reopened = feedback.ticket(home, tid)
    assert report.reopened == [tid] and report.verified == [] and reopened.state == "open"
    note = reopened.note or ""
    assert "1 of the 3 records are missing from the correcting batch" in note and "(K3)" in note, note
    assert "still fail" not in note
    assert reopened.due_date == ledger.beijing_date(NOW - dt.timedelta(hours=1)) + dt.timedelta(days=10)

    # re-sent with K3 in a later batch: K1 and K2 checked in the correction, K3 in the later batch
    third = _hukou_batch(home, write_csv, "公安_户籍人口_20261122.csv",
                         [{**row, "更新日期": "2026-11-22"} for row in HUKOU_ROWS])
    feedback.resolve(home, tid, user=ACTOR, corrected_by_batch=second[0])
    write_run(home, "run-4", NOW, checked=[(RULE, "hukou", second[0], 2), (RULE, "hukou", third[0], 1)], failures=[])
    write_rechecks(home, "run-4", tid, corrected_by=second[0],
                   records=[("K1", second[0], False), ("K2", second[0], False), ("K3", third[0], False)])
    assert feedback.sync_tickets(home, "run-4").verified == [tid]
    verified = feedback.ticket(home, tid)
    assert verified.state == "verified" and "passes for all 3 records" in (verified.note or "")
    assert third[0] in (verified.note or ""), "the note says which later batch re-checked a record"


def test_a_correction_not_yet_rechecked_by_the_rule_waits(home: Home, batches) -> None:
    """Rows saying no record was checked, and no result of the rule for the batch: the rule has not
    looked at the batch yet (a library rule judges built batches only), so the ticket waits."""
    first, second = batches["first"], batches["second"]
    write_run(home, "run-1", NOW - dt.timedelta(hours=2), checked=[(RULE, "hukou", first[0], 2)],
              failures=[failure(first, "K1", 2)])
    feedback.sync_tickets(home, "run-1")
    tid = feedback.ticket_id_for("public_security", "hukou", RULE, first[0])
    feedback.resolve(home, tid, user=ACTOR, corrected_by_batch=second[0])
    write_run(home, "run-2", NOW, checked=[("hukou.name.required", "hukou", second[0], 2)], failures=[])
    write_rechecks(home, "run-2", tid, corrected_by=second[0], records=[("K1", None, None)])
    report = feedback.sync_tickets(home, "run-2")
    assert report.verified == report.reopened == [] and feedback.ticket(home, tid).state == "corrected"


def test_a_ticket_without_record_keys_is_judged_on_its_batch(home: Home, batches) -> None:
    """A quarantined line has no record key: the correcting batch passing the rule verifies it."""
    first, second = batches["first"], batches["second"]
    parse = "contract.parse.hukou"
    write_run(home, "run-1", NOW - dt.timedelta(hours=1), checked=[(parse, "hukou", first[0], 3)],
              failures=[failure(first, None, 4, rule=parse, field=None)])  # type: ignore[arg-type]
    feedback.sync_tickets(home, "run-1")
    tid = feedback.ticket_id_for("public_security", "hukou", parse, first[0])
    assert feedback.ticket(home, tid).sample_keys == ()
    feedback.resolve(home, tid, user=ACTOR, corrected_by_batch=second[0])
    write_run(home, "run-2", NOW, checked=[(parse, "hukou", second[0], 2)], failures=[])
    assert feedback.sync_tickets(home, "run-2").verified == [tid]


def test_no_command_sets_verified_by_hand(home: Home, batches, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(home, "run-1", NOW, checked=[(RULE, "hukou", batches["first"][0], 2)],
              failures=[failure(batches["first"], "K1", 2)])
    feedback.sync_tickets(home, "run-1")
    tid = feedback.ticket_id_for("public_security", "hukou", RULE, batches["first"][0])
    with pytest.raises(SystemExit):
        main(["--home", str(home.root), "feedback", "resolve", tid, "--user", ACTOR, "--verified"])
    assert set(feedback.TRANSITIONS) == {"acknowledge", "correct", "reject"}
    assert all(target != "verified" for _, target in feedback.TRANSITIONS.values())


def test_resolving_a_closed_ticket_is_refused_audited_and_changes_nothing(home: Home, batches) -> None:
    write_run(home, "run-1", NOW, checked=[(RULE, "hukou", batches["first"][0], 2)],
              failures=[failure(batches["first"], "K1", 2)])
    feedback.sync_tickets(home, "run-1")
    tid = feedback.ticket_id_for("public_security", "hukou", RULE, batches["first"][0])
    rejected = feedback.resolve(home, tid, user=ACTOR, reject="the check character is right: a legacy 15-digit ID")
    assert rejected.state == "rejected" and rejected.reason.startswith("the check character is right")
    before = events(home)
    for attempt in ({"reject": "again"}, {"corrected_by_batch": batches["second"][0]}):
        with pytest.raises(StateError, match=r"closed.*nothing was changed"):
            feedback.resolve(home, tid, user=ACTOR, **attempt)  # type: ignore[arg-type]
    with pytest.raises(StateError):
        feedback.acknowledge(home, tid, user=ACTOR)
    assert events(home).equals(before)
    assert feedback.ticket(home, tid).state == "rejected"
    refused = [e for e in feedback_audit(home) if e["decision"] == "refused"]
    assert [e["statement_kind"] for e in refused] == ["feedback.reject", "feedback.correct", "feedback.acknowledge"]
    assert all("closed" in str(e["reason"]) for e in refused)
    # a later run finding the same records again does not reopen a rejected ticket
    write_run(home, "run-2", NOW, checked=[(RULE, "hukou", batches["first"][0], 2)],
              failures=[failure(batches["first"], "K1", 2)])
    feedback.sync_tickets(home, "run-2")
    assert feedback.ticket(home, tid).state == "rejected"


def test_bad_resolutions_are_refused_and_change_nothing(home: Home, batches) -> None:
    write_run(home, "run-1", NOW, checked=[(RULE, "hukou", batches["first"][0], 2)],
              failures=[failure(batches["first"], "K1", 2)])
    feedback.sync_tickets(home, "run-1")
    tid = feedback.ticket_id_for("public_security", "hukou", RULE, batches["first"][0])
    before = events(home)
    with pytest.raises(NotFound, match=r"not in system\.ingest_log"):
        feedback.resolve(home, tid, user=ACTOR, corrected_by_batch="hukou-0000000000000000")
    with pytest.raises(StateError, match="introduced the problem"):
        feedback.resolve(home, tid, user=ACTOR, corrected_by_batch=batches["first"][0])
    with pytest.raises(PolicyDenied, match="unknown user"):
        feedback.acknowledge(home, tid, user="nobody")
    with pytest.raises(GovLakeError, match="exactly one"):
        feedback.resolve(home, tid, user=ACTOR)
    with pytest.raises(GovLakeError, match="needs a reason"):
        feedback.resolve(home, tid, user=ACTOR, reject="  ")
    with pytest.raises(NotFound, match="no feedback ticket"):
        feedback.acknowledge(home, "FB-NOPE", user=ACTOR)
    assert events(home).equals(before)


def test_overdue_tickets(home: Home, batches) -> None:
    long_ago = NOW - dt.timedelta(days=30)
    write_run(home, "old", long_ago, checked=[(RULE, "hukou", batches["first"][0], 2)],
              failures=[failure(batches["first"], "K1", 2)])
    feedback.sync_tickets(home, "old")
    (late,) = feedback.tickets(home, state="overdue")
    assert late.due_date == ledger.beijing_date(long_ago) + dt.timedelta(days=10) and late.overdue()
    feedback.resolve(home, late.ticket_id, user=ACTOR, corrected_by_batch=batches["second"][0])
    assert feedback.tickets(home, state="overdue") == [], "a corrected ticket waits for the run, not the department"


def test_cli_list_show_ack_resolve(home: Home, batches, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(home, "run-1", NOW, checked=[(RULE, "hukou", batches["first"][0], 2)],
              failures=[failure(batches["first"], "K1", 2)])
    root = str(home.root)
    assert main(["--home", root, "feedback", "sync", "run-1"]) == 0
    assert "1 tickets opened" in capsys.readouterr().out
    assert main(["--home", root, "feedback", "list", "--department", "公安", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    tid = listed["ticket_id"]
    assert listed["state"] == "open" and listed["batch_id"] == batches["first"][0] and not listed["overdue"]
    assert main(["--home", root, "feedback", "ack", tid, "--user", ACTOR]) == 0
    assert main(["--home", root, "feedback", "resolve", tid, "--user", ACTOR, "--reject", "not a defect"]) == 0
    capsys.readouterr()
    assert main(["--home", root, "feedback", "resolve", tid, "--user", ACTOR, "--reject", "again"]) == 1
    assert "closed" in capsys.readouterr().err
    assert main(["--home", root, "feedback", "show", tid]) == 0
    shown = capsys.readouterr().out
    assert "open" in shown and "acknowledge" in shown and "rejected: not a defect" in shown
    assert main(["--home", root, "feedback", "list", "--state", "rejected"]) == 0
    assert tid in capsys.readouterr().out
    assert main(["--home", root, "feedback", "list", "--state", "closed"]) == 1
    assert "unknown ticket state" in capsys.readouterr().err


# --------------------------------------------------------------------------- with a real quality run


def _correction(home: Home, folder: Path, batch: str, keys: list[str], truth: pl.DataFrame, *, name: str,
                leave_wrong: int = 0) -> Path:
    """The department's re-send of the ticket's records (its ordinary JSON Lines export), wife_id corrected
    from the generator's truth, except the last ``leave_wrong`` records."""
    from lake.catalog import load_catalog

    items = load_catalog().dataset("marriages").items
    raw = (delta.read(home.table_path("raw", "marriages"))
           .filter((pl.col("_batch_id") == batch) & pl.col("registration_no").is_in(keys)).sort("registration_no"))
    fixed = dict(truth.select("record_key", "true_value").iter_rows())
    lines = []
    for index, row in enumerate(raw.iter_rows(named=True)):
        if index < raw.height - leave_wrong:
            row["wife_id"] = fixed[row["registration_no"]]
        lines.append(json.dumps({item.source: row[item.column] for item in items}, ensure_ascii=False))
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quality_run(home: Home, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """`govlake quality run --json` (which ends by syncing the tickets), its answer as data."""
    capsys.readouterr()
    assert main(["--home", str(home.root), "quality", "run", "--json"]) == 0
    answer: dict[str, object] = json.loads(capsys.readouterr().out)
    return answer


def test_a_real_quality_run_opens_tickets_and_a_later_run_verifies_the_correction(
        built_home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    root = tmp_path / "home"
    shutil.copytree(built_home.root, root, ignore=shutil.ignore_patterns("cache", "spool", "duckdb_extensions"))
    home = Home(root)
    first = quality_run(home, capsys)
    assert first["status"] == "recorded" and first["tickets"]["opened"] > 0  # type: ignore[index]
    rule = "validity.element.marriages.wife_id"
    truth = pl.read_parquet(home.exports / "truth" / "defects.parquet").filter(
        (pl.col("dataset") == "marriages") & (pl.col("field") == "wife_id") & pl.col("true_value").is_not_null())
    candidates = [t for t in feedback.tickets(home, department="civil_affairs") if t.rule_id == rule
                  and t.failed_records >= 2]
    assert candidates, "the demo has invalid wife IDs (wrong check characters, mistyped digits)"
    ticket = candidates[0]
    failures = delta.read(home.table_path("system", "quality_failures")).filter(
        (pl.col("run_id") == first["run_id"]) & (pl.col("rule_id") == rule) & (pl.col("batch_id") == ticket.batch_id))
    keys = sorted(failures["record_key"].unique().to_list())
    assert ticket.failed_records == len(keys) and set(ticket.sample_keys) <= set(keys)
    assert ticket.source_file is not None and ticket.source_file.endswith(".jsonl")
    truth = truth.filter(pl.col("record_key").is_in(keys)).unique("record_key")
    assert truth.height == len(keys), "every flagged record is an injected defect (generator truth)"

    # the same run again (same inputs, same run id) adds no ticket and no event
    before = events(home)
    assert quality_run(home, capsys)["status"] == "already"
    assert events(home).equals(before)

    # a correction that misses one record: the next run re-checks that batch and reopens the ticket
    partial = _correction(home, tmp_path, ticket.batch_id or "", keys, truth, name="民政_婚姻登记_20261122.jsonl",
                          leave_wrong=1)
    (landed,) = ingest(home, [partial])
    assert landed.status == "loaded" and landed.batch_id
    feedback.acknowledge(home, ticket.ticket_id, user="mca_officer")
    feedback.resolve(home, ticket.ticket_id, user="mca_officer", corrected_by_batch=landed.batch_id)
    second = quality_run(home, capsys)
    assert second["run_id"] != first["run_id"] and second["tickets"]["reopened"] == 1  # type: ignore[index]
    reopened = feedback.ticket(home, ticket.ticket_id)
    assert reopened.state == "open" and f"1 of the {len(keys)} records still fail" in (reopened.note or "")

    # the full correction: verified by the next run, never by hand
    full = _correction(home, tmp_path, ticket.batch_id or "", keys, truth, name="民政_婚姻登记_20261123.jsonl")
    (landed,) = ingest(home, [full])
    assert landed.status == "loaded" and landed.batch_id
    feedback.resolve(home, ticket.ticket_id, user="mca_officer", corrected_by_batch=landed.batch_id)
    assert feedback.ticket(home, ticket.ticket_id).state == "corrected"
    third = quality_run(home, capsys)
    assert third["tickets"]["verified"] == 1  # type: ignore[index]
    assert feedback.ticket(home, ticket.ticket_id).state == "verified"
    assert [e["action"] for e in feedback.history(home, ticket.ticket_id)] == [
        "open", "acknowledge", "correct", "reopen", "correct", "verify"]
    # the other department's user may not act on it
    with pytest.raises(PolicyDenied, match="civil_affairs"):
        feedback.acknowledge(home, reopened.ticket_id, user="mps_officer")
