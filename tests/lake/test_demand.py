"""Supply and demand (供需对接): matching demands in a department's own words, requests, unmet lists, audit."""

from __future__ import annotations

import pytest

from govlake.cli import main
from govlake.errors import GovLakeError, PolicyDenied, StateError
from govlake.home import Home
from lake import audit, demand, sharing
from lake.catalog import Catalog, load_catalog
from lake.catalog.search import search


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# Phrasings a department would write that are NOT the catalog's text: synonyms (去世 for 死亡, 老赖 for
# 失信被执行人, 地块 for 宗地, 工商注册 for 市场主体登记), partial terms (个体户, 医保) and filler words.
@pytest.mark.parametrize(("title", "items", "expected"), [
    ("新生儿出生信息", ["出生日期", "母亲姓名"], "births"),
    ("人员去世信息", ["去世日期"], "deaths"),
    ("需要企业纳税信用评价结果", ["信用等级"], "tax_credit"),
    ("工商注册登记信息", [], "market_entities"),
    ("老赖名单", [], "dishonest_debtors"),
    ("地块权属信息", [], "land_parcels"),
    ("个体户经营者", [], "market_entities"),
    ("结婚证信息", ["结婚登记日期"], "marriages"),
    ("医保参保缴费", [], "social_insurance"),
    ("违法罚款信息", [], "admin_penalties"),
    ("受过罚款的单位", [], "admin_penalties"),
])
def test_demands_in_other_words_match_the_right_dataset(catalog: Catalog, title: str, items: list[str],
                                                         expected: str) -> None:
    found = demand.candidates_for(catalog, title=title, items=items)
    assert found and found[0].dataset == expected, [(c.dataset, c.relevance) for c in found]
    assert found[0].relevance >= demand.MATCH_THRESHOLD
    assert [c.relevance for c in found] == sorted((c.relevance for c in found), reverse=True)


@pytest.mark.parametrize("title", ["驾驶证信息", "学历学位信息", "公积金缴存信息", "残疾人证信息",
                                   "新生儿疫苗接种记录"])
def test_data_the_catalog_lacks_is_not_matched(catalog: Catalog, title: str) -> None:
    found = demand.candidates_for(catalog, title=title)
    assert not found or found[0].relevance < demand.MATCH_THRESHOLD, [(c.dataset, c.relevance) for c in found]


def test_the_search_improvements_hold_for_the_catalog_search_too(catalog: Catalog) -> None:
    """Synonyms added for demands also help the catalog browser, and coverage says how much of a query is met."""
    assert search(catalog, "人员去世")[0].dataset.id == "deaths"
    assert search(catalog, "地块")[0].dataset.id == "land_parcels"
    assert search(catalog, "户籍")[0].coverage == 1.0
    assert search(catalog, "学历信息")[0].coverage < 0.2  # only 信息 is in the catalog


def test_responsible_department_is_derived_and_explained(catalog: Catalog) -> None:
    named = demand.responsible_for(catalog, "低保对象名单 请民政提供", best=None, best_relevance=0.0)
    assert named[0] == "civil_affairs" and "民政部" in named[1]
    vaccine = demand.candidates_for(catalog, title="新生儿疫苗接种记录", floor=0.0)
    by_subject = demand.responsible_for(catalog, "新生儿疫苗接种记录", best=catalog.datasets[vaccine[0].dataset],
                                        best_relevance=vaccine[0].relevance)
    assert by_subject[0] == "health" and "101002" in by_subject[1]  # 出生与死亡 is maintained by 卫健
    nothing = demand.responsible_for(catalog, "驾驶证", best=None, best_relevance=0.0)
    assert nothing[0] == demand.COORDINATOR


@pytest.fixture
def home(tmp_path: object) -> Home:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    return Home(tmp_path / "home").ensure()


def test_a_matched_demand_becomes_a_sharing_request(home: Home) -> None:
    posted = demand.post(home, user="hz_analyst", title="新生儿出生信息", items=["出生日期", "母亲姓名"],
                         description="办理新生儿落户时核验出生医学证明", purpose="新生儿落户办理")
    assert posted.state == "matched" and posted.department == "data_bureau" and posted.revision == 2
    ranked = demand.candidates(home, posted.demand_id)
    assert ranked["dataset"][0] == "births" and ranked["rank"].to_list() == list(range(1, ranked.height + 1))

    changed, share = demand.request_share(home, user="hz_analyst", demand_id=posted.demand_id, dataset="births",
                                          legal_basis="《户口登记条例》第七条：新生儿出生登记", period_days=30)
    assert changed.state == "requested" and changed.request_id == share.id
    # The demand's items chose the columns; births is conditional, so the provider decides.
    assert share.columns == ("birth_date", "mother_name") and share.state == "pending"
    assert share.owner_department == "health" and share.purpose == "新生儿落户办理"
    assert sharing.requests(home, user="hz_analyst")["id"].to_list() == [share.id]
    with pytest.raises(StateError, match="requested"):
        demand.request_share(home, user="hz_analyst", demand_id=posted.demand_id, dataset="births",
                             legal_basis="《户口登记条例》第七条：新生儿出生登记", period_days=30)

    actions = [(row["statement_kind"], row["decision"]) for row in audit.entries(home)]
    assert [a for a in actions if a[0].startswith("demand.")] == [
        ("demand.post", "allowed"), ("demand.match", "allowed"), ("demand.request", "allowed")]
    history = demand.demands(home)
    assert history.height == 1 and history["state"][0] == "requested"


