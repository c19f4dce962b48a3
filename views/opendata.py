"""Publishing open data (分级开放): governed open views, read as the public, written to the open area.

A *release* is a governed open-data view, of one of two kinds:

* an aggregate (``@open: <count column>``) whose count cells under
  :data:`views.masks.MIN_PERSONS` are suppressed (``open_entities``);
* records the law makes public (``@open: records``): the 双公示 administrative licences and
  penalties and the list of dishonest debtors (``open_admin_licences``,
  ``open_admin_penalties``, ``open_dishonest_debtors``). Every column keeps its mask, and a
  natural person's name and identifier are masked on every row (:func:`views.masks.party_value`).

Its source datasets are worked out, not declared by hand: from the lineage of its columns
(:mod:`views.columns`), and for a table whose rows each name their dataset
(:data:`ROW_SOURCES`, ``base.credit_facts``) from the view's ``WHERE source_dataset = '...'``,
which the view must have. The catalog's open attribute of **every** source dataset must be
``unconditional`` for the release to be published (:func:`lake.opendata.decide`); one
conditional or closed source refuses it, with that dataset's reason. So ``open_entities``
(from market_entities and social_orgs, both open unconditionally) is published, and
``open_population`` (from hukou, births and deaths, which the catalog does not open) is
refused: statistics of a closed dataset need their own catalog entry with an open attribute
before they can be released.

The rows are read through the governed session of the open-data user (a user whose every
role is ``open_data_only``, e.g. ``open_public``), page by page within its row limit: the same
masks, suppression and audit as a member of the public querying the view, so what is
published is exactly what the public may see. Before anything is written, every text cell is
scanned for a resident ID (:func:`lake.opendata.resident_ids`); one found refuses the release.

>>> # [outcome.published.folder for outcome in publish(home) if outcome.published]
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govlake.errors import ConfigError, GovLakeError, NotFound, did_you_mean
from govlake.home import Home
from lake.opendata import (
    DictionaryEntry,
    OpenDecision,
    PublishedRelease,
    ReleaseMeta,
    SourceDataset,
    decide,
    refused,
    resident_ids,
    write_release,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from policies import Policies
    from views.definitions import View
    from views.session import GovernedSession


@dataclass(frozen=True)
class Release:
    """An open-data view as a release: its title, source datasets and data dictionary."""

    name: str
    title: str
    description: str
    view: View
    datasets: tuple[str, ...]  # catalog datasets its columns (and, for ROW_SOURCES, rows) come from
    dictionary: tuple[DictionaryEntry, ...]
    problem: str = ""  # why its sources cannot be worked out ('' when they can)


#: Built tables whose every row names the catalog dataset it comes from, and the column that
#: names it. A view reading one must restrict that column in its top-level WHERE
#: (``source_dataset = 'admin_penalties'`` or ``IN (...)``); those datasets are then its rows'
#: sources. ``base.credit_facts`` mixes several datasets, so its columns' lineage cannot say.
ROW_SOURCES: dict[str, str] = {"base.credit_facts": "source_dataset"}


@dataclass(frozen=True)
class Outcome:
    """What publishing one release (or one catalog dataset) did."""

    subject: str  # the release or dataset asked for
    published: PublishedRelease | None
    reason: str  # why it was refused, '' when published

    @property
    def ok(self) -> bool:
        return self.published is not None


def releases(policies: Policies | None = None) -> dict[str, Release]:
    """Every governed open-data view, as a release."""
    from lake.catalog import load_catalog
    from lake.catalog.libraries import load_libraries
    from policies import load_policies
    from views.columns import view_columns
    from views.definitions import shipped_views

    policies = policies or load_policies()
    catalog, libraries = load_catalog(), load_libraries()
    found = {}
    for view in shipped_views().values():
        if not view.is_open_data:
            continue
        flags = view_columns(view, policies)
        by_rows, problem = row_datasets(view, set(catalog.datasets))
        datasets = sorted({name for column in flags.values() for name in column.flags.datasets} | by_rows)
        dictionary = []
        for column in view.columns:
            comment = view.column_comments.get(column) or flags[column].flags.comment or column
            # The data element of the library attribute the column reads (through its authoritative
            # source); a computed column keeps it only when it reads one attribute, and says so.
            element, lineage = "", flags[column]
            if len(lineage.inputs) == 1:
                zone_table, _, attribute = lineage.inputs[0].rpartition(".")
                library = next((lib for lib in libraries.values() if zone_table == f"base.{lib.id}"), None)
                source = next((a.sources[0] for a in library.attributes if a.name == attribute), None) \
                    if library else None
                if source is not None and source.dataset in catalog.datasets:
                    element = catalog.dataset(source.dataset).item(source.column).element
                elif lineage.direct and zone_table in ROW_SOURCES:
                    # Rows of one dataset: a column named as one of its items (the item's source
                    # header, e.g. 行政处罚决定书文号) is that item, and has its data element.
                    items = {item.element for name in by_rows for item in catalog.dataset(name).items
                             if _short_name(item.source) == _short_name(comment)}
                    element = items.pop() if len(items) == 1 else ""
                if not lineage.direct:
                    comment += f"（由 {lineage.inputs[0]} 计算）"
            dictionary.append(DictionaryEntry(column, _short_name(comment), element, comment))
        title, _, description = view.description.partition("：")
        found[view.name] = Release(view.name, title, description or view.description, view, tuple(datasets),
                                   tuple(dictionary), problem)
    return found


def row_datasets(view: View, known: set[str]) -> tuple[frozenset[str], str]:
    """(catalog datasets the rows of ``view`` come from by its WHERE on a :data:`ROW_SOURCES` column, problem).

    Empty and '' when the view reads no such table. The table must be read once, in the view's
    own FROM or JOIN, and the top-level WHERE must restrict its source column to literal dataset
    ids (``=`` or ``IN``); otherwise the problem says what is missing and the release is refused.
    """
    from sqlglot import exp

    query = view.query
    aliases: dict[str, str] = {}
    for table in query.find_all(exp.Table):
        full = f"{table.db}.{table.name}"
        if full not in ROW_SOURCES:
            continue
        if table.parent_select is not query or full in aliases:
            return frozenset(), (f"开放数据集 {view.name} 多次或在子查询中读取 {full}，"
                                 f"无法按其 {ROW_SOURCES[full]} 列确定来源数据集，不予发布")
        aliases[full] = table.alias_or_name
    if not aliases:
        return frozenset(), ""
    where = query.args.get("where")
    conjuncts = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) else \
        ([where.this] if where is not None else [])
    found: set[str] = set()
    for full, alias in aliases.items():
        allowed: set[str] | None = None
        for condition in conjuncts:
            values = _restricted(condition, ROW_SOURCES[full], alias)
            if values is not None:
                allowed = values if allowed is None else allowed & values
        if allowed is None:
            return frozenset(), (f"开放数据集 {view.name} 读取 {full}，但 WHERE 没有用 "
                                 f"{ROW_SOURCES[full]} = '<数据集>' 限定来源数据集，无法按目录开放属性判断，不予发布")
        unknown = sorted(allowed - known)
        if unknown:
            return frozenset(), (f"开放数据集 {view.name} 的 {ROW_SOURCES[full]} 限定了目录中没有的数据集 "
                                 f"{unknown}，不予发布")
        found |= allowed
    return frozenset(found), ""


def _restricted(condition: object, column: str, alias: str) -> set[str] | None:
    """The literal values ``condition`` restricts ``alias.column`` to (``=`` or ``IN``), else None."""
    from sqlglot import exp

    def names(node: exp.Expr) -> bool:
        return isinstance(node, exp.Column) and node.name == column and node.table in ("", alias)

    if isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.EQ):
        for left, right in ((condition.this, condition.expression), (condition.expression, condition.this)):
            if names(left) and isinstance(right, exp.Literal) and right.is_string:
                return {right.name}
    if isinstance(condition, exp.In) and names(condition.this) and not condition.args.get("query") \
            and all(isinstance(e, exp.Literal) and e.is_string for e in condition.expressions):
        return {e.name for e in condition.expressions}
    return None


def decisions(release: Release) -> list[OpenDecision]:
    """The catalog's open decision for each source dataset of ``release``."""
    from lake.catalog import load_catalog

    catalog = load_catalog()
    return [decide(catalog.dataset(name)) for name in release.datasets]


