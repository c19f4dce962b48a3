"""Sharing requests, approvals and time-limited grants (共享申请、审核与限时授权).

A user of one department requests a dataset or a governed view for a purpose, with a
legal basis, a period and a row scope (:func:`request`). The catalog's share attribute
(共享属性) decides the route (:func:`views.shares.route` explains how it is derived for a
view):

* **unconditional** (无条件共享): granted at once, by GovLake;
* **conditional** (有条件共享): the owning department's data officer approves, possibly
  narrowing the columns, the row scope or the period (:func:`approve`), or rejects with a
  reason (:func:`reject`);
* **none** (不予共享): refused at once, with the reason taken from the catalog.

A grant appears in the requester's governed session at once, as the view
``shared_<target>`` with exactly the approved columns and scope, until it expires or is
revoked (:func:`revoke`); either takes effect on the next query. A newer grant of the same
target to the same user supersedes the older one.

Storage: one append-only system table, ``system.share_events``; requests and grants are
folded from it (:func:`requests`, :func:`grants`). Every change is made under the
``sharing`` lock, is audited first (:func:`lake.audit.record_event`; a crash between the
audit entry and the commit over-reports, never under-reports) and commits with the Delta
app transaction ``govlake.share`` at its last sequence number, so a repeated commit writes
nothing twice.

Sessions do not read the Delta table on every query. After each change, each affected
user's grants are written to a small JSON file (``<home>/sharing/grants/<user>.json``,
replaced atomically) and ``<home>/sharing/state.json`` records the table version they
reflect. A session reads its user's file before every query (:class:`GrantWatch`: one
small read and a clock comparison, measured in docs/benchmarks.md) and re-plans only when
the bytes changed or a grant's expiry passed. A revocation rewrites the file *before* it
commits, so a crash in between leaves the grant unusable (fail closed), never usable; a
session that opens after a crash rebuilds the files from the table when ``state.json`` is
behind it.

>>> req = request(home, user="hz_pubsec", target="marriages", columns=["registration_no"],   # doctest: +SKIP
...               purpose="婚姻状况核验", legal_basis="《婚姻登记条例》第二条", period_days=30)
>>> grant = approve(home, user="mca_officer", request_id=req.id)                            # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError, NotFound, PolicyDenied, StateError, did_you_mean
from lake import delta
from lake.audit import record_event
from lake.locks import file_lock
from lake.system import SHARE_EVENTS

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from govlake.home import Home
    from policies import Policies, User

APP_ID = "govlake.share"
#: The actor of decisions GovLake makes itself (unconditional grants, refusals, supersession).
AUTOMATIC = "govlake"
#: A grant lasts at most a year; renew with a new request.
MAX_PERIOD_DAYS = 366
REQUEST_STATES = ("pending", "granted", "rejected", "refused")
GRANT_STATES = ("active", "expired", "revoked", "superseded")
_DIVISION_PREFIX = re.compile(r"^(\d{2}|\d{4}|\d{6})?$")
_NATIONAL = ("", "national", "all", "全国", "*")
_GRANT_ID = re.compile(r"\bGR-\d{6}\b")


class RequestInvalid(GovLakeError):
    """A sharing request or decision is malformed (a column, scope, period or text); fix the input."""


@dataclass(frozen=True)
class ShareRequest:
    """A sharing request and where it stands."""

    id: str
    requester: str
    applicant_department: str
    target: str
    target_kind: str
    view: str
    columns: tuple[str, ...]
    unmask: tuple[str, ...]
    purpose: str
    legal_basis: str
    period_days: int
    scope: str  # division prefix, '' = whole country
    share_type: str
    route: str
    owner_department: str
    route_reason: str
    requested_at: dt.datetime
    state: str = "pending"
    decision_reason: str = ""
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    grant_id: str | None = None


@dataclass(frozen=True)
class ShareGrant:
    """A time-limited grant: ``user`` sees ``view`` with these columns and scope until ``expires_at``."""

    id: str
    request_id: str
    user: str
    applicant_department: str
    target: str
    target_kind: str
    view: str
    columns: tuple[str, ...]
    unmask: tuple[str, ...]
    scope: str
    period_days: int
    granted_at: dt.datetime
    expires_at: dt.datetime
    approved_by: str
    owner_department: str
    route: str
    purpose: str
    legal_basis: str
    state: str = "active"  # as of when it was read; see active_at
    ended_at: dt.datetime | None = None
    ended_by: str | None = None
    end_reason: str = ""

    def active_at(self, at: dt.datetime) -> bool:
        """Whether the grant may be used at ``at``: not revoked or superseded, not expired."""
        return self.ended_at is None and self.granted_at <= at < self.expires_at

    def status_at(self, at: dt.datetime) -> str:
        if self.ended_at is not None:
            return self.state if self.state in ("revoked", "superseded") else "revoked"
        return "expired" if at >= self.expires_at else "active"

    @property
    def basis(self) -> str:
        """The grant as a basis text (column comments, view descriptions)."""
        return f"共享授权 {self.id}，有效期至 {_show(self.expires_at)}：{self.legal_basis}"

    def explain_end(self, at: dt.datetime) -> str:
        """Why the grant can no longer be used (for refusals), or '' while it is active."""
        status = self.status_at(at)
        if status == "active":
            return ""
        if status == "expired":
            return f"your grant {self.id} on {self.target} expired at {_show(self.expires_at)}"
        verb = "was revoked" if status == "revoked" else "was superseded"
        by = f" by {self.ended_by}" if self.ended_by else ""
        why = f" ({self.end_reason})" if self.end_reason else ""
        return f"your grant {self.id} on {self.target} {verb} at {_show(self.ended_at)}{by}{why}"


def now() -> dt.datetime:
    """The current instant (UTC). The one clock of sharing: grants expire against it."""
    return dt.datetime.now(dt.UTC)


def _show(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "?"


# --------------------------------------------------------------------------- paths


def table_path(home: Home) -> Path:
    return home.table_path("system", SHARE_EVENTS.name)


def _folder(home: Home) -> Path:
    return home.root / "sharing"


def user_file(home: Home, user: str) -> Path:
    """The file a session of ``user`` reads before each query (its grants, as JSON)."""
    return _folder(home) / "grants" / f"{user}.json"


def _marker(home: Home) -> Path:
    return _folder(home) / "state.json"


# --------------------------------------------------------------------------- state


@dataclass
class _State:
    """Requests and grants folded from the events, and the table's version and last sequence number."""

    requests: dict[str, ShareRequest] = field(default_factory=dict)
    grants: dict[str, ShareGrant] = field(default_factory=dict)
    last_seq: int = 0
    version: int | None = None


