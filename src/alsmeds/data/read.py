"""Reading a register extract folder as found on disk, before any rule is applied.

A register extract is one folder holding a ``<name>.csv`` or ``<name>.parquet`` file
for every table of :data:`alsmeds.data.schema.TABLES`, plus ``extract.json`` with the
study dates (see ``data/README.md``).  :func:`load_raw` finds and reads the files:
CSV as text, every value exactly as written, with the file line of every record
(a byte scan before the CSV parser, so that blank lines and quoted line breaks never
shift a reported line); Parquet as stored.  Problems of the files themselves (a quote
that is never closed, a record with too many or too few fields, a byte that is not
UTF-8, an unreadable file) are collected as :class:`~alsmeds.data.problems.Problem`
with their rule and line, never raised as a traceback, and no row is silently lost:
the number of records parsed is checked against the records found in the bytes.  Every
check takes time linear in the file, so a damaged file (a binary file under a ``.csv``
name, a Latin-1 export with a bad byte on every line) is rejected in seconds.

Typing and validation are the next steps (:mod:`alsmeds.data.validate`,
:func:`alsmeds.data.registry.read_registry`).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.data import schema
from alsmeds.data.problems import (
    MAX_LINES_IN_QUOTED_VALUE,
    MAX_ROWS_STORED,
    MAX_SHOWN,
    RULES,
    Problem,
    RegistryValidationError,
    _file_problem,
)


@dataclass
class RawRegistry:
    """A register extract as found on disk, before parsing (see :func:`load_raw`)."""

    data_dir: Path
    tables: dict[str, pd.DataFrame]
    files: dict[str, str]
    metadata: dict[str, Any] | None
    problems: list[Problem]
    #: Table name -> 1-based file line of each row (None: row r is on line r + 2; Parquet).
    lines: dict[str, np.ndarray | None] = field(default_factory=dict)

    def display_files(self) -> dict[str, str]:
        """File name of every table for reports: the file read, or ``<name>.csv`` if none was found."""
        return {name: self.files.get(name, f"{name}.csv") for name in schema.TABLES}


#: A quoted field: a quote at the start of a field (first byte of the file or after a comma
#: or line break), then anything but a lone quote (``""`` is an escaped quote), then the
#: closing quote, which is absent when the quote is never closed.  A quote elsewhere in a
#: field is a literal character, as in the CSV readers of pyarrow and Python.
_QUOTED_FIELD = re.compile(rb'(?<![^,\r\n])"(?:[^"]+|"")*("?)')


_BOM = b"\xef\xbb\xbf"


class CsvFormatError(ValueError):
    """A CSV file is not well-formed; :attr:`problems` name the rule and the file lines.

    Attributes
    ----------
    problems : list of alsmeds.data.problems.Problem
        One problem per rule broken (``unbalanced_quote``, ``wrong_field_count``,
        ``not_utf8``, ``unreadable_table``), each with the data rows and file lines.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass
class _CsvScan:
    """The physical layout of a CSV file: where its records start, found by a byte scan.

    A record ends at a line break outside quotes; a line break inside a quoted value
    belongs to the value.  Empty lines are skipped (as pyarrow does); the first
    non-empty record is the header.
    """

    data: bytes
    table: str
    file: str
    breaks: np.ndarray  # byte offsets of line breaks ("\n", or a lone "\r")
    span_start: np.ndarray  # byte offsets of opening quotes of quoted fields
    span_end: np.ndarray  # end (exclusive) of each quoted field
    span_closed: np.ndarray  # bool: the quote is closed
    seg_start: np.ndarray  # byte range of each record (empty ones included)
    seg_end: np.ndarray
    seg_line: np.ndarray  # 1-based file line on which each record starts
    quoted_breaks: np.ndarray  # byte offsets of line breaks inside quoted fields
    header_seg: int  # index of the header record (-1: the file is empty)
    record_segs: np.ndarray  # indices of the data records (non-empty, after the header)

    @property
    def record_lines(self) -> np.ndarray:
        return self.seg_line[self.record_segs]

    def locate(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Data row (-1 for the header) and file line of byte offsets."""
        offsets = np.asarray(offsets, dtype=np.int64)
        lines = np.searchsorted(self.breaks, offsets, side="left") + 1
        starts = self.seg_start[self.record_segs]
        rows = np.searchsorted(starts, offsets, side="right") - 1
        return rows, lines

    def field_counts(self) -> np.ndarray:
        """Number of fields in each data record (commas outside quotes + 1)."""
        b = np.frombuffer(self.data, dtype=np.uint8)
        commas = np.flatnonzero(b == ord(","))
        commas = commas[~_inside(commas, self.span_start, self.span_end)]
        start = self.seg_start[self.record_segs]
        end = self.seg_end[self.record_segs]
        return np.searchsorted(commas, end) - np.searchsorted(commas, start) + 1


def _inside(pos: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which byte offsets lie inside a quoted field (the spans are sorted and disjoint)."""
    out = np.zeros(len(pos), dtype=bool)
    if len(starts) == 0 or len(pos) == 0:
        return out
    i = np.searchsorted(starts, pos, side="right") - 1
    ok = i >= 0
    out[ok] = pos[ok] < ends[i[ok]]
    return out


def _quoted_spans_by_pairs(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Quoted fields found by pairing quotes, for files quoted by the rules (every field quoted, say).

    When the quotes pair up so that each opening quote starts a field (or follows a
    closing quote: an escaped ``""``) and each closing quote ends one (or precedes an
    opening quote), the pairs are exactly what :data:`_QUOTED_FIELD` finds, at numpy
    speed; adjacent pairs (escaped quotes) are merged into one field.  Otherwise None.
    """
    q = np.flatnonzero(b == ord('"'))
    if len(q) % 2:
        return None
    opens, closes = q[0::2], q[1::2]
    n = len(b)
    ends_field = np.isin(b[np.minimum(closes + 1, n - 1)], (ord(","), ord("\n"), ord("\r"))) | (closes + 1 >= n)
    starts_field = np.isin(b[np.maximum(opens - 1, 0)], (ord(","), ord("\n"), ord("\r"))) | (opens == 0)
    escaped_open = np.zeros(len(opens), dtype=bool)
    escaped_open[1:] = opens[1:] == closes[:-1] + 1
    escaped_close = np.zeros(len(closes), dtype=bool)
    escaped_close[:-1] = escaped_open[1:]
    if not ((starts_field | escaped_open).all() and (ends_field | escaped_close).all()):
        return None
    new = ~escaped_open
    last = np.ones(len(closes), dtype=bool)
    last[:-1] = new[1:]
    return opens[new].astype(np.int64), (closes[last] + 1).astype(np.int64), np.ones(int(new.sum()), dtype=bool)


def _scan_csv(data: bytes, table: str, file: str) -> _CsvScan:
    b = np.frombuffer(data, dtype=np.uint8)
    n = len(data)
    breaks = np.flatnonzero(b == ord("\n"))
    if data.find(b"\r") >= 0:  # a lone "\r" ends a line too (old Mac files); "\r\n" counts once
        cr = np.flatnonzero(b == ord("\r"))
        nxt = np.minimum(cr + 1, n - 1)
        lone = cr[(cr + 1 >= n) | (b[nxt] != ord("\n"))]
        if len(lone):
            breaks = np.union1d(breaks, lone)
    if data.find(b'"') >= 0:
        spans = _quoted_spans_by_pairs(b)
        if spans is None:  # quotes inside fields, or a quote left open: the exact (slower) tokenizer
            found = [(m.start(), m.end(), bool(m.group(1))) for m in _QUOTED_FIELD.finditer(data)]
            spans = (
                np.array([f[0] for f in found], dtype=np.int64),
                np.array([f[1] for f in found], dtype=np.int64),
                np.array([f[2] for f in found], dtype=bool),
            )
        span_start, span_end, span_closed = spans
    else:
        span_start = span_end = np.zeros(0, dtype=np.int64)
        span_closed = np.zeros(0, dtype=bool)
    in_quotes = _inside(breaks, span_start, span_end)
    terminators = breaks[~in_quotes]
    seg_start = np.concatenate([[0], terminators + 1]).astype(np.int64)
    seg_end = np.concatenate([terminators, [n]]).astype(np.int64)
    length = seg_end - seg_start
    first = b[np.minimum(seg_start, max(n - 1, 0))] if n else np.zeros(len(seg_start), dtype=np.uint8)
    blank = (length == 0) | ((length == 1) & (first == ord("\r")))
    if len(terminators) == len(breaks):  # no line break inside quotes: record k starts on line k + 1
        seg_line = np.arange(1, len(seg_start) + 1, dtype=np.int64)
    else:
        seg_line = np.searchsorted(breaks, seg_start, side="left") + 1
    nonblank = np.flatnonzero(~blank)
    header = int(nonblank[0]) if len(nonblank) else -1
    return _CsvScan(
        data,
        table,
        file,
        breaks,
        span_start,
        span_end,
        span_closed,
        seg_start,
        seg_end,
        seg_line,
        breaks[in_quotes],
        header,
        nonblank[1:],
    )


def _structure_problem(
    scan: _CsvScan, rule: str, message: str, rows: np.ndarray, lines: np.ndarray, values: list[str], n_values: int
) -> Problem:
    """A file-structure problem on data rows (``rows`` >= 0, ascending) with their file lines."""
    rows, first = np.unique(np.asarray(rows, dtype=np.int64), return_index=True)
    lines = np.asarray(lines, dtype=np.int64)[first]
    return Problem(
        table=scan.table,
        column=None,
        rule=rule,
        rows=rows[:MAX_ROWS_STORED].tolist(),
        message=message,
        values=values[: MAX_SHOWN + 1],
        n_rows=len(rows),
        n_values=max(n_values, len(values)),
        file=scan.file,
        requirement=RULES[rule],
        lines=lines[:MAX_ROWS_STORED].tolist(),
    )


def _header_problem(scan: _CsvScan, rule: str, message: str, on_line_1: bool = True) -> Problem:
    """A problem of the file as a whole or of its header line (file line 1)."""
    return Problem(
        table=scan.table,
        column=None,
        rule=rule,
        message=message,
        file=scan.file,
        requirement=RULES[rule],
        lines=[1] if on_line_1 else [],
    )


def _quote_problems(scan: _CsvScan, header: list[str] | None) -> tuple[list[Problem], np.ndarray]:
    """Quoted values that would merge or swallow records.

    A quoted value is flagged when it is never closed, spans
    :data:`MAX_LINES_IN_QUOTED_VALUE` lines or more, holds lines shaped like records of
    the table (:func:`_holds_records`), or opens in the header and spans lines.  A
    short line break in free text is allowed.  Returns the problems and the byte
    offsets where the flagged quotes open.
    """
    none = np.zeros(0, dtype=np.int64)
    if len(scan.span_start) == 0:
        return [], none
    # the quoted fields holding a line break, and how many each holds (few: free text)
    holder = np.searchsorted(scan.span_start, scan.quoted_breaks, side="right") - 1
    n_breaks = np.zeros(len(scan.span_start), dtype=np.int64)
    np.add.at(n_breaks, holder, 1)
    candidates = np.union1d(np.unique(holder), np.flatnonzero(~scan.span_closed)).astype(np.int64)
    if len(candidates) == 0:
        return [], none
    header_end = int(scan.seg_end[scan.header_seg])
    ncols = len(header) if header else 0
    id_column = header.index("person_id") if header and "person_id" in header else None
    bad: list[int] = []
    texts: list[str] = []
    for i in candidates:
        start, end = int(scan.span_start[i]), int(scan.span_end[i])
        line = int(np.searchsorted(scan.breaks, start, side="left")) + 1
        spanned = int(n_breaks[i]) + 1
        if not scan.span_closed[i]:
            after = spanned - 1 - (1 if scan.data.endswith((b"\n", b"\r")) else 0)  # lines after the opening one
            lost = f": the {after:,} lines after it would be lost" if after > 0 else ""
            texts.append(f"quote opened on line {line} is never closed{lost}")
        elif start < header_end:
            texts.append(f"quoted header field on line {line} spans {spanned:,} lines")
        elif spanned >= MAX_LINES_IN_QUOTED_VALUE:
            texts.append(f"quoted value from line {line} spans {spanned:,} lines")
        elif ncols >= 2 and _holds_records(scan.data[start + 1 : end], ncols, id_column):
            texts.append(f"quoted value on lines {line}-{line + spanned - 1} holds lines shaped like records")
        else:
            continue  # a line break in free text: allowed, and the file lines stay exact
        bad.append(start)
    if not bad:
        return [], none
    offsets = np.asarray(bad, dtype=np.int64)
    rows, lines = scan.locate(offsets)
    message = "unbalanced quotes, a quoted value runs over line breaks and would merge or swallow records:"
    problems = []
    in_header = rows < 0
    if in_header.any():
        first = int(np.flatnonzero(in_header)[0])
        problems.append(_header_problem(scan, "unbalanced_quote", f"{message} {texts[first]}"))
    if (~in_header).any():
        kept = [t for t, h in zip(texts, in_header, strict=True) if not h]
        problems.append(
            _structure_problem(scan, "unbalanced_quote", message, rows[~in_header], lines[~in_header], kept, len(kept))
        )
    return problems, offsets


def _holds_records(content: bytes, ncols: int, id_column: int | None) -> bool:
    """Whether a quoted value's continuation lines look like records of the table.

    A line looks like a record when it has at least as many commas as the header and,
    if the table has a ``person_id`` column, a whole number in that position.
    """
    for line in content.splitlines()[1:]:
        if line.count(b",") < ncols - 1:
            continue
        if id_column is None or line.split(b",")[id_column].strip().strip(b'"').isdigit():
            return True
    return False


#: Bytes of a file judged per step of the UTF-8 check: bounds its memory (the time is linear).
_UTF8_BLOCK = 1 << 23


def _not_utf8_offsets(b: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Offsets in ``[start, stop)`` of the bytes that belong to no well-formed UTF-8 sequence.

    A byte is well-formed when it is ASCII or part of a complete multi-byte sequence: a
    lead byte C2-DF, E0-EF or F0-F4 followed by the one, two or three continuation bytes
    (80-BF) it announces, the second byte within the narrower ranges of E0 (A0-BF), ED
    (80-9F), F0 (90-BF) and F4 (80-8F) that exclude overlong forms, surrogates and code
    points above U+10FFFF.  Every other byte is one that Python's strict decoder reports
    in an error.  Vectorised over the non-ASCII bytes; the three bytes before ``start``
    are judged too, so that a sequence crossing the block boundary is seen whole.

    Parameters
    ----------
    b : numpy.ndarray of uint8
        The whole file.
    start, stop : int
        The block of ``b`` to judge.

    Returns
    -------
    numpy.ndarray of int64
        Ascending offsets into ``b``.
    """
    first = max(start - 3, 0)
    pos = np.flatnonzero(b[first:stop] >= 0x80) + first
    if len(pos) == 0:
        return pos
    value = b[pos]

    def following(k: int) -> np.ndarray:
        at = pos + k
        out = np.zeros(len(pos), dtype=np.uint8)  # 0 (ASCII) past the end: never a continuation byte
        inside = at < len(b)
        out[inside] = b[at[inside]]
        return out

    c1, c2, c3 = following(1), following(2), following(3)
    low = np.where(value == 0xE0, 0xA0, np.where(value == 0xF0, 0x90, 0x80))
    high = np.where(value == 0xED, 0x9F, np.where(value == 0xF4, 0x8F, 0xBF))
    second = (c1 >= low) & (c1 <= high)
    third = (c2 & 0xC0) == 0x80
    ok2 = (value >= 0xC2) & (value <= 0xDF) & second
    ok3 = (value >= 0xE0) & (value <= 0xEF) & second & third
    ok4 = (value >= 0xF0) & (value <= 0xF4) & second & third & ((c3 & 0xC0) == 0x80)
    good = ok2 | ok3 | ok4
    covered = np.zeros(len(pos), dtype=bool)  # continuation bytes of a well-formed sequence
    for k, lead in ((1, good), (2, ok3 | ok4), (3, ok4)):
        targets = pos[lead] + k
        covered[np.searchsorted(pos, targets[targets < stop])] = True
    return pos[~good & ~covered & (pos >= start)]


def _utf8_problems(scan: _CsvScan) -> list[Problem]:
    """Bytes that are not UTF-8, with their file lines (the contract's CSV files are UTF-8).

    One vectorised pass over the file in blocks of :data:`_UTF8_BLOCK` bytes
    (:func:`_not_utf8_offsets`): the time grows linearly with the file, however many
    bytes are wrong, and the count of bytes, rows and distinct byte values is exact.
    """
    data = scan.data
    if data.isascii():
        return []
    try:
        data.decode("utf-8")
        return []
    except UnicodeDecodeError:
        pass
    b = np.frombuffer(data, dtype=np.uint8)
    count = 0
    byte_values: dict[int, None] = {}  # distinct offending byte values, in order of appearance
    row_parts: list[np.ndarray] = []
    line_parts: list[np.ndarray] = []
    for start in range(0, len(b), _UTF8_BLOCK):
        offsets = _not_utf8_offsets(b, start, min(start + _UTF8_BLOCK, len(b)))
        if len(offsets) == 0:
            continue
        count += len(offsets)
        values = b[offsets]
        _, first = np.unique(values, return_index=True)
        byte_values.update(dict.fromkeys(values[np.sort(first)].tolist()))
        rows, lines = scan.locate(offsets)
        rows, first = np.unique(rows, return_index=True)  # one entry per row: the line of its first bad byte
        row_parts.append(rows)
        line_parts.append(lines[first])
    rows, lines = np.concatenate(row_parts), np.concatenate(line_parts)
    problems = []
    if (rows < 0).any():
        problems.append(_header_problem(scan, "not_utf8", "the header line holds bytes that are not UTF-8"))
    if (rows >= 0).any():
        message = f"{count:,} byte(s) that are not UTF-8 (re-save the file as UTF-8, e.g. from Latin-1):"
        keep = rows >= 0
        shown = [f"0x{v:02X}" for v in list(byte_values)[: MAX_SHOWN + 1]]
        problems.append(_structure_problem(scan, "not_utf8", message, rows[keep], lines[keep], shown, len(byte_values)))
    return problems


#: Byte-order marks of text in a wide encoding (UTF-32 first: its little-endian mark begins
#: with UTF-16's).
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)


#: Wide encodings tried on a file without byte-order mark that holds NUL bytes.
_WIDE_ENCODINGS = (
    ("utf-32-le", "UTF-32 (little-endian)"),
    ("utf-32-be", "UTF-32 (big-endian)"),
    ("utf-16-le", "UTF-16 (little-endian)"),
    ("utf-16-be", "UTF-16 (big-endian)"),
)


#: Bytes of a file's start tried in the wide encodings.
_WIDE_SAMPLE = 1 << 16


#: Leading bytes of binary formats that end up under a ``.csv`` name, and what to do.
_BINARY_FORMATS = (
    (b"PAR1", "a Parquet file (name it {table}.parquet)"),
    (b"\x1f\x8b", "gzip-compressed data (decompress it first)"),
    (b"PK\x03\x04", "a ZIP archive, such as an Excel .xlsx workbook (export the table as CSV)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel .xls workbook (export the table as CSV)"),
    (b"\xfd7zXZ\x00", "xz-compressed data (decompress it first)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data (decompress it first)"),
)


def _wide_encoding(sample: bytes) -> str | None:
    """The UTF-32 or UTF-16 encoding in which ``sample`` (without byte-order mark) reads as a table's text.

    A table's text holds no NUL character, a comma or a line break, and at least 90%
    ASCII characters (digits, dates, codes); binary data decoded in a wide encoding
    gives unpaired surrogates, NULs or mostly non-ASCII characters.
    """
    for codec, label in _WIDE_ENCODINGS:
        try:
            text = codecs.getincrementaldecoder(codec)("strict").decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        ascii_chars = len(text.encode("ascii", "ignore"))
        if text and "\x00" not in text and ("," in text or "\n" in text) and ascii_chars >= 0.9 * len(text):
            return label
    return None


def _line_of(data: bytes, offset: int) -> int:
    """1-based file line of a byte offset: line breaks before it (``\n``, or a lone ``\r``) plus one."""
    lone_cr = data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset)
    return data.count(b"\n", 0, offset) + lone_cr + 1


