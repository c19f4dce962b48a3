"""Read and validate the catalog files. Each error names the file, the key and the fix."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from govlake.errors import ConfigError, did_you_mean
from govlake.home import Home
from lake.catalog.model import (
    Access,
    Catalog,
    CodeTable,
    DataElement,
    Dataset,
    Department,
    Grade,
    Item,
    Open,
    OpenType,
    PersonalInfo,
    Share,
    ShareType,
    SourceFormat,
    UpdateCycle,
)

if TYPE_CHECKING:
    from lake.catalog.received import HomeCatalog

CATALOG_DIR = Path(__file__).parent
STANDARDS_DIR = CATALOG_DIR.parent / "standards"

RESOURCE_CODE = re.compile(r"^(?P<class>[1-3])(?P<item>\d{2})(?P<sub>\d{3})/(?P<seq>\d{5})$")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ELEMENT_TYPES = {"C", "N", "D", "I", "G", "T", "L"}
DATASET_KEYS = {
    "id", "code", "name", "provider", "abstract", "format", "encoding", "file_pattern", "source_table",
    "update_cycle", "publish_date", "related", "grade", "access", "key", "share", "open", "items",
}
ITEM_KEYS = {"column", "source", "element", "required", "pi", "grade", "description"}
KNOWN_RULES = {
    "resident_id", "uscc", "party_id", "person_name", "text", "identifier", "department_id",
    "date", "year", "integer", "decimal", "longitude", "latitude", "geometry",
    "division_code", "phone", "code", "industry_code",
}


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}; fix the syntax", location=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", location=str(path)) from exc


def need(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ConfigError(f"missing required key {key!r}; add it", location=where)
    value = table[key]
    if not isinstance(value, kind):
        raise ConfigError(
            f"{key!r} must be a {kind.__name__}, got {value!r}", location=where
        )
    return value


def _choice(value: Any, allowed: tuple[str, ...], key: str, where: str) -> str:
    if value is None:
        raise ConfigError(
            f"missing required key {key!r}; set it to one of {', '.join(allowed)}", location=where
        )
    if value not in allowed:
        raise ConfigError(
            f"{key} {value!r} is not one of {', '.join(allowed)}{did_you_mean(str(value), allowed)}",
            location=where,
        )
    return str(value)


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character (MOD 31) for the first 17 characters of a code."""
    total = sum(USCC_ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """GB 32100 check (MOD 31), accepting authority codes A, N and Y in position 1."""
    if len(code) != 18 or any(ch not in USCC_ALPHABET for ch in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def load_departments(path: Path) -> dict[str, Department]:
    raw = read_toml(path)
    departments: dict[str, Department] = {}
    codes: dict[str, str] = {}
    for dept_id, table in raw.items():
        where = f"{path}: [{dept_id}]"
        if not IDENTIFIER.match(dept_id):
            raise ConfigError("department ids are lower_snake_case ASCII", location=where)
        code = need(table, "code", str, where)
        if not uscc_is_valid(code):
            hint = "check its length, alphabet and check character"
            if len(code) == 18 and all(ch in USCC_ALPHABET for ch in code[:17]):
                hint = f"its check character (the 18th) should be {uscc_check_char(code[:17])!r}"
            raise ConfigError(
                f"code {code!r} is not a valid unified social credit code (GB 32100); {hint}",
                location=where,
            )
        if code in codes:
            raise ConfigError(f"code {code!r} is already used by [{codes[code]}]", location=where)
        codes[code] = dept_id
        sla = need(table, "sla_days", int, where)
        if sla <= 0:
            raise ConfigError(f"sla_days must be positive, got {sla}", location=where)
        departments[dept_id] = Department(
            id=dept_id,
            name=need(table, "name", str, where),
            short_name=need(table, "short_name", str, where),
            code=code,
            sla_days=sla,
        )
    return departments


def load_code_tables(folder: Path) -> dict[str, CodeTable]:
    tables: dict[str, CodeTable] = {}
    for path in sorted(folder.glob("*.csv")):
        codes: dict[str, str] = {}
        aliases: dict[str, str] = {}
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"code", "name"} <= set(reader.fieldnames):
                raise ConfigError("a code table needs the columns code,name[,aliases]", location=str(path))
            for line, row in enumerate(reader, start=2):
                code, name = (row["code"] or "").strip(), (row["name"] or "").strip()
                if not code or not name:
                    raise ConfigError(f"line {line}: empty code or name", location=str(path))
                if code in codes:
                    raise ConfigError(f"line {line}: duplicate code {code!r}", location=str(path))
                codes[code] = name
                spellings = [code, name, *((row.get("aliases") or "").split("|"))]
                for spelling in filter(None, (s.strip() for s in spellings)):
                    previous = aliases.setdefault(spelling, code)
                    if previous != code:
                        raise ConfigError(
                            f"line {line}: {spelling!r} would mean both {previous!r} and {code!r}; "
                            "every code, name and alias must be unique in its table, so remove "
                            "or change one of them",
                            location=str(path),
                        )
        tables[path.stem] = CodeTable(id=path.stem, codes=codes, aliases=aliases)
    return tables


def load_elements(path: Path, code_tables: dict[str, CodeTable]) -> dict[str, DataElement]:
    raw = read_toml(path)
    elements: dict[str, DataElement] = {}
    for element_id, table in raw.items():
        where = f"{path}: [{element_id}]"
        type_ = need(table, "type", str, where)
        if type_ not in ELEMENT_TYPES:
            raise ConfigError(
                f"type {type_!r} is not one of {', '.join(sorted(ELEMENT_TYPES))} "
                "(the catalog guide's item types, docs/catalog.md)",
                location=where,
            )
        rule = need(table, "rule", str, where)
        if rule not in KNOWN_RULES:
            raise ConfigError(
                f"rule {rule!r} is unknown{did_you_mean(rule, KNOWN_RULES)}; "
                f"rules are {', '.join(sorted(KNOWN_RULES))}",
                location=where,
            )
        code_table = table.get("code_table")
        if code_table is not None and code_table not in code_tables:
            raise ConfigError(
                f"code_table {code_table!r} has no file in {path.parent / 'code_tables'}"
                f"{did_you_mean(code_table, code_tables)}",
                location=where,
            )
        if rule == "code" and code_table is None:
            raise ConfigError("rule 'code' needs a code_table", location=where)
        elements[element_id] = DataElement(
            id=element_id,
            name=need(table, "name", str, where),
            type=type_,
            length=need(table, "length", int, where),
            rule=rule,
            standard=table.get("standard", ""),
            code_table=code_table,
        )
    return elements


def load_classification(path: Path) -> dict[str, str]:
    """Map each classification code prefix (``1``, ``101``, ``101001``) to its name."""
    raw = read_toml(path)
    names: dict[str, str] = {}

    def code_of(code: str, digits: int, level: str, where: str) -> str:
        if not (len(code) == digits and code.isdigit()):
            raise ConfigError(
                f"{level} code {code!r} must be {digits} digit(s) (类 1, 项 2, 目 3); "
                f"quote it to keep leading zeros, e.g. \"{'0' * (digits - 1)}1\"",
                location=where,
            )
        return code

    for class_code, class_table in need(raw, "classes", dict, str(path)).items():
        where = f"{path}: [classes.{class_code}]"
        prefix = code_of(class_code, 1, "class (类)", where)
        names[prefix] = need(class_table, "name", str, where)
        for item_code, item_table in class_table.get("items", {}).items():
            item_where = f"{where[:-1]}.items.{item_code}]"
            item_prefix = prefix + code_of(item_code, 2, "item (项)", item_where)
            names[item_prefix] = need(item_table, "name", str, item_where)
            for sub_code, sub_name in item_table.get("subitems", {}).items():
                sub_where = f"{item_where} subitems.{sub_code}"
                sub_prefix = item_prefix + code_of(sub_code, 3, "subitem (目)", sub_where)
                if not isinstance(sub_name, str):
                    raise ConfigError(f"subitem name must be a string, got {sub_name!r}", location=sub_where)
                names[sub_prefix] = sub_name
    return names


def _load_dataset(
    path: Path,
    departments: dict[str, Department],
    elements: dict[str, DataElement],
    classification: dict[str, str],
) -> Dataset:
    table = read_toml(path)
    where = str(path)
    unknown_keys = sorted(set(table) - DATASET_KEYS)
    if unknown_keys:
        raise ConfigError(
            f"unknown key {unknown_keys[0]!r}{did_you_mean(unknown_keys[0], DATASET_KEYS)}; "
            "docs/catalog.md lists the keys of a catalog entry",
            location=f"{where}: {unknown_keys[0]}",
        )
    dataset_id = need(table, "id", str, where)
    if not IDENTIFIER.match(dataset_id):
        raise ConfigError(f"id {dataset_id!r} must be lower_snake_case ASCII", location=where)
    if path.stem != dataset_id:
        raise ConfigError(
            f"id {dataset_id!r} must match the file name {path.name!r}; rename the file or fix the id",
            location=where,
        )
    code = need(table, "code", str, where)
    match = RESOURCE_CODE.match(code)
    if not match:
        raise ConfigError(
            f"code {code!r} is not a resource code; write 类(1)项(2)目(3)/顺序(5), e.g. 101001/00001 "
            "(docs/catalog.md)",
            location=f"{where}: code",
        )
    prefix = code.split("/")[0]
    path_codes = (prefix[:1], prefix[:3], prefix)
    missing = [p for p in path_codes if p not in classification]
    if missing:
        raise ConfigError(
            f"code {code!r}: classification {missing[0]!r} is not declared in classification.toml; "
            "add it there or fix the code",
            location=f"{where}: code",
        )
    provider_id = need(table, "provider", str, where)
    if provider_id not in departments:
        raise ConfigError(
            f"provider {provider_id!r} is not in departments.toml{did_you_mean(provider_id, departments)}",
            location=f"{where}: provider",
        )
    fmt = _choice(table.get("format"), get_args(SourceFormat), "format", f"{where}: format")
    access = _choice(table.get("access"), get_args(Access), "access", f"{where}: access")
    if access == "logical" and fmt != "sqlite":
        raise ConfigError(
            f"logical access is supported for sqlite sources only, and format is {fmt!r}; "
            'use access = "physical" for files',
            location=f"{where}: access",
        )
    encoding = table.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise ConfigError(
                f"encoding {encoding!r} is not a codec Python knows; "
                "use e.g. utf-8, utf-8-sig, gbk or gb18030",
                location=f"{where}: encoding",
            ) from None
    source_table = table.get("source_table")
    if fmt == "sqlite" and not source_table:
        raise ConfigError("a sqlite source needs source_table (the table to query)", location=where)

    items: list[Item] = []
    seen_columns: set[str] = set()
    seen_sources: set[str] = set()
    raw_items = need(table, "items", list, where)
    if not raw_items:
        raise ConfigError("items is empty; list the dataset's information items", location=where)
    for index, raw_item in enumerate(raw_items):
        item_where = f"{where}: items[{index}]"
        column = need(raw_item, "column", str, item_where)
        item_where = f"{where}: items[{index}] ({column})"
        if not IDENTIFIER.match(column):
            raise ConfigError(f"column {column!r} must be lower_snake_case ASCII", location=item_where)
        if column in seen_columns:
            raise ConfigError(
                f"column {column!r} appears twice; give each item its own column name", location=item_where
            )
        source = need(raw_item, "source", str, item_where)
        if source in seen_sources:
            raise ConfigError(
                f"source header {source!r} appears twice; each item maps one header of the source",
                location=item_where,
            )
        element = need(raw_item, "element", str, item_where)
        if element not in elements:
            raise ConfigError(
                f"element {element!r} is not a known data element{did_you_mean(element, elements)}; "
                "add it to lake/standards/data_elements.toml or fix the item",
                location=item_where,
            )
        pi = _choice(raw_item.get("pi", "none"), get_args(PersonalInfo), "pi", item_where)
        grade = raw_item.get("grade")
        if grade is not None:
            _choice(grade, get_args(Grade), "grade", item_where)
        unknown = set(raw_item) - ITEM_KEYS
        if unknown:
            raise ConfigError(
                f"unknown keys {sorted(unknown)} in an item; item keys are {', '.join(sorted(ITEM_KEYS))}",
                location=item_where,
            )
        seen_columns.add(column)
        seen_sources.add(source)
        items.append(
            Item(
                column=column,
                source=source,
                element=element,
                description=need(raw_item, "description", str, item_where),
                required=bool(raw_item.get("required", False)),
                pi=pi,  # type: ignore[arg-type]
                grade=grade,
            )
        )
    key = tuple(need(table, "key", list, where))
    for column in key:
        if column not in seen_columns:
            raise ConfigError(
                f"key column {column!r} is not an item{did_you_mean(column, seen_columns)}; "
                "key lists the columns of items that identify a row",
                location=f"{where}: key",
            )
    share_raw = need(table, "share", dict, where)
    open_raw = need(table, "open", dict, where)
    share_type = _choice(share_raw.get("type"), get_args(ShareType), "share.type", f"{where}: share")
    if share_type == "conditional" and not share_raw.get("conditions"):
        raise ConfigError(
            "a conditional share needs its conditions (共享条件); add share.conditions = \"...\" "
            "or change share.type",
            location=f"{where}: share",
        )
    open_type = _choice(open_raw.get("type"), get_args(OpenType), "open.type", f"{where}: open")
    publish_date = need(table, "publish_date", dt.date, where)
    return Dataset(
        id=dataset_id,
        code=code,
        name=need(table, "name", str, where),
        provider=departments[provider_id],
        abstract=need(table, "abstract", str, where),
        format=fmt,  # type: ignore[arg-type]
        file_pattern=need(table, "file_pattern", str, where),
        update_cycle=_choice(  # type: ignore[arg-type]
            table.get("update_cycle"), get_args(UpdateCycle), "update_cycle", f"{where}: update_cycle"
        ),
        publish_date=publish_date,
        grade=_choice(table.get("grade"), get_args(Grade), "grade", f"{where}: grade"),  # type: ignore[arg-type]
        access=access,  # type: ignore[arg-type]
        key=key,
        share=Share(type=share_type, conditions=share_raw.get("conditions", ""),  # type: ignore[arg-type]
                    method=share_raw.get("method", "")),
        open=Open(type=open_type, conditions=open_raw.get("conditions", "")),  # type: ignore[arg-type]
        items=tuple(items),
        classification=tuple(classification[p] for p in path_codes),
        related=tuple(table.get("related", ())),
        encoding=encoding,
        source_table=source_table,
        file=str(path),
    )


def load_catalog_from(catalog_dir: Path, standards_dir: Path) -> Catalog:
    """Load and validate a catalog from explicit folders (tests use this with edited copies)."""
    departments = load_departments(catalog_dir / "departments.toml")
    code_tables = load_code_tables(standards_dir / "code_tables")
    elements = load_elements(standards_dir / "data_elements.toml", code_tables)
    classification = load_classification(catalog_dir / "classification.toml")
    datasets: dict[str, Dataset] = {}
    by_code: dict[str, str] = {}
    for path in sorted((catalog_dir / "datasets").glob("*.toml")):
        dataset = _load_dataset(path, departments, elements, classification)
        if dataset.code in by_code:
            raise ConfigError(
                f"resource code {dataset.code!r} is already used by {by_code[dataset.code]}; "
                "give this dataset the next free sequence number",
                location=f"{path}: code",
            )
        by_code[dataset.code] = str(path)
        datasets[dataset.id] = dataset
    for dataset in datasets.values():
        for related in dataset.related:
            if related not in by_code:
                raise ConfigError(
                    f"related resource code {related!r} is not in the catalog"
                    f"{did_you_mean(related, by_code)}",
                    location=f"{dataset.file}: related",
                )
    return Catalog(
        datasets=datasets,
        departments=departments,
        elements=elements,
        code_tables=code_tables,
        classification=classification,
    )


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog shipped with GovLake, loaded once per process."""
    return load_catalog_from(CATALOG_DIR, STANDARDS_DIR)


def load_home_catalog(home: Home | None) -> HomeCatalog:
    """The shipped catalog plus the datasets ``home`` received by return flow (回流).

    A received dataset is recorded in the home (``<home>/catalog/received/<id>.toml``,
    :mod:`lake.catalog.received`), never in the shipped catalog. None, or a home folder that
    does not exist, has received nothing. A received id that is also a shipped dataset's id is
    an error naming the file: the two could not be told apart.
    """
    from lake.catalog.received import HomeCatalog, load_received

    catalog = load_catalog()
    received = load_received(home) if home is not None and home.root.is_dir() else {}
    for dataset in received.values():
        if dataset.id in catalog.datasets:
            raise ConfigError(f"received dataset id {dataset.id!r} is also the id of a catalog dataset "
                              f"({catalog.datasets[dataset.id].name}); rename the file and its id",
                              location=f"{dataset.file}: id")
    return HomeCatalog(catalog, received)
