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

# --- supply and demand, open data, return flow (lake/demand.py, lake/opendata.py, lake/handback.py).
# Defined here rather than in those modules: they import this one, so a table defined there could
# not be registered below without a circular import.

DEMANDS = SystemTable(
    "demands",
    "供需对接·数据需求：部门提出的数据需求及其每次状态变化（每次变化一行，取每个需求修订号最大的一行为当前状态）。",
    {
        "demand_id": "需求编号",
        "revision": "修订号（从 1 开始，每次状态变化加 1）",
        "title": "需求名称",
        "description": "需求描述",
        "items": "所需数据项",
        "purpose": "用途",
        "department": "需求部门标识",
        "posted_by": "提出人（用户）",
        "posted_at": "提出时间（UTC）",
        "state": "状态：open 待匹配，matched 已匹配，unmet 未满足（列入责任部门应提供清单），"
                 "requested 已转共享申请，closed 已关闭",
        "responsible_department": "未满足时的责任部门标识（应提供该数据的部门）",
        "responsible_reason": "确定责任部门的依据",
        "chosen_dataset": "转为共享申请时选定的数据集",
        "request_id": "转成的共享申请编号",
        "note": "本次变化的说明（如关闭原因）",
        "changed_by": "本次变化的操作人",
        "changed_at": "本次变化时间（UTC）",
    },
)

DEMAND_CANDIDATES = SystemTable(
    "demand_candidates",
    "供需对接·候选数据集：每次匹配为需求推荐的目录数据集，按相关度排序。",
    {
        "demand_id": "需求编号",
        "revision": "产生本次匹配的需求修订号",
        "rank": "名次（1 为最相关）",
        "dataset": "数据集标识",
        "dataset_code": "信息资源代码",
        "dataset_name": "信息资源名称",
        "provider": "提供方部门标识",
        "share_type": "共享属性：unconditional 无条件，conditional 有条件，none 不予共享",
        "relevance": "相关度（0-1：各短语覆盖度按名称、数据项、描述加权）",
        "coverage": "需求名称被该数据集覆盖的比例（0-1）",
        "score": "目录检索得分之和",
        "matched_items": "匹配上的数据项（需求中的短语）",
        "matched_at": "匹配时间（UTC）",
    },
)

OPEN_DATA_RELEASES = SystemTable(
    "open_data_releases",
    "开放数据发布记录：每次向开放区发布一个开放数据集一行，记录来源数据集、视图、版本、行数和文件摘要。",
    {
        "release": "开放数据集标识（开放视图名）",
        "title": "开放数据集名称",
        "version": "发布版本（从 1 开始）",
        "datasets": "来源目录数据集（其开放属性均为无条件开放）",
        "source_versions": "来源表及其 Delta 版本（JSON）",
        "build_id": "构建序号",
        "as_of": "数据日期",
        "rows": "发布行数（小单元格已抑制）",
        "files": "发布文件及其 SHA-256（JSON）",
        "folder": "开放区中的目录",
        "published_at": "发布时间（UTC）",
        "published_by": "发布人（操作系统用户）",
    },
)

HANDBACK_EXPORTS = SystemTable(
    "handback_exports",
    "数据回流·导出记录：上级节点向下级节点回流的数据包，记录区划、来源表版本和授权依据。",
    {
        "package_id": "回流包标识",
        "source_node_id": "本节点标识",
        "source_node_name": "本节点名称",
        "division": "区划代码前缀",
        "division_name": "区划名称",
        "tables": "回流的表、来源 Delta 版本和行数（JSON）",
        "grant_id": "共享授权编号（无则为空）",
        "basis": "回流依据",
        "destination": "回流包目录",
        "exported_at": "导出时间（UTC）",
        "exported_by": "导出人（操作系统用户）",
    },
)

HANDBACK_RECEIVED = SystemTable(
    "handback_received",
    "数据回流·接收记录：本节点接收的上级回流数据集，物理汇聚或逻辑接入，连同来源节点、版本和授权依据。",
    {
        "package_id": "回流包标识",
        "dataset": "本节点登记的数据集标识",
        "access": "接入方式：physical 物理汇聚，logical 逻辑接入",
        "location": "数据位置（物理汇聚为本节点表路径，逻辑接入为回流包中的表路径）",
        "table_version": "接收后本节点表的 Delta 版本（逻辑接入为回流包中表的版本）",
        "source_node_id": "来源节点标识",
        "source_node_name": "来源节点名称",
        "source_table": "来源表",
        "source_version": "来源表 Delta 版本",
        "division": "区划代码前缀",
        "grant_id": "共享授权编号（无则为空）",
        "basis": "回流依据",
        "rows": "行数",
        "exported_at": "来源节点导出时间（UTC）",
        "received_at": "接收时间（UTC）",
        "received_by": "接收人（操作系统用户）",
    },
)

