"""Supply and demand (供需对接): departments post the data they need; GovLake matches it to the catalog.

A department posts a *demand* (:func:`post`): a title, the items it wants, a description and
the purpose, in its own words, which need not be the catalog's. GovLake matches it against
the catalog at once (:func:`match`, again on request) with the catalog's Chinese search
(:mod:`lake.catalog.search`) and records ranked candidate datasets with a *relevance*:

* each phrase of the demand (the title, each wanted item, the description) is cleaned of
  words every demand contains (:data:`FILLER_WORDS`: 需要, 数据, 信息, ...) and searched;
* a dataset's share of a phrase is the search *coverage* (how much of the phrase the
  dataset's metadata holds, 0 to 1) times its score relative to the phrase's best hit (so a
  dataset that merely also mentions the words ranks below the one about them);
* relevance = the weighted mean over phrases (title :data:`TITLE_WEIGHT`, wanted items
  :data:`ITEMS_WEIGHT` between them, description :data:`DESCRIPTION_WEIGHT`); the
  description only counts when it raises the relevance, because it often states a purpose
  rather than the data.

If the best candidate reaches :data:`MATCH_THRESHOLD` the demand is **matched**: the
department chooses a candidate and the demand becomes a sharing request
(:func:`request_share`, which calls :func:`lake.sharing.request`). Otherwise it is **unmet**
and goes onto the responsible department's list of data it should provide
(:func:`supply_list`). The responsible department (:func:`responsible_for`) is, in order:

1. a department the demand names (its name or short name, e.g. "民政");
2. else, when the best candidate is at least :data:`DOMAIN_THRESHOLD` relevant (the demand is
   about the same subject but the catalog lacks the data), the department that provides
   most datasets in that candidate's classification subitem (目, e.g. 101002 出生与死亡 ->
   卫健), since it maintains that subject;
3. else the coordinating department (:data:`COORDINATOR`, the data bureau), which assigns it.

A coordinator may reassign an unmet demand (``match(..., assign=...)``).

Storage: ``system.demands`` holds one row per state change (``revision``), the current state
being the newest revision; ``system.demand_candidates`` holds each match's ranked candidates.
Every change is made under the ``demand`` lock and audited (``demand.post``, ``demand.match``,
``demand.request``, ``demand.close``), refused attempts too.

>>> # demand = post(home, user="hz_analyst", title="新生儿出生信息", items=["出生日期"], purpose="新生儿落户")
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError, NotFound, PolicyDenied, StateError, did_you_mean
from govlake.home import Home
from lake import audit, delta
from lake.catalog import Catalog, Dataset, load_catalog
from lake.catalog.search import InvalidQuery, normalize, search
from lake.locks import file_lock
from lake.system import DEMAND_CANDIDATES, DEMANDS

if TYPE_CHECKING:
    import polars as pl

    from lake.sharing import ShareRequest

STATES = ("open", "matched", "unmet", "requested", "closed")
#: Best-candidate relevance from which a demand counts as met by the catalog.
MATCH_THRESHOLD = 0.45
#: Candidates below this relevance are not proposed.
CANDIDATE_FLOOR = 0.2
#: Best-candidate relevance from which its classification names the responsible department.
DOMAIN_THRESHOLD = 0.1
MAX_CANDIDATES = 5
TITLE_WEIGHT, ITEMS_WEIGHT, DESCRIPTION_WEIGHT = 0.5, 0.3, 0.2
#: The department that coordinates supply and demand: it receives demands nobody else can be
#: derived for, and may reassign unmet demands.
COORDINATOR = "data_bureau"
#: Words nearly every demand contains; they say nothing about which data is wanted.
FILLER_WORDS = (
    "需要", "需求", "希望", "申请", "获取", "提供", "共享", "查询", "调取", "使用", "用于", "相关", "有关",
    "数据", "信息", "资料", "情况", "清单", "明细", "台账", "全量", "实时", "本部门", "我局", "我们", "请",
    "受到", "的",
)
_FILLER = re.compile("|".join(sorted(map(re.escape, FILLER_WORDS), key=len, reverse=True)))


class DemandInvalid(GovLakeError):
    """A demand or a change to it is malformed (empty title, unknown state, ...); fix the input."""


@dataclass(frozen=True)
class Demand:
    """A data demand as it stands (its newest revision)."""

    demand_id: str
    revision: int
    title: str
    description: str
    items: tuple[str, ...]
    purpose: str
    department: str
    posted_by: str
    posted_at: dt.datetime
    state: str
    responsible_department: str = ""
    responsible_reason: str = ""
    chosen_dataset: str = ""
    request_id: str = ""
    note: str = ""
    changed_by: str = ""
    changed_at: dt.datetime | None = None

    @property
    def text(self) -> str:
        return " ".join([self.title, *self.items, self.description])


@dataclass(frozen=True)
class Candidate:
    """A catalog dataset proposed for a demand."""

    dataset: str
    dataset_code: str
    dataset_name: str
    provider: str
    share_type: str
    relevance: float
    coverage: float  # of the title
    score: float  # sum of search scores over the phrases
    matched_items: tuple[str, ...]  # the demand's phrases the dataset covers at least half of


# --------------------------------------------------------------------------- matching (pure)


def clean(text: str) -> str:
    """``text`` without :data:`FILLER_WORDS` (replaced by a comma, so no false bigram forms across them)."""
    return _FILLER.sub("，", normalize(text)).strip("， ")


def candidates_for(catalog: Catalog, *, title: str, items: Sequence[str] = (), description: str = "",
                   floor: float = CANDIDATE_FLOOR) -> list[Candidate]:
    """Ranked candidate datasets for a demand (best first, at most :data:`MAX_CANDIDATES`, relevance >= ``floor``)."""
    phrases: list[tuple[str, str, float]] = [("title", title, TITLE_WEIGHT)]
    wanted = [item for item in items if item.strip()]
    phrases += [("item", item, ITEMS_WEIGHT / len(wanted)) for item in wanted]
    found: dict[str, dict[str, float]] = {}  # phrase -> dataset -> share
    coverage: dict[str, dict[str, float]] = {}
    scores: dict[str, float] = {}
    every = [*phrases, ("description", description, DESCRIPTION_WEIGHT)]
    for kind, phrase, _ in every:
        key = f"{kind}:{phrase}"
        found[key], coverage[key] = {}, {}
        cleaned = clean(phrase)
        if not cleaned:
            continue
        try:
            hits = search(catalog, cleaned, limit=len(catalog.datasets))
        except InvalidQuery:
            continue
        best = hits[0].score if hits else 0.0
        for hit in hits:
            found[key][hit.dataset.id] = hit.coverage * (hit.score / best if best else 0.0)
            coverage[key][hit.dataset.id] = hit.coverage
            scores[hit.dataset.id] = scores.get(hit.dataset.id, 0.0) + hit.score

    def relevance(dataset_id: str, parts: list[tuple[str, str, float]]) -> float:
        live = [(f"{kind}:{phrase}", weight) for kind, phrase, weight in parts if clean(phrase)]
        total = sum(weight for _, weight in live)
        return sum(weight * found[key].get(dataset_id, 0.0) for key, weight in live) / total if total else 0.0

    candidates = []
    for dataset_id in scores:
        value = max(relevance(dataset_id, phrases), relevance(dataset_id, every))
        if value < floor or value <= 0:
            continue
        dataset = catalog.datasets[dataset_id]
        matched = tuple(phrase for kind, phrase, _ in every
                        if coverage[f"{kind}:{phrase}"].get(dataset_id, 0.0) >= 0.5)
        candidates.append(Candidate(
            dataset=dataset.id, dataset_code=dataset.code, dataset_name=dataset.name, provider=dataset.provider.id,
            share_type=dataset.share.type, relevance=round(value, 3),
            coverage=round(coverage[f"title:{title}"].get(dataset_id, 0.0), 3), score=round(scores[dataset_id], 3),
            matched_items=matched,
        ))
    candidates.sort(key=lambda c: (-c.relevance, -c.score, c.dataset_code))
    return candidates[:MAX_CANDIDATES]


def best_relevance(catalog: Catalog, *, title: str, items: Sequence[str] = (), description: str = "") -> float:
    """The relevance of the best dataset for a demand, also below the candidate floor (0 if none)."""
    found = candidates_for(catalog, title=title, items=items, description=description, floor=0.0)
    return found[0].relevance if found else 0.0


def responsible_for(catalog: Catalog, demand_text: str, *, best: Dataset | None, best_relevance: float) -> tuple[
        str, str]:
    """(department id, why) that should provide an unmet demand's data; see the module docs."""
    text = normalize(demand_text)
    for department in sorted(catalog.departments.values(), key=lambda d: -len(d.short_name)):
        if department.id != COORDINATOR and (normalize(department.name) in text
                                             or normalize(department.short_name) in text):
            return department.id, f"需求中点名了{department.name}"
    if best is not None and best_relevance >= DOMAIN_THRESHOLD:
        subitem = best.code.split("/")[0]
        providers = Counter(d.provider.id for d in catalog.datasets.values() if d.code.startswith(subitem + "/"))
        chosen = max(providers, key=lambda dept: (providers[dept], dept == best.provider.id))
        name = catalog.classification.get(subitem, subitem)
        return chosen, (f"需求与目录分类“{name}”（{subitem}）最相关（最接近的数据集：{best.name}），"
                        f"该分类的数据由{catalog.departments[chosen].name}提供")
    if COORDINATOR not in catalog.departments:
        raise GovLakeError(f"the coordinating department {COORDINATOR!r} is not in lake/catalog/departments.toml; "
                           "add it, or change lake.demand.COORDINATOR")
    return COORDINATOR, f"目录中没有相关分类，由统筹部门{catalog.departments[COORDINATOR].name}分派"


