"""The catalog: one ledger (一本账) of every source dataset, its provider and its contract.

Catalog entries, departments, the classification tree, data elements and code tables are
data files under version control (``lake/catalog/*.toml``, ``lake/catalog/datasets/*.toml``,
``lake/standards/``). :func:`load_catalog` reads and validates them all; every error names
the file, the key and the fix.

>>> catalog = load_catalog()
>>> catalog.dataset("hukou").provider.short_name
'公安'
"""

from __future__ import annotations

from lake.catalog.load import load_catalog
from lake.catalog.model import (
    Catalog,
    CodeTable,
    DataElement,
    Dataset,
    Department,
    Item,
)

__all__ = ["Catalog", "CodeTable", "DataElement", "Dataset", "Department", "Item", "load_catalog"]
