"""The one place that finds and loads DuckDB extensions."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.errors import EnvironmentProblem
from lake import extensions


def test_packaged_extensions_load_offline(tmp_path: Path) -> None:
    con = extensions.connect(extensions=("delta", "spatial", "sqlite_scanner"), extension_dir=tmp_path / "ext")
    loaded = {row[0] for row in con.execute(
        "SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    assert {"delta", "spatial", "sqlite_scanner"} <= loaded
    # installed into the given directory, in DuckDB's own layout, for stock DuckDB to autoload
    assert list((tmp_path / "ext").rglob("delta.duckdb_extension"))


def test_install_all_puts_every_extension_in_the_home(tmp_path: Path) -> None:
    extensions.install_all(tmp_path / "ext")
    names = {p.name for p in (tmp_path / "ext").rglob("*.duckdb_extension")}
    assert names == {f"{name}.duckdb_extension" for name in extensions.EXTENSION_PACKAGES}


# A different duckdb release cannot be installed next to the pinned one in this environment,
# so the mismatch is simulated by reporting another version (a fault that cannot be produced
# for real here).
def test_a_duckdb_version_mismatch_names_the_package_to_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extensions, "duckdb_version", lambda: "1.9.0")
    with pytest.raises(EnvironmentProblem, match=r"duckdb-extension-delta==1\.9\.0|duckdb==1\.5\.5"):
        extensions.extension_file("delta")
    with pytest.raises(EnvironmentProblem, match=r"pip install duckdb==1\.5\.5"):
        extensions.check_duckdb_version()


def test_an_unknown_extension_is_refused() -> None:
    with pytest.raises(EnvironmentProblem, match="unknown DuckDB extension"):
        extensions.extension_file("httpfs")
