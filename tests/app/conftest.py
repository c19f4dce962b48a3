"""Fixtures for the dashboard tests: the app's entry point, and rendering its pages headless with AppTest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from govlake.home import Home

APP_MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"
#: page file (relative to app/) -> the page's title.
PAGES: dict[str, str] = {
    "pages/cockpit.py": "总览",
    "pages/population.py": "人口",
    "pages/entities.py": "法人",
    "pages/credit.py": "信用",
    "pages/geo.py": "空间",
    "pages/governance.py": "数据治理",
}


@dataclass
class PageView:
    """What one page showed in one AppTest run, kept after the AppTest moves on to the next page."""

    page: str
    titles: list[str]
    exceptions: list[str]
    errors: list[str]
    infos: list[str]
    metrics: dict[str, str]
    frames: list[Any]  # pandas DataFrames of every st.dataframe
    charts: list[dict[str, Any]]  # Vega-Lite specs (inline data included)
    captions: list[str] = field(default_factory=list)
    sidebar: list[str] = field(default_factory=list)

    def strings(self) -> Iterator[tuple[str, str]]:
        """Every text cell of every table on the page, with its column."""
        for frame in self.frames:
            for column in frame.columns:
                for value in frame[column].tolist():
                    if isinstance(value, str):
                        yield str(column), value

    def column(self, name: str, *, beside: str | None = None) -> list[Any]:
        """Every value of the columns called ``name`` across the page's tables (with a ``beside`` column)."""
        return [value for frame in self.frames if name in frame.columns and (beside is None or beside in frame.columns)
                for value in frame[name].tolist()]

    def chart_rows(self) -> Iterator[dict[str, Any]]:
        """Every inline data row of every chart on the page."""
        for spec in self.charts:
            for rows in (spec.get("datasets") or {}).values():
                yield from rows
            data = spec.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                yield from data["values"]
            for layer in spec.get("layer", []):
                layer_data = layer.get("data")
                if isinstance(layer_data, dict) and isinstance(layer_data.get("values"), list):
                    yield from layer_data["values"]


def capture(at: Any, page: str) -> PageView:
    """The page's elements from an AppTest that has just run it."""
    charts = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        for dataset in element.proto.datasets:
            import pyarrow as pa

            reader = pa.ipc.open_stream(dataset.data.data)
            spec.setdefault("datasets", {})[dataset.name] = reader.read_all().to_pylist()
        charts.append(spec)
    return PageView(
        page=page,
        titles=[title.value for title in at.title],
        exceptions=[str(exc.value) for exc in at.exception],
        errors=[str(error.value) for error in at.error],
        infos=[str(info.value) for info in at.info],
        metrics={metric.label: metric.value for metric in at.metric},
        frames=[frame.value for frame in at.dataframe],
        charts=charts,
        captions=[str(caption.value) for caption in at.main.get("caption")],
        sidebar=[str(node.value) for kind in ("markdown", "caption") for node in at.sidebar.get(kind)],
    )


@contextmanager
def home_for_the_app(home: Home) -> Iterator[Home]:
    """``GOVLAKE_HOME`` points at ``home`` (the app reads it) until the block ends."""
    previous = os.environ.get("GOVLAKE_HOME")
    os.environ["GOVLAKE_HOME"] = str(home.root)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop("GOVLAKE_HOME", None)
        else:
            os.environ["GOVLAKE_HOME"] = previous


@pytest.fixture(scope="module")
def app_home(built_home: Home) -> Iterator[Home]:
    """``GOVLAKE_HOME`` points at the shared demo home while the module's tests run."""
    with home_for_the_app(built_home) as home:
        yield home


def render(user: str, pages: list[str] | None = None, *, state: dict[str, Any] | None = None) -> dict[str, PageView]:
    """Sign ``user`` in (through session state, as the sign-in form does) and render ``pages`` in turn."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_MAIN), default_timeout=120)
    at.session_state["signed_in_user"] = user
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    views = {"pages/cockpit.py": capture(at, "pages/cockpit.py")}
    for page in pages if pages is not None else list(PAGES)[1:]:
        at.switch_page(page).run()
        views[page] = capture(at, page)
    return views
