"""ICD-9 diagnoses before 1997: accepted with a counted warning, and one psychiatric-history definition.

Swedish registers coded diagnoses in ICD-9 from 1987 to 1996 (ICD-8 before), often with
a letter as the fourth character (``296B``).  The version is read from the code: ICD-10
codes begin with a letter, ICD-9 codes with a digit; ICD-9's E and V codes begin with a
letter and are not psychiatric.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from alsmeds.data import schema
from alsmeds.data.problems import RegistryValidationError
from alsmeds.data.registry import read_registry
from alsmeds.data.validate import validate_registry
from alsmeds.derive.codelists import load_codelist, psychiatric_codelist
from alsmeds.derive.exposure import psychiatric_history

VALID = Path(__file__).parent / "data" / "valid_minimal"
KEY = ["person_id", "case_id"]


def _diagnoses(*rows: tuple[int, str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["person_id", "diagnosis_date", "icd10"])
    frame["diagnosis_date"] = pd.to_datetime(frame["diagnosis_date"])
    return frame


def _members(n: int, index_date: str = "2020-06-15") -> pd.DataFrame:
    return pd.DataFrame({"person_id": range(1, n + 1), "case_id": 100, "index_date": pd.Timestamp(index_date)})


@pytest.mark.parametrize(
    "code", ["296", "2962", "296.2", "300.4", "296B", "300E", "296.B", "29621", "3004A", "311", "290", "319"]
)
def test_icd9_shapes_are_valid_codes(code: str) -> None:
    assert re.match(schema.ICD_PATTERN, code)


@pytest.mark.parametrize("code", ["29", "2962345", "296-2", "29B", "3.004", "F3", "F321234"])
def test_malformed_codes_are_rejected(code: str) -> None:
    assert not re.match(schema.ICD_PATTERN, code)


def test_icd9_chapter_counts_as_psychiatric_history() -> None:
    diag = _diagnoses(
        (1, "1990-03-01", "296"),  # affective psychoses
        (2, "1992-03-01", "300.4"),  # neurotic depression, dotted
        (3, "1993-03-01", "2962"),
        (4, "1994-03-01", "296B"),  # Swedish letter subdivision
        (5, "1995-03-01", " 300e"),  # lower case, padded
        (6, "1989-03-01", "E950"),  # ICD-9 E code (external cause): not psychiatric
        (7, "1989-03-01", "V11"),  # ICD-9 V code: not psychiatric
        (8, "1991-03-01", "320"),  # nervous system, outside chapter 290-319
        (9, "1988-01-01", "311"),  # depressive disorder NEC -> depression
        (10, "1996-12-31", "295.3"),  # schizophrenia -> psychotic
        (11, "1985-01-01", "303"),  # ICD-8 era, alcoholism -> substance use
        (12, "1990-01-01", "309"),  # adjustment reaction -> stress
        (13, "1990-01-01", "289"),  # blood diseases: not psychiatric
    )
    out = psychiatric_history(diag, _members(13)).set_index("person_id")
    assert out["psych_history"].to_dict() == {
        **{p: 1 for p in range(1, 6)},
        6: 0,
        7: 0,
        8: 0,
        9: 1,
        10: 1,
        11: 1,
        12: 1,
        13: 0,
    }
    assert out.loc[out["psych_depression"] == 1].index.tolist() == [9]
    assert out.loc[out["psych_psychotic"] == 1].index.tolist() == [10]
    assert out.loc[out["psych_substance_use"] == 1].index.tolist() == [11]
    assert out.loc[out["psych_stress"] == 1].index.tolist() == [12]
    assert out["psych_anxiety"].sum() == 0 and out["psych_sleep"].sum() == 0


def test_icd9_and_icd10_history_counts_once_before_the_index_date() -> None:
    diag = _diagnoses((1, "1990-01-01", "311"), (1, "2010-01-01", "F32.1"), (2, "1990-01-01", "311"))
    members = pd.DataFrame(
        {"person_id": [1, 2], "case_id": [100, 100], "index_date": pd.to_datetime(["2020-01-01"] * 2)}
    )
    out = psychiatric_history(diag, members).set_index("person_id")
    assert out["psych_history"].tolist() == [1, 1] and out["psych_depression"].tolist() == [1, 1]
    before = psychiatric_history(diag, members.assign(index_date=pd.Timestamp("1989-01-01")))
    assert before["psych_history"].tolist() == [0, 0]


def test_one_definition_in_two_versions() -> None:
    codes = psychiatric_codelist()
    assert set(codes["icd_version"]) == {"ICD-10", "ICD-9"}
    icd9 = load_codelist("icd9_psychiatric")
    assert list(icd9.columns) == ["group", "icd9_prefix", "description", "source", "version"]
    chapter = icd9.loc[icd9["group"] == "any_psychiatric", "icd9_prefix"]
    assert chapter.tolist() == [str(c) for c in range(290, 320)]
    # the ICD-9 groups are groups of the ICD-10 list: the analysis table's psych_ columns do not change
    assert set(icd9["group"]) <= set(load_codelist("icd10_psychiatric")["group"])
    # ICD-10 prefixes begin with a letter and ICD-9 prefixes with a digit: one prefix table serves both
    assert codes.loc[codes["icd_version"] == "ICD-10", "prefix"].str.match("[A-Z]").all()
    assert codes.loc[codes["icd_version"] == "ICD-9", "prefix"].str.fullmatch("[0-9]{3}").all()


def _with_diagnoses(tmp_path: Path, rows: list[str]) -> Path:
    root = tmp_path / "registry"
    shutil.copytree(VALID, root)
    (root / "MANIFEST.sha256").unlink()
    with open(root / "diagnoses.csv", "a", encoding="utf-8") as fh:
        fh.write("".join(f"{row}\n" for row in rows))
    return root


def test_icd9_codes_are_kept_with_a_counted_warning(tmp_path: Path) -> None:
    root = _with_diagnoses(tmp_path, ["201,1990-05-05,296B", "301,1996-12-31,300.4", "402,1997-12-31,2962"])
    report = validate_registry(root)
    (warning,) = report.warnings
    assert (warning.rule, warning.n_rows, warning.rows, warning.line_numbers) == ("icd9_code", 3, [4, 5, 6], [6, 7, 8])
    assert "[3 rows] diagnoses.csv, column 'icd10'" in str(report)
    registry = read_registry(root)
    assert len(registry["diagnoses"]) == 7
    assert registry["diagnoses"]["icd10"].tolist()[4:] == ["296B", "300.4", "2962"]


def test_icd9_code_after_1997_is_an_error(tmp_path: Path) -> None:
    root = _with_diagnoses(tmp_path, ["201,1997-12-31,296B", "301,1998-01-01,3004"])
    with pytest.raises(RegistryValidationError) as info:
        validate_registry(root)
    (problem,) = info.value.problems
    assert (problem.rule, problem.rows, problem.line_numbers) == ("icd9_code_after_1997", [5], [7])
    assert "'3004' on 1998-01-01" in str(problem)
    assert [(w.rule, w.rows) for w in info.value.warnings] == [("icd9_code", [4])]


def test_icd9_e_and_v_codes_pass_without_a_warning(tmp_path: Path) -> None:
    root = _with_diagnoses(tmp_path, ["201,1990-05-05,E950", "301,1991-01-01,V11"])
    assert validate_registry(root).warnings == []
