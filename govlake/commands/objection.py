"""``govlake objection``: objections (数据异议) to one value of one record, answered by its source department.

    govlake objection file --user U --view V --key K --column C --reason R [--evidence TEXT]
    govlake objection list [--department D] [--state open|corrected|rejected|overdue] [--json]
    govlake objection show CASE [--json]
    govlake objection resolve CASE --user U (--correction FILE | --reject REASON)

Filing is checked against what U sees through the governed views (views/objections.py); a
refusal is audited. A correction is the department's ordinary file: it is ingested as a new
batch and a build runs, and the case records the batch, the raw-zone Delta version, the build
and the base libraries' Delta versions (:func:`correct`). See docs/quality-loop.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.commands import home_of
from govlake.errors import ContractError, StateError

if TYPE_CHECKING:
    from govlake.home import Home
    from lake.objections import Case


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "objection", help="objections to one value of one record (数据异议)",
        description="Object to one value of one record you can see; the authoritative source department answers "
                    "with a correction (ingested and built like any file) or a rejection with its reason. While "
                    "open, the record shows objection_status = '异议处理中' in the governed views.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    filing = actions.add_parser("file", help="object to one value of one record you can see")
    filing.add_argument("--user", required=True, help="who objects (a user from policies/users.toml)")
    filing.add_argument("--view", required=True, help="the governed view showing the record, e.g. population")
    filing.add_argument("--key", required=True, help="the record's key in full (resident ID or USCC)")
    filing.add_argument("--column", required=True, help="the column whose value is wrong, e.g. marital_status")
    filing.add_argument("--reason", required=True, help="what is wrong, e.g. 已于2025年登记结婚")
    filing.add_argument("--evidence", help="the evidence, e.g. a certificate number")
    listing = actions.add_parser("list", help="objections and their state")
    listing.add_argument("--department", help="department id, name or short name (e.g. civil_affairs, 民政)")
    listing.add_argument("--state", help="open, corrected, rejected, or overdue")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    show = actions.add_parser("show", help="one objection and its full history")
    show.add_argument("case")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    resolve = actions.add_parser("resolve", help="answer an objection for its department")
    resolve.add_argument("case")
    resolve.add_argument("--user", required=True, help="the user acting for the department")
    answer = resolve.add_mutually_exclusive_group(required=True)
    answer.add_argument("--correction", type=Path, metavar="FILE",
                        help="a corrected file in the dataset's ordinary format; ingested, then built")
    answer.add_argument("--reject", metavar="REASON", help="keep the value, giving the reason")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lake import objections

    home = home_of(args)
    if args.action == "file":
        from views.objections import file_objection

        case = file_objection(home, user=args.user, view=args.view, key=args.key, column=args.column,
                              reason=args.reason, evidence=args.evidence)
        print(f"{case.case_id}: filed by {case.filed_by}; addressed to {case.department} (source {case.source_dataset}"
              f".{case.attribute}), due {case.due_date}")
        print(f"The record now shows objection_status = '{objections.MARK_LABEL}' in the governed views.")
        return 0
    if args.action == "list":
        found = objections.cases(home, department=args.department, state=args.state)
        if args.json:
            print(json.dumps([c.as_json() for c in found], ensure_ascii=False, indent=2, default=str))
        else:
            print(listing(found))
        return 0
    if args.action == "show":
        case = objections.case(home, args.case)
        events = objections.history(home, args.case)
        if args.json:
            print(json.dumps({"case": case.as_json(), "history": events}, ensure_ascii=False, indent=2, default=str))
        else:
            print(describe(case, events))
        return 0
    if args.reject is not None:
        case = objections.reject(home, args.case, user=args.user, reason=args.reject)
        print(f"{case.case_id}: rejected by {args.user}: {case.resolution}")
        return 0
    case = correct(home, args.case, user=args.user, file=args.correction)
    print(f"{case.case_id}: corrected by batch {case.correction_batch} (raw version {case.raw_version}), build "
          f"{case.build_id}: {case.column} {case.value_at_filing!r} → {case.value_after!r}")
    print("base versions: " + ", ".join(f"{t} v{v}" for t, v in sorted(case.base_versions.items())))
    return 0


def correct(home: Home, case_id: str, *, user: str, file: Path) -> Case:
    """Resolve a case with a correction: ingest ``file`` as a new batch, build, and link the versions to the case.

    Refused before anything is written when the case is closed, the user does not act for its
    department, or the file is not one of that department's source datasets for the attribute.
    A file the ingest contract refuses leaves the lake and the case untouched. If the build
    does not change the value the case stays open (the batch stays in the lake, as every
    ingested batch does) and the error says what to do. Re-running after a crash finds the
    batch already ingested and finishes the build and the case.
    """
    from lake import audit, objections
    from lake.catalog import load_catalog
    from lake.catalog.libraries import load_libraries
    from lake.ingest import ingest, match_dataset
    from transforms.build import build

    current = objections.check_can_resolve(home, case_id, user=user, action="correct")
    catalog = load_catalog()

    def refuse(error: Exception, decision: str = "refused") -> Exception:
        audit.record_event(home, user=user, action="objection.correct", decision=decision, reason=str(error),
                           detail=json.dumps({"case_id": case_id, "file": str(file)}, ensure_ascii=False))
        return error

    if not file.is_file():
        raise refuse(ContractError("no such file; give the path of the corrected file", file=str(file)))
    dataset = match_dataset(catalog, file)
    library = load_libraries().get(current.library)
    attribute = next((a for a in library.attributes if a.name == current.attribute), None) if library else None
    allowed = sorted({ref.dataset for ref in attribute.sources} if attribute else {current.source_dataset})
    allowed = [d for d in allowed if catalog.datasets[d].provider.id == current.department]
    if dataset is None or dataset.id not in allowed:
        what = f"a {dataset.id} file" if dataset else "not named like any catalog dataset's files"
        patterns = ", ".join(f"{catalog.datasets[d].file_pattern} ({d})" for d in allowed)
        raise refuse(ContractError(f"the file is {what}; objection {case_id} about {current.attribute} is corrected "
                                   f"by {current.department} with a file of: {patterns}", file=str(file)))
    (outcome,) = ingest(home, [file], dataset=dataset.id, catalog=catalog)
    if outcome.status not in ("loaded", "already") or outcome.batch_id is None:
        raise refuse(ContractError(f"the correction was not ingested ({outcome.status}): {outcome.message}; the "
                                   f"case stays open — fix the file and resolve again", file=str(file)))
    report = build(home)
    raw_version = _raw_version(home, outcome.batch_id)
    base_versions = {table: version for table, version in sorted(report.versions.items())
                     if table.startswith("base.")}
    from views.definitions import shipped_views
    from views.objections import stored_value

    after = stored_value(home, shipped_views()[current.view], current.key_column, current.record_key, current.column)
    if after == current.value_at_filing:
        raise refuse(StateError(
            f"batch {outcome.batch_id} was ingested and build {report.build_id} ran, but {current.view}."
            f"{current.column} of the record is still {after!r}: the file did not change it (a quarantined row, or "
            "a record that does not take precedence?); objection stays open — check `system.quarantine` for the batch "
            "and send a corrected file, or reject the objection with a reason"), decision="failed")
    return objections.record_correction(
        home, case_id, user=user, file=str(file.resolve()), batch_id=outcome.batch_id, raw_version=raw_version,
        build_id=report.build_id, base_versions=base_versions, value_after=after,
        note=f"corrected by {user}: {file.name} ingested as batch {outcome.batch_id} ({outcome.rows_loaded} rows "
             f"loaded, {outcome.rows_quarantined} quarantined), build {report.build_id}")


def _raw_version(home: Home, batch_id: str) -> int | None:
    import polars as pl

    from lake import delta
    from lake.system import INGEST_LOG

    log = delta.read(home.table_path("system", INGEST_LOG.name), columns=["batch_id", "raw_version"])
    match = log.filter(pl.col("batch_id") == batch_id)
    return None if match.height == 0 or match["raw_version"][0] is None else int(match["raw_version"][0])


def listing(found: list[Case]) -> str:
    from lake.objections import STATE_LABELS

    if not found:
        return "no objections"
    lines = [f"{c.case_id}  {c.state:<9} {c.department:<18} {c.view}.{c.column:<20} filed {c.filed_at:%Y-%m-%d} by "
             f"{c.filed_by}, due {c.due_date}" + (" OVERDUE" if c.overdue() else "") for c in found]
    counts: dict[str, int] = {}
    for c in found:
        counts[c.state] = counts.get(c.state, 0) + 1
    lines.append(f"{len(found)} objections: " + ", ".join(f"{n} {s} ({STATE_LABELS[s]})" for s, n in counts.items()))
    return "\n".join(lines)


def describe(case: Case, events: list[dict[str, Any]]) -> str:
    from lake.objections import STATE_LABELS

    lines = [
        f"objection:   {case.case_id}  {case.state} ({STATE_LABELS[case.state]})" + ("  OVERDUE" if case.overdue()
                                                                                   else ""),
        f"record:      {case.view} {case.key_column} = {case.record_key}",
        f"value:       {case.column} = {case.value_at_filing!r} (shown to {case.filed_by} as {case.value_seen!r}; "
        f"from {case.value_source or '?'} batch {case.value_batch or '?'})",
        f"reason:      {case.reason}",
        f"evidence:    {case.evidence or '-'}",
        f"department:  {case.department} (authoritative source {case.source_dataset} for {case.library}."
        f"{case.attribute}), due {case.due_date}",
    ]
    if case.state == "corrected":
        lines += [f"correction:  {case.correction_file} → batch {case.correction_batch}, raw version "
                  f"{case.raw_version}, build {case.build_id}; value now {case.value_after!r}",
                  "versions:    " + ", ".join(f"{t} v{v}" for t, v in sorted(case.base_versions.items()))]
    if case.state == "rejected":
        lines.append(f"rejected:    {case.resolution}")
    lines.append("history:")
    lines.extend(f"  #{e['seq']} {e['at']:%Y-%m-%d %H:%M:%S} {e['action']:<8} → {e['state']:<9} {e['actor']}: "
                 f"{e['note']}" for e in events)
    return "\n".join(lines)
