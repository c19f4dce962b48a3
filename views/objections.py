"""Filing an objection (数据异议) through the governed views: who may object to what, and who answers.

A user may object to one value of one record **that they can see**. :func:`file_objection`
proves that with the user's own governed session (views/session.py), and refuses, with a
:class:`~govlake.errors.PolicyDenied` that is audited, when:

- the view is not granted to the user, or the column (or the record key) is hidden to them;
- the record is not in the view as the user sees it (outside their row scope, or no such
  key: both get the same answer, so a refusal does not reveal whether a record exists).

The check runs as the user: the key is written the way the user sees it (masked if their
grant masks it, with the same mask expression the view uses, :data:`views.masks.MASKS`), and a
governed query must return the record's row, narrowed by its row-scope column. The value
the user saw is recorded with the case next to the stored value.

The case goes to the department of the attribute's **authoritative source** (一数一源): the
view column's lineage (views/columns.py) leads to a base-library attribute, whose first
source in lake/catalog/libraries.toml names the dataset and so its provider. A value
computed from several departments' data (a credit grade) has no single source to answer it
and is refused with the columns that do accept objections.

>>> # file_objection(home, user="hz_analyst", view="population", key="3301...", column="marital_status",
>>> #                reason="已于 2025 年登记结婚", evidence="结婚证 J330102-2025-000123")
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError, NotFound, PolicyDenied, did_you_mean
from lake import audit
from lake.objections import Case, Target, file_case

if TYPE_CHECKING:
    from govlake.home import Home
    from policies import Policies
    from views.definitions import View
    from views.session import TableLocation


@dataclass(frozen=True)
class Authority:
    """Who answers an objection to a view column: the library attribute and its authoritative source."""

    attribute: str
    source_dataset: str
    department: str


def file_objection(home: Home, *, user: str, view: str, key: str, column: str, reason: str,
                   evidence: str | None = None) -> Case:
    """Check that ``user`` sees the value, route it to the authoritative department, and open the case."""
    if not reason.strip():
        raise GovLakeError("an objection needs a reason: --reason \"...\" must say what is wrong")
    try:
        target = locate(home, user=user, view=view, key=key, column=column)
    except (PolicyDenied, NotFound) as refusal:
        audit.record_event(home, user=user, action="objection.file", decision="refused",
                           reason=refusal.reason if isinstance(refusal, PolicyDenied) else str(refusal),
                           views=(view,), columns=(f"{view}.{column}",),
                           detail=json.dumps({"view": view, "column": column, "reason": reason}, ensure_ascii=False))
        raise
    return file_case(home, target, user=user, reason=reason.strip(), evidence=(evidence or "").strip() or None)


def locate(home: Home, *, user: str, view: str, key: str, column: str) -> Target:
    """What the objection is about, checked against what ``user`` sees; PolicyDenied if they cannot see it."""
    from policies import load_policies
    from views.columns import view_columns
    from views.definitions import shipped_views
    from views.masks import MASKS, OBJECTION_COLUMN, objection_marker
    from views.session import open_session

    views = shipped_views()
    if view not in views:
        raise NotFound(f"no governed view {view!r}{did_you_mean(view, views)}; `govlake sql --user {user} "
                       "\"SELECT 1\"` lists the views granted to you in its error, and docs/governed-sql.md all views")
    definition = views[view]
    policies = load_policies()
    columns = view_columns(definition, policies)
    marker = objection_marker(definition, columns)
    if marker is None:
        accepting = sorted(name for name, v in views.items() if objection_marker(v, view_columns(v, policies)))
        raise GovLakeError(f"view {view!r} has no record key (it shows aggregates or records not keyed by a base "
                           f"library), so there is no record to object to; objections are filed on "
                           f"{', '.join(accepting)}")
    if column not in columns:
        raise NotFound(f"view {view!r} has no column {column!r}{did_you_mean(column, columns)}")
    if column in (marker.key_column, OBJECTION_COLUMN):
        raise GovLakeError(f"column {column!r} identifies the record or marks objections; object to one of its "
                           f"values instead, e.g. {', '.join(c for c in columns if c != marker.key_column)[:80]}…")
    authority = authority_of(definition, column, policies)
    with open_session(user, home=home) as session:
        treatments = session.columns(view)  # PolicyDenied when the view is not granted
        for name, what in ((column, "the value"), (marker.key_column, "the record key")):
            if treatments.get(name) == "hidden":
                raise PolicyDenied(user, f"column {name!r} of view {view!r} is hidden to you, so you cannot see "
                                         f"{what}; you may object only to a value you can see")
        stored = _stored_record(home, definition, marker.key_column, key, column, authority.attribute)
        seen_key = _as_seen(home, key, treatments[marker.key_column], MASKS)
        where = f"{_ident(marker.key_column)} = {_literal(seen_key)}"
        if definition.scope and stored is not None and stored["scope"] is not None:
            where += f" AND {_ident(definition.scope)} = {_literal(str(stored['scope']))}"
        rows = session.sql(f"SELECT {_ident(column)} AS value FROM {_ident(view)} WHERE {where}") if stored else None
        if stored is None or rows is None or rows.height == 0:
            raise PolicyDenied(user, f"no record with key {key!r} is visible to you in view {view!r} (it is outside "
                                     "your row scope, or there is none); you may object only to a record you can see")
        seen = rows["value"][0]
    return Target(
        view=view, key_column=marker.key_column, record_key=key, column=column, library=marker.library,
        attribute=authority.attribute, source_dataset=authority.source_dataset, department=authority.department,
        value_at_filing=_text(stored["value"]), value_seen=_text(seen), value_source=stored.get("source"),
        value_batch=stored.get("batch"),
    )


def authority_of(view: View, column: str, policies: Policies) -> Authority:
    """The base-library attribute a view column shows, and its authoritative source dataset and department.

    Follows the column's lineage through built columns computed from others (``derived_from`` of
    transforms/tables.py, e.g. ``age`` from ``birth_date``) to library attributes; a column from
    no library but from one department's datasets goes to that department.
    """
    found = _resolve(view, column, policies)
    if isinstance(found, Authority):
        return found
    accepting = [name for name in view.columns if isinstance(_resolve(view, name, policies), Authority)]
    raise GovLakeError(f"column {column!r} of view {view.name!r} is computed from {found} and has no single "
                       "authoritative source to answer an objection; object to the facts it is computed from instead "
                       f"(columns of {view.name!r} that accept objections: {', '.join(accepting) or 'none'})")


def _resolve(view: View, column: str, policies: Policies) -> Authority | str:
    """The authority for a column, or what it is computed from when no single source answers for it."""
    from lake.catalog import load_catalog
    from lake.catalog.libraries import load_libraries
    from transforms.tables import all_tables
    from views.columns import view_columns

    catalog, libraries, specs = load_catalog(), load_libraries(), all_tables()
    flags = view_columns(view, policies)[column]
    attributes: set[tuple[str, str]] = set()
    keys: set[str] = set()
    frontier, seen = list(flags.inputs), set()
    while frontier:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        table, _, built = name.rpartition(".")
        spec = specs.get(table)
        if spec is None:
            continue
        library = libraries.get(spec.library) if spec.library else None
        if library is not None and built in {a.name for a in library.attributes}:
            attributes.add((library.id, built))
        elif library is not None and built == library.key:
            keys.add(library.id)
        else:
            declared = policies.table_flags.get(table)  # policies/table_flags.toml stands in for the spec
            derived = spec.derived_from.get(built) or (declared.derived_from.get(built) if declared else None)
            frontier.extend(i for i in derived or () if i.count(".") == 2)
    if keys:
        return "the record key"
    if len(attributes) == 1:
        library_id, attribute = next(iter(attributes))
        source = next(a for a in libraries[library_id].attributes if a.name == attribute).sources[0]
        return Authority(attribute, source.dataset, catalog.datasets[source.dataset].provider.id)
    if attributes:
        return "several attributes (" + ", ".join(sorted(a for _, a in attributes)) + ")"
    providers = {catalog.datasets[d].provider.id for d in flags.flags.datasets if d in catalog.datasets}
    if len(providers) == 1:
        return Authority(column, sorted(flags.flags.datasets)[0], next(iter(providers)))
    return "several departments' data" if providers else "data GovLake derives itself"


def stored_value(home: Home, view: View, key_column: str, key: str, column: str) -> str | None:
    """The stored value of one column of one record in ``view`` (GovLake's own read), as text."""
    record = _stored_record(home, view, key_column, key, column, column)
    return None if record is None else _text(record["value"])


def _stored_record(home: Home, view: View, key_column: str, key: str, column: str,
                   attribute: str) -> dict[str, Any] | None:
    """The record as stored (GovLake's own read, never shown to the user): value, scope value, provenance."""
    from views.masks import body_sql
    from views.session import _scratch, pin_versions, table_locations

    locations = table_locations(home, view.tables)
    if any(location.version is None for location in locations.values()):
        return None
    paths = {name: str(location.path) for name, location in locations.items()}
    scope = _ident(view.scope) if view.scope else "NULL"
    # GovLake's own connection (delta loaded once per process), never handed to a user
    with _scratch(home) as con:
        # at the versions the user's session reads (the latest build's), like the user's own query
        body = pin_versions(body_sql(view, paths), locations)
        rows = con.execute(f"SELECT {_ident(column)} AS value, {scope} AS scope FROM ({body}) AS v "
                           f"WHERE {_ident(key_column)} = ?", [key]).fetchall()
        if len(rows) != 1:
            if len(rows) > 1:
                raise GovLakeError(f"key {key!r} is not unique in view {view.name!r} ({len(rows)} rows); object in a "
                                   "view with one row per record (population, legal_entity)")
            return None
        record: dict[str, Any] = {"value": rows[0][0], "scope": rows[0][1]}
        provenance = _provenance(con, view, key_column, key, attribute, locations)
        if provenance:
            record.update(source=provenance[0], batch=provenance[1])
        return record


def _provenance(con: Any, view: View, key_column: str, key: str, attribute: str,
                locations: dict[str, TableLocation]) -> tuple[str, str] | None:
    """Where the stored value came from (dataset and batch), when the library records it."""
    from transforms.tables import all_tables
    from views.session import pin_versions

    for table in view.tables:
        spec = all_tables().get(table)
        if spec is None or not spec.library:
            continue
        try:
            sql = (f"SELECT provenance.{_ident(attribute)}.source, provenance.{_ident(attribute)}.batch "
                   f"FROM delta_scan({_literal(str(locations[table].path))}) WHERE {_ident(key_column)} = ?")
            row = con.execute(pin_versions(sql, locations), [key]).fetchone()
        except Exception:  # no provenance for this attribute in this table: nothing to add
            continue
        if row and row[0]:
            return str(row[0]), str(row[1])
    return None


def _as_seen(home: Home, key: str, treatment: str, masks: Any) -> str:
    """The key as the user's view shows it: the same mask expression, evaluated by DuckDB."""
    if treatment == "clear":
        return key
    from lake.extensions import connect

    con = connect(":memory:", extensions=())
    try:
        row = con.execute(f"SELECT {masks[treatment](_literal(key))}").fetchone()
    finally:
        con.close()
    return str(row[0]) if row and row[0] is not None else ""


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
