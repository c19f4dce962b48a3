"""The address code a resident ID carries: the county code in force when the number was given.

A resident ID keeps the county code of the place where the number was first assigned,
even after that county is renamed, merged or re-coded. Validators (python-stdnum among
them) therefore accept a code only for birth years in which it existed. Most of today's
2,845 county codes date from the 1983 re-coding or later, so an 80-year-old in today's
西湖区 (330106, from 1983) carries an older code such as 330120 (杭州市市区, until 1983).

The code history is read from python-stdnum's ``cn/loc.dat`` (year-tagged codes scraped
from zh.wikipedia; the package is a declared dependency, LGPL-2.1+, used unmodified). It
is data only: no stdnum function is called. For each county and birth year we take, in
order: the county's own code if it existed that year; a code of the same province with
the same name stem (密云区 → 密云县); a code of the same prefecture (first 4 digits),
nearest first; a code of the same province (or, for 重庆 and 海南, of 四川 and 广东,
which they were part of), nearest first; any code, nearest first.
"""

from __future__ import annotations

import importlib.resources
import re
from functools import lru_cache

import numpy as np

from govlake.errors import EnvironmentProblem

#: Birth years covered (the oldest generated person is 100 at the reference date).
FIRST_YEAR = 1920
LAST_YEAR = 2026
#: Provinces carved out of another province, with the province they came from.
PREDECESSOR_PROVINCE = {"50": "51", "46": "44"}
_TAG = re.compile(r"^\[(\d*)-(\d*)\](.*)$")
_SUFFIXES = ("自治县", "自治旗", "特区", "林区", "新区", "区", "县", "市", "旗")


def _stem(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _read_loc_dat() -> str:
    try:
        return (importlib.resources.files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise EnvironmentProblem(
            "python-stdnum is not installed, so the history of county codes is unavailable; "
            "install it with `pip install python-stdnum==2.2` (make install does this)"
        ) from exc


@lru_cache(maxsize=1)
def code_history() -> tuple[np.ndarray, list[str], np.ndarray]:
    """County-level codes ever used: ``(codes int64, stems, valid[code, year - FIRST_YEAR])``.

    Province and prefecture summary codes (``xx0000``, ``xxxx00``) and 市辖区 placeholders
    are left out: they are not the county a person was registered in.
    """
    codes: list[int] = []
    stems: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    province = ""
    for line in _read_loc_dat().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        number, _, rest = line.strip().partition(" ")
        if len(number) == 2:
            province = number
            continue
        if len(number) != 4 or number.endswith("00"):
            continue
        value = rest.split("=", 1)[1].strip('"')
        names: list[str] = []
        years: list[tuple[int, int]] = []
        for part in value.split(","):
            tag = _TAG.match(part)
            start, end, name = (tag[1], tag[2], tag[3]) if tag else ("", "", part)
            if name == "市辖区":
                continue
            names.append(name)
            years.append((int(start) if start else FIRST_YEAR, int(end) if end else LAST_YEAR))
        if names:
            codes.append(int(province + number))
            stems.append(_stem(names[-1]))
            spans.append(years)
    valid = np.zeros((len(codes), LAST_YEAR - FIRST_YEAR + 1), dtype=bool)
    for row, years in enumerate(spans):
        for start, end in years:
            valid[row, max(start, FIRST_YEAR) - FIRST_YEAR: min(end, LAST_YEAR) - FIRST_YEAR + 1] = True
    return np.array(codes, dtype=np.int64), stems, valid


def id_address_table(counties: list[str], names: list[str]) -> np.ndarray:
    """``table[i, year - FIRST_YEAR]``: the ID address code for county ``counties[i]`` and a birth year.

    ``names`` are the counties' current names (for the name-stem match).
    """
    codes, stems, valid = code_history()
    index = {int(code): row for row, code in enumerate(codes)}
    stem_ids = {stem: n for n, stem in enumerate(dict.fromkeys(stems))}
    code_stems = np.array([stem_ids[s] for s in stems], dtype=np.int64)
    provinces = codes // 10_000
    by_province = {int(p): np.flatnonzero(provinces == p) for p in np.unique(provinces)}
    table = np.zeros((len(counties), valid.shape[1]), dtype=np.int64)
    for i, (county, name) in enumerate(zip(counties, names, strict=True)):
        code = int(county)
        province = code // 10_000
        nearby = by_province.get(province, np.zeros(0, dtype=np.int64))
        predecessor = PREDECESSOR_PROVINCE.get(str(province))
        if predecessor is not None:
            nearby = np.concatenate([nearby, by_province.get(int(predecessor), np.zeros(0, dtype=np.int64))])
        nearby = nearby[np.argsort(np.abs(codes[nearby] - code), kind="stable")]
        stem = stem_ids.get(_stem(name), -1)
        own = index.get(code)
        order = np.concatenate([
            np.array([own] if own is not None else [], dtype=np.int64),
            nearby[code_stems[nearby] == stem],
            nearby[codes[nearby] // 100 == code // 100],
            nearby,
        ])
        ok = valid[order]  # candidates × years
        if not ok.any(axis=0).all():  # some year has no code nearby: search everywhere
            order = np.concatenate([order, np.argsort(np.abs(codes - code), kind="stable")])
            ok = valid[order]
        table[i] = codes[order[ok.argmax(axis=0)]]
    return table
