"""One small generated export set per test session, with and without mess."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.generate import GenerateSummary, MessRates, generate

PERSONS = 4_000


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    """Exports with the default mess (twice the default rates, so every kind shows up)."""
    return generate(tmp_path_factory.mktemp("messy"), persons=PERSONS, seed=42, rates=MessRates().scaled(2))


@pytest.fixture(scope="session")
def clean(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    """Exports with every defect rate at zero."""
    return generate(tmp_path_factory.mktemp("clean"), persons=PERSONS, seed=42, rates=MessRates().scaled(0))


def files_of(summary: GenerateSummary, dataset: str) -> list[Path]:
    return [summary.out / o.name for o in summary.outputs if o.dataset == dataset]