def test_an_unmet_demand_goes_onto_the_responsible_departments_list(home: Home) -> None:
    posted = demand.post(home, user="hz_pubsec", title="驾驶证信息", items=["准驾车型"], purpose="交通违法处理")
    assert posted.state == "unmet" and posted.responsible_department == demand.COORDINATOR
    assert "统筹" in posted.responsible_reason
    assert demand.supply_list(home, department="data_bureau")["demand_id"].to_list() == [posted.demand_id]
    assert demand.supply_list(home, department="health").height == 0

    # Only a data officer of the coordinating department may reassign it.
    with pytest.raises(PolicyDenied, match="coordinating department"):
        demand.match(home, user="hz_pubsec", demand_id=posted.demand_id, assign="public_security")
    reassigned, _ = demand.match(home, user="nda_officer", demand_id=posted.demand_id, assign="public_security")
    assert reassigned.state == "unmet" and reassigned.responsible_department == "public_security"
    assert demand.supply_list(home, department="public_security").height == 1

    # Closing: another department's analyst may not; the responsible department's officer may.
    with pytest.raises(PolicyDenied):
        demand.close(home, user="hz_analyst", demand_id=posted.demand_id, reason="不需要了")
    closed = demand.close(home, user="mps_officer", demand_id=posted.demand_id, reason="已由交警部门另行提供")
    assert closed.state == "closed" and closed.note == "已由交警部门另行提供"
    assert demand.supply_list(home, department="public_security").height == 0
    with pytest.raises(StateError, match="closed"):
        demand.match(home, user="hz_pubsec", demand_id=posted.demand_id)
    refused = [row for row in audit.entries(home) if row["decision"] == "refused"]
    assert {row["statement_kind"] for row in refused} == {"demand.match", "demand.close"}

    figures = demand.stats(home)
    assert figures["demands"] == 1 and figures["by_state"]["closed"] == 1 and figures["matched_share"] == 0.0


def test_bad_demands_are_refused_and_write_nothing(home: Home) -> None:
    with pytest.raises(PolicyDenied, match="no department"):
        demand.post(home, user="open_public", title="企业名单", purpose="查看")
    with pytest.raises(GovLakeError, match="title"):
        demand.post(home, user="hz_analyst", title=" ", purpose="统计分析")
    with pytest.raises(GovLakeError, match="no user"):
        demand.post(home, user="nobody", title="企业名单", purpose="查看")
    assert demand.demands(home).height == 0
    with pytest.raises(GovLakeError, match="no demand"):
        demand.close(home, user="hz_analyst", demand_id="DEM-000042", reason="重复提出")


def test_command_line(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--home", str(home.root), "demand", "post", "--user", "hz_analyst", "--title", "老赖名单",
                 "--items", "被执行人姓名", "--purpose", "信用联合惩戒"])
    out = capsys.readouterr().out
    assert code == 0 and "DEM-000001" in out and "dishonest_debtors" in out and "已匹配" in out
    assert main(["--home", str(home.root), "demand", "list", "--state", "matched"]) == 0
    assert "老赖名单" in capsys.readouterr().out
    assert main(["--home", str(home.root), "demand", "post", "--user", "open_public", "--title", "x",
                 "--purpose", "查看一下"]) == 2


def test_the_report_has_a_sharing_and_demand_section(home: Home) -> None:
    from lake.reporting import SECTIONS, Period
    from lake.sharing_report import sharing_and_demand

    assert "sharing_and_demand" in [make.__name__ for make in SECTIONS]
    posted = demand.post(home, user="hz_pubsec", title="驾驶证信息", purpose="交通违法处理")
    matched = demand.post(home, user="hz_analyst", title="结婚证信息", items=["登记证字号"], purpose="婚姻状况核验")
    demand.request_share(home, user="hz_analyst", demand_id=matched.demand_id, dataset="marriages",
                         legal_basis="《婚姻登记条例》第二条：婚姻状况核验", period_days=30)
    overview = sharing_and_demand(home, Period.parse(None), None)
    figures = overview.figures
    assert figures["requests"] == 1 and figures["requests_by_route"]["conditional"] == 1
    assert figures["demands_posted"] == 2 and figures["demands_by_state"]["requested"] == 1
    assert figures["demands_unmet"] == 1 and any(posted.demand_id in row for t in overview.tables for row in t.rows)
    civil = sharing_and_demand(home, Period.parse(None), "civil_affairs").figures
    assert civil["requests_for_its_data"] == 1 and civil["pending_for_its_data"] == 1 and civil["supply_list"] == 0
    bureau = sharing_and_demand(home, Period.parse(None), "data_bureau").figures
    assert bureau["requests_as_applicant"] == 1 and bureau["supply_list"] == 1
