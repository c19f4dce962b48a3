"""SIGKILL the real CLI during ingest, build (first, incremental, full rebuild), publish and quality run.

The fast subset runs in ``make test``: on a tiny home, each command is killed at a random
fault point, its re-run is killed early too, and a third run must finish the work exactly
(:data:`FAST_KILLS` kills per command). The full set (:data:`FULL_KILLS` separate kills per
command, 2,000 persons, alternately at a fault point and after a random delay) is marked
``faults`` and runs in ``make test-faults``. See tests/faults/harness.py for what "recover exactly" checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import harness
from tests.faults.conftest import FAST_KILLS, FULL_KILLS, OUTCOMES, SEED, Lab

SCENARIOS = ("ingest", "build-full", "build-incremental", "rebuild", "publish", "quality")
#: The fast subset leaves out the first build: a full rebuild writes the same tables the same way.
FAST_SCENARIOS = tuple(name for name in SCENARIOS if name != "build-full")


def _reference(lab: Lab, name: str) -> harness.Reference:
    reference = lab.reference(name)
    assert reference.points, f"{name} passed no fault point: the kill points are not wired"
    return reference


def _assert_exact(name: str, outcomes: list[harness.Outcome]) -> None:
    OUTCOMES.extend(outcomes)
    failed = [f"{o.how}: " + "; ".join(o.problems) for o in outcomes if o.killed and not o.exact]
    assert not failed, f"{name}: {len(failed)} kill sequence(s) did not recover exactly:\n" + "\n".join(failed)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAST_SCENARIOS)
def test_a_command_killed_twice_recovers_exactly(fast_lab: Lab, name: str, tmp_path: Path) -> None:
    """The fast subset: the command is killed, its re-run is killed too, and a third run finishes."""
    outcome = harness.repeated_kills(_reference(fast_lab, name), tmp_path, seed=SEED)
    assert outcome.kills >= FAST_KILLS - 1, f"only {outcome.kills} of the runs were killed ({outcome.how})"
    _assert_exact(name, [outcome])


@pytest.mark.faults
@pytest.mark.parametrize("name", SCENARIOS)
def test_twenty_kills_per_command_recover_exactly(full_lab: Lab, name: str, tmp_path: Path) -> None:
    outcomes = harness.campaign(_reference(full_lab, name), tmp_path, kills=FULL_KILLS, seed=SEED)
    killed = sum(o.kills for o in outcomes)
    assert killed >= FULL_KILLS, f"only {killed} of {len(outcomes)} runs were killed before they finished"
    _assert_exact(name, outcomes)
