"""Tests of the validator (alsmeds.data.validate) on the valid minimal registry and the broken corpus.

The corpus (tests/data/broken/cases.json) describes each broken input as patches of
tests/data/valid_minimal, applied to a copy in a temporary folder.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.api import types as ptypes

from alsmeds.data import schema
from alsmeds.data.problems import (
    MAX_SHOWN,
    RULES,
    WARNING_RULES,
    Problem,
    RegistryValidationError,
    ValidationReport,
    warnings_frame,
)
from alsmeds.data.read import read_csv_raw
from alsmeds.data.registry import read_registry
from alsmeds.data.validate import validate_registry, validate_tables

DATA = Path(__file__).parent / "data"
VALID = DATA / "valid_minimal"
CORPUS = json.loads((DATA / "broken" / "cases.json").read_text(encoding="utf-8"))
README = Path(__file__).resolve().parents[1] / "data" / "README.md"
METADATA = {
    "register_start": "2005-07-01",
    "recruitment_start": "2015-01-01",
    "recruitment_end": "2023-07-01",
    "end_of_follow_up": "2023-12-31",
}


# ----------------------------------------------------------------------------- patching


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_typed_parquet(csv_path: Path, table: str, tz: str | None = None) -> Path:
    """Write a CSV table of the registry as a typed Parquet file next to it.

    With ``tz``, dates become time-zone-aware timestamps at local midnight in that zone.
    """
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    for col in schema.TABLES[table].columns:
        if col.name not in df:
            continue
        s = df[col.name].replace("", np.nan)
        if col.kind == "date":
            df[col.name] = pd.to_datetime(s) if tz is None else pd.to_datetime(s).dt.tz_localize(tz)
        elif col.kind in ("id", "int"):
            df[col.name] = pd.to_numeric(s).astype("Int64")
        elif col.kind == "float":
            df[col.name] = pd.to_numeric(s)
        else:
            df[col.name] = s
    out = csv_path.with_suffix(".parquet")
    df.to_parquet(out, index=False)
    return out


def apply_patch(root: Path, patch: dict) -> None:
    """Apply one patch operation of the corpus to a registry folder."""
    op = patch["op"]
    if op == "delete_file":
        (root / patch["file"]).unlink()
    elif op == "write_file":
        (root / patch["file"]).write_text(patch["text"], encoding="utf-8")
    elif op == "crlf_bom":
        path = root / patch["file"]
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    elif op == "metadata":
        path = root / schema.EXTRACT_METADATA_FILE
        meta = json.loads(path.read_text(encoding="utf-8"))
        if patch["value"] is None:
            del meta[patch["key"]]
        else:
            meta[patch["key"]] = patch["value"]
        path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    elif op == "parquet_copy":
        write_typed_parquet(root / f"{patch['table']}.csv", patch["table"], patch.get("tz"))
    elif op == "make_folder":
        path = root / patch["file"]
        path.unlink()
        path.mkdir()
        (path / "inside.csv").write_text("x\n")
    elif op in _RAW_TEXT_OPS:
        _apply_raw_text(root / patch["file"] if "file" in patch else root / f"{patch['table']}.csv", patch)
    else:
        path = root / f"{patch['table']}.csv"
        header, rows = _read_rows(path)
        if op == "set":
            rows[patch["row"]][header.index(patch["column"])] = patch["value"]
        elif op == "drop_columns":
            keep = [i for i, name in enumerate(header) if name not in patch["columns"]]
            assert len(keep) == len(header) - len(patch["columns"]), patch
            header = [header[i] for i in keep]
            rows = [[row[i] for i in keep] for row in rows]
        elif op == "delete_rows":
            rows = [row for i, row in enumerate(rows) if i not in patch["rows"]]
        elif op == "append_row":
            unknown = set(patch["values"]) - set(header)
            assert not unknown, unknown
            rows.append([patch["values"].get(name, "") for name in header])
        elif op == "append_column":
            header.append(patch["column"])
            rows = [[*row, patch["value"]] for row in rows]
        else:  # pragma: no cover - a corpus error
            raise ValueError(f"unknown patch op {op!r}")
        _write_rows(path, header, rows)


_RAW_TEXT_OPS = {"insert_text", "replace_line", "append_text", "replace_text", "strip_final_newline", "quote_all"}


def _apply_raw_text(path: Path, patch: dict) -> None:
    """The raw-text operations of the corpus: on the file's text as it is (line 1 is the header)."""
    op = patch["op"]
    text = path.read_text(encoding="utf-8")
    if op == "insert_text":
        lines = text.split("\n")
        lines[patch["line"] - 1] = patch["text"] + lines[patch["line"] - 1]
        text = "\n".join(lines)
    elif op == "replace_line":
        lines = text.split("\n")
        lines[patch["line"] - 1] = patch["text"]
        text = "\n".join(lines)
    elif op == "append_text":
        text += patch["text"]
    elif op == "replace_text":
        assert patch["old"] in text, patch
        text = text.replace(patch["old"], patch["new"], 1)
    elif op == "strip_final_newline":
        text = text.rstrip("\n")
    elif op == "quote_all":
        header, rows = _read_rows(path)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows([header, *rows])
        return
    path.write_bytes(text.encode(patch.get("encoding", "utf-8")))


