"""What a sharing request can name, how it is routed, and how a grant appears in a session.

A sharing request (:mod:`lake.sharing`) names a **target**: a catalog dataset (by id or
resource code) or a governed view (``views/*.sql``). This module describes targets and
turns an active grant into the :class:`~views.masks.ViewAccess` the requester's governed
session shows, so the same masking and scoping code serves roles and grants alike.

Targets
    *view* ``population``: the view's own SELECT over base and topic tables, with the
    column flags of :mod:`views.columns`. *dataset* ``marriages`` (or ``101003/00001``):
    the dataset as its provider delivered it, that is its raw-zone table (contract-checked,
    quarantined rows excluded, values not standardized), one column per catalog item and
    no lineage columns. Its column flags are the catalog items' flags; its row-scope column
    is its first ``division_code`` item. A logical dataset (queried in place, no raw table)
    cannot be a target: request a view built from it.

Route (共享属性 decides)
    The share type of a dataset target is its catalog ``share.type``. For a view it is
    derived from the sources of the *requested* columns (lineage, :class:`ColumnFlags`
    ``datasets``): the strictest share type of every dataset any requested column's values
    can come from wins (不予共享 > 有条件共享 > 无条件共享, 就高从严). A column GovLake
    computes from no catalog dataset (reference data, topic aggregates) counts as
    unconditional when its grade is general, else conditional. Either way, a request that
    would show more than the default treatment (an ``unmask``, or a column hidden by
    default, such as sensitive personal information) needs the owner's approval: an
    unconditional route becomes conditional.

Owner (who approves)
    A dataset's provider. For a view, each requested column has an authoritative source
    (一数一源: the first source in ``lake/catalog/libraries.toml``, followed through
    ``derived_from``), whose provider speaks for it; a column GovLake computes from no
    catalog dataset speaks for the platform department (:data:`PLATFORM_DEPARTMENT`, the
    data bureau). The owner is the department whose authoritative sources have the
    strictest share type (the platform ranks below every provider), then the one that
    speaks for the most requested columns, then the lowest department id. So a request
    that touches household-register columns is decided by public security, one for
    platform-computed aggregates only by the data bureau.

A grant shows ``shared_<target>`` with exactly the approved columns, in the target's
column order. Each approved column is *revealed* if the default would hide it (its mask,
if any, still applies) and shown as stored if the grant *unmasks* it: the semantics of
``reveal``/``unmask`` in policies/grants.toml. The row scope is the grant's division
prefix on the target's scope column.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import NotFound, did_you_mean
from views.columns import TableFlagResolver, ViewColumn, view_columns
from views.masks import ColumnAccess, ViewAccess, treatment

if TYPE_CHECKING:
    from policies import Policies
    from views.definitions import View

#: Strictness of share types, lowest first.
SHARE_ORDER = {"unconditional": 0, "conditional": 1, "none": 2}
#: The department that decides on data GovLake computes from no catalog dataset.
PLATFORM_DEPARTMENT = "data_bureau"
#: Grant views are named ``shared_<target>`` in the requester's session.
VIEW_PREFIX = "shared_"
TARGET_KINDS = ("dataset", "view")


@dataclass(frozen=True)
class ShareTarget:
    """A dataset or governed view that can be requested, with its columns' flags."""

    kind: str  # "dataset" | "view"
    name: str  # dataset id or view name
    title: str  # Chinese name shown to people
    view: View  # the SELECT a grant shows (over the raw table for a dataset)
    columns: dict[str, ViewColumn]
    scope: str | None  # the division column a row scope applies to
    #: for a dataset: its catalog share type, provider and share conditions
    share_type: str | None = None
    provider: str | None = None
    conditions: str = ""

    @property
    def view_name(self) -> str:
        return VIEW_PREFIX + self.name


@dataclass(frozen=True)
class Route:
    """How a request for some columns of a target is decided, and by whom."""

    share_type: str  # strictest share type of the requested columns' sources
    route: str  # unconditional | conditional | none (after escalation)
    owner: str  # department id that decides
    reason: str  # why this route (Chinese, shown to people and recorded)
    sources: tuple[str, ...]  # datasets the requested columns' values come from


def resolve_target(name: str, policies: Policies) -> ShareTarget:
    """The target a request names: ``dataset:<id>``, ``view:<name>``, a resource code, or a bare name.

    A bare name is looked up among views and datasets; if it is both, the prefix is required.
    """
    kind, _, bare = name.partition(":")
    if not bare or kind not in TARGET_KINDS:
        kind, bare = "", name
    return _target(kind, bare.strip(), policies)


