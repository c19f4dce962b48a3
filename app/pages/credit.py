"""信用 (credit): the grade distribution, dishonest debtors and penalties by industry and division, and a
drill-down to one entity's credit facts, all within the user's scope.

Every leader and analyst reads the grade distribution (``credit_grades``), its month-end trend
(``credit_grade_history``) and dishonest debtors and penalties by industry and division
(``credit_by_industry``, counts only). The one-entity drill-down needs the credit detail views
(``credit_entity``, ``credit_fact``: each case, penalty, licence and tax rating of the entity),
which the analyst role grants, as it does ``credit_person`` (dishonest persons) and ``e_licence``
(the entity's e-licences).
"""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from app import charts
from app.data import Reader
from app.drill import Division, divisions
from app.format import BAD_GRADES, GRADE_ORDER, count, percent
from app.page import context, header, not_granted

SUBJECT_TYPES: dict[str, str] = {"entity": "单位", "person": "个人"}
GRADE_LABELS: dict[str, str] = {"A": "优", "B": "良", "C": "中", "D": "差"}
#: Credit facts of one entity (credit_entity columns) and how the page names them.
FACTS: dict[str, str] = {
    "dishonest_active": "当前是否为失信被执行人",
    "dishonest_active_cases": "当前失信案件数",
    "dishonest_cases": "历史失信案件数",
    "penalties_12m": "近12个月行政处罚（次）",
    "penalties_36m": "近36个月行政处罚（次）",
    "fines_12m_wan": "近12个月罚款（万元）",
    "severe_penalties_12m": "近12个月严重处罚（次）",
    "licence_revoked_12m": "近12个月是否被吊销许可",
    "licences_valid": "有效电子证照（张）",
    "tax_grade": "纳税信用等级",
    "legal_rep_dishonest": "法定代表人是否失信",
    "fact_records": "信用事实记录数",
}


def grade_scale() -> alt.Scale:
    return alt.Scale(domain=list(GRADE_LABELS.values()), range=list(charts.GRADE_COLOURS.values()))


def distribution(reader: Reader, division: Division) -> None:
    """Subjects per grade in the division, and the share of bad grades per child division."""
    grades = reader.sql(
        "SELECT subject_type, grade, sum(subjects) AS subjects FROM credit_grades "
        f"WHERE {division.total_filter()} GROUP BY ALL ORDER BY subject_type, grade")
    entities = grades.filter(pl.col("subject_type") == "entity")
    total = int(entities["subjects"].sum() or 0)
    cards = st.columns(5)
    cards[0].metric("参评单位", count(total, "户"), border=True)
    for slot, grade in zip(cards[1:], GRADE_ORDER, strict=True):
        n = int(entities.filter(pl.col("grade") == grade)["subjects"].sum() or 0)
        slot.metric(f"{grade}级（{GRADE_LABELS[grade]}）", count(n, "户"), percent(n / total if total else None),
                    delta_color="off", delta_arrow="off", delta_description="占参评单位", border=True)
    shown = grades.with_columns(
        pl.col("subject_type").replace_strict(SUBJECT_TYPES, default="其他", return_dtype=pl.String).alias("subject"),
        pl.col("grade").replace_strict(GRADE_LABELS, default="未评", return_dtype=pl.String).alias("label"))
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.bars(shown, category="subject", value="subjects", title="信用等级分布", unit="户（人）",
                                    as_of=reader.as_of, category_title="主体类型", value_title="主体数",
                                    note=division.name, colour_field="label", colour_title="等级",
                                    colour_scale=grade_scale(), sort=list(SUBJECT_TYPES.values())),
                        width="stretch")
    children = reader.sql(
        "SELECT division AS code, any_value(division_name) AS name, "
        f"sum(subjects) FILTER (WHERE grade IN ({', '.join(repr(g) for g in BAD_GRADES)})) AS bad, "
        "sum(subjects) AS subjects FROM credit_grades "
        f"WHERE {division.children_filter()} AND subject_type = 'entity' GROUP BY division"
    ).with_columns((pl.col("bad").fill_null(0) / pl.col("subjects")).alias("bad_share"))
    with right:
        if children.height:
            st.altair_chart(charts.bars(children, category="name", value="bad_share", title="各区划差级（D）单位占比",
                                        unit="占比", as_of=reader.as_of, category_title="区划",
                                        value_title="差级单位占比", colour=charts.BAD, note=division.name)
                            .encode(x=alt.X("bad_share:Q", title="差级单位占比", axis=alt.Axis(format=".0%"))),
                            width="stretch")
        else:
            st.info(f"{division.name}没有下级区划。")
    if reader.has("credit_grade_history"):
        trend(reader, division)


