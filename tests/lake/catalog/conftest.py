"""Fixtures for catalog tests: an editable copy of the shipped catalog and standards."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from lake.catalog.load import CATALOG_DIR, STANDARDS_DIR, load_catalog_from
from lake.catalog.model import Catalog


@dataclass(frozen=True)
class CatalogCopy:
    """A copy of ``lake/catalog`` and ``lake/standards`` in ``tmp_path``, to break on purpose."""

    catalog_dir: Path
    standards_dir: Path

    def path(self, relative: str) -> Path:
        """``catalog/...`` or ``standards/...`` inside the copy."""
        return self.catalog_dir.parent / relative

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` in a copied file (fails if not exactly one)."""
        path = self.path(relative)
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def load(self) -> Catalog:
        return load_catalog_from(self.catalog_dir, self.standards_dir)


@pytest.fixture
def catalog_copy(tmp_path: Path) -> CatalogCopy:
    ignore = shutil.ignore_patterns("*.py", "__pycache__")
    shutil.copytree(CATALOG_DIR, tmp_path / "catalog", ignore=ignore)
    shutil.copytree(STANDARDS_DIR, tmp_path / "standards", ignore=ignore)
    return CatalogCopy(tmp_path / "catalog", tmp_path / "standards")
