"""Catalog search: Chinese without a segmenter, English ids, resource codes, no I/O."""

from __future__ import annotations

import builtins
import pathlib
from typing import TYPE_CHECKING

import pytest

from govlake.errors import GovLakeError
from lake.catalog.load import load_catalog
from lake.catalog.model import Catalog
from lake.catalog.search import FIELD_WEIGHTS, InvalidQuery, SearchHit, _index_of, search

if TYPE_CHECKING:  # the fixture lives in this folder's conftest.py
    from tests.lake.catalog.conftest import CatalogCopy


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def ids(hits: list[SearchHit]) -> list[str]:
    return [hit.dataset.id for hit in hits]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("户籍", "hukou"),
        ("失信", "dishonest_debtors"),
        ("婚姻", "marriages"),
        ("纳税", "tax_credit"),
        ("101001/00001", "hukou"),
        ("104001/00001", "tax_credit"),
        ("hukou", "hukou"),
        ("dishonest_debtors", "dishonest_debtors"),
        ("tax credit", "tax_credit"),
        ("debtor", "dishonest_debtors"),  # English prefix
        ("需要企业纳税信用等级数据", "tax_credit"),  # a demand text (供需对接)
        ("户籍人口信息", "hukou"),
        ("公安", "hukou"),  # provider short name
        ("社保", "social_insurance"),  # rewritten to 社会保险
        ("土地", "land_parcels"),
        ("死亡", "deaths"),
        ("法院 失信 名单", "dishonest_debtors"),
        ("汉族", "hukou"),  # a code-table value of one of its items
    ],
)
def test_best_hit(catalog: Catalog, query: str, first: str) -> None:
    assert ids(search(catalog, query))[0] == first


def test_business_licence_finds_market_entities_and_e_licences(catalog: Catalog) -> None:
    assert set(ids(search(catalog, "营业执照"))[:2]) == {"market_entities", "e_licences"}


@pytest.mark.parametrize(
    "query",
    ["１０１００１／００００１", "101001 / 00001", "ＨＵＫＯＵ", "HuKou", "户 籍", " 户籍 ", "户籍\u3000"],
)
def test_full_width_case_and_spaces_are_tolerated(catalog: Catalog, query: str) -> None:
    assert ids(search(catalog, query))[0] == "hukou"


def test_hukou_only_for_hukou(catalog: Catalog) -> None:
    hits = search(catalog, "户籍")
    assert ids(hits) == ["hukou"]
    assert hits[0].matched[0] == "name"
    assert set(hits[0].matched) <= set(FIELD_WEIGHTS)


def test_marriage_ranks_the_register_above_hukou_marital_status(catalog: Catalog) -> None:
    hits = search(catalog, "婚姻")
    assert ids(hits)[:2] == ["marriages", "hukou"]
    assert hits[0].score > hits[1].score


def test_classification_prefix_finds_all_credit_datasets(catalog: Catalog) -> None:
    hits = search(catalog, "104")
    assert {hit.dataset.code[:3] for hit in hits} == {"104"}
    assert len(hits) == 4
    assert all(hit.matched == ("code",) for hit in hits)


def test_exact_code_beats_prefix(catalog: Catalog) -> None:
    hits = search(catalog, "104003/00002")
    assert ids(hits) == ["admin_penalties"]


@pytest.mark.parametrize("query", ["火箭发射", "zzzz", "量子计算机", "99999/00001"])
def test_nothing_matches(catalog: Catalog, query: str) -> None:
    assert search(catalog, query) == []


@pytest.mark.parametrize("query", ["", "   ", "\u3000", "？！。", "--"])
def test_empty_query_is_refused(catalog: Catalog, query: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        search(catalog, query)
    assert isinstance(caught.value, GovLakeError)
    assert "query" in str(caught.value)
    assert "dataset id or a resource code" in str(caught.value)


def test_limit(catalog: Catalog) -> None:
    assert len(search(catalog, "信息", limit=3)) == 3
    assert len(search(catalog, "信息", limit=1)) == 1
    with pytest.raises(InvalidQuery, match="limit"):
        search(catalog, "信息", limit=0)


def test_hits_are_sorted_best_first(catalog: Catalog) -> None:
    hits = search(catalog, "信息", limit=20)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)


def test_index_is_built_once_per_catalog(catalog_copy: CatalogCopy, catalog: Catalog) -> None:
    assert _index_of(catalog) is _index_of(catalog)
    copy = catalog_copy.load()
    assert _index_of(copy) is not _index_of(catalog)


def test_search_sees_the_catalog_it_is_given(catalog_copy: CatalogCopy) -> None:
    marriages = "catalog/datasets/marriages.toml"
    catalog_copy.edit(marriages, 'name = "婚姻登记信息"', 'name = "婚姻登记与收养信息"')
    assert ids(search(catalog_copy.load(), "收养")) == ["marriages"]


def test_search_does_no_io(catalog_copy: CatalogCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = catalog_copy.load()  # index not built yet: building it must not read files either

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("search must not read or write files")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(pathlib.Path, "open", refuse)
    assert ids(search(fresh, "户籍")) == ["hukou"]
