"""Read a department's source file into text columns, without losing a row.

Each reader returns a :class:`SourceRead`: the records as an Arrow table of text
columns keyed by the department's own headers, each record's line (or feature) number
in the file, and the records that could not be parsed, with their reason and original
text, for quarantine. A problem with the whole file (unreadable encoding, not the
format it claims) raises :class:`~govlake.errors.ContractError`, so the file is refused
before anything is written.

Readers are registered in :data:`READERS`, one per catalog ``format``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from govlake.errors import ContractError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

BOM = b"\xef\xbb\xbf"
#: A file with more undecodable or malformed records than this share is refused whole:
#: it is more likely the wrong encoding, separator or dataset than a few bad rows.
MAX_BAD_SHARE = 0.2
MIN_BAD_TO_REFUSE = 10
#: Records per chunk when isolating malformed JSON lines.
JSON_CHUNK_LINES = 65_536


@dataclass
class BadRecord:
    line: int
    reason: str
    text: str


@dataclass
class SourceRead:
    records: pa.Table  # text columns named by the file's own headers
    line_numbers: np.ndarray  # int64, one per record
    bad: list[BadRecord] = field(default_factory=list)
    encoding: str = "binary"
    headers: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.records.num_rows + len(self.bad)


# --- text decoding -----------------------------------------------------------------------

@dataclass
class Decoded:
    text: bytes  # UTF-8, undecodable lines blanked (their numbers stay in place)
    encoding: str
    bad: list[BadRecord]


def _line_spans(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets (end excludes the newline and a trailing CR) of every line."""
    import numpy as np

    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buffer == 10)
    starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
    ends = np.concatenate((newlines, [len(data)])).astype(np.int64)
    if len(data) and data.endswith(b"\n"):
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buffer[np.maximum(ends - 1, 0)] == 13) if len(data) else ends > starts
    return starts, ends - has_cr.astype(np.int64)


def decode(data: bytes, *, file: str, declared: str | None) -> Decoded:
    """Detect GBK, GB18030, UTF-8 or UTF-8 with BOM and return the text as UTF-8.

    The whole file is tried first (the fast path). When no encoding decodes it all,
    undecodable lines are set aside for quarantine if they are few; otherwise the file
    is refused with the offset of the first bad byte.
    """
    if data.startswith(BOM):
        body, label, candidates = data[len(BOM):], "utf-8-sig", ["utf-8"]
    else:
        body, label = data, ""
        candidates = ["utf-8", "gbk", "gb18030"]
        if declared in {"gbk", "gb18030"}:
            candidates = [declared, "gb18030", "utf-8"] if declared == "gbk" else ["gb18030", "utf-8"]
    for encoding in candidates:
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        return Decoded(text.encode("utf-8") if encoding != "utf-8" else body, label or encoding, [])
    return _decode_lines(body, file=file, candidates=candidates, label=label)


def _decode_lines(body: bytes, *, file: str, candidates: list[str], label: str) -> Decoded:
    lines = body.split(b"\n")
    best: tuple[int, str] | None = None
    for encoding in candidates:
        failures = 0
        for line in lines:
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                failures += 1
        if best is None or failures < best[0]:
            best = (failures, encoding)
    assert best is not None
    failures, encoding = best
    if failures > max(MIN_BAD_TO_REFUSE, MAX_BAD_SHARE * len(lines)):
        try:
            body.decode(encoding)
        except UnicodeDecodeError as exc:
            position = exc.start
        raise ContractError(
            f"unreadable encoding: not UTF-8, GBK or GB18030 ({failures} of {len(lines)} lines fail; "
            f"first bad byte at offset {position}); re-export the file as UTF-8 or GBK",
            file=file,
        )
    out: list[bytes] = []
    bad: list[BadRecord] = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(line.decode(encoding).encode("utf-8"))
        except UnicodeDecodeError as exc:
            bad.append(
                BadRecord(
                    number,
                    f"undecodable bytes as {encoding} at column {exc.start + 1}",
                    line.decode(encoding, errors="backslashreplace"),
                )
            )
            out.append(b"")
    return Decoded(b"\n".join(out), label or encoding, bad)


def _fold_header(name: str) -> str:
    """Headers compare after folding full-width forms and dropping whitespace."""
    folded = "".join(chr(ord(ch) - 0xFEE0) if 0xFF01 <= ord(ch) <= 0xFF5E else ch for ch in name)
    return "".join(folded.split())


def _too_many_bad(bad: int, total: int, file: str, what: str) -> None:
    if total and bad > max(MIN_BAD_TO_REFUSE, MAX_BAD_SHARE * total):
        raise ContractError(
            f"{bad} of {total} records are malformed {what}; this looks like the wrong format, "
            "separator or dataset, so the file is refused whole",
            file=file,
        )


# --- CSV ---------------------------------------------------------------------------------

