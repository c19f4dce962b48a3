"""End to end: the real ``govlake app`` server on a copy of the demo home, driven by Chromium (Playwright).

Signs in, opens every page, waits until Streamlit has finished running (its status widget is gone),
and checks that no exception box is shown, that the key figures are there and that Chinese text
renders. A screenshot of each page goes to ``test-output/screenshots/``; with
``GOVLAKE_UPDATE_DOC_SCREENSHOTS=1`` they are also copied to ``docs/screenshots/`` for docs/dashboards.md.

Playwright cannot download its own browser offline, so Debian's Chromium (``make browser``) is used.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govlake.home import Home

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO / "test-output" / "screenshots"
DOC_SCREENSHOTS = REPO / "docs" / "screenshots"
PASSWORD = "govlake-demo"
WIDTH = 1440


@dataclass(frozen=True)
class Page:
    """A page to open from the navigation: its title, the figures that must show, and its screenshot name."""

    title: str
    figures: tuple[str, ...]
    screenshot: str


PAGES: tuple[Page, ...] = (
    Page("总览", ("户籍人口（在世）", "存续市场主体", "信用差（D级）单位占比", "当日归集数据集"), "cockpit"),
    Page("人口", ("户籍人口（在世）", "60岁及以上占比", "人户分离：常住人口与户籍人口之差"), "population"),
    Page("法人", ("存续市场主体", "近12个月成立登记", "主体分布地图"), "entities"),
    Page("信用", ("参评单位", "D级（差）", "失信被执行人和行政处罚"), "credit"),
    Page("空间", ("区划面积（平方公里）", "登记宗地", "地图指标"), "geo"),
    Page("数据治理", ("已归集数据集", "隔离行数", "归集通报"), "governance"),
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``govlake app --headless`` on a copy of the demo home; stopped (with its Streamlit child) afterwards."""
    if not CHROMIUM.exists():
        # `make test` installs it, so in CI a missing browser is a failure, not a skip.
        message = "Debian's Chromium is not installed (make browser)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("e2e") / "home"
    shutil.copytree(built_home.root, root, ignore=shutil.ignore_patterns("cache", "duckdb_extensions", "exports"))
    (root / "duckdb_extensions").symlink_to(built_home.extensions)  # large, and only read
    port = _free_port()
    log = (tmp_path_factory.mktemp("e2e-log") / "server.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("govlake")), "--home", str(root), "app", "--headless", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO,
    )
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"govlake app exited with {process.returncode}: {Path(log.name).read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the Streamlit server did not become healthy within 60 s")
        assert f"GovLake 看板: {url}" in Path(log.name).read_text(encoding="utf-8")
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # govlake app and its Streamlit child
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def settled(page: Any) -> None:
    """Wait until Streamlit has finished running: the status widget is gone, and stays gone, and charts are drawn."""
    for _ in range(2):
        page.wait_for_timeout(250)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    # Elements whose code is still loading show a skeleton, and a chart not yet mounted is not a chart yet.
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stSkeleton\"]') && "
        "Array.from(document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]'))"
        ".every(chart => chart.querySelector('svg, canvas'))", timeout=30_000)


def sign_in(page: Any, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_text("用户", exact=True).wait_for(timeout=30_000)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.locator('[role="option"]', has_text=f"（{user}）").click()
    page.locator('input[type="password"]').fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator("h1", has_text="总览").wait_for(timeout=30_000)
    settled(page)


def open_page(page: Any, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.locator("h1", has_text=title).wait_for(timeout=30_000)
    settled(page)


def screenshot(page: Any, name: str) -> Path:
    """The whole page: the viewport is stretched to the height of Streamlit's scrolling main area."""
    height = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    page.set_viewport_size({"width": WIDTH, "height": max(900, min(int(height), 6000))})
    page.wait_for_timeout(600)  # charts re-lay out to the new size
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": 900})
    if os.environ.get("GOVLAKE_UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / path.name)
    return path


def no_exception(page: Any) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


def test_leader_signs_in_and_reads_every_page(browser: Any, server: str) -> None:
    page = browser.new_page(viewport={"width": WIDTH, "height": 900}, locale="zh-CN")
    page.goto(server)
    page.get_by_text("用户", exact=True).wait_for(timeout=30_000)
    screenshot(page, "signin")
    sign_in(page, server, "national_leader")
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "national_leader" in sidebar and "数据范围：全国" in sidebar and "数据日期：" in sidebar
    # Chinese text renders with a CJK font, not as empty boxes.
    assert page.evaluate("() => document.fonts.check('16px \"Noto Sans CJK SC\"', '政务大数据')")
    for spec in PAGES:
        open_page(page, spec.title)
        no_exception(page)
        main = page.locator('[data-testid="stMain"]').inner_text()
        for figure in spec.figures:
            assert figure in main, (spec.title, figure)
        assert "数据日期：" in main and re.search(r"\d", main)
        assert page.locator('[data-testid="stMetricValue"]').count() > 0 or spec.title == "数据治理"
        screenshot(page, spec.screenshot)
    cockpit_population = _figure(page, "总览", "户籍人口（在世）")
    assert re.fullmatch(r"[\d,.]+(万|亿)?人", cockpit_population)
    page.close()


def test_hangzhou_analyst_sees_hangzhou_masked(browser: Any, server: str) -> None:
    page = browser.new_page(viewport={"width": WIDTH, "height": 900}, locale="zh-CN")
    sign_in(page, server, "hz_analyst")
    assert "数据范围：杭州市" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert _figure(page, "总览", "当日归集数据集") == "无权查看"
    open_page(page, "人口")
    no_exception(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "范围：杭州市（地级）" in main
    screenshot(page, "population-hz_analyst")
    open_page(page, "信用")  # the entity look-up lists the chosen entity's credit facts
    no_exception(page)
    assert "信用事实" in page.locator('[data-testid="stMain"]').inner_text()
    screenshot(page, "credit-hz_analyst")
    page.close()


def test_clicking_the_map_drills_down(browser: Any, server: str) -> None:
    page = browser.new_page(viewport={"width": WIDTH, "height": 900}, locale="zh-CN")
    sign_in(page, server, "national_leader")
    open_page(page, "人口")
    assert "当前范围：全国" in page.locator('[data-testid="stSidebar"]').inner_text()
    shapes = page.locator('[data-testid="stVegaLiteChart"]').nth(1).locator("g.mark-shape path")
    box = shapes.nth(shapes.count() // 2).bounding_box()  # a province in the middle of the list
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSidebar\"]').innerText"
                           ".includes('当前范围：全国')", timeout=30_000)
    settled(page)
    no_exception(page)
    scope = page.locator('[data-testid="stSidebar"]').inner_text()
    assert re.search(r"当前范围：\S+（省级）", scope), scope
    open_page(page, "空间")  # the drill holds across pages; a province's map draws its land parcels
    no_exception(page)
    assert "宗地界址" in page.locator('[data-testid="stMain"]').inner_text()
    screenshot(page, "geo-province")
    page.close()


def _figure(page: Any, title: str, label: str) -> str:
    """The value of the metric card ``label`` on page ``title``."""
    open_page(page, title)
    card = page.locator('[data-testid="stMetric"]', has_text=label).first
    return str(card.locator('[data-testid="stMetricValue"]').inner_text()).strip()
