"""开放数据 (open-data portal): the published open datasets, their metadata and downloads. No sign-in.

This is the one page the dashboards show without sign-in, so it reads nothing but the open
area (``<home>/open_data``, written by ``govlake opendata publish``): files already published
to the public, suppressed aggregates only (lake/opendata.py). It opens no governed session and
no lake table, and shows the catalog's open grade of every dataset so the public can see what
is open, open on request, or not open, and why.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from app.data import home
from app.format import chinese_date

KINDS = {"csv": ("CSV（Excel 可直接打开）", "text/csv"), "parquet": ("Parquet", "application/octet-stream"),
         "dictionary": ("数据字典（CSV）", "text/csv"), "metadata": ("元数据（JSON）", "application/json")}


def grades() -> None:
    """The catalog's open grade of every dataset (分级开放目录)."""
    from lake.catalog import load_catalog
    from lake.catalog.model import OPEN_LABELS
    from lake.opendata import decide

    datasets = sorted(load_catalog().datasets.values(), key=lambda d: d.code)
    st.dataframe(pl.DataFrame({
        "信息资源代码": [d.code for d in datasets], "名称": [d.name for d in datasets],
        "提供部门": [d.provider.name for d in datasets], "开放属性": [OPEN_LABELS[d.open.type] for d in datasets],
        "说明": [d.open.conditions or ("依申请，通过数据共享获取" if d.open.type == "conditional" else
                                     "不向社会开放" if d.open.type == "none" else "—") for d in datasets],
    }), hide_index=True, width="stretch")
    st.caption("无条件开放的数据以汇总统计或依法公示的记录的形式发布在本页；有条件开放的数据须申请；不予开放的数据不发布。"
               f"判断依据见各数据集的目录开放属性（例：{decide(datasets[0]).reason}）。")


def portal() -> None:
    from lake.opendata import OpenAreaError, published

    st.title("开放数据")
    st.caption("按数据目录的开放属性分级开放：无条件开放的数据发布为汇总统计（不含个人信息，"
               "不足 10 的单元格不予公开）或依法公示的记录（双公示、失信被执行人名单，"
               "自然人的姓名和公民身份号码脱敏），可直接下载 CSV 和 Parquet 文件及数据字典。")
    try:
        releases = published(home())
    except OpenAreaError as error:
        st.error(f"开放数据区有文件损坏：{error}")
        releases = []
    if not releases:
        st.info("开放数据区还没有发布的数据集。管理员运行 `govlake opendata publish` 后将在此列出。")
    for release in releases:
        meta = release.meta
        with st.container(border=True):
            st.subheader(meta.title)
            st.caption(meta.description)
            cards = st.columns(4)
            cards[0].metric("数据日期", chinese_date(_date(meta.as_of)) if meta.as_of else "—")
            cards[1].metric("记录数", f"{release.rows:,} 行")
            cards[2].metric("版本", f"第 {release.version} 版")
            cards[3].metric("发布时间", f"{release.published_at:%Y-%m-%d}")
            st.markdown("**来源数据集**：" + "；".join(f"{d.name}（{d.code}，{d.provider}）" for d in meta.datasets))
            st.markdown(f"**公开规则**：{meta.suppression}")
            st.markdown(f"**许可**：{meta.licence}")
            with st.expander("数据字典与预览"):
                st.dataframe(pl.DataFrame({
                    "列名": [e.column for e in release.dictionary], "中文名称": [e.name for e in release.dictionary],
                    "数据元": [e.element or "—" for e in release.dictionary],
                    "说明": [e.description for e in release.dictionary]}), hide_index=True, width="stretch")
                st.dataframe(pl.read_csv(release.file("csv"), infer_schema=False, n_rows=20), hide_index=True,
                             width="stretch")
            buttons = st.columns(len(KINDS))
            for column, (kind, (label, mime)) in zip(buttons, KINDS.items(), strict=True):
                path = release.file(kind)
                column.download_button(label, data=path.read_bytes(), file_name=path.name, mime=mime,
                                       key=f"download_{meta.release}_{kind}", icon=":material/download:")
    st.subheader("数据集开放属性")
    grades()


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


if __name__ == "__main__":
    portal()
