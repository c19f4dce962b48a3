"""Read and validate the policy files: roles, users, grants, scopes, masks and table flags.

Policies are data under version control (``policies/*.toml``). :func:`load_policies` reads
them all and checks every reference between them (a user's roles and scope, a grant's
role); every error is a :class:`~govlake.errors.ConfigError` naming the file, the key
and the fix. What needs the governed views themselves (does a granted view exist, is a
revealed column in it, may a scoped user have an unscoped view) is checked where the
views are known, in :func:`views.masks.check_grants`.

>>> policies = load_policies()
>>> policies.user("hz_analyst").scope.division_prefix
'3301'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from govlake.errors import ConfigError, NotFound, did_you_mean
from lake.catalog.load import read_toml

POLICIES_DIR = Path(__file__).parent
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DIVISION_PREFIX = re.compile(r"^(\d{2}|\d{4}|\d{6})?$")
PI_LEVELS = ("none", "personal", "sensitive")
GRADES = ("core", "important", "general")
#: Treatments that are not mask kinds: shown as stored, or replaced by NULL.
PLAIN_TREATMENTS = ("clear", "hidden")
#: scrypt cost for new password hashes (2**14, 8, 1: about 50 ms, 16 MiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class Role:
    """A kind of user: its limits. Which views it may read is in :class:`Grant`."""

    name: str
    description: str
    row_limit: int
    time_limit_s: float
    open_data_only: bool = False
    #: decides sharing requests for the user's own department's data (lake/sharing.py)
    approves_sharing: bool = False


@dataclass(frozen=True)
class Scope:
    """A row scope: rows whose division code starts with ``division_prefix`` ('' = all)."""

    name: str
    title: str
    division_prefix: str


@dataclass(frozen=True)
class User:
    name: str
    title: str
    roles: tuple[str, ...]
    scope: Scope
    password_hash: str
    #: catalog department id (lake/catalog/departments.toml) the user acts for in sharing; None: the public
    department: str | None = None


@dataclass(frozen=True)
class ColumnGrant:
    """Columns of one view that a role sees beyond the default treatment, and why.

    ``reveal`` lifts hiding (the column's mask, if any, still applies); ``unmask`` shows the
    column as stored. ``basis`` is the legal basis or share condition, recorded in the
    column comment and the docs.
    """

    view: str
    reveal: frozenset[str] = frozenset()
    unmask: frozenset[str] = frozenset()
    basis: str = ""


@dataclass(frozen=True)
class Grant:
    """Role -> views, and the column grants on some of them."""

    role: str
    views: tuple[str, ...]
    columns: dict[str, ColumnGrant] = field(default_factory=dict)
    file: str = ""


@dataclass(frozen=True)
class MaskKind:
    name: str
    description: str


@dataclass(frozen=True)
class MaskRules:
    """How personal information is shown by default: a mask kind per data element or item."""

    kinds: dict[str, MaskKind]
    elements: dict[str, str]  # data element -> mask kind / clear / hidden
    items: dict[str, str]  # dataset.column -> mask kind / clear / hidden
    default: str = "hidden"  # for personal items whose element is not listed


@dataclass(frozen=True)
class TableFlags:
    """Flags for a built table whose TableSpec does not declare them (yet); same fields."""

    table: str
    derived_from: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pi: dict[str, str] = field(default_factory=dict)
    grades: dict[str, str] = field(default_factory=dict)
    masks: dict[str, str] = field(default_factory=dict)
    default_pi: str | None = None
    grade: str | None = None


@dataclass(frozen=True, eq=False)
class Policies:
    """Every policy file, validated. Compared and hashed by identity (it is loaded once)."""

    roles: dict[str, Role]
    scopes: dict[str, Scope]
    users: dict[str, User]
    grants: dict[str, Grant]  # role -> grant
    masks: MaskRules
    table_flags: dict[str, TableFlags]
    folder: Path = POLICIES_DIR

    def user(self, name: str) -> User:
        if name not in self.users:
            raise NotFound(f"no user {name!r} in {self.folder / 'users.toml'}{did_you_mean(name, self.users)}")
        return self.users[name]

    def roles_of(self, user: User) -> list[Role]:
        return [self.roles[name] for name in user.roles]

    def views_of(self, user: User) -> dict[str, ColumnGrant]:
        """Every view the user's roles grant, with the union of their column grants."""
        merged: dict[str, ColumnGrant] = {}
        for role in user.roles:
            grant = self.grants.get(role)
            if grant is None:
                continue
            for view in grant.views:
                extra = grant.columns.get(view, ColumnGrant(view))
                before = merged.get(view, ColumnGrant(view))
                basis = "；".join(b for b in (before.basis, extra.basis) if b)
                merged[view] = ColumnGrant(view, before.reveal | extra.reveal, before.unmask | extra.unmask, basis)
        return merged

    def approves_sharing(self, user: User) -> bool:
        """Whether the user decides sharing requests for their department's data (a role says so)."""
        return user.department is not None and any(role.approves_sharing for role in self.roles_of(user))

    def limits_of(self, user: User) -> tuple[int, float]:
        """(row limit, time limit in seconds): the most generous of the user's roles."""
        roles = self.roles_of(user)
        return max(r.row_limit for r in roles), max(r.time_limit_s for r in roles)


# --------------------------------------------------------------------------- passwords


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A password hash as stored in users.toml: ``scrypt$n$r$p$salt$hash`` (base64).

    >>> stored = hash_password("govlake-demo")
    >>> verify_password("govlake-demo", stored), verify_password("wrong", stored)
    (True, False)
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison)."""
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected),
                            maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(digest, expected)


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    if n < 2**14 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or len(salt) < 16 or len(digest) < 32:
        return None
    return n, r, p, salt, digest


# --------------------------------------------------------------------------- loading


def _keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r}{did_you_mean(key, allowed)}; allowed: {', '.join(sorted(allowed))}",
                              location=where)


def _get(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is not ...:
            return default
        raise ConfigError(f"missing required key {key!r}; add it", location=where)
    value = table[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ConfigError(f"{key!r} must be a number, got {value!r}", location=where)
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{key!r} must be a {names}, got {value!r}", location=where)
    return value


def _name(name: str, what: str, where: str) -> None:
    if not NAME.match(name):
        raise ConfigError(f"{what} name {name!r} must be lower_snake_case ASCII (a-z, 0-9, _)", location=where)


def _strings(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key!r} must be a list of strings, got {value!r}", location=where)
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise ConfigError(f"{key!r} lists {duplicates[0]!r} twice; remove one", location=where)
    return list(value)


def load_roles(path: Path) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for name, table in read_toml(path).items():
        where = f"{path}: [{name}]"
        _name(name, "role", where)
        if not isinstance(table, dict):
            raise ConfigError("a role is a table with description, row_limit and time_limit_s", location=where)
        _keys(table, {"description", "row_limit", "time_limit_s", "open_data_only", "approves_sharing"}, where)
        row_limit = _get(table, "row_limit", int, where)
        time_limit = float(_get(table, "time_limit_s", (int, float), where))
        if not 1 <= row_limit <= 10_000_000:
            raise ConfigError(f"row_limit must be between 1 and 10000000, got {row_limit}", location=where)
        if not 0 < time_limit <= 3600:
            raise ConfigError(f"time_limit_s must be > 0 and at most 3600, got {time_limit}", location=where)
        roles[name] = Role(name, _get(table, "description", str, where), row_limit, time_limit,
                           bool(_get(table, "open_data_only", bool, where, False)),
                           bool(_get(table, "approves_sharing", bool, where, False)))
    if not roles:
        raise ConfigError("no roles defined; add at least one [role] table", location=str(path))
    return roles


def load_scopes(path: Path) -> dict[str, Scope]:
    from lake.reference import division_names

    known = division_names()
    scopes: dict[str, Scope] = {}
    for name, table in read_toml(path).items():
        where = f"{path}: [{name}]"
        _name(name, "scope", where)
        _keys(table, {"name", "division_prefix"}, where)
        prefix = _get(table, "division_prefix", str, where)
        if not DIVISION_PREFIX.match(prefix):
            raise ConfigError(
                f"division_prefix {prefix!r} must be '' (national) or 2, 4 or 6 digits of a division code",
                location=where)
        if prefix and prefix.ljust(6, "0") not in known:
            raise ConfigError(
                f"division_prefix {prefix!r} is not a division: {prefix.ljust(6, '0')!r} is not in "
                "lake/reference_data/divisions.csv; use a province (2 digits), city (4) or county (6) code",
                location=where)
        scopes[name] = Scope(name, _get(table, "name", str, where), prefix)
    return scopes


def load_users(path: Path, roles: Mapping[str, Role], scopes: Mapping[str, Scope]) -> dict[str, User]:
    from lake.catalog import load_catalog

    departments = load_catalog().departments
    users: dict[str, User] = {}
    for name, table in read_toml(path).items():
        where = f"{path}: [{name}]"
        _name(name, "user", where)
        _keys(table, {"name", "roles", "scope", "password_hash", "department"}, where)
        user_roles = _strings(_get(table, "roles", list, where), "roles", where)
        if not user_roles:
            raise ConfigError("roles is empty; give the user at least one role", location=where)
        for role in user_roles:
            if role not in roles:
                raise ConfigError(f"role {role!r} is not defined in roles.toml{did_you_mean(role, roles)}",
                                  location=where)
        scope = _get(table, "scope", str, where)
        if scope not in scopes:
            raise ConfigError(f"scope {scope!r} is not defined in scopes.toml{did_you_mean(scope, scopes)}",
                              location=where)
        password_hash = _get(table, "password_hash", str, where)
        if _parse_hash(password_hash) is None:
            raise ConfigError(
                "password_hash must be scrypt$n$r$p$salt$hash (n >= 16384, salt >= 16 bytes); never store a "
                "plain password. Make one with: python -c \"from policies import hash_password; "
                "print(hash_password('...'))\"", location=where)
        open_only = [roles[r].open_data_only for r in user_roles]
        if any(open_only) and not all(open_only):
            raise ConfigError("an open-data-only role cannot be combined with other roles; give the user one kind",
                              location=where)
        department = _get(table, "department", str, where, None)
        if department is not None and department not in departments:
            raise ConfigError(f"department {department!r} is not in lake/catalog/departments.toml"
                              f"{did_you_mean(department, departments)}", location=where)
        if department is None and any(roles[r].approves_sharing for r in user_roles):
            raise ConfigError("a role that approves sharing needs the user's department (whose data they decide "
                              "on); add department = \"<id from lake/catalog/departments.toml>\"", location=where)
        users[name] = User(name, _get(table, "name", str, where), tuple(user_roles), scopes[scope], password_hash,
                           department)
    return users


def load_grants(path: Path, roles: Mapping[str, Role]) -> dict[str, Grant]:
    grants: dict[str, Grant] = {}
    for role, table in read_toml(path).items():
        where = f"{path}: [{role}]"
        if role not in roles:
            raise ConfigError(f"role {role!r} is not defined in roles.toml{did_you_mean(role, roles)}",
                              location=where)
        _keys(table, {"views", "columns"}, where)
        views = _strings(_get(table, "views", list, where), "views", where)
        columns: dict[str, ColumnGrant] = {}
        for index, entry in enumerate(_get(table, "columns", list, where, [])):
            entry_where = f"{path}: [[{role}.columns]] #{index + 1}"
            if not isinstance(entry, dict):
                raise ConfigError("each [[columns]] entry is a table with view, reveal/unmask and basis",
                                  location=entry_where)
            _keys(entry, {"view", "reveal", "unmask", "basis"}, entry_where)
            view = _get(entry, "view", str, entry_where)
            if view not in views:
                raise ConfigError(f"view {view!r} is not in this role's views; add it to views first",
                                  location=entry_where)
            if view in columns:
                raise ConfigError(f"view {view!r} has two [[columns]] entries; merge them", location=entry_where)
            reveal = frozenset(_strings(_get(entry, "reveal", list, entry_where, []), "reveal", entry_where))
            unmask = frozenset(_strings(_get(entry, "unmask", list, entry_where, []), "unmask", entry_where))
            if not reveal and not unmask:
                raise ConfigError("name at least one column in reveal or unmask", location=entry_where)
            both = sorted(reveal & unmask)
            if both:
                raise ConfigError(f"column {both[0]!r} is in both reveal and unmask; unmask already reveals it",
                                  location=entry_where)
            basis = _get(entry, "basis", str, entry_where).strip()
            if len(basis) < 8:
                raise ConfigError("basis must state the legal basis or share condition for naming these columns",
                                  location=entry_where)
            columns[view] = ColumnGrant(view, reveal, unmask, basis)
        grants[role] = Grant(role, tuple(views), columns, str(path))
    return grants


def load_masks(path: Path) -> MaskRules:
    from lake.catalog import load_catalog

    raw = read_toml(path)
    _keys(raw, {"kinds", "elements", "items", "default"}, str(path))
    kinds = {
        name: MaskKind(name, _get(table, "description", str, f"{path}: [kinds.{name}]"))
        for name, table in _get(raw, "kinds", dict, str(path)).items()
    }
    treatments = (*kinds, *PLAIN_TREATMENTS)
    catalog = load_catalog()

    def treatment(value: Any, where: str) -> str:
        if value not in treatments:
            raise ConfigError(f"{value!r} is not a mask kind{did_you_mean(str(value), treatments)}; use one of "
                              f"{', '.join(treatments)}", location=where)
        return str(value)

    elements: dict[str, str] = {}
    for element, value in _get(raw, "elements", dict, str(path)).items():
        where = f"{path}: [elements] {element}"
        if element not in catalog.elements:
            raise ConfigError(f"{element!r} is not a data element{did_you_mean(element, catalog.elements)}",
                              location=where)
        elements[element] = treatment(value, where)
    items: dict[str, str] = {}
    for item, value in _get(raw, "items", dict, str(path), {}).items():
        where = f"{path}: [items] {item!r}"
        dataset, _, column = item.partition(".")
        if dataset not in catalog.datasets:
            raise ConfigError(f"no dataset {dataset!r} in the catalog{did_you_mean(dataset, catalog.datasets)}",
                              location=where)
        if not column:
            raise ConfigError(f"{item!r} must be written dataset.column (an item or a projection column "
                              "named in lake/catalog/libraries.toml)", location=where)
        items[item] = treatment(value, where)
    default = treatment(_get(raw, "default", str, str(path), "hidden"), f"{path}: default")
    return MaskRules(kinds, elements, items, default)


def load_table_flags(path: Path, kinds: Mapping[str, MaskKind]) -> dict[str, TableFlags]:
    flags: dict[str, TableFlags] = {}
    treatments = (*kinds, *PLAIN_TREATMENTS)
    for table, spec in read_toml(path).items():
        where = f"{path}: [{table!r}]"
        if table.count(".") != 1:
            raise ConfigError("tables are named zone.table, e.g. 'base.credit_person'", location=where)
        _keys(spec, {"derived_from", "pi", "grades", "masks", "default_pi", "grade"}, where)
        derived = {
            column: tuple(_strings(inputs, f"derived_from.{column}", where))
            for column, inputs in _get(spec, "derived_from", dict, where, {}).items()
        }
        pi = _mapping(spec, "pi", PI_LEVELS, where)
        grades = _mapping(spec, "grades", GRADES, where)
        masks = _mapping(spec, "masks", treatments, where)
        default_pi = _get(spec, "default_pi", str, where, None)
        if default_pi is not None and default_pi not in PI_LEVELS:
            raise ConfigError(f"default_pi {default_pi!r} is not one of {', '.join(PI_LEVELS)}", location=where)
        grade = _get(spec, "grade", str, where, None)
        if grade is not None and grade not in GRADES:
            raise ConfigError(f"grade {grade!r} is not one of {', '.join(GRADES)}", location=where)
        flags[table] = TableFlags(table, derived, pi, grades, masks, default_pi, grade)
    return flags


def _mapping(spec: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str) -> dict[str, str]:
    values = _get(spec, key, dict, where, {})
    for column, value in values.items():
        if value not in allowed:
            raise ConfigError(f"{key}.{column} = {value!r} is not one of {', '.join(allowed)}"
                              f"{did_you_mean(str(value), allowed)}", location=where)
    return dict(values)


def load_policies_from(folder: Path) -> Policies:
    """Load and validate every policy file in ``folder`` (for tests and other deployments)."""
    roles = load_roles(folder / "roles.toml")
    scopes = load_scopes(folder / "scopes.toml")
    users = load_users(folder / "users.toml", roles, scopes)
    grants = load_grants(folder / "grants.toml", roles)
    masks = load_masks(folder / "masks.toml")
    flags_file = folder / "table_flags.toml"
    table_flags = load_table_flags(flags_file, masks.kinds) if flags_file.exists() else {}
    return Policies(roles, scopes, users, grants, masks, table_flags, folder)


@lru_cache(maxsize=1)
def load_policies() -> Policies:
    """The policies shipped in ``policies/`` (cached; validated on first load)."""
    return load_policies_from(POLICIES_DIR)