def trend(reader: Reader, division: Division) -> None:
    """The share of each grade among rated entities at each of the last twelve month ends and the data date."""
    monthly = reader.sql(
        "SELECT graded_on, grade, sum(subjects) AS subjects FROM credit_grade_history "
        f"WHERE {division.total_filter()} GROUP BY ALL ORDER BY graded_on, grade")
    if monthly.height == 0:
        return
    shares = (monthly.with_columns((pl.col("subjects") / pl.col("subjects").sum().over("graded_on")).alias("share"))
              .pivot(on="grade", index="graded_on", values="share").fill_null(0).sort("graded_on"))
    series = {grade: f"{grade}级（{GRADE_LABELS[grade]}）" for grade in GRADE_ORDER if grade in shares.columns}
    st.altair_chart(charts.line(shares, x="graded_on", series=series, title="近12个月各月末单位信用等级占比",
                                unit="占参评单位比例", as_of=reader.as_of, x_title="评定日", time_format="%Y年%m月%d日",
                                note=f"{division.name} · 历史月份按现有信用事实和现行规则回溯评定",
                                colours=tuple(charts.GRADE_COLOURS.values()), ratio=True),
                    width="stretch")


def child_of(reader: Reader, division: Division) -> dict[str, str]:
    """Division code -> the child of ``division`` it lies in (for grouping detail rows by child).

    A county maps to itself when it is the chosen division.
    """
    table = divisions(reader)
    parents = dict(zip(table["code"].to_list(), table["parent"].to_list(), strict=True))
    mapping: dict[str, str] = {division.code: division.code} if division.code else {}
    for code in table["code"].to_list():
        cursor: str | None = code
        while cursor is not None and parents.get(cursor) != division.code:
            cursor = parents.get(cursor)
        if cursor is not None:
            mapping[code] = cursor
    return mapping


def dishonest_and_penalties(reader: Reader, division: Division) -> None:
    """Dishonest debtors and administrative penalties by industry and by division (``credit_by_industry``,
    an aggregate every leader and analyst is granted)."""
    from lake.catalog import load_catalog

    sections = load_catalog().code_tables["industry_section"].codes
    facts = reader.sql(
        "SELECT industry_section, division, sum(subjects) AS subjects, sum(dishonest) AS dishonest, "
        "sum(penalties) AS penalties, sum(fines) AS fines FROM credit_by_industry "
        f"WHERE {division.prefix_filter()} GROUP BY ALL")
    cards = st.columns(4)
    cards[0].metric("失信被执行人（单位）", count(int(facts["dishonest"].sum() or 0), "户"), border=True)
    cards[1].metric("近12个月行政处罚", count(int(facts["penalties"].sum() or 0), "次"), border=True)
    cards[2].metric("近12个月罚款", count(float(facts["fines"].sum() or 0), "万元"), border=True)
    if reader.has("credit_person"):
        persons = reader.sql("SELECT count(*) FILTER (WHERE dishonest_active) AS dishonest FROM credit_person "
                             f"WHERE {division.prefix_filter('hukou_division')}")
        cards[3].metric("失信被执行人（个人）", count(int(persons["dishonest"][0] or 0), "人"), border=True)
    measures = {"dishonest": "失信被执行人（户）", "penalties": "近12个月行政处罚（次）"}
    by_section = (facts.with_columns(pl.col("industry_section").replace_strict(sections, default="未登记行业",
                                                                               return_dtype=pl.String).alias("name"))
                  .group_by("name").agg(pl.col("dishonest", "penalties").sum()))
    children = child_of(reader, division)
    by_division = (facts.with_columns(pl.col("division").replace_strict(children, default=None,
                                                                        return_dtype=pl.String).alias("code"))
                   .group_by("code").agg(pl.col("dishonest", "penalties").sum())
                   .join(divisions(reader).select("code", "name"), on="code", how="left")
                   .with_columns(pl.col("name").fill_null("区划不详")))
    left, right = st.columns(2)
    for column, frame, by, label in ((left, by_section, "行业门类", "分行业"), (right, by_division, "区划", "分区划")):
        long = frame.unpivot(index="name", on=list(measures), variable_name="measure", value_name="n") \
            .with_columns(pl.col("measure").replace_strict(measures, return_dtype=pl.String))
        with column:
            st.altair_chart(charts.bars(long, category="name", value="n", title=f"失信被执行人和行政处罚：{label}",
                                        unit="户、次", as_of=reader.as_of, category_title=by, value_title="数量",
                                        note=division.name, colour_field="measure", colour_title="指标",
                                        grouped=True), width="stretch")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def entity_drill(reader: Reader, division: Division) -> None:
    """Search an entity in scope and show its grade, the reasons and its credit facts."""
    st.subheader("主体信用查询")
    text = (st.text_input("主体名称关键词或统一社会信用代码", key="credit_search", max_chars=40,
                          placeholder="例如：餐饮、科技、91330100…") or "").strip()
    condition = division.prefix_filter()
    if text:
        condition += f" AND (contains(entity_name, {_quote(text)}) OR uscc = {_quote(text.upper())})"
    matches = reader.sql(
        f"SELECT uscc, entity_name, grade, grade_label FROM credit_entity WHERE {condition} "
        "ORDER BY grade DESC NULLS LAST, fact_records DESC, uscc LIMIT 50")
    if matches.height == 0:
        st.info("当前范围内没有匹配的主体。")
        return
    labels = {row["uscc"]: f"{row['entity_name']}（{row['grade'] or '未评'}级 {row['grade_label'] or ''}）"
              for row in matches.iter_rows(named=True)}
    st.caption(f"匹配 {matches.height} 个主体（最多 50 个）。" if text
               else "未输入关键词时按信用等级由差到优列出前 50 个主体。")
    uscc = st.selectbox("选择主体", list(labels), format_func=labels.__getitem__, key="credit_entity_choice")
    if uscc is None:
        return
    row = reader.sql(
        f"SELECT uscc, entity_name, category, entity_type, status_name, industry_section, division, grade, "
        f"grade_label, grade_rule, grade_reasons, {', '.join(FACTS)} FROM credit_entity WHERE uscc = {_quote(uscc)}"
    ).row(0, named=True)
    left, right = st.columns([1, 2])
    with left:
        st.metric("信用等级", f"{row['grade'] or '—'}级 {row['grade_label'] or ''}", border=True)
        st.markdown(f"**{row['entity_name']}**  \n统一社会信用代码：`{row['uscc']}`  \n"
                    f"{row['category'] or ''} · {row['status_name'] or ''} · 住所区划 {row['division'] or '—'}")
        st.caption(f"评定规则：{row['grade_rule'] or '—'}")
        reasons = row["grade_reasons"] or []
        if reasons:
            st.markdown("**评定依据**\n\n" + "\n".join(f"- {reason}" for reason in reasons))
    with right:
        facts = pl.DataFrame({"事实": list(FACTS.values()), "取值": [_fact(row[column]) for column in FACTS]})
        st.dataframe(facts, hide_index=True, width="stretch", height=36 * (facts.height + 1) + 2)
    if reader.has("credit_fact"):
        fact_list(reader, uscc)
    if reader.has("e_licence"):
        # holder_key, not holder_code: a licence filed under the code with a wrong check character is
        # still the entity's (docs/e-licence.md); holder_kind keeps out a person whose ID is also this code.
        licences = reader.sql(
            "SELECT licence_type, licence_no, issuer, issued_date, valid_to, validity_name FROM e_licence "
            f"WHERE holder_kind = 'entity' AND holder_key = {_quote(uscc)} ORDER BY issued_date DESC")
        st.caption(f"电子证照 {licences.height} 张")
        if licences.height:
            st.dataframe(licences, hide_index=True, width="stretch", column_config={
                "licence_type": "证照类型", "licence_no": "证照编号", "issuer": "颁证单位",
                "issued_date": st.column_config.DateColumn("颁证日期", format="YYYY-MM-DD"),
                "valid_to": st.column_config.DateColumn("有效期至", format="YYYY-MM-DD"), "validity_name": "状态"})


