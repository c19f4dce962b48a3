"""Quality detection scored against the generator's truth: precision and recall at least 99%.

Held at the demo scale of the shared test home (5,000 persons, every defect kind injected); the
figures at one million persons are in docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from govlake.cli import main
from govlake.home import Home
from tests.conftest import copy_home
from transforms.quality.detection import KIND_DIMENSIONS, detection
from transforms.quality.run import run
from transforms.score import score

MIN_PRECISION = 0.99
MIN_RECALL = 0.99


@pytest.fixture(scope="module")
def checked_home(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("detection") / "home"
    copy_home(built_home.root, root, "cache", "locks")
    home = Home(root)
    run(home)
    return home


@pytest.fixture(scope="module")
def defects(checked_home: Home) -> pl.DataFrame:
    return pl.read_parquet(checked_home.exports / "truth" / "defects.parquet")


def test_precision_and_recall_are_at_least_99_percent(checked_home: Home, defects: pl.DataFrame) -> None:
    figures = detection(checked_home, defects)
    assert figures["defect_cells"] > 1000 and figures["predicted_cells"] > 1000
    assert figures["precision"] >= MIN_PRECISION, figures["false_positives_by_rule"]
    assert figures["recall"] >= MIN_RECALL, figures["missed_by_field"]


def test_every_defect_kind_maps_to_a_dimension_and_is_found_there(checked_home: Home, defects: pl.DataFrame) -> None:
    from govlake.generate.mess import KINDS

    assert set(KINDS) == set(KIND_DIMENSIONS)
    figures = detection(checked_home, defects)
    by_kind = {row["kind"]: row for row in figures["by_kind"]}
    assert set(by_kind) == set(KINDS), "the demo injects every kind"
    for kind, row in by_kind.items():
        assert row["dimension"] == KIND_DIMENSIONS[kind]
        # Found, and found by a rule of the dimension the kind belongs to.
        assert row["found_by_dimension"] >= 0.95 * row["defects"], (kind, row)


def test_the_figures_move_with_the_truth(checked_home: Home, defects: pl.DataFrame) -> None:
    """An unflagged defect lowers recall by one cell; a forgotten defect lowers precision."""
    base = detection(checked_home, defects)
    first = defects.row(0, named=True)
    extra = pl.DataFrame([{**first, "row_number": 999_999, "kind": "missing_value"}], schema=defects.schema)
    more = detection(checked_home, pl.concat([defects, extra]))
    assert more["defect_cells"] == base["defect_cells"] + 1
    assert more["true_positive_cells"] == base["true_positive_cells"]
    assert more["recall"] < base["recall"] or base["recall"] == 0
    flagged = defects.filter(pl.col("kind") == "bad_check_char").head(5)
    fewer = detection(checked_home, defects.join(flagged, on=list(defects.columns), how="anti", nulls_equal=True))
    assert fewer["true_positive_cells"] == base["true_positive_cells"] - 5
    assert fewer["precision"] < base["precision"]


def test_score_reports_quality_detection(checked_home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    result = score(checked_home)
    figures = result.as_dict()["quality_detection"]
    assert figures["precision"] >= MIN_PRECISION and figures["recall"] >= MIN_RECALL
    assert main(["--home", str(checked_home.root), "score"]) == 0
    text = capsys.readouterr().out
    assert "Quality detection against truth/defects.parquet" in text and "late_record" in text


def test_without_a_quality_run_score_says_so(built_home: Home, tmp_path: Path) -> None:
    root = tmp_path / "home"
    copy_home(built_home.root, root, "cache", "locks")
    figures = score(Home(root)).as_dict()["quality_detection"]
    assert "govlake quality run" in figures["note"]
