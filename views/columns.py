"""Column flags: personal information, grade and mask of every built column and view column.

The flags of a **built table column** come from data, never from a view author:

1. ``TableSpec.pi`` / ``grades`` / ``masks`` (explicit, for the column);
2. ``TableSpec.derived_from``: the inputs it is computed from (catalog items
   ``dataset.column`` or other built columns ``zone.table.column``);
3. for a base-library attribute, its sources in ``lake/catalog/libraries.toml``; for the
   library key, the anchor datasets' key items;
4. ``TableSpec.default_pi`` / ``grade``.

``policies/table_flags.toml`` supplies the same fields for tables whose TableSpec does not
declare them yet (a column declared in both is an error). A catalog item's mask comes
from ``policies/masks.toml`` (by item, else by data element, else its default). When a
column has several inputs the strictest PI and highest grade win (就高从严); their masks
must agree, else the column is ``hidden`` (a library attribute takes the mask of its
authoritative source, since every source fills in the same attribute). A column with no flag at all cannot be read by
a view: loading the view fails and names the TableSpec to fix.

The flags of a **view column** follow its lineage (worked out with sqlglot's scopes) back
to built columns. A *direct* column (a plain reference, possibly renamed, through any
CTEs and subqueries) keeps its input's mask. A *derived* column (any expression) takes
the strictest PI and highest grade of its inputs; if any input is masked or hidden it is
``hidden`` too, because no mask of a computed value can be trusted. A column with no
inputs (``count(*)``) is ``none`` / ``general`` / ``clear``.

>>> from policies import load_policies
>>> from views.definitions import shipped_views
>>> flags = view_columns(shipped_views()["population"], load_policies())
>>> flags["resident_id"].mask, flags["resident_id"].direct
('resident_id', True)
>>> flags["birth_date"].pi
'sensitive'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from govlake.errors import ConfigError

if TYPE_CHECKING:
    from policies import Policies
    from transforms.tables import TableSpec
    from views.definitions import View

PI_ORDER = {"none": 0, "personal": 1, "sensitive": 2}
GRADE_ORDER = {"general": 0, "important": 1, "core": 2}
#: The mask of a projection column nobody declared: decided by the other sources, else hidden.
UNKNOWN_MASK = ""


@dataclass(frozen=True)
class ColumnFlags:
    """What a column holds and how it is shown by default.

    ``mask`` is a mask kind (policies/masks.toml), ``clear`` or ``hidden``. ``datasets`` are
    the catalog datasets its values come from (their share type limits unmasking).
    """

    pi: str
    grade: str
    mask: str
    datasets: frozenset[str] = frozenset()
    comment: str = ""


@dataclass(frozen=True)
class ViewColumn:
    """A view column, its flags and lineage: ``inputs`` are ``zone.table.column`` names."""

    name: str
    flags: ColumnFlags
    inputs: tuple[str, ...]
    direct: bool


def combine(flags: list[ColumnFlags], *, direct: bool) -> ColumnFlags:
    """Flags of a value computed from ``flags``: strictest PI, highest grade (就高从严)."""
    if not flags:
        return ColumnFlags("none", "general", "clear")
    pi = max((f.pi for f in flags), key=PI_ORDER.__getitem__)
    grade = max((f.grade for f in flags), key=GRADE_ORDER.__getitem__)
    masks = {f.mask for f in flags if f.pi != "none"}
    if len(masks) > 1:
        masks.discard(UNKNOWN_MASK)
    if masks == {UNKNOWN_MASK}:
        mask = "hidden"
    elif not masks or masks == {"clear"}:
        mask = "clear"
    elif direct and len(masks) == 1:
        mask = next(iter(masks))
    else:
        mask = "hidden"
    datasets = frozenset().union(*(f.datasets for f in flags))
    return ColumnFlags(pi, grade, mask, datasets)


class TableFlagResolver:
    """Resolves built-column flags from TableSpecs, policies and the catalog (memoized)."""

    def __init__(self, policies: Policies, specs: Mapping[str, TableSpec] | None = None) -> None:
        from lake.catalog import load_catalog
        from lake.catalog.libraries import load_libraries

        if specs is None:
            from transforms.tables import all_tables

            specs = all_tables()
        self.policies = policies
        self.specs = specs
        self.catalog = load_catalog()
        self.libraries = load_libraries()
        self._memo: dict[str, ColumnFlags] = {}
        self._resolving: set[str] = set()

    def table_columns(self, table: str) -> list[str]:
        """Every column the table's spec knows (declared columns, library key and attributes)."""
        spec = self.specs[table]
        names = list(spec.comments)
        if spec.library:
            library = self.libraries[spec.library]
            names = [library.key, *names]
            names.extend(attribute.name for attribute in library.attributes)
        return list(dict.fromkeys(names))

    def item_flags(self, dataset_id: str, column: str, where: str) -> ColumnFlags:
        """Flags of a catalog item, its mask from policies/masks.toml."""
        if dataset_id not in self.catalog.datasets:
            raise ConfigError(f"{dataset_id}.{column}: no dataset {dataset_id!r} in the catalog", location=where)
        dataset = self.catalog.datasets[dataset_id]
        item = next((i for i in dataset.items if i.column == column), None)
        rules = self.policies.masks
        if item is None:
            # A projection column (transforms/projections.py), e.g. marriages.name from husband_name
            # and wife_name: the strictest PI and highest grade of the dataset, its mask from
            # masks.toml [items] or, failing that, from the library attribute's other sources.
            pi = max((i.pi for i in dataset.items), key=PI_ORDER.__getitem__, default="none")
            grade = max((dataset.column_grade(i.column) for i in dataset.items), key=GRADE_ORDER.__getitem__)
            return ColumnFlags(pi, grade, rules.items.get(f"{dataset_id}.{column}", UNKNOWN_MASK),
                               frozenset({dataset_id}))
        mask = "clear"
        if item.pi != "none":
            mask = rules.items.get(f"{dataset_id}.{column}") or rules.elements.get(item.element) or rules.default
        return ColumnFlags(item.pi, dataset.column_grade(column), mask, frozenset({dataset_id}), item.description)

    def flags(self, table: str, column: str) -> ColumnFlags:
        """Flags of ``table.column`` (``table`` is ``zone.table``); ConfigError if it has none."""
        key = f"{table}.{column}"
        if key not in self._memo:
            if key in self._resolving:
                raise ConfigError(f"derived_from of {key} is circular; break the cycle", location=self._where(table))
            self._resolving.add(key)
            try:
                self._memo[key] = self._resolve(table, column)
            finally:
                self._resolving.discard(key)
        return self._memo[key]

    def _where(self, table: str) -> str:
        return f"TableSpec of {table!r} (transforms/) or policies/table_flags.toml"

    def _field(self, table: str, name: str, column: str) -> str | tuple[str, ...] | None:
        spec = self.specs.get(table)
        fallback = self.policies.table_flags.get(table)
        own = getattr(spec, name, {}) if spec is not None else {}
        other = getattr(fallback, name, {}) if fallback is not None else {}
        if column in own and column in other:
            raise ConfigError(f"{table}.{column}: {name} is declared both in its TableSpec and in "
                              "policies/table_flags.toml; delete it from table_flags.toml",
                              location=str(self.policies.folder / "table_flags.toml"))
        value = own.get(column, other.get(column))
        if isinstance(value, list):
            value = tuple(value)
        return value if isinstance(value, str | tuple) else None

    def _default(self, table: str, name: str) -> str | None:
        for holder in (self.specs.get(table), self.policies.table_flags.get(table)):
            value = getattr(holder, name, None) if holder is not None else None
            if isinstance(value, str):
                return value
        return None

    def _resolve(self, table: str, column: str) -> ColumnFlags:
        if table not in self.specs:
            raise ConfigError(f"table {table!r} has no TableSpec", location=self._where(table))
        spec = self.specs[table]
        comment = spec.comments.get(column, "")
        derived = self._field(table, "derived_from", column)
        inputs: list[ColumnFlags] | None = None
        if isinstance(derived, tuple):
            inputs = [self._input(text, table) for text in derived]
        elif spec.library:
            library = self.libraries[spec.library]
            where = f"lake/catalog/libraries.toml [{library.id}]"
            attribute = next((a for a in library.attributes if a.name == column), None)
            if attribute is not None:
                inputs = [self.item_flags(ref.dataset, ref.column, where) for ref in attribute.sources]
                # Every source fills in the same attribute, so its mask is the authoritative
                # (first) source's; PI and grade stay the strictest over all sources.
                authoritative = next((f for f in inputs if f.mask != UNKNOWN_MASK), None)
                if authoritative is not None:
                    inputs = [ColumnFlags(f.pi, f.grade, authoritative.mask, f.datasets) for f in inputs]
            elif column == library.key:
                inputs = [self.item_flags(d, library.key, where) for d in library.anchor]
        base = combine(inputs, direct=True) if inputs is not None else None
        pi = self._field(table, "pi", column) or (base.pi if base else None) or self._default(table, "default_pi")
        if not isinstance(pi, str):
            raise ConfigError(
                f"column {table}.{column} has no personal-information flag; declare it (pi, derived_from or "
                "default_pi) so a view can read it", location=self._where(table))
        grade = (self._field(table, "grades", column) or (base.grade if base and base.datasets else None)
                 or self._default(table, "grade") or (base.grade if base else "general"))
        mask = self._field(table, "masks", column)
        if not isinstance(mask, str):
            mask = "clear" if pi == "none" else (base.mask if base else self.policies.masks.default)
        datasets = base.datasets if base else frozenset()
        return ColumnFlags(pi, str(grade), mask, datasets, comment)

    def _input(self, text: str, table: str) -> ColumnFlags:
        parts = text.split(".")
        if len(parts) == 2:
            return self.item_flags(parts[0], parts[1], self._where(table))
        if len(parts) == 3:
            return self.flags(f"{parts[0]}.{parts[1]}", parts[2])
        raise ConfigError(f"derived_from input {text!r} must be dataset.column or zone.table.column",
                          location=self._where(table))


