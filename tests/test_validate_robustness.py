"""Bad input at the scale of a real extract: every problem ends as a report, never as lost rows or a traceback.

Each test starts from a copy of the committed synthetic data (tens of thousands of dispensings) or of
tests/data/valid_minimal and breaks it the way real files break: quotes left open,
records merged, a 20 MB line, a Latin-1 byte, empty lines, unreadable files and
folders, time-zone-aware Parquet timestamps, a closed output pipe.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alsmeds.data.read as aio
from alsmeds.data import schema
from alsmeds.data.problems import Problem, RegistryValidationError, ValidationReport, warnings_frame
from alsmeds.data.read import CsvFormatError, read_csv_checked, read_csv_raw
from alsmeds.data.registry import Registry, read_registry
from alsmeds.data.validate import validate_registry, validate_tables
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.pipeline import cli

DATA = Path(__file__).parent / "data"
VALID = DATA / "valid_minimal"
TABLE_FILES = [f"{name}.csv" for name in schema.TABLES] + [schema.EXTRACT_METADATA_FILE]


# ``synthetic``: a copy of the committed extract (tests/conftest.py).


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def _with_note(path: Path, notes: dict[int, str]) -> None:
    """Add a free-text column 'note' to a CSV table; ``notes`` maps 0-based data rows to raw field text."""
    lines = _lines(path)
    out = [lines[0] + ",note"]
    for i, line in enumerate(lines[1:]):
        if line:
            line += "," + notes.get(i, "")
        out.append(line)
    path.write_text("\n".join(out), encoding="utf-8")


def _data_rows(path: Path) -> int:
    """Records of a plain (unquoted) committed CSV file: its lines less the header."""
    return sum(1 for line in _lines(path)[1:] if line)


#: Dispensings in the committed synthetic data (counted, so a regenerated data set needs no edit here).
N_DISPENSINGS = _data_rows(SYNTHETIC_DIR / "dispensings.csv")


def _only(err: RegistryValidationError) -> Problem:
    (problem,) = err.problems
    return problem


# ----------------------------------------------------------------------------- quotes that swallow records


def test_unclosed_quote_in_free_text_is_an_error_naming_the_line(synthetic: Path) -> None:
    """The quote opens on row 30,000 and is never closed: every later row would vanish into one value."""
    path = synthetic / "dispensings.csv"
    _with_note(path, {30_000: '"refill early'})
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.table, problem.column, problem.rule) == ("dispensings", None, "unbalanced_quote")
    assert problem.rows == [30_000] and problem.line_numbers == [30_002]
    text = str(problem)
    assert text.startswith("dispensings.csv, row 30000 (file line 30002): unbalanced quotes")
    lost = N_DISPENSINGS - 30_000 - 1
    assert f"quote opened on line 30002 is never closed: the {lost:,} lines after it would be lost" in text
    # the reader never returns the truncated table, even without validation
    with pytest.raises(RegistryValidationError):
        read_registry(synthetic, validate=False)
    with pytest.raises(CsvFormatError):
        read_csv_raw(path)


def test_quote_closed_a_thousand_rows_later_is_an_error(synthetic: Path) -> None:
    path = synthetic / "dispensings.csv"
    _with_note(path, {5_000: '"see next', 6_000: 'done"'})
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert problem.rule == "unbalanced_quote" and problem.rows == [5_000] and problem.line_numbers == [5_002]
    assert "quoted value from line 5002 spans 1,001 lines" in str(problem)


def test_quote_closed_a_few_rows_later_is_an_error(synthetic: Path) -> None:
    """Two records merged: short, but the swallowed line is shaped like a record."""
    path = synthetic / "dispensings.csv"
    _with_note(path, {100: '"see next', 101: 'done"'})
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert problem.rule == "unbalanced_quote" and problem.line_numbers == [102]
    assert "holds lines shaped like records" in str(problem)


def test_quoted_free_text_with_line_breaks_is_read_with_exact_lines(synthetic: Path) -> None:
    """Legitimate free text: a quoted note over two lines (with commas), then a bad code further down."""
    path = synthetic / "dispensings.csv"
    _with_note(path, {10: '"take one,\nat night"', 20: '"say ""when"""'})
    lines = _lines(path)
    lines[20_002] = lines[20_002].replace(lines[20_002].split(",")[2], "N05B1", 1)  # row 20,000: line 20,003
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.rule, problem.rows, problem.line_numbers) == ("atc_code", [20_000], [20_003])
    frame, record_lines = read_csv_checked(path)
    assert len(frame) == N_DISPENSINGS
    assert frame.loc[10, "note"] == "take one,\nat night" and frame.loc[20, "note"] == 'say "when"'
    assert record_lines[10] == 12 and record_lines[11] == 14