# --------------------------------------------------------------------------- reading


def _table(home: Home) -> Any:
    return home.table_path("system", DEMANDS.name)


def _history(home: Home) -> list[Demand]:
    path = _table(home)
    if not delta.is_table(path):
        return []
    return [_demand(row) for row in delta.read(path).sort("demand_id", "revision").iter_rows(named=True)]


def _current(home: Home) -> dict[str, Demand]:
    current: dict[str, Demand] = {}
    for demand in _history(home):
        current[demand.demand_id] = demand
    return current


def _demand(row: dict[str, Any]) -> Demand:
    values = {name: row[name] for name in Demand.__dataclass_fields__}
    values["items"] = tuple(row["items"] or ())
    for name in ("responsible_department", "responsible_reason", "chosen_dataset", "request_id", "note",
                 "changed_by", "description"):
        values[name] = values[name] or ""
    return Demand(**values)


def get(home: Home, demand_id: str) -> Demand:
    current = _current(home)
    if demand_id not in current:
        raise NotFound(f"no demand {demand_id!r}{did_you_mean(demand_id, current)}; `govlake demand list` shows them")
    return current[demand_id]


def demands(home: Home, *, department: str | None = None, state: str | None = None,
            responsible: str | None = None) -> pl.DataFrame:
    """Demands as they stand, newest first; filter by demanding department, state or responsible department."""
    if state is not None and state not in STATES:
        raise DemandInvalid(f"state {state!r} is not one of {', '.join(STATES)}")
    chosen = [d for d in _current(home).values()
              if (department is None or d.department == department) and (state is None or d.state == state)
              and (responsible is None or d.responsible_department == responsible)]
    return _frame(sorted(chosen, key=lambda d: d.demand_id, reverse=True))


