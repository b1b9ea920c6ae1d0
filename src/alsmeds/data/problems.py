"""Problems with an input register extract: the rule catalogue, one problem, the error and the report.

Every rule the reader and the validator apply has an id in :data:`RULES`; a :class:`Problem`
names the table, file, column, rows (with file line numbers) and rule; errors make an
extract unusable (:class:`RegistryValidationError`), warnings are counted and kept
(:data:`WARNING_RULES`, :func:`warnings_frame`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from alsmeds.data import schema

#: Offending rows and values shown in a problem's text; the rest are counted.
MAX_SHOWN = 10


#: Offending row numbers kept in :attr:`Problem.rows` (the total is in ``n_rows``).
MAX_ROWS_STORED = 1000


#: Characters of a value shown in a report; a longer value is cut (its length is given).
MAX_VALUE_CHARS = 60


#: A quoted CSV value may hold a line break (free text in an extra column), but one that
#: spans this many lines or more is taken for an unbalanced quote (rule ``unbalanced_quote``).
MAX_LINES_IN_QUOTED_VALUE = 10
#: Every rule the validator applies: rule id -> what the rule requires.
RULES: dict[str, str] = {
    # files and metadata
    "missing_folder": "the register extract folder exists",
    "unreadable_folder": "the register extract folder can be listed and read",
    "missing_table": "every table of the contract is present as <name>.csv or <name>.parquet",
    "duplicate_table_file": "each table is given once, as either CSV or Parquet, not both",
    "unreadable_table": "the file is a readable UTF-8 CSV with a header line, or a Parquet file",
    "unbalanced_quote": (
        "every quoted value is closed, spans fewer than "
        f"{MAX_LINES_IN_QUOTED_VALUE} lines and holds no line shaped like a record of the table"
    ),
    "wrong_field_count": "every record has as many fields as the header",
    "not_utf8": "the file is encoded in UTF-8",
    "duplicate_column": "column names in a table are unique",
    "missing_metadata": "extract.json is present and holds a JSON object",
    "missing_metadata_key": "extract.json gives " + ", ".join(schema.EXTRACT_METADATA_KEYS),
    "bad_metadata_date": (
        "the study dates in extract.json are ISO dates written YYYY-MM-DD, from "
        f"{schema.FIRST_SUPPORTED_DATE} to {schema.LAST_SUPPORTED_DATE}"
    ),
    "metadata_order": "register_start <= recruitment_start <= recruitment_end <= end_of_follow_up",
    # columns and values
    "missing_column": "every required column is present",
    "not_an_id": "a person id is a whole number written with digits only",
    "not_a_date": "an ISO date YYYY-MM-DD",
    "date_out_of_range": (
        f"a date from {schema.FIRST_SUPPORTED_DATE} to {schema.LAST_SUPPORTED_DATE}, the dates the analysis holds; "
        "an unknown or open-ended date is an empty field, not a sentinel such as 9999-12-31"
    ),
    "not_an_integer": "a whole number",
    "not_a_number": "a finite decimal number such as 12.5",
    "missing_value": "a non-nullable column has a value in every row",
    "allowed_values": "a category column holds one of its allowed values",
    "atc_code": "a 7-character ATC code like N05BA01",
    "icd10_code": "an ICD-10 code like F32, F321 or F32.1, or an ICD-9 code like 296, 2962, 300.4 or 296B",
    "icd9_code": (
        "ICD-9 codes (starting with a digit) are read as ICD-9; chapter 290-319 counts as psychiatric history"
    ),
    "icd9_code_after_1997": f"an ICD-9 code (starting with a digit) is dated on or before {schema.ICD9_LAST_DATE}",
    "alsfrs_total_mismatch": "when all twelve ALSFRS-R item scores of a visit are given, they sum to alsfrs_r_total",
    "pattern": "text matches the column's pattern",
    "out_of_range": "a number lies within the column's range",
    "duplicate_key": "the table's key identifies one row",
    "same_day_alsfrs": (
        "several ALSFRS-R assessments of a case on one day are kept; the analysis combines them "
        "(documented in alsmeds.models.mixed)"
    ),
    # dates against the study period
    "before_register_start": "dispensings are on or after register_start (extract.json)",
    "after_end_of_follow_up": (
        "dispensings after end_of_follow_up (extract.json) are kept; exposure counts only before the index date"
    ),
    "index_date_outside_recruitment": "index dates lie within recruitment_start..recruitment_end (extract.json)",
    # referential integrity
    "unknown_person": "every person_id is in the persons table",
    "set_without_case": "every matched set (case_id) has a row with role 'case'",
    "case_without_controls": (
        "a case without any control (population control, sibling or spouse) is kept for the prognosis analyses "
        "and is uninformative for the risk models"
    ),
    "case_id_mismatch": "a case's row has case_id equal to its person_id",
    "case_not_in_als_cases": "every case in study_population has a row in als_cases",
    "als_case_not_in_study_population": "every row of als_cases is a case (role 'case') in study_population",
    "index_date_mismatch": "every member's index_date equals the diagnosis_date of the set's case",
    "not_an_als_case": "the person is in als_cases",
    # who may be a control at the index date (incidence-density sampling)
    "control_with_als_before_index": "a control (any role) has no ALS diagnosis before the index date",
    "control_dead_before_index": "a control (any role) is alive at the index date (no death_date before it)",
    "control_emigrated_before_index": (
        "a control who emigrated before the index date is kept (a single emigration date cannot show a return)"
    ),
    "born_after_index_date": "a control is born on or before the index date",
    # date order
    "death_before_birth": "death_date is on or after birth_date",
    "emigration_before_birth": "emigration_date is on or after birth_date",
    "diagnosis_before_birth": "the ALS diagnosis is on or after the case's birth_date",
    "dispensing_before_birth": (
        "dispensings are on or after the person's birth_date (else they would count as exposure)"
    ),
    "diagnosis_record_before_birth": (
        "rows of diagnoses are on or after the person's birth_date (else they would count as psychiatric history)"
    ),
    "sentinel_birth_date": (
        "birth_date is a date of birth, not a placeholder for an unknown date ("
        + ", ".join(d.isoformat() for d in schema.SENTINEL_BIRTH_DATES)
        + ")"
    ),
    "death_before_diagnosis": "a case's death_date is on or after the ALS diagnosis_date",
    "dispensing_after_death": "dispensings are on or before the person's death_date",
    "death_date_conflict": "an outcome 'death' has the event_date of the person's death_date in persons",
    "visit_before_diagnosis": "ALSFRS-R visits are on or after the case's diagnosis_date",
    "event_before_diagnosis": "outcome events are on or after the case's diagnosis_date",
}


#: Rules whose problems are warnings: real register content that the analysis handles
#: by a documented rule.  The rows are kept and counted; every other rule is an error.
WARNING_RULES: frozenset[str] = frozenset(
    {
        "after_end_of_follow_up",  # drug-register coverage and prognosis follow-up end on different dates
        "case_without_controls",  # part of the prognosis cohort; no matched set for the risk models
        "icd9_code",  # the registers used ICD-9 in 1987-1996
        "same_day_alsfrs",  # two assessments on one day; alsmeds.models.mixed averages them
        "control_emigrated_before_index",  # an emigration date without a return date
    }
)


@dataclass(frozen=True)
class Problem:
    """One violation of the data contract.

    Parameters
    ----------
    table : str
        Table name (``"persons"``), or ``"extract"`` for ``extract.json``.
    column : str or None
        The column concerned (several as ``"person_id, visit_date"``), or None for a
        whole-file problem.  For ``extract.json`` it is the metadata key.
    rule : str
        The rule id, a key of :data:`RULES`.
    rows : list of int
        0-based data row numbers of the offending rows (at most
        :data:`MAX_ROWS_STORED`; ``n_rows`` has the total).  Empty for file-level
        problems.
    message : str
        What is wrong, e.g. ``"malformed ATC code"``.
    values : list of str
        Offending values, formatted for display, distinct, in order of appearance.
    n_rows : int
        Number of offending rows.
    n_values : int
        Number of distinct offending values (``values`` may hold fewer).
    file : str
        File name shown in the report (``dispensings.csv``).
    requirement : str
        The rule in words, for this column (``"one of male, female"``).
    lines : list of int
        1-based file lines of :attr:`rows` (line 1 is the header), as found when the CSV
        file was read; for a problem of the header line, ``[1]`` with no rows.  Empty
        when not known (see :attr:`line_numbers`).
    severity : {"error", "warning"}
        ``"warning"`` for the rules of :data:`WARNING_RULES`: the rows are kept.
    """

    table: str
    column: str | None
    rule: str
    rows: list[int] = field(default_factory=list)
    message: str = ""
    values: list[str] = field(default_factory=list)
    n_rows: int = 0
    n_values: int = 0
    file: str = ""
    requirement: str = ""
    lines: list[int] = field(default_factory=list)
    severity: str = "error"

    @property
    def line_numbers(self) -> list[int] | None:
        """File line numbers of the problem for a CSV file (header is line 1), else None.

        The lines found by the reader (:attr:`lines`) when there are any; otherwise, for
        a ``.csv`` file name, row + 2 (one line per record, as for tables in memory).
        """
        if not self.file.endswith(".csv"):
            return None
        if self.lines:
            return list(self.lines)
        return [r + 2 for r in self.rows]

    @property
    def is_warning(self) -> bool:
        """True for a warning (rows kept, handled by a documented rule)."""
        return self.severity == "warning"

    def location(self) -> str:
        """Where: the file, the column(s), the rows and their file lines."""
        parts = [self.file or self.table]
        if self.column is not None:
            names = self.column.split(", ")
            label = "key" if self.file.endswith(".json") else "column"
            label += "s" if len(names) > 1 else ""
            parts.append(f"{label} " + ", ".join(f"'{n}'" for n in names))
        lines = self.line_numbers
        if self.n_rows:
            shown = self.rows[:MAX_SHOWN]
            more = f" and {self.n_rows - len(shown)} more" if self.n_rows > len(shown) else ""
            text = ("row " if self.n_rows == 1 else "rows ") + ", ".join(map(str, shown)) + more
            if lines is not None:
                label = "file line" if self.n_rows == 1 else "file lines"
                text += f" ({label} {', '.join(map(str, lines[:MAX_SHOWN]))}{more})"
            parts.append(text)
        elif lines:  # a problem of the header line
            label = "file line" if len(lines) == 1 else "file lines"
            parts.append(f"{label} {', '.join(map(str, lines[:MAX_SHOWN]))}")
        return ", ".join(parts)

    def description(self) -> str:
        """What: the message, the offending values and the rule."""
        text = self.message
        if self.values:
            shown_values = self.values[:MAX_SHOWN]
            n_values = max(self.n_values, len(self.values))
            text += " " + ", ".join(shown_values)
            if n_values > len(shown_values):
                text += f" and {n_values - len(shown_values)} more"
        requirement = self.requirement or RULES.get(self.rule, "")
        return f"{text} (rule {self.rule}: {requirement})"

    def __str__(self) -> str:
        return f"{self.location()}: {self.description()}"


class RegistryValidationError(ValueError):
    """A register extract does not meet the data contract.

    Attributes
    ----------
    problems : list of Problem
        Every problem found.
    data_dir : pathlib.Path or None
        The folder checked, if any.
    """

    def __init__(
        self, problems: list[Problem], data_dir: Path | str | None = None, warnings: Iterable[Problem] = ()
    ) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        super().__init__(self._report())

    def _report(self) -> str:
        n = len(self.problems)
        where = f"The register extract in {self.data_dir} does" if self.data_dir is not None else "The tables do"
        head = f"{where} not meet the input data contract ({n} problem{'s' if n != 1 else ''}):"
        lines = [head, *(f"  - {p}" for p in self.problems)]
        if self.warnings:
            lines.append(_warnings_heading(self.warnings))
            lines += [_warning_line(w) for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._report()


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of a successful validation.

    Attributes
    ----------
    data_dir : pathlib.Path or None
        The folder checked.
    files : dict of str to str
        Table name -> file name read (``persons.csv``).
    row_counts : dict of str to int
        Table name -> number of data rows.
    metadata : dict of str to datetime.date
        The study dates from ``extract.json``.
    warnings : list of Problem
        Real register content handled by a documented rule (rows kept), each with its
        count of rows; listed after the row counts by ``str(report)``.
    """

    data_dir: Path | None
    files: dict[str, str]
    row_counts: dict[str, int]
    metadata: dict[str, date]
    warnings: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        n = len(self.warnings)
        note = f" ({n} warning{'s' if n != 1 else ''})" if n else ""
        lines = [f"{self.data_dir or 'tables'}: OK, meets the input data contract{note}"]
        width = max((len(f) for f in self.files.values()), default=0)
        for name, count in self.row_counts.items():
            lines.append(f"  {self.files.get(name, name):<{width}}  {count:>12,} rows")
        for key, value in self.metadata.items():
            lines.append(f"  {key} = {value.isoformat()}")
        if self.warnings:
            lines.append(_warnings_heading(self.warnings))
            lines += [_warning_line(w) for w in self.warnings]
        return "\n".join(lines)


