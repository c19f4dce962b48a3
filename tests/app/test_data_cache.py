"""The dashboards' result cache follows what a user may see, not only the build.

A grant, its revocation or an objection changes a user's answers without a new build. The
cache key of :class:`app.data.Reader` carries the session's access stamp, so a revoked
grant's cached answer is never served again (real grants, real governed sessions).
"""

from __future__ import annotations

import pytest

from app.data import LakeVersion, Reader
from govlake.errors import PolicyDenied
from govlake.home import Home
from lake import sharing
from tests.conftest import copy_home
from transforms.manifest import latest


@pytest.fixture()
def home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("data-cache") / "home"
    copy_home(built_home.root, root, "cache", "duckdb_extensions", "exports", "spool", "sharing")
    return Home(root)


def test_a_revoked_grant_is_not_served_from_the_cache(home: Home) -> None:
    manifest = latest(home)
    assert manifest is not None
    reader = Reader("hz_analyst", LakeVersion(str(home.root), manifest.build_id, manifest.as_of))
    before = reader.key
    assert not reader.has("shared_legal_entity")
    made = sharing.request(home, user="hz_analyst", target="legal_entity", columns=["division", "uscc"],
                           purpose="市场主体统计分析（测试）", legal_basis="《优化营商环境条例》第十条（测试）",
                           period_days=30)
    granted = reader.key
    assert granted != before and reader.has("shared_legal_entity")
    rows = reader.sql("SELECT count(*) AS n FROM shared_legal_entity")["n"][0]
    assert rows > 0
    assert made.grant_id is not None
    sharing.revoke(home, user="hz_analyst", grant_id=made.grant_id, reason="统计已完成")
    assert reader.key not in (granted,)
    assert not reader.has("shared_legal_entity")
    with pytest.raises(PolicyDenied):  # asked again: refused, not answered from the cache
        reader.sql("SELECT count(*) AS n FROM shared_legal_entity")