def read_csv(path: Path, data: bytes, *, declared_encoding: str | None) -> SourceRead:
    """Comma-separated text with a header line; records with the wrong field count are bad."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    decoded = decode(data, file=str(path), declared=declared_encoding)
    text = decoded.text
    starts, ends = _line_spans(text)
    nonblank = np.flatnonzero(ends > starts) + 1  # 1-based line numbers
    if len(nonblank) == 0:
        raise ContractError("the file is empty: no header line", file=str(path))
    header_line = int(nonblank[0])
    header_bytes = text[starts[header_line - 1]:ends[header_line - 1]]
    try:
        raw_headers: dict[str, object] = next(iter(pacsv.read_csv(io.BytesIO(header_bytes + b"\n"),
                                               read_options=pacsv.ReadOptions(autogenerate_column_names=True))
                                .to_pylist()), {})
    except pa.ArrowInvalid as exc:
        raise ContractError(f"cannot read the header line: {exc}", file=str(path)) from exc
    headers = [_fold_header(str(value)) for value in raw_headers.values()]
    if len(set(headers)) != len(headers):
        duplicates = sorted({h for h in headers if headers.count(h) > 1})
        raise ContractError(f"duplicate column headers {duplicates}; each column must appear once",
                            file=str(path), columns=duplicates)
    bad: list[BadRecord] = list(decoded.bad)

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(BadRecord(
            int(row.number) if row.number is not None else -1,
            f"wrong number of fields: expected {row.expected_columns}, found {row.actual_columns}",
            row.text,
        ))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text[starts[header_line - 1]:]),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=headers, skip_rows=1,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.large_string() for name in headers},
                strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ContractError(f"not readable as CSV: {str(exc).splitlines()[0]}", file=str(path)) from exc
    # pyarrow numbers the non-blank lines from where it started reading (header = 1);
    # map those back to physical line numbers.
    from_header = nonblank[nonblank >= header_line]
    for record in bad[len(decoded.bad):]:
        if 0 < record.line <= len(from_header):
            record.line = int(from_header[record.line - 1])
    bad_lines = np.array([record.line for record in bad], dtype=np.int64)
    data_lines = nonblank[nonblank > header_line]
    line_numbers = data_lines[~np.isin(data_lines, bad_lines)]
    if len(line_numbers) != table.num_rows:
        raise ContractError(
            f"could not account for every record ({table.num_rows} parsed, {len(line_numbers)} expected); "
            "check for quoted values that span lines",
            file=str(path),
        )
    _too_many_bad(len(bad), table.num_rows + len(bad), str(path), "CSV rows")
    return SourceRead(table, line_numbers, sorted(bad, key=lambda r: r.line), decoded.encoding, headers)


# --- JSON Lines ----------------------------------------------------------------------------

def _json_reason(line: bytes) -> str:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    except UnicodeDecodeError:
        return "invalid UTF-8"
    return f"not a JSON object but a JSON {type(value).__name__}"


def _sample_keys(text: bytes, limit: int = 2000) -> list[str]:
    keys: dict[str, None] = {}
    for line in text.split(b"\n", limit)[:limit]:
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(value, dict):
            keys.update(dict.fromkeys(value))
    return list(keys)


def _set_aside_broken_lines(text: bytes, starts: np.ndarray, ends: np.ndarray,
                            bad: list[BadRecord]) -> tuple[bytes, np.ndarray]:
    """Find lines that cannot be a JSON object cheaply, so one bad line does not split chunks.

    A line that does not start with ``{`` and end with ``}`` is checked on its own; the
    broken ones become bad records and are treated as blank from then on. Subtler
    breakage is still caught by the chunked parse below.
    """
    import numpy as np

    buffer = np.frombuffer(text, dtype=np.uint8)
    nonblank = ends > starts
    suspects = np.zeros(len(starts), dtype=bool)
    if not nonblank.any():
        return text, suspects
    first = np.zeros(len(starts), dtype=np.uint8)
    last = np.zeros(len(starts), dtype=np.uint8)
    first[nonblank] = buffer[starts[nonblank]]
    last[nonblank] = buffer[ends[nonblank] - 1]
    candidates = np.flatnonzero(nonblank & ((first != ord("{")) | (last != ord("}"))))
    for index in candidates:
        line = text[starts[index]:ends[index]]
        try:
            if isinstance(json.loads(line), dict):
                continue
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
        bad.append(BadRecord(int(index) + 1, _json_reason(line), line.decode("utf-8", "replace")))
        suspects[index] = True
    if suspects.any():
        pieces, position = [], 0
        for index in np.flatnonzero(suspects):
            pieces.append(text[position:starts[index]])
            position = ends[index]
        pieces.append(text[position:])
        text = b"".join(pieces)
    return text, suspects


def read_jsonl(path: Path, data: bytes, *, declared_encoding: str | None) -> SourceRead:
    """One JSON object per line; lines that do not parse as an object are bad."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    decoded = decode(data, file=str(path), declared=declared_encoding)
    text = decoded.text
    starts, ends = _line_spans(text)
    raw_keys = _sample_keys(text)
    if not raw_keys and len(starts):
        raise ContractError("no JSON object found in the first lines; is this JSON Lines?", file=str(path))
    header_map = {_fold_header(key): key for key in raw_keys}
    schema = {key: pl.String for key in raw_keys}
    frames: list[pl.DataFrame] = []
    numbers: list[np.ndarray] = []
    bad: list[BadRecord] = list(decoded.bad)
    text, suspects = _set_aside_broken_lines(text, starts, ends, bad)
    if suspects.any():
        starts, ends = _line_spans(text)
    blank = ends == starts

    def parse(first: int, last: int) -> None:  # lines [first, last), 0-based
        lines = np.arange(first, last)
        lines = lines[~blank[first:last]]
        if len(lines) == 0:
            return
        chunk = text[starts[first]:ends[last - 1]]
        try:
            frame = pl.read_ndjson(io.BytesIO(chunk), schema=schema)
        except Exception:
            if last - first == 1:
                line = text[starts[first]:ends[first]]
                bad.append(BadRecord(first + 1, _json_reason(line), line.decode("utf-8", "replace")))
                return
            middle = (first + last) // 2
            parse(first, middle)
            parse(middle, last)
            return
        if frame.height != len(lines):  # should not happen; refuse rather than guess
            raise ContractError("could not account for every JSON line", file=str(path))
        frames.append(frame)
        numbers.append(lines + 1)

    for first in range(0, len(starts), JSON_CHUNK_LINES):
        parse(first, min(first + JSON_CHUNK_LINES, len(starts)))
    combined = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    combined = combined.rename({key: _fold_header(key) for key in raw_keys if key != _fold_header(key)})
    line_numbers = np.concatenate(numbers) if numbers else np.zeros(0, dtype=np.int64)
    _too_many_bad(len(bad), combined.height + len(bad), str(path), "JSON lines")
    table = combined.to_arrow()
    table = table.cast(pa.schema([pa.field(name, pa.large_string()) for name in table.column_names]))
    return SourceRead(table, line_numbers.astype(np.int64), sorted(bad, key=lambda r: r.line),
                      decoded.encoding, list(header_map))