def plan(names: Sequence[str] | None = None) -> list[tuple[str, Release | None, str]]:
    """(subject, release or None, refusal reason) for each name: a release, or a catalog dataset.

    No names: every release. A catalog dataset stands for the releases that draw on it; one
    the catalog does not open, or that no release draws on, is refused with the reason.
    """
    from lake.catalog import load_catalog

    known = releases()
    if not names:
        names = list(known)
    catalog = load_catalog()
    planned: list[tuple[str, Release | None, str]] = []
    for name in dict.fromkeys(names):
        if name in known:
            planned.append((name, known[name], _refusal(known[name])))
        elif name in catalog.datasets or any(d.code == name for d in catalog.datasets.values()):
            dataset = catalog.dataset(name)
            decision = decide(dataset)
            drawing = [release for release in known.values() if dataset.id in release.datasets]
            if not decision.allowed:
                planned.append((dataset.id, None, decision.reason))
            elif not drawing:
                planned.append((dataset.id, None,
                                f"{decision.reason}，但还没有开放数据视图（带 @open 的视图）使用它；"
                                "先在 views/ 中为它定义一个汇总视图并授权给 open_data 角色"))
            else:
                planned.extend((release.name, release, _refusal(release)) for release in drawing)
        else:
            raise NotFound(f"{name!r} is neither an open-data release nor a catalog dataset"
                           f"{did_you_mean(name, [*known, *catalog.datasets])}; `govlake opendata list` shows both")
    return planned


