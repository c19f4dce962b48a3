"""The e-licence library: holders linked to the base libraries, validity as of the reference date."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests.transforms.test_credit import AS_OF, make_context, make_resident_id, make_uscc
from transforms.e_licence import COLUMNS, TABLES, e_licence

ALIVE = make_resident_id("330106", "19900307", "123")
DEAD = make_resident_id("330106", "19400101", "015")
UNKNOWN_PERSON = make_resident_id("110101", "19851231", "046")
FIRM = make_uscc("91330106MA2B00001")
CLOSED_FIRM = make_uscc("91330106MA2B00002")
UNKNOWN_FIRM = make_uscc("91330106MA2B00009")


def population() -> pl.DataFrame:
    return pl.DataFrame({"resident_id": [ALIVE, DEAD], "name": ["张三", "李四"], "alive": [True, False]})


def legal_entities() -> pl.DataFrame:
    return pl.DataFrame(
        {"uscc": [FIRM, CLOSED_FIRM], "entity_name": ["杭州甲公司", "杭州乙公司"], "status": ["1", "3"]}
    )


def licence(
    licence_id: str, holder_code: str | None, code_type: str | None, **values: str
) -> dict[str, str | None]:
    base: dict[str, str | None] = {
        "licence_id": licence_id, "licence_type_code": "11100000000013303A001", "licence_type": "结婚证",
        "licence_no": licence_id[-6:], "holder_name": "张三", "holder_code": holder_code,
        "holder_code_type": code_type, "issuer": "西湖区民政局", "issued_date": "2020-05-20",
        "valid_from": "2020-05-20", "licence_status": "有效", "division": "330106",
    }  # fmt: skip
    return {**base, **values}


ROWS = [
    licence("L07", ALIVE, "公民身份号码"),
    licence("L02", FIRM, "统一社会信用代码", holder_name="杭州甲公司", licence_type="营业执照",
            valid_to="2026-12-20"),
    licence("L03", ALIVE, "统一社会信用代码"),  # a resident ID declared as a credit code
    licence("L04", "33010619900307123X", "2"),  # wrong check character
    licence("L05", UNKNOWN_FIRM, "1", holder_name="某公司", valid_to="2026-01-31"),  # valid, not in the library
    licence("L06", None, "2"),
    licence("L01", DEAD, "2", holder_name="李四(已故)", licence_status="注销"),
    licence("L08", CLOSED_FIRM, "1", holder_name="杭州乙公司", licence_status="废止", valid_to="2030-01-01"),
    licence("L09", UNKNOWN_PERSON, None, valid_from="2027-01-01", valid_to="2032-01-01"),
    licence("L10", FIRM, None, holder_name="杭州甲公司", valid_to="2026-11-20"),  # last day of validity
]  # fmt: skip


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    ctx = make_context(
        {"e_licences": ROWS}, {"base.population": population(), "base.legal_entity": legal_entities()}
    )
    return e_licence(ctx)["base.e_licence"]


def by_id(table: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["licence_id"]: row for row in table.iter_rows(named=True)}


def test_one_row_per_licence_sorted_with_commented_columns(table: pl.DataFrame) -> None:
    assert table["licence_id"].to_list() == sorted(row["licence_id"] for row in ROWS)
    assert table.columns == COLUMNS == list(TABLES["base.e_licence"].columns)


@pytest.mark.parametrize(
    ("licence_id", "kind", "status"),
    [
        ("L07", "person", "linked"),
        ("L02", "entity", "linked"),
        ("L03", "person", "linked_code_type_wrong"),
        ("L04", "person", "invalid_code"),
        ("L05", "entity", "not_found"),
        ("L06", "person", "missing_code"),
        ("L09", "person", "not_found"),  # no code type: the shape of the code says person
        ("L10", "entity", "linked"),  # no code type: found in the legal-entity library
    ],
)
def test_link_status(table: pl.DataFrame, licence_id: str, kind: str, status: str) -> None:
    row = by_id(table)[licence_id]
    assert (row["holder_kind"], row["link_status"]) == (kind, status)
    assert row["link_status_name"]


def test_holder_checks(table: pl.DataFrame) -> None:
    rows = by_id(table)
    assert (rows["L07"]["holder_name_matches"], rows["L07"]["holder_active"]) == (True, True)
    assert (rows["L01"]["holder_name_matches"], rows["L01"]["holder_active"]) == (False, False)
    assert (rows["L08"]["holder_name_matches"], rows["L08"]["holder_active"]) == (True, False)
    assert (rows["L05"]["holder_name_matches"], rows["L05"]["holder_active"]) == (None, None)


@pytest.mark.parametrize(
    ("licence_id", "validity", "days", "long_term"),
    [
        ("L07", "valid", None, True),
        ("L02", "valid", 30, False),
        ("L10", "valid", 0, False),
        ("L05", "expired", -293, False),
        ("L01", "revoked", None, True),
        ("L08", "revoked", None, False),
        ("L09", "not_yet_valid", 1868, False),
    ],
)
def test_validity_as_of_the_reference_date(
    table: pl.DataFrame, licence_id: str, validity: str, days: int | None, long_term: bool
) -> None:
    row = by_id(table)[licence_id]
    assert (row["validity"], row["days_to_expiry"], row["long_term"]) == (validity, days, long_term)
    assert AS_OF == dt.date(2026, 11, 20)


def test_status_names(table: pl.DataFrame) -> None:
    rows = by_id(table)
    assert (rows["L01"]["licence_status"], rows["L01"]["licence_status_name"]) == ("2", "注销")
    assert (rows["L08"]["validity_name"], rows["L07"]["validity_name"]) == ("已注销或废止", "有效")
    assert rows["L07"]["province"] == "33" and rows["L07"]["source_batch"] == "e_licences-batch"


def test_reproducible_and_relative_to_as_of() -> None:
    outputs = {"base.population": population(), "base.legal_entity": legal_entities()}
    first = e_licence(make_context({"e_licences": ROWS}, outputs))["base.e_licence"]
    again = e_licence(make_context({"e_licences": ROWS}, outputs))["base.e_licence"]
    assert first.equals(again)
    later = e_licence(make_context({"e_licences": ROWS}, outputs, as_of=dt.date(2027, 6, 1)))[
        "base.e_licence"
    ]
    assert by_id(later)["L09"]["validity"] == "valid" and by_id(later)["L02"]["validity"] == "expired"


def test_without_libraries_or_source() -> None:
    alone = e_licence(make_context({"e_licences": ROWS}))["base.e_licence"]
    assert set(alone["link_status"]) <= {"not_found", "invalid_code", "missing_code"}
    assert e_licence(make_context({})) == {}
