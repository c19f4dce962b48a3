"""Full-text search over the catalog, for Chinese and English, without a word segmenter.

Used by ``govlake catalog search``, by the dashboards' catalog browser, and by
supply-and-demand matching (a demand text such as "需要企业纳税信用等级数据" proposes
``tax_credit``). It is a pure function of the catalog and the query: no I/O.

How a dataset is scored:

* Text is normalized with NFKC (full-width letters, digits and punctuation become
  half-width) and case-folded. Chinese is cut into character unigrams and bigrams;
  runs of ASCII letters and digits become tokens (``dishonest_debtors`` gives
  ``dishonest`` and ``debtors``). Whitespace between two Chinese characters in the
  query is dropped, so "户 籍" means "户籍".
* Each searchable field (:data:`FIELD_WEIGHTS`) scores ``weight x (coverage + bonus)``.
  *coverage* is the share of the query's grams found in that field, each gram weighted
  by its rarity across the catalog (IDF), so "信息", which every name contains, counts
  for little. *bonus* is 1 when the whole query appears in a field value as a substring,
  and 1 more when it is the whole value (an exact name or id).
* A resource code or a classification prefix ("101001/00001", "104") scores on the
  ``code`` field by prefix.
* A dataset is a hit only if it shares a bigram or an English token with the query, or
  matches the code, or holds the whole query in a code-table value ("汉族"). A single
  shared character is not enough, so a query about something the catalog lacks
  returns ``[]``.
* Hits below :data:`RELATIVE_CUTOFF` of the best score are dropped.
* Each hit also carries its *coverage*: the IDF-weighted share of the query's grams found
  anywhere in the dataset (0 to 1, best variant). Scores rank hits of one query; coverage
  says how much of the query a hit answers at all, comparably across queries, so
  supply-and-demand matching (lake/demand.py) uses it to decide whether a demand is met.
* Common words people type that the catalog spells differently ("营业执照", "身份证",
  "社保") are rewritten with :data:`REWRITES`; each rewritten query scores at
  :data:`REWRITE_FACTOR` and the best variant counts.

The index is built once per :class:`~lake.catalog.model.Catalog` object and cached
(the catalog is treated as immutable after loading).

>>> from lake.catalog import load_catalog
>>> [hit.dataset.id for hit in search(load_catalog(), "户籍", limit=1)]
['hukou']
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
import weakref
from collections import defaultdict
from dataclasses import dataclass

from govlake.errors import GovLakeError
from lake.catalog.model import Catalog, Dataset

#: Searchable fields and their weights, heaviest first. ``code`` is matched by prefix,
#: the others by grams and substrings.
FIELD_WEIGHTS: dict[str, float] = {
    "code": 10.0,  # resource code 信息资源代码, e.g. 101001/00001
    "id": 8.0,  # English dataset id, e.g. hukou
    "name": 8.0,  # 信息资源名称
    "classification": 4.0,  # names of 类 / 项 / 目
    "provider": 3.0,  # provider name, short name, id and code
    "abstract": 2.0,  # 信息资源摘要
    "items": 1.5,  # information items: source names, descriptions, columns
    "elements": 1.0,  # data element names and standards of the items
    "code_values": 0.5,  # names and aliases in the items' code tables
}

#: Fields that qualify a dataset as a hit only when they hold the whole query.
SUBSTRING_ONLY_FIELDS = frozenset({"code_values"})

#: Query rewrites: a word people type -> how the catalog says it. Each rewrite replaces
#: one occurrence in the query and is scored as another variant of the query.
REWRITES: dict[str, tuple[str, ...]] = {
    "营业执照": ("市场主体", "证照"),
    "执照": ("证照",),
    "证书": ("证照", "证明"),
    "身份证": ("公民身份号码",),
    "身份证号": ("公民身份号码",),
    "户口": ("户籍",),
    "社保": ("社会保险",),
    "企业": ("市场主体",),
    "公司": ("市场主体",),
    "老赖": ("失信被执行人",),
    "黑名单": ("失信",),
    "结婚": ("婚姻登记",),
    "离婚": ("婚姻登记",),
    "出生证": ("出生医学证明",),
    "死亡证": ("死亡医学证明",),
    "土地": ("宗地",),
    "信用代码": ("统一社会信用代码",),
    "社团": ("社会组织",),
    # Added for supply-and-demand matching: words departments use in demands (tests/lake/test_demand.py).
    "去世": ("死亡",),
    "逝世": ("死亡",),
    "身故": ("死亡",),
    "新生儿": ("出生",),
    "生育": ("出生",),
    "户口本": ("户籍",),
    "地块": ("宗地",),
    "工商": ("市场主体",),
    "注册": ("登记",),
    "个体户": ("个体工商户",),
    "法人代表": ("法定代表人",),
    "失信人员": ("失信被执行人",),
    "失信人": ("失信被执行人",),
    "医保": ("医疗保险",),
    "养老": ("养老保险",),
    "罚款": ("行政处罚",),
    "处罚": ("行政处罚",),
    "许可证": ("行政许可",),
    "纳税等级": ("纳税信用等级",),
    "权属": ("权利",),
    "产权": ("权利",),
    "组织机构代码": ("统一社会信用代码",),
}
REWRITE_FACTOR = 0.8

#: Hits scoring below this share of the best hit are dropped: a long tail of datasets
#: that share one common word with the query helps nobody choose.
RELATIVE_CUTOFF = 0.05

_BIGRAM_WEIGHT = 2.0
_UNIGRAM_WEIGHT = 1.0
_TOKEN_WEIGHT = 2.0
_MIN_PREFIX = 3  # an English query token matches longer tokens from this length on

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_RUN = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_SPACE_IN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


class InvalidQuery(GovLakeError):
    """A search query that cannot be searched: empty, only punctuation, or a bad limit."""


@dataclass(frozen=True)
class SearchHit:
    """One search result: the dataset, its score (higher is better) and the fields that matched.

    ``matched`` names fields of :data:`FIELD_WEIGHTS`, the biggest contribution first.
    ``coverage`` is the IDF-weighted share of the query found in the dataset (0 to 1).
    """

    dataset: Dataset
    score: float
    matched: tuple[str, ...]
    coverage: float = 0.0


def search(catalog: Catalog, text: str, *, limit: int = 10) -> list[SearchHit]:
    """Datasets matching ``text``, best first, at most ``limit`` of them.

    ``text`` may be Chinese, English, a dataset id, a resource code or a code prefix,
    in full-width or half-width characters. A query that matches nothing gives ``[]``;
    an empty one raises :class:`InvalidQuery`.

    >>> from lake.catalog import load_catalog
    >>> [hit.dataset.id for hit in search(load_catalog(), "需要企业纳税信用等级数据", limit=1)]
    ['tax_credit']
    """
    if limit < 1:
        raise InvalidQuery(f"limit must be at least 1, got {limit}")
    query = _Query.parse(text)
    index = _index_of(catalog)
    best: dict[int, tuple[float, dict[str, float]]] = {}
    covered: dict[int, float] = {}
    for factor, variant in query.variants():
        for position, (score, fields, share) in index.score(variant).items():
            score *= factor
            if position not in best or score > best[position][0]:
                best[position] = (score, {name: part * factor for name, part in fields.items()})
            covered[position] = max(covered.get(position, 0.0), share)
    hits = [
        SearchHit(
            dataset=index.datasets[position],
            score=round(score, 3),
            matched=tuple(sorted(fields, key=lambda name: (-fields[name], name))),
            coverage=round(min(covered[position], 1.0), 3),
        )
        for position, (score, fields) in best.items()
    ]
    hits.sort(key=lambda hit: (-hit.score, hit.dataset.code))
    floor = hits[0].score * RELATIVE_CUTOFF if hits else 0.0
    return [hit for hit in hits if hit.score >= floor][:limit]


# --- text features ---------------------------------------------------------------------


def normalize(text: str) -> str:
    """NFKC (full-width to half-width) and case-folded: the form every comparison uses."""
    return unicodedata.normalize("NFKC", text).casefold()


def _compact(normalized: str) -> str:
    """Only the letters, digits and Chinese characters, for substring comparisons."""
    return "".join(_RUN.findall(normalized))


@dataclass(frozen=True)
class _Grams:
    unigrams: frozenset[str]
    bigrams: frozenset[str]
    tokens: frozenset[str]

    @classmethod
    def of(cls, normalized: str) -> _Grams:
        unigrams: set[str] = set()
        bigrams: set[str] = set()
        tokens: set[str] = set()
        for run in _RUN.findall(normalized):
            if _CJK_RUN.fullmatch(run):
                unigrams.update(run)
                bigrams.update(run[i : i + 2] for i in range(len(run) - 1))
            else:
                tokens.add(run)
        return cls(frozenset(unigrams), frozenset(bigrams), frozenset(tokens))


@dataclass(frozen=True)
class _Variant:
    """One form of the query, ready to score."""

    grams: _Grams
    compact: str


@dataclass(frozen=True)
class _Query:
    text: str  # normalized, spaces between Chinese characters removed

    @classmethod
    def parse(cls, text: str) -> _Query:
        if not text or not text.strip():
            raise InvalidQuery(
                "the search query is empty; give a few words, a dataset id or a resource code, "
                "e.g. `govlake catalog search 户籍`"
            )
        normalized = _SPACE_IN_CJK.sub("", normalize(text).strip())
        if not _RUN.search(normalized):
            raise InvalidQuery(
                f"the search query {text!r} has no letters, digits or Chinese characters; "
                "give a few words, a dataset id or a resource code"
            )
        return cls(normalized)

    def variants(self) -> list[tuple[float, _Variant]]:
        """The query itself at factor 1, then each rewrite at :data:`REWRITE_FACTOR`.

        When several words of the query have rewrites ("企业" and "罚款"), one more variant
        applies every one of them (each word's first replacement), also at :data:`REWRITE_FACTOR`.
        """
        forms = [(1.0, self.text)]
        combined, applied = self.text, 0
        for word, replacements in REWRITES.items():
            if word in self.text:
                forms += [(REWRITE_FACTOR, self.text.replace(word, r, 1)) for r in replacements]
                if word in combined:
                    combined, applied = combined.replace(word, replacements[0], 1), applied + 1
        if applied > 1:
            forms.append((REWRITE_FACTOR, combined))
        return [(factor, _Variant(_Grams.of(form), _compact(form))) for factor, form in forms]


# --- the index ---------------------------------------------------------------------------


def _field_values(catalog: Catalog, dataset: Dataset) -> dict[str, list[str]]:
    """The raw text of each searchable field of one dataset (``code`` is handled apart)."""
    elements = [catalog.elements[item.element] for item in dataset.items if item.element in catalog.elements]
    code_values: list[str] = []
    for table_id in dict.fromkeys(e.code_table for e in elements if e.code_table):
        table = catalog.code_tables.get(table_id)
        if table is not None:
            code_values += [*table.codes.values(), *(a for a in table.aliases if a not in table.codes)]
    provider = dataset.provider
    return {
        "id": [dataset.id],
        "name": [dataset.name],
        "classification": list(dataset.classification),
        "provider": [provider.name, provider.short_name, provider.id, provider.code],
        "abstract": [dataset.abstract],
        "items": [text for item in dataset.items for text in (item.source, item.description, item.column)],
        "elements": [text for e in dict.fromkeys(elements) for text in (e.name, e.standard) if text],
        "code_values": code_values,
    }


class _Index:
    """Inverted index over one catalog: gram -> dataset position -> fields holding it."""

    def __init__(self, catalog: Catalog) -> None:
        self.datasets: list[Dataset] = sorted(catalog.datasets.values(), key=lambda d: d.code)
        self.postings: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
        #: position -> field -> compact values, for substring and exact-value bonuses
        self.values: list[dict[str, list[str]]] = []
        self.codes: list[str] = []
        for position, dataset in enumerate(self.datasets):
            compact_values: dict[str, list[str]] = {}
            for field_name, raw_values in _field_values(catalog, dataset).items():
                normalized = [normalize(value) for value in raw_values]
                compact_values[field_name] = [_compact(value) for value in normalized]
                for value in normalized:
                    grams = _Grams.of(value)
                    for gram in grams.unigrams | grams.bigrams | grams.tokens:
                        self.postings[gram][position].add(field_name)
            self.values.append(compact_values)
            self.codes.append(_compact(normalize(dataset.code)))
        self.tokens: list[str] = sorted(g for g in self.postings if g.isascii())
        self.size = len(self.datasets)

    def _idf(self, document_frequency: int) -> float:
        # Grams the catalog lacks (frequency 0) get the highest weight: an unknown word
        # in the query lowers every dataset's coverage alike.
        return math.log(1.0 + self.size / max(document_frequency, 0.5))

    def _token_postings(self, token: str) -> dict[int, set[str]]:
        """Postings of a query token: exact, or by prefix from :data:`_MIN_PREFIX` characters."""
        if len(token) < _MIN_PREFIX:
            return self.postings.get(token, {})
        merged: dict[int, set[str]] = defaultdict(set)
        start = bisect.bisect_left(self.tokens, token)
        for vocabulary_token in self.tokens[start:]:
            if not vocabulary_token.startswith(token):
                break
            for position, field_names in self.postings[vocabulary_token].items():
                merged[position] |= field_names
        return merged

    def score(self, variant: _Variant) -> dict[int, tuple[float, dict[str, float], float]]:
        """position -> (score, field -> contribution, coverage) for every dataset this variant hits."""
        weighted: list[tuple[float, dict[int, set[str]], bool]] = []  # (weight, postings, qualifies)
        grams = variant.grams
        for kind_weight, group, qualifies in (
            (_BIGRAM_WEIGHT, grams.bigrams, True),
            (_UNIGRAM_WEIGHT, grams.unigrams, not grams.bigrams and not grams.tokens),
        ):
            for gram in group:
                postings = self.postings.get(gram, {})
                weighted.append((kind_weight * self._idf(len(postings)), postings, qualifies))
        for token in grams.tokens:
            postings = self._token_postings(token)
            weighted.append((_TOKEN_WEIGHT * self._idf(len(postings)), postings, True))
        total = sum(weight for weight, _, _ in weighted) or 1.0
        # Coverage counts the grams that qualify a hit (bigrams and tokens; unigrams only for
        # a one-character query): a shared single character says little about a match. A
        # bigram the catalog lacks whose two characters both sit in bigrams it has is the
        # seam between two words ("员死" in "人员死亡"), not a missing word: it is left out.
        known = {gram for gram in grams.bigrams if self.postings.get(gram)}
        known_chars = {char for gram in known for char in gram}
        seams = sum(_BIGRAM_WEIGHT * self._idf(0) for gram in grams.bigrams - known
                    if gram[0] in known_chars and gram[1] in known_chars)
        qualifying_total = (sum(weight for weight, _, qualifies in weighted if qualifies) - seams) or 1.0

        coverage: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        anywhere: dict[int, float] = defaultdict(float)  # share of the qualifying grams found in any field
        qualified: set[int] = set()
        for weight, postings, qualifies in weighted:
            for position, field_names in postings.items():
                if qualifies and field_names - SUBSTRING_ONLY_FIELDS:
                    anywhere[position] += weight / qualifying_total
                for field_name in field_names:
                    coverage[position][field_name] += weight / total
                    if qualifies and field_name not in SUBSTRING_ONLY_FIELDS:
                        qualified.add(position)

        results: dict[int, tuple[float, dict[str, float], float]] = {}
        for position in set(coverage) | self._code_matches(variant.compact):
            fields = self._contributions(position, coverage.get(position, {}), variant.compact)
            if "code" in fields or any(
                name in SUBSTRING_ONLY_FIELDS and self._holds(position, name, variant.compact)
                for name in fields
            ):
                qualified.add(position)
            if position in qualified and fields:
                share = 1.0 if "code" in fields else anywhere.get(position, 0.0)
                results[position] = (sum(fields.values()), fields, share)
        return results

    def _code_matches(self, compact: str) -> set[int]:
        if not compact.isdigit():
            return set()
        return {position for position, code in enumerate(self.codes) if code.startswith(compact)}

    def _holds(self, position: int, field_name: str, compact: str) -> bool:
        return len(compact) >= 2 and any(compact in value for value in self.values[position][field_name])

    def _contributions(
        self, position: int, coverage: dict[str, float], compact: str
    ) -> dict[str, float]:
        fields: dict[str, float] = {}
        code = self.codes[position]
        if compact.isdigit() and code.startswith(compact):
            fields["code"] = FIELD_WEIGHTS["code"] * (2.0 if code == compact else len(compact) / len(code))
        for field_name, share in coverage.items():
            bonus = 0.0
            if self._holds(position, field_name, compact):
                bonus = 1.0 + (1.0 if compact in self.values[position][field_name] else 0.0)
            fields[field_name] = FIELD_WEIGHTS[field_name] * (share + bonus)
        return {name: value for name, value in fields.items() if value > 0}


_INDEXES: dict[int, _Index] = {}


def _index_of(catalog: Catalog) -> _Index:
    """The catalog's index, built on first use and dropped when the catalog is collected."""
    key = id(catalog)
    index = _INDEXES.get(key)
    if index is None:
        index = _INDEXES[key] = _Index(catalog)
        # Catalog is an unhashable frozen dataclass, so key by id and forget on collection.
        weakref.finalize(catalog, _INDEXES.pop, key, None)
    return index