def _events(home: Home) -> tuple[list[dict[str, Any]], int | None]:
    path = table_path(home)
    if not delta.is_table(path):
        return [], None
    version = delta.version(path)
    frame = delta.read(path, version=version).sort("seq")
    return list(frame.iter_rows(named=True)), version


def _load(home: Home) -> _State:
    rows, version = _events(home)
    state = _State(version=version)
    for row in rows:
        _apply(state, row)
    return state


def _apply(state: _State, row: dict[str, Any]) -> None:
    kind = row["kind"]
    at = row["at"]
    state.last_seq = max(state.last_seq, int(row["seq"]))
    if kind == "request":
        state.requests[row["request_id"]] = ShareRequest(
            id=row["request_id"], requester=row["requester"], applicant_department=row["applicant_department"],
            target=row["target"], target_kind=row["target_kind"], view=row["view"],
            columns=tuple(row["columns"] or ()), unmask=tuple(row["unmask"] or ()), purpose=row["purpose"] or "",
            legal_basis=row["legal_basis"] or "", period_days=int(row["period_days"]), scope=row["scope"] or "",
            share_type=row["share_type"], route=row["route"], owner_department=row["owner_department"],
            route_reason=row["reason"] or "", requested_at=at,
        )
        return
    request = state.requests.get(row["request_id"] or "")
    if kind == "grant" and request is not None:
        grant = ShareGrant(
            id=row["grant_id"], request_id=request.id, user=request.requester,
            applicant_department=request.applicant_department, target=request.target,
            target_kind=request.target_kind, view=row["view"] or request.view, columns=tuple(row["columns"] or ()),
            unmask=tuple(row["unmask"] or ()), scope=row["scope"] or "", period_days=int(row["period_days"]),
            granted_at=at, expires_at=row["expires_at"], approved_by=row["actor"],
            owner_department=request.owner_department, route=request.route, purpose=request.purpose,
            legal_basis=request.legal_basis,
        )
        state.grants[grant.id] = grant
        state.requests[request.id] = replace(request, state="granted", decided_at=at, decided_by=row["actor"],
                                             grant_id=grant.id, decision_reason=row["reason"] or "")
    elif kind in ("reject", "refuse") and request is not None:
        state.requests[request.id] = replace(request, state="rejected" if kind == "reject" else "refused",
                                             decided_at=at, decided_by=row["actor"],
                                             decision_reason=row["reason"] or "")
    elif kind in ("revoke", "supersede"):
        ending = state.grants.get(row["grant_id"] or "")
        if ending is not None and ending.ended_at is None:
            state.grants[ending.id] = replace(ending, state="revoked" if kind == "revoke" else "superseded",
                                              ended_at=at, ended_by=row["actor"], end_reason=row["reason"] or "")


def _with_status(grant: ShareGrant, at: dt.datetime) -> ShareGrant:
    return replace(grant, state=grant.status_at(at))


# --------------------------------------------------------------------------- writing events


