"""The division the dashboards show, chosen in the sidebar: province → city → county, within the user's scope.

The drill starts at the user's scope: the whole country for ``national_leader``, 浙江省 for
``zj_leader``, 杭州市 for ``hz_analyst``. Each level is a select box listing the children of the
division above it (from the governed ``geo_division`` view, so a user can only ever pick
inside their scope). Maps can drill too: clicking a division calls :func:`drill_to`.

Pages read the choice with :func:`selected` and filter the topic marts with
:meth:`Division.total_filter` (the division's own rolled-up rows) and
:meth:`Division.children_filter` (one row per child, for maps and rankings).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import streamlit as st

from app.data import Reader, literal
from app.format import LEVEL_LABELS

#: Session-state keys of the three select boxes, one per drill depth.
LEVEL_KEYS: tuple[str, ...] = ("drill_1", "drill_2", "drill_3")
#: The select boxes' "no choice" option: stay at the division above.
ALL = ""


@dataclass(frozen=True)
class Division:
    """A division to show: ``code`` None means the whole country."""

    code: str | None
    name: str
    level: int  # 0 national, 1 province, 2 city, 3 county

    def total_filter(self) -> str:
        """SQL condition for this division's own rows in a rolled-up mart."""
        return "division_level = 1" if self.code is None else f"division = {literal(self.code)}"

    def children_filter(self) -> str:
        """SQL condition for the rows of this division's children in a rolled-up mart."""
        if self.code is None:
            return "division_level = 1 AND division IS NOT NULL"
        return f"parent = {literal(self.code)}"

    def prefix_filter(self, column: str = "division") -> str:
        """SQL condition on a detail view's division column: within this division."""
        if self.code is None:
            return "TRUE"
        prefix = self.code[:2] if self.level == 1 else self.code[:4] if self.level == 2 else self.code
        return f"starts_with({column}, '{prefix}')"

    @property
    def label(self) -> str:
        return self.name if self.level == 0 else f"{self.name}（{LEVEL_LABELS.get(self.level, '')}）"


NATIONAL = Division(None, "全国", 0)


def divisions(reader: Reader) -> pl.DataFrame:
    """Every division the user may see: code, name, level, parent (no boundaries; cheap)."""
    return reader.sql("SELECT code, name, level, parent, is_leaf FROM geo_division ORDER BY code")


def scope_root(reader: Reader) -> Division:
    """The widest division the user sees: the country, or the top division of their scope."""
    from policies import load_policies

    prefix = load_policies().user(reader.user).scope.division_prefix
    if not prefix:
        return NATIONAL
    code = prefix.ljust(6, "0")
    rows = divisions(reader).filter(pl.col("code") == code) if reader.has("geo_division") else pl.DataFrame()
    name = str(rows["name"][0]) if rows.height else code
    level = int(rows["level"][0]) if rows.height else {2: 1, 4: 2, 6: 3}[len(prefix)]
    return Division(code, name, level)


def children(reader: Reader, parent: Division) -> pl.DataFrame:
    """The divisions directly under ``parent`` (provinces under the country), by code."""
    table = divisions(reader)
    if parent.code is None:
        return table.filter(pl.col("level") == 1)
    return table.filter(pl.col("parent") == parent.code)


def drill(reader: Reader) -> Division:
    """Render the sidebar select boxes and return the chosen division."""
    if not reader.has("geo_division"):
        return scope_root(reader)
    current = scope_root(reader)
    shown = st.empty()  # filled once the choice is known
    for depth, key in enumerate(LEVEL_KEYS):
        if current.level >= 3:
            break
        options = children(reader, current)
        if options.height == 0:
            break
        names = dict(zip(options["code"].to_list(), options["name"].to_list(), strict=True))
        codes = [ALL, *names]
        if st.session_state.get(key) not in codes:
            st.session_state[key] = ALL
        level_name = LEVEL_LABELS.get(int(options["level"].cast(pl.Int64).min() or 1), "下级")  # type: ignore[arg-type]
        labels = {ALL: f"（{current.name}全部）", **names}
        choice = st.selectbox(f"{level_name}区划", codes, key=key, format_func=labels.__getitem__,
                              on_change=_reset_below, args=(depth,))
        if choice == ALL:
            break
        row = options.filter(pl.col("code") == choice).row(0, named=True)
        current = Division(choice, str(row["name"]), int(row["level"]))
    shown.caption(f"当前范围：{current.label}")
    return current


def selected(reader: Reader) -> Division:
    """The division chosen in the sidebar, without rendering anything."""
    current = scope_root(reader)
    if not reader.has("geo_division"):
        return current
    for key in LEVEL_KEYS:
        code = st.session_state.get(key, ALL)
        if not code:
            break
        rows = children(reader, current).filter(pl.col("code") == code)
        if rows.height == 0:
            break
        current = Division(code, str(rows["name"][0]), int(rows["level"][0]))
    return current


def drill_to(reader: Reader, code: str) -> None:
    """Make ``code`` the chosen division (a click on a map), if it is in the user's scope."""
    root = scope_root(reader)
    path: list[str] = []
    table = divisions(reader)
    parents = dict(zip(table["code"].to_list(), table["parent"].to_list(), strict=True))
    cursor: str | None = code
    while cursor is not None and cursor != root.code and cursor in parents:
        path.append(cursor)
        cursor = parents[cursor]
    if cursor != root.code:
        return  # not under the user's root: ignore the click
    path.reverse()
    for depth, key in enumerate(LEVEL_KEYS):
        st.session_state[key] = path[depth] if depth < len(path) else ALL


def _reset_below(depth: int) -> None:
    for key in LEVEL_KEYS[depth + 1:]:
        st.session_state[key] = ALL