def view_columns(view: View, policies: Policies, resolver: TableFlagResolver | None = None) -> dict[str, ViewColumn]:
    """The flags and lineage of each output column of ``view``."""
    resolver = resolver or _resolver(policies)
    schema: dict[str, object] = {}
    for table in view.tables:
        zone, name = table.split(".", 1)
        tables = schema.setdefault(zone, {})
        assert isinstance(tables, dict)
        tables[name] = dict.fromkeys(resolver.table_columns(table), "TEXT")
    try:
        qualified = qualify(view.query.copy(), schema=schema, dialect="duckdb", validate_qualify_columns=True,
                            quote_identifiers=False)
        root = build_scope(qualified)
    except SqlglotError as error:
        raise ConfigError(f"cannot resolve the view's columns: {str(error).splitlines()[0]}",
                          location=str(view.file)) from None
    assert root is not None
    result: dict[str, ViewColumn] = {}
    for name in view.columns:
        leaves, direct = _lineage(root, name)
        try:
            inputs = [resolver.flags(table, column) for table, column in leaves]
        except ConfigError as error:
            raise ConfigError(f"column {name!r}: {error}", location=str(view.file)) from None
        flags = combine(inputs, direct=direct)
        if direct and inputs:
            flags = ColumnFlags(flags.pi, flags.grade, flags.mask, flags.datasets, inputs[0].comment)
        result[name] = ViewColumn(name, flags, tuple(f"{t}.{c}" for t, c in leaves), direct)
    return result


