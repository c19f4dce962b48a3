"""Every table a build writes: its description, column comments and partitioning."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lake.catalog.libraries import load_libraries


@dataclass(frozen=True)
class TableSpec:
    """One output table. The last six fields are governance flags read by ``views/columns.py``.

    A column's flags (personal information, grade, mask) come, in order of precedence, from
    ``pi`` / ``grades`` / ``masks``; else from ``derived_from``; else from the catalog when the
    column is a library attribute or key; else from ``default_pi`` / ``grade``. A column with no
    flag at all cannot be read by a governed view (fail closed, docs/governed-sql.md).
    """

    description: str
    columns: dict[str, str] = field(default_factory=dict)
    partition_by: tuple[str, ...] = ()
    library: str | None = None
    #: column -> inputs it is computed from: ``dataset.column`` (catalog item) or
    #: ``zone.table.column`` (another built column). Strictest PI and highest grade win.
    derived_from: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: column -> ``none`` / ``personal`` / ``sensitive`` (overrides what is derived)
    pi: dict[str, str] = field(default_factory=dict)
    #: column -> ``core`` / ``important`` / ``general`` (overrides what is derived)
    grades: dict[str, str] = field(default_factory=dict)
    #: column -> mask kind from policies/masks.toml, ``clear`` or ``hidden`` (overrides what is derived)
    masks: dict[str, str] = field(default_factory=dict)
    #: PI of columns with no other flag (``none`` for aggregate marts); None: such columns are unflagged
    default_pi: str | None = None
    #: grade of columns with no other grade (None: general)
    grade: str | None = None

    @cached_property
    def comments(self) -> dict[str, str]:
        comments = dict(self.columns)
        if self.library:
            for attribute in load_libraries()[self.library].attributes:
                sources = "、".join(str(ref) for ref in attribute.sources)
                comments.setdefault(attribute.name, f"{attribute.description}（来源优先级：{sources}）")
        return comments


PROVENANCE = "每个属性的来源：数据集、批次、归集时间"

TABLES: dict[str, TableSpec] = {
    "base.population": TableSpec(
        "人口基础库：一人一档，每个属性取自其权威来源（一数一源）并记录来源，按省份分区。",
        {"resident_id": "公民身份号码（GB 11643）", "age": "周岁年龄（以构建参考日计）",
         "alive": "是否在世", "province": "户籍省份代码（身份号码前两位）", "provenance": PROVENANCE},
        partition_by=("province",), library="population",
        derived_from={"age": ("base.population.birth_date",), "alive": ("base.population.death_date",)},
        pi={"province": "none", "provenance": "none"}, masks={"province": "clear"},
    ),
    "base.legal_entity": TableSpec(
        "法人基础库：一码一档，市场主体和社会组织，每个属性取自其权威来源并记录来源。",
        {"uscc": "统一社会信用代码（GB 32100）", "category": "主体类别（由代码第1-2位解码）",
         "status_name": "登记状态名称", "industry_section": "行业门类（GB/T 4754）",
         "legal_rep_in_population": "法定代表人是否在人口库中", "province": "住所省份代码",
         "provenance": PROVENANCE},
        library="legal_entity",
        derived_from={"category": ("base.legal_entity.uscc",), "status_name": ("base.legal_entity.status",),
                      "industry_section": ("base.legal_entity.industry_code",),
                      "legal_rep_in_population": ("base.legal_entity.legal_rep_id",),
                      "province": ("base.legal_entity.division",)},
        pi={"provenance": "none"}, masks={"legal_rep_in_population": "clear"},
    ),
    "base.person_links": TableSpec(
        "人员关联：各部门记录中提及的人员与人口库的关联结果（精确或概率关联），可追溯到来源批次和行。",
        {"record_id": "记录标识（数据集:角色:批次:行号）", "resident_id": "关联到的公民身份号码",
         "method": "关联方式：exact 精确，probabilistic 概率，unlinked 未关联",
         "match_weight": "匹配权重（比特）", "match_probability": "匹配概率",
         "candidates_considered": "候选人数", "dataset": "来源数据集", "role": "记录中的角色"},
    ),
    "base.conflicts": TableSpec(
        "跨来源冲突：同一对象同一属性在不同来源取值不一致，供数据质量反馈与核查。",
        {"library": "基础库", "key": "对象标识（身份号码或信用代码）", "attribute": "属性",
         "chosen_source": "采用的来源（权威来源）", "chosen_value": "采用的值", "chosen_batch": "采用值的批次",
         "other_source": "不一致的来源", "other_value": "不一致的值", "other_batch": "不一致值的批次"},
        # Values of any attribute, personal ones included: hidden unless a grant names them.
        pi={"key": "personal", "chosen_value": "personal", "other_value": "personal"},
        masks={"key": "party_id", "chosen_value": "hidden", "other_value": "hidden"},
        default_pi="none", grade="important",
    ),
}


def all_tables() -> dict[str, TableSpec]:
    """Every output table: the registry above plus each step module's own ``TABLES``.

    Step modules import :class:`TableSpec` from here, so they are merged lazily.
    """
    from transforms import credit, e_licence, geospatial, history, topics

    merged = dict(TABLES)
    for module in (credit, e_licence, geospatial, topics, history):
        merged.update(module.TABLES)
    return merged
