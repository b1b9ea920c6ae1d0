"""Files that are not UTF-8 text: rejected in time linear in the file, with what they are and where.

The UTF-8 check is one vectorised pass (``alsmeds.data.read._utf8_problems``) that counts the
offending bytes and rows exactly, however many there are (the former check decoded the rest of the
file at every error: quadratic, minutes for a Latin-1 export of 20 MiB).  A file holding NUL
bytes is judged before it is parsed: UTF-16 or UTF-32 text is named as such, any other is binary
data (``unreadable_table``), and a known binary format under a ``.csv`` name is named too.  Times
are measured in ``benchmarks/bench_reject_bad_bytes.py``, never asserted here.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alsmeds.data.read as aio
from alsmeds.data import schema
from alsmeds.data.problems import MAX_ROWS_STORED, MAX_SHOWN, Problem, RegistryValidationError
from alsmeds.data.read import CsvFormatError, read_csv_checked
from alsmeds.data.registry import read_registry
from alsmeds.data.validate import validate_registry
from alsmeds.paths import SYNTHETIC_DIR

TABLE_FILES = [f"{name}.csv" for name in schema.TABLES] + [schema.EXTRACT_METADATA_FILE]
PHARMACIES = ("Malmö", "Göteborg", "Västerås", "Jönköping", "Umeå", "Örebro")


# ``synthetic``: a copy of the committed extract (tests/conftest.py).


def _only(err: RegistryValidationError | CsvFormatError) -> Problem:
    (problem,) = err.problems
    return problem


def _with_pharmacy(path: Path) -> tuple[str, list[str]]:
    """The table's text with a column ``pharmacy`` (a Swedish place name on every row), and the names by row."""
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line]
    names = [f"Apoteket {PHARMACIES[i % len(PHARMACIES)]}" for i in range(len(lines) - 1)]
    body = [f"{line},{name}" for line, name in zip(lines[1:], names, strict=True)]
    return "\n".join([lines[0] + ",pharmacy", *body]) + "\n", names


# ----------------------------------------------------------------------------- Latin-1: the UTF-8 check


def test_latin1_export_with_a_bad_byte_on_every_row(synthetic: Path) -> None:
    """The committed dispensings (tens of thousands of rows) saved as Latin-1: every row, counted exactly."""
    path = synthetic / "dispensings.csv"
    text, names = _with_pharmacy(path)
    path.write_bytes(text.encode("latin-1"))
    n_rows = len(names)
    n_bytes = sum(len(name.encode("utf-8")) - len(name) for name in names)  # one per letter outside ASCII
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.table, problem.column, problem.rule) == ("dispensings", None, "not_utf8")
    assert problem.n_rows == n_rows and len(problem.rows) == MAX_ROWS_STORED
    assert problem.rows[:3] == [0, 1, 2] and problem.line_numbers[:3] == [2, 3, 4]
    assert problem.line_numbers[-1] == MAX_ROWS_STORED + 1
    # the distinct bytes in order of appearance (ö, ä, å, Ö), all of them counted
    assert problem.values == ["0xF6", "0xE4", "0xE5", "0xD6"] and problem.n_values == 4
    text = str(problem)
    assert text.startswith(
        f"dispensings.csv, rows {', '.join(map(str, range(MAX_SHOWN)))} and {n_rows - MAX_SHOWN} more "
        f"(file lines {', '.join(str(r + 2) for r in range(MAX_SHOWN))} and {n_rows - MAX_SHOWN} more): "
        f"{n_bytes:,} byte(s) that are not UTF-8 (re-save the file as UTF-8, e.g. from Latin-1): 0xF6, 0xE4, 0xE5, 0xD6"
    )
    with pytest.raises(RegistryValidationError):
        read_registry(synthetic, validate=False)  # a file rule: never read, even without validation


def test_one_latin1_byte_after_blank_lines_and_quoted_breaks(tmp_path: Path) -> None:
    """Exact rows and lines of the bad bytes after a blank line and a quoted line break."""
    path = tmp_path / "diagnoses.csv"
    path.write_bytes(
        b"person_id,diagnosis_date,icd10,note\n"
        b'101,2009-10-01,F32.1,"two\nlines"\n'
        b"\n"
        b"201,2011-02-14,F41,G\xf6teborg \xe2\x82\xac\n"  # a Latin-1 byte beside a UTF-8 euro sign
        b"102,2016-06-06,F321,\xe2\x82\n"  # a UTF-8 sequence cut short
    )
    with pytest.raises(CsvFormatError) as info:
        read_csv_checked(path)
    problem = _only(info.value)
    assert (problem.rule, problem.rows, problem.line_numbers) == ("not_utf8", [1, 2], [5, 6])
    assert problem.values == ["0xF6", "0xE2", "0x82"]
    assert "3 byte(s) that are not UTF-8" in str(problem)


