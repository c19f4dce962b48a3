"""Factories for small department files that follow (or break) the catalog contract."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from govlake.home import Home
from lake.catalog import Dataset, load_catalog

HUKOU_ROWS = [
    {"公民身份号码": "330106199003071236", "姓名": "张三", "性别": "男", "出生日期": "1990-03-07",
     "民族": "汉族", "户籍地区划": "330106", "户籍地址": "杭州市西湖区文三路1号", "现居住地区划": "330106",
     "婚姻状况": "已婚", "人员状态": "正常", "注销日期": "", "联系电话": "13800000000", "更新日期": "2026-11-01"},
    {"公民身份号码": "110101198512310461", "姓名": "李四", "性别": "女", "出生日期": "1985/12/31",
     "民族": "满族", "户籍地区划": "110101", "户籍地址": "北京市东城区", "现居住地区划": "110105",
     "婚姻状况": "未婚", "人员状态": "正常", "注销日期": "", "联系电话": "", "更新日期": "20261101"},
]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write rows (dicts keyed by source header) as CSV in the given encoding."""

    def make(name: str, rows: list[dict[str, str]], *, encoding: str = "utf-8",
             headers: list[str] | None = None, extra_lines: list[str] = ()) -> Path:  # type: ignore[assignment]
        headers = headers or list(rows[0])
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=headers, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue() + "".join(line + "\n" for line in extra_lines)
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return path

    return make


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, rows: list[dict[str, object] | str]) -> Path:
        lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return make


@pytest.fixture
def dataset() -> Callable[[str], Dataset]:
    return load_catalog().dataset