_TEXT_FIELDS = (
    "event_id", "kind", "request_id", "grant_id", "actor", "actor_department", "requester", "applicant_department",
    "target", "target_kind", "view", "scope", "purpose", "legal_basis", "share_type", "route", "owner_department",
    "reason",
)


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    text, texts = pa.large_string(), pa.large_list(pa.large_string())
    instant = pa.timestamp("us", tz="UTC")
    schema = pa.schema([
        ("seq", pa.int64()), ("event_id", text), ("at", instant), ("kind", text), ("request_id", text),
        ("grant_id", text), ("actor", text), ("actor_department", text), ("requester", text),
        ("applicant_department", text), ("target", text), ("target_kind", text), ("view", text),
        ("columns", texts), ("unmask", texts), ("scope", text), ("period_days", pa.int64()),
        ("expires_at", instant), ("purpose", text), ("legal_basis", text), ("share_type", text), ("route", text),
        ("owner_department", text), ("reason", text), ("audit_seq", pa.int64()),
    ])
    return pa.table({name: [row.get(name) for row in rows] for name in schema.names}, schema=schema)


def _event(kind: str, actor: str, actor_department: str | None, at: dt.datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_TEXT_FIELDS)
    row.update(event_id=uuid.uuid4().hex, kind=kind, actor=actor, actor_department=actor_department, at=at,
               columns=None, unmask=None, period_days=None, expires_at=None, audit_seq=None)
    row.update(values)
    return row


def _commit(home: Home, state: _State, rows: list[dict[str, Any]]) -> _State:
    """Audit each event, append them in one commit, refresh the users' files; return the new state."""
    for offset, row in enumerate(rows, start=1):
        row["seq"] = state.last_seq + offset
        detail = {k: _plain(v) for k, v in row.items() if v is not None and k not in ("audit_seq", "seq")}
        audited = record_event(home, user=row["actor"], action=f"share.{row['kind']}",
                               detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                               views=(row["view"],) if row.get("view") else (),
                               columns=tuple(f"{row['view']}.{c}" for c in row.get("columns") or ()))
        row["audit_seq"] = int(audited["seq"])
    version = delta.write(table_path(home), _arrow(rows), mode="append", txn=(APP_ID, int(rows[-1]["seq"])),
                          description=SHARE_EVENTS.description, comments=SHARE_EVENTS.columns)
    for row in rows:
        _apply(state, row)
    state.version = version
    _write_files(home, state, users={state.requests[r["request_id"]].requester for r in rows})
    return state


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _refuse(home: Home, user: str, action: str, reason: str, detail: Mapping[str, Any]) -> PolicyDenied:
    """Audit a refused attempt and return the error to raise."""
    record_event(home, user=user, action=action, decision="refused", reason=reason,
                 detail=json.dumps({k: _plain(v) for k, v in detail.items()}, ensure_ascii=False, sort_keys=True))
    return PolicyDenied(user, reason)


# --------------------------------------------------------------------------- the users' files


def _grant_json(grant: ShareGrant) -> dict[str, Any]:
    data = {k: _plain(v) for k, v in asdict(grant).items()}
    data.pop("state", None)
    return data


def _grant_from_json(data: Mapping[str, Any]) -> ShareGrant:
    values = dict(data)
    for name in ("granted_at", "expires_at", "ended_at"):
        if values.get(name):
            values[name] = dt.datetime.fromisoformat(values[name])
    for name in ("columns", "unmask"):
        values[name] = tuple(values.get(name) or ())
    return ShareGrant(**values)


def _user_grants(state: _State, user: str) -> list[ShareGrant]:
    """What a user's file lists: grants not ended (those expired over a week ago dropped, so the file stays
    small), and the latest grant of each target, whatever its state, for refusal messages."""
    mine = sorted((g for g in state.grants.values() if g.user == user), key=lambda g: g.id)
    latest = {g.view: g for g in mine}
    recent = now() - dt.timedelta(days=7)
    return [g for g in mine if (g.ended_at is None and g.expires_at > recent) or latest[g.view] is g]


def _write_files(home: Home, state: _State, *, users: Iterable[str], overrides: Mapping[str, ShareGrant] = {},
                 mark: bool = True) -> None:
    """Rewrite the users' grant files (atomically) and, with ``mark``, the version marker."""
    folder = user_file(home, "x").parent
    folder.mkdir(parents=True, exist_ok=True)
    for user in sorted(set(users)):
        grants = [overrides.get(g.id, g) for g in _user_grants(state, user)]
        payload = {"user": user, "events_version": state.version,
                   "grants": [_grant_json(g) for g in grants]}
        _replace(user_file(home, user), json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1))
    if mark:
        _replace(_marker(home), json.dumps({"events_version": state.version}))


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _latest_version(path: Path) -> int | None:
    """The newest commit in ``_delta_log`` (a directory listing, cheap)."""
    try:
        names = os.listdir(path / "_delta_log")
    except OSError:
        return None
    versions = [int(name[:20]) for name in names if len(name) == 25 and name.endswith(".json") and name[:20].isdigit()]
    return max(versions) if versions else None


def ensure_current(home: Home) -> None:
    """Rebuild the users' grant files from ``system.share_events`` if they are behind it (after a crash)."""
    latest = _latest_version(table_path(home))
    if latest is None:
        return
    if _marked_version(home) == latest:
        return
    with file_lock(home, "sharing"):
        state = _load(home)
        if _marked_version(home) != state.version:
            known = {path.stem for path in user_file(home, "x").parent.glob("*.json")}
            _write_files(home, state, users=known | {g.user for g in state.grants.values()})


