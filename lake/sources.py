"""Read a department's source file into text columns, without losing a row.

Each reader returns a :class:`SourceRead`: the records as an Arrow table of text
columns keyed by the department's own headers, each record's line (or feature) number
in the file, and the records that could not be parsed, with their reason and original
text, for quarantine. A problem with the whole file (unreadable encoding, not the
format it claims) raises :class:`~govlake.errors.ContractError`, so the file is refused
before anything is written.

Big CSV and JSON Lines files are parsed in pieces on a few threads (Arrow and polars
release the GIL). Every piece knows the number of its first line, so records, line
numbers and bad records are exactly those of a single pass over the file.

Readers are registered in :data:`READERS`, one per catalog ``format``.
"""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from govlake.errors import ContractError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl
    import pyarrow as pa

T = TypeVar("T")
R = TypeVar("R")

BOM = b"\xef\xbb\xbf"
#: A file with more undecodable or malformed records than this share is refused whole:
#: it is more likely the wrong encoding, separator or dataset than a few bad rows.
MAX_BAD_SHARE = 0.2
MIN_BAD_TO_REFUSE = 10
#: Records per chunk when isolating malformed JSON lines.
JSON_CHUNK_LINES = 65_536
#: Text per CSV parse task. Big files are parsed in pieces cut at line ends, on several
#: threads (Arrow releases the GIL), and each piece knows the number of its first line,
#: so bad rows keep their exact line numbers.
CSV_PIECE_BYTES = 4 << 20


@dataclass
class BadRecord:
    line: int
    reason: str
    text: str


@dataclass
class SourceRead:
    records: pa.Table  # text columns (large_string, or string_view from polars) named by the file's headers
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


def _positions(data: bytes | bytearray, byte: int) -> np.ndarray:
    """Offsets (int64) of every occurrence of ``byte``, found block by block.

    Comparing in cache-sized blocks is about twice as fast on a large file as one pass,
    and numpy does it without the GIL.
    """
    import numpy as np

    buffer = np.frombuffer(data, dtype=np.uint8)
    block = 1 << 20
    return np.concatenate([np.zeros(0, dtype=np.int64)] + [
        np.flatnonzero(buffer[offset:offset + block] == byte) + offset for offset in range(0, len(buffer), block)
    ]).astype(np.int64)


