"""Load, ahead of the first governed query, what every governed session of a process shares.

A process that opens its first governed session pays, once, for importing the guard and the
view machinery, parsing the shipped views, checking every grant against them, and DuckDB's
first parse (which imports pandas to bind a parameter). In the dashboards' server that is
about 1 s of the first page after signing in (docs/benchmarks.md, "Dashboards"). The app calls
:func:`warm_up` in a background thread when it first serves the sign-in page, so that work is
done while the user types the password. Nothing here reads a table or opens a user's session.

>>> warm_up()   # doctest: +SKIP
"""

from __future__ import annotations


def warm_up() -> None:
    """Import and cache what :func:`views.session.open_session` needs before any user is known."""
    import pandas  # noqa: F401  - DuckDB binds the guard's parameter through it on the first parse

    from policies import load_policies
    from views import session
    from views.definitions import shipped_views
    from views.guard import check

    policies = load_policies()
    shipped_views()
    session._checked_grants(policies)  # grants x views, once per process (views/session.py)
    check("SELECT 1 AS warm_up", user="warm_up", views={})  # sqlglot and DuckDB's parser, no table
