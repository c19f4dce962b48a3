"""``govlake bench app`` measures for real: one trial (a fresh server and Chromium) on a copy of the demo home.

The figures themselves are recorded in docs/benchmarks.md, not asserted here; this holds that a
trial signs in, reaches every page of the navigation, sees each one fully rendered without an
exception box, and attributes the governed queries of each load from the audit trail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govlake.home import Home

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_one_trial_loads_every_page_cold_then_warm(built_home: Home, tmp_path: Path) -> None:
    from govlake.bench import app as bench

    if not bench.CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (make browser)")
    home = tmp_path / "home"
    shutil.copytree(built_home.root, home, ignore=shutil.ignore_patterns("cache", "duckdb_extensions", "exports"))
    (home / "duckdb_extensions").symlink_to(built_home.extensions)
    result = bench.trial(home, "hz_analyst", warm_passes=1)
    titles = bench.pages()
    loads = result["loads"]
    assert [load["page"] for load in loads] == titles + titles
    assert [load["kind"] for load in loads] == ["cold"] * len(titles) + ["warm"] * len(titles)
    assert all(load["exceptions"] == 0 and 0 < load["seconds"] < bench.PAGE_TIMEOUT_S for load in loads)
    cold, warm = loads[: len(titles)], loads[len(titles):]
    assert cold[0]["queries"] > 3, "signing in lands on 总览, whose queries the audit trail attributes to it"
    assert all(load["queries"] == 0 for load in warm), "a warm load is answered from the caches"
    assert result["signin_seconds"] > 0 and result["server_rss_bytes_max"] > 0