def supply_list(home: Home, *, department: str) -> pl.DataFrame:
    """The unmet demands ``department`` is responsible for: the data it should provide (应提供数据清单)."""
    return demands(home, state="unmet", responsible=department)


def candidates(home: Home, demand_id: str) -> pl.DataFrame:
    """The candidates of a demand's latest match, best first."""
    import polars as pl

    path = home.table_path("system", DEMAND_CANDIDATES.name)
    if not delta.is_table(path):
        return pl.DataFrame(schema=_candidate_schema())
    rows = delta.scan(path).filter(pl.col("demand_id") == demand_id).collect()
    if rows.height == 0:
        return rows
    return rows.filter(pl.col("revision") == rows["revision"].max()).sort("rank")


def stats(home: Home) -> dict[str, Any]:
    """Figures for the report and dashboards: demands by state, match rate, unmet by responsible department."""
    current = list(_current(home).values())
    by_state = {state: sum(d.state == state for d in current) for state in STATES}
    decided = [d for d in current if d.state != "open"]
    ever_matched = {d.demand_id for d in _history(home) if d.state == "matched"}
    unmet = Counter(d.responsible_department for d in current if d.state == "unmet")
    return {
        "demands": len(current),
        "by_state": by_state,
        "matched_share": (len(ever_matched) / len(decided)) if decided else None,
        "became_requests": by_state["requested"],
        "unmet_by_department": dict(sorted(unmet.items())),
    }


