"""Identifier arithmetic against python-stdnum, the test oracle."""

from __future__ import annotations

import numpy as np
from stdnum.cn import ric, uscc

from govlake.generate.address_codes import FIRST_YEAR, id_address_table
from govlake.generate.counties import counties
from govlake.generate.ids import (
    org_check_values,
    resident_check_char,
    resident_ids,
    uscc_check_char,
    usccs,
)


def test_resident_check_characters_match_stdnum():
    rng = np.random.default_rng(0)
    for _ in range(2_000):
        body = "".join(str(d) for d in rng.integers(0, 10, 17))
        assert resident_check_char(body) == ric.calc_check_digit(body + "0")


def test_resident_ids_are_built_as_gb_11643_says():
    ids = resident_ids(np.array([330106, 110101]), np.array([19900307, 19851231]), np.array([123, 46]))
    assert ids.tolist() == ["330106199003071236", "110101198512310461"]


def test_credit_codes_match_stdnum():
    rng = np.random.default_rng(1)
    body = rng.integers(0, 31, (2_000, 8))
    codes = usccs(np.full(2_000, "92"), np.full(2_000, "330106"), body)
    assert all(uscc.is_valid(code) for code in codes)
    assert all(uscc_check_char(code[:17]) == uscc.calc_check_digit(code[:17]) for code in codes[:200])
    assert org_check_values(np.array([[6, 0, 0, 0, 3, 7, 3, 4]])).tolist() == [1]  # 60003734-1


def test_address_codes_exist_in_the_birth_year():
    places = counties()
    table = id_address_table(list(places.code), list(places.name))
    rng = np.random.default_rng(2)
    for _ in range(3_000):
        county, year = int(rng.integers(0, len(places))), int(rng.integers(1926, 2027))
        body = f"{table[county, year - FIRST_YEAR]}{year}0615{rng.integers(100, 999)}"
        assert ric.is_valid(body + resident_check_char(body)), (places.code[county], year, body)
    west_lake = list(places.code).index("330106")
    assert table[west_lake, 2000 - FIRST_YEAR] == 330106  # its own code once it existed
    assert table[west_lake, 1950 - FIRST_YEAR] != 330106  # an older code of Hangzhou before 1983
    assert str(table[west_lake, 1950 - FIRST_YEAR]).startswith("3301")