def patched_registry(tmp_path: Path, patches: list[dict]) -> Path:
    root = tmp_path / "registry"
    shutil.copytree(VALID, root)
    (root / "MANIFEST.sha256").unlink()
    for patch in patches:
        apply_patch(root, patch)
    return root


def _key(p: Problem | dict) -> tuple:
    if isinstance(p, Problem):
        return (p.table, p.column, p.rule, tuple(p.rows))
    return (p["table"], p["column"], p["rule"], tuple(p["rows"]))


def _check_lines(problems: list[Problem], expected: list[dict]) -> None:
    """Where the corpus gives file lines, the problem reports exactly those lines."""
    by_key = {_key(p): p for p in problems}
    for e in expected:
        if "lines" in e:
            assert by_key[_key(e)].line_numbers == e["lines"], (by_key[_key(e)], e)


# ----------------------------------------------------------------------------- the valid registry


def test_valid_minimal_passes() -> None:
    report = validate_registry(VALID)
    assert isinstance(report, ValidationReport)
    assert report.row_counts == {
        "persons": 10,
        "study_population": 10,
        "als_cases": 2,
        "dispensings": 8,
        "diagnoses": 4,
        "alsfrs": 4,
        "outcomes": 2,
    }
    assert report.files["persons"] == "persons.csv"
    assert report.metadata["register_start"] == date(2005, 7, 1)
    assert "OK" in str(report) and "dispensings.csv" in str(report)


def test_valid_minimal_has_the_documented_design() -> None:
    sp = read_registry(VALID)["study_population"]
    roles = sp.groupby("case_id")["role"].value_counts().unstack()
    assert list(roles.index) == [101, 102]
    assert (roles["case"] == 1).all() and (roles["population_control"] == 2).all()
    assert (roles["sibling"] == 1).all() and (roles["spouse"] == 1).all()


@pytest.mark.parametrize("variant", CORPUS["valid_variants"], ids=lambda v: v["id"])
def test_valid_variants_pass(tmp_path: Path, variant: dict) -> None:
    root = patched_registry(tmp_path, variant["patches"])
    report = validate_registry(root)
    assert report.warnings == []
    # every row is read, with the same values as the unpatched registry where untouched
    registry = read_registry(root)
    assert registry.warnings == []
    assert report.row_counts == {name: len(frame) for name, frame in registry.tables.items()}