def _encoding_problem(data: bytes, table: str, file: str) -> Problem | None:
    """A file that is not UTF-8 text at all: UTF-16 or UTF-32, or binary data; None for text.

    Checked on the raw bytes before anything else, in time linear in the file (a search
    for NUL bytes), so that a binary file is rejected at once with what it is: text in a
    wide encoding (found by its byte-order mark, or, without one, by decoding the file's
    start, :func:`_wide_encoding`) is ``not_utf8``; a known binary format (Parquet, gzip,
    ZIP or Excel...) or any other file holding NUL bytes is ``unreadable_table``.
    """
    for bom, label in _WIDE_BOMS:
        if data.startswith(bom):
            message = f"the file is {label} text (it starts with that byte-order mark); re-save it as UTF-8"
            return _file_problem(table, file, "not_utf8", message)
    for magic, what in _BINARY_FORMATS:
        if data.startswith(magic) and (magic != b"PAR1" or data.endswith(magic)):
            message = f"the file is not CSV text but {what.format(table=table)}"
            return _file_problem(table, file, "unreadable_table", message)
    nul = data.find(b"\x00")
    if nul < 0:
        return None
    label = _wide_encoding(data[:_WIDE_SAMPLE])
    if label is not None:
        message = (
            f"the file looks like {label} text without a byte-order mark (NUL bytes between the "
            "characters); re-save it as UTF-8"
        )
        return _file_problem(table, file, "not_utf8", message)
    n_nul = data.count(b"\x00")
    message = (
        f"the file holds {n_nul:,} NUL byte(s) (0x00), the first on file line "
        f"{_line_of(data, nul):,}: it is binary data, not CSV text (or a damaged copy)"
    )
    return _file_problem(table, file, "unreadable_table", message)