def _marked_version(home: Home) -> int | None:
    try:
        value = json.loads(_marker(home).read_text(encoding="utf-8")).get("events_version")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int) else None


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return b""


class GrantWatch:
    """One session's view of its user's grants, re-checked before every query at the cost of one small read.

    :meth:`changed` is true when the user's grant file changed (a grant, a revocation, a
    supersession) or when the earliest expiry of the active grants has passed; the session
    then calls :meth:`reload` and re-plans.
    """

    def __init__(self, home: Home, user: str) -> None:
        self.home = home
        self.user = user
        self._path = user_file(home, user)
        self._bytes = b""
        self._next_change = float("inf")
        self.grants: tuple[ShareGrant, ...] = ()
        self.active: tuple[ShareGrant, ...] = ()
        ensure_current(home)
        self.reload()

    def changed(self) -> bool:
        """Whether the active grants may differ from :attr:`active` (cheap: one read, one clock look)."""
        return now().timestamp() >= self._next_change or _read(self._path) != self._bytes

    def reload(self) -> None:
        data = _read(self._path)
        grants: list[ShareGrant] = []
        if data:
            try:
                grants = [_grant_from_json(g) for g in json.loads(data).get("grants", [])]
            except (ValueError, TypeError, KeyError):
                grants = []  # a torn or foreign file: no grants (fail closed) until rebuilt
        at = now()
        self._bytes = data
        self.grants = tuple(grants)
        self.active = tuple(g for g in grants if g.active_at(at))
        upcoming = [g.expires_at for g in self.active] + [g.granted_at for g in grants
                                                          if g.ended_at is None and g.granted_at > at]
        self._next_change = min(upcoming).timestamp() if upcoming else float("inf")

    def ended(self, view: str) -> ShareGrant | None:
        """The user's latest grant shown as ``view`` if it can no longer be used (for refusal messages)."""
        at = now()
        found = [g for g in self.grants if g.view == view]
        if not found or any(g.active_at(at) for g in found):
            return None
        return max(found, key=lambda g: g.granted_at)


# --------------------------------------------------------------------------- requests and decisions


def request(home: Home, *, user: str, target: str, columns: list[str], purpose: str, legal_basis: str,
            period_days: int, scope: str | None = None, unmask: list[str] | None = None) -> ShareRequest:
    """Request ``columns`` of ``target`` (a dataset id or resource code, or a governed view) for a purpose.

    ``scope`` is a division prefix or a scope name from policies/scopes.toml (default: the
    requester's own scope, or the whole country for a target without a division column);
    ``unmask`` names requested columns to be shown as stored rather than masked. The route
    follows the catalog's share attribute: an unconditional request is granted at once, a
    conditional one waits for the owning department (:func:`inbox`), and a request for data
    that may not be shared is refused at once, with the catalog's reason, and returned with
    ``state == "refused"``. Every outcome is audited.
    """
    from policies import load_policies
    from views.shares import resolve_target
    from views.shares import route as route_of

    policies = load_policies()
    account = _account(policies, user)
    if account.department is None:
        raise _refuse(home, user, "share.request", "you belong to no department (policies/users.toml), so you cannot "
                      "request shared data; ask your department's account", {"target": target})
    shared = resolve_target(target, policies)
    wanted = _columns(columns, shared.view.columns, f"{shared.kind} {shared.name}")
    masked = _unmask(unmask or [], wanted, shared, policies)
    days = _period(period_days)
    prefix = _scope(scope, account, shared.scope is not None, policies)
    purpose, legal_basis = _text(purpose, "purpose", 4), _text(legal_basis, "legal basis", 8)
    decided = route_of(shared, wanted, masked, policies)
    at = now()
    with file_lock(home, "sharing"):
        state = _load(home)
        request_id = f"REQ-{len(state.requests) + 1:06d}"
        rows = [_event("request", user, account.department, at, request_id=request_id, requester=user,
                       applicant_department=account.department, target=shared.name, target_kind=shared.kind,
                       view=shared.view_name, columns=list(wanted), unmask=list(masked), scope=prefix,
                       period_days=days, purpose=purpose, legal_basis=legal_basis, share_type=decided.share_type,
                       route=decided.route, owner_department=decided.owner, reason=decided.reason)]
        if decided.route == "none":
            rows.append(_event("refuse", AUTOMATIC, None, at, request_id=request_id, view=shared.view_name,
                               reason=decided.reason))
        elif decided.route == "unconditional":
            rows.extend(_grant_events(state, request_id, AUTOMATIC, None, at, user=user, view=shared.view_name,
                                      columns=wanted, unmask=masked, scope=prefix, days=days,
                                      reason="无条件共享，自动授权"))
        state = _commit(home, state, rows)
        return state.requests[request_id]


