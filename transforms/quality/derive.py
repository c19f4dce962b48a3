"""The quality rules: derived from the catalog and the data standards, plus those it declares.

No rule is written per dataset in code. :func:`derive` turns the catalog into a literal tuple
of :class:`QualityRule`, each saying which *check* evaluates it (:mod:`transforms.quality.checks`),
its dimension, its stage and the department that owns the data it judges:

========================  ===========  ======  ==============================================
rule id                   dimension    stage   derived from
========================  ===========  ======  ==============================================
contract.parse.D          validity     before  ingest: records that could not be parsed
contract.key.D            completeness before  ingest: records without their key
contract.reconcile.D      completeness before  ingest log: read = loaded + quarantined
validity.element.D.C      validity     during  item C's data element (check characters,
                                               divisions that exist, calendar dates, codes)
validity.format.D.C       validity     during  the same element: written as the standard spells it
completeness.item.D.C     completeness after   ``required`` items; ``[expected.*]`` declarations
validity.range.N.C        validity     after   ``[range.N]`` declarations
uniqueness.key.D          uniqueness   after   the dataset ``key``
timeliness.late.N         timeliness   after   ``[late.N]`` declarations
timeliness.cycle.D        timeliness   after   the dataset ``update_cycle``
consistency.L.A           consistency  after   base.conflicts, attribute A of library L
referential.N             referential  after   ``[reference.N]`` declarations
========================  ===========  ======  ==============================================

The owning department (一数一源) is the provider of dataset D, except for a consistency rule,
which belongs to the provider of the attribute's authoritative source (libraries.toml).

>>> from lake.catalog import load_catalog
>>> from lake.catalog.libraries import load_libraries
>>> from lake.catalog.quality import load_quality_rules
>>> rules = derive(load_catalog(), load_libraries(), load_quality_rules())
>>> by_id = {rule.id: rule for rule in rules}
>>> by_id["validity.element.hukou.resident_id"].department, by_id["consistency.population.name"].department
('public_security', 'public_security')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from lake.catalog.libraries import Library
from lake.catalog.model import CYCLE_LABELS, Catalog
from lake.catalog.quality import Condition, Expected, Late, QualityRules, Range, Reference

Dimension = Literal["completeness", "validity", "uniqueness", "consistency", "timeliness", "referential"]
Stage = Literal["before", "during", "after"]
DIMENSIONS: tuple[str, ...] = ("completeness", "validity", "uniqueness", "consistency", "timeliness", "referential")
STAGES: tuple[str, ...] = ("before", "during", "after")
#: Chinese names, for reports and dashboards.
DIMENSION_LABELS: dict[str, str] = {
    "completeness": "完整性", "validity": "有效性", "uniqueness": "唯一性", "consistency": "一致性",
    "timeliness": "及时性", "referential": "关联性",
}
STAGE_LABELS: dict[str, str] = {"before": "事前", "during": "事中", "after": "事后"}


@dataclass(frozen=True)
class QualityRule:
    """One rule. ``check`` names the check that evaluates it; ``dataset`` is None for library rules."""

    id: str
    check: str
    dimension: str
    stage: str
    dataset: str | None
    department: str
    description: str
    column: str | None = None
    required: bool = False  # completeness: a contract item (else an expected one)
    when: Condition | None = None
    declared: Expected | Range | Late | Reference | None = None
    library: str | None = None
    attribute: str | None = None


def derive(catalog: Catalog, libraries: Mapping[str, Library], declared: QualityRules,
           datasets: set[str] | None = None) -> tuple[QualityRule, ...]:
    """Every quality rule, in a stable order; ``datasets`` limits raw-dataset rules to those."""
    rules: list[QualityRule] = []
    chosen = [d for d in catalog.datasets.values() if datasets is None or d.id in datasets]
    for dataset in chosen:
        owner = dataset.provider.id
        d = dataset.id
        rules += [
            QualityRule(f"contract.parse.{d}", "quarantine", "validity", "before", d, owner,
                        f"{dataset.name}：归集时无法解析的记录（已隔离）"),
            QualityRule(f"contract.key.{d}", "quarantine", "completeness", "before", d, owner,
                        f"{dataset.name}：缺少主键的记录（已隔离）"),
            QualityRule(f"contract.reconcile.{d}", "reconcile", "completeness", "before", d, owner,
                        f"{dataset.name}：归集对账（读取 = 入库 + 隔离）"),
        ]
        for item in dataset.items:
            element = catalog.element(item.element)
            label = f"{dataset.name}.{item.source}"
            rules += [
                QualityRule(f"validity.element.{d}.{item.column}", "element", "validity", "during", d, owner,
                            f"{label} 应符合数据元「{element.name}」{element.standard}".rstrip(), item.column),
                QualityRule(f"validity.format.{d}.{item.column}", "format", "validity", "during", d, owner,
                            f"{label} 应按数据元「{element.name}」的标准写法填报", item.column),
            ]
            if item.required:
                rules.append(QualityRule(f"completeness.item.{d}.{item.column}", "completeness", "completeness",
                                         "after", d, owner, f"{label} 为必填项", item.column, required=True))
        required = {item.column for item in dataset.items if item.required}
        for expected in declared.expected.values():
            if expected.dataset != d:
                continue
            for column in expected.columns:
                if column in required and expected.when is None:
                    continue  # the contract already requires it
                suffix = f".when_{expected.when.column}" if expected.when else ""
                rules.append(QualityRule(f"completeness.item.{d}.{column}{suffix}", "completeness", "completeness",
                                         "after", d, owner, expected.description, column, when=expected.when,
                                         declared=expected))
        for declared_range in declared.ranges.values():
            if declared_range.dataset == d:
                rules += [QualityRule(f"validity.range.{declared_range.name}.{column}", "range", "validity", "after",
                                      d, owner, declared_range.description, column, declared=declared_range)
                          for column in declared_range.columns]
        rules.append(QualityRule(f"uniqueness.key.{d}", "uniqueness", "uniqueness", "after", d, owner,
                                 f"{dataset.name}：同一批次内主键（{'、'.join(dataset.key)}）不应重复"))
        rules += [QualityRule(f"timeliness.late.{late.name}", "late", "timeliness", "after", d, owner,
                              late.description, late.event, declared=late)
                  for late in declared.late.values() if late.dataset == d]
        rules.append(QualityRule(f"timeliness.cycle.{d}", "freshness", "timeliness", "after", d, owner,
                                 f"{dataset.name}：应按更新周期（{CYCLE_LABELS[dataset.update_cycle]}）报送"))
        rules += [QualityRule(f"referential.{reference.name}", "reference", "referential", "after", d, owner,
                              reference.description, reference.column, when=reference.when, declared=reference,
                              library=reference.library)
                  for reference in declared.references.values() if reference.dataset == d]
    for library in libraries.values():
        for attribute in library.attributes:
            if not attribute.compare or len(attribute.sources) < 2:
                continue
            authority = catalog.dataset(attribute.sources[0].dataset)
            rules.append(QualityRule(
                f"consistency.{library.id}.{attribute.name}", "consistency", "consistency", "after", None,
                authority.provider.id,
                f"{library.name}「{attribute.description}」各来源应与权威来源（{authority.name}）一致",
                library=library.id, attribute=attribute.name,
            ))
    return tuple(rules)