def _warnings_heading(warnings: list[Problem]) -> str:
    n = len(warnings)
    return f"{n} warning{'s' if n != 1 else ''} (real register content, kept and handled by the documented rule):"


def _warning_line(problem: Problem) -> str:
    count = f"{problem.n_rows:,} row{'s' if problem.n_rows != 1 else ''}" if problem.n_rows else "file"
    return f"  - [{count}] {problem}"


#: Columns of :func:`warnings_frame`.
WARNINGS_COLUMNS = ("table", "column", "rule", "rows", "first_lines", "message")


#: File lines listed in the ``first_lines`` column of :func:`warnings_frame`.
FIRST_LINES_SHOWN = 5


def warnings_frame(warnings: list[Problem]) -> pd.DataFrame:
    """The warnings of a validation as a table, one row per warning (for display in a notebook).

    Parameters
    ----------
    warnings : list of Problem
        E.g. :attr:`alsmeds.data.registry.Registry.warnings` or :attr:`ValidationReport.warnings`.

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``column`` (empty for a whole file), ``rule`` (the rule id),
        ``rows`` (the number of rows concerned), ``first_lines`` (the first few file
        lines, e.g. ``"5, 19, 23"`` followed by ``", ..."`` when there are more; empty for
        Parquet files) and ``message`` (what was found, with example values, and the
        rule).  Empty, with these columns, when there are no warnings.
    """
    records = []
    for w in warnings:
        lines = w.line_numbers or []
        first = ", ".join(map(str, lines[:FIRST_LINES_SHOWN]))
        if max(w.n_rows, len(lines)) > FIRST_LINES_SHOWN:
            first += ", ..."
        records.append((w.table, w.column or "", w.rule, int(w.n_rows), first, w.description()))
    frame = pd.DataFrame.from_records(records, columns=list(WARNINGS_COLUMNS))
    return frame.astype({"rows": "int64"})












def _severity(rule: str) -> str:
    return "warning" if rule in WARNING_RULES else "error"


def _file_problem(
    table: str, file: str, rule: str, message: str, column: str | None = None, requirement: str = ""
) -> Problem:
    return Problem(
        table=table,
        column=column,
        rule=rule,
        message=message,
        file=file,
        requirement=requirement or RULES[rule],
        severity=_severity(rule),
    )


def _order(problems: Iterable[Problem]) -> list[Problem]:
    """Problems grouped by table in schema order (stable within a table)."""
    rank = {name: i for i, name in enumerate(["extract", *schema.TABLES])}
    return sorted(problems, key=lambda p: rank.get(p.table, len(rank)))