def _line_spans(data: bytes | bytearray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets (end excludes the newline and a trailing CR) of every line."""
    import numpy as np

    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = _positions(data, 10)
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
        if encoding == "utf-8":
            if _is_utf8(body):
                return Decoded(body, label or encoding, [])
            continue
        try:
            text = body.decode(encoding)  # one C call for the whole file
        except UnicodeDecodeError:
            continue
        return Decoded(text.encode("utf-8"), label or encoding, [])
    return _decode_lines(body, file=file, candidates=candidates, label=label)


def _is_utf8(body: bytes) -> bool:
    """Whether ``body`` is valid UTF-8, checked by Arrow in place: no str copy of a large file.

    Arrow's validator and Python's codec agree, including on surrogates and overlong forms.
    """
    import numpy as np
    import pyarrow as pa

    offsets = pa.py_buffer(np.array([0, len(body)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(body)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


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


@functools.lru_cache(maxsize=4096)
def _fold_header(name: str) -> str:
    """Headers compare after folding full-width forms and dropping whitespace.

    Cached: GeoJSON folds every feature's property names, which repeat.
    """
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

def _in_threads(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[function(item) for item in items]``, on a few threads when there is more than one item."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), os.cpu_count() or 1, 4),
                            thread_name_prefix="govlake-parse") as pool:
        return list(pool.map(function, items))


def _header_line(text: bytes, file: str) -> tuple[int, bytes, int]:
    """The first non-blank line: its number, its text (without CR) and the offset just past it."""
    position, number = 0, 1
    while position < len(text):
        newline = text.find(b"\n", position)
        end = len(text) if newline < 0 else newline
        content = end - 1 if end > position and text[end - 1] == 13 else end
        if content > position:
            return number, text[position:content], end + 1
        position, number = end + 1, number + 1
    raise ContractError("the file is empty: no header line", file=file)


@dataclass(frozen=True)
class _Piece:
    start: int  # offset of the piece's first line
    end: int  # offset just past its last line
    first_line: int  # physical number of its first line
    lines: int  # physical lines in it, blank ones included
    plain: bool  # no blank line and no lone CR: the n-th record Arrow finds is the n-th line


def _pieces(text: bytes, start: int, first_line: int, size: int) -> list[_Piece]:
    """Cut ``text[start:]`` at line ends into pieces of about ``size`` bytes (vectorized).

    Only the newline offsets span the file; the rare short lines (blank ones are among
    them) and lone CRs are looked at on their own.
    """
    import numpy as np

    buffer = np.frombuffer(text, dtype=np.uint8)
    length = len(text)
    newlines = _positions(text, 10)
    newlines = newlines[newlines >= start]
    lines = len(newlines) + (1 if (newlines[-1] + 1 if len(newlines) else start) < length else 0)
    if not lines:
        return []
    # line k starts at ``start`` (k = 0) or just past newline k - 1, and ends before newline k (or at the end)
    sizes = np.diff(newlines, prepend=start - 1) - 1  # of the lines that end with a newline
    short = np.flatnonzero(sizes <= 1)
    line_starts = np.where(short == 0, start, newlines[np.maximum(short - 1, 0)] + 1)
    blank = short[(sizes[short] == 0) | (buffer[np.minimum(line_starts, length - 1)] == 13)]
    if lines > len(newlines) and length - (newlines[-1] + 1 if len(newlines) else start) == 1 \
            and buffer[length - 1] == 13:  # an unterminated last line that is a lone CR
        blank = np.append(blank, lines - 1)
    lone_cr = np.zeros(0, dtype=np.int64)  # a CR not followed by LF: Arrow ends a record there, we do not
    before_lf = buffer[np.maximum(newlines - 1, start)] == 13  # line ends after a CR: CRLF
    if text.find(b"\r", start) >= 0 and int(np.count_nonzero(buffer[start:] == 13)) != int(before_lf.sum()):
        crs = _positions(text, 13)
        crs = crs[crs >= start]
        lone_cr = crs[(crs + 1 >= length) | (buffer[np.minimum(crs + 1, length - 1)] != 10)]
    pieces: list[_Piece] = []
    first, begin = 0, start
    while first < lines:
        # the lines starting before begin + size: line 0 of the rest, and those past a newline before it
        last = 1 + int(np.searchsorted(newlines[:lines - 1], begin + size - 1))
        last = min(max(last, first + 1), lines)
        end = int(newlines[last - 1]) + 1 if last - 1 < len(newlines) else length
        plain = (np.searchsorted(blank, first) == np.searchsorted(blank, last)
                 and np.searchsorted(lone_cr, begin) == np.searchsorted(lone_cr, end))
        pieces.append(_Piece(begin, end, first_line + first, last - first, bool(plain)))
        first, begin = last, end
    return pieces


#: Files at least this large are transcoded from GBK by iconv (:func:`_iconv_gbk`): checking that it
#: decodes exactly as Python does costs a few tens of milliseconds, once per process.
ICONV_MIN_BYTES = 16 << 20


def _transcode(text: bytes, start: int, end: int, encoding: str) -> bytes:
    """``text[start:end]`` decoded from ``encoding`` as UTF-8; raises _NotPiecewise if it does not decode.

    GBK goes through the C library's iconv when it decodes exactly as Python's codec does
    (:func:`_iconv_gbk`): it takes half the time, and ctypes releases the GIL around it, so
    other files' Python work goes on meanwhile; Python's codec holds the GIL throughout.
    """
    iconv = _iconv_gbk() if encoding == "gbk" and len(text) >= ICONV_MIN_BYTES else None
    if iconv is not None:
        converted = iconv(text, start, end)
        if converted is None:
            raise _NotPiecewise
        return converted
    try:
        return str(memoryview(text)[start:end], encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise _NotPiecewise from exc


@functools.cache
def _iconv_gbk() -> Callable[[bytes, int, int], bytes | None] | None:
    """glibc's GBK to UTF-8 converter, or None when it is missing or would decode anything differently.

    Checked once per process against Python's ``gbk`` codec on every single byte and every
    two-byte sequence a GBK character can start with (about 32,000): the same characters
    out, and refusal where Python refuses. glibc also takes a lone 0x80 (as the euro sign,
    which no sequence Python accepts gives): an output holding such a character counts as
    refused. A piece it refuses goes the general way (:func:`decode`), as one Python refuses
    does, so the results cannot differ.
    """
    import ctypes
    import ctypes.util

    import numpy as np

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.iconv_open.restype = ctypes.c_void_p
        libc.iconv_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        libc.iconv_close.argtypes = [ctypes.c_void_p]
        libc.iconv.restype = ctypes.c_size_t
        libc.iconv.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
                               ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
    except (OSError, AttributeError):
        return None
    failed = ctypes.c_size_t(-1).value

    markers: tuple[bytes, ...] = ()  # what glibc makes of sequences Python refuses
    leads: tuple[bytes, ...] = ()  # their first bytes: without one in the input, no marker is in the output

    def convert(text: bytes, start: int, end: int) -> bytes | None:
        """``text[start:end]`` from GBK to UTF-8, or None where Python's codec would refuse it."""
        source = np.frombuffer(text, dtype=np.uint8, count=end - start, offset=start)
        target = np.empty(2 * len(source) + 16, dtype=np.uint8)  # UTF-8 needs at most 1.5 bytes per GBK byte
        handle = libc.iconv_open(b"UTF-8", b"GBK")
        if handle in (None, failed):
            return None
        try:
            inp, inleft = ctypes.c_void_p(source.ctypes.data), ctypes.c_size_t(len(source))
            out, outleft = ctypes.c_void_p(target.ctypes.data), ctypes.c_size_t(len(target))
            if libc.iconv(handle, ctypes.byref(inp), ctypes.byref(inleft), ctypes.byref(out),
                          ctypes.byref(outleft)) == failed or inleft.value:
                return None
        finally:
            libc.iconv_close(handle)
        converted = target[:len(target) - outleft.value].tobytes()
        if any(text.find(lead, start, end) >= 0 for lead in leads) and any(m in converted for m in markers):
            return None
        return converted

    accepted, refused = [], []
    for sequence in [bytes([byte]) for byte in range(256)] + [bytes([lead, trail]) for lead in range(0x81, 0xFF)
                                                              for trail in range(256)]:
        try:
            sequence.decode("gbk")
            accepted.append(sequence)
        except UnicodeDecodeError:
            refused.append(sequence)
    sample = b"\n".join(accepted)
    expected = sample.decode("gbk").encode("utf-8")
    if convert(sample, 0, len(sample)) != expected:
        return None
    taken: dict[bytes, bytes] = {}  # one converter, reset after each sequence: 10,000 calls in a few milliseconds
    handle = libc.iconv_open(b"UTF-8", b"GBK")
    source, target = ctypes.create_string_buffer(4), ctypes.create_string_buffer(16)
    inp, inleft, out, outleft = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_void_p(), ctypes.c_size_t()
    arguments = (handle, ctypes.byref(inp), ctypes.byref(inleft), ctypes.byref(out), ctypes.byref(outleft))
    source_at, target_at = ctypes.addressof(source), ctypes.addressof(target)
    try:
        for sequence in refused:
            source.raw = sequence.ljust(4, b"\0")
            inp.value, inleft.value, out.value, outleft.value = source_at, len(sequence), target_at, 16
            if libc.iconv(*arguments) != failed and not inleft.value:
                taken[sequence] = target.raw[:16 - outleft.value]
            libc.iconv(handle, None, None, None, None)
    finally:
        libc.iconv_close(handle)
    if any(not output or output in expected for output in taken.values()):
        return None  # glibc takes a sequence Python refuses and gives what Python could give: not told apart
    markers = tuple(sorted(set(taken.values())))
    leads = tuple(sorted({sequence[:1] for sequence in taken}))
    return convert


class _NotPiecewise(Exception):
    """A piece did not decode in the assumed encoding: decode the whole file the general way."""


def _read_csv_piece(text: bytes, piece: _Piece, headers: list[str], file: str,
                    transcode: str | None) -> tuple[pa.Table, np.ndarray, list[BadRecord]]:
    """Parse one piece of a CSV body; return its records, their line numbers and its bad rows.

    With ``transcode``, ``text`` is the file as sent and the piece is decoded from that
    encoding first (:func:`_transcode`), so one piece decodes while Arrow parses another.
    Lines are the same in GBK and UTF-8 (CR and LF are never part of a character).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if transcode is not None:
        text = _transcode(text, piece.start, piece.end, transcode)
        piece = _Piece(0, len(text), piece.first_line, piece.lines, piece.plain)
    bad: list[BadRecord] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(BadRecord(
            int(row.number) if row.number is not None else -1,  # the n-th non-blank line of the piece
            f"wrong number of fields: expected {row.expected_columns}, found {row.actual_columns}",
            row.text,
        ))
        return "skip"

    source = pa.BufferReader(pa.py_buffer(text)[piece.start:piece.end])
    if text.startswith(BOM, piece.start):  # Arrow would drop it; a blank line first keeps it as data
        source = pa.BufferReader(b"\n" + text[piece.start:piece.end])
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(use_threads=False, column_names=headers, block_size=1 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.large_string() for name in headers},
                strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""],
                check_utf8=False,  # decode() returned valid UTF-8
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ContractError(f"not readable as CSV: {str(exc).splitlines()[0]}", file=file) from exc
    if piece.plain and table.num_rows + len(bad) == piece.lines:  # the n-th record is the n-th line
        lines = np.arange(piece.first_line, piece.first_line + piece.lines, dtype=np.int64)
    else:  # blank lines (or undecodable lines blanked by decode): number the non-blank ones
        starts, ends = _line_spans(text[piece.start:piece.end])
        lines = np.flatnonzero(ends > starts).astype(np.int64) + piece.first_line
    numbers = np.array([record.line for record in bad], dtype=np.int64)  # n-th non-blank line of the piece
    accounted = table.num_rows + len(bad) == len(lines) and bool(((numbers >= 1) & (numbers <= len(lines))).all())
    for record in bad:
        if 0 < record.line <= len(lines):
            record.line = int(lines[record.line - 1])
    line_numbers = lines[~np.isin(lines, np.array([record.line for record in bad], dtype=np.int64))]
    if not accounted or len(line_numbers) != table.num_rows:  # each non-blank line must be one record
        raise ContractError(
            f"could not account for every record ({table.num_rows} parsed, {len(line_numbers)} expected "
            f"in lines {piece.first_line}-{piece.first_line + piece.lines - 1}); "
            "check for quoted values that span lines",
            file=file,
        )
    return table, line_numbers, bad


def read_csv(path: Path, data: bytes, *, declared_encoding: str | None) -> SourceRead:
    """Comma-separated text with a header line; records with the wrong field count are bad.

    A file declared GBK or GB18030 is decoded piece by piece as it is parsed; if any piece
    does not decode, the whole file goes through :func:`decode` (detection, quarantine of
    undecodable lines), exactly as a file of any other encoding does.
    """
    if declared_encoding in {"gbk", "gb18030"} and not data.startswith(BOM):
        try:
            return _read_csv(path, data, transcode=declared_encoding)
        except _NotPiecewise:
            pass
    return _read_csv(path, data, declared_encoding=declared_encoding)


def _read_csv(path: Path, data: bytes, *, declared_encoding: str | None = None,
              transcode: str | None = None) -> SourceRead:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if transcode is not None:
        decoded = Decoded(data, transcode, [])  # decoded piece by piece below
    else:
        decoded = decode(data, file=str(path), declared=declared_encoding)
    text = decoded.text
    header_line, header_bytes, body_start = _header_line(text, str(path))
    if transcode is not None:
        try:
            header_bytes = header_bytes.decode(transcode).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise _NotPiecewise from exc
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
    # A quoted value may hold a line break, and a piece must not end inside one: a file with
    # quotes is parsed as one piece (one thread), which finds such values and refuses the file.
    quoted = text.find(b'"', body_start) >= 0
    pieces = _pieces(text, body_start, header_line + 1, len(text) if quoted else CSV_PIECE_BYTES)
    parsed = _in_threads(lambda piece: _read_csv_piece(text, piece, headers, str(path), transcode), pieces)
    bad: list[BadRecord] = list(decoded.bad)
    for _, _, piece_bad in parsed:
        bad.extend(piece_bad)
    schema = pa.schema([pa.field(name, pa.large_string()) for name in headers])
    table = pa.concat_tables([piece_table for piece_table, _, _ in parsed]) if parsed else schema.empty_table()
    line_numbers = (np.concatenate([numbers for _, numbers, _ in parsed]) if parsed
                    else np.zeros(0, dtype=np.int64))
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
    """Keys of the objects on the first ``limit`` lines, in order of appearance."""
    end = -1
    for _ in range(limit):  # cut before splitting: split(maxsplit) would copy the rest of the file
        end = text.find(b"\n", end + 1)
        if end < 0:
            end = len(text)
            break
    keys: dict[str, None] = {}
    for line in text[:end].split(b"\n"):
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(value, dict):
            keys.update(dict.fromkeys(value))
    return list(keys)


def _set_aside_broken_lines(text: bytes, starts: np.ndarray, ends: np.ndarray, bad: list[BadRecord]) -> list[int]:
    """Find lines that cannot be a JSON object cheaply, so one bad line does not split chunks.

    A line that does not start with ``{`` and end with ``}`` is checked on its own; the
    broken ones become bad records, and their indexes (0-based) are returned so the parse
    below leaves them out. Subtler breakage is still caught by the chunked parse.
    """
    import numpy as np

    buffer = np.frombuffer(text, dtype=np.uint8)
    nonblank = ends > starts
    if not nonblank.any():
        return []
    first = np.zeros(len(starts), dtype=np.uint8)
    last = np.zeros(len(starts), dtype=np.uint8)
    first[nonblank] = buffer[starts[nonblank]]
    last[nonblank] = buffer[ends[nonblank] - 1]
    candidates = np.flatnonzero(nonblank & ((first != ord("{")) | (last != ord("}"))))
    broken: list[int] = []
    for index in candidates:
        line = text[starts[index]:ends[index]]
        try:
            if isinstance(json.loads(line), dict):
                continue
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
        bad.append(BadRecord(int(index) + 1, _json_reason(line), line.decode("utf-8", "replace")))
        broken.append(int(index))
    return broken


def _parse_jsonl_lines(text: bytes, starts: np.ndarray, ends: np.ndarray, broken: np.ndarray, first: int,
                       last: int, schema: dict[str, type[pl.String]], file: str,
                       ) -> tuple[list[pl.DataFrame], list[np.ndarray], list[BadRecord]]:
    """Parse lines [first, last) (0-based), leaving out blank lines and the ``broken`` ones (sorted).

    A chunk that fails is halved until the bad lines are found.
    """
    import numpy as np
    import polars as pl

    frames: list[pl.DataFrame] = []
    numbers: list[np.ndarray] = []
    bad: list[BadRecord] = []
    skip = ends == starts
    skip[broken] = True
    view = memoryview(text)

    def chunk_text(first: int, last: int) -> bytes:
        """Lines [first, last), broken ones emptied (their line break kept): polars skips empty lines."""
        inside = broken[np.searchsorted(broken, first):np.searchsorted(broken, last)]
        parts, position = [], int(starts[first])
        for index in inside:
            parts.append(view[position:starts[index]])
            position = int(ends[index])
        parts.append(view[position:ends[last - 1]])
        return b"".join(parts)

    def parse(first: int, last: int) -> None:
        lines = np.arange(first, last)
        lines = lines[~skip[first:last]]
        if len(lines) == 0:
            return
        try:
            frame = pl.read_ndjson(io.BytesIO(chunk_text(first, last)), schema=schema)
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
            raise ContractError("could not account for every JSON line", file=file)
        frames.append(frame)
        numbers.append(lines + 1)

    parse(first, last)
    return frames, numbers, bad


def _parse_jsonl_whole(text: bytes, starts: np.ndarray, ends: np.ndarray, broken: np.ndarray,
                       schema: dict[str, type[pl.String]]) -> tuple[pl.DataFrame, np.ndarray] | None:
    """Parse every line in one polars call (it uses all cores), or None if some line fails.

    The usual file has no broken line but those :func:`_set_aside_broken_lines` found: they
    are blanked with spaces (polars skips blank lines), so record n is the n-th remaining
    line. One call costs about a third less than parsing in chunks, which copy their text.
    When a subtler broken line makes the whole parse fail, the chunks find it (None here).
    """
    import numpy as np
    import polars as pl

    keep = ends > starts
    keep[broken] = False
    lines = np.flatnonzero(keep)
    if not len(lines):
        return None
    body = text
    if len(broken):  # one copy, as bytes (io.BytesIO would copy a bytearray once more)
        view, position = memoryview(text), 0
        parts: list[bytes | memoryview] = []
        for index in broken:
            parts += [view[position:starts[index]], b" " * int(ends[index] - starts[index])]
            position = int(ends[index])
        body = b"".join([*parts, view[position:]])
    try:
        frame = pl.read_ndjson(io.BytesIO(body), schema=schema)
    except Exception:
        return None
    if frame.height != len(lines):  # e.g. two objects on one line: let the chunks account for it
        return None
    return frame, (lines + 1).astype(np.int64)


def read_jsonl(path: Path, data: bytes, *, declared_encoding: str | None) -> SourceRead:
    """One JSON object per line; lines that do not parse as an object are bad.

    The whole file is parsed in one polars call when it can be; otherwise chunks of lines
    are parsed on a few threads. Each chunk knows its line numbers, so the result is the
    same as parsing line by line.

    A file not declared GBK or GB18030 is first parsed as it is, without checking its
    encoding beforehand: polars refuses invalid UTF-8 anywhere in a line it parses, and
    the lines set aside as broken are checked one by one. If either finds a byte that is
    not UTF-8 (or any line needs the chunks), the file goes the general way: encoding
    detection (:func:`decode`), which also quarantines undecodable lines.
    """
    if not data.startswith(BOM) and declared_encoding not in {"gbk", "gb18030"}:
        try:
            return _read_jsonl(path, Decoded(data, "utf-8", []), checked=False)
        except _NotPiecewise:
            pass
    return _read_jsonl(path, decode(data, file=str(path), declared=declared_encoding), checked=True)


def _read_jsonl(path: Path, decoded: Decoded, *, checked: bool) -> SourceRead:
    """Parse decoded JSON Lines; with ``checked`` off (UTF-8 not verified yet) raise _NotPiecewise
    rather than take any path on which an invalid byte could go unnoticed."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    text = decoded.text
    starts, ends = _line_spans(text)
    raw_keys = _sample_keys(text)
    if not raw_keys and len(starts):
        if not checked:
            raise _NotPiecewise
        raise ContractError("no JSON object found in the first lines; is this JSON Lines?", file=str(path))
    header_map = {_fold_header(key): key for key in raw_keys}
    schema = {key: pl.String for key in raw_keys}
    bad: list[BadRecord] = list(decoded.bad)
    broken = np.array(_set_aside_broken_lines(text, starts, ends, bad), dtype=np.int64)
    if not checked:
        try:
            for index in broken:
                text[starts[index]:ends[index]].decode("utf-8")  # as strict as Arrow's check
        except UnicodeDecodeError:
            raise _NotPiecewise from None
    whole = _parse_jsonl_whole(text, starts, ends, broken, schema)
    if whole is not None:
        combined, line_numbers = whole
    elif not checked:
        raise _NotPiecewise
    else:
        chunks = [(first, min(first + JSON_CHUNK_LINES, len(starts)))
                  for first in range(0, len(starts), JSON_CHUNK_LINES)]
        parsed = _in_threads(lambda lines: _parse_jsonl_lines(text, starts, ends, broken, *lines, schema, str(path)),
                             chunks)
        frames = [frame for chunk_frames, _, _ in parsed for frame in chunk_frames]
        numbers = [array for _, chunk_numbers, _ in parsed for array in chunk_numbers]
        for _, _, chunk_bad in parsed:
            bad.extend(chunk_bad)
        combined = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
        line_numbers = np.concatenate(numbers) if numbers else np.zeros(0, dtype=np.int64)
    combined = combined.rename({key: _fold_header(key) for key in raw_keys if key != _fold_header(key)})
    _too_many_bad(len(bad), combined.height + len(bad), str(path), "JSON lines")
    table = combined.to_arrow(compat_level=pl.CompatLevel.newest())  # string_view: polars' own, no copy
    schema_text = pa.schema([pa.field(name, pa.string_view()) for name in table.column_names])
    if not table.schema.equals(schema_text):
        table = table.cast(schema_text)
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
