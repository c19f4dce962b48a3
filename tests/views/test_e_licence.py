"""The governed view ``e_licence``: ``holder_key`` is there for analysts, masked like ``holder_code``.

``holder_key`` is the holder's key in its base library (a resident ID from ``base.person_links``, or the
registered USCC), so an analyst can join a licence to its holder even when the code on the licence was
mistyped. For a person it is a resident ID and must be masked exactly as the code it comes from.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

import govlake
from govlake.home import Home
from lake import delta
from tests.transforms.test_e_licence_holders import licence_home
from tests.views.test_bypass import MASKED_ID
from tests.views.test_columns import flags_of
from views.session import GovernedSession

#: The licences the Hangzhou batch adds (tests/transforms/test_e_licence_holders.py ``_licence_file``).
ADDED = "1.2.156.3005.2.X.Y."


@pytest.fixture(scope="module")
def home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Home:
    """The demo home plus Hangzhou licences: an entity's with a wrong check character, a person's mistyped ID."""
    return licence_home(built_home, tmp_path_factory.mktemp("e-licence-view"))[0]


@pytest.fixture(scope="module")
def analyst(home: Home) -> Iterator[GovernedSession]:
    session = govlake.connect(user="hz_analyst", home=home)
    yield session
    session.close()


@pytest.fixture(scope="module")
def seen(analyst: GovernedSession, home: Home) -> pl.DataFrame:
    """What hz_analyst sees of each licence in scope, next to what the library stores for it."""
    shown = analyst.sql("SELECT licence_id, holder_kind, holder_code, holder_key, link_status_name FROM e_licence")
    stored = delta.read(home.table_path("base", "e_licence"),
                        columns=["licence_id", "holder_code", "holder_key", "link_status", "division"])
    assert shown.height == stored.filter(pl.col("division").str.starts_with("3301")).height
    return shown.join(stored, on="licence_id", suffix="_stored", how="inner", validate="1:1")


def test_holder_key_is_flagged_like_the_holder_code() -> None:
    columns = flags_of("e_licence")
    key, code = columns["holder_key"].flags, columns["holder_code"].flags
    assert (key.pi, key.grade, key.mask, key.datasets) == (code.pi, code.grade, code.mask, code.datasets)
    assert (key.pi, key.mask) == ("personal", "party_id")


def test_an_analyst_sees_a_persons_holder_key_masked(seen: pl.DataFrame) -> None:
    persons = seen.filter((pl.col("holder_kind") == "person") & pl.col("holder_key_stored").is_not_null())
    assert persons.height >= 3
    assert all(MASKED_ID.match(key) for key in persons["holder_key"])
    # The mask is of the linked resident ID (first 6, last 4), not of the code on the licence.
    expected = pl.col("holder_key_stored").str.slice(0, 6) + "********" + pl.col("holder_key_stored").str.slice(14)
    assert (persons["holder_key"] == persons.select(expected).to_series()).all()
    assert not persons["holder_key"].is_in(persons["holder_key_stored"].implode()).any()


def test_a_mistyped_id_reaches_the_analyst_as_its_holders_masked_key(seen: pl.DataFrame) -> None:
    """A licence base.person_links links by name and birth date has a key its code does not give."""
    mistyped = seen.filter(pl.col("licence_id") == f"{ADDED}T4").row(0, named=True)
    assert mistyped["link_status"] == "linked_probabilistic"
    assert mistyped["link_status_name"] == "已关联（代码未能精确关联，按姓名、出生日期等概率关联）"
    assert mistyped["holder_key_stored"] != mistyped["holder_code_stored"]
    key = mistyped["holder_key_stored"]
    assert mistyped["holder_key"] == f"{key[:6]}********{key[14:]}"


def test_an_entitys_registered_code_is_shown_as_stored(seen: pl.DataFrame) -> None:
    """A wrong check character on the licence: the analyst sees the registered code the entity is filed under."""
    entity = seen.filter(pl.col("licence_id") == f"{ADDED}T1").row(0, named=True)
    assert entity["link_status"] == "linked_check_char_wrong"
    assert entity["holder_key"] == entity["holder_key_stored"] != entity["holder_code_stored"]
    assert entity["holder_code"] == entity["holder_code_stored"]  # a letter-bearing code is no resident ID