# --------------------------------------------------------------------------- changes


def post(home: Home, *, user: str, title: str, purpose: str, items: Sequence[str] = (), description: str = "",
         match_now: bool = True) -> Demand:
    """Post a demand for the user's department; matched against the catalog at once unless ``match_now`` is False."""
    account = _account(home, user, "demand.post")
    title, purpose = _text(title, "title", 2), _text(purpose, "purpose", 2)
    items = tuple(dict.fromkeys(item.strip() for item in items if item and item.strip()))
    if any(len(item) > 60 for item in items):
        raise DemandInvalid("each wanted item is a short name (at most 60 characters), e.g. 出生日期")
    at = _now()
    with file_lock(home, "demand"):
        demand_id = f"DEM-{len(_current(home)) + 1:06d}"
        demand = Demand(demand_id=demand_id, revision=1, title=title, description=description.strip(), items=items,
                        purpose=purpose, department=account, posted_by=user, posted_at=at, state="open",
                        changed_by=user, changed_at=at)
        _write(home, [demand])
    _audit(home, user, "demand.post", {"demand_id": demand_id, "title": title, "items": list(items),
                                       "department": account})
    return match(home, user=user, demand_id=demand_id)[0] if match_now else demand


def match(home: Home, *, user: str, demand_id: str, assign: str | None = None) -> tuple[Demand, list[Candidate]]:
    """Match a demand against the catalog now; record the candidates; matched, or unmet with a responsible department.

    ``assign`` (coordinating department only) names the responsible department of an unmet demand.
    """
    department = _account(home, user, "demand.match")
    catalog = load_catalog()
    with file_lock(home, "demand"):
        demand = get(home, demand_id)
        coordinator = _officer_of(user) == COORDINATOR
        if department != demand.department and not coordinator:
            raise _refused(home, user, "demand.match", f"demand {demand_id} belongs to {demand.department}; only it "
                           f"or a data officer of the coordinating department ({COORDINATOR}) may match it", demand_id)
        if demand.state in ("requested", "closed"):
            raise StateError(f"demand {demand_id} is {demand.state}; it cannot be matched again")
        if assign is not None:
            if not coordinator:
                raise _refused(home, user, "demand.match", f"only a data officer of the coordinating department "
                               f"({COORDINATOR}) may assign a responsible department", demand_id)
            if assign not in catalog.departments:
                raise NotFound(f"no department {assign!r}{did_you_mean(assign, catalog.departments)}")
        found = candidates_for(catalog, title=demand.title, items=demand.items, description=demand.description)
        at = _now()
        if found and found[0].relevance >= MATCH_THRESHOLD and assign is None:
            changed = replace(demand, state="matched", responsible_department="", responsible_reason="",
                              note=f"最相关：{found[0].dataset_name}（相关度 {found[0].relevance:.2f}）")
        else:
            if assign is not None:
                responsible, why = assign, f"由统筹部门指派（{user}）"
            else:
                closest = candidates_for(catalog, title=demand.title, items=demand.items,
                                         description=demand.description, floor=0.0)
                responsible, why = responsible_for(
                    catalog, demand.text, best=catalog.datasets[closest[0].dataset] if closest else None,
                    best_relevance=closest[0].relevance if closest else 0.0)
            changed = replace(demand, state="unmet", responsible_department=responsible, responsible_reason=why,
                              note=f"目录中没有足够相关的数据集（最高相关度 {found[0].relevance if found else 0:.2f}，"
                                   f"阈值 {MATCH_THRESHOLD}），列入应提供数据清单")
        changed = replace(changed, revision=demand.revision + 1, changed_by=user, changed_at=at)
        _write(home, [changed])
        _write_candidates(home, changed, found, at)
    _audit(home, user, "demand.match", {"demand_id": demand_id, "state": changed.state,
                                        "responsible": changed.responsible_department,
                                        "candidates": [[c.dataset, c.relevance] for c in found]})
    return changed, found


