"""Open data by grade (分级开放): what the catalog lets the open-data area hold, and the area itself.

The catalog's ``open.type`` of a dataset decides (:func:`decide`):

* ``unconditional`` (无条件开放): its open releases may be published to ``<home>/open_data``;
* ``conditional`` (有条件开放): never published to the open area; a user asks for it through a
  sharing request (``govlake share request``), which the owning department decides;
* ``none`` (不予开放): never published, with the catalog's reason.

A *release* is what gets published: the rows of one governed open-data view, read by
:mod:`views.opendata` through the open-data user's session: an ``@open`` aggregate (cells of
fewer than 10 persons already suppressed), or an ``@open: records`` view of records the law
makes public (双公示, the dishonest-debtor list; natural persons already masked). This module
writes a release to the open area and lists what is there; it never reads the lake itself.
:func:`resident_ids` is the last check before writing: a release with a resident ID is refused.

Layout of the open area, one folder per release and version (a version is never rewritten,
so a download link stays valid)::

    open_data/<release>/v<N>/<release>.parquet
    open_data/<release>/v<N>/<release>.csv        UTF-8 with BOM, so Excel shows Chinese
    open_data/<release>/v<N>/dictionary.csv       column, 中文名称, 数据元, 说明 (UTF-8 with BOM)
    open_data/<release>/v<N>/metadata.json        source datasets, versions, as-of, licence, file hashes

``metadata.json`` is written last: a version folder without it is incomplete and ignored.
Every publication is logged in ``system.open_data_releases`` and audited.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import re
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govlake.errors import GovLakeError
from govlake.home import Home
from lake import audit, delta
from lake.catalog.model import OPEN_LABELS, Dataset
from lake.locks import file_lock
from lake.system import OPEN_DATA_RELEASES

if TYPE_CHECKING:
    import pyarrow as pa

#: The licence every release carries (an open licence with the one restriction open data needs).
LICENCE = ("GovLake 开放数据许可：可免费获取、使用、复制和传播，须注明数据来源（提供部门、数据集名称）和数据日期；"
           "不得用于或试图识别特定自然人。")
METADATA = "metadata.json"
DICTIONARY = "dictionary.csv"
_VERSION_DIR = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class OpenDecision:
    """Whether a catalog dataset may feed the open area, and why (in Chinese, for the portal and CLI)."""

    dataset: str
    open_type: str
    allowed: bool
    reason: str


def decide(dataset: Dataset) -> OpenDecision:
    """The catalog's open attribute of ``dataset`` as a publication decision."""
    kind = dataset.open.type
    label = f"{dataset.name}（{dataset.id}，{dataset.code}）"
    conditions = dataset.open.conditions
    if kind == "unconditional":
        return OpenDecision(dataset.id, kind, True, f"{label}为无条件开放" + (f"：{conditions}" if conditions else ""))
    if kind == "conditional":
        return OpenDecision(dataset.id, kind, False,
                            f"{label}为有条件开放（{dataset.open.conditions or '条件见目录'}），不向开放区发布；"
                            f"请通过共享申请获取：govlake share request --target {dataset.id}")
    return OpenDecision(dataset.id, kind, False,
                        f"{label}的目录开放属性为不予开放" + (f"（{conditions}）" if conditions else "") + "，不得发布")


@dataclass(frozen=True)
class DictionaryEntry:
    """One row of a release's data dictionary."""

    column: str
    name: str  # 中文名称
    element: str  # data element id, '' for a computed count
    description: str


@dataclass(frozen=True)
class SourceDataset:
    id: str
    code: str
    name: str
    provider: str
    open_type: str
    conditions: str


@dataclass(frozen=True)
class ReleaseMeta:
    """What a release says about itself in ``metadata.json``."""

    release: str
    title: str
    description: str
    datasets: tuple[SourceDataset, ...]
    view: str
    source_versions: dict[str, int]
    build_id: int | None
    as_of: str | None  # ISO date of the data
    suppression: str
    licence: str = LICENCE
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishedRelease:
    """One published version of a release, as the open area holds it."""

    meta: ReleaseMeta
    version: int
    folder: Path
    rows: int
    columns: tuple[str, ...]
    files: dict[str, str]  # file name -> sha256
    published_at: dt.datetime
    published_by: str
    dictionary: tuple[DictionaryEntry, ...] = field(default=())

    def file(self, kind: str) -> Path:
        """``parquet``, ``csv``, ``dictionary`` or ``metadata``."""
        names = {"parquet": f"{self.meta.release}.parquet", "csv": f"{self.meta.release}.csv",
                 "dictionary": DICTIONARY, "metadata": METADATA}
        return self.folder / names[kind]


