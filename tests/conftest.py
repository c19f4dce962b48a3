"""Fixtures shared across the test tree.

- ``built_home``: one small, fully built demo home per test session (read-only for tests).
- ``rebuilt_home``: a copy of it built a second time, by a separate ``govlake build`` process.
- ``demo_home_100k``: the 100,000-person demo the issue's figures are held at; built at most once
  per session, and only when a (slow-marked) test asks for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from govlake.home import Home

#: Persons in the shared demo home: enough for every base library and topic mart to have rows.
DEMO_PERSONS = 5_000
DEMO_SEED = 7
#: The `govlake demo` defaults: the demo the issue's score figures are stated for.
DEMO_100K_PERSONS = 100_000
DEMO_100K_SEED = 42


def link_extensions(source: str, target: str) -> object:
    """``copytree(..., copy_function=link_extensions)`` for a home: hard-links the DuckDB extension
    binaries (190 MB a home, never modified in place) and copies everything else.

    Hundreds of test homes would otherwise fill the disk (CI failed once with ENOSPC). Delta
    files are copied, never linked, so a test that rewrites or corrupts a file cannot reach the
    home it was copied from.
    """
    if "duckdb_extensions" in Path(source).parts:
        try:
            os.link(source, target)
            return target
        except OSError:
            pass
    return shutil.copy2(source, target)


def copy_home(source: Path, target: Path, *skip: str) -> None:
    """Copy a home for a test that changes it, leaving out the folders named in ``skip``
    (extension binaries hard-linked, see :func:`link_extensions`)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*skip) if skip else None,
                    copy_function=link_extensions)


def make_demo_home(root: Path, *, persons: int, seed: int) -> Home:
    """Generate department files, ingest them and build every table (the demo pipeline plus build)."""
    from govlake.generate import generate
    from lake.ingest import ingest
    from transforms.build import build

    home = Home(root).ensure()
    generate(home.exports, persons=persons, seed=seed)
    ingest(home, [home.exports])
    build(home)
    return home


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home with generated department files ingested and every table built (read-only for tests:
    do not modify its tables; governed sessions append audit entries to it)."""
    return make_demo_home(tmp_path_factory.mktemp("demo") / "home", persons=DEMO_PERSONS, seed=DEMO_SEED)


@dataclass(frozen=True)
class Rebuilt:
    """A home built twice from the same raw data, and what its first build left behind."""

    home: Home
    #: zone.table -> Delta version after the first build
    first_versions: dict[str, int]
    #: zone.table -> the rows of the first build, read before the second build ran
    first_rows: dict[str, pl.DataFrame]
    #: zone.table -> the rows of the second build
    second_rows: dict[str, pl.DataFrame]


def built_tables(home: Home) -> list[str]:
    """zone.table of every base and topic table present in the home."""
    from lake import delta

    return [f"{zone}.{path.name}" for zone in ("base", "topic")
            for path in sorted(home.zone(zone).iterdir()) if delta.is_table(path)]


def read_all(home: Home) -> dict[str, pl.DataFrame]:
    from lake import delta

    return {name: delta.read(home.table_path(*name.split(".", 1))) for name in built_tables(home)}


@pytest.fixture(scope="session")
def rebuilt_home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Rebuilt:
    """A copy of ``built_home`` built once more by a real ``govlake build`` process.

    The second build runs in another interpreter on purpose: it has its own string-hash seed
    and thread scheduling, so an output that depends on set or dict iteration order, or on
    the order threads finish, shows up as a difference. The copy leaves ``built_home`` at its
    first version for the other tests. Session caches and DuckDB extensions are not copied, so
    the copy's ``duckdb_extensions/`` holds what a build alone installs there.
    """
    from lake import delta

    # Named like the default home, so docs/notebooks.md runs unchanged from the folder above it.
    root = tmp_path_factory.mktemp("rebuilt") / "govlake_home"
    shutil.copytree(built_home.root, root, ignore=shutil.ignore_patterns("cache", "duckdb_extensions"))
    home = Home(root)
    first_versions = {name: int(delta.version(home.table_path(*name.split(".", 1))))
                      for name in built_tables(home)}
    first_rows = read_all(home)
    govlake_bin = Path(sys.executable).with_name("govlake")
    done = subprocess.run([str(govlake_bin), "--home", str(root), "build", "--full"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return Rebuilt(home, first_versions, first_rows, read_all(home))


@pytest.fixture(scope="session")
def demo_home_100k(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """The 100,000-person demo (seed 42), generated, ingested and built once per session.

    About 30–60 s on two cores. Only tests marked ``slow`` may ask for it; share it rather
    than building another.
    """
    return make_demo_home(tmp_path_factory.mktemp("demo100k") / "home",
                          persons=DEMO_100K_PERSONS, seed=DEMO_100K_SEED)
