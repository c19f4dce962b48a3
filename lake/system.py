"""GovLake's own tables in the ``system`` zone, with their descriptions and column comments."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemTable:
    name: str
    description: str
    columns: dict[str, str]  # column -> comment


INGEST_LOG = SystemTable(
    "ingest_log",
    "归集日志：每个归集文件一行，记录批次、来源文件、编码和行数（读取 = 入库 + 隔离）。",
    {
        "batch_id": "批次标识（数据集 + 文件内容摘要）",
        "dataset": "数据集标识",
        "dataset_code": "信息资源代码",
        "department": "提供方部门标识",
        "access": "接入方式：physical 物理汇聚，logical 逻辑接入",
        "source_file": "来源文件路径",
        "source_sha256": "来源文件 SHA-256",
        "source_bytes": "来源文件字节数",
        "encoding": "检测到的编码",
        "rows_read": "读取行数",
        "rows_loaded": "入库行数",
        "rows_quarantined": "隔离行数",
        "ignored_columns": "文件中有但目录未定义、未入库的列",
        "raw_version": "入库后原始表的 Delta 版本",
        "started_at": "开始时间（UTC）",
        "finished_at": "完成时间（UTC）",
        "ingested_by": "操作系统用户",
    },
)

QUARANTINE = SystemTable(
    "quarantine",
    "隔离区：无法解析或不满足契约的行，连同原因和原文。",
    {
        "batch_id": "批次标识",
        "dataset": "数据集标识",
        "source_file": "来源文件路径",
        "source_sha256": "来源文件 SHA-256",
        "source_row": "在来源文件中的行号（GeoJSON 为要素序号）",
        "reason": "隔离原因",
        "original_text": "原始文本",
        "ingested_at": "归集时间（UTC）",
    },
)

LOGICAL_SOURCES = SystemTable(
    "logical_sources",
    "逻辑接入登记：不复制、就地查询的数据源位置。",
    {
        "dataset": "数据集标识",
        "location": "数据源位置（文件路径）",
        "source_table": "源表名",
        "registered_at": "登记时间（UTC）",
        "rows_at_registration": "登记时的行数",
    },
)

BUILDS = SystemTable(
    "builds",
    "构建清单：每次构建一行，记录构建方式、参考日期、纳入的批次以及各输出表的 Delta 版本，读者据此读取一致的版本组合。",
    {
        "build_id": "构建序号",
        "kind": "构建方式：full 全量，incremental 增量",
        "as_of": "构建参考日期（最近一次归集的日期）",
        "batches": "纳入本次构建的全部批次",
        "new_batches": "本次新纳入的批次",
        "outputs": "各输出表及其 Delta 版本（JSON）",
        "keys_rebuilt": "增量构建重算的对象数",
        "started_at": "开始时间（UTC）",
        "finished_at": "完成时间（UTC）",
    },
)

SYSTEM_TABLES: dict[str, SystemTable] = {
    table.name: table for table in (INGEST_LOG, QUARANTINE, LOGICAL_SOURCES, BUILDS)
}

#: Lineage columns every raw-zone row carries, with their comments.
LINEAGE_COLUMNS: dict[str, str] = {
    "_batch_id": "批次标识",
    "_source_file": "来源文件路径",
    "_source_sha256": "来源文件 SHA-256",
    "_source_row": "来源文件行号（GeoJSON 为要素序号）",
    "_ingested_at": "归集时间（UTC）",
}