class OpenAreaError(GovLakeError):
    """The open-data area holds something unreadable (a damaged metadata file)."""


def write_release(home: Home, meta: ReleaseMeta, table: pa.Table, dictionary: list[DictionaryEntry], *,
                  by: str | None = None) -> PublishedRelease:
    """Write ``table`` as the next version of ``meta.release`` in the open area; log and audit it."""
    by = by or getpass.getuser()
    missing = [name for name in table.column_names if name not in {entry.column for entry in dictionary}]
    if missing:
        raise GovLakeError(f"release {meta.release}: the data dictionary lacks columns {missing}; every published "
                           "column needs a dictionary entry")
    root = home.open_data / meta.release
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(home, f"opendata-{meta.release}"):  # one version number per publication
        published = _write_version(root, meta, table, dictionary, by=by)
    _log(home, published)
    return published


def _write_version(root: Path, meta: ReleaseMeta, table: pa.Table, dictionary: list[DictionaryEntry], *,
                   by: str) -> PublishedRelease:
    import polars as pl

    version = max(_versions(root), default=0) + 1
    folder = root / f"v{version}"
    staging = root / f".v{version}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        frame.write_parquet(staging / f"{meta.release}.parquet")
        frame.write_csv(staging / f"{meta.release}.csv", include_bom=True)
        pl.DataFrame([asdict(entry) for entry in dictionary],
                     schema={"column": pl.String, "name": pl.String, "element": pl.String,
                             "description": pl.String}).rename(
            {"column": "column", "name": "中文名称", "element": "数据元", "description": "说明"}
        ).write_csv(staging / DICTIONARY, include_bom=True)
        files = {path.name: _sha256(path) for path in sorted(staging.iterdir())}
        published_at = dt.datetime.now(dt.UTC)
        published = PublishedRelease(meta, version, folder, frame.height, tuple(frame.columns), files, published_at,
                                     by, tuple(dictionary))
        (staging / METADATA).write_text(json.dumps(_metadata(published), ensure_ascii=False, indent=2) + "\n",
                                        encoding="utf-8")
        staging.rename(folder)  # a version appears whole or not at all
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return published


