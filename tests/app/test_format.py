"""Chinese number and date formatting (app/format.py) and the chart helpers that need no browser (app/charts.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from app import charts
from app.format import chinese_date, count, data_date, last_months, month_start, percent, points, signed, subtitle


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (987, "987"), (9_999, "9,999"), (10_000, "1.00万"), (12_345, "1.23万"), (1_234_567, "123.5万"),
    (12_345_678, "1,235万"), (123_456_789, "1.23亿"), (-25_000, "-2.50万"), (None, "—"), (2.5, "2.5"),
])
def test_count_uses_chinese_units(value: float | None, text: str) -> None:
    assert count(value) == text


def test_units_signs_and_ratios() -> None:
    assert count(4_900, "人") == "4,900人" and signed(8, "人") == "+8人" and signed(-30_000, "户") == "-3.00万户"
    assert signed(None) is None and percent(0.0326) == "3.3%" and percent(None) == "—"
    assert points(0.012) == "+1.2个百分点"


def test_dates() -> None:
    day = dt.date(2026, 11, 22)
    assert chinese_date(day) == "2026年11月22日" and data_date(day) == "数据日期：2026年11月22日"
    assert subtitle("人", day) == "单位：人 · 数据日期：2026年11月22日"
    assert month_start(day) == dt.date(2026, 11, 1) and month_start(day, 11) == dt.date(2025, 12, 1)
    assert month_start(dt.date(2026, 1, 5), 1) == dt.date(2025, 12, 1)
    assert last_months(day, 3) == [dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)]


def test_rewind_orients_rings_for_d3() -> None:
    """GeoJSON's counter-clockwise exterior ring becomes clockwise (d3-geo would paint the whole globe)."""
    counter_clockwise = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    hole = [[0.2, 0.2], [0.2, 0.8], [0.8, 0.8], [0.8, 0.2], [0.2, 0.2]]  # clockwise
    rewound = charts.rewind({"type": "Polygon", "coordinates": [counter_clockwise, hole]})
    assert rewound["coordinates"][0] == counter_clockwise[::-1] and rewound["coordinates"][1] == hole[::-1]
    multi = charts.rewind({"type": "MultiPolygon", "coordinates": [[counter_clockwise[::-1]]]})
    assert multi["coordinates"][0][0] == counter_clockwise[::-1]


def test_charts_carry_title_unit_and_data_date() -> None:
    day = dt.date(2026, 11, 22)
    frame = pl.DataFrame({"month": [dt.date(2026, 10, 1)], "births": [3]})
    filled = charts.complete(frame, "month", last_months(day, 2), zero=("births",))
    assert filled["births"].to_list() == [3, 0]
    spec = charts.line(filled, x="month", series={"births": "出生"}, title="出生", unit="人", as_of=day).to_dict()
    assert spec["title"]["text"] == "出生" and spec["title"]["subtitle"] == "单位：人 · 数据日期：2026年11月22日"
    pyramid = charts.pyramid(pl.DataFrame({"age_band": ["0-4"], "sex_label": ["女"], "persons": [2]}),
                             title="金字塔", as_of=day).to_dict()
    rows = next(iter(pyramid["datasets"].values()))
    assert len(rows) == 2 * len(charts.AGE_BANDS)  # every band drawn, empty ones as 0