# --- sharing requests and grants (lake/sharing.py); defined here for the same reason.

SHARE_EVENTS = SystemTable(
    "share_events",
    "共享事件：共享申请、自动授权、审核批准、驳回、拒绝、撤销和替代，只追加；申请和授权的状态由事件推导，每个事件对应一条审计记录。",
    {
        "seq": "序号（从 1 开始连续）",
        "event_id": "事件标识",
        "at": "发生时间（UTC）",
        "kind": "事件：request 申请，grant 授权，reject 驳回，refuse 拒绝（不予共享），revoke 撤销，supersede 被替代",
        "request_id": "共享申请编号",
        "grant_id": "授权编号",
        "actor": "操作用户（自动决定为 govlake）",
        "actor_department": "操作用户所属部门",
        "requester": "申请用户",
        "applicant_department": "申请部门",
        "target": "申请对象：数据集标识或视图名",
        "target_kind": "对象类型：dataset 数据集，view 视图",
        "view": "授权后在申请人会话中的视图名",
        "columns": "申请或批准的信息项（列）",
        "unmask": "申请或批准不脱敏显示的列",
        "scope": "行范围：行政区划代码前缀（空为全国）",
        "period_days": "申请或批准的期限（天）",
        "expires_at": "授权到期时间（UTC）",
        "purpose": "用途",
        "legal_basis": "法律依据",
        "share_type": "来源的共享属性：unconditional 无条件，conditional 有条件，none 不予共享",
        "route": "处理方式：unconditional 自动授权，conditional 提供方审核，none 不予共享",
        "owner_department": "数据提供方（审核部门）",
        "reason": "原因：处理方式的依据、驳回或撤销的理由",
        "audit_seq": "对应审计记录序号",
    },
)

QUALITY_RESULTS = SystemTable(
    "quality_results",
    "质量检查结果：每次质量检查运行中每条规则 × 数据集 × 批次一行，只追加，保留历史以便比较得分变化。",
    {
        "run_id": "运行标识（由输入表版本、规则和运行日期确定，同样的输入重跑得到同一运行）",
        "run_at": "运行时间（UTC）",
        "rule_id": "规则标识",
        "stage": "检查阶段：before 事前（归集契约），during 事中（标准化校验），after 事后（规则与基础库）",
        "dimension": "质量维度：完整性、有效性、唯一性、一致性、及时性、关联性",
        "dataset": "数据集标识",
        "batch_id": "批次标识",
        "source_file": "来源文件路径",
        "department": "问题数据的责任部门（一数一源的权威来源提供方）",
        "checked": "检查记录数",
        "failed": "不通过记录数",
        "sample_keys": "不通过记录的主键样例",
    },
)

QUALITY_FAILURES = SystemTable(
    "quality_failures",
    "质量问题明细：每次运行中每条不通过的记录 × 规则一行，指明批次、文件和行号，用于向来源部门反馈。",
    {
        "run_id": "运行标识",
        "run_at": "运行时间（UTC）",
        "rule_id": "规则标识",
        "dimension": "质量维度",
        "dataset": "数据集标识",
        "department": "责任部门",
        "batch_id": "引入问题的批次",
        "source_file": "引入问题的来源文件",
        "source_row": "来源文件中的行号",
        "record_key": "记录主键（标准化后）",
        "field": "问题字段（整行问题为空）",
        "value": "原始填报值",
        "detail": "问题说明",
    },
)

SYSTEM_TABLES: dict[str, SystemTable] = {
    table.name: table for table in (INGEST_LOG, QUARANTINE, LOGICAL_SOURCES, BUILDS)
}
SYSTEM_TABLES.update({table.name: table for table in (
    DEMANDS, DEMAND_CANDIDATES, OPEN_DATA_RELEASES, HANDBACK_EXPORTS, HANDBACK_RECEIVED)})
SYSTEM_TABLES[SHARE_EVENTS.name] = SHARE_EVENTS
# Which records of corrected feedback tickets a quality run re-checked (transforms/quality/rechecks.py).
QUALITY_RECHECKS = SystemTable(
    "quality_rechecks",
    "整改复核明细：质量检查运行时，对状态为“已整改待复核”的反馈工单，逐条记录其问题记录是否在整改批次"
    "（或其后批次）中被同一规则检查、是否通过；反馈工单据此判定复核通过或重新打开。只追加。",
    {
        "run_id": "运行标识",
        "ticket_id": "反馈工单编号",
        "rule_id": "工单的质量规则",
        "dataset": "数据集标识",
        "corrected_by_batch": "部门报送的整改批次",
        "record_key": "工单涉及的问题记录主键（标准化后）",
        "checked": "本次运行是否在整改批次或其后批次中检查了该记录（否：整改批次未包含该记录）",
        "batch_id": "检查该记录的批次（整改批次或其后最近报送的批次；未检查为空）",
        "failed": "该记录在该批次中是否仍不通过（未检查为空）",
    },
)
SYSTEM_TABLES.update({table.name: table for table in (QUALITY_RESULTS, QUALITY_FAILURES, QUALITY_RECHECKS)})