@lru_cache(maxsize=256)
def _target(kind: str, name: str, policies: Policies) -> ShareTarget:
    from lake.catalog import load_catalog
    from views.definitions import shipped_views

    catalog = load_catalog()
    views = shipped_views()
    dataset_id = name if name in catalog.datasets else next(
        (d.id for d in catalog.datasets.values() if d.code == name), None)
    if kind == "" and name in views and dataset_id is not None:
        raise NotFound(f"{name!r} is both a view and a dataset; write view:{name} or dataset:{name}")
    if kind in ("", "view") and name in views:
        view = views[name]
        return ShareTarget("view", name, view.description, view, view_columns(view, policies), view.scope)
    if kind in ("", "dataset") and dataset_id is not None:
        return _dataset_target(dataset_id, policies)
    choices = [*views, *catalog.datasets] if kind == "" else (views if kind == "view" else catalog.datasets)
    raise NotFound(f"no {kind or 'view or dataset'} {name!r}{did_you_mean(name, choices)}; "
                   "`govlake share targets` lists what can be requested")


def _dataset_target(dataset_id: str, policies: Policies) -> ShareTarget:
    from sqlglot import exp

    from lake.catalog import load_catalog
    from views.definitions import View

    dataset = load_catalog().datasets[dataset_id]
    if dataset.access != "physical":
        raise NotFound(f"dataset {dataset_id!r} is connected logically (queried in place) and has no raw table to "
                       "share; request a governed view built from it (`govlake share targets`)")
    resolver = _resolver(policies)
    where = dataset.file or f"lake/catalog/datasets/{dataset_id}.toml"
    columns = {
        item.column: ViewColumn(item.column, resolver.item_flags(dataset_id, item.column, where),
                                (f"raw.{dataset_id}.{item.column}",), True)
        for item in dataset.items
    }
    scope = next((item.column for item in dataset.items if item.element == "division_code"), None)
    query = exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(
        exp.table_(dataset_id, db="raw"))
    description = (f"{dataset.name}（{dataset.code}，{dataset.provider.name}提供）：按提供方交付的原样"
                   "（已通过目录契约检查，隔离行除外，未经标准化）")
    view = View(
        name=dataset_id, description=description, query=query, columns=tuple(columns),
        tables=(f"raw.{dataset_id}",), scope=scope,
        unscoped_reason="" if scope else "数据集没有行政区划信息项",
        column_comments={item.column: item.description for item in dataset.items}, file=Path(where),
    )
    return ShareTarget("dataset", dataset_id, dataset.name, view, columns, scope, dataset.share.type,
                       dataset.provider.id, dataset.share.conditions)


@lru_cache(maxsize=4)
def _resolver(policies: Policies) -> TableFlagResolver:
    return TableFlagResolver(policies)


def default_hidden(target: ShareTarget, column: str) -> bool:
    """Whether ``column`` is hidden (NULL) under the default treatment, i.e. without a grant naming it."""
    from policies import ColumnGrant

    shown, _ = treatment(target.columns[column], ColumnGrant(target.view_name), open_view=target.view.is_open)
    return shown == "hidden"


def route(target: ShareTarget, columns: list[str] | tuple[str, ...], unmask: list[str] | tuple[str, ...],
          policies: Policies) -> Route:
    """The route and owner of a request for ``columns`` of ``target`` (see the module docstring)."""
    from lake.catalog import load_catalog
    from lake.catalog.model import SHARE_LABELS

    catalog = load_catalog()
    if target.kind == "dataset":
        assert target.share_type is not None and target.provider is not None
        share_type, owner = target.share_type, target.provider
        sources: tuple[str, ...] = (target.name,)
        reason = f"数据集 {target.name} 的共享属性为{SHARE_LABELS[share_type]}"
        if share_type == "none":
            conditions = target.conditions or "目录标注为不予共享"
            reason += f"：{conditions}"
        elif target.conditions:
            reason += f"（{target.conditions}）"
    else:
        levels: list[str] = []
        datasets: set[str] = set()
        for column in columns:
            flags = target.columns[column].flags
            datasets |= flags.datasets
            if flags.datasets:
                levels.extend(catalog.datasets[d].share.type for d in flags.datasets)
            else:
                levels.append("unconditional" if flags.grade == "general" else "conditional")
        share_type = max(levels, key=SHARE_ORDER.__getitem__)
        sources = tuple(sorted(datasets))
        owner = _owner(target, columns, policies)
        strict = sorted(d for d in datasets if catalog.datasets[d].share.type == share_type)
        reason = f"视图 {target.name} 所选列的来源中最严格的共享属性为{SHARE_LABELS[share_type]}"
        if strict:
            reason += "（" + "、".join(strict) + "）"
        if share_type == "none":
            conditions = "；".join(c for c in (catalog.datasets[d].share.conditions for d in strict) if c)
            reason += f"：{conditions or '目录标注为不予共享'}"
    final = share_type
    if share_type == "unconditional":
        beyond = [c for c in columns if default_hidden(target, c)]
        if unmask or beyond:
            final = "conditional"
            shown = "、".join([*(f"{c}（不脱敏）" for c in unmask), *(c for c in beyond if c not in unmask)])
            reason += f"；申请显示默认不提供的内容（{shown}），需提供方审核"
    return Route(share_type, final, owner, reason, sources)