def test_utf8_check_agrees_with_the_decoder() -> None:
    """The vectorised check flags exactly the bytes Python's strict decoder reports, for any block size."""
    found: list[tuple[int, int]] = []

    def record(err: UnicodeDecodeError) -> tuple[str, int]:
        found.append((err.start, err.end))
        return "", err.end

    codecs.register_error("alsmeds-test-record", record)
    rng = np.random.default_rng(20260621)
    pieces = [b"a", b",", b"\n", b"\xc3\xb6", b"\xf6", b"\xe2\x82\xac", b"\xe2\x82", b"\xf0\x9f\x98\x80", b"\xf0\x9f"]
    pieces += [b"\xed\xa0\x80", b"\xe0\x80\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80", b"\xbf", b"\xff", b"\xc2"]
    for trial in range(4_000):
        if trial % 2:
            data = b"".join(rng.choice(pieces, size=int(rng.integers(1, 12))))
        else:
            data = rng.integers(0, 256, size=int(rng.integers(1, 20)), dtype=np.uint8).tobytes()
        found.clear()
        data.decode("utf-8", "alsmeds-test-record")
        expected = sorted({i for start, end in found for i in range(start, end)})
        b = np.frombuffer(data, dtype=np.uint8)
        for block in (1, 2, 3, 7, 1 << 20):
            parts = [aio._not_utf8_offsets(b, s, min(s + block, len(b))) for s in range(0, len(b), block)]
            assert np.concatenate(parts).tolist() == expected, (data, block)


# ----------------------------------------------------------------------------- binary data and wide encodings


def test_random_binary_file_is_rejected_before_it_is_parsed(synthetic: Path) -> None:
    path = synthetic / "dispensings.csv"
    data = np.random.default_rng(21).integers(0, 256, size=1 << 20, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.table, problem.column, problem.rule, problem.rows) == ("dispensings", None, "unreadable_table", [])
    first = data.index(b"\x00")
    line = data.count(b"\n", 0, first) + data.count(b"\r", 0, first) - data.count(b"\r\n", 0, first) + 1
    n_nul = data.count(b"\0")
    assert str(problem).startswith(
        f"dispensings.csv: the file holds {n_nul:,} NUL byte(s) (0x00), the first on file line {line}: "
        "it is binary data, not CSV text"
    )
    with pytest.raises(RegistryValidationError):
        read_registry(synthetic, validate=False)


def test_nul_bytes_at_the_end_of_a_text_file(tmp_path: Path) -> None:
    """A copy padded with NUL bytes (a transfer cut short) is not read as text."""
    path = tmp_path / "persons.csv"
    path.write_bytes((SYNTHETIC_DIR / "persons.csv").read_bytes() + b"\0" * 4096)
    with pytest.raises(CsvFormatError) as info:
        read_csv_checked(path)
    problem = _only(info.value)
    n_lines = (SYNTHETIC_DIR / "persons.csv").read_bytes().count(b"\n")
    assert problem.rule == "unreadable_table"
    assert f"4,096 NUL byte(s) (0x00), the first on file line {n_lines + 1:,}" in str(problem)


@pytest.mark.parametrize(
    ("encoding", "label", "bom"),
    [
        ("utf-16-le", "UTF-16 (little-endian)", False),
        ("utf-16-be", "UTF-16 (big-endian)", False),
        ("utf-32-le", "UTF-32 (little-endian)", False),
        ("utf-32-be", "UTF-32 (big-endian)", False),
        ("utf-16", "UTF-16 (little-endian)", True),  # Python writes the byte-order mark, little-endian here
        ("utf-32", "UTF-32 (little-endian)", True),
    ],
)
def test_wide_encodings_are_named(synthetic: Path, encoding: str, label: str, bom: bool) -> None:
    """UTF-16 without a byte-order mark was reported as '1 fields' on the last line; now it is named."""
    path = synthetic / "persons.csv"
    text = path.read_text(encoding="utf-8").replace("sweden", "sverige-åäö", 1)  # not ASCII only
    path.write_bytes(text.encode(encoding))
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.table, problem.rule, problem.rows, problem.line_numbers) == ("persons", "not_utf8", [], [])
    if bom:
        expected = f"persons.csv: the file is {label} text (it starts with that byte-order mark); re-save it as UTF-8"
    else:
        expected = f"persons.csv: the file looks like {label} text without a byte-order mark"
    assert str(problem).startswith(expected)
    assert "re-save it as UTF-8" in str(problem) and "fields" not in str(problem)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("outcomes.csv", data)
    return buffer.getvalue()


def _parquet(data: bytes) -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(io.BytesIO(data), dtype=str).to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (_gzip, "gzip-compressed data (decompress it first)"),
        (_zip, "a ZIP archive, such as an Excel .xlsx workbook (export the table as CSV)"),
        (_parquet, "a Parquet file (name it outcomes.parquet)"),
    ],
    ids=["gzip", "zip", "parquet"],
)
def test_binary_formats_under_a_csv_name_are_named(synthetic: Path, make, what: str) -> None:
    path = synthetic / "outcomes.csv"
    path.write_bytes(make(path.read_bytes()))
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.table, problem.rule) == ("outcomes", "unreadable_table")
    assert str(problem).startswith(f"outcomes.csv: the file is not CSV text but {what} (rule unreadable_table: ")


def test_text_files_pass_the_binary_check() -> None:
    """No committed table, nor a UTF-8 file with Swedish letters, is taken for binary data or UTF-16."""
    for name in TABLE_FILES[:-1]:
        assert aio._encoding_problem((SYNTHETIC_DIR / name).read_bytes(), "t", name) is None
    text = "person_id,note\n101,Malmö åäö\n".encode()
    assert aio._encoding_problem(text, "t", "t.csv") is None
