"""GovLake: a lakehouse for the integrated government big-data system.

``govlake.connect(user=...)`` opens a governed SQL session (:mod:`govlake.api`); it is
imported lazily so that ``import govlake`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govlake.api import connect

__all__ = ["connect"]


def __getattr__(name: str) -> Any:
    if name == "connect":
        from govlake.api import connect

        return connect
    raise AttributeError(f"module 'govlake' has no attribute {name!r}")
