"""Date and year rules."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.transforms.rules.conftest import Apply

JAN_2 = dt.date(2020, 1, 2)


@pytest.mark.parametrize(
    "raw",
    [
        "2020-01-02",
        "2020-1-2",
        "2020/01/02",
        "2020/1/2",
        "20200102",
        "2020年1月2日",
        "2020年01月02日",
        "2020年1月2",
        "2020.1.2",
        "2020.01.02",
        "２０２０－０１－０２",
        "２０２０年１月２日",
        "２０２０．１．２",
        "２０２００１０２",
        " 2020-01-02\u3000",
        "2020 年 1 月 2 日",
        "2020-01-02 08:30:00",
        "2020-01-02T08:30",
        "2020/1/2 8:30:00.123",
    ],
)
def test_accepts_every_spelling(apply: Apply, raw: str) -> None:
    assert apply("date", [raw]) == [(JAN_2, True)]


@pytest.mark.parametrize(
    "raw",
    [
        "2020-02-30",  # no such day
        "2019-02-29",  # not a leap year
        "2020-13-01",
        "2020-00-10",
        "2020-01-00",
        "20200230",
        "2020年2月30日",
        "0000-00-00",
        "2020-01",
        "202001021",
        "20-01-02",
        "2020-01-02xyz",
        "01/02/2020",
        "长期",
        "无",
    ],
)
def test_flags_unparseable_or_impossible(apply: Apply, raw: str) -> None:
    assert apply("date", [raw]) == [(None, False)]


def test_leap_day_and_far_dates(apply: Apply) -> None:
    assert apply("date", ["2020-02-29", "2099-12-31", "1900-01-01"]) == [
        (dt.date(2020, 2, 29), True),
        (dt.date(2099, 12, 31), True),
        (dt.date(1900, 1, 1), True),
    ]


@pytest.mark.parametrize(
    ("raw", "value", "valid"),
    [
        ("2023", 2023, True),
        ("２０２３", 2023, True),
        ("2023年", 2023, True),
        ("2023年度", 2023, True),
        (" 2023 ", 2023, True),
        ("1900", 1900, True),
        ("2100", 2100, True),
        ("1899", 1899, False),
        ("2101", 2101, False),
        ("23", None, False),
        ("2023-01", None, False),
    ],
)
def test_year(apply: Apply, raw: str, value: int | None, valid: bool) -> None:
    assert apply("year", [raw]) == [(value, valid)]