@pytest.mark.parametrize("case", CORPUS["warning_cases"], ids=lambda c: c["id"])
def test_warning_case(tmp_path: Path, case: dict) -> None:
    """Real register content: valid, every row kept, and a warning with its count of rows."""
    root = patched_registry(tmp_path, case["patches"])
    report = validate_registry(root)
    expected = case["expect_warnings"]
    assert sorted(map(_key, report.warnings), key=str) == sorted(map(_key, expected), key=str)
    _check_lines(report.warnings, expected)
    assert all(w.severity == "warning" and w.rule in WARNING_RULES for w in report.warnings)
    text = str(report)
    assert text.startswith(f"{root}: OK") and f"({len(expected)} warning" in text
    body = text.split("\n")
    first_warning = next(i for i, line in enumerate(body) if line.startswith("  - ["))
    assert first_warning > max(i for i, line in enumerate(body) if line.endswith(" rows"))  # after the row counts
    for w in report.warnings:
        assert f"  - [{w.n_rows:,} row{'s' if w.n_rows != 1 else ''}] {w}" in body
    # read_registry returns every row and the same warnings; it never raises on warnings
    registry = read_registry(root)
    assert sorted(map(_key, registry.warnings), key=str) == sorted(map(_key, expected), key=str)
    assert report.row_counts == {name: len(frame) for name, frame in registry.tables.items()}
    frame = warnings_frame(registry.warnings)
    assert list(frame.columns) == ["table", "column", "rule", "rows", "first_lines", "message"]
    assert frame["rows"].tolist() == [w.n_rows for w in registry.warnings]


# ----------------------------------------------------------------------------- the broken corpus


def test_corpus_covers_every_rule() -> None:
    covered = {e["rule"] for case in CORPUS["cases"] for e in case["expect"]}
    warned = {e["rule"] for case in CORPUS["warning_cases"] for e in case["expect_warnings"]}
    # missing_folder and unreadable_folder need no corpus entry: see test_missing_folder and
    # tests/test_validate_robustness.py
    assert covered | warned | {"missing_folder", "unreadable_folder", "pattern"} == set(RULES)
    assert warned == set(WARNING_RULES) and not covered & WARNING_RULES


@pytest.mark.parametrize("case", CORPUS["cases"], ids=lambda c: c["id"])
def test_broken_case(tmp_path: Path, case: dict) -> None:
    root = patched_registry(tmp_path, case["patches"])
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    err = info.value
    assert sorted(map(_key, err.problems), key=str) == sorted(map(_key, case["expect"]), key=str)
    _check_lines(err.problems, case["expect"])
    assert sorted(map(_key, err.warnings), key=str) == sorted(map(_key, case.get("expect_warnings", [])), key=str)
    assert all(p.severity == "error" for p in err.problems)
    report = str(err)
    assert str(root) in report
    for problem in err.problems:
        text = str(problem)
        assert text in report
        # the file ...
        file = problem.file
        assert file == "extract.json" if problem.table == "extract" else file.startswith(problem.table + ".")
        assert text.startswith(file)
        # ... the column(s) ...
        if problem.column is not None:
            for name in problem.column.split(", "):
                assert f"'{name}'" in text
        # ... the rows, as data rows and file lines ...
        if problem.rows:
            rows = ", ".join(map(str, problem.rows))
            lines = ", ".join(map(str, problem.line_numbers))
            assert len(problem.line_numbers) == len(problem.rows)
            assert re.search(rf"\brows? {re.escape(rows)} \(file lines? {re.escape(lines)}\)", text), text
        else:
            assert " row " not in text and " rows " not in text
            if problem.lines:  # a problem of the header line
                assert f", file line {problem.lines[0]}: " in text
        # ... and the rule.
        assert f"(rule {problem.rule}: " in text
        assert problem.message


_IN_MEMORY_OPS = {"set", "drop_columns", "delete_rows", "append_row", "append_column", "metadata"}


