"""Typed model of the catalog. Built only by :mod:`lake.catalog.load`, which validates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from govlake.errors import NotFound, did_you_mean

Grade = Literal["core", "important", "general"]
PersonalInfo = Literal["none", "personal", "sensitive"]
ShareType = Literal["unconditional", "conditional", "none"]
OpenType = Literal["unconditional", "conditional", "none"]
Access = Literal["physical", "logical"]
SourceFormat = Literal["csv", "jsonl", "parquet", "geojson", "sqlite"]
UpdateCycle = Literal["realtime", "daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly"]

GRADE_ORDER: dict[str, int] = {"general": 0, "important": 1, "core": 2}
GRADE_LABELS: dict[str, str] = {"core": "核心数据", "important": "重要数据", "general": "一般数据"}
SHARE_LABELS: dict[str, str] = {
    "unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享",
}
OPEN_LABELS: dict[str, str] = {
    "unconditional": "无条件开放", "conditional": "有条件开放", "none": "不予开放",
}
PI_LABELS: dict[str, str] = {"none": "非个人信息", "personal": "个人信息", "sensitive": "敏感个人信息"}
CYCLE_LABELS: dict[str, str] = {
    "realtime": "实时", "daily": "每日", "weekly": "每周", "monthly": "每月",
    "quarterly": "每季度", "half_yearly": "每半年", "yearly": "每年",
}
#: Declared update cycle in days, for freshness checks.
CYCLE_DAYS: dict[str, int] = {
    "realtime": 1, "daily": 1, "weekly": 7, "monthly": 31,
    "quarterly": 92, "half_yearly": 183, "yearly": 366,
}


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    short_name: str
    code: str
    sla_days: int


@dataclass(frozen=True)
class CodeTable:
    """A code table: canonical codes, their names, and aliases departments write instead."""

    id: str
    codes: dict[str, str]  # code -> name
    aliases: dict[str, str]  # any accepted spelling (name, alias, code) -> code

    def name_of(self, code: str) -> str:
        return self.codes[code]


@dataclass(frozen=True)
class DataElement:
    id: str
    name: str
    type: str
    length: int
    rule: str
    standard: str = ""
    code_table: str | None = None


@dataclass(frozen=True)
class Item:
    """An information item (信息项): one column of a source dataset."""

    column: str  # English column name used in the lake
    source: str  # the header / key the department writes
    element: str  # data element id
    description: str
    required: bool = False
    pi: PersonalInfo = "none"
    grade: Grade | None = None  # overrides the dataset grade for this column


@dataclass(frozen=True)
class Share:
    type: ShareType
    conditions: str = ""
    method: str = ""


@dataclass(frozen=True)
class Open:
    type: OpenType
    conditions: str = ""


@dataclass(frozen=True)
class Dataset:
    """One catalog entry: a source dataset and its contract."""

    id: str
    code: str
    name: str
    provider: Department
    abstract: str
    format: SourceFormat
    file_pattern: str
    update_cycle: UpdateCycle
    publish_date: dt.date
    grade: Grade
    access: Access
    key: tuple[str, ...]
    share: Share
    open: Open
    items: tuple[Item, ...]
    classification: tuple[str, ...]  # names of 类 / 项 / 目
    related: tuple[str, ...] = ()
    encoding: str | None = None
    source_table: str | None = None  # for sqlite sources
    file: str = ""  # the catalog file this entry came from

    @property
    def columns(self) -> list[str]:
        return [item.column for item in self.items]

    def item(self, column: str) -> Item:
        for item in self.items:
            if item.column == column:
                return item
        raise NotFound(
            f"dataset {self.id!r} has no item {column!r}{did_you_mean(column, self.columns)}"
        )

    def column_grade(self, column: str) -> Grade:
        return self.item(column).grade or self.grade

    @property
    def raw_table(self) -> str:
        """Name of this dataset's table in the raw zone."""
        return self.id


@dataclass(frozen=True)
class Catalog:
    datasets: dict[str, Dataset]
    departments: dict[str, Department]
    elements: dict[str, DataElement]
    code_tables: dict[str, CodeTable]
    classification: dict[str, str] = field(default_factory=dict)  # code prefix -> name

    def dataset(self, key: str) -> Dataset:
        """Look a dataset up by id (``hukou``) or resource code (``101001/00001``)."""
        if key in self.datasets:
            return self.datasets[key]
        for dataset in self.datasets.values():
            if dataset.code == key:
                return dataset
        choices = [*self.datasets, *(d.code for d in self.datasets.values())]
        raise NotFound(
            f"no dataset {key!r} in the catalog{did_you_mean(key, choices)}; "
            "`govlake catalog list` shows them all"
        )

    def department(self, key: str) -> Department:
        if key in self.departments:
            return self.departments[key]
        for dept in self.departments.values():
            if key in (dept.name, dept.short_name, dept.code):
                return dept
        raise NotFound(
            f"no department {key!r}{did_you_mean(key, self.departments)}; "
            f"departments are {', '.join(self.departments)}"
        )

    def element(self, element_id: str) -> DataElement:
        return self.elements[element_id]

    def code_table(self, table_id: str) -> CodeTable:
        return self.code_tables[table_id]

    def element_of(self, dataset: Dataset, column: str) -> DataElement:
        return self.elements[dataset.item(column).element]