def fact_list(reader: Reader, uscc: str) -> None:
    """Every credit fact of one entity, newest first: each case, penalty, licence and tax rating behind its grade."""
    facts = reader.sql(
        "SELECT fact_type_name, fact_date, end_date, current, code_name, amount_wan, authority, source_key "
        f"FROM credit_fact WHERE uscc = {_quote(uscc)} ORDER BY fact_date DESC NULLS LAST, fact_type_name, source_key")
    in_force = int(facts["current"].sum() or 0) if facts.height else 0
    st.caption(f"信用事实 {facts.height} 条，其中 {in_force} 条在数据日期有效（失信未移出、处罚在近12个月内、"
               "许可在有效期内、最近有效的纳税信用评价）。")
    if facts.height:
        st.dataframe(
            facts.with_columns(pl.col("current").replace_strict({True: "有效", False: "已失效"}, default="—",
                                                                return_dtype=pl.String)),
            hide_index=True, width="stretch", height=min(35 * (facts.height + 1) + 3, 420),
            column_config={
                "fact_type_name": "事实类型",
                "fact_date": st.column_config.DateColumn("日期", format="YYYY-MM-DD"),
                "end_date": st.column_config.DateColumn("截止或移出日期", format="YYYY-MM-DD"),
                "current": "数据日期是否有效", "code_name": "类别或等级",
                "amount_wan": st.column_config.NumberColumn("罚款（万元）", format="%.2f"),
                "authority": "决定机关或法院", "source_key": "案号、文号或评价年度"})


def _fact(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def credit() -> None:
    reader, division = context()
    header("信用", "信用等级分布，失信被执行人和行政处罚的行业、区划分布，单个主体的信用信息", reader, division)
    if reader.has("credit_grades"):
        distribution(reader, division)
    else:
        not_granted("credit_grades")
    st.subheader("失信被执行人和行政处罚")
    if reader.has("credit_by_industry", "geo_division"):
        dishonest_and_penalties(reader, division)
    else:
        not_granted("credit_by_industry")
    if reader.has("credit_entity"):
        entity_drill(reader, division)
    else:
        st.subheader("主体信用查询")
        not_granted("credit_entity")


if __name__ == "__main__":
    credit()