def approve(home: Home, *, user: str, request_id: str, columns: list[str] | None = None, scope: str | None = None,
            period_days: int | None = None, unmask: list[str] | None = None) -> ShareGrant:
    """Approve a pending request as a data officer of the owning department; return the grant.

    ``columns``, ``scope``, ``period_days`` and ``unmask`` may narrow what was requested
    (default: as requested); anything wider is refused. The requester must be someone
    else. A grant supersedes the requester's earlier grant of the same target.
    """
    from policies import load_policies

    policies = load_policies()
    account = _account(policies, user)
    at = now()
    with file_lock(home, "sharing"):
        state = _load(home)
        pending = _decidable(home, state, policies, account, request_id, "share.approve")
        detail = {"request_id": request_id, "columns": columns, "scope": scope, "period_days": period_days,
                  "unmask": unmask}
        wanted = pending.columns if columns is None else _columns(columns, None, f"request {request_id}")
        beyond = [c for c in wanted if c not in pending.columns]
        if beyond:
            raise _refuse(home, user, "share.approve",
                          f"column {beyond[0]!r} was not requested in {request_id} (requested: "
                          f"{', '.join(pending.columns)}); an approval can only narrow a request", detail)
        approved = tuple(c for c in pending.columns if c in wanted)
        asked = [c.strip() for c in (unmask.split(",") if isinstance(unmask, str) else unmask or []) if c.strip()]
        masked = tuple(c for c in pending.unmask if c in approved) if unmask is None else tuple(
            c for c in approved if c in asked)
        extra = [c for c in asked if c not in pending.unmask or c not in approved]
        if extra:
            raise _refuse(home, user, "share.approve",
                          f"unmasking {extra[0]!r} was not requested in {request_id} for an approved column "
                          f"(requested unmask: {', '.join(pending.unmask) or 'none'}); an approval can only narrow",
                          detail)
        prefix = pending.scope if scope is None else _scope(scope, account, True, policies)
        if not prefix.startswith(pending.scope):
            raise _refuse(home, user, "share.approve",
                          f"row scope {prefix or '(whole country)'!r} is wider than the requested "
                          f"{pending.scope or '(whole country)'!r}; approve the same scope or a narrower one", detail)
        days = pending.period_days if period_days is None else _period(period_days)
        if days > pending.period_days:
            raise _refuse(home, user, "share.approve",
                          f"period {days} days is longer than the requested {pending.period_days}; approve the "
                          "same period or a shorter one", detail)
        narrowed = [what for what, same in (("columns", approved == pending.columns),
                                             ("unmask", masked == pending.unmask), ("scope", prefix == pending.scope),
                                             ("period", days == pending.period_days)) if not same]
        reason = "批准" + (f"（缩小：{'、'.join(narrowed)}）" if narrowed else "")
        rows = _grant_events(state, request_id, user, account.department, at, user=pending.requester,
                             view=pending.view, columns=approved, unmask=masked, scope=prefix, days=days,
                             reason=reason)
        state = _commit(home, state, rows)
        grant_id = state.requests[request_id].grant_id
        assert grant_id is not None
        return _with_status(state.grants[grant_id], now())


def reject(home: Home, *, user: str, request_id: str, reason: str) -> ShareRequest:
    """Reject a pending request, with a reason, as a data officer of the owning department."""
    from policies import load_policies

    policies = load_policies()
    account = _account(policies, user)
    why = _text(reason, "reason", 4)
    at = now()
    with file_lock(home, "sharing"):
        state = _load(home)
        pending = _decidable(home, state, policies, account, request_id, "share.reject")
        rows = [_event("reject", user, account.department, at, request_id=request_id, view=pending.view, reason=why)]
        state = _commit(home, state, rows)
        return state.requests[request_id]


def revoke(home: Home, *, user: str, grant_id: str, reason: str) -> ShareGrant:
    """Revoke an active grant, effective on the grantee's next query.

    Allowed to a data officer of the owning department, and to the grantee (giving it up).
    The grantee's grant file is rewritten before the commit, so a crash in between leaves
    the grant unusable rather than usable.
    """
    from policies import load_policies

    policies = load_policies()
    account = _account(policies, user)
    why = _text(reason, "reason", 4)
    with file_lock(home, "sharing"):
        state = _load(home)
        grant = state.grants.get(grant_id)
        if grant is None:
            raise NotFound(f"no grant {grant_id!r}{did_you_mean(grant_id, state.grants)}; `govlake share list "
                           "--grants --all` lists them")
        detail = {"grant_id": grant_id, "reason": why}
        owner_officer = policies.approves_sharing(account) and account.department == grant.owner_department
        if user != grant.user and not owner_officer:
            raise _refuse(home, user, "share.revoke",
                          f"grant {grant_id} is for data of {_department(grant.owner_department)}; only its data "
                          f"officers or the grantee ({grant.user}) may revoke it", detail)
        at = now()
        status = grant.status_at(at)
        if status != "active":
            record_event(home, user=user, action="share.revoke", decision="refused",
                         reason=f"grant {grant_id} is already {status}", detail=json.dumps(detail, ensure_ascii=False))
            raise StateError(f"grant {grant_id} is already {status} ({grant.explain_end(at)}); nothing to revoke")
        ended = replace(grant, state="revoked", ended_at=at, ended_by=user, end_reason=why)
        # Fail closed first: the grantee's sessions stop using the grant before the commit.
        _write_files(home, state, users=[grant.user], overrides={grant.id: ended}, mark=False)
        try:
            state = _commit(home, state, [_event("revoke", user, account.department, at, request_id=grant.request_id,
                                                 grant_id=grant_id, view=grant.view, reason=why)])
        except BaseException:
            _write_files(home, _load(home), users=[grant.user])
            raise
        return _with_status(state.grants[grant_id], now())


