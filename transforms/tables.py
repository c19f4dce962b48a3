"""Every table a build writes: its description, column comments and partitioning."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lake.catalog.libraries import load_libraries


@dataclass(frozen=True)
class TableSpec:
    description: str
    columns: dict[str, str] = field(default_factory=dict)
    partition_by: tuple[str, ...] = ()
    library: str | None = None

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
    ),
    "base.legal_entity": TableSpec(
        "法人基础库：一码一档，市场主体和社会组织，每个属性取自其权威来源并记录来源。",
        {"uscc": "统一社会信用代码（GB 32100）", "category": "主体类别（由代码第1-2位解码）",
         "status_name": "登记状态名称", "industry_section": "行业门类（GB/T 4754）",
         "legal_rep_in_population": "法定代表人是否在人口库中", "province": "住所省份代码",
         "provenance": PROVENANCE},
        library="legal_entity",
    ),
    "base.conflicts": TableSpec(
        "跨来源冲突：同一对象同一属性在不同来源取值不一致，供数据质量反馈与核查。",
        {"library": "基础库", "key": "对象标识（身份号码或信用代码）", "attribute": "属性",
         "chosen_source": "采用的来源（权威来源）", "chosen_value": "采用的值", "chosen_batch": "采用值的批次",
         "other_source": "不一致的来源", "other_value": "不一致的值", "other_batch": "不一致值的批次"},
    ),
}
