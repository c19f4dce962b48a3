"""Who may see what: roles, users, grants, row scopes and masks, as data files.

See :mod:`policies.load` and docs/governed-sql.md.
"""

from __future__ import annotations

from policies.load import (
    ColumnGrant,
    Grant,
    MaskRules,
    Policies,
    Role,
    Scope,
    TableFlags,
    User,
    hash_password,
    load_policies,
    load_policies_from,
    verify_password,
)

__all__ = [
    "ColumnGrant", "Grant", "MaskRules", "Policies", "Role", "Scope", "TableFlags", "User",
    "hash_password", "load_policies", "load_policies_from", "verify_password",
]
