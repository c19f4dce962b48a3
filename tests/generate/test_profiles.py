"""The mess profiles agree with the catalog and respect the authoritative sources."""

from __future__ import annotations

from govlake.generate.mess import KINDS
from govlake.generate.pipeline import SOURCES
from govlake.generate.profiles import PROFILES
from lake.catalog import load_catalog

CATALOG = load_catalog()


def test_every_dataset_has_a_profile_and_a_source():
    assert set(PROFILES) == set(CATALOG.datasets)
    assert {source.__name__ for source in SOURCES} == set(CATALOG.datasets)


def test_profiles_name_real_columns_and_kinds():
    for dataset_id, profile in PROFILES.items():
        columns = set(CATALOG.dataset(dataset_id).columns)
        assert set(profile.cells) <= columns
        assert set(profile.person_of) <= columns
        assert {c for cols in profile.protect.values() for c in cols} <= columns
        assert {k for kinds in profile.cells.values() for k in kinds} | set(profile.rows) <= set(KINDS)


def test_keys_never_go_missing():
    for dataset_id, profile in PROFILES.items():
        for column in CATALOG.dataset(dataset_id).key:
            assert not {"missing_value", "id_missing"} & set(profile.cells.get(column, ())), (dataset_id, column)


def test_authoritative_sources_only_get_formatting_mess():
    formatting = {"whitespace", "fullwidth", "date_format", "lowercase_x"}
    for column, kinds in PROFILES["hukou"].cells.items():
        if column in {"resident_id", "name", "sex", "birth_date", "hukou_division", "residence_division"}:
            assert set(kinds) <= formatting, column
    for column in ("uscc", "entity_name", "entity_type", "established_date", "status", "division"):
        assert set(PROFILES["market_entities"].cells.get(column, ())) <= formatting, column
