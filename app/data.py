"""Every dashboard read goes through here: the signed-in user's governed session, with caches.

* :func:`lake_version` is a cheap stamp of the latest build (the build id from the build
  manifest, ``transforms.manifest.latest``). The manifest is re-read only when the
  ``system.builds`` log directory changes, so a refresh after a new build shows new data.
* :func:`session` is the user's :class:`~views.session.GovernedSession` (``govlake.connect``),
  one per user and build, shared by that user's browser sessions (``st.cache_resource``).
* :func:`query` runs one governed SQL query and caches the result per
  ``(user, lake version, sql)`` (``st.cache_data``). The cache key always holds the user,
  so one user's result is never served to another, and the lake version, so a new build
  is never hidden by an old result. A cache hit is not audited again: the first run of
  that text by that user on that build is.

Nothing here, and nothing in ``app/pages``, reads a Delta table: the only lake read that
is not a governed query is the build manifest (build id and reference date), which holds
no records.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
import streamlit as st

from govlake.errors import GovLakeError
from govlake.home import Home

if TYPE_CHECKING:
    from views.session import GovernedSession

#: The environment variable ``govlake app`` uses to hand the home to the Streamlit process.
HOME_ENV = "GOVLAKE_HOME"
#: A division code as the marts and views hold it (GB/T 2260, six digits).
DIVISION_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class LakeVersion:
    """The build the dashboards show: the home, its build id and its reference date (the data date)."""

    home: str
    build_id: int
    as_of: dt.date

    @property
    def key(self) -> str:
        """The cache key: a new build, or another home, never reuses a cached result."""
        return f"{self.home}#build-{self.build_id}"


def home() -> Home:
    """The home chosen by ``govlake app --home`` (through ``GOVLAKE_HOME``), else ``./govlake_home``."""
    return Home.resolve(os.environ.get(HOME_ENV) or None)


def _builds_stamp(root: str) -> str:
    """Changes whenever a build commits its manifest row: the listing of the manifest's Delta log."""
    log = os.path.join(root, "lake", "system", "builds", "_delta_log")
    try:
        names = sorted(name for name in os.listdir(log) if name.endswith(".json"))
    except OSError:
        return ""
    return names[-1] if names else ""


@st.cache_data(show_spinner=False, max_entries=8)
def _manifest(root: str, stamp: str) -> LakeVersion | None:
    from transforms.manifest import latest

    if not stamp:
        return None
    manifest = latest(Home.resolve(root))
    if manifest is None:
        return None
    return LakeVersion(root, manifest.build_id, manifest.as_of)


def lake_version() -> LakeVersion | None:
    """The latest build of the home, or None when nothing has been built there yet."""
    root = str(home().root)
    _warm_up()
    return _manifest(root, _builds_stamp(root))


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread:
    """Once per server process, on its first page (the sign-in page): :func:`views.warmup.warm_up` in a thread.

    It loads what the first governed session needs while the user types the password, which
    takes about 1 s off the first page after signing in (docs/benchmarks.md, "Dashboards").
    """
    def run() -> None:
        try:
            from views.warmup import warm_up

            warm_up()
        except Exception:  # best effort: the first real query reports any problem itself
            pass

    thread = threading.Thread(target=run, name="govlake-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False, max_entries=16)
def session(user: str, version: str) -> GovernedSession:
    """``user``'s governed session for ``version`` (:attr:`LakeVersion.key`; a new build opens a new one)."""
    import govlake

    return govlake.connect(user=user, home=version.split("#", 1)[0])


def _build_key(key: str) -> str:
    """The build part of a :attr:`Reader.key` (sessions are per build; results per access too)."""
    return key.split("#access-", 1)[0]


@st.cache_data(show_spinner=False, max_entries=2048)
def query(user: str, version: str, sql: str) -> pl.DataFrame:
    """Run ``sql`` as ``user`` through the governed session (masked, scoped, audited); cached.

    Decimal sums come back as 64-bit integers or floats, so that charts and formatting see
    plain numbers.
    """
    frame = session(user, _build_key(version)).sql(sql)
    decimals = {name: dtype for name, dtype in frame.schema.items() if isinstance(dtype, pl.Decimal)}
    if decimals:
        frame = frame.with_columns(
            pl.col(name).cast(pl.Int64 if not dtype.scale else pl.Float64) for name, dtype in decimals.items()
        )
    return frame


@st.cache_data(show_spinner=False, max_entries=64)
def granted_views(user: str, version: str) -> tuple[str, ...]:
    """The views granted to ``user`` that this home has built."""
    return tuple(sorted(session(user, _build_key(version)).views()))


@st.cache_data(show_spinner=False, max_entries=256)
def column_treatments(user: str, version: str, view: str) -> dict[str, str]:
    """How each column of ``view`` is shown to ``user``: clear, hidden or a mask kind."""
    return session(user, _build_key(version)).columns(view)


def literal(code: str) -> str:
    """A division code as a SQL literal, refusing anything that is not six digits."""
    if not DIVISION_CODE.match(code):
        raise GovLakeError(f"not a division code: {code!r}")
    return f"'{code}'"


@dataclass(frozen=True)
class Reader:
    """What a page needs to read: the signed-in user and the build, with shortcuts to the caches."""

    user: str
    version: LakeVersion

    @property
    def key(self) -> str:
        """The cache key for this user's reads: the build, and what the user may see now.

        A sharing grant, its revocation or expiry, or an objection changes what the user sees
        without a new build; the session's access stamp changes with them, so a cached answer
        of a revoked grant is never served again.
        """
        return f"{self.version.key}#access-{session(self.user, self.version.key).access_stamp()}"

    def sql(self, text: str) -> pl.DataFrame:
        """One governed, cached query."""
        return query(self.user, self.key, text)

    def has(self, *views: str) -> bool:
        """Whether every one of ``views`` is granted to the user and built."""
        granted = granted_views(self.user, self.key)
        return all(view in granted for view in views)

    def treatments(self, view: str) -> dict[str, str]:
        return column_treatments(self.user, self.key, view)

    @property
    def as_of(self) -> dt.date:
        return self.version.as_of