def _field_count_problem(scan: _CsvScan, ncols: int, skip: np.ndarray) -> list[Problem]:
    """Records with more or fewer fields than the header (``skip``: offsets of quotes already reported)."""
    counts = scan.field_counts()
    wrong = counts != ncols
    if len(skip):  # a record holding an unbalanced quote is reported once, for the quote
        rows, _ = scan.locate(skip)
        wrong[rows[rows >= 0]] = False
    if not wrong.any():
        return []
    rows = np.flatnonzero(wrong)
    values = list(dict.fromkeys(f"{c} fields" for c in counts[rows]))
    return [
        _structure_problem(
            scan,
            "wrong_field_count",
            f"records whose number of fields differs from the header's {ncols}:",
            rows,
            scan.record_lines[rows],
            values,
            len(values),
        )
    ]


def _parse_header(scan: _CsvScan) -> list[str]:
    start, end = int(scan.seg_start[scan.header_seg]), int(scan.seg_end[scan.header_seg])
    text = scan.data[start:end].decode("utf-8").rstrip("\r")
    return next(csv.reader([text]), [])


def read_csv_checked(path: str | Path, table: str | None = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Read a CSV file as text, after checking its structure; return the frame and the file line of each row.

    The structure is checked with a byte scan before the values are read (with
    pyarrow): line breaks outside quotes end records, empty lines are skipped, and each
    data row's starting file line is recorded, so that reports give exact file lines
    even after empty lines or a quoted value holding a line break.  A file that is the
    header line alone (with or without a final line break) is an empty table.  Before
    the scan, a file that is not text at all is rejected at once
    (:func:`_encoding_problem`): UTF-16 or UTF-32 text (``not_utf8``), or binary data
    such as NUL bytes or a Parquet, compressed or Excel file (``unreadable_table``).
    The scan rejects:

    * a quoted value that is never closed, spans :data:`MAX_LINES_IN_QUOTED_VALUE`
      lines or more, or holds lines shaped like records (rule ``unbalanced_quote``):
      the reader would silently merge or swallow records;
    * a record with more or fewer fields than the header (``wrong_field_count``);
    * bytes that are not UTF-8 (``not_utf8``), found in one linear pass
      (:func:`_utf8_problems`).

    Parameters
    ----------
    path : str or pathlib.Path
    table : str, optional
        Table name for the problems (default: the file name without its suffix).

    Returns
    -------
    frame : pandas.DataFrame
        All columns of dtype ``string[pyarrow]``, empty fields as empty strings.
    record_lines : numpy.ndarray or None
        1-based file line on which each row starts (line 1 is the header), or None when
        row ``r`` is simply on line ``r + 2``.

    Raises
    ------
    CsvFormatError
        With every structural problem found.
    OSError
        If the file cannot be read.
    """
    import pyarrow as pa
    from pyarrow import csv as pacsv

    path = Path(path)
    table = table or path.stem
    data = path.read_bytes()
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    encoding = _encoding_problem(data, table, path.name)
    if encoding is not None:
        raise CsvFormatError([encoding])
    scan = _scan_csv(data, table, path.name)
    if scan.header_seg < 0:
        raise CsvFormatError([_header_problem(scan, "unreadable_table", "the file is empty (no header line)", False)])
    problems = _utf8_problems(scan)
    header: list[str] | None = None
    h_start, h_end = scan.seg_start[scan.header_seg], scan.seg_end[scan.header_seg]
    # a line break inside the header record can only be inside a quote that opened in the header
    header_spans = np.searchsorted(scan.breaks, h_end) > np.searchsorted(scan.breaks, h_start)
    if not any(p.lines == [1] for p in problems) and not header_spans:
        try:
            header = _parse_header(scan)
        except (csv.Error, UnicodeDecodeError) as err:
            problems.append(_header_problem(scan, "unreadable_table", f"cannot read the header line: {err}"))
    quote_problems, quote_offsets = _quote_problems(scan, header)
    problems += quote_problems
    if header and problems:  # also list records of a wrong length (else pyarrow finds them, below)
        problems += _field_count_problem(scan, len(header), quote_offsets)
    if problems:
        raise CsvFormatError(problems)
    if not header:
        raise CsvFormatError([_header_problem(scan, "unreadable_table", "the header line is empty")])

    record_lines = scan.record_lines
    if len(record_lines) == 0:  # the header alone, with or without a final line break: an empty table
        empty = pa.table([pa.array([], pa.string())] * len(header), names=header)
        dtype = pd.StringDtype("pyarrow")
        return empty.to_pandas(types_mapper=lambda t: dtype if t == pa.string() else None), None
    longest = int((scan.seg_end - scan.seg_start).max())
    multiline = len(scan.quoted_breaks) > 0
    try:
        arrow = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data)),
            read_options=pacsv.ReadOptions(block_size=min(max(1 << 20, 2 * longest + 2), (1 << 31) - 1)),
            parse_options=pacsv.ParseOptions(newlines_in_values=multiline),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        located = _field_count_problem(scan, len(header), np.zeros(0, dtype=np.int64))
        if located:
            raise CsvFormatError(located) from err
        message = f"cannot read the file: {str(err).splitlines()[0]}"
        raise CsvFormatError([_header_problem(scan, "unreadable_table", message, on_line_1=False)]) from err
    if arrow.num_rows != len(record_lines):
        message = (
            f"the file holds {len(record_lines):,} records but the CSV reader returned {arrow.num_rows:,} rows; "
            "check its quotes and line ends"
        )
        raise CsvFormatError([_header_problem(scan, "unreadable_table", message, on_line_1=False)])
    dtype = pd.StringDtype("pyarrow")
    frame = arrow.to_pandas(types_mapper=lambda t: dtype if t == pa.string() else None)
    n = len(record_lines)
    trivial = n == 0 or (int(record_lines[0]) == 2 and int(record_lines[-1]) == n + 1)
    return frame, (None if trivial else record_lines)


def read_csv_raw(path: str | Path) -> pd.DataFrame:
    """Read a CSV file with every column as text, exactly as written.

    Empty fields become empty strings; nothing else (``NA``, ``NULL``) is treated as
    missing.  Columns are Arrow-backed strings (``string[pyarrow]``), which keeps
    long tables compact and fast to check.  The file's structure is checked first
    (see :func:`read_csv_checked`).

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    pandas.DataFrame
        All columns of dtype ``string[pyarrow]``.

    Raises
    ------
    ValueError
        If the file is empty or is not valid CSV (a :class:`CsvFormatError` naming the
        rule and file lines).
    """
    return read_csv_checked(path)[0]


def read_parquet_raw(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file as stored, keeping columns that share a name.

    ``pandas.read_parquet`` refuses a file whose schema repeats a column name (with
    pyarrow's wording); such a file is read column by column instead, so that the
    validator reports the repeated name by the rule ``duplicate_column``.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    pandas.DataFrame
        The columns as stored (a repeated name appears more than once).
    """
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    if len(set(names)) == len(names):
        return pd.read_parquet(path)
    return pq.ParquetFile(path).read(use_pandas_metadata=True).to_pandas()


def read_table_raw(path: str | Path) -> pd.DataFrame:
    """Read one table file, CSV as text (:func:`read_csv_raw`) or Parquet as stored (:func:`read_parquet_raw`)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return read_parquet_raw(path)
    return read_csv_raw(path)


def _list_folder(data_dir: Path) -> set[str]:
    """Names in the folder; raises RegistryValidationError if it is missing or cannot be read."""
    try:
        is_dir = data_dir.is_dir()
        names = set(os.listdir(data_dir)) if is_dir else set()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        problem = _file_problem("extract", str(data_dir), "unreadable_folder", f"cannot read the folder: {reason}")
        raise RegistryValidationError([problem], data_dir) from None
    if not is_dir:
        problem = _file_problem("extract", str(data_dir), "missing_folder", "no such folder")
        raise RegistryValidationError([problem], data_dir)
    return names


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (a folder, a broken link...), or None."""
    try:
        if path.is_file():
            return None
        return "it is a folder, not a file" if path.is_dir() else "it is not a regular file"
    except OSError as err:
        return f"cannot read the file: {err.strerror or type(err).__name__}"


def load_raw(data_dir: str | Path) -> RawRegistry:
    """Find and read the table files and ``extract.json`` of a folder, without parsing.

    File-level problems (missing or doubled table files, unreadable or malformed files,
    missing ``extract.json``) are collected in :attr:`RawRegistry.problems`, not
    raised; a table whose file cannot be read is left out of :attr:`RawRegistry.tables`.

    Parameters
    ----------
    data_dir : str or pathlib.Path

    Returns
    -------
    RawRegistry

    Raises
    ------
    alsmeds.data.problems.RegistryValidationError
        If ``data_dir`` is not a folder or cannot be listed.
    """
    data_dir = Path(data_dir)
    names = _list_folder(data_dir)
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    lines: dict[str, np.ndarray | None] = {}
    problems: list[Problem] = []
    for name in schema.TABLES:
        found = [data_dir / f"{name}{suffix}" for suffix in (".csv", ".parquet") if f"{name}{suffix}" in names]
        if len(found) > 1:
            files[name] = f"{name}.csv"
            problems.append(
                _file_problem(
                    name, files[name], "duplicate_table_file", f"both {name}.csv and {name}.parquet exist; remove one"
                )
            )
            continue
        if not found:
            continue  # reported as missing_table by the validator
        path = found[0]
        files[name] = path.name
        why = _not_a_file(path)
        if why is not None:
            problems.append(_file_problem(name, files[name], "unreadable_table", why))
            continue
        try:
            if path.suffix == ".parquet":
                tables[name] = read_parquet_raw(path)
            else:
                tables[name], lines[name] = read_csv_checked(path, name)
        except CsvFormatError as err:
            problems += err.problems
        except Exception as err:  # noqa: BLE001 - any failure to read a file is reported, never a traceback
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0]
            problems.append(_file_problem(name, files[name], "unreadable_table", f"cannot read the file: {reason}"))
    metadata: dict[str, Any] | None = None
    meta_file = schema.EXTRACT_METADATA_FILE
    if meta_file not in names:
        problems.append(_file_problem("extract", meta_file, "missing_metadata", "the file is missing"))
    else:
        why = _not_a_file(data_dir / meta_file)
        loaded: Any
        if why is not None:
            loaded = None
        else:
            try:
                loaded = json.loads((data_dir / meta_file).read_bytes().decode("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                why = f"the file is not valid JSON ({err})"
            except (OSError, RecursionError) as err:
                why = f"cannot read the file: {getattr(err, 'strerror', None) or err}"
        if why is None and isinstance(loaded, dict):
            metadata = loaded
        else:
            why = why or "the file is not a JSON object"
            problems.append(_file_problem("extract", meta_file, "missing_metadata", why))
    return RawRegistry(data_dir, tables, files, metadata, problems, lines)