def _refusal(release: Release) -> str:
    if release.problem:
        return release.problem
    closed = [decision.reason for decision in decisions(release) if not decision.allowed]
    if not release.datasets:
        return f"开放数据集 {release.name} 的列没有可追溯的来源数据集，无法按目录开放属性判断，不予发布"
    return "；".join(closed)


def open_data_user(policies: Policies | None = None) -> str:
    """The user the open area is read as: one whose every role may read open-data views only."""
    from policies import load_policies

    policies = policies or load_policies()
    for name, user in sorted(policies.users.items()):
        if user.roles and all(policies.roles[role].open_data_only for role in user.roles) \
                and not user.scope.division_prefix:
            return name
    raise ConfigError("no user has only open-data roles with a national scope, so open data cannot be read as the "
                      "public would; add one (roles = [\"open_data\"], scope = \"national\")",
                      location=str(policies.folder / "users.toml"))


def publish(home: Home, names: Sequence[str] | None = None, *, by: str | None = None) -> list[Outcome]:
    """Publish each release named (default: all) that the catalog opens; refuse and audit the others."""
    from transforms.manifest import latest
    from views.session import open_session, table_locations

    by = by or getpass.getuser()
    outcomes: list[Outcome] = []
    todo = plan(names)
    manifest = latest(home)
    if manifest is None and any(reason == "" for _, _, reason in todo):
        raise GovLakeError(f"nothing is built in {home.root}; run `govlake build` before publishing open data")
    reader = open_data_user()
    session = None
    try:
        for subject, release, reason in todo:
            if release is None or reason:
                refused(home, user=by, subject=subject, reason=reason)
                outcomes.append(Outcome(subject, None, reason))
                continue
            if session is None:
                session = open_session(reader, home=home)
            if release.name not in session.views():
                missing = session.unavailable.get(release.name)
                why = (f"表 {', '.join(missing)} 尚未构建" if missing else
                       f"视图未授予开放数据用户 {reader}（policies/grants.toml 的 open_data 角色）")
                refused(home, user=by, subject=subject, reason=why)
                outcomes.append(Outcome(subject, None, why))
                continue
            table = _read_whole(session, release.name)
            leaked = resident_ids(table)
            if leaked:
                # A mask failed somewhere: publish nothing, and say where (never the value itself).
                where = "、".join(f"{column} 列 {count} 个" for column, count in leaked.items())
                why = (f"发布内容中发现未脱敏的公民身份号码（{where}），不予发布；"
                       f"请检查视图 {release.name} 的脱敏规则（policies/masks.toml、views/masks.py）")
                refused(home, user=by, subject=subject, reason=why)
                outcomes.append(Outcome(subject, None, why))
                continue
            locations = table_locations(home, release.view.tables)
            meta = ReleaseMeta(
                release=release.name, title=release.title, description=release.description,
                datasets=tuple(_source(name) for name in release.datasets), view=release.name,
                source_versions={name: loc.version for name, loc in locations.items() if loc.version is not None},
                build_id=manifest.build_id if manifest else None,
                as_of=manifest.as_of.isoformat() if manifest else None,
                suppression=_suppression(release.view),
                conditions=tuple(d.reason for d in decisions(release)),
            )
            written = write_release(home, meta, table, list(release.dictionary), by=by)
            outcomes.append(Outcome(subject, written, ""))
    finally:
        if session is not None:
            session.close()
    return outcomes


def _read_whole(session: GovernedSession, view: str) -> pa.Table:
    """Every row of ``view`` as the session's user sees it, a page of the role's row limit at a time
    (each page a governed, audited query, as a member of the public could run them)."""
    import pyarrow as pa

    limit, offset = session.row_limit, 0
    pages = []
    while True:
        result = session.query(f"SELECT * FROM {view} ORDER BY ALL LIMIT {limit} OFFSET {offset}")
        pages.append(result.table)
        if result.table.num_rows < limit:
            return pa.concat_tables(pages)
        offset += limit


def _source(name: str) -> SourceDataset:
    from lake.catalog import load_catalog

    dataset = load_catalog().dataset(name)
    return SourceDataset(dataset.id, dataset.code, dataset.name, dataset.provider.name, dataset.open.type,
                         dataset.open.conditions)


def _suppression(view: View) -> str:
    from views.masks import MIN_PERSONS

    if view.open_records:
        return ("依法公示的记录，每条一行：法人、非法人组织和个体工商户的名称、统一社会信用代码原样公示；"
                "自然人的姓名只公示姓氏（名以 * 代替），公民身份号码保留前 6 位和后 4 位、隐去出生日期等中间 8 位；"
                "不满 18 周岁的自然人不予公示；个人信息的其他列一律不公示。")
    counts = "、".join(view.open_counts)
    return (f"汇总单元格（{counts}）小于 {MIN_PERSONS} 的不予公开（置空）；"
            f"所有计数单元格均小于 {MIN_PERSONS} 的行整行不予公开。不含任何个人明细记录。")


def _short_name(comment: str) -> str:
    """The Chinese name of a column: its comment up to the first bracket, comma or colon."""
    return re.split(r"[（(，,：:；;]", comment, maxsplit=1)[0].strip() or comment
