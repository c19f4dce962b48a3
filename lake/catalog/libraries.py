"""Base libraries and their one-source-per-item precedence, read from ``libraries.toml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from govlake.errors import ConfigError, did_you_mean
from lake.catalog.load import CATALOG_DIR, need, read_toml
from lake.catalog.model import Catalog


@dataclass(frozen=True)
class SourceRef:
    dataset: str
    column: str

    def __str__(self) -> str:
        return f"{self.dataset}.{self.column}"


@dataclass(frozen=True)
class Attribute:
    name: str
    sources: tuple[SourceRef, ...]  # authoritative first
    description: str
    compare: bool = True  # report disagreements between sources as conflicts


@dataclass(frozen=True)
class Library:
    id: str
    name: str
    key: str
    anchor: tuple[str, ...]  # datasets whose keys make up the library's universe
    description: str
    attributes: tuple[Attribute, ...]

    @property
    def datasets(self) -> list[str]:
        seen: dict[str, None] = dict.fromkeys(self.anchor)
        for attribute in self.attributes:
            seen.update(dict.fromkeys(ref.dataset for ref in attribute.sources))
        return list(seen)


def load_libraries_from(path: Path, catalog: Catalog) -> dict[str, Library]:
    raw = read_toml(path)
    libraries: dict[str, Library] = {}
    for library_id, table in raw.items():
        where = f"{path}: [{library_id}]"
        attributes = []
        for name, spec in need(table, "attributes", dict, where).items():
            attr_where = f"{path}: [{library_id}.attributes.{name}]"
            refs = []
            for text in need(spec, "sources", list, attr_where):
                dataset, _, column = str(text).partition(".")
                if dataset not in catalog.datasets:
                    raise ConfigError(
                        f"source {text!r}: no dataset {dataset!r} in the catalog"
                        f"{did_you_mean(dataset, catalog.datasets)}",
                        location=attr_where,
                    )
                if not column:
                    raise ConfigError(f"source {text!r} must be written dataset.column", location=attr_where)
                refs.append(SourceRef(dataset, column))
            if not refs:
                raise ConfigError("sources is empty; name at least the authoritative source", location=attr_where)
            attributes.append(Attribute(name, tuple(refs), need(spec, "description", str, attr_where),
                                        bool(spec.get("compare", True))))
        anchor = tuple(need(table, "anchor", list, where))
        for dataset in anchor:
            if dataset not in catalog.datasets:
                raise ConfigError(f"anchor dataset {dataset!r} is not in the catalog", location=where)
        libraries[library_id] = Library(
            id=library_id,
            name=need(table, "name", str, where),
            key=need(table, "key", str, where),
            anchor=anchor,
            description=need(table, "description", str, where),
            attributes=tuple(attributes),
        )
    return libraries


@lru_cache(maxsize=1)
def load_libraries() -> dict[str, Library]:
    from lake.catalog import load_catalog

    return load_libraries_from(CATALOG_DIR / "libraries.toml", load_catalog())