def test_a_stray_quote_before_the_header_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "persons.csv"
    path.write_bytes(b'"' + (VALID / "persons.csv").read_bytes())
    with pytest.raises(CsvFormatError) as info:
        read_csv_raw(path)
    (problem,) = info.value.problems
    assert problem.rule == "unbalanced_quote" and problem.rows == [] and problem.line_numbers == [1]
    assert str(problem).startswith("persons.csv, file line 1: unbalanced quotes")


# ----------------------------------------------------------------------------- lines and bytes


def test_empty_lines_do_not_shift_file_lines(synthetic: Path) -> None:
    path = synthetic / "diagnoses.csv"
    lines = _lines(path)
    lines[8_001] = lines[8_001].rsplit(",", 1)[0] + ",F4"  # data row 8,000
    lines[100:100] = ["", "", "\r"]  # three empty lines (one with a lone CR line end) before it
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.rule, problem.rows, problem.line_numbers) == ("icd10_code", [8_000], [8_005])


def test_latin1_byte_is_reported_on_its_line(synthetic: Path) -> None:
    path = synthetic / "persons.csv"
    data = path.read_bytes().split(b"\n")
    data[3_999] += b",Malm\xf6"  # file line 4,000 is data row 3,998
    data[0] += b",municipality"
    data = [line + b"," if 0 < i != 3_999 and line else line for i, line in enumerate(data)]
    path.write_bytes(b"\n".join(data))
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.table, problem.rule) == ("persons", "not_utf8")
    assert (problem.rows, problem.line_numbers) == ([3_998], [4_000])
    assert "0xF6" in str(problem)


def test_extra_field_and_truncated_last_record_give_their_lines(synthetic: Path) -> None:
    path = synthetic / "alsfrs.csv"
    lines = _lines(path)
    lines[2_999] += ",7"  # file line 3,000: data row 2,998
    assert lines[-1] == ""
    lines[-1] = "100011,2019-0"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert problem.rule == "wrong_field_count"
    assert problem.rows == [2_998, 7_584] and problem.line_numbers == [3_000, 7_586]
    assert "4 fields" in str(problem) and "2 fields" in str(problem)


def test_a_20_mb_line_is_reported_not_a_traceback(synthetic: Path) -> None:
    path = synthetic / "dispensings.csv"
    lines = _lines(path)
    lines[10] = "x" * (20 << 20)  # a line of garbage without commas
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.rule, problem.line_numbers) == ("wrong_field_count", [11])
    assert len(str(info.value)) < 2_000


def test_a_20_mb_value_is_read_and_shown_cut(synthetic: Path) -> None:
    path = synthetic / "dispensings.csv"
    lines = _lines(path)
    person, day, _, packages = lines[10].split(",")
    lines[10] = ",".join([person, day, "N" * (20 << 20), packages])
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.rule, problem.line_numbers) == ("atc_code", [11])
    assert "... (20,971,520 characters)" in str(problem) and len(str(problem)) < 1_000


# ----------------------------------------------------------------------------- unreadable files and folders


def test_unreadable_extract_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == schema.EXTRACT_METADATA_FILE:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.table, problem.rule) == ("extract", "missing_metadata")
    assert "cannot read the file: Permission denied" in str(problem)


def test_unreadable_table_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "alsfrs.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.table, problem.rule) == ("alsfrs", "unreadable_table")
    assert "Permission denied" in str(problem)


