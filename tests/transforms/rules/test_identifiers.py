"""Resident ID, USCC, party ID and phone rules, with python-stdnum as the oracle.

stdnum is knowingly lenient or wrong in a few places, where our rule is stricter or more
accepting on purpose; the oracle comparisons state each exception:

- resident ID: stdnum accepts birth dates after ``as_of`` and before 1900, and sequence
  ``000``; we reject them. stdnum resolves address codes against its historic table
  (with year ranges tied to the birth year); we accept current codes only, so the random
  IDs use codes that stdnum knows without year limits, or codes neither knows. (Tying the
  code to the birth year is wrong: the code is the residence when the ID was issued, so
  stdnum rejects a 西湖区 330106 ID of anyone born before 1983, when the code appeared.)
  For a code whose province stdnum knows but whose county it does not, ``is_valid`` raises
  KeyError instead of returning False; :func:`_stdnum_ric_valid` counts that as invalid.
- USCC: stdnum requires positions 1–8 to be digits, so it rejects every legitimate code of
  authorities A, N and Y; we accept them. It also accepts ``0`` in position 1, which is no
  authority code; the random codes start with 1–9.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import polars as pl
import pytest
from stdnum import numdb
from stdnum.cn import ric, uscc

from lake.catalog import Catalog
from lake.reference import divisions
from tests.transforms.rules.conftest import AS_OF, Apply
from transforms.rules.identifiers import (
    RESIDENT_ID_CHECK,
    RESIDENT_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    resident_id_check_char,
    uscc_check_char,
)

SAMPLES = 3_000


def _check_chars(bodies: list[str], check_char: Callable[[pl.Expr], pl.Expr]) -> list[str | None]:
    return pl.DataFrame({"body": bodies}).select(check_char(pl.col("body")))[:, 0].to_list()


def _id(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


def _uscc(body: str) -> str:
    return body + uscc.calc_check_digit(body)


def _stdnum_ric_valid(number: str) -> bool:
    try:
        return ric.is_valid(number)
    except KeyError:  # stdnum bug: known province, unknown county
        return False


# --- resident ID -------------------------------------------------------------------------


def test_weights_are_powers_of_two_mod_11() -> None:
    assert RESIDENT_ID_WEIGHTS == tuple(pow(2, 17 - i, 11) for i in range(17))
    checks = ((12 - total) % 11 for total in range(11))  # the check that makes the full sum 1 mod 11
    assert RESIDENT_ID_CHECK == "".join("X" if check == 10 else str(check) for check in checks)


def test_check_char_matches_stdnum() -> None:
    rng = random.Random(11643)
    bodies = ["".join(rng.choices("0123456789", k=17)) for _ in range(SAMPLES)]
    ours = _check_chars(bodies, resident_id_check_char)
    assert ours == [ric.calc_check_digit(body + "0") for body in bodies]
    assert {"X", "0", "9"} <= set(ours)


def test_check_char_is_null_unless_17_bytes() -> None:
    assert _check_chars(["1234567890123456", "12345678901234567X", "１2345678901234567"],
                        resident_id_check_char) == [None, None, None]


def _stable_codes() -> list[str]:
    """Current county codes that stdnum knows without year limits."""
    table = numdb.get("cn/loc")
    stable = []
    for code in divisions().filter(pl.col("level") == 3)["code"]:
        info = {key: value for _, props in table.info(code) for key, value in props.items()}
        if "county" in info and "[" not in info["county"]:
            stable.append(code)
    return stable


def _unknown_codes(rng: random.Random, known: set[str], count: int) -> list[str]:
    table = numdb.get("cn/loc")
    codes: list[str] = []
    while len(codes) < count:
        code = f"{rng.randint(100000, 999999)}"
        if code not in known and not any("county" in props for _, props in table.info(code)):
            codes.append(code)
    return codes


def _random_birth(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.75:
        day = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randint(0, (AS_OF - dt.date(1900, 1, 1)).days))
        return day.strftime("%Y%m%d")
    if kind < 0.85:
        return rng.choice(["20000230", "19991301", "19990132", "19990100", "19990000", "20230229"])
    if kind < 0.93:
        day = AS_OF + dt.timedelta(days=rng.randint(1, 30_000))  # future: stdnum accepts
        return day.strftime("%Y%m%d")
    day = dt.date(1850, 1, 1) + dt.timedelta(days=rng.randint(0, 18_200))  # before 1900
    return day.strftime("%Y%m%d")


def _stricter_than_stdnum(number: str) -> bool:
    """The documented cases where we reject an ID that stdnum accepts."""
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return birth > AS_OF or birth < dt.date(1900, 1, 1) or number[14:17] == "000"


def test_validity_agrees_with_stdnum(apply: Apply) -> None:
    rng = random.Random(1999)
    stable = _stable_codes()
    unknown = _unknown_codes(rng, set(divisions()["code"]), 50)
    numbers = []
    for _ in range(SAMPLES):
        code = rng.choice(stable) if rng.random() < 0.9 else rng.choice(unknown)
        sequence = "000" if rng.random() < 0.05 else f"{rng.randint(0, 999):03d}"
        number = _id(code + _random_birth(rng) + sequence)
        if rng.random() < 0.3:  # a wrong check character
            number = number[:17] + rng.choice([c for c in "0123456789X" if c != number[17]])
        numbers.append(number)

    ours = [valid for _, valid in apply("resident_id", numbers)]
    expected = [_stdnum_ric_valid(n) and not _stricter_than_stdnum(n) for n in numbers]
    mismatches = [(n, o, e) for n, o, e in zip(numbers, ours, expected, strict=True) if o != e]
    assert mismatches == []
    # The sample exercises every branch, including the documented exceptions.
    assert 0.3 < sum(expected) / SAMPLES < 0.7
    lenient = [n for n in numbers if _stdnum_ric_valid(n) and _stricter_than_stdnum(n)]
    assert len(lenient) > 100


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("330106199003071236", "330106199003071236"),
        ("44030519880808008x", "44030519880808008X"),  # lower-case x
        ("４４０３０５１９８８０８０８００８Ｘ", "44030519880808008X"),  # full width
        ("44030519880808008ｘ", "44030519880808008X"),  # full-width lower-case x
        ("\u3000 3301 0619 9003 0712 36 \t", "330106199003071236"),  # spaces anywhere
        ("330106\u200b199003071236", "330106199003071236"),  # zero-width space
        ("330106900307123", "330106199003071236"),  # 15 digits → 18
        ("３３０１０６９００３０７１２３", "330106199003071236"),  # full-width 15 digits
        ("110101851231046", _id("11010119851231046")),
    ],
)
def test_normalizes_and_accepts(apply: Apply, raw: str, value: str) -> None:
    assert apply("resident_id", [raw]) == [(value, True)]


def test_first_generation_upgrade_matches_stdnum(apply: Apply) -> None:
    rng = random.Random(15)
    stable = _stable_codes()
    olds = [
        rng.choice(stable) + f"{rng.randint(30, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + f"{rng.randint(1, 999):03d}"
        for _ in range(500)
    ]
    results = apply("resident_id", olds)
    assert all(valid for _, valid in results)
    assert [value for value, _ in results] == [_id(old[:6] + "19" + old[6:]) for old in olds]
    assert all(ric.is_valid(value) for value, _ in results)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("330106199003071230", "wrong check character"),
        ("330106199003071", "15 digits whose YYMMDD (199003) is no date"),
        (_id("33010620000230123"), "2000-02-30 is not a calendar date"),
        (_id("11010120990101123"), "born after as_of (stdnum accepts)"),
        (_id("11010118991231123"), "born before 1900 (stdnum accepts)"),
        (_id("11010119900307000"), "sequence 000 (stdnum accepts)"),
        (_id("99999919900307123"), "unknown division code"),
        ("33010619900307123", "17 characters"),
        ("3301061990030712360", "19 characters"),
        ("33010619900307123A", "letter check character"),
        ("X30106199003071236", "letter in the body"),
        ("无", "placeholder"),
    ],
)
def test_flags_invalid(apply: Apply, raw: str, reason: str) -> None:
    [(value, valid)] = apply("resident_id", [raw])
    assert valid is False, reason
    assert value is not None


def test_documented_stdnum_leniencies_are_real() -> None:
    assert ric.is_valid(_id("11010120990101123"))
    assert ric.is_valid(_id("11010118991231123"))
    assert ric.is_valid(_id("11010119900307000"))
    assert ric.is_valid(_id("11010319800101001"))


def test_accepts_abolished_county_codes(apply: Apply) -> None:
    number = _id("11010319800101001")  # 崇文区, abolished 2010: the ID keeps its first county
    assert apply("resident_id", [number]) == [(number, True)]
    assert ric.is_valid(number)


def test_accepts_current_codes_for_people_born_before_the_code(apply: Apply) -> None:
    number = _id("33010619800101123")  # 西湖区 has had 330106 since 1983
    assert apply("resident_id", [number]) == [(number, True)]
    assert not ric.is_valid(number)


def test_as_of_bounds_birth_date(apply: Apply) -> None:
    born_on_as_of = _id("110101" + AS_OF.strftime("%Y%m%d") + "123")
    born_after = _id("110101" + (AS_OF + dt.timedelta(days=1)).strftime("%Y%m%d") + "123")
    assert apply("resident_id", [born_on_as_of, born_after]) == [(born_on_as_of, True), (born_after, False)]


def test_hong_kong_and_macau_residence_permits(apply: Apply) -> None:
    numbers = [_id("81000019900101123"), _id("82000019900101124")]
    assert [valid for _, valid in apply("resident_id", numbers)] == [True, True]


# --- USCC --------------------------------------------------------------------------------


def test_uscc_weights() -> None:
    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_uscc_check_char_matches_stdnum() -> None:
    rng = random.Random(32100)
    bodies = [
        rng.choice("123456789ANY") + "".join(rng.choices("0123456789", k=7))
        + "".join(rng.choices(USCC_ALPHABET, k=9))
        for _ in range(SAMPLES)
    ]
    assert _check_chars(bodies, uscc_check_char) == [uscc.calc_check_digit(body) for body in bodies]


def _random_uscc_body(rng: random.Random, first: str) -> str:
    body = first + rng.choice("1239") + "".join(rng.choices("0123456789", k=6))
    rest = rng.choices(USCC_ALPHABET, k=9)
    if rng.random() < 0.05:  # a letter the alphabet excludes
        rest[rng.randrange(9)] = rng.choice("IOSVZ")
    return body + "".join(rest)


def test_uscc_validity_agrees_with_stdnum_for_digit_authorities(apply: Apply) -> None:
    rng = random.Random(2015)
    codes = []
    for _ in range(SAMPLES):
        body = _random_uscc_body(rng, rng.choice("123456789"))
        correct = rng.random() < 0.6 and not set(body) & set("IOSVZ")
        code = body + (uscc.calc_check_digit(body) if correct else rng.choice(USCC_ALPHABET))
        codes.append(code.lower() if rng.random() < 0.1 else code)
    ours = [valid for _, valid in apply("uscc", codes)]
    expected = [uscc.is_valid(code) for code in codes]
    assert ours == expected
    assert 0.4 < sum(expected) / SAMPLES < 0.8


def test_uscc_accepts_a_n_y_authorities_that_stdnum_rejects(apply: Apply) -> None:
    rng = random.Random(2016)
    bodies = [_random_uscc_body(rng, rng.choice("ANY")) for _ in range(1_000)]
    bodies = [body for body in bodies if not set(body) & set("IOSVZ")]
    right = [_uscc(body) for body in bodies]
    wrong = [code[:17] + next(c for c in USCC_ALPHABET if c != code[17]) for code in right]
    assert all(valid for _, valid in apply("uscc", right))
    assert not any(valid for _, valid in apply("uscc", wrong))
    assert not any(uscc.is_valid(code) for code in right)  # the stdnum bug


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("91110000600037341L", "91110000600037341L", True),
        ("91110000600037341l", "91110000600037341L", True),
        (" ９１１１００００６０００３７３４１Ｌ\u3000", "91110000600037341L", True),
        ("N2330106MA27XK9A1B", "N2330106MA27XK9A1B", True),
        (_uscc("A1110000MA27XK9A1"), _uscc("A1110000MA27XK9A1"), True),
        (_uscc("Y1110000MA27XK9A1"), _uscc("Y1110000MA27XK9A1"), True),
        ("91110000600037341M", "91110000600037341M", False),  # wrong check
        (_uscc("01110000600037341"), _uscc("01110000600037341"), False),  # 0 is no authority
        (_uscc("B1110000600037341"), _uscc("B1110000600037341"), False),  # B is no authority
        (_uscc("9A110000600037341"), _uscc("9A110000600037341"), False),  # letter in type code
        ("91110000600037341", "91110000600037341", False),  # 17 characters
        ("91110000I00037341L", "91110000I00037341L", False),  # I is not in the alphabet
    ],
)
def test_uscc_examples(apply: Apply, raw: str, value: str, valid: bool) -> None:
    assert apply("uscc", [raw]) == [(value, valid)]


def test_department_codes_are_valid(apply: Apply, catalog: Catalog) -> None:
    codes = [department.code for department in catalog.departments.values()]
    assert all(valid for _, valid in apply("uscc", codes))


# --- party ID ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("330106199003071236", "330106199003071236", True),
        ("33010619900307123x", "33010619900307123X", False),  # wrong check char, kept as typed
        ("330106900307123", "330106199003071236", True),  # first-generation ID upgraded
        ("91110000600037341l", "91110000600037341L", True),
        ("N2330106MA27XK9A1B", "N2330106MA27XK9A1B", True),
        ("110000400012345", "110000400012345", False),  # old 15-digit registration number
        ("91110000600037341M", "91110000600037341M", False),
        ("  ", None, None),
    ],
)
def test_party_id(apply: Apply, raw: str, value: str | None, valid: bool | None) -> None:
    assert apply("party_id", [raw]) == [(value, valid)]


# --- phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("13812345678", "13812345678", True),
        ("138 1234 5678", "13812345678", True),
        ("138-1234-5678", "13812345678", True),
        ("+86 138 1234 5678", "13812345678", True),
        ("008613812345678", "13812345678", True),
        ("8613812345678", "13812345678", True),
        ("１３８１２３４５６７８", "13812345678", True),
        ("0571-88888888", "057188888888", True),
        ("(010)12345678", "01012345678", True),
        ("（０１０）１２３４５６７８", "01012345678", True),
        ("+86 571 8888 8888", "057188888888", True),
        ("0571-8888888", "05718888888", True),
        ("88888888", "88888888", False),  # no area code
        ("12345678901", "12345678901", False),  # 12 is no mobile prefix
        ("1381234567", "1381234567", False),  # 10 digits
        ("13812345678转123", "13812345678转123", False),  # extension
    ],
)
def test_phone(apply: Apply, raw: str, value: str, valid: bool) -> None:
    assert apply("phone", [raw]) == [(value, valid)]
