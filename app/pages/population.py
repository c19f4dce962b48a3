"""人口 (population): the age–sex pyramid, population by division on a map, births and deaths, and
the difference between household registration (户籍) and residence (常住).

Reads the aggregate views ``population_structure``, ``vital_statistics``, ``geo_division``; the
map drills into a division when clicked (or with the sidebar).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from app import charts
from app.data import Reader
from app.drill import Division
from app.format import SEX_LABELS, count, last_months, percent
from app.maps import division_map
from app.page import context, header, not_granted

#: Which count the pyramid and the map show.
BASES: dict[str, tuple[str, str]] = {
    "hukou": ("hukou_persons", "户籍人口"),
    "resident": ("resident_persons", "常住人口"),
}


def map_values(reader: Reader, division: Division) -> pl.DataFrame:
    """Registered and resident population per child division (the division itself for a county)."""
    rows = reader.sql(
        "SELECT division AS code, any_value(division_name) AS name, sum(hukou_persons) AS hukou, "
        f"sum(resident_persons) AS resident FROM population_structure WHERE {division.children_filter()} "
        "GROUP BY division ORDER BY division"
    )
    if rows.height == 0 and division.code is not None:
        rows = reader.sql(
            "SELECT division AS code, any_value(division_name) AS name, sum(hukou_persons) AS hukou, "
            f"sum(resident_persons) AS resident FROM population_structure WHERE {division.total_filter()} "
            "GROUP BY division")
    return rows.with_columns((pl.col("resident") - pl.col("hukou")).alias("difference"))


def population() -> None:
    reader, division = context()
    header("人口", "人口规模与年龄性别结构、各区划人口分布、出生死亡变化、人户分离情况", reader, division)
    if not reader.has("population_structure"):
        not_granted("population_structure")
        return
    totals = reader.sql(
        "SELECT sum(hukou_persons) AS hukou, sum(resident_persons) AS resident, "
        "sum(hukou_persons) FILTER (WHERE age_group = '0-14') AS young, "
        "sum(hukou_persons) FILTER (WHERE age_group = '60+') AS old "
        f"FROM population_structure WHERE {division.total_filter()}"
    ).row(0, named=True)
    hukou = totals["hukou"] or 0
    cards = st.columns(4)
    cards[0].metric("户籍人口（在世）", count(hukou, "人"), border=True)
    cards[1].metric("常住人口", count(totals["resident"], "人"), border=True,
                    delta=count((totals["resident"] or 0) - hukou, "人"), delta_description="常住 − 户籍",
                    delta_color="off")
    cards[2].metric("0—14岁占比", percent((totals["young"] or 0) / hukou if hukou else None), border=True)
    cards[3].metric("60岁及以上占比", percent((totals["old"] or 0) / hukou if hukou else None), border=True)

    basis = st.segmented_control("口径", list(BASES), default="hukou", key="population_basis",
                                 format_func=lambda key: BASES[key][1]) or "hukou"
    column, basis_name = BASES[basis]
    left, right = st.columns([2, 3])
    with left:
        pyramid = reader.sql(
            f"SELECT age_band, age_band_start, sex_name, sex, sum({column}) AS persons FROM population_structure "
            f"WHERE {division.total_filter()} AND sex IN ('1', '2') AND age_band IS NOT NULL "
            "GROUP BY ALL ORDER BY age_band_start"
        ).with_columns(pl.col("sex").replace_strict({"1": "男", "2": "女"}, return_dtype=pl.String).alias("sex_label"))
        st.altair_chart(charts.pyramid(pyramid, title=f"{basis_name}年龄性别金字塔", as_of=reader.as_of,
                                       note=division.name), width="stretch")
    with right:
        values = map_values(reader, division)
        division_map(reader, division, values, value=basis, title=f"各区划{basis_name}", unit="人",
                     value_title=f"{basis_name}（人）", key="population_map")

    st.subheader("出生与死亡")
    left, right = st.columns(2)
    vital = reader.sql(
        "SELECT month, sum(births_registered) AS births, sum(deaths_registered) AS deaths, "
        "sum(births_certified) AS births_certified, sum(deaths_certified) AS deaths_certified "
        f"FROM vital_statistics WHERE {division.total_filter()} GROUP BY month ORDER BY month"
    ) if reader.has("vital_statistics") else None
    if vital is None:
        not_granted("vital_statistics")
    else:
        years = [dt.date(year, 1, 1) for year in range(reader.as_of.year - 10, reader.as_of.year + 1)]
        yearly = charts.complete(
            vital.with_columns(pl.col("month").dt.truncate("1y").alias("year"))
            .group_by("year").agg(pl.col("births", "deaths").sum()),
            "year", years, zero=("births", "deaths"),
        ).with_columns((pl.col("births") - pl.col("deaths")).alias("natural"))
        with left:
            st.altair_chart(charts.line(yearly, x="year", series={"births": "出生", "deaths": "死亡",
                                                                   "natural": "自然增长"},
                                        title="历年出生、死亡和自然增长", unit="人", as_of=reader.as_of,
                                        note=f"{reader.as_of.year}年截至数据日期", x_title="年份",
                                        time_format="%Y年"), width="stretch")
        with right:
            recent = charts.complete(vital, "month", last_months(reader.as_of, 24),
                                     zero=("births", "deaths", "births_certified", "deaths_certified"))
            st.altair_chart(charts.line(recent, x="month", series={"births": "出生·登记",
                                                                    "births_certified": "出生·医学证明",
                                                                    "deaths": "死亡·登记",
                                                                    "deaths_certified": "死亡·医学证明"},
                                        title="近24个月出生与死亡：人口库登记数与医学证明数", unit="人",
                                        as_of=reader.as_of, colours=("#1f5fbf", "#8fb3e8", "#d9534f", "#f0a8a6")),
                            width="stretch")

    st.subheader("人户分离：常住人口与户籍人口之差")
    difference = values.filter(pl.col("code").is_not_null()).sort("difference")
    st.altair_chart(charts.bars(difference, category="name", value="difference", title="各区划常住人口减户籍人口",
                                unit="人", as_of=reader.as_of, category_title="区划",
                                value_title="常住 − 户籍（人）", note="正值为净流入，负值为净流出", sort="-x"),
                    width="stretch")
    st.dataframe(
        difference.select("code", "name", "hukou", "resident", "difference"),
        hide_index=True, width="stretch",
        column_config={"code": "区划代码", "name": "区划名称",
                       "hukou": st.column_config.NumberColumn("户籍人口", format="%d"),
                       "resident": st.column_config.NumberColumn("常住人口", format="%d"),
                       "difference": st.column_config.NumberColumn("常住−户籍", format="%+d")},
    )
    if reader.has("population"):
        st.subheader("人口明细（脱敏）")
        st.caption("按账号权限脱敏：公民身份号码保留前6位和后4位，姓名保留姓氏；仅显示前 50 条。")
        detail = reader.sql(
            "SELECT resident_id, name, sex, age, hukou_division, residence_division FROM population "
            f"WHERE alive AND {division.prefix_filter('hukou_division')} ORDER BY hukou_division, resident_id LIMIT 50"
        ).with_columns(pl.col("sex").replace_strict(SEX_LABELS, default=None, return_dtype=pl.String))
        st.dataframe(detail, hide_index=True, width="stretch",
                     column_config={"resident_id": "公民身份号码", "name": "姓名", "sex": "性别", "age": "年龄",
                                    "hukou_division": "户籍地", "residence_division": "居住地"})


if __name__ == "__main__":
    population()
