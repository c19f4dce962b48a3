"""The one exception root, and a subclass for each thing a user would do about an error.

Every message says what is wrong, where, and how to fix it, and quotes the bad value.
The CLI catches :class:`GovLakeError` once, prints a one-line ``Error:`` and exits
non-zero (``exit_code``). Library errors from deltalake, duckdb and polars are
translated in :mod:`lake.boundary`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GovLakeError(Exception):
    """Root of every error GovLake raises on purpose."""

    exit_code = 1


class ConfigError(GovLakeError):
    """A settings, catalog, standards or policy file is wrong. ``location`` names file and key."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class EnvironmentProblem(GovLakeError):
    """The machine cannot run GovLake as installed: a package, version or filesystem problem."""


class ContractError(GovLakeError):
    """A source file breaks its catalog contract and was refused whole; nothing was written."""

    def __init__(self, message: str, *, file: str, columns: Iterable[str] = ()) -> None:
        self.file = file
        self.columns = list(columns)
        super().__init__(f"{file}: {message}")


class NotFound(GovLakeError):
    """A named thing (dataset, table, user, ticket...) does not exist."""


class PolicyDenied(GovLakeError):
    """A governed request was refused. Exit status 2, as for a refused query."""

    exit_code = 2

    def __init__(self, user: str, reason: str) -> None:
        self.user = user
        self.reason = reason
        super().__init__(f"refused for user {user!r}: {reason}")


class ConflictError(GovLakeError):
    """Concurrent writers kept conflicting past the retry bound; the command did nothing half-way."""

    exit_code = 3


class TableCorrupt(GovLakeError):
    """A Delta table cannot be read. Run `govlake doctor` for the fix."""


class StateError(GovLakeError):
    """An action does not fit the current state (for example resolving a closed ticket)."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
