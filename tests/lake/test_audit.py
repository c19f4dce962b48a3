"""The hash-chained audit trail: appends stay linear and cheap; edits and deletions are found."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import time
from itertools import pairwise
from pathlib import Path

import pytest
from deltalake import DeltaTable

from govlake.cli import main
from govlake.home import Home
from lake import audit
from lake.audit import AuditChainBroken, AuditEntry


def entry(user: str = "hz_analyst", n: int = 0, decision: str = "allowed") -> AuditEntry:
    return AuditEntry(user=user, sql=f"SELECT {n} FROM population", decision=decision,
                      views=("population",), columns=("population.resident_id",), rows=n, duration_ms=1.25)


def fill(home: Home, count: int, *, flush_every: int = 0) -> None:
    for n in range(count):
        audit.record(home, entry(n=n))
        if flush_every and (n + 1) % flush_every == 0:
            audit.flush(home)


def test_entries_chain_and_verify(home: Home) -> None:
    fill(home, 7, flush_every=3)
    report = audit.verify(home)
    assert (report.entries, report.pending) == (7, 1)
    rows = audit.entries(home)
    assert [r["seq"] for r in rows] == list(range(1, 8))
    assert rows[0]["prev_hash"] == audit.GENESIS and all(a["hash"] == b["prev_hash"] for a, b in pairwise(rows))
    assert audit.verify(home).pending == 0 and audit.verify(home).head_hash == rows[-1]["hash"]
    assert rows[2]["columns"] == ["population.resident_id"] and rows[2]["rows"] == 2


def test_an_edited_entry_is_found(home: Home) -> None:
    fill(home, 5)
    audit.flush(home)
    DeltaTable(str(audit.table_path(home))).update(updates={"rows": "999"}, predicate="seq = 3")
    with pytest.raises(AuditChainBroken, match=r"audit entry 3 .* was edited") as broken:
        audit.verify(home)
    assert broken.value.seq == 3


def test_an_edit_that_recomputes_the_hash_breaks_the_next_link(home: Home) -> None:
    fill(home, 5)
    rows = audit.entries(home)
    forged = dict(rows[2], rows=999)
    forged["hash"] = audit.entry_hash(forged)
    DeltaTable(str(audit.table_path(home))).update(updates={"rows": "999", "hash": f"'{forged['hash']}'"},
                                                   predicate="seq = 3")
    with pytest.raises(AuditChainBroken, match=r"audit entry 4 .* does not chain to entry 3"):
        audit.verify(home)


@pytest.mark.parametrize(("deleted", "message"), [
    ("seq = 3", "entry 3 is missing before audit entry 4"),
    ("seq = 1", "entry 1 is missing before audit entry 2"),
    ("seq >= 4", "entries 4–5 were deleted from the end"),
])
def test_a_deleted_entry_is_found(home: Home, deleted: str, message: str) -> None:
    fill(home, 5)
    audit.flush(home)
    DeltaTable(str(audit.table_path(home))).delete(deleted)
    with pytest.raises(AuditChainBroken, match=message):
        audit.verify(home)


def test_appends_after_a_deletion_do_not_hide_it(home: Home) -> None:
    fill(home, 5)
    audit.flush(home)
    DeltaTable(str(audit.table_path(home))).delete("seq = 5")
    (home.root / "spool" / "audit.tail.json").unlink()  # an attacker removes the local head too
    fill(home, 2)
    audit.flush(home)
    with pytest.raises(AuditChainBroken, match="entry 5 is missing"):
        audit.verify(home)


def test_an_edited_pending_entry_is_found(home: Home) -> None:
    fill(home, 3)
    spool = home.root / "spool" / "audit.jsonl"
    spool.write_text(spool.read_text(encoding="utf-8").replace('"rows":1', '"rows":0'), encoding="utf-8")
    with pytest.raises(AuditChainBroken, match=r"audit entry 2 .* was edited"):
        audit.verify(home)


def test_flush_is_idempotent_after_a_crash(home: Home) -> None:
    fill(home, 4)
    spool = home.root / "spool" / "audit.jsonl"
    kept = spool.read_bytes()
    audit.flush(home)
    spool.write_bytes(kept)  # as if the process died after the commit, before removing the spool
    audit.flush(home)
    assert [r["seq"] for r in audit.entries(home)] == [1, 2, 3, 4]
    audit.verify(home)


def test_a_torn_last_line_is_dropped(home: Home) -> None:
    fill(home, 2)
    spool = home.root / "spool" / "audit.jsonl"
    with spool.open("ab") as handle:
        handle.write(b'{"seq":3,"entry_id":"tor')
    fill(home, 1)
    assert [r["seq"] for r in audit.entries(home)] == [1, 2, 3]
    audit.verify(home)


def _append_many(root: str, count: int) -> None:
    home = Home(Path(root))
    for n in range(count):
        audit.record(home, entry(user=f"p{root[-1]}", n=n))


def test_concurrent_processes_keep_one_linear_chain(home: Home) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(home.root), 40)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for _ in range(5):
        audit.flush(home)
        time.sleep(0.05)
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    report = audit.verify(home)
    assert report.entries == 160
    assert len({r["entry_id"] for r in audit.entries(home)}) == 160


def test_threads_and_a_forked_child_keep_one_linear_chain(home: Home) -> None:
    """The audit lock stays open per process: threads of one process must still take turns, and a
    forked child (a dashboard server's worker) must not inherit the parent's hold on it."""
    import threading

    audit.record(home, entry(n=0))  # the parent now holds an open lock file
    threads = [threading.Thread(target=_append_many, args=(str(home.root), 30)) for _ in range(4)]
    child = multiprocessing.get_context("fork").Process(target=_append_many, args=(str(home.root), 30))
    child.start()
    for thread in threads:
        thread.start()
    audit.flush(home)
    for thread in threads:
        thread.join(timeout=120)
    child.join(timeout=120)
    assert child.exitcode == 0
    report = audit.verify(home)
    assert report.entries == 1 + 4 * 30 + 30
    assert len({r["entry_id"] for r in audit.entries(home)}) == report.entries


def test_a_home_made_again_in_the_same_process_is_locked_again(home: Home, tmp_path: Path) -> None:
    """A held lock file that was deleted with its home must not be reused for the new home."""
    import shutil

    audit.record(home, entry(n=0))
    shutil.rmtree(home.root)
    again = Home(home.root).ensure()
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=_append_many, args=(str(again.root), 40))
    worker.start()
    _append_many(str(again.root), 40)
    worker.join(timeout=120)
    assert worker.exitcode == 0
    assert audit.verify(again).entries == 80


def test_append_is_cheap(home: Home) -> None:
    fill(home, 5)
    started = time.perf_counter()
    fill(home, 200)
    per_entry_ms = (time.perf_counter() - started) * 1000 / 200
    assert per_entry_ms < 5, per_entry_ms


def cli(home: Home, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--home", str(home.root), "audit", *args])
    return code, out.getvalue(), err.getvalue()


def test_cli_lists_and_verifies(home: Home) -> None:
    fill(home, 3)
    audit.record(home, entry(user="open_public", decision="refused"))
    code, out, _ = cli(home, "--user", "open_public")
    assert code == 0 and "#4" in out and "refused" in out and "#1" not in out
    code, out, _ = cli(home, "--user", "hz_analyst", "--json")
    assert code == 0 and '"seq": 3' in out
    code, out, _ = cli(home, "verify")
    assert code == 0 and "audit chain intact: 4 entries" in out
    DeltaTable(str(audit.table_path(home))).delete("seq = 2")
    code, _, err = cli(home, "verify")
    assert code == 1 and "entry 2 is missing" in err
