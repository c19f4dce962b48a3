"""``generate()``: department exports plus their truth, from one seed.

The pipeline is data: :data:`SOURCES` lists one builder per catalog dataset (each a
:class:`Source`), and every export goes through the same three steps: inject the
dataset's mess (:mod:`~govlake.generate.mess`, :mod:`~govlake.generate.profiles`), lay
its rows out in files, write each file in the catalog's format
(:mod:`~govlake.generate.writers`). The truth is written last.

File names fill the catalog's ``file_pattern`` with the export date: the reference date
``20261120``, or ``20261113`` for the earlier file of the event datasets (births, deaths,
marriages), whose later file also carries late records. The 双公示 files add the
issuing department's short name. The HRSS SQLite database is read in place (logical
access), so it is a database file, ``人社_社保参保.sqlite``, not a dated export.

Nothing reads the clock or the environment: the same seed, persons and rates give
byte-identical files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from govlake.errors import ConfigError, EnvironmentProblem
from govlake.generate.admin_licences import admin_licences
from govlake.generate.admin_penalties import admin_penalties
from govlake.generate.births import births
from govlake.generate.dates import AS_OF
from govlake.generate.deaths import deaths
from govlake.generate.dishonest_debtors import dishonest_debtors
from govlake.generate.e_licences import e_licences
from govlake.generate.export import Export
from govlake.generate.hukou import hukou
from govlake.generate.land_parcels import land_parcels
from govlake.generate.market_entities import market_entities
from govlake.generate.marriages import marriages
from govlake.generate.mess import EARLY_CUTOFF, MessRates, inject
from govlake.generate.profiles import PROFILES
from govlake.generate.randomness import stream
from govlake.generate.social_insurance import social_insurance
from govlake.generate.social_orgs import social_orgs
from govlake.generate.tax_credit import tax_credit
from govlake.generate.truth import DEFECT_COLUMNS, locate_defects, write_truth
from govlake.generate.world import World, world
from govlake.generate.writers import LINE_FORMATS, WRITERS

if TYPE_CHECKING:
    import polars as pl

    from lake.catalog import Dataset

TRUTH_FOLDER = "truth"
GENERATOR_VERSION = 1
MIN_PERSONS = 100


class Source(Protocol):
    """A builder: the world in, one dataset's clean records out (none if there is nothing to report)."""

    def __call__(self, world: World) -> list[Export]: ...


#: One builder per catalog dataset, in the order the files are written.
SOURCES: tuple[Source, ...] = (
    hukou, births, deaths, marriages, social_insurance, market_entities, social_orgs, tax_credit,
    dishonest_debtors, admin_licences, admin_penalties, e_licences, land_parcels,
)


@dataclass(frozen=True)
class OutputFile:
    dataset: str
    name: str
    rows: int


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote. ``files`` counts the export files (truth not included)."""

    out: Path
    truth: Path
    as_of: dt.date
    persons: int
    seed: int
    files: int
    outputs: tuple[OutputFile, ...]
    defects: int
    stale: tuple[str, ...] = ()  # files in ``out`` matching a catalog pattern that this run did not write

    def rows_by_dataset(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for output in self.outputs:
            totals[output.dataset] = totals.get(output.dataset, 0) + output.rows
        return totals


def _stamp(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def file_name(dataset: Dataset, part: str, phase: str) -> str:
    """The export file name: the catalog pattern filled with part and date."""
    if dataset.format == "sqlite":
        return dataset.file_pattern.replace("*", "")
    stamp = _stamp(EARLY_CUTOFF if phase == "early" else AS_OF)
    return dataset.file_pattern.replace("*", f"{part}_{stamp}" if part else stamp)


def lay_out(dataset: Dataset, export: Export, frame: pl.DataFrame, *, phased: bool) -> list[tuple[str, pl.DataFrame]]:
    """Split rows into files (by department part, and by phase when ``phased``) and order them.

    A phased dataset always gets both its earlier and its later file, even if one is empty.
    """
    import polars as pl

    part = pl.col(export.split) if export.split else pl.lit("")
    parts = sorted(frame.select(part.alias("part")).unique()["part"].to_list()) or [""]
    phases = ("early", "later") if phased else ("",)
    files = []
    for part_value in parts:
        for phase in phases:
            rows = frame.filter((part == part_value) & (pl.col("_phase") == phase)).sort(["_pos", "_rid"])
            files.append((file_name(dataset, part_value, phase), rows))
    return files


def _check_out(out: Path) -> Path:
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / TRUTH_FOLDER).mkdir(exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot create the output folder {out} ({exc.strerror}); choose a writable folder with --out"
        ) from exc
    return out


def generate(out: Path, *, persons: int = 100_000, seed: int = 42, rates: MessRates | None = None) -> GenerateSummary:
    """Write department exports for ``persons`` synthetic people into ``out``, truth in ``out/truth``.

    Existing files of the same names are replaced; other files are left alone (those that
    look like exports are listed in :attr:`GenerateSummary.stale`).

    >>> summary = generate(Path("exports"), persons=2_000, seed=7)  # doctest: +SKIP
    >>> summary.rows_by_dataset()["hukou"]  # doctest: +SKIP
    2010
    """
    import fnmatch

    import polars as pl

    if persons < MIN_PERSONS:
        raise ConfigError(f"persons must be at least {MIN_PERSONS}, got {persons}; pass a larger --persons",
                          location="generate --persons")
    rates = rates or MessRates()
    out = _check_out(out)
    drawn = world(seed, persons)
    outputs: list[OutputFile] = []
    defects: list[pl.DataFrame] = []
    for source in SOURCES:
        for export in source(drawn):
            dataset = drawn.catalog.dataset(export.dataset)
            profile = PROFILES[dataset.id]
            messy = inject(export.frame, profile, rates, stream(seed, f"mess.{dataset.id}"),
                           broken_lines=dataset.format in LINE_FORMATS)
            files = lay_out(dataset, export, messy.frame, phased=profile.event is not None)
            broken: dict[int, str] = {}
            for name, frame in files:
                broken |= WRITERS[dataset.format](out / name, dataset, frame)
                outputs.append(OutputFile(dataset.id, name, frame.height))
            defects.append(locate_defects(dataset, profile, files, broken, messy.defects))
    all_defects = pl.concat(defects).select(DEFECT_COLUMNS)
    written = {o.name for o in outputs}
    patterns = [d.file_pattern for d in drawn.catalog.datasets.values()]
    stale = tuple(sorted(p.name for p in out.iterdir() if p.is_file() and p.name not in written
                         and any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns)))
    metadata = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "persons": persons,
        "rates": asdict(rates),
        "files": [asdict(o) for o in outputs],
        "defects": all_defects.height,
    }
    write_truth(out / TRUTH_FOLDER, drawn, all_defects, metadata)
    return GenerateSummary(out=out, truth=out / TRUTH_FOLDER, as_of=AS_OF, persons=persons, seed=seed,
                           files=len(outputs), outputs=tuple(outputs), defects=all_defects.height, stale=stale)