def request_share(home: Home, *, user: str, demand_id: str, dataset: str, legal_basis: str, period_days: int,
                  columns: Sequence[str] | None = None, scope: str | None = None) -> tuple[Demand, ShareRequest]:
    """Turn a demand into a sharing request for ``dataset`` (a candidate, or any catalog dataset).

    ``columns`` default to the dataset items that the demand's wanted items name.
    """
    from lake import sharing

    department = _account(home, user, "demand.request")
    catalog = load_catalog()
    chosen = catalog.dataset(dataset)
    demand = get(home, demand_id)
    if department != demand.department:
        raise _refused(home, user, "demand.request", f"demand {demand_id} belongs to {demand.department}; a sharing "
                       "request is made by the department that needs the data", demand_id)
    if demand.state not in ("matched", "unmet", "open"):
        raise StateError(f"demand {demand_id} is {demand.state}; only an open, matched or unmet demand becomes a "
                         "request")
    wanted = list(columns) if columns else item_columns(chosen, demand.items)
    if not wanted:
        raise DemandInvalid(f"none of the demand's items ({'、'.join(demand.items) or 'none'}) names an item of "
                            f"{chosen.id}; give the columns, e.g. --columns {','.join(chosen.columns[:3])}")
    share = sharing.request(home, user=user, target=chosen.id, columns=wanted, purpose=demand.purpose,
                            legal_basis=legal_basis, period_days=period_days, scope=scope)
    with file_lock(home, "demand"):
        current = get(home, demand_id)
        changed = replace(current, revision=current.revision + 1, state="requested", chosen_dataset=chosen.id,
                          request_id=share.id, note=f"已转为共享申请 {share.id}（{share.state}）", changed_by=user,
                          changed_at=_now())
        _write(home, [changed])
    _audit(home, user, "demand.request", {"demand_id": demand_id, "dataset": chosen.id, "request_id": share.id,
                                          "columns": wanted})
    return changed, share


def close(home: Home, *, user: str, demand_id: str, reason: str) -> Demand:
    """Close a demand (met elsewhere, withdrawn, or provided by the responsible department), with a reason."""
    department = _account(home, user, "demand.close")
    reason = _text(reason, "reason", 2)
    with file_lock(home, "demand"):
        demand = get(home, demand_id)
        officer = _officer_of(user)
        if department != demand.department and officer not in (demand.responsible_department or None, COORDINATOR):
            raise _refused(home, user, "demand.close", f"demand {demand_id} belongs to {demand.department}; only it, "
                           "or a data officer of the responsible or the coordinating department, may close it",
                           demand_id)
        if demand.state == "closed":
            raise StateError(f"demand {demand_id} is already closed")
        changed = replace(demand, revision=demand.revision + 1, state="closed", note=reason, changed_by=user,
                          changed_at=_now())
        _write(home, [changed])
    _audit(home, user, "demand.close", {"demand_id": demand_id, "reason": reason})
    return changed


def item_columns(dataset: Dataset, wanted: Sequence[str]) -> list[str]:
    """Columns of ``dataset`` whose item names or descriptions cover a wanted item (at least half its bigrams)."""
    columns: list[str] = []
    for item in wanted:
        grams = _bigrams(normalize(item))
        if not grams:
            continue
        best, share = None, 0.0
        for candidate in dataset.items:
            text = normalize(" ".join((candidate.source, candidate.description, candidate.column)))
            covered = len(grams & _bigrams(text)) / len(grams)
            if covered > share:
                best, share = candidate.column, covered
        if best is not None and share >= 0.5 and best not in columns:
            columns.append(best)
    return columns