def _grant_events(state: _State, request_id: str, actor: str, actor_department: str | None, at: dt.datetime, *,
                  user: str, view: str, columns: tuple[str, ...], unmask: tuple[str, ...], scope: str, days: int,
                  reason: str) -> list[dict[str, Any]]:
    grant_id = f"GR-{len(state.grants) + 1:06d}"
    rows = [_event("grant", actor, actor_department, at, request_id=request_id, grant_id=grant_id, view=view,
                   columns=list(columns), unmask=list(unmask), scope=scope, period_days=days,
                   expires_at=at + dt.timedelta(days=days), reason=reason)]
    for older in state.grants.values():
        if older.user == user and older.view == view and older.ended_at is None and older.expires_at > at:
            rows.append(_event("supersede", AUTOMATIC, None, at, request_id=older.request_id, grant_id=older.id,
                               view=view, reason=f"被新授权 {grant_id} 替代"))
    return rows


def _decidable(home: Home, state: _State, policies: Policies, account: User, request_id: str,
               action: str) -> ShareRequest:
    """The pending request ``account`` may decide; refuse (audited) otherwise."""
    pending = state.requests.get(request_id)
    if pending is None:
        raise NotFound(f"no sharing request {request_id!r}{did_you_mean(request_id, state.requests)}; "
                       "`govlake share list --all` lists them")
    detail = {"request_id": request_id}
    if pending.state != "pending":
        record_event(home, user=account.name, action=action, decision="refused", detail=json.dumps(detail),
                     reason=f"request {request_id} is already {pending.state}")
        raise StateError(f"request {request_id} is already {pending.state} (by {pending.decided_by} at "
                         f"{_show(pending.decided_at)}); only pending requests can be decided")
    if pending.requester == account.name:
        raise _refuse(home, account.name, action, f"request {request_id} is your own; someone else in "
                      f"{_department(pending.owner_department)} must decide it", detail)
    if account.department != pending.owner_department:
        raise _refuse(home, account.name, action,
                      f"request {request_id} is for data of {_department(pending.owner_department)}; you act for "
                      f"{_department(account.department)}, so you cannot decide it", detail)
    if not policies.approves_sharing(account):
        roles = ", ".join(account.roles)
        raise _refuse(home, account.name, action, f"deciding sharing requests needs a role with approves_sharing "
                      f"(e.g. data_officer); your roles are {roles}", detail)
    return pending


# --------------------------------------------------------------------------- input checks


def _account(policies: Policies, user: str) -> User:
    if user not in policies.users:
        raise NotFound(f"no user {user!r} in policies/users.toml{did_you_mean(user, policies.users)}")
    return policies.users[user]


def _department(department_id: str | None) -> str:
    from lake.catalog import load_catalog

    if department_id is None:
        return "no department"
    found = load_catalog().departments.get(department_id)
    return f"{found.name} ({department_id})" if found else department_id


def _columns(columns: list[str] | tuple[str, ...], known: tuple[str, ...] | None, where: str) -> tuple[str, ...]:
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",")]
    wanted = tuple(dict.fromkeys(c.strip() for c in columns if c and c.strip()))
    if not wanted:
        raise RequestInvalid(f"name at least one column of {where}")
    if known is not None:
        for column in wanted:
            if column not in known:
                raise RequestInvalid(f"{where} has no column {column!r}{did_you_mean(column, known)}; its columns: "
                                     f"{', '.join(known)}")
        return tuple(c for c in known if c in wanted)
    return wanted


def _unmask(unmask: list[str] | tuple[str, ...], columns: tuple[str, ...], target: Any,
            policies: Policies) -> tuple[str, ...]:
    if isinstance(unmask, str):
        unmask = [c.strip() for c in unmask.split(",")]
    wanted = tuple(dict.fromkeys(c.strip() for c in unmask if c and c.strip()))
    for column in wanted:
        if column not in columns:
            raise RequestInvalid(f"unmask names {column!r}, which is not among the requested columns "
                                 f"({', '.join(columns)}); request it too")
        if target.columns[column].flags.pi == "none":
            raise RequestInvalid(f"column {column!r} holds no personal information and is not masked; remove it "
                                 "from unmask")
    return tuple(c for c in columns if c in wanted)


