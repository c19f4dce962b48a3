"""``govlake catalog list / show / search``, through :func:`govlake.cli.main`, and docs/catalog.md."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from govlake import cli
from govlake.commands.catalog import display_width, format_table, pad
from lake.catalog.load import DATASET_KEYS, ITEM_KEYS

DOCS = Path(__file__).resolve().parents[3] / "docs"

#: The 13 core metadata elements, in the order of the national guide.
GUIDE_ORDER = [
    "信息资源分类", "信息资源名称", "信息资源代码", "信息资源提供方", "提供方代码", "信息资源摘要",
    "信息资源格式", "信息项", "共享属性", "开放属性", "更新周期", "发布日期", "关联资源代码",
]


@pytest.fixture(autouse=True)
def only_catalog_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests need only `catalog`; keep them independent of the other subcommands' modules.
    monkeypatch.setattr(cli, "COMMANDS", {"catalog": cli.COMMANDS["catalog"]})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_catalog_is_registered() -> None:
    assert cli.COMMANDS["catalog"] == "govlake.commands.catalog"


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "CODE", "ID", "NAME", "PROVIDER", "FORMAT", "ACCESS", "GRADE", "SHARE", "UPDATE",
    ]
    hukou = next(line for line in lines if line.startswith("101001/00001"))
    assert hukou.split() == [
        "101001/00001", "hukou", "户籍人口信息", "公安", "csv", "物理汇聚", "重要数据", "有条件共享", "每日",
    ]
    assert "13 datasets" in out
    # columns line up by display width, Chinese names included
    table = lines[:14]
    providers = [
        "PROVIDER", "公安", "卫健", "卫健", "民政", "人社", "市场监管", "民政", "自然资源", "税务", "法院",
        "发改", "发改", "电子证照",
    ]
    pairs = zip(table, providers, strict=True)
    provider_at = {display_width(line[: line.rindex(word)]) for line, word in pairs}
    assert len(provider_at) == 1


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 13
    hukou = next(row for row in rows if row["id"] == "hukou")
    assert hukou["code"] == "101001/00001"
    assert hukou["provider_short_name"] == "公安"
    assert hukou["grade"] == "important" and hukou["grade_label"] == "重要数据"
    assert hukou["share_label"] == "有条件共享"
    assert hukou["update_cycle"] == "daily"
    assert "户籍人口信息" in out  # Chinese is not \u-escaped


def test_show_follows_the_guide_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "show", "hukou")
    assert code == 0
    positions = [out.index(label) for label in GUIDE_ORDER]
    assert positions == sorted(positions)
    for expected in [
        "1 基础信息资源 / 101 人口 / 101001 户籍与身份", "公安部 (公安)", "11100000000013127D",
        "csv (encoding gbk)", "仅限履行法定职责所必需", "库表", "不予开放", "每日 (daily)", "2024-01-01",
        "101002/00001 出生医学证明信息", "重要数据 (important)", "物理汇聚 (physical)", "公安_户籍人口_*.csv",
        "GB 11643-1999", "GB/T 2261.1-2003", "marital_status", "个人信息",
    ]:
        assert expected in out, expected
    item_line = next(line for line in out.splitlines() if "公民身份号码" in line and "resident_id" in line)
    assert item_line.split()[1:] == [
        "公民身份号码", "resident_id", "公民身份号码", "GB", "11643-1999", "C", "18", "yes", "个人信息",
    ]


@pytest.mark.parametrize("key", ["101001/00001", "ＨＵＫＯＵ", "户籍人口信息", " hukou "])
def test_show_by_code_name_or_full_width_id(capsys: pytest.CaptureFixture[str], key: str) -> None:
    code, out, _ = run(capsys, "catalog", "show", key)
    assert code == 0
    assert out.startswith("户籍人口信息  hukou  101001/00001")


def test_show_logical_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "show", "social_insurance")
    assert code == 0
    assert "逻辑接入 (logical)" in out
    assert "参保人员" in out  # source table


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "show", "births", "--json")
    assert code == 0
    detail = json.loads(out)
    assert list(detail)[:13] == [
        "classification", "name", "code", "provider", "provider_code", "abstract", "format", "items",
        "share", "open", "update_cycle", "update_cycle_label", "publish_date",
    ]
    assert [c["code"] for c in detail["classification"]] == ["1", "101", "101002"]
    assert detail["provider"]["short_name"] == "卫健"
    assert detail["share"]["type"] == "conditional" and detail["share"]["conditions"]
    assert detail["related"] == [{"code": "101001/00001", "name": "户籍人口信息"}]
    name = next(item for item in detail["items"] if item["column"] == "name")
    assert name["pi"] == "sensitive" and name["pi_label"] == "敏感个人信息"
    assert name["element"] == {
        "id": "person_name", "name": "姓名", "standard": "GA 214.1", "code_table": None,
    }
    assert name["type"] == "C" and name["length"] == 50
    assert detail["grade_label"] == "重要数据"
    assert detail["access"] == "physical"


def test_show_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "catalog", "show", "hukuo")
    assert code == 1
    assert out == ""
    assert err.startswith("Error: no dataset 'hukuo'")
    assert "did you mean 'hukou'" in err
    assert "\n" == err[-1] and err.count("\n") == 1  # one line


def test_show_unknown_chinese_suggests_by_search(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "catalog", "show", "失信")
    assert code == 1
    assert "did you mean 'dishonest_debtors'" in err


def test_show_unknown_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "catalog", "show", "104001/00009")
    assert code == 1
    assert "did you mean '104001/00001'" in err or "did you mean 'tax_credit'" in err


def test_search(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "search", "户籍")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SCORE", "CODE", "ID", "NAME", "PROVIDER", "MATCHED"]
    assert lines[1].split()[1:4] == ["101001/00001", "hukou", "户籍人口信息"]


def test_search_joins_words(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "search", "tax", "credit", "--json")
    assert code == 0
    assert json.loads(out)[0]["id"] == "tax_credit"


def test_search_json_and_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "search", "营业执照", "--json", "--limit", "2")
    assert code == 0
    hits = json.loads(out)
    assert {hit["id"] for hit in hits} == {"market_entities", "e_licences"}
    assert all(hit["score"] > 0 and "name" in hit["matched"] for hit in hits)


def test_search_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "search", "火箭发射")
    assert code == 0
    assert "No dataset matches '火箭发射'" in out
    code, out, _ = run(capsys, "catalog", "search", "火箭发射", "--json")
    assert json.loads(out) == []


def test_search_empty(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "catalog", "search", " ")
    assert code == 1
    assert err.startswith("Error: the search query is empty")


def test_display_width_and_table() -> None:
    assert display_width("hukou") == 5
    assert display_width("户籍") == 4
    assert display_width("（双公示）") == 10  # full-width brackets are wide too
    assert display_width("e\u0301") == 1  # combining accent takes no column
    assert pad("户籍", 6) == "户籍  "
    table = format_table(["ID", "NAME", "X"], [["hukou", "户籍人口信息", "1"], ["tax_credit", "纳税", "2"]])
    lines = table.splitlines()
    # the third column starts after 10 + 2 + 12 + 2 display columns on every line
    assert {display_width(line[: line.rindex(x)]) for line, x in zip(lines, "X12", strict=True)} == {26}


# --- docs/catalog.md quotes commands that work ------------------------------------------------


def _blocks(markdown: str) -> list[tuple[str, list[str]]]:
    return [(lang, body.splitlines()) for lang, body in re.findall(r"```(\w*)\n(.*?)```", markdown, re.S)]


def _quoted_commands() -> list[tuple[str, list[str]]]:
    """Each ``$ govlake ...`` line of docs/catalog.md and the output lines quoted after it."""
    commands: list[tuple[str, list[str]]] = []
    for _, lines in _blocks((DOCS / "catalog.md").read_text(encoding="utf-8")):
        output: list[str] | None = None  # output lines of the block's latest command
        for line in lines:
            if line.startswith("$ "):
                output = []
                commands.append((line[2:], output))
            elif output is not None:
                output.append(line)
    return commands


@pytest.mark.parametrize(
    ("command", "quoted"),
    [pytest.param(c, q, id=c.encode("unicode_escape").decode()) for c, q in _quoted_commands()],
)
def test_docs_commands_work(capsys: pytest.CaptureFixture[str], command: str, quoted: list[str]) -> None:
    argv = shlex.split(command)
    assert argv[0] == "govlake"
    code, out, err = run(capsys, *argv[1:])
    expected_failure = any(line.startswith("Error:") for line in quoted)
    assert code == (1 if expected_failure else 0), err
    printed = [line.rstrip() for line in (out + err).splitlines()]
    for line in quoted:
        if line.strip() != "...":
            assert line.rstrip() in printed, f"docs quote {line!r}, which `{command}` does not print"


def test_docs_list_every_catalog_key() -> None:
    text = (DOCS / "catalog.md").read_text(encoding="utf-8")
    for key in sorted(DATASET_KEYS | ITEM_KEYS):
        assert f"`{key}`" in text or f"`{key}." in text, f"docs/catalog.md does not explain `{key}`"


def test_glossary_has_the_core_terms() -> None:
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    terms = ["一数一源", "一本账", "物理汇聚", "逻辑接入", "数据元", "信息项", "失信被执行人", "隔离区"]
    for term in [*terms, "供需对接", "分级开放", "回流", "脱敏", "行级范围", "驾驶舱"]:
        assert term in text