@pytest.mark.parametrize(
    "case",
    [c for c in CORPUS["cases"] if all(p["op"] in _IN_MEMORY_OPS for p in c["patches"])],
    ids=lambda c: c["id"],
)
def test_broken_case_in_memory_as_object_strings(tmp_path: Path, case: dict) -> None:
    """validate_tables on plain object-string frames finds exactly what validate_registry finds."""
    root = patched_registry(tmp_path, case["patches"])
    tables = {name: pd.read_csv(root / f"{name}.csv", dtype=str, keep_default_na=False) for name in schema.TABLES}
    for frame in tables.values():
        assert all(ptypes.is_object_dtype(dtype) for dtype in frame.dtypes)
    metadata = json.loads((root / schema.EXTRACT_METADATA_FILE).read_text(encoding="utf-8"))
    problems = validate_tables(tables, metadata, include_warnings=True)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    assert sorted(map(_key, errors), key=str) == sorted(map(_key, case["expect"]), key=str)
    assert sorted(map(_key, warnings), key=str) == sorted(map(_key, case.get("expect_warnings", [])), key=str)
    assert validate_tables(tables, metadata) == errors


def test_read_registry_raises_the_same_problems(tmp_path: Path) -> None:
    case = next(c for c in CORPUS["cases"] if c["id"] == "several_problems_at_once")
    root = patched_registry(tmp_path, case["patches"])
    with pytest.raises(RegistryValidationError) as info:
        read_registry(root)
    assert sorted(map(_key, info.value.problems), key=str) == sorted(map(_key, case["expect"]), key=str)
    # the report lists problems in schema order: extract.json first
    assert [p.table for p in info.value.problems] == ["extract", "persons", "dispensings"]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(tmp_path / "nowhere")
    assert [p.rule for p in info.value.problems] == ["missing_folder"]
    assert "nowhere" in str(info.value)


# ----------------------------------------------------------------------------- report text


def test_problem_text_matches_the_documented_format() -> None:
    problem = Problem(
        table="dispensings",
        column="atc",
        rule="atc_code",
        rows=[3, 17],
        message="malformed ATC code",
        values=["'N05B1'"],
        n_rows=2,
        n_values=1,
        file="dispensings.csv",
        requirement="a 7-character ATC code like N05BA01",
    )
    assert str(problem) == (
        "dispensings.csv, column 'atc', rows 3, 17 (file lines 5, 19): malformed ATC code 'N05B1' "
        "(rule atc_code: a 7-character ATC code like N05BA01)"
    )
    assert problem.line_numbers == [5, 19]


def test_parquet_problems_have_no_file_lines(tmp_path: Path) -> None:
    root = patched_registry(
        tmp_path,
        [
            {"op": "set", "table": "dispensings", "row": 3, "column": "atc", "value": "N05B1"},
            {"op": "parquet_copy", "table": "dispensings"},
            {"op": "delete_file", "file": "dispensings.csv"},
        ],
    )
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    (problem,) = info.value.problems
    assert problem.file == "dispensings.parquet" and problem.line_numbers is None
    assert str(problem).startswith("dispensings.parquet, column 'atc', row 3: malformed ATC code 'N05B1'")


def _tables() -> dict[str, pd.DataFrame]:
    return {name: read_csv_raw(VALID / f"{name}.csv") for name in schema.TABLES}


def test_many_offending_rows_are_truncated() -> None:
    tables = _tables()
    n = 25
    tables["dispensings"] = pd.concat([tables["dispensings"]] * 5, ignore_index=True).head(n)
    tables["dispensings"]["atc"] = [f"BAD{i}" for i in range(n)]
    (problem,) = validate_tables(tables, METADATA, files={"dispensings": "dispensings.csv"})
    assert problem.rule == "atc_code"
    assert problem.rows == list(range(n)) and problem.n_rows == n and problem.n_values == n
    text = str(problem)
    assert f"rows {', '.join(map(str, range(MAX_SHOWN)))} and {n - MAX_SHOWN} more" in text
    assert f"(file lines {', '.join(str(r + 2) for r in range(MAX_SHOWN))} and {n - MAX_SHOWN} more)" in text
    assert f"'BAD{MAX_SHOWN - 1}' and {n - MAX_SHOWN} more" in text
    assert f"'BAD{MAX_SHOWN}'" not in text