def _lineage(scope: Scope, name: str) -> tuple[list[tuple[str, str]], bool]:
    """Built columns the output ``name`` of ``scope`` reads, and whether it is a plain reference."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        # UNION and friends: every branch contributes its column at the same position; never direct.
        assert isinstance(select, exp.SetOperation)
        position = select.named_selects.index(name)
        leaves: list[tuple[str, str]] = []
        for branch in scope.set_operation_scopes:
            assert isinstance(branch.expression, exp.Query)
            found, _ = _lineage(branch, branch.expression.named_selects[position])
            leaves.extend(found)
        return leaves, False
    projection = next((p for p in select.expressions if p.alias_or_name == name), None)
    if projection is None:
        raise ConfigError(f"cannot trace column {name!r} through the view's query")
    inner = projection.unalias()
    direct = isinstance(inner, exp.Column)
    leaves = []
    for column in inner.find_all(exp.Column):
        if not column.table:  # a lambda variable: no built input
            continue
        source = _source(scope, column)
        if isinstance(source, exp.Table):
            leaves.append((f"{source.db}.{source.name}", column.name))
        else:
            found, child_direct = _lineage(source, column.name)
            leaves.extend(found)
            direct = direct and child_direct
    return list(dict.fromkeys(leaves)), direct and len(leaves) == 1


def _source(scope: Scope, column: exp.Column) -> exp.Table | Scope:
    """The table or scope a qualified column reads, looking into scalar subqueries of the projection."""
    source = scope.sources.get(column.table)
    if isinstance(source, exp.Table | Scope):
        return source
    for child in scope.subquery_scopes:
        node: exp.Expr | None = column
        while node is not None and node is not child.expression:
            node = node.parent
        if node is not None:
            return _source(child, column)
    outer = scope.parent  # a correlated reference
    while outer is not None:
        found = outer.sources.get(column.table)
        if isinstance(found, exp.Table | Scope):
            return found
        outer = outer.parent
    raise ConfigError(f"cannot trace column {column.sql()!r} through the view's query")


@lru_cache(maxsize=4)
def _resolver(policies: Policies) -> TableFlagResolver:
    return TableFlagResolver(policies)
