"""The periodic report (lake/reporting.py, `govlake report`): files per department, figures that reconcile
with their sources, as-of-the-period semantics, and the section registry.

The home is a copy of the shared demo home after a real quality run (transforms/quality), one
earlier synthetic run a month before (for the trend and an overdue ticket), tickets acted on, and
an objection filed through the governed views.
"""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.errors import GovLakeError, NotFound
from govlake.home import Home
from lake import delta, feedback, ledger, objections, reporting
from lake.catalog import load_catalog
from lake.system import INGEST_LOG
from tests.conftest import copy_home
from tests.lake.test_feedback import write_run

OLD_RULE = "validity.element.hukou.resident_id"


def prepare(home: Home) -> dict[str, str]:
    """An earlier run (30 days ago), a real quality run, tickets acknowledged and rejected, one objection."""
    from transforms.quality.run import run
    from views.objections import file_objection

    log = delta.read(home.table_path("system", INGEST_LOG.name))
    hukou = log.filter(pl.col("dataset") == "hukou").row(0, named=True)
    write_run(home, "q-earlier", ledger.now() - dt.timedelta(days=30),
              checked=[(OLD_RULE, "hukou", hukou["batch_id"], hukou["rows_loaded"])],
              failures=[{"rule_id": OLD_RULE, "batch_id": hukou["batch_id"], "source_file": hukou["source_file"],
                         "source_row": row, "record_key": f"K{row}", "value": "x"} for row in (2, 3, 4)])
    feedback.sync_tickets(home, "q-earlier")
    report = run(home)
    assert report.tickets is not None and report.tickets.opened
    civil = feedback.tickets(home, department="civil_affairs")
    feedback.acknowledge(home, civil[0].ticket_id, user="mca_officer")
    feedback.resolve(home, civil[1].ticket_id, user="mca_officer", reject="登记原件如此")
    person = (delta.read(home.table_path("base", "population"))
              .filter(pl.col("hukou_division").str.starts_with("3301") & pl.col("alive")).sort("resident_id").row(0))
    case = file_objection(home, user="hz_analyst", view="population", key=person[0], column="marital_status",
                          reason="婚姻状况有误")
    return {"run_id": report.run_id, "case_id": case.case_id}


@pytest.fixture(scope="module")
def prepared(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, dict[str, str]]:
    root = tmp_path_factory.mktemp("report") / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports", "duckdb_extensions")
    home = Home(root)
    return home, prepare(home)


def current_period() -> str:
    today = ledger.beijing_date(ledger.now())
    return f"{today.year:04d}-{today.month:02d}"


def figures(home: Home, period: str, slug: str) -> dict[str, dict[str, object]]:
    data = json.loads((home.reports / period / f"{slug}.json").read_text(encoding="utf-8"))
    return data["sections"]