def test_unreadable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    real = os.listdir

    def listdir(path):
        if Path(path) == root:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(aio.os, "listdir", listdir)
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.rule, problem.file) == ("unreadable_folder", str(root))
    assert "cannot read the folder: Permission denied" in str(problem)
    assert cli.main(["validate", str(root)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "unreadable_folder" in err and "Traceback" not in err


def test_a_file_given_as_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "persons.csv"
    path.write_text("x\n")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(path)
    assert [p.rule for p in info.value.problems] == ["missing_folder"]


def test_parquet_with_unhashable_values_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    outcomes = pd.read_csv(root / "outcomes.csv", dtype=str)
    outcomes["event"] = [["death"], ["invasive_ventilation"]]
    outcomes.to_parquet(root / "outcomes.parquet", index=False)
    (root / "outcomes.csv").unlink()
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.table, problem.column, problem.rule) == ("outcomes", "event", "allowed_values")
    assert problem.rows == [0, 1]


# ----------------------------------------------------------------------------- Parquet time zones


@pytest.mark.parametrize("tz", ["Europe/Stockholm", "UTC", "America/New_York", "Asia/Tokyo"])
def test_time_zone_aware_timestamps_keep_their_calendar_date(tmp_path: Path, tz: str) -> None:
    """Local midnight in any zone is that day: no table is shifted by a day, none rejected."""
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    for name in ("persons", "study_population", "als_cases", "dispensings", "alsfrs", "outcomes"):
        frame = pd.read_csv(root / f"{name}.csv", dtype=str, keep_default_na=False)
        for col in schema.TABLES[name].columns:
            if col.kind == "date" and col.name in frame:
                frame[col.name] = pd.to_datetime(frame[col.name].replace("", None)).dt.tz_localize(tz)
        frame.to_parquet(root / f"{name}.parquet", index=False)
        (root / f"{name}.csv").unlink()
    validate_registry(root)
    typed, reference = read_registry(root), read_registry(VALID)
    for name in ("persons", "study_population", "als_cases", "dispensings", "alsfrs", "outcomes"):
        for col in schema.TABLES[name].columns:
            if col.kind == "date":
                pd.testing.assert_series_equal(typed[name][col.name], reference[name][col.name])


def test_timestamps_with_a_time_of_day_give_their_date() -> None:
    tables = {name: read_csv_raw(VALID / f"{name}.csv") for name in schema.TABLES}
    sp = tables["study_population"].astype(object)
    sp["index_date"] = pd.to_datetime(sp["index_date"]) + pd.Timedelta(hours=23, minutes=59)
    tables["study_population"] = sp
    metadata = {"register_start": "2005-07-01", "recruitment_start": "2015-01-01"}
    metadata |= {"recruitment_end": "2023-07-01", "end_of_follow_up": "2023-12-31"}
    assert validate_tables(tables, metadata) == []


# ----------------------------------------------------------------------------- warnings: the interface


def test_warnings_interface_defaults() -> None:
    assert Problem("t", None, "r").severity == "error"
    registry = Registry(tables={}, metadata={}, data_dir=Path("."))
    assert registry.warnings == []
    report = ValidationReport(data_dir=None, files={}, row_counts={}, metadata={})
    assert report.warnings == [] and "warning" not in str(report)
    frame = warnings_frame([])
    assert list(frame.columns) == ["table", "column", "rule", "rows", "first_lines", "message"] and frame.empty


def test_warnings_frame_rows_and_first_lines(tmp_path: Path) -> None:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    path = root / "dispensings.csv"
    lines = _lines(path)
    for line in range(3, 9):  # data rows 2-7 (persons alive at the end of follow-up) move to 2024
        person, day, atc, packages = lines[line].split(",")
        lines[line] = ",".join([person, "2024-02-01", atc, packages])
    lines[2:2] = [""]  # an empty line after the first record: the later rows move down one line
    path.write_text("\n".join(lines), encoding="utf-8")
    registry = read_registry(root)
    (warning,) = registry.warnings
    assert (warning.rule, warning.n_rows, warning.rows) == ("after_end_of_follow_up", 6, [2, 3, 4, 5, 6, 7])
    frame = warnings_frame(registry.warnings)
    record = frame.to_dict("records")[0]
    assert record | {"message": ""} == {
        "table": "dispensings",
        "column": "dispensing_date",
        "rule": "after_end_of_follow_up",
        "rows": 6,
        "first_lines": "5, 6, 7, 8, 9, ...",
        "message": "",
    }
    assert record["message"].startswith("dispensings after the end of follow-up, kept")
    assert "(rule after_end_of_follow_up: " in record["message"]
    assert len(registry["dispensings"]) == 8


def test_committed_synthetic_data_have_no_errors_and_no_warnings() -> None:
    report = validate_registry(SYNTHETIC_DIR)
    assert report.warnings == []
    assert read_registry(SYNTHETIC_DIR).warnings == []


# ----------------------------------------------------------------------------- the command line


def test_cli_validate_exits_0_with_warnings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    path = root / "alsfrs.csv"
    path.write_text(path.read_text().replace("2017-06-20", "2017-03-15"))
    assert cli.main(["validate", str(root)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "OK, meets the input data contract (1 warning)" in out
    assert "  - [2 rows] alsfrs.csv, columns 'person_id', 'visit_date', rows 0, 1 (file lines 2, 3)" in out
    assert out.index("end_of_follow_up = ") < out.index("same_day_alsfrs")


def test_cli_validate_exits_2_on_errors_and_lists_warnings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    path = root / "alsfrs.csv"
    path.write_text(path.read_text().replace("2017-06-20", "2017-03-15").replace(",36,", ",49,"))
    assert cli.main(["validate", str(root)]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "(rule out_of_range: " in captured.err and "1 warning (" in captured.err


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_cli_validate_broken_pipe_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert cli.main(["validate", str(VALID)]) == cli.EXIT_OK


def test_cli_validate_into_a_closed_pipe() -> None:
    """``alsmeds validate DIR | head -1``: the reader goes away; no traceback, no error exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "alsmeds", "validate", str(VALID)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_cli_validate_piped_into_head_prints_the_first_line() -> None:
    result = subprocess.run(
        f"{sys.executable} -m alsmeds validate {VALID} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == f"{VALID}: OK, meets the input data contract\n"
    assert "Traceback" not in result.stderr


def test_record_lines_are_none_for_a_plain_file() -> None:
    frame, lines = read_csv_checked(VALID / "persons.csv")
    assert lines is None and len(frame) == 10
    assert np.array_equal(read_csv_raw(VALID / "persons.csv").columns, frame.columns)


# ----------------------------------------------------------------------------- quoted files


def _quote_all(path: Path) -> None:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def test_every_field_quoted_reads_the_same(synthetic: Path) -> None:
    """Files written with every field quoted (R's write.csv, say) read as the plain ones."""
    for name in schema.TABLES:
        _quote_all(synthetic / f"{name}.csv")
    report = validate_registry(synthetic)
    assert report.warnings == [] and report.row_counts["dispensings"] == N_DISPENSINGS
    quoted, plain = read_registry(synthetic), read_registry(SYNTHETIC_DIR)
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(quoted[name], plain[name])


def test_every_field_quoted_with_an_extra_field_and_a_bad_value(synthetic: Path) -> None:
    path = synthetic / "dispensings.csv"
    _quote_all(path)
    lines = _lines(path)
    lines[20_001] += ',"9"'  # data row 20,000
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(synthetic)
    problem = _only(info.value)
    assert (problem.rule, problem.rows, problem.line_numbers) == ("wrong_field_count", [20_000], [20_002])


def test_quote_pairing_agrees_with_the_tokenizer() -> None:
    """The fast pairing of quotes finds exactly the quoted fields the exact tokenizer finds."""
    rng = np.random.default_rng(20250605)
    pieces = [b'"', b",", b"\n", b"a", b"7", b'""', b"\r\n", b'"x"', b',"', b'",']
    compared = 0
    for _ in range(5_000):
        data = b"".join(rng.choice(pieces, size=int(rng.integers(1, 20))))
        fast = aio._quoted_spans_by_pairs(np.frombuffer(data, dtype=np.uint8))
        if fast is None:
            continue
        found = [(m.start(), m.end(), bool(m.group(1))) for m in aio._QUOTED_FIELD.finditer(data)]
        exact = ([f[0] for f in found], [f[1] for f in found], [f[2] for f in found])
        assert [a.tolist() for a in fast] == [list(e) for e in exact], data
        compared += 1
    assert compared > 500
