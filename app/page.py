"""What every page starts with: the signed-in user's reader, the chosen division, and a header.

>>> # in a page:  reader, division = context(); header("人口", "人口规模、结构和变化", reader, division)
"""

from __future__ import annotations

import streamlit as st

from app.data import Reader, lake_version
from app.drill import Division, selected
from app.format import data_date
from app.signin import current_user

#: Chinese names of the governed views, for "not granted" notes.
VIEW_NAMES: dict[str, str] = {
    "population": "人口（个人明细）",
    "legal_entity": "法人（主体明细）",
    "conflicts": "跨来源冲突",
    "credit_entity": "单位信用",
    "credit_person": "个人信用",
    "e_licence": "电子证照",
    "geo_division": "行政区划",
    "geo_division_stats": "区划统计",
    "geo_entity": "法人点位",
    "population_structure": "人口结构",
    "vital_statistics": "出生死亡",
    "entity_registrations": "市场主体登记",
    "credit_grades": "信用等级分布",
    "department_aggregation": "部门归集统计",
    "credit_grade_history": "信用等级月度变化",
    "credit_by_industry": "信用分行业分区划统计",
    "credit_fact": "单位信用事实",
    "aggregation_daily": "数据集逐日归集",
    "geo_parcel": "宗地界址",
    "open_population": "开放数据·人口",
    "open_entities": "开放数据·法人主体",
}


def context() -> tuple[Reader, Division]:
    """The signed-in user's reader and the division chosen in the sidebar; stops the page if signed out."""
    user = current_user()
    version = lake_version()
    if user is None or version is None:
        st.warning("请先登录。")
        st.stop()
    reader = Reader(user, version)
    return reader, selected(reader)


def header(title: str, question: str, reader: Reader, division: Division) -> None:
    """The page title, what it answers, and the range and data date it shows."""
    st.title(title)
    st.caption(f"{question}　|　范围：{division.label}　|　{data_date(reader.as_of)}")


def not_granted(*views: str) -> None:
    """Say, in Chinese, which views the user's role does not grant (instead of an error)."""
    names = "、".join(f"{VIEW_NAMES.get(view, view)}（{view}）" for view in views)
    st.info(f"当前账号未获授权查看：{names}。如需查看，请按数据共享流程申请相应权限。", icon="🔒")
