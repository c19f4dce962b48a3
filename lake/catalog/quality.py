"""Quality rules the catalog declares, read from ``quality_rules.toml`` and validated on load.

Most quality rules are derived from the catalog and the data standards and need no
declaration (see :mod:`transforms.quality.derive`): completeness of ``required`` items,
validity and format of every item from its data element, uniqueness of the dataset key,
consistency from the base-library conflicts (一数一源), freshness from ``update_cycle``.
This file holds what cannot be derived:

- ``[expected.<name>]``: items expected to be filled although the contract lets the column be
  empty (a file is not refused for them, but each empty one is a completeness failure),
  optionally only ``when`` another item has one of some codes;
- ``[range.<name>]``: bounds on dates or numbers (``"as_of"`` is the run's reference date);
- ``[late.<name>]``: the event date of an event dataset, for late-arriving records;
- ``[reference.<name>]``: referential integrity, an item that must name a key of a base library;
- ``[thresholds]``: the pass mark of a scorecard, by default and per dataset.

A rule naming an unknown dataset, column, data element, library or code fails here, with the
file, the key and the fix.

>>> rules = load_quality_rules()
>>> rules.references["legal_rep_in_population"].library
'population'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from govlake.errors import ConfigError, did_you_mean
from lake.catalog.load import CATALOG_DIR, read_toml
from lake.catalog.model import Catalog, Dataset

RULES_FILE = CATALOG_DIR / "quality_rules.toml"
#: The reference date of a run, usable as a range bound.
AS_OF = "as_of"
#: Data-element rules whose values are dates, and those whose values are numbers.
DATE_RULES = frozenset({"date"})
NUMBER_RULES = frozenset({"integer", "decimal", "year", "longitude", "latitude"})
SECTIONS = ("expected", "range", "late", "reference", "thresholds")
Bound = dt.date | float | str | None


@dataclass(frozen=True)
class Condition:
    """``when = { column = "status", in = ["2", "3"] }``: the rule applies to these records only.

    ``values`` are canonical codes of the column's code table (the standardized values).
    """

    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Expected:
    """Completeness: ``columns`` of ``dataset`` should be filled (where ``when`` holds)."""

    name: str
    dataset: str
    columns: tuple[str, ...]
    description: str
    when: Condition | None = None


@dataclass(frozen=True)
class Range:
    """Validity: values of ``columns`` lie within ``minimum``..``maximum`` (either may be None)."""

    name: str
    dataset: str
    columns: tuple[str, ...]
    description: str
    minimum: Bound = None
    maximum: Bound = None


@dataclass(frozen=True)
class Late:
    """Timeliness: ``event`` is the date a record describes; it decides which delivery it belongs in."""

    name: str
    dataset: str
    event: str
    description: str


@dataclass(frozen=True)
class Reference:
    """Referential integrity: ``column`` of ``dataset`` names a key of base library ``library``."""

    name: str
    dataset: str
    column: str
    library: str
    description: str
    when: Condition | None = None


@dataclass(frozen=True)
class QualityRules:
    expected: dict[str, Expected] = field(default_factory=dict)
    ranges: dict[str, Range] = field(default_factory=dict)
    late: dict[str, Late] = field(default_factory=dict)
    references: dict[str, Reference] = field(default_factory=dict)
    default_threshold: float = 0.95
    thresholds: dict[str, float] = field(default_factory=dict)  # dataset -> pass mark
    file: str = ""

    def threshold(self, dataset: str | None) -> float:
        """The pass mark of a dataset's scorecard (the default for departments and dimensions)."""
        return self.thresholds.get(dataset or "", self.default_threshold)


