"""Chinese number, date and label formatting for the dashboards (no Streamlit here, so it is testable).

Leaders read counts in Chinese units: 12,345 persons is "1.23万", 123,456,789 is "1.23亿".
Below 10,000 a count is shown in full with thousands separators.

>>> count(12_345), count(123_456_789), count(987)
('1.23万', '1.23亿', '987')
>>> percent(0.0326)
'3.3%'
>>> data_date(dt.date(2026, 11, 22))
'数据日期：2026年11月22日'
"""

from __future__ import annotations

import datetime as dt
import math

#: Sex codes of GB/T 2261.1 and the labels the charts use.
SEX_LABELS: dict[str, str] = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}
#: Division levels of the topic marts.
LEVEL_LABELS: dict[int, str] = {1: "省级", 2: "地级", 3: "县级"}
#: ``department_aggregation.freshness`` in Chinese.
FRESHNESS_LABELS: dict[str, str] = {
    "on_time": "按时", "overdue": "逾期", "incomplete": "未全部归集",
}
#: ``location_check`` of ``geo_parcel`` and ``geo_entity`` (transforms/geospatial.py) in Chinese.
LOCATION_CHECKS: dict[str, str] = {
    "match": "位于申报区划内", "mismatch": "位于其他区划", "outside": "不在任何区划边界内",
    "no_location": "无坐标或几何无法解析", "unchecked": "申报区划无边界，无法核验",
}
#: How the governed session treats a column (``GovernedSession.columns``), in Chinese.
TREATMENT_LABELS: dict[str, str] = {"clear": "明文", "hidden": "隐藏"}
#: Credit grades of lake/catalog/credit_rules.toml, best first.
GRADE_ORDER: tuple[str, ...] = ("A", "B", "C", "D")
#: The grade a leader reads as "bad credit" (严重失信).
BAD_GRADES: tuple[str, ...] = ("D",)
#: Legal-entity categories that are market entities (市场主体); social organisations are not.
MARKET_CATEGORIES: tuple[str, ...] = ("企业", "个体工商户", "农民专业合作社")


def count(value: float | int | None, unit: str = "") -> str:
    """A count in Chinese units: in full below 10,000, else 万 or 亿 with three or four significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size >= 1e8:
        text = _significant(size / 1e8) + "亿"
    elif size >= 1e4:
        text = _significant(size / 1e4) + "万"
    elif float(size).is_integer():
        text = f"{int(size):,}"
    else:
        text = f"{size:,.1f}"
    return f"{sign}{text}{unit}"


def _significant(scaled: float) -> str:
    if scaled >= 1000:
        return f"{scaled:,.0f}"
    if scaled >= 100:
        return f"{scaled:.1f}"
    return f"{scaled:.2f}"


def signed(value: float | int | None, unit: str = "") -> str | None:
    """A change with its sign (``+12``, ``-3.4万``) for ``st.metric``'s delta; None when unknown."""
    if value is None:
        return None
    return ("+" if value >= 0 else "") + count(value, unit)


def percent(value: float | None, digits: int = 1) -> str:
    """A ratio as a percentage: ``0.0326`` -> ``3.3%``."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value * 100:.{digits}f}%"


def points(value: float | None) -> str | None:
    """A change of a ratio in percentage points, for a delta: ``0.012`` -> ``+1.2个百分点``.

    A change smaller than 0.05 points keeps two decimals, so it does not read as no change:
    ``-0.0004`` -> ``-0.04个百分点``.
    """
    if value is None or math.isnan(value):
        return None
    digits = 2 if 0 < abs(value) < 0.0005 else 1
    return f"{value * 100:+.{digits}f}个百分点"


def chinese_date(day: dt.date | dt.datetime | None) -> str:
    """``2026年11月22日``."""
    if day is None:
        return "—"
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_month(day: dt.date | None) -> str:
    """``2026年11月``."""
    if day is None:
        return "—"
    return f"{day.year}年{day.month}月"


def data_date(day: dt.date | None) -> str:
    """The caption every chart carries: ``数据日期：2026年11月22日``."""
    return f"数据日期：{chinese_date(day)}"


def subtitle(unit: str, day: dt.date | None, note: str = "") -> str:
    """A chart subtitle with the unit and the data date, e.g. ``单位：人 · 数据日期：2026年11月22日``."""
    parts = [f"单位：{unit}", data_date(day)]
    if note:
        parts.append(note)
    return " · ".join(parts)


def month_start(day: dt.date, months_back: int = 0) -> dt.date:
    """The first day of ``day``'s month, ``months_back`` months earlier."""
    index = day.year * 12 + (day.month - 1) - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def last_months(day: dt.date, months: int) -> list[dt.date]:
    """The first days of the ``months`` months ending with ``day``'s month, oldest first."""
    return [month_start(day, back) for back in range(months - 1, -1, -1)]


#: A Vega expression for axis labels in 万 / 亿 (used by app/charts.py).
VEGA_WAN_LABEL = (
    "abs(datum.value) >= 100000000 ? format(datum.value / 100000000, '.2~f') + '亿'"
    " : abs(datum.value) >= 10000 ? format(datum.value / 10000, '.2~f') + '万'"
    " : format(datum.value, ',~r')"
)