def test_repeated_bad_value_is_shown_once() -> None:
    tables = _tables()
    tables["persons"]["sex"] = "M"
    (problem,) = validate_tables(tables, METADATA)
    assert problem.rule == "allowed_values" and problem.n_rows == 10
    assert problem.values == ["'M'"]
    # in-memory tables are named without a file, and without file line numbers
    assert str(problem).startswith("persons, column 'sex', rows 0, 1, 2, 3, 4, 5, 6, 7, 8, 9: unknown sex 'M' ")
    assert str(problem).endswith("(rule allowed_values: one of male, female)")


# ----------------------------------------------------------------------------- validate_tables in memory


def test_validate_tables_on_raw_strings_is_clean() -> None:
    assert validate_tables(_tables(), METADATA) == []


def test_validate_tables_on_typed_frames_is_clean() -> None:
    registry = read_registry(VALID)
    assert validate_tables(registry.tables, registry.metadata) == []


def test_validate_tables_on_typed_frames_finds_problems() -> None:
    tables = dict(read_registry(VALID).tables)
    disp = tables["dispensings"].copy()
    disp.loc[2, "dispensing_date"] = pd.Timestamp("2004-01-01")
    disp["packages"] = disp["packages"].astype(float)
    disp.loc[5, "packages"] = 2.5
    tables["dispensings"] = disp
    als = tables["als_cases"].copy()
    als["diagnostic_delay_months"] = als["diagnostic_delay_months"].astype(object)
    als.loc[0, "diagnostic_delay_months"] = "long"
    tables["als_cases"] = als
    problems = validate_tables(tables, {k: date.fromisoformat(v) for k, v in METADATA.items()})
    assert sorted(map(_key, problems), key=str) == sorted(
        [
            ("dispensings", "dispensing_date", "before_register_start", (2,)),
            ("dispensings", "packages", "not_an_integer", (5,)),
            ("als_cases", "diagnostic_delay_months", "not_a_number", (0,)),
        ],
        key=str,
    )


def test_validate_tables_reports_missing_tables_and_metadata() -> None:
    tables = _tables()
    del tables["alsfrs"]
    problems = validate_tables(tables, {})
    rules = [(p.table, p.rule) for p in problems]
    assert rules[:4] == [("extract", "missing_metadata_key")] * 4
    assert ("alsfrs", "missing_table") in rules and len(rules) == 5


def test_problems_from_unparseable_values_do_not_cascade() -> None:
    """A bad person_id is reported once, not again as an unknown person."""
    tables = _tables()
    tables["dispensings"].loc[0, "person_id"] = "x"
    tables["study_population"].loc[1, "index_date"] = "2017-13-01"
    problems = validate_tables(tables, METADATA)
    assert sorted(map(_key, problems), key=str) == sorted(
        [
            ("dispensings", "person_id", "not_an_id", (0,)),
            ("study_population", "index_date", "not_a_date", (1,)),
        ],
        key=str,
    )


def test_every_rule_has_a_documented_requirement() -> None:
    for rule, text in RULES.items():
        assert re.fullmatch(r"[a-z0-9_]+", rule) and text


# ----------------------------------------------------------------------------- the data dictionary


def test_data_readme_holds_the_generated_dictionary() -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN DATA DICTIONARY -->", "<!-- END DATA DICTIONARY -->"
    assert text.count(begin) == 1 and text.count(end) == 1
    inside = text.split(begin, 1)[1].split(end, 1)[0]
    expected = schema.data_dictionary_markdown()
    assert inside.strip("\n") == expected.strip("\n"), (
        "data/README.md is out of date with alsmeds/schema.py: paste the output of "
        "`python -c \"from alsmeds.data.schema import data_dictionary_markdown as d; print(d(), end='')\"` "
        "between the DATA DICTIONARY markers"
    )


def test_data_readme_names_every_rule() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [rule for rule in RULES if f"`{rule}`" not in text]
    assert not missing, f"rules not described in data/README.md: {missing}"


def test_data_dictionary_covers_the_schema() -> None:
    md = schema.data_dictionary_markdown()
    for table in schema.TABLES.values():
        assert f"### `{table.name}`" in md
        for col in table.columns:
            assert f"| `{col.name}` |" in md
    for key in schema.EXTRACT_METADATA_KEYS:
        assert f"| `{key}` |" in md