class _Reader:
    """Reads one rule table, naming ``file: [section.name] key`` in every error."""

    def __init__(self, path: Path, catalog: Catalog, section: str, name: str, table: Any) -> None:
        self.path, self.catalog, self.section, self.name = path, catalog, section, name
        if not isinstance(table, dict):
            raise ConfigError(f"must be a table like [{section}.{name}]", location=self.where())
        self.table: dict[str, Any] = table

    def where(self, key: str | None = None) -> str:
        return f"{self.path}: [{self.section}.{self.name}]" + (f" {key}" if key else "")

    def check_keys(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.table) - allowed)
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r}{did_you_mean(unknown[0], allowed)}; keys are {', '.join(sorted(allowed))}",
                location=self.where(unknown[0]),
            )

    def text(self, key: str, *, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key} must be a non-empty string, got {value!r}", location=self.where(key))
        return value

    def dataset(self) -> Dataset:
        name = self.text("dataset")
        if name not in self.catalog.datasets:
            raise ConfigError(
                f"no dataset {name!r} in the catalog{did_you_mean(name, self.catalog.datasets)}; "
                "`govlake catalog list` shows them",
                location=self.where("dataset"),
            )
        return self.catalog.datasets[name]

    def column(self, dataset: Dataset, key: str, value: Any = None) -> str:
        column = self.text(key) if value is None else value
        if not isinstance(column, str) or column not in dataset.columns:
            raise ConfigError(
                f"dataset {dataset.id!r} has no column {column!r}{did_you_mean(str(column), dataset.columns)}; "
                f"its columns are {', '.join(dataset.columns)}",
                location=self.where(key),
            )
        return column

    def columns(self, dataset: Dataset) -> tuple[str, ...]:
        """``columns = [...]`` or ``element = "<data element>"`` (every item of that element)."""
        if ("columns" in self.table) == ("element" in self.table):
            raise ConfigError("give either columns = [...] or element = \"<data element>\"", location=self.where())
        if "columns" in self.table:
            listed = self.table["columns"]
            if not isinstance(listed, list) or not listed:
                raise ConfigError(f"columns must be a non-empty list, got {listed!r}", location=self.where("columns"))
            return tuple(self.column(dataset, "columns", column) for column in listed)
        element = self.text("element")
        if element not in self.catalog.elements:
            raise ConfigError(
                f"no data element {element!r}{did_you_mean(element, self.catalog.elements)}; the elements are "
                "in lake/standards/data_elements.toml",
                location=self.where("element"),
            )
        chosen = tuple(item.column for item in dataset.items if item.element == element)
        if not chosen:
            raise ConfigError(
                f"dataset {dataset.id!r} has no item of data element {element!r}; name its columns instead",
                location=self.where("element"),
            )
        return chosen

    def condition(self, dataset: Dataset) -> Condition | None:
        spec = self.table.get("when")
        if spec is None:
            return None
        if not isinstance(spec, dict) or set(spec) != {"column", "in"}:
            raise ConfigError('when must be { column = "<column>", in = ["<code>", ...] }',
                              location=self.where("when"))
        column = self.column(dataset, "when.column", spec["column"])
        values = spec["in"]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"when.in must be a non-empty list of codes, got {values!r}",
                              location=self.where("when.in"))
        element = self.catalog.element_of(dataset, column)
        if element.code_table is not None:
            codes = self.catalog.code_table(element.code_table).codes
            for value in values:
                if value not in codes:
                    spelled = self.catalog.code_table(element.code_table).aliases.get(value)
                    hint = f"; write its code {spelled!r}" if spelled else did_you_mean(value, codes)
                    raise ConfigError(
                        f"{value!r} is not a code of table {element.code_table!r} of column {column!r}{hint} "
                        f"(codes: {', '.join(f'{c} {n}' for c, n in codes.items())})",
                        location=self.where("when.in"),
                    )
        return Condition(column, tuple(values))

    def bound(self, key: str, rule: str) -> Bound:
        value = self.table.get(key)
        if value is None:
            return None
        if rule in DATE_RULES:
            if value == AS_OF or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
                return value
            raise ConfigError(f'{key} of a date must be a date like 1900-01-01 or "as_of", got {value!r}',
                              location=self.where(key))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key} of a number must be a number, got {value!r}", location=self.where(key))


