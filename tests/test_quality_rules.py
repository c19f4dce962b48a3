"""Quality rules: derived from the catalog and data standards; declared rules validated at load.

The derivation tests change the catalog (a copy) and check the rules follow; the load tests
break ``quality_rules.toml`` (a copy) one way at a time and check the error names the file, the
key and the fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govlake.errors import ConfigError
from lake.catalog import load_catalog
from lake.catalog.libraries import load_libraries, load_libraries_from
from lake.catalog.load import CATALOG_DIR, STANDARDS_DIR, load_catalog_from
from lake.catalog.quality import RULES_FILE, QualityRules, load_quality_rules, load_quality_rules_from
from transforms.quality.derive import DIMENSIONS, STAGES, derive


def by_id(rules: tuple) -> dict:  # type: ignore[type-arg]
    return {rule.id: rule for rule in rules}


def test_shipped_rules_load_and_cover_every_dimension_and_stage() -> None:
    rules = derive(load_catalog(), load_libraries(), load_quality_rules())
    ids = [rule.id for rule in rules]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    assert {rule.dimension for rule in rules} == set(DIMENSIONS)
    assert {rule.stage for rule in rules} == set(STAGES)


def test_every_item_gets_validity_and_format_rules_from_its_data_element() -> None:
    catalog = load_catalog()
    rules = by_id(derive(catalog, load_libraries(), load_quality_rules()))
    for dataset in catalog.datasets.values():
        for item in dataset.items:
            assert rules[f"validity.element.{dataset.id}.{item.column}"].stage == "during"
            assert rules[f"validity.format.{dataset.id}.{item.column}"].dimension == "validity"
            required = f"completeness.item.{dataset.id}.{item.column}"
            assert (required in rules and rules[required].required) == item.required
        # uniqueness from the key, freshness from the update cycle, contract from ingest
        assert rules[f"uniqueness.key.{dataset.id}"].dataset == dataset.id
        assert rules[f"timeliness.cycle.{dataset.id}"].department == dataset.provider.id
        assert rules[f"contract.parse.{dataset.id}"].stage == "before"


def test_consistency_rules_follow_one_source_per_data_item() -> None:
    catalog, libraries = load_catalog(), load_libraries()
    rules = by_id(derive(catalog, libraries, load_quality_rules()))
    for library in libraries.values():
        for attribute in library.attributes:
            rule = rules.get(f"consistency.{library.id}.{attribute.name}")
            compared = attribute.compare and len(attribute.sources) > 1
            assert (rule is not None) == compared, attribute.name
            if rule is not None:  # owned by the department of the authoritative source
                assert rule.department == catalog.dataset(attribute.sources[0].dataset).provider.id
    assert rules["consistency.population.name"].department == "public_security"
    assert "consistency.population.marital_status" not in rules  # compare = false: sources legitimately differ


def test_derivation_follows_a_catalog_change(tmp_path: Path) -> None:
    """Making an item required in the catalog adds its completeness rule; no code changes."""
    ignore = shutil.ignore_patterns("*.py", "__pycache__")
    shutil.copytree(CATALOG_DIR, tmp_path / "catalog", ignore=ignore)
    shutil.copytree(STANDARDS_DIR, tmp_path / "standards", ignore=ignore)
    entry = tmp_path / "catalog" / "datasets" / "tax_credit.toml"
    text = entry.read_text(encoding="utf-8")
    old = 'element = "date", description'
    assert text.count(old) == 1
    entry.write_text(text.replace(old, 'element = "date", required = true, description'), encoding="utf-8")
    catalog = load_catalog_from(tmp_path / "catalog", tmp_path / "standards")
    libraries = load_libraries_from(tmp_path / "catalog" / "libraries.toml", catalog)
    declared = load_quality_rules_from(RULES_FILE, catalog, libraries)
    before = by_id(derive(load_catalog(), load_libraries(), load_quality_rules()))
    after = by_id(derive(catalog, libraries, declared))
    assert "completeness.item.tax_credit.rated_date" not in before
    assert after["completeness.item.tax_credit.rated_date"].required


def test_declared_rules_become_rules() -> None:
    declared = load_quality_rules()
    rules = by_id(derive(load_catalog(), load_libraries(), declared))
    assert rules["referential.legal_rep_in_population"].library == "population"
    assert rules["completeness.item.market_entities.closed_date.when_status"].when is not None
    assert rules["timeliness.late.births"].column == "birth_date"
    assert rules["validity.range.births_weight.birth_weight_g"].dimension == "validity"
    assert declared.threshold("hukou") == 0.99 and declared.threshold("births") == declared.default_threshold


def test_scope_limits_dataset_rules() -> None:
    rules = derive(load_catalog(), load_libraries(), load_quality_rules(), {"births"})
    assert {rule.dataset for rule in rules} == {"births", None}  # None: library consistency rules


# --- a bad rules file fails at load, naming the file and the key -------------------------------

BROKEN = [
    # (what, old text, new text, words the message must contain)
    ("unknown column", 'columns = ["taxpayer_name", "tax_authority"]', 'columns = ["taxpayer_nam", "tax_authority"]',
     ["[expected.tax_credit] columns", "taxpayer_nam", "did you mean 'taxpayer_name'"]),
    ("unknown data element", 'dataset = "marriages"\nelement = "date"', 'dataset = "marriages"\nelement = "dates"',
     ["[range.marriages_dates] element", "no data element 'dates'", "data_elements.toml"]),
    ("unknown dataset", 'dataset = "tax_credit"\ncolumns = ["taxpayer_name"', 'dataset = "tax_credits"\ncolumns = '
     '["taxpayer_name"', ["[expected.tax_credit] dataset", "tax_credits", "did you mean 'tax_credit'"]),
    ("unknown reference column", 'column = "legal_rep_id"\nlibrary = "population"\ndescription = "市场主体',
     'column = "legal_rep"\nlibrary = "population"\ndescription = "市场主体',
     ["[reference.legal_rep_in_population] column", "'legal_rep'"]),
    ("unknown library", 'library = "legal_entity"\ndescription = "纳税',
     'library = "legal_entities"\ndescription = "纳税', ["[reference.taxpayer_in_legal_entity] library",
                                                         "legal_entities"]),
    ("name instead of code", 'in = ["2", "3"] }\ndescription = "吊销', 'in = ["吊销", "3"] }\ndescription = "吊销',
     ["[expected.market_entities_closed] when.in", "write its code '2'"]),
    ("range on text", 'columns = ["birth_weight_g"]', 'columns = ["name"]',
     ["[range.births_weight] columns", "dates or to numbers"]),
    ("late event not a date", 'event = "birth_date"', 'event = "name"', ["[late.births] event", "not a date item"]),
    ("threshold out of range", "hukou = 0.99", "hukou = 99", ["[thresholds] hukou", "between 0 and 1"]),
    ("unknown key", 'dataset = "births"\nevent', 'dataset = "births"\nevnt = "x"\nevent',
     ["[late.births] evnt", "did you mean 'event'"]),
    ("unknown section", "[thresholds]", "[threshold]", ["[threshold]", "did you mean 'thresholds'"]),
]


@pytest.mark.parametrize(("what", "old", "new", "words"), BROKEN, ids=[case[0] for case in BROKEN])
def test_a_bad_rule_fails_at_load_naming_file_and_key(tmp_path: Path, what: str, old: str, new: str,
                                                      words: list[str]) -> None:
    text = RULES_FILE.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    broken = tmp_path / "quality_rules.toml"
    broken.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_quality_rules_from(broken, load_catalog(), load_libraries())
    message = str(caught.value)
    assert str(broken) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_the_shipped_file_is_what_loads() -> None:
    rules = load_quality_rules()
    assert isinstance(rules, QualityRules) and rules.file == str(RULES_FILE)
    assert rules.expected and rules.ranges and rules.late and rules.references
