"""A bad environment fails with a clear message before anything is written.

Each case runs the real CLI in its own process on a real environment:

- a home on a read-only filesystem: a read-only bind mount in a private mount namespace
  (``unshare -m``, as root), or, for a non-root user, a home without write permission;
- a missing extension package: an interpreter whose ``sys.path`` holds the installed
  packages except ``duckdb-extension-delta`` (a copy of site-packages made of symlinks);
- a wrong duckdb version: the same, with duckdb's package metadata saying 1.4.4. Another
  duckdb release cannot be installed on this offline machine, so only its metadata is
  swapped (the installed module itself is unchanged): a fault that cannot be produced for
  real here, produced as close to real as it can be;
- a home written by a newer GovLake (format version 99 in ``govlake.toml``).

"Before anything is written": the home's file tree (names, sizes, modification times) is the
same after the command, or, for a home that did not exist, it still does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from govlake.home import Home
from tests.conftest import copy_home
from tests.faults import harness


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("environment") / "home"
    copy_home(built_home.root, root, "cache", "spool", "exports")
    return root


def _clear_failure(done: subprocess.CompletedProcess[str] | harness.Run, *words: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: "), done.stderr
    for word in words:
        assert word in line, line


def test_the_overlay_itself_works(tmp_path: Path) -> None:
    """The control: the full overlay runs GovLake, so the failures below come from what was removed."""
    done = harness.govlake_in(harness.site_overlay(tmp_path / "site"), "--home", str(tmp_path / "home"), "tables")
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_missing_extension_package_is_named_before_the_home_is_created(tmp_path: Path) -> None:
    overlay = harness.site_overlay(tmp_path / "site", without=("duckdb_extension_delta",))
    target = tmp_path / "new-home"
    for command in (["ingest", str(tmp_path)], ["build"], ["tables"]):
        done = harness.govlake_in(overlay, "--home", str(target), *command)
        _clear_failure(done, "the DuckDB delta extension is missing", "duckdb-extension-delta==1.5.5")
        assert not target.exists()


def test_a_missing_extension_package_changes_nothing_in_a_home(home: Path, tmp_path: Path) -> None:
    overlay = harness.site_overlay(tmp_path / "site", without=("duckdb_extension_spatial",))
    before = _tree(home)
    done = harness.govlake_in(overlay, "--home", str(home), "build", "--full")
    _clear_failure(done, "the DuckDB spatial extension is missing")
    assert _tree(home) == before


def test_a_wrong_duckdb_version_is_refused_before_any_write(home: Path, tmp_path: Path) -> None:
    overlay = harness.site_overlay(tmp_path / "site", duckdb_version="1.4.4")
    before = _tree(home)
    for command in (["build", "--full"], ["ingest", str(tmp_path)], ["sql", "--user", "hz_analyst", "SELECT 1"]):
        done = harness.govlake_in(overlay, "--home", str(home), *command)
        _clear_failure(done, "duckdb 1.4.4 is installed but GovLake needs duckdb==1.5.5", "pip install duckdb==1.5.5")
    assert _tree(home) == before


def test_a_home_from_a_newer_govlake_is_refused_before_any_write(home: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    copy_home(home, newer)
    (newer / "govlake.toml").write_text("format_version = 99\n")
    before = _tree(newer)
    for command in (["ingest", str(tmp_path)], ["build", "--full"], ["tables"], ["publish", "--user", "hz_analyst"],
                    ["sql", "--user", "hz_analyst", "SELECT count(*) FROM population"], ["vacuum", "--apply"],
                    ["restore", "base.population", "--version", "0"]):
        done = harness.run(newer, command)
        _clear_failure(done, "was written by a newer GovLake (format 99", "upgrade GovLake")
    assert _tree(newer) == before


def _read_only_runner(home: Path) -> list[str] | None:
    """A command prefix that runs with ``home`` read-only for real, or None when this machine allows neither way."""
    if os.geteuid() != 0:
        return []  # chmod below makes it read-only for this user
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run([unshare, "-m", "sh", "-c", f"mount --bind '{home}' '{home}' && "
                            f"mount -o remount,ro,bind '{home}' && ! touch '{home}/probe'"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    return [unshare, "-m", "sh", "-c", f"mount --bind '{home}' '{home}' && mount -o remount,ro,bind '{home}' && "
            'exec "$0" "$@"']


def test_a_read_only_home_is_refused_before_any_write(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "readonly"
    copy_home(home, target)
    prefix = _read_only_runner(target)
    if prefix is None:
        pytest.skip("cannot make a read-only filesystem here (root without mount namespaces)")
    if not prefix:
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    before = _tree(target)
    for command in (["ingest", str(tmp_path)], ["build", "--full"], ["vacuum", "--apply"]):
        done = subprocess.run([*prefix, str(harness.GOVLAKE), "--home", str(target), *command],
                              capture_output=True, text=True)
        _clear_failure(done, f"home {target} is not writable", "choose a writable directory")
    assert _tree(target) == before
