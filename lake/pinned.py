"""The versions readers pin: the outputs of the newest row of the build manifest (``system.builds``).

A build writes its tables one after another and records their versions together, last, in
the manifest (transforms/manifest.py). Governed sessions and extracts read the tables at
these versions (views/session.py ``table_locations``), so they never see a half-built
library; ``govlake vacuum`` keeps these versions' files whatever the retention; ``govlake
doctor`` compares them with the tables' newest commits to spot a build that did not finish.
"""

from __future__ import annotations

import json
import os
import re

from govlake.home import Home
from lake.system import BUILDS

_COMMIT = re.compile(r"^(\d{20})\.json$")
#: (manifest path, its Delta version) -> outputs of the newest row; the manifest only grows
_CACHE: dict[tuple[str, int], dict[str, int]] = {}


def newest_commit(path: os.PathLike[str] | str) -> int | None:
    """The newest commit in a table's ``_delta_log`` (a directory listing: cheap enough for every connect)."""
    try:
        names = os.listdir(os.path.join(path, "_delta_log"))
    except OSError:
        return None
    versions = [int(m.group(1)) for m in map(_COMMIT.match, names) if m]
    return max(versions) if versions else None


def pinned_versions(home: Home) -> dict[str, int]:
    """``zone.table`` -> the version the latest build recorded ({} before the first build finishes)."""
    path = home.table_path("system", BUILDS.name)
    version = newest_commit(path)
    if version is None:
        return {}
    key = (str(path), version)
    if key not in _CACHE:
        from lake import delta

        rows = delta.read(path, version=version, columns=["build_id", "outputs"]).sort("build_id")
        _CACHE[key] = {str(k): int(v) for k, v in json.loads(rows["outputs"][-1]).items()} if rows.height else {}
    return dict(_CACHE[key])
