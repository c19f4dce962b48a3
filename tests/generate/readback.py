"""Read generated export files back, row by row, the way the defect truth numbers them."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl

from lake.catalog import Dataset


def raw_lines(path: Path, dataset: Dataset) -> list[str]:
    """Data lines (header dropped) of a CSV or JSON Lines file, decoded as the catalog says."""
    text = path.read_bytes().decode(dataset.encoding or "utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(newline)
    if lines and lines[-1] == "":
        lines.pop()
    return lines[1:] if dataset.format == "csv" else lines


def records(path: Path, dataset: Dataset) -> list[dict[str, Any] | str]:
    """One entry per data row: a dict keyed by source header, or the raw text of a broken line."""
    if dataset.format == "csv":
        text = path.read_bytes().decode(dataset.encoding or "utf-8")
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r"))))
        out: list[dict[str, Any] | str] = []
        for line in raw_lines(path, dataset):
            fields = next(csv.reader(io.StringIO(line)))
            out.append(dict(zip(header, fields, strict=True)) if len(fields) == len(header) else line)
        return out
    if dataset.format == "jsonl":
        out = []
        for line in raw_lines(path, dataset):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append(line)
        return out
    if dataset.format == "sqlite":
        connection = sqlite3.connect(path)
        try:
            cursor = connection.execute(f'SELECT * FROM "{dataset.source_table}" ORDER BY rowid')
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            connection.close()
    if dataset.format == "parquet":
        return list(pl.read_parquet(path).iter_rows(named=True))
    if dataset.format == "geojson":
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        return [{**f["properties"], "geometry": f["geometry"]} for f in features]
    raise ValueError(dataset.format)


def headers(path: Path, dataset: Dataset) -> list[str]:
    """The column names as the file carries them."""
    if dataset.format == "csv":
        text = path.read_bytes().decode(dataset.encoding or "utf-8")
        return next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r"))))
    if dataset.format == "jsonl":
        return list(json.loads(raw_lines(path, dataset)[0]))
    if dataset.format == "sqlite":
        connection = sqlite3.connect(path)
        try:
            return [row[1] for row in connection.execute(f'PRAGMA table_info("{dataset.source_table}")')]
        finally:
            connection.close()
    if dataset.format == "parquet":
        return list(pl.read_parquet_schema(path))
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return [*features[0]["properties"], "geometry"]


def cell(value: Any) -> str | None:
    """A read-back value as the defect truth writes it (empty CSV cells are missing)."""
    if value is None or value == "":
        return None
    return str(value)