def load_quality_rules_from(path: Path, catalog: Catalog, libraries: dict[str, Any]) -> QualityRules:
    """Read and validate ``path`` against ``catalog`` and the base ``libraries`` (id -> Library)."""
    raw = read_toml(path)
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]{did_you_mean(unknown[0], SECTIONS)}; sections are "
                          f"{', '.join(SECTIONS)}", location=f"{path}: [{unknown[0]}]")
    expected: dict[str, Expected] = {}
    ranges: dict[str, Range] = {}
    late: dict[str, Late] = {}
    references: dict[str, Reference] = {}

    def tables(section: str) -> list[_Reader]:
        entries = raw.get(section, {})
        if not isinstance(entries, dict):
            raise ConfigError(f"[{section}] must hold named tables like [{section}.<name>]",
                              location=f"{path}: [{section}]")
        return [_Reader(path, catalog, section, name, table) for name, table in entries.items()]

    for reader in tables("expected"):
        reader.check_keys({"dataset", "columns", "element", "when", "description"})
        dataset = reader.dataset()
        expected[reader.name] = Expected(reader.name, dataset.id, reader.columns(dataset), reader.text("description"),
                                         reader.condition(dataset))
    for reader in tables("range"):
        reader.check_keys({"dataset", "columns", "element", "min", "max", "description"})
        dataset = reader.dataset()
        columns = reader.columns(dataset)
        kinds = {catalog.element_of(dataset, column).rule for column in columns}
        if len(kinds) != 1 or not kinds <= DATE_RULES | NUMBER_RULES:
            raise ConfigError(
                f"a range applies to dates or to numbers, one kind per rule; columns {', '.join(columns)} have "
                f"element rules {', '.join(sorted(kinds))}",
                location=reader.where("columns"),
            )
        (kind,) = kinds
        minimum, maximum = reader.bound("min", kind), reader.bound("max", kind)
        if minimum is None and maximum is None:
            raise ConfigError("give min, max or both", location=reader.where())
        ranges[reader.name] = Range(reader.name, dataset.id, columns, reader.text("description"), minimum, maximum)
    for reader in tables("late"):
        reader.check_keys({"dataset", "event", "description"})
        dataset = reader.dataset()
        event = reader.column(dataset, "event")
        if catalog.element_of(dataset, event).rule not in DATE_RULES:
            raise ConfigError(f"event column {event!r} is not a date item; name the date the record describes",
                              location=reader.where("event"))
        late[reader.name] = Late(reader.name, dataset.id, event, reader.text("description"))
    for reader in tables("reference"):
        reader.check_keys({"dataset", "column", "library", "when", "description"})
        dataset = reader.dataset()
        library = reader.text("library")
        if library not in libraries:
            raise ConfigError(f"no base library {library!r}{did_you_mean(library, libraries)}; libraries are "
                              f"{', '.join(libraries)} (lake/catalog/libraries.toml)",
                              location=reader.where("library"))
        references[reader.name] = Reference(reader.name, dataset.id, reader.column(dataset, "column"), library,
                                            reader.text("description"), reader.condition(dataset))
    default, marks = _thresholds(raw.get("thresholds", {}), catalog, f"{path}: [thresholds]")
    return QualityRules(expected, ranges, late, references, default, marks, str(path))


def _thresholds(table: Any, catalog: Catalog, where: str) -> tuple[float, dict[str, float]]:
    """``[thresholds]``: ``default`` and a pass mark per dataset id, each a share from 0 to 1."""
    if not isinstance(table, dict):
        raise ConfigError("[thresholds] must be a table", location=where)
    marks: dict[str, float] = {}
    default = QualityRules.default_threshold
    for key, value in table.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ConfigError(f"{key} must be a share between 0 and 1 (0.95 = 95%), got {value!r}",
                              location=f"{where} {key}")
        if key == "default":
            default = float(value)
        elif key not in catalog.datasets:
            raise ConfigError(f"no dataset {key!r} in the catalog{did_you_mean(key, catalog.datasets)}",
                              location=f"{where} {key}")
        else:
            marks[key] = float(value)
    return default, marks


@lru_cache(maxsize=1)
def load_quality_rules() -> QualityRules:
    """The declared quality rules shipped with GovLake, loaded once per process."""
    from lake.catalog import load_catalog
    from lake.catalog.libraries import load_libraries

    return load_quality_rules_from(RULES_FILE, load_catalog(), load_libraries())
