"""The only place that finds and loads DuckDB extensions.

DuckDB cannot download extensions on an air-gapped government intranet (nor here), so
GovLake takes the signed binaries from the PyPI packages ``duckdb-extension-<name>``.
Each package ships ``extensions/v<duckdb version>/<name>.duckdb_extension``; the binary
only loads into exactly that duckdb release, so a mismatch fails here with the package
to pin instead of deep inside DuckDB.

With a home, extensions are ``INSTALL``-ed into ``<home>/duckdb_extensions`` so that a
stock DuckDB pointed at that directory (``SET extension_directory=...``) can autoload
them offline too (docs/notebooks.md).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import EnvironmentProblem

if TYPE_CHECKING:
    import duckdb

#: The duckdb release GovLake is tested with; pyproject pins the same.
DUCKDB_VERSION = "1.5.5"
#: extension name -> the PyPI distribution that ships its binary
EXTENSION_PACKAGES: dict[str, str] = {
    "delta": "duckdb-extension-delta",
    "spatial": "duckdb-extension-spatial",
    "sqlite_scanner": "duckdb-extension-sqlite-scanner",
}


def duckdb_version() -> str:
    import duckdb

    return str(duckdb.__version__)


def check_duckdb_version() -> None:
    """Fail clearly when the installed duckdb is not the tested release."""
    found = duckdb_version()
    if found != DUCKDB_VERSION:
        raise EnvironmentProblem(
            f"duckdb {found} is installed but GovLake needs duckdb=={DUCKDB_VERSION} (its extension "
            f"binaries are signed for that release); run `pip install duckdb=={DUCKDB_VERSION}`"
        )


def check_environment() -> None:
    """Before a command writes anything: the installed duckdb is the tested release and every
    extension package is installed for it. Reads package metadata only (imports nothing heavy),
    so each command can afford it; a mismatch found later, half-way through a build, would
    leave work to redo.
    """
    from importlib import metadata

    try:
        found = metadata.version("duckdb")
    except metadata.PackageNotFoundError:
        raise EnvironmentProblem(f"duckdb is not installed; run `pip install duckdb=={DUCKDB_VERSION}` "
                                 "(make install does this)") from None
    if found != DUCKDB_VERSION:
        raise EnvironmentProblem(
            f"duckdb {found} is installed but GovLake needs duckdb=={DUCKDB_VERSION} (its extension "
            f"binaries are signed for that release); run `pip install duckdb=={DUCKDB_VERSION}`"
        )
    for name, package in EXTENSION_PACKAGES.items():
        try:
            shipped = metadata.version(package)
        except metadata.PackageNotFoundError:
            raise EnvironmentProblem(
                f"the DuckDB {name} extension is missing: install `{package}=={DUCKDB_VERSION}` "
                "(make install does this); DuckDB cannot download extensions offline"
            ) from None
        if shipped != DUCKDB_VERSION:
            raise EnvironmentProblem(f"{package} {shipped} is installed but duckdb is {DUCKDB_VERSION}: the "
                                     f"extension only loads into its own release; pin `{package}=={DUCKDB_VERSION}`")


def extension_file(name: str) -> Path:
    """Path of the binary for ``name`` matching the installed duckdb, or a clear error."""
    if name not in EXTENSION_PACKAGES:
        raise EnvironmentProblem(f"unknown DuckDB extension {name!r}; known: {sorted(EXTENSION_PACKAGES)}")
    package = EXTENSION_PACKAGES[name]
    module = package.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise EnvironmentProblem(
            f"the DuckDB {name} extension is missing: install `{package}=={duckdb_version()}` "
            "(make install does this); DuckDB cannot download extensions offline"
        )
    base = Path(spec.origin).parent / "extensions"
    version = duckdb_version()
    binary = base / f"v{version}" / f"{name}.duckdb_extension"
    if not binary.is_file():
        shipped = sorted(p.name.removeprefix("v") for p in base.glob("v*")) if base.is_dir() else []
        raise EnvironmentProblem(
            f"{package} ships the {name} extension for duckdb {', '.join(shipped) or '(none)'} but "
            f"duckdb {version} is installed; pin `{package}=={version}` or `duckdb=={shipped[-1] if shipped else '?'}`"
        )
    return binary


def _platform(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("PRAGMA platform").fetchone()
    return str(row[0]) if row else "unknown"


def install_into(con: duckdb.DuckDBPyConnection, name: str, extension_dir: Path) -> None:
    """Copy the packaged binary into ``extension_dir`` (DuckDB's layout) if not there yet."""
    source = extension_file(name)
    target = extension_dir / f"v{duckdb_version()}" / _platform(con) / source.name
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.part")
    tmp.unlink(missing_ok=True)
    try:
        # a hard link where the filesystem allows: every home would otherwise hold its own
        # 190 MB of binaries that never change (pip replaces, never rewrites, a file)
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    tmp.replace(target)  # atomic, so a concurrent process never loads half a file


def install_all(extension_dir: Path) -> None:
    """Install every packaged extension into ``extension_dir`` (a home's ``duckdb_extensions``).

    Afterwards a stock DuckDB needs only ``SET extension_directory`` and ``LOAD delta``:
    notebook users can read the lake offline without GovLake (docs/notebooks.md).
    """
    import duckdb

    check_duckdb_version()
    con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
    try:
        for name in EXTENSION_PACKAGES:
            install_into(con, name, extension_dir)
    finally:
        con.close()


def connect(
    database: str = ":memory:",
    *,
    extensions: Iterable[str] = ("delta",),
    extension_dir: Path | None = None,
    read_only: bool = False,
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with autoload/autoinstall off and the given extensions loaded.

    Extensions are loaded first, before any caller locks the configuration down
    (views/session.py relies on that order).
    """
    import duckdb

    check_duckdb_version()
    settings: dict[str, Any] = {
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
    }
    if extension_dir is not None:
        extension_dir.mkdir(parents=True, exist_ok=True)
        settings["extension_directory"] = str(extension_dir)
    settings.update(config or {})
    con = duckdb.connect(database, read_only=read_only, config=settings)
    try:
        for name in extensions:
            if extension_dir is not None:
                install_into(con, name, extension_dir)
                con.execute(f"LOAD {name}")
            else:
                con.execute(f"LOAD '{extension_file(name)}'")
    except Exception:
        con.close()
        raise
    return con
