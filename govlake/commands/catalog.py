"""``govlake catalog``: list, show and search the catalog (一本账) of source datasets.

The catalog ships with the code (``lake/catalog/``), so these commands need no home::

    govlake catalog list
    govlake catalog show hukou
    govlake catalog search 营业执照 --limit 3

When the home (``--home``, ``GOVLAKE_HOME`` or ``./govlake_home``) exists, they also show the
datasets it received from a higher-level node by return flow (回流, ``govlake handback receive``),
marked as received with their source node: ``list`` in a section of their own, ``show`` by id
or name, ``search`` ranked with the shipped datasets. The home is only read, never created.

Every command takes ``--json`` for machine-readable output (UTF-8, Chinese unescaped).
Human output aligns columns by display width, where a Chinese character takes two
terminal columns.
"""

from __future__ import annotations

import argparse
import difflib
import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import NotFound
from lake.catalog.model import (
    CYCLE_LABELS,
    GRADE_LABELS,
    OPEN_LABELS,
    PI_LABELS,
    SHARE_LABELS,
    Catalog,
    Dataset,
)

if TYPE_CHECKING:
    from lake.catalog.received import HomeCatalog, ReceivedDataset

ACCESS_LABELS: dict[str, str] = {"physical": "物理汇聚", "logical": "逻辑接入"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``govlake catalog`` and its subcommands."""
    parser = sub.add_parser(
        "catalog",
        help="list, show and search the catalog of source datasets",
        description="The catalog (一本账): every source dataset, its provider and its contract.",
    )
    commands = parser.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND")
    commands.required = True

    list_parser = commands.add_parser("list", help="one line per dataset")
    list_parser.add_argument("--json", action="store_true", help="print JSON")
    list_parser.set_defaults(func=run_list)

    show_parser = commands.add_parser(
        "show", help="all core metadata of one dataset, in the national guide's order"
    )
    show_parser.add_argument("dataset", metavar="CODE_OR_ID", help="resource code, id or name, e.g. hukou")
    show_parser.add_argument("--json", action="store_true", help="print JSON")
    show_parser.set_defaults(func=run_show)

    search_parser = commands.add_parser(
        "search", help="find datasets by Chinese or English words, id or resource code"
    )
    search_parser.add_argument("text", nargs="+", metavar="TEXT", help="what to look for, e.g. 户籍")
    search_parser.add_argument("--limit", type=int, default=10, help="at most this many hits (default 10)")
    search_parser.add_argument("--json", action="store_true", help="print JSON")
    search_parser.set_defaults(func=run_search)


# --- handlers -------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    home_catalog = _home_catalog(args)
    catalog = home_catalog.catalog
    datasets = sorted(catalog.datasets.values(), key=lambda d: d.code)
    received = sorted(home_catalog.received.values(), key=lambda d: d.id)
    if args.json:
        _print_json([*(dataset_summary(d) for d in datasets), *(received_summary(d) for d in received)])
        return 0
    rows = [
        [
            d.code, d.id, d.name, d.provider.short_name, d.format, ACCESS_LABELS[d.access],
            GRADE_LABELS[d.grade], SHARE_LABELS[d.share.type], CYCLE_LABELS[d.update_cycle],
        ]
        for d in datasets
    ]
    headers = ["CODE", "ID", "NAME", "PROVIDER", "FORMAT", "ACCESS", "GRADE", "SHARE", "UPDATE"]
    print(format_table(headers, rows))
    print(f"\n{len(datasets)} datasets. `govlake catalog show ID` shows one in full.")
    if received:
        print(f"\nReceived by return flow (回流), {len(received)} datasets:")
        print(format_table(
            ["ID", "NAME", "SOURCE NODE", "SOURCE TABLE", "DIVISION", "ACCESS", "ROWS", "RECEIVED"],
            [[d.id, d.name, d.source_node_name, f"{d.source_table} v{d.source_version}",
              f"{d.division} {d.division_name}", ACCESS_LABELS[d.access], f"{d.rows:,}",
              f"{d.received_at:%Y-%m-%d}"] for d in received]))
    return 0


def run_show(args: argparse.Namespace) -> int:
    home_catalog = _home_catalog(args)
    catalog = home_catalog.catalog
    received = home_catalog.find(args.dataset)
    if received is not None:
        if args.json:
            _print_json(received_detail(received))
        else:
            print(render_received(received))
        return 0
    try:
        dataset = find_dataset(catalog, args.dataset)
    except NotFound:
        close = difflib.get_close_matches(args.dataset, [*home_catalog.received], n=1, cutoff=0.5)
        if not close:
            raise
        raise NotFound(f"no dataset {args.dataset!r} in the catalog (did you mean {close[0]!r}, received by return "
                       "flow?); `govlake catalog list` shows them all") from None
    if args.json:
        _print_json(dataset_detail(catalog, dataset))
    else:
        print(render_dataset(catalog, dataset))
    return 0


def run_search(args: argparse.Namespace) -> int:
    text = " ".join(args.text)
    hits = _home_catalog(args).search(text, limit=args.limit)
    if args.json:
        _print_json(
            [
                {"score": hit.score, "matched": list(hit.matched),
                 **(received_summary(received) if received else dataset_summary(hit.dataset))}
                for hit, received in hits
            ]
        )
        return 0
    if not hits:
        print(f"No dataset matches {text!r}. `govlake catalog list` shows them all.")
        return 0
    rows = [
        [f"{hit.score:.1f}", RECEIVED_CODE if received else hit.dataset.code, hit.dataset.id, hit.dataset.name,
         f"{received.source_node_name}（回流）" if received else hit.dataset.provider.short_name,
         ", ".join(hit.matched[:3])]
        for hit, received in hits
    ]
    # the three fields that weigh most; --json lists them all
    print(format_table(["SCORE", "CODE", "ID", "NAME", "PROVIDER", "MATCHED"], rows))
    return 0


def _catalog() -> Catalog:
    from lake.catalog.load import load_catalog

    return load_catalog()


def _home_catalog(args: argparse.Namespace) -> HomeCatalog:
    """The shipped catalog and what the chosen home received (read only; a missing home received nothing)."""
    from govlake.home import Home
    from lake.catalog.load import load_home_catalog

    return load_home_catalog(Home.resolve(getattr(args, "home", None)))


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


# --- lookup ---------------------------------------------------------------------------------


def find_dataset(catalog: Catalog, key: str) -> Dataset:
    """The dataset named by id, resource code or exact name (full-width tolerated).

    Raises :class:`~govlake.errors.NotFound` with "did you mean", found by spelling
    for ids and codes, else by :func:`~lake.catalog.search.search` for Chinese words.
    """
    from lake.catalog.search import normalize, search

    wanted = normalize(key).strip().replace(" ", "")
    for dataset in catalog.datasets.values():
        if wanted in (dataset.id, dataset.code, normalize(dataset.name)):
            return dataset
    by_spelling = {**{d.id: d for d in catalog.datasets.values()},
                   **{d.code: d for d in catalog.datasets.values()},
                   **{d.name: d for d in catalog.datasets.values()}}
    close = difflib.get_close_matches(wanted, list(by_spelling), n=1, cutoff=0.5)
    suggestion: Dataset | None = by_spelling[close[0]] if close else None
    if suggestion is None and wanted:
        hits = search(catalog, key, limit=1) if any(ch.isalnum() for ch in wanted) else []
        suggestion = hits[0].dataset if hits else None
    hint = f" (did you mean {suggestion.id!r} {suggestion.name}?)" if suggestion else ""
    raise NotFound(
        f"no dataset {key!r} in the catalog{hint}; `govlake catalog list` shows them all, "
        "`govlake catalog search WORDS` finds them by name"
    )


# --- structured output ----------------------------------------------------------------------


#: What the CODE column shows for a received dataset, which has no resource code of its own.
RECEIVED_CODE = "回流"


def received_summary(dataset: ReceivedDataset) -> dict[str, Any]:
    """The fields of ``govlake catalog list`` for a received dataset, for JSON (``received`` is true)."""
    return {
        "received": True,
        "id": dataset.id,
        "name": dataset.name,
        "source_node": {"id": dataset.source_node_id, "name": dataset.source_node_name},
        "source_table": dataset.source_table,
        "source_version": dataset.source_version,
        "division": dataset.division,
        "division_name": dataset.division_name,
        "access": dataset.access,
        "access_label": ACCESS_LABELS[dataset.access],
        "rows": dataset.rows,
        "received_at": dataset.as_dict()["received_at"],
    }


def received_detail(dataset: ReceivedDataset) -> dict[str, Any]:
    """Everything the home's catalog records about a received dataset, for JSON."""
    return {"received": True, **dataset.as_dict(), "access_label": ACCESS_LABELS[dataset.access],
            "source_node": {"id": dataset.source_node_id, "name": dataset.source_node_name}, "file": dataset.file}


def render_received(dataset: ReceivedDataset) -> str:
    """``govlake catalog show`` of a received dataset: where it came from, under what authority, its columns."""
    rows = [
        ["信息资源名称", "name", dataset.name],
        ["信息资源摘要", "abstract", dataset.abstract],
        ["来源节点", "source node", f"{dataset.source_node_name} ({dataset.source_node_id})"],
        ["来源表", "source table", f"{dataset.source_table} v{dataset.source_version}"],
        ["行政区划", "division", f"{dataset.division} {dataset.division_name}"],
        ["接入方式", "access", f"{ACCESS_LABELS[dataset.access]} ({dataset.access})"],
        ["位置", "location", dataset.location + (f" v{dataset.table_version}" if dataset.table_version is not None
                                                 else "")],
        ["回流依据", "basis", dataset.basis or "-"],
        ["共享授权", "grant", dataset.grant_id or "-"],
        ["回流包", "package", dataset.package_id],
        ["导出时间", "exported at", dataset.as_dict()["exported_at"]],
        ["接收时间", "received at", dataset.as_dict()["received_at"]],
        ["行数", "rows", f"{dataset.rows:,}"],
        ["目录文件", "catalog file", _shown_path(dataset.file)],
    ]
    columns = [[name, comment] for name, comment in dataset.columns.items()]
    return "\n".join([
        f"{dataset.name}  {dataset.id}  回流（received from {dataset.source_node_name}）",
        "",
        "Received by return flow (回流):",
        format_table(["元数据", "FIELD", "VALUE"], rows, indent=2, header=False),
        "",
        "Columns (列):",
        format_table(["COLUMN", "说明"], columns, indent=2) if columns else "  -",
    ])


def dataset_summary(dataset: Dataset) -> dict[str, Any]:
    """The fields of ``govlake catalog list``, for JSON."""
    return {
        "received": False,
        "code": dataset.code,
        "id": dataset.id,
        "name": dataset.name,
        "provider": dataset.provider.id,
        "provider_short_name": dataset.provider.short_name,
        "format": dataset.format,
        "access": dataset.access,
        "access_label": ACCESS_LABELS[dataset.access],
        "grade": dataset.grade,
        "grade_label": GRADE_LABELS[dataset.grade],
        "share": dataset.share.type,
        "share_label": SHARE_LABELS[dataset.share.type],
        "update_cycle": dataset.update_cycle,
        "update_cycle_label": CYCLE_LABELS[dataset.update_cycle],
    }


def _classification(catalog: Catalog, dataset: Dataset) -> list[dict[str, str]]:
    prefix = dataset.code.split("/")[0]
    levels = (("class", prefix[:1]), ("item", prefix[:3]), ("subitem", prefix))
    return [
        {"level": level, "code": code, "name": catalog.classification.get(code, name)}
        for (level, code), name in zip(levels, dataset.classification, strict=True)
    ]


def dataset_detail(catalog: Catalog, dataset: Dataset) -> dict[str, Any]:
    """All core metadata of one dataset in the national guide's order, then GovLake's extensions."""
    items = []
    for item in dataset.items:
        element = catalog.elements[item.element]
        items.append(
            {
                "source": item.source,
                "column": item.column,
                "description": item.description,
                "element": {
                    "id": element.id,
                    "name": element.name,
                    "standard": element.standard,
                    "code_table": element.code_table,
                },
                "type": element.type,
                "length": element.length,
                "required": item.required,
                "pi": item.pi,
                "pi_label": PI_LABELS[item.pi],
                "grade": item.grade or dataset.grade,
                "grade_overridden": item.grade is not None,
            }
        )
    names_by_code = {d.code: d.name for d in catalog.datasets.values()}
    return {
        # the guide's 13 core metadata elements, in its order
        "classification": _classification(catalog, dataset),
        "name": dataset.name,
        "code": dataset.code,
        "provider": {
            "id": dataset.provider.id,
            "name": dataset.provider.name,
            "short_name": dataset.provider.short_name,
        },
        "provider_code": dataset.provider.code,
        "abstract": dataset.abstract,
        "format": dataset.format,
        "items": items,
        "share": {
            "type": dataset.share.type,
            "label": SHARE_LABELS[dataset.share.type],
            "conditions": dataset.share.conditions,
            "method": dataset.share.method,
        },
        "open": {
            "type": dataset.open.type,
            "label": OPEN_LABELS[dataset.open.type],
            "conditions": dataset.open.conditions,
        },
        "update_cycle": dataset.update_cycle,
        "update_cycle_label": CYCLE_LABELS[dataset.update_cycle],
        "publish_date": dataset.publish_date.isoformat(),
        "related": [{"code": code, "name": names_by_code.get(code, "")} for code in dataset.related],
        # GovLake extensions
        "id": dataset.id,
        "grade": dataset.grade,
        "grade_label": GRADE_LABELS[dataset.grade],
        "access": dataset.access,
        "access_label": ACCESS_LABELS[dataset.access],
        "key": list(dataset.key),
        "file_pattern": dataset.file_pattern,
        "encoding": dataset.encoding,
        "source_table": dataset.source_table,
        "file": dataset.file,
    }


def render_dataset(catalog: Catalog, dataset: Dataset) -> str:
    """``govlake catalog show`` for a terminal: numbered core metadata, items, extensions."""
    detail = dataset_detail(catalog, dataset)
    classification = " / ".join(f"{c['code']} {c['name']}" for c in detail["classification"])
    share = dataset.share
    share_text = SHARE_LABELS[share.type] + (f"; 条件: {share.conditions}" if share.conditions else "")
    share_text += f"; 方式: {share.method}" if share.method else ""
    open_text = OPEN_LABELS[dataset.open.type] + (
        f"; 条件: {dataset.open.conditions}" if dataset.open.conditions else ""
    )
    fmt = dataset.format + (f" (encoding {dataset.encoding})" if dataset.encoding else "")
    related = ", ".join(f"{r['code']} {r['name']}" for r in detail["related"]) or "-"
    core = [
        ["1", "信息资源分类", "classification", classification],
        ["2", "信息资源名称", "name", dataset.name],
        ["3", "信息资源代码", "code", dataset.code],
        ["4", "信息资源提供方", "provider", f"{dataset.provider.name} ({dataset.provider.short_name})"],
        ["5", "提供方代码", "provider code", dataset.provider.code],
        ["6", "信息资源摘要", "abstract", dataset.abstract],
        ["7", "信息资源格式", "format", fmt],
        ["8", "信息项", "items", f"{len(dataset.items)}, listed below"],
        ["9", "共享属性", "share", share_text],
        ["10", "开放属性", "open", open_text],
        ["11", "更新周期", "update cycle", f"{CYCLE_LABELS[dataset.update_cycle]} ({dataset.update_cycle})"],
        ["12", "发布日期", "publish date", dataset.publish_date.isoformat()],
        ["13", "关联资源代码", "related", related],
    ]
    extensions = [
        ["数据分级", "grade (GB/T 43697)", f"{GRADE_LABELS[dataset.grade]} ({dataset.grade})"],
        ["接入方式", "access", f"{ACCESS_LABELS[dataset.access]} ({dataset.access})"],
        ["主键", "key", ", ".join(dataset.key)],
        ["文件名模式", "file pattern", dataset.file_pattern],
    ]
    if dataset.source_table:
        extensions.append(["源表", "source table", dataset.source_table])
    extensions.append(["目录文件", "catalog file", _shown_path(dataset.file)])

    item_rows = []
    for number, item in enumerate(detail["items"], start=1):
        element = item["element"]
        grade = GRADE_LABELS[item["grade"]] if item["grade_overridden"] else ""
        item_rows.append(
            [
                str(number), item["source"], item["column"], element["name"], element["standard"] or "",
                element["code_table"] or "", item["type"], str(item["length"]),
                "yes" if item["required"] else "", "" if item["pi"] == "none" else item["pi_label"], grade,
            ]
        )
    item_headers = [
        "#", "SOURCE", "COLUMN", "DATA ELEMENT", "STANDARD", "CODE TABLE", "TYPE", "LEN", "REQUIRED",
        "PI", "GRADE",
    ]
    if not any(row[-1] for row in item_rows):
        item_headers.pop()
        item_rows = [row[:-1] for row in item_rows]
    return "\n".join(
        [
            f"{dataset.name}  {dataset.id}  {dataset.code}",
            "",
            "Core metadata (政务信息资源目录编制指南):",
            format_table(["#", "元数据", "FIELD", "VALUE"], core, indent=2),
            "",
            "Information items (信息项):",
            format_table(item_headers, item_rows, indent=2),
            "",
            "GovLake extensions:",
            format_table(["扩展", "FIELD", "VALUE"], extensions, indent=2, header=False),
        ]
    )


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it, else as given."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


# --- terminal tables ------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: 2 for wide and full-width (CJK) characters, 0 for combining.

    >>> display_width("户籍 hukou")
    10
    """
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces on the right to ``width`` display columns."""
    return text + " " * max(0, width - display_width(text))


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, indent: int = 0, header: bool = True
) -> str:
    """Rows as left-aligned columns two spaces apart, aligned by display width.

    >>> print(format_table(["ID", "NAME"], [["hukou", "户籍人口信息"]]))
    ID     NAME
    hukou  户籍人口信息
    """
    table = [list(headers), *map(list, rows)] if header else [list(row) for row in rows]
    widths = [max(display_width(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        cells = [pad(cell, widths[i]) for i, cell in enumerate(row)]
        lines.append((" " * indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)
