"""The department data generator: realistic exports of 13 catalog datasets, and their truth.

>>> from pathlib import Path
>>> from govlake.generate import generate, MessRates
>>> summary = generate(Path("exports"), persons=2_000, seed=7, rates=MessRates().scaled(0))  # doctest: +SKIP

See :mod:`govlake.generate.pipeline` for the steps, :mod:`govlake.generate.mess` for the
defects, and docs/data-sources.md for where the reference figures come from.
"""

from __future__ import annotations

from govlake.generate.dates import AS_OF
from govlake.generate.mess import KINDS, MessRates
from govlake.generate.pipeline import GenerateSummary, OutputFile, generate

__all__ = ["AS_OF", "KINDS", "GenerateSummary", "MessRates", "OutputFile", "generate"]