def _owner(target: ShareTarget, columns: list[str] | tuple[str, ...], policies: Policies) -> str:
    """The department that decides a request for ``columns`` of a view (module docstring, "Owner")."""
    from lake.catalog import load_catalog

    catalog = load_catalog()
    votes: Counter[str] = Counter()
    strictness: dict[str, int] = {}
    for column in columns:
        view_column = target.columns[column]
        authority = next((a for a in (_authority(i, policies) for i in view_column.inputs) if a), None)
        department = catalog.datasets[authority].provider.id if authority else PLATFORM_DEPARTMENT
        votes[department] += 1
        level = SHARE_ORDER[catalog.datasets[authority].share.type] if authority else -1
        strictness[department] = max(strictness.get(department, -1), level)
    ranked = sorted(votes, key=lambda d: (-strictness[d], -votes[d], d))
    return ranked[0] if ranked else PLATFORM_DEPARTMENT


def _authority(built: str, policies: Policies, depth: int = 0) -> str | None:
    """The authoritative source dataset of a built column ``zone.table.column`` (一数一源), or None."""
    from lake.catalog.libraries import load_libraries

    parts = built.split(".")
    if len(parts) == 2:  # a catalog item dataset.column
        return parts[0]
    if len(parts) != 3 or depth > 8:
        return None
    table, column = f"{parts[0]}.{parts[1]}", parts[2]
    resolver = _resolver(policies)
    spec = resolver.specs.get(table)
    fallback = policies.table_flags.get(table)
    derived = (spec.derived_from.get(column) if spec is not None else None) or (
        fallback.derived_from.get(column) if fallback is not None else None)
    if derived:
        return next((a for a in (_authority(i, policies, depth + 1) for i in derived) if a), None)
    if spec is not None and spec.library:
        library = load_libraries()[spec.library]
        attribute = next((a for a in library.attributes if a.name == column), None)
        if attribute is not None and attribute.sources:
            return attribute.sources[0].dataset
        if column == library.key and library.anchor:
            return library.anchor[0]
    return None


def grant_access(target: ShareTarget, *, view_name: str, columns: tuple[str, ...], unmask: tuple[str, ...],
                 scope: str, basis: str) -> ViewAccess:
    """What a grant shows: the approved columns of ``target`` as ``view_name``, masked and scoped.

    ``columns`` are shown in the target's order; those hidden by default are revealed, those
    in ``unmask`` are shown as stored; ``scope`` is the division prefix ('' = every row).
    """
    from policies import ColumnGrant

    approved = [c for c in target.view.columns if c in set(columns)]
    reveal = frozenset(c for c in approved if default_hidden(target, c))
    grant = ColumnGrant(view_name, reveal, frozenset(unmask), basis)
    access = {
        c: ColumnAccess(target.columns[c], *treatment(target.columns[c], grant, open_view=target.view.is_open))
        for c in approved
    }
    view = dataclasses.replace(target.view, name=view_name, description=f"{target.view.description}〔{basis}〕")
    return ViewAccess(view, access, scope if target.scope else "", basis)


def describe_targets(policies: Policies) -> list[dict[str, Any]]:
    """Every target that can be requested, with its share type, owner and columns (for catalogs and pages).

    For a view, the share type and owner are those of a request for all its columns.
    """
    from lake.catalog import load_catalog
    from views.definitions import shipped_views

    rows = []
    names = [f"view:{v}" for v in shipped_views()]
    names += [f"dataset:{d.id}" for d in load_catalog().datasets.values() if d.access == "physical"]
    for name in names:
        target = resolve_target(name, policies)
        decided = route(target, target.view.columns, (), policies)
        rows.append({
            "kind": target.kind, "target": target.name, "title": target.title, "view": target.view_name,
            "share_type": decided.share_type, "route": decided.route, "owner": decided.owner,
            "scope_column": target.scope, "columns": list(target.view.columns),
            "hidden_by_default": [c for c in target.view.columns if default_hidden(target, c)],
        })
    return rows

