"""Return flow under a sharing grant: read the slice through the grantee's governed session.

:func:`lake.handback.export` with a grant reads each table through this reader, so a package
sent under a grant holds exactly what the grant shows its holder: the approved columns, masked
or unmasked as approved, inside the approved row scope (the view ``shared_<target>``). Every
read is a governed query of the grantee and is audited as such, so it counts as use of the
grant in the sharing report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govlake.errors import PolicyDenied
from govlake.home import Home

if TYPE_CHECKING:
    import polars as pl

    from lake.handback import HandbackTable, Reader


def grant_reader(home: Home, grant_id: str) -> Reader:
    """A :data:`lake.handback.Reader` that reads ``shared_<target>`` as the holder of ``grant_id``."""
    import polars as pl

    from lake import sharing
    from views.session import open_session, table_locations
    from views.shares import VIEW_PREFIX

    grant = sharing.get_grant(home, grant_id)

    def read(spec: HandbackTable, prefix: str, version: int | None) -> tuple[pl.DataFrame, int]:
        view = f"{VIEW_PREFIX}{grant.target}"
        with open_session(grant.user, home=home) as session:
            if view not in session.views():
                raise PolicyDenied(grant.user, f"grant {grant_id} is not usable now (no view {view} in the session); "
                                   "`govlake share list` shows its state")
            if not prefix.isdigit():
                raise ValueError(f"not a division prefix: {prefix!r}")
            result = session.query(f"SELECT * FROM {view} WHERE {spec.division_column} LIKE '{prefix}%'")
            if result.truncated:
                raise PolicyDenied(grant.user, f"the slice has more rows than the row limit of {grant.user} "
                                   f"({result.row_limit:,}); return a narrower division")
        frame = pl.from_arrow(result.table)
        assert isinstance(frame, pl.DataFrame)
        read_version = table_locations(home, [spec.table])[spec.table].version
        return frame, int(read_version if read_version is not None else -1)

    return read
