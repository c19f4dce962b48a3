"""Write one planned file in its catalog format, encoding and headers.

Headers and keys are the catalog items' ``source`` names, in catalog order. Each writer
returns the raw text of the rows it broke on purpose (``_malformed``), keyed by ``_rid``,
so that the defect truth quotes exactly what was written.

- CSV: text from polars, encoded as the catalog says (GBK with CRLF line ends for the
  legacy hukou system; UTF-8, with a BOM for ``utf-8-sig``). A broken row has an
  unquoted comma inside a value, so it has one field too many.
- JSON Lines: one object per line with Chinese keys (raw UTF-8). A broken row is cut off
  half-way.
- SQLite: one table (``source_table``), every column TEXT, rows inserted in file order
  in one transaction with no journal, so the file is byte-for-byte reproducible.
- Parquet: typed columns, zstd.
- GeoJSON: a FeatureCollection (with the EPSG:4490 ``crs`` member of the 2008 GeoJSON
  spec), one feature per line; the ``geometry`` item is the feature's geometry.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from lake.catalog import Dataset

CRS_4490 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
#: Rows rendered at a time.
CHUNK_ROWS = 100_000
#: Encodings whose files use Windows line ends.
CRLF_ENCODINGS = {"gbk", "gb18030"}


def _body(dataset: Dataset, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select([frame[item.column].alias(item.source) for item in dataset.items])


def _malformed_positions(frame: pl.DataFrame) -> list[int]:
    return [i for i, flag in enumerate(frame["_malformed"].to_list()) if flag]


def _broken_csv_line(row: dict[str, object], key_sources: set[str]) -> str:
    """The row with an unquoted comma inside its longest non-key value: one field too many."""
    values = ["" if v is None else str(v) for v in row.values()]
    candidates = [i for i, name in enumerate(row) if name not in key_sources]
    target = max(candidates, key=lambda i: len(values[i]))
    middle = max(1, len(values[target]) // 2)
    values[target] = values[target][:middle] + "," + values[target][middle:]
    return ",".join(values)


def write_csv(path: Path, dataset: Dataset, frame: pl.DataFrame) -> dict[int, str]:
    encoding = dataset.encoding or "utf-8"
    newline = "\r\n" if encoding.lower() in CRLF_ENCODINGS else "\n"
    body = _body(dataset, frame)
    rids = frame["_rid"].to_list()
    marks = _malformed_positions(frame)
    key_sources = {dataset.item(column).source for column in dataset.key}
    broken: dict[int, str] = {}
    with path.open("wb") as handle:
        for start in range(0, max(body.height, 1), CHUNK_ROWS):  # chunks keep memory flat at 1M rows
            text = body.slice(start, CHUNK_ROWS).write_csv(include_header=start == 0, null_value="",
                                                           line_terminator=newline)
            here = [p for p in marks if start <= p < start + CHUNK_ROWS]
            if here:
                lines = text.split(newline)
                header = 1 if start == 0 else 0
                for position in here:
                    line = _broken_csv_line(body.row(position, named=True), key_sources)
                    lines[position - start + header] = line
                    broken[rids[position]] = line
                text = newline.join(lines)
            handle.write(text.encode(encoding))
    return broken


def write_jsonl(path: Path, dataset: Dataset, frame: pl.DataFrame) -> dict[int, str]:
    body = _body(dataset, frame)
    rids = frame["_rid"].to_list()
    marks = _malformed_positions(frame)
    broken: dict[int, str] = {}
    with path.open("wb") as handle:
        for start in range(0, body.height, CHUNK_ROWS):
            text = body.slice(start, CHUNK_ROWS).write_ndjson()
            here = [p for p in marks if start <= p < start + CHUNK_ROWS]
            if here:
                lines = text.split("\n")
                for position in here:
                    line = lines[position - start]
                    lines[position - start] = broken[rids[position]] = line[: max(1, len(line) // 2)]
                text = "\n".join(lines)
            handle.write(text.encode(dataset.encoding or "utf-8"))
    return broken


def write_sqlite(path: Path, dataset: Dataset, frame: pl.DataFrame) -> dict[int, str]:
    table = dataset.source_table or dataset.id
    sources = [item.source for item in dataset.items]
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        columns = ", ".join(f'"{name}" TEXT' for name in sources)
        connection.execute(f'CREATE TABLE "{table}" ({columns})')
        placeholders = ", ".join("?" for _ in sources)
        connection.executemany(f'INSERT INTO "{table}" VALUES ({placeholders})',
                               _body(dataset, frame).iter_rows())
        connection.commit()
    finally:
        connection.close()
    return {}


def write_parquet(path: Path, dataset: Dataset, frame: pl.DataFrame) -> dict[int, str]:
    _body(dataset, frame).write_parquet(path, compression="zstd", statistics=True)
    return {}


def write_geojson(path: Path, dataset: Dataset, frame: pl.DataFrame) -> dict[int, str]:
    properties = [item for item in dataset.items if item.element != "geometry"]
    geometry = next(item for item in dataset.items if item.element == "geometry")
    features = []
    columns = {item.column: frame[item.column].to_list() for item in dataset.items}
    for i in range(frame.height):
        props = {item.source: columns[item.column][i] for item in properties}
        features.append(
            '{"type":"Feature","properties":' + json.dumps(props, ensure_ascii=False, separators=(",", ":"))
            + ',"geometry":{"type":"Polygon","coordinates":' + columns[geometry.column][i] + "}}"
        )
    head = json.dumps({"type": "FeatureCollection", "name": dataset.name, "crs": CRS_4490},
                      ensure_ascii=False, separators=(",", ":"))[:-1]
    text = head + ',"features":[\n' + ",\n".join(features) + "\n]}\n"
    path.write_bytes(text.encode("utf-8"))
    return {}


#: catalog format -> writer.
WRITERS: dict[str, Callable[[Path, Dataset, pl.DataFrame], dict[int, str]]] = {
    "csv": write_csv,
    "jsonl": write_jsonl,
    "sqlite": write_sqlite,
    "parquet": write_parquet,
    "geojson": write_geojson,
}
#: Formats with one record per line, where a row can be broken structurally.
LINE_FORMATS = frozenset({"csv", "jsonl"})