def _bigrams(text: str) -> set[str]:
    runs = re.findall(r"[\u4e00-\u9fff]+|[a-z0-9_]+", text)
    grams = set()
    for run in runs:
        grams |= {run} if run.isascii() else {run[i:i + 2] for i in range(len(run) - 1)} or {run}
    return grams


# --------------------------------------------------------------------------- helpers


def _account(home: Home, user: str, action: str) -> str:
    """The user's department; refused (and audited) for a user with none."""
    from policies import load_policies

    account = load_policies().user(user)
    if account.department is None:
        raise _refused(home, user, action, "you belong to no department (policies/users.toml), so you cannot post "
                       "or handle data demands", "")
    return account.department


def _officer_of(user: str) -> str | None:
    """The department whose data officer ``user`` is (a role that approves sharing), else None."""
    from policies import load_policies

    policies = load_policies()
    account = policies.user(user)
    return account.department if policies.approves_sharing(account) else None


def _refused(home: Home, user: str, action: str, reason: str, demand_id: str) -> PolicyDenied:
    audit.record_event(home, user=user, action=action, decision="refused", reason=reason,
                       detail=json.dumps({"demand_id": demand_id}, ensure_ascii=False))
    return PolicyDenied(user, reason)


def _audit(home: Home, user: str, action: str, detail: dict[str, Any]) -> None:
    audit.record_event(home, user=user, action=action, detail=json.dumps(detail, ensure_ascii=False))


def _text(value: str, what: str, minimum: int) -> str:
    text = (value or "").strip()
    if len(text) < minimum:
        raise DemandInvalid(f"the demand's {what} is empty or too short ({text!r}); write at least {minimum} "
                            "characters")
    return text


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_DEMAND_SCHEMA_NAMES = tuple(Demand.__dataclass_fields__)


def _frame(rows: list[Demand]) -> pl.DataFrame:
    import polars as pl

    schema: dict[str, Any] = {name: pl.String for name in _DEMAND_SCHEMA_NAMES}
    schema.update(revision=pl.Int64, items=pl.List(pl.String), posted_at=pl.Datetime("us", "UTC"),
                  changed_at=pl.Datetime("us", "UTC"))
    data = [{**asdict(d), "items": list(d.items)} for d in rows]
    return pl.DataFrame(data, schema=schema, orient="row") if data else pl.DataFrame(schema=schema)


def _write(home: Home, rows: list[Demand]) -> None:
    frame = _frame(rows).select(list(DEMANDS.columns))
    delta.write(_table(home), frame.to_arrow(), description=DEMANDS.description, comments=DEMANDS.columns)


def _candidate_schema() -> dict[str, Any]:
    import polars as pl

    return {"demand_id": pl.String, "revision": pl.Int64, "rank": pl.Int64, "dataset": pl.String,
            "dataset_code": pl.String, "dataset_name": pl.String, "provider": pl.String, "share_type": pl.String,
            "relevance": pl.Float64, "coverage": pl.Float64, "score": pl.Float64,
            "matched_items": pl.List(pl.String), "matched_at": pl.Datetime("us", "UTC")}



def _write_candidates(home: Home, demand: Demand, found: list[Candidate], at: dt.datetime) -> None:
    import polars as pl

    if not found:
        return
    rows = [{"demand_id": demand.demand_id, "revision": demand.revision, "rank": rank, **asdict(c),
             "matched_items": list(c.matched_items), "matched_at": at} for rank, c in enumerate(found, start=1)]
    frame = pl.DataFrame(rows, schema=_candidate_schema(), orient="row").select(list(DEMAND_CANDIDATES.columns))
    delta.write(home.table_path("system", DEMAND_CANDIDATES.name), frame.to_arrow(),
                description=DEMAND_CANDIDATES.description, comments=DEMAND_CANDIDATES.columns)