# Problem-data feedback tickets and objections (lake/feedback.py, lake/objections.py).
FEEDBACK_EVENTS = SystemTable(
    "feedback_events",
    "问题数据反馈工单台账：质量检查发现的问题数据按部门×数据集×规则×批次形成工单，退回一数一源的责任部门整改；"
    "每行是一次事件后工单的完整状态（只追加），按工单取最后一行即为当前状态。",
    {
        "seq": "事件序号（从 1 开始连续）",
        "event_id": "事件标识",
        "at": "事件时间（UTC）",
        "ticket_id": "工单编号",
        "action": "事件：open 新建，update 再次检出，acknowledge 签收，correct 已整改，verify 复核通过，"
                  "reopen 复核未通过重新打开，reject 不予整改（附理由）",
        "state": "事件后的状态：open 待处理，acknowledged 已签收，corrected 已整改待复核，verified 已复核通过，"
                 "rejected 已驳回",
        "actor": "操作人（质量检查同步时为 govlake）",
        "note": "说明",
        "run_id": "最近一次检出问题的质量检查批次",
        "department": "责任部门标识（一数一源的提供方）",
        "dataset": "数据集标识",
        "rule_id": "质量规则标识",
        "dimension": "质量维度：completeness 完整性，validity 有效性，uniqueness 唯一性，consistency 一致性，"
                     "timeliness 及时性，referential 关联性",
        "batch_id": "引入问题的批次",
        "source_file": "引入问题的来源文件",
        "failed_records": "最近一次检查中不通过的记录数",
        "checked_records": "最近一次检查中该批次被检查的记录数",
        "sample_keys": "样例记录标识",
        "samples": "样例记录（JSON：来源行号、记录标识、字段、值、说明）",
        "opened_at": "工单创建时间（UTC）",
        "due_date": "整改期限（北京时间日期，创建或重新打开之日加部门服务时限 sla_days）",
        "corrected_by_batch": "部门报送的整改批次",
        "reason": "驳回理由",
    },
)

OBJECTIONS = SystemTable(
    "objections",
    "数据异议台账：用户对其可见的某条记录某个值提出异议，交由该属性的权威来源部门（一数一源）处理，"
    "以更正（新批次经正常流程归集、构建，关联 Delta 版本）或驳回（附理由）办结；"
    "每行是一次事件后异议的完整状态（只追加）。",
    {
        "seq": "事件序号（从 1 开始连续）",
        "event_id": "事件标识",
        "at": "事件时间（UTC）",
        "case_id": "异议编号",
        "action": "事件：file 提出，correct 更正办结，reject 驳回办结",
        "state": "事件后的状态：open 处理中，corrected 已更正，rejected 已驳回",
        "actor": "操作人",
        "note": "说明",
        "view": "提出异议时查询的受控视图",
        "key_column": "记录标识所在列",
        "record_key": "记录标识（身份号码或信用代码，原值）",
        "column": "有异议的列",
        "library": "记录所属基础库",
        "attribute": "有异议的基础库属性",
        "source_dataset": "该属性的权威来源数据集",
        "department": "处理部门（权威来源的提供方）",
        "reason": "异议理由",
        "evidence": "证明材料说明",
        "value_at_filing": "提出异议时的存储值",
        "value_seen": "提出异议的用户看到的值（按其脱敏规则）",
        "value_source": "提出异议时该值实际取自的数据集（来源记录）",
        "value_batch": "提出异议时该值实际取自的批次",
        "filed_by": "提出人",
        "filed_at": "提出时间（UTC）",
        "due_date": "办理期限（北京时间日期，提出之日加部门服务时限 sla_days）",
        "resolution": "驳回理由或更正说明",
        "correction_file": "更正数据文件",
        "correction_batch": "更正数据归集批次",
        "raw_version": "更正数据入库后原始表的 Delta 版本",
        "build_id": "纳入更正的构建序号",
        "base_versions": "该构建后各基础库表的 Delta 版本（JSON）",
        "value_after": "更正后的存储值",
    },
)
SYSTEM_TABLES.update({table.name: table for table in (FEEDBACK_EVENTS, OBJECTIONS)})

#: Lineage columns every raw-zone row carries, with their comments.
LINEAGE_COLUMNS: dict[str, str] = {
    "_batch_id": "批次标识",
    "_source_file": "来源文件路径",
    "_source_sha256": "来源文件 SHA-256",
    "_source_row": "来源文件行号（GeoJSON 为要素序号）",
    "_ingested_at": "归集时间（UTC）",
}