def _period(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_PERIOD_DAYS:
        raise RequestInvalid(f"period must be a whole number of days from 1 to {MAX_PERIOD_DAYS}, got {days!r}; "
                             "renew a longer need with a new request")
    return days


def _scope(scope: str | None, account: User, scoped: bool, policies: Policies) -> str:
    """A division prefix from a scope name, a prefix or None (the user's own scope when the target has one)."""
    from lake.reference import division_names

    if scope is None:
        return account.scope.division_prefix if scoped else ""
    value = scope.strip()
    if value in policies.scopes:
        value = policies.scopes[value].division_prefix
    elif value.lower() in _NATIONAL:
        value = ""
    if not _DIVISION_PREFIX.match(value) or (value and value.ljust(6, "0") not in division_names()):
        raise RequestInvalid(f"row scope {scope!r} is not a division prefix (2, 4 or 6 digits of a division code, "
                             f"e.g. 3301) or a scope name ({', '.join(policies.scopes)}); use 'national' for all")
    if value and not scoped:
        raise RequestInvalid(f"row scope {scope!r} cannot apply: the target has no division column; request "
                             "scope 'national', or a view that has one")
    return value


def _text(value: str, what: str, minimum: int) -> str:
    text = (value or "").strip()
    if len(text) < minimum:
        raise RequestInvalid(f"state the {what} (at least {minimum} characters), got {value!r}")
    return text


# --------------------------------------------------------------------------- reading


def get_request(home: Home, request_id: str) -> ShareRequest:
    state = _load(home)
    if request_id not in state.requests:
        raise NotFound(f"no sharing request {request_id!r}{did_you_mean(request_id, state.requests)}")
    return state.requests[request_id]


def get_grant(home: Home, grant_id: str) -> ShareGrant:
    """A grant with its status as of now (``state`` is active, expired, revoked or superseded)."""
    state = _load(home)
    if grant_id not in state.grants:
        raise NotFound(f"no grant {grant_id!r} in this home{did_you_mean(grant_id, state.grants)}")
    return _with_status(state.grants[grant_id], now())


REQUEST_COLUMNS = tuple(ShareRequest.__dataclass_fields__)
GRANT_COLUMNS = tuple(ShareGrant.__dataclass_fields__)


def _frame(records: list[Any], columns: tuple[str, ...]) -> pl.DataFrame:
    import polars as pl

    schema: dict[str, Any] = {}
    for name in columns:
        if name in ("columns", "unmask"):
            schema[name] = pl.List(pl.String)
        elif name == "period_days":
            schema[name] = pl.Int64
        elif name.endswith("_at"):
            schema[name] = pl.Datetime("us", "UTC")
        else:
            schema[name] = pl.String
    data = [{name: (list(value) if isinstance(value := getattr(r, name), tuple) else value) for name in columns}
            for r in records]
    return pl.DataFrame(data, schema=schema, orient="row") if data else pl.DataFrame(schema=schema)


def requests(home: Home, *, user: str | None = None, department: str | None = None,
             state: str | None = None, owner: str | None = None) -> pl.DataFrame:
    """Sharing requests, newest first; filter by requester, applicant department, owning department or state."""
    if state is not None and state not in REQUEST_STATES:
        raise RequestInvalid(f"state {state!r} is not one of {', '.join(REQUEST_STATES)}")
    found = [r for r in _load(home).requests.values()
             if (user is None or r.requester == user) and (department is None or r.applicant_department == department)
             and (owner is None or r.owner_department == owner) and (state is None or r.state == state)]
    return _frame(sorted(found, key=lambda r: r.id, reverse=True), REQUEST_COLUMNS)


def inbox(home: Home, *, department: str) -> pl.DataFrame:
    """Pending requests that ``department`` must decide, oldest first."""
    return requests(home, owner=department, state="pending").reverse()


def grants(home: Home, *, user: str | None = None, active_only: bool = True,
           department: str | None = None) -> pl.DataFrame:
    """Grants with their status now, newest first; ``department`` filters by owning department."""
    at = now()
    found = [_with_status(g, at) for g in _load(home).grants.values()
             if (user is None or g.user == user) and (department is None or g.owner_department == department)]
    if active_only:
        found = [g for g in found if g.state == "active"]
    return _frame(sorted(found, key=lambda g: g.id, reverse=True), GRANT_COLUMNS)


def stats(home: Home, *, period: str | None = None) -> dict[str, Any]:
    """The sharing report's figures for ``period`` (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or None for all time).

    Requests by route and state; approval turnaround of the requests a person decided
    (hours from request to decision); grants issued, and grants that expired, were revoked
    or superseded in the period, with those active now; and usage by grant from the audit
    trail: queries and publishes that read a grant's view, the rows returned, and refused
    attempts naming the grant.
    """
    from lake import audit

    start, end = _period_bounds(period)
    at = now()

    def within(value: dt.datetime | None) -> bool:
        return value is not None and (start is None or start <= value) and (end is None or value < end)

    state = _load(home)
    chosen = [r for r in state.requests.values() if within(r.requested_at)]
    by_route = {route: sum(r.route == route for r in chosen) for route in ("unconditional", "conditional", "none")}
    by_state = {name: sum(r.state == name for r in chosen) for name in REQUEST_STATES}
    hours = sorted((r.decided_at - r.requested_at).total_seconds() / 3600 for r in chosen
                   if r.route == "conditional" and r.decided_at is not None and r.decided_by != AUTOMATIC)
    turnaround = {"decided": len(hours), "median_hours": _median(hours),
                  "mean_hours": sum(hours) / len(hours) if hours else None, "max_hours": max(hours) if hours else None}
    grants_all = [_with_status(g, at) for g in state.grants.values()]
    ended = {
        "expired": [g for g in grants_all if g.state == "expired" and within(g.expires_at)],
        "revoked": [g for g in grants_all if g.state == "revoked" and within(g.ended_at)],
        "superseded": [g for g in grants_all if g.state == "superseded" and within(g.ended_at)],
    }
    usage: dict[str, dict[str, Any]] = {
        g.id: {"grant_id": g.id, "user": g.user, "target": g.target, "view": g.view, "state": g.state,
               "queries": 0, "publishes": 0, "rows": 0, "refused": 0, "last_used": None}
        for g in grants_all
    }
    by_view: dict[tuple[str, str], list[ShareGrant]] = {}
    for grant in grants_all:
        by_view.setdefault((grant.user, grant.view), []).append(grant)
    for entry in audit.entries(home) if grants_all else []:
        when = dt.datetime.strptime(entry["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        if not within(when) or str(entry.get("statement_kind") or "").startswith("share."):
            continue
        if entry["decision"] == "refused":
            for grant_id in set(_GRANT_ID.findall(entry.get("reason") or "")):
                if grant_id in usage and usage[grant_id]["user"] == entry["user"]:
                    usage[grant_id]["refused"] += 1
            continue
        if entry["decision"] != "allowed":
            continue
        for view in entry.get("views") or []:
            for grant in by_view.get((entry["user"], view), []):
                # whole seconds: an extract's audit entry carries its build time cut to the second
                if grant.granted_at.replace(microsecond=0) <= when < (grant.ended_at or grant.expires_at):
                    used = usage[grant.id]
                    used["publishes" if entry.get("statement_kind") == "PUBLISH" else "queries"] += 1
                    used["rows"] += int(entry.get("rows") or 0)
                    used["last_used"] = max(filter(None, [used["last_used"], entry["at"]]))
    return {
        "period": period or "all",
        "requests": len(chosen),
        "requests_by_route": by_route,
        "requests_by_state": by_state,
        "turnaround": turnaround,
        "grants_issued": sum(within(g.granted_at) for g in grants_all),
        "grants_active_now": sum(g.state == "active" for g in grants_all),
        "grants_expired": len(ended["expired"]),
        "grants_revoked": len(ended["revoked"]),
        "grants_superseded": len(ended["superseded"]),
        "usage_by_grant": sorted((u for u in usage.values() if _reported(u, ended, grants_all, within)),
                                 key=lambda u: u["grant_id"]),
    }


def _reported(usage: dict[str, Any], ended: dict[str, list[ShareGrant]], grants_all: list[ShareGrant],
                 within: Any) -> bool:
    """A grant belongs in the period's usage table when it was used, issued or ended in the period."""
    if usage["queries"] or usage["publishes"] or usage["refused"]:
        return True
    grant = next(g for g in grants_all if g.id == usage["grant_id"])
    return bool(within(grant.granted_at) or any(grant in group for group in ended.values()))


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _period_bounds(period: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    if period is None or period in ("", "all"):
        return None, None
    try:
        if re.fullmatch(r"\d{4}", period):
            start = dt.datetime(int(period), 1, 1, tzinfo=dt.UTC)
            return start, start.replace(year=start.year + 1)
        if re.fullmatch(r"\d{4}-\d{2}", period):
            start = dt.datetime.strptime(period, "%Y-%m").replace(tzinfo=dt.UTC)
            following = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
                month=start.month + 1)
            return start, following
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", period):
            start = dt.datetime.strptime(period, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return start, start + dt.timedelta(days=1)
    except ValueError:
        pass
    raise RequestInvalid(f"period {period!r} must be YYYY, YYYY-MM or YYYY-MM-DD (or 'all')")


def grant_validity(home: Home, grant_id: str, *, at: dt.datetime | None = None) -> tuple[bool, str]:
    """Whether a grant may be used now (for extracts), and why not."""
    state = _load(home)
    grant = state.grants.get(grant_id)
    if grant is None:
        return False, f"grant {grant_id} is not known in this home ({home.root}); verify it on the home that issued it"
    when = at or now()
    if grant.active_at(when):
        return True, f"grant {grant_id} is active until {_show(grant.expires_at)}"
    return False, grant.explain_end(when).replace("your grant", "grant")
