"""Values and records the contract forbids, which the validator once let through (or refused wrongly).

* ids written with a sign (``-101888``, ``+102693``) in every table alike, and study dates in another
  ISO 8601 form (the week date ``2023-W52-7``): errors;
* a table that is its header line alone, without a final line break: an empty table, not an
  unreadable file;
* impossible records that would change the analysis: a dispensing or a diagnosis before the
  person's birth, a birth date that is a placeholder (1900-01-01), ALSFRS-R items that do not sum
  to the total: errors, and so never read into an analysis;
* a Parquet file with a repeated column (rule ``duplicate_column``, not pyarrow's wording) and a
  date outside the range the analysis holds (``9999-12-31``: rule ``date_out_of_range``, not
  "not a valid date"), in CSV and in Parquet.

The corpus (tests/data/broken/cases.json) holds one case per rule; these tests add the typed
(Parquet, in-memory) forms and the reader's side.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alsmeds.data import schema
from alsmeds.data.problems import Problem, RegistryValidationError
from alsmeds.data.read import read_csv_checked, read_table_raw
from alsmeds.data.registry import read_registry
from alsmeds.data.validate import validate_registry, validate_tables

sys.path.insert(0, str(Path(__file__).parent))
from test_validate import CORPUS, METADATA, patched_registry  # noqa: E402 - the corpus helpers

VALID = Path(__file__).parent / "data" / "valid_minimal"


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    shutil.copytree(VALID, root)
    (root / "MANIFEST.sha256").unlink()
    return root


def _only(err: RegistryValidationError) -> Problem:
    (problem,) = err.problems
    return problem


def _key(p: Problem) -> tuple:
    return (p.table, p.column, p.rule, tuple(p.rows))


# ----------------------------------------------------------------------------- ids and study dates


def test_signed_ids_in_parquet_and_in_memory() -> None:
    """A negative integer id is no id either: the same problem from Parquet-typed and text columns."""
    registry = read_registry(VALID)
    tables = dict(registry.tables)
    for name, row in (("persons", 4), ("study_population", 6), ("dispensings", 5)):
        frame = tables[name].copy()
        frame.loc[row, "person_id"] = -frame.loc[row, "person_id"]
        tables[name] = frame
    problems = validate_tables(tables, METADATA)
    assert sorted(map(_key, problems)) == sorted(
        [
            ("persons", "person_id", "not_an_id", (4,)),
            ("study_population", "person_id", "not_an_id", (6,)),
            ("dispensings", "person_id", "not_an_id", (5,)),
        ]
    )
    assert "not a person id written with digits only -203" in str(problems[0])
    text = {name: frame.astype(str) for name, frame in tables.items()}
    text["persons"].loc[4, "person_id"] = "-0"
    assert ("persons", "person_id", "not_an_id", (4,)) in map(_key, validate_tables(text, METADATA))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2023-W52-7", "not a date written YYYY-MM-DD"),  # ISO week date: date.fromisoformat reads it
        ("2023-365", "not a date written YYYY-MM-DD"),  # ISO ordinal date
        ("20231231", "not a date written YYYY-MM-DD"),  # ISO basic form
        ("2023-12-31T00:00", "not a date written YYYY-MM-DD"),
        ("9999-12-31", "a date outside the supported range 1677-09-22 to 2262-04-11 (a sentinel?)"),
        (dt.date(9999, 12, 31), "a date outside the supported range 1677-09-22 to 2262-04-11 (a sentinel?)"),
    ],
)
def test_study_dates_only_as_yyyy_mm_dd(value: object, why: str) -> None:
    tables = {name: pd.read_csv(VALID / f"{name}.csv", dtype=str, keep_default_na=False) for name in schema.TABLES}
    problems = validate_tables(tables, METADATA | {"end_of_follow_up": value})
    problem = next(p for p in problems if p.table == "extract")
    assert (problem.column, problem.rule) == ("end_of_follow_up", "bad_metadata_date")
    shown = repr(value.isoformat() if isinstance(value, dt.date) else value)
    assert str(problem).startswith(f"extract.json, key 'end_of_follow_up': {why}: {shown} (rule bad_metadata_date: ")


# ----------------------------------------------------------------------------- a table that is its header alone


@pytest.mark.parametrize(
    "data",
    [
        b"person_id,event,event_date",
        b"person_id,event,event_date\n",
        b"\xef\xbb\xbfperson_id,event,event_date\r\n",
        b"\n\nperson_id,event,event_date",
        b"person_id,event,event_date\r",
    ],
)
def test_header_alone_is_an_empty_table(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_bytes(data)
    frame, lines = read_csv_checked(path)
    assert list(frame.columns) == ["person_id", "event", "event_date"] and len(frame) == 0 and lines is None
    assert all(dtype == pd.StringDtype("pyarrow") for dtype in frame.dtypes)


def test_header_alone_without_final_newline_is_judged_as_an_empty_table(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "outcomes.csv").write_text("person_id,event,event_date", encoding="utf-8")
    report = validate_registry(root)
    assert report.row_counts["outcomes"] == 0 and report.warnings == []
    assert len(read_registry(root)["outcomes"]) == 0
    (root / "persons.csv").write_text((VALID / "persons.csv").read_text().split("\n")[0], encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    assert {p.rule for p in info.value.problems} == {"unknown_person"}  # every person of the other tables


# ----------------------------------------------------------------------------- impossible records


IMPOSSIBLE = [
    "dispensing_before_birth",
    "diagnosis_record_before_birth",
    "sentinel_birth_date",
    "alsfrs_total_mismatch",
    "date_out_of_range_sentinel",
]


@pytest.mark.parametrize("case_id", IMPOSSIBLE)
def test_impossible_records_never_reach_the_analysis(tmp_path: Path, case_id: str) -> None:
    """Each is an error: read_registry (what Study.from_extract calls) raises instead of returning the rows."""
    case = next(c for c in CORPUS["cases"] if c["id"] == case_id)
    root = patched_registry(tmp_path, case["patches"])
    with pytest.raises(RegistryValidationError) as info:
        read_registry(root)
    assert sorted(map(_key, info.value.problems), key=str) == sorted(
        ((e["table"], e["column"], e["rule"], tuple(e["rows"])) for e in case["expect"]), key=str
    )
    assert all(p.severity == "error" for p in info.value.problems)


@pytest.mark.parametrize("sentinel", [d.isoformat() for d in schema.SENTINEL_BIRTH_DATES])
def test_every_sentinel_birth_date_is_named(tmp_path: Path, sentinel: str) -> None:
    root = _copy(tmp_path)
    path = root / "persons.csv"
    path.write_text(path.read_text().replace("1950-08-20", sentinel), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.rule, problem.rows, problem.line_numbers) == ("sentinel_birth_date", [3], [5])
    assert f"placeholder for an unknown date, not a date of birth: {sentinel}" in str(problem)
    assert "1900-01-01, 1899-12-31, 1899-12-30" in str(problem)


def test_a_birth_date_close_to_a_sentinel_is_a_birth_date(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "persons.csv"
    path.write_text(path.read_text().replace("1950-08-20", "1900-01-02"), encoding="utf-8")
    assert validate_registry(root).warnings == []


def test_alsfrs_items_are_checked_only_when_all_twelve_are_given(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "alsfrs.csv"
    lines = path.read_text().split("\n")
    lines[1] = lines[1].replace(",40,4,4,", ",40,,4,", 1)  # row 0: item 1 empty, the others sum to 36
    lines[3] = lines[3].replace(",44,4,4,", ",44,4,5,", 1)  # row 2: item 2 out of range (sum 45)
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    assert list(map(_key, info.value.problems)) == [("alsfrs", "alsfrs_item_02", "out_of_range", (2,))]


def test_alsfrs_total_mismatch_from_parquet(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    frame = read_registry(VALID)["alsfrs"].copy()
    frame.loc[2, "alsfrs_item_12"] = 0  # 44 - 3: the items sum to 41
    frame.to_parquet(root / "alsfrs.parquet", index=False)
    (root / "alsfrs.csv").unlink()
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.file, problem.column, problem.rule, problem.rows) == (
        "alsfrs.parquet",
        "alsfrs_r_total",
        "alsfrs_total_mismatch",
        [2],
    )
    assert "person_id 102 on 2019-09-02: total 44, items sum to 41" in str(problem)


# ----------------------------------------------------------------------------- Parquet: repeated columns, far dates


def test_parquet_repeated_column_is_reported_by_the_rule(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    frame = pd.read_csv(VALID / "diagnoses.csv", dtype=str)
    columns = [pa.array(frame[c]) for c in frame.columns] + [pa.array(frame["icd10"])]
    pq.write_table(pa.table(columns, names=[*frame.columns, "icd10"]), root / "diagnoses.parquet")
    (root / "diagnoses.csv").unlink()
    assert list(read_table_raw(root / "diagnoses.parquet").columns) == [*frame.columns, "icd10"]
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.file, problem.column, problem.rule) == ("diagnoses.parquet", "icd10", "duplicate_column")
    assert str(problem).startswith("diagnoses.parquet, column 'icd10': column 'icd10' appears more than once")
    assert "FieldRef" not in str(info.value) and "Multiple matches" not in str(info.value)


@pytest.mark.parametrize(
    "arrow_type",
    [pa.date32(), pa.timestamp("us"), pa.timestamp("ms", tz="Europe/Stockholm"), pa.string()],
    ids=["date32", "timestamp_us", "timestamp_ms_tz", "text"],
)
def test_far_dates_in_parquet_are_out_of_range(tmp_path: Path, arrow_type: pa.DataType) -> None:
    """9999-12-31 ('no end') and 0001-01-01 in a Parquet date column: outside the range, not 'not a date'."""
    root = _copy(tmp_path)
    frame = pd.read_csv(VALID / "persons.csv", dtype=str, keep_default_na=False)
    days = {2: dt.date(9999, 12, 31), 5: dt.date(1, 1, 1)}
    columns = {}
    for name in frame.columns:
        if schema.PERSONS.column(name).kind != "date":
            columns[name] = pa.array(frame[name])
            continue
        values = [days.get(i) if name == "emigration_date" and i in days else v for i, v in enumerate(frame[name])]
        values = [dt.date.fromisoformat(v) if isinstance(v, str) and v else (v or None) for v in values]
        if pa.types.is_timestamp(arrow_type):
            values = [dt.datetime.combine(v, dt.time(1)) if v is not None else None for v in values]
        elif pa.types.is_string(arrow_type):
            values = [v.isoformat() if v is not None else "" for v in values]
        columns[name] = pa.array(values, type=arrow_type)
    pq.write_table(pa.table(columns), root / "persons.parquet")
    (root / "persons.csv").unlink()
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    problem = _only(info.value)
    assert (problem.column, problem.rule, problem.rows) == ("emigration_date", "date_out_of_range", [2, 5])
    assert "date outside the supported range 1677-09-22 to 2262-04-11, probably a sentinel" in str(problem)


def test_dates_at_the_edges_of_the_supported_range(tmp_path: Path) -> None:
    tables = {name: pd.read_csv(VALID / f"{name}.csv", dtype=str, keep_default_na=False) for name in schema.TABLES}
    tables["persons"].loc[[3, 4], "emigration_date"] = ["2262-04-11", "2262-04-12"]
    problems = validate_tables(tables, METADATA)
    assert list(map(_key, problems)) == [("persons", "emigration_date", "date_out_of_range", (4,))]
    days = pd.Series(np.array(["2262-04-11", "1677-09-22"], dtype="datetime64[us]"))
    typed = dict(read_registry(VALID).tables)
    persons = typed["persons"].copy()
    persons["emigration_date"] = persons["emigration_date"].astype("datetime64[us]")
    persons.loc[[3, 4], "emigration_date"] = days.to_numpy()
    typed["persons"] = persons
    problems = validate_tables(typed, METADATA)
    assert list(map(_key, problems)) == [("persons", "emigration_date", "emigration_before_birth", (4,))]


def test_corpus_cases_of_this_file_exist() -> None:
    ids = {c["id"] for c in CORPUS["cases"]}
    assert set(IMPOSSIBLE) <= ids
    assert json.dumps(CORPUS)  # the corpus is plain JSON
