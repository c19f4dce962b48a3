"""The credit page's entity profile lists every e-licence of the entity, including one filed with a wrong
check character (docs/e-licence.md): it filters on the holder's key in the legal-entity library, not the code
as written on the licence."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

from govlake.home import Home
from lake import delta
from tests.app.conftest import home_for_the_app
from tests.app.test_details import run_page
from tests.transforms.test_e_licence_holders import licence_home

ADDED = "1.2.156.3005.2.X.Y."


@pytest.fixture(scope="module")
def home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """The demo home plus Hangzhou licences of a Hangzhou entity, one with a wrong check character;
    ``GOVLAKE_HOME`` points at it while the module's tests run."""
    built, _ = licence_home(built_home, tmp_path_factory.mktemp("credit-licences"))
    with home_for_the_app(built) as home:
        yield home


def test_the_entity_profile_lists_a_licence_filed_with_a_wrong_check_character(home: Home) -> None:
    licences = delta.read(home.table_path("base", "e_licence"))
    wrong = licences.filter(pl.col("licence_id") == f"{ADDED}T1").row(0, named=True)
    uscc = wrong["holder_key"]
    assert wrong["link_status"] == "linked_check_char_wrong" and wrong["holder_code"] != uscc
    mine = licences.filter((pl.col("holder_kind") == "entity") & (pl.col("holder_key") == uscc))
    assert mine.height > licences.filter(pl.col("holder_code") == uscc).height  # what the code alone finds

    at = run_page("hz_analyst", "pages/credit.py", {"credit_search": uscc})
    assert at.selectbox(key="credit_entity_choice").value == uscc
    listed = [frame for frame in (df.value for df in at.dataframe) if "licence_no" in frame.columns]
    assert listed, "the profile shows a licence table"
    assert sorted(listed[0]["licence_no"]) == sorted(mine["licence_no"].to_list())
    assert wrong["licence_no"] in set(listed[0]["licence_no"])
    assert any(caption.value == f"电子证照 {mine.height} 张" for caption in at.caption)