def published(home: Home) -> list[PublishedRelease]:
    """The latest complete version of every release in the open area, by release name.

    Reads only the open area's files (no lake table), so the signed-out portal can call it.
    """
    area = home.open_data
    if not area.is_dir():
        return []
    found = []
    for root in sorted(p for p in area.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for version in sorted(_versions(root), reverse=True):
            if (root / f"v{version}" / METADATA).is_file():
                found.append(read_release(root / f"v{version}"))
                break
    return found


def read_release(folder: Path) -> PublishedRelease:
    """A published version from its ``metadata.json``."""
    path = folder / METADATA
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        meta = ReleaseMeta(
            release=raw["release"], title=raw["title"], description=raw["description"],
            datasets=tuple(SourceDataset(**d) for d in raw["datasets"]), view=raw["view"],
            source_versions=dict(raw["source_versions"]), build_id=raw.get("build_id"), as_of=raw.get("as_of"),
            suppression=raw["suppression"], licence=raw["licence"], conditions=tuple(raw.get("conditions", ())),
        )
        return PublishedRelease(
            meta=meta, version=int(raw["version"]), folder=folder, rows=int(raw["rows"]),
            columns=tuple(raw["columns"]), files=dict(raw["files"]),
            published_at=dt.datetime.fromisoformat(raw["published_at"]), published_by=raw["published_by"],
            dictionary=tuple(DictionaryEntry(**entry) for entry in raw["dictionary"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OpenAreaError(f"{path}: cannot read the release metadata ({exc}); publish the release again "
                            "(govlake opendata publish)") from exc


def verify(release: PublishedRelease) -> list[str]:
    """Problems with a published version's files (a file changed or missing); [] when intact."""
    problems = []
    for name, expected in release.files.items():
        path = release.folder / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif _sha256(path) != expected:
            problems.append(f"{path} does not match its SHA-256 in {METADATA}")
    return problems


def _metadata(release: PublishedRelease) -> dict[str, Any]:
    meta = release.meta
    return {
        "release": meta.release, "title": meta.title, "description": meta.description, "view": meta.view,
        "version": release.version,
        "datasets": [asdict(d) for d in meta.datasets],
        "open_types": {d.id: OPEN_LABELS[d.open_type] for d in meta.datasets},
        "source_versions": meta.source_versions, "build_id": meta.build_id, "as_of": meta.as_of,
        "rows": release.rows, "columns": list(release.columns), "suppression": meta.suppression,
        "licence": meta.licence, "conditions": list(meta.conditions),
        "files": release.files, "published_at": release.published_at.isoformat(),
        "published_by": release.published_by,
        "dictionary": [asdict(entry) for entry in release.dictionary],
    }


def _log(home: Home, release: PublishedRelease) -> None:
    import polars as pl

    row = {
        "release": release.meta.release, "title": release.meta.title, "version": release.version,
        "datasets": [d.id for d in release.meta.datasets],
        "source_versions": json.dumps(release.meta.source_versions, sort_keys=True),
        "build_id": release.meta.build_id, "as_of": release.meta.as_of, "rows": release.rows,
        "files": json.dumps(release.files, sort_keys=True), "folder": str(release.folder),
        "published_at": release.published_at, "published_by": release.published_by,
    }
    frame = pl.DataFrame([row], schema={
        "release": pl.String, "title": pl.String, "version": pl.Int64, "datasets": pl.List(pl.String),
        "source_versions": pl.String, "build_id": pl.Int64, "as_of": pl.String, "rows": pl.Int64,
        "files": pl.String, "folder": pl.String, "published_at": pl.Datetime("us", "UTC"), "published_by": pl.String,
    })
    delta.write(home.table_path("system", OPEN_DATA_RELEASES.name), frame.to_arrow(),
                txn=(f"govlake.opendata/{release.meta.release}", release.version),
                description=OPEN_DATA_RELEASES.description, comments=OPEN_DATA_RELEASES.columns)
    audit.record_event(home, user=release.published_by, action="opendata.publish",
                       detail=json.dumps({"release": release.meta.release, "version": release.version,
                                          "rows": release.rows, "datasets": row["datasets"],
                                          "folder": str(release.folder)}, ensure_ascii=False),
                       views=(release.meta.view,))


#: 17 digits and a check character, not inside a longer run of digits or letters.
_RESIDENT_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_ok(text: str) -> bool:
    """Whether ``text`` is 17 digits and the check character they give (GB 11643, MOD 11-2).

    The birth date is not checked on purpose: a value that only fails there is still a person's
    identifier as far as publication goes.

    >>> resident_id_ok("11010519491231002X"), resident_id_ok("110105194912310021")
    (True, False)
    """
    if not re.fullmatch(r"[0-9]{17}[0-9Xx]", text):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _RESIDENT_ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == text[17].upper()


def resident_ids(table: pa.Table) -> dict[str, int]:
    """Text column -> how many of its cells hold a resident ID (anywhere in the text); {} when none.

    The last check before a release is written: masks are applied by the governed session, and
    this catches a mask that failed, so a release never carries an identifier in clear.
    """
    import pyarrow as pa

    found: dict[str, int] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        hits = sum(1 for value in column.to_pylist() if value and any(
            resident_id_ok(match.group()) for match in _RESIDENT_ID_CANDIDATE.finditer(value)))
        if hits:
            found[name] = hits
    return found


def refused(home: Home, *, user: str, subject: str, reason: str) -> None:
    """Audit a refused publication (a dataset the catalog does not open)."""
    audit.record_event(home, user=user, action="opendata.publish", decision="refused", reason=reason,
                       detail=json.dumps({"subject": subject}, ensure_ascii=False))


def _versions(root: Path) -> list[int]:
    return [int(match.group(1)) for p in root.iterdir() if p.is_dir() and (match := _VERSION_DIR.match(p.name))]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