# --- Parquet -------------------------------------------------------------------------------

def read_parquet(path: Path, data: bytes, *, declared_encoding: str | None) -> SourceRead:
    """Typed Parquet, every column rendered as text (dates as ISO) for the raw zone."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:
        raise ContractError(f"not a readable Parquet file: {str(exc).splitlines()[0]}", file=str(path)) from exc
    frame = frame.rename({name: _fold_header(name) for name in frame.columns})
    frame = frame.select(pl.all().cast(pl.String))
    table = frame.to_arrow()
    table = table.cast(pa.schema([pa.field(name, pa.large_string()) for name in table.column_names]))
    return SourceRead(table, np.arange(1, frame.height + 1, dtype=np.int64), [], "binary", frame.columns)


# --- GeoJSON -------------------------------------------------------------------------------

def read_geojson(path: Path, data: bytes, *, declared_encoding: str | None) -> SourceRead:
    """A FeatureCollection: one record per feature, its geometry kept as GeoJSON text.

    Record numbers are feature numbers (1-based). A feature without properties or with
    a geometry that is not an object is bad.
    """
    import numpy as np
    import pyarrow as pa

    decoded = decode(data, file=str(path), declared=declared_encoding)
    try:
        collection = json.loads(decoded.text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"not valid JSON: {exc.msg} at line {exc.lineno}", file=str(path)) from exc
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ContractError("not a GeoJSON FeatureCollection", file=str(path))
    features = collection.get("features")
    if not isinstance(features, list):
        raise ContractError("the FeatureCollection has no features list", file=str(path))
    columns: dict[str, list[str | None]] = {}
    numbers: list[int] = []
    bad: list[BadRecord] = []
    for number, feature in enumerate(features, start=1):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(properties, dict) or not isinstance(geometry, dict):
            bad.append(BadRecord(number, "feature without a properties object or geometry object",
                                 json.dumps(feature, ensure_ascii=False)[:10_000]))
            continue
        row = {_fold_header(k): (None if v is None or v == "" else str(v)) for k, v in properties.items()}
        row["geometry"] = json.dumps(geometry, ensure_ascii=False, separators=(",", ":"))
        for key in row.keys() - columns.keys():
            columns[key] = [None] * len(numbers)
        for key, values in columns.items():
            values.append(row.get(key))
        numbers.append(number)
    _too_many_bad(len(bad), len(features), str(path), "features")
    table = pa.table({key: pa.array(values, pa.large_string()) for key, values in columns.items()})
    return SourceRead(table, np.array(numbers, dtype=np.int64), bad, decoded.encoding, list(columns))


Reader = Callable[..., SourceRead]

#: catalog format -> reader. Logical sources (sqlite) are not read here: see lake/logical.py.
READERS: dict[str, Reader] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "geojson": read_geojson,
}
