"""The Python API for analysts: ``govlake.connect(user=...)`` opens a governed session.

>>> import govlake                                                      # doctest: +SKIP
>>> with govlake.connect(user="hz_analyst", home="govlake_home") as session:
...     session.sql("SELECT sex, count(*) AS persons FROM population GROUP BY sex")

The session answers only read-only SELECT queries over the views granted to the user,
with masks and row scopes inside those views; see docs/analysts.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govlake.home import Home
    from views.session import GovernedSession


def connect(*, user: str, home: Home | str | os.PathLike[str] | None = None) -> GovernedSession:
    """Open ``user``'s governed session on ``home`` (default: ``$GOVLAKE_HOME``, else ``./govlake_home``).

    ``.sql(query)`` returns a Polars DataFrame, ``.arrow(query)`` an Arrow table and
    ``.query(query)`` a result that also says whether the row limit cut it. A refused
    query raises :class:`~govlake.errors.PolicyDenied` with the reason.
    """
    from views.session import open_session

    return open_session(user, home=home)