def test_report_writes_markdown_html_and_figures_per_department(prepared, capsys: pytest.CaptureFixture[str]) -> None:
    home, _ = prepared
    period = current_period()
    assert main(["--home", str(home.root), "report", "--period", period]) == 0
    out = capsys.readouterr().out
    assert "数据归集共享通报（全部部门）" in out and "问题数据反馈" in out
    catalog = load_catalog()
    folder = home.reports / period
    expected = {f"{slug}{suffix}" for slug in [*catalog.departments, "all"] for suffix in (".md", ".html", ".json")}
    assert {p.name for p in folder.iterdir()} == expected
    markdown = (folder / "civil_affairs.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"# {int(period[:4])} 年 {int(period[5:])} 月数据归集共享通报（民政部）")
    titles = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert titles[:5] == ["## 一、数据归集情况", "## 二、数据时效", "## 三、数据质量", "## 四、问题数据反馈",
                          "## 五、数据异议处理"]
    assert len(titles) == len(reporting.SECTIONS), "one heading per registered section (sharing appends one)"
    page = (folder / "civil_affairs.html").read_text(encoding="utf-8")
    parsed = _Tags()
    parsed.feed(page)
    assert parsed.open == [] and parsed.counts["section"] == len(reporting.SECTIONS)
    assert parsed.counts["table"] == sum(line.startswith("|---") for line in markdown.splitlines())
    for line in markdown.splitlines():  # every summary line of the Markdown is in the HTML too
        if line and not line.startswith(("#", "|", ">", "统计期", "生成时间")):
            assert line.replace("`", "") in parsed.text, line


def test_figures_reconcile_with_their_sources(prepared) -> None:
    home, made = prepared
    period = current_period()
    reporting.report(home, period=period)
    catalog = load_catalog()
    mine = figures(home, period, "civil_affairs")
    datasets = {d.id for d in catalog.datasets.values() if d.provider.id == "civil_affairs"}
    log = delta.read(home.table_path("system", INGEST_LOG.name))
    aggregation = mine["aggregation"]["departments"]["civil_affairs"]  # type: ignore[index]
    assert aggregation["catalogued"] == len(datasets)
    assert aggregation["aggregated"] == log.filter(pl.col("dataset").is_in(datasets))["dataset"].n_unique()
    assert aggregation["rows_loaded"] == log.filter(pl.col("dataset").is_in(datasets))["rows_loaded"].sum()
    results = delta.read(home.table_path("system", "quality_results")).filter(
        (pl.col("run_id") == made["run_id"]) & (pl.col("department") == "civil_affairs"))
    overall = 1 - results["failed"].sum() / results["checked"].sum()
    assert mine["quality"]["run_id"] == made["run_id"]
    assert mine["quality"]["scores"]["overall"] == pytest.approx(overall)  # type: ignore[index]
    tickets = feedback.tickets(home, department="civil_affairs")
    for state in feedback.STATES:
        assert mine["feedback"][state] == sum(t.state == state for t in tickets), state
    assert mine["feedback"]["acknowledged"] == 1 and mine["feedback"]["rejected"] == 1
    assert mine["objections"]["open"] == 1 and mine["objections"]["filed_in_period"] == 1
    assert figures(home, period, "public_security")["objections"]["total"] == 0
    overview = figures(home, period, "all")
    assert overview["quality"]["previous_run_id"] == "q-earlier", "the trend compares with the run before"
    assert overview["feedback"]["total"] == len(feedback.tickets(home))
    assert overview["objections"]["total"] == len(objections.cases(home)) == 1


def test_overdue_tickets_are_reported(prepared) -> None:
    home, _ = prepared
    period = current_period()
    reporting.report(home, period=period, department="公安")
    (late,) = [t for t in feedback.tickets(home, state="overdue") if t.rule_id == OLD_RULE]
    security = figures(home, period, "public_security")
    assert security["feedback"]["overdue"] == len(feedback.tickets(home, department="public_security",
                                                                   state="overdue")) >= 1
    assert late.ticket_id in (home.reports / period / "public_security.md").read_text(encoding="utf-8")


def test_a_past_period_shows_the_figures_as_they_were(prepared) -> None:
    home, _ = prepared
    earlier = ledger.now() - dt.timedelta(days=30)
    month = ledger.beijing_date(earlier)
    label = f"{month.year:04d}-{month.month:02d}"
    if label == current_period():
        pytest.skip("the earlier run falls in this month (run in the first days of a month)")
    past = reporting.build_report(home, reporting.Period.parse(label), None)
    sections = {s.key: s.figures for s in past.sections}
    assert sections["aggregation"]["aggregated"] == 0, "nothing had been ingested by the end of that month"
    assert sections["quality"]["run_id"] == "q-earlier" and sections["quality"]["previous_run_id"] is None
    assert sections["feedback"]["total"] == 1 and sections["feedback"]["open"] == 1
    assert sections["objections"]["total"] == 0


def test_bad_arguments(prepared) -> None:
    home, _ = prepared
    with pytest.raises(GovLakeError, match="write YYYY-MM"):
        reporting.report(home, period="2026-13")
    with pytest.raises(NotFound, match="no department"):
        reporting.report(home, period="2026-11", department="nowhere")


def test_a_section_is_one_line_in_the_registry(prepared, monkeypatch: pytest.MonkeyPatch) -> None:
    home, _ = prepared

    def sharing(home: Home, period: reporting.Period, department: str | None) -> reporting.Section:
        return reporting.Section("sharing", "共享与供需对接", summary=["本期共享申请 0 件。"], figures={"requests": 0})

    monkeypatch.setattr(reporting, "SECTIONS", [*reporting.SECTIONS, sharing])
    made = reporting.build_report(home, reporting.Period.parse(current_period()), "民政")
    assert made.sections[-1].key == "sharing"
    numeral = reporting.CHINESE_NUMERALS[len(reporting.SECTIONS) - 1]  # the patched list, ours last
    assert f"## {numeral}、共享与供需对接" in reporting.markdown(made)


class _Tags(HTMLParser):
    """Counts tags, checks they close, and collects the text."""

    VOID = frozenset({"meta", "br"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.counts: dict[str, int] = {}
        self.text = ""

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text += data


def test_report_files_are_replaced_whole(prepared, tmp_path: Path) -> None:
    home, _ = prepared
    reporting.report(home, period=current_period(), department="民政")
    assert not list((home.reports / current_period()).glob(".*.part"))
