"""The input data contract: the tables a register extract must provide.

Every table is a CSV (``<name>.csv``) or Parquet (``<name>.parquet``) file in one
folder, plus a small ``extract.json`` with the study dates.  The synthetic data in
``data/synthetic/`` and a real extract use the same contract, so every notebook runs
on either.  ``data/README.md`` is the human-readable data dictionary; this module is
the machine-readable one that the validator (:mod:`alsmeds.data.validate`) enforces.

Column kinds
------------
``id``
    integer person identifier (the pseudonymised personal number, *lopnr*).
``date``
    ISO date ``YYYY-MM-DD``.
``category``
    a string from a closed list of allowed values.
``int`` / ``float`` / ``str``
    as named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: First day of the Swedish Prescribed Drug Register (complete from this date).
REGISTER_START = date(2005, 7, 1)
#: First and last possible ALS diagnosis (index) date in the study.
RECRUITMENT_START = date(2015, 1, 1)
RECRUITMENT_END = date(2023, 7, 1)
#: Default end of follow-up for prognosis (an assumption; the paper's is not published).
END_OF_FOLLOW_UP = date(2023, 12, 31)

ROLES = ("case", "population_control", "sibling", "spouse")
SEXES = ("male", "female")
EDUCATION_LEVELS = ("compulsory", "upper_secondary", "post_secondary")
COUNTRIES_OF_BIRTH = ("sweden", "other_nordic", "other")
CIVIL_STATUSES = ("married", "unmarried", "divorced", "widowed")
ONSET_SITES = ("bulbar", "spinal")
EVENTS = ("death", "invasive_ventilation")
ALSFRS_ITEMS = tuple(f"alsfrs_item_{i:02d}" for i in range(1, 13))

#: A 7-character ATC code at the chemical-substance level, e.g. ``N05BA01``.
ATC_PATTERN = r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$"
#: An ICD-10 code as the National Patient Register writes it, with or without a dot,
#: e.g. ``F32``, ``F321``, ``F32.1``.
ICD10_PATTERN = r"^[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?$"
#: An ICD-9 code as the Swedish registers wrote it in 1987-1996 (ICD-8 codes of
#: 1969-1986 have the same shape): three digits, then optionally a dot, one or two
#: digits and/or the Swedish letter subdivision, e.g. ``296``, ``2962``, ``300.4``,
#: ``296B``.  ICD-9's supplementary E and V codes begin with a letter and already
#: match :data:`ICD10_PATTERN`.
ICD9_PATTERN = r"^[0-9]{3}(\.?([0-9]{1,2}[A-Z]?|[A-Z]))?$"
#: A diagnosis code of the ``diagnoses`` table: ICD-10, or ICD-9 for diagnoses before
#: 1997.  The version is read from the shape: an ICD-10 code begins with a letter, an
#: ICD-9 code with a digit (see :data:`ICD9_LAST_DATE` and ``data/README.md``).
ICD_PATTERN = r"^(?:[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?|[0-9]{3}(\.?([0-9]{1,2}[A-Z]?|[A-Z]))?)$"
#: Sweden replaced ICD-9 by ICD-10 on 1997-01-01 (Skane a year later, on 1998-01-01), so
#: no register holds an ICD-9 code dated after 1997-12-31.
ICD9_LAST_DATE = date(1997, 12, 31)

#: The dates the analysis can hold (a day at midnight as pandas ``datetime64[ns]``).  A date
#: outside them, such as the register sentinel 9999-12-31 for "no end", is rejected (rule
#: ``date_out_of_range``): an unknown or open-ended date is an empty field.
FIRST_SUPPORTED_DATE = date(1677, 9, 22)
LAST_SUPPORTED_DATE = date(2262, 4, 11)

#: Placeholders that systems write for an unknown date: 1900-01-01 (the zero of SQL Server and
#: many registers) and 1899-12-30 / 1899-12-31 (the zero of spreadsheet dates).  As a birth
#: date such a placeholder makes a control over 115 years old at the index date (rule
#: ``sentinel_birth_date``).
SENTINEL_BIRTH_DATES = (date(1900, 1, 1), date(1899, 12, 31), date(1899, 12, 30))


@dataclass(frozen=True)
class Column:
    """One column of an input table."""

    name: str
    kind: str
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    required: bool = True


@dataclass(frozen=True)
class Table:
    """One input table: its columns, its key and the register it mirrors."""

    name: str
    description: str
    register: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


PERSONS = Table(
    name="persons",
    description="One row per person in the study population (cases and all controls).",
    register="Total Population Register, LISA (education), Cause of Death Register, Migration Register",
    key=("person_id",),
    columns=(
        Column("person_id", "id", "Pseudonymised person identifier."),
        Column("birth_date", "date", "Date of birth."),
        Column("sex", "category", "Legal sex.", allowed=SEXES),
        Column("education", "category", "Highest attained education at the index date.", allowed=EDUCATION_LEVELS),
        Column("country_of_birth", "category", "Country of birth, grouped.", allowed=COUNTRIES_OF_BIRTH),
        Column("civil_status", "category", "Civil status at the index date.", allowed=CIVIL_STATUSES),
        Column("death_date", "date", "Date of death, empty if alive at the end of follow-up.", nullable=True),
        Column("emigration_date", "date", "Date of emigration, empty if none.", nullable=True),
    ),
)

STUDY_POPULATION = Table(
    name="study_population",
    description=(
        "Membership of the matched sets: each ALS case with its population controls, "
        "full siblings and spouse.  The matched set is identified by ``case_id``."
    ),
    register="Swedish MND Quality Registry (cases); Total Population and Multi-Generation Registers (controls)",
    key=("person_id", "case_id"),
    columns=(
        Column("person_id", "id", "The member of the set."),
        Column(
            "case_id", "id", "person_id of the ALS case the set belongs to (the case itself has case_id == person_id)."
        ),
        Column("role", "category", "The member's role in the set.", allowed=ROLES),
        Column("index_date", "date", "The case's diagnosis date; exposure is assessed before it for every member."),
    ),
)

ALS_CASES = Table(
    name="als_cases",
    description="One row per ALS case, from the quality registry.",
    register="Swedish Motor Neuron Disease Quality Registry",
    key=("person_id",),
    columns=(
        Column("person_id", "id", "The case."),
        Column("diagnosis_date", "date", "Date of ALS diagnosis (the index date)."),
        Column("onset_site", "category", "Site of symptom onset.", allowed=ONSET_SITES),
        Column(
            "diagnostic_delay_months", "float", "Months from first symptom to diagnosis.", minimum=0.0, maximum=240.0
        ),
    ),
)

DISPENSINGS = Table(
    name="dispensings",
    description="Dispensed outpatient prescriptions, one row per dispensing.",
    register="Swedish Prescribed Drug Register (complete from 2005-07-01)",
    columns=(
        Column("person_id", "id", "Who the drug was dispensed to."),
        Column("dispensing_date", "date", "Date the pharmacy dispensed the drug."),
        Column("atc", "str", "7-character ATC code of the substance.", pattern=ATC_PATTERN),
        Column("packages", "int", "Number of packages dispensed.", minimum=1, maximum=1000),
    ),
)

DIAGNOSES = Table(
    name="diagnoses",
    description="Inpatient and specialist outpatient diagnoses (used for psychiatric history).",
    register="National Patient Register",
    columns=(
        Column("person_id", "id", "The patient."),
        Column("diagnosis_date", "date", "Date of the visit or admission."),
        Column(
            "icd10",
            "str",
            "Diagnosis code, with or without a dot: ICD-10 from 1997; a code that starts with a digit is read as "
            "ICD-9 (1987-1996; ICD-8 before 1987), allowed up to 1997-12-31.",
            pattern=ICD_PATTERN,
        ),
    ),
)

ALSFRS = Table(
    name="alsfrs",
    description=(
        "ALS Functional Rating Scale-Revised at registry visits (higher is better).  Two or more "
        "assessments of one case on the same day are allowed (the validator counts them in a "
        "warning); how the analysis combines them is documented in ``alsmeds.models.mixed``."
    ),
    register="Swedish Motor Neuron Disease Quality Registry",
    # No key: same-day assessments are real register content (rule same_day_alsfrs).
    columns=(
        Column("person_id", "id", "The case."),
        Column("visit_date", "date", "Date of the visit."),
        Column("alsfrs_r_total", "int", "Total score, 0-48.", minimum=0, maximum=48),
    )
    + tuple(
        Column(item, "int", f"Item {i + 1} score, 0-4 (optional).", minimum=0, maximum=4, nullable=True, required=False)
        for i, item in enumerate(ALSFRS_ITEMS)
    ),
)

OUTCOMES = Table(
    name="outcomes",
    description=(
        "Prognostic events of the cases after diagnosis.  A case with no row is event-free "
        "at the end of follow-up (``extract.json``), emigration or death from the persons table."
    ),
    register="Cause of Death Register; MND Quality Registry and National Patient Register (invasive ventilation)",
    key=("person_id", "event"),
    columns=(
        Column("person_id", "id", "The case."),
        Column("event", "category", "The event.", allowed=EVENTS),
        Column("event_date", "date", "Date of the event."),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (PERSONS, STUDY_POPULATION, ALS_CASES, DISPENSINGS, DIAGNOSES, ALSFRS, OUTCOMES)
}

#: The metadata file next to the tables, with the study dates as ISO strings.
EXTRACT_METADATA_FILE = "extract.json"
EXTRACT_METADATA_KEYS = ("register_start", "recruitment_start", "recruitment_end", "end_of_follow_up")

#: What each key of ``extract.json`` means, and its value for the synthetic data.
EXTRACT_METADATA_DESCRIPTIONS: dict[str, str] = {
    "register_start": "First day covered by the Prescribed Drug Register in the extract; no dispensing may be earlier.",
    "recruitment_start": "First possible ALS diagnosis (index) date of a case.",
    "recruitment_end": "Last possible ALS diagnosis (index) date of a case.",
    "end_of_follow_up": (
        "End of follow-up for prognosis.  Dispensings after it are kept, with a warning "
        "(the drug register's coverage may run longer; exposure is counted before the index date only)."
    ),
}
EXTRACT_METADATA_DEFAULTS: dict[str, date] = {
    "register_start": REGISTER_START,
    "recruitment_start": RECRUITMENT_START,
    "recruitment_end": RECRUITMENT_END,
    "end_of_follow_up": END_OF_FOLLOW_UP,
}

_KIND_LABELS = {
    "id": "integer id",
    "date": "date (YYYY-MM-DD)",
    "category": "category",
    "int": "integer",
    "float": "number",
    "str": "text",
}
_PATTERN_LABELS = {
    ATC_PATTERN: "ATC code such as `N05BA01`",
    ICD10_PATTERN: "ICD-10 code such as `F32`, `F321` or `F32.1`",
    ICD_PATTERN: "ICD-10 code such as `F32`, `F321` or `F32.1`, or ICD-9 code such as `296`, `2962`, `300.4` or `296B`",
}


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _allowed_text(col: Column) -> str:
    parts: list[str] = []
    if col.allowed is not None:
        parts.append(", ".join(f"`{v}`" for v in col.allowed))
    if col.minimum is not None and col.maximum is not None:
        parts.append(f"{col.minimum:g} to {col.maximum:g}")
    elif col.minimum is not None:
        parts.append(f"at least {col.minimum:g}")
    elif col.maximum is not None:
        parts.append(f"at most {col.maximum:g}")
    if col.pattern is not None:
        label = _PATTERN_LABELS.get(col.pattern, "text")
        parts.append(f"{label}; pattern `{col.pattern}`")
    return "; ".join(parts) or "any"


def data_dictionary_markdown() -> str:
    """The data dictionary of the input contract as Markdown, generated from this module.

    ``data/README.md`` holds this text between the markers
    ``<!-- BEGIN DATA DICTIONARY -->`` and ``<!-- END DATA DICTIONARY -->``; a test
    checks that the two agree.  After changing the schema, paste the output of
    ``python -c "from alsmeds.data.schema import data_dictionary_markdown as d; print(d(), end='')"``
    between the markers.

    Returns
    -------
    str
        Markdown, ending with a newline.
    """
    lines: list[str] = [
        f"### `{EXTRACT_METADATA_FILE}`",
        "",
        "A JSON object with the study dates as ISO strings (other keys are allowed and ignored).",
        "",
        "| key | meaning | synthetic data |",
        "| --- | --- | --- |",
    ]
    for key in EXTRACT_METADATA_KEYS:
        meaning = _md_cell(EXTRACT_METADATA_DESCRIPTIONS[key])
        lines.append(f"| `{key}` | {meaning} | {EXTRACT_METADATA_DEFAULTS[key].isoformat()} |")
    for table in TABLES.values():
        key = ", ".join(f"`{k}`" for k in table.key) if table.key else "none (repeated rows are allowed)"
        lines += [
            "",
            f"### `{table.name}`",
            "",
            _md_cell(table.description),
            "",
            f"- Register: {table.register}",
            f"- Key: {key}",
            f"- File: `{table.name}.csv` or `{table.name}.parquet`",
            "",
            "| column | type | allowed values / range | nullable | meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for col in table.columns:
            nullable = "yes" if col.nullable else "no"
            if not col.required:
                nullable += " (optional column)"
            lines.append(
                f"| `{col.name}` | {_KIND_LABELS[col.kind]} | {_md_cell(_allowed_text(col))} | {nullable} "
                f"| {_md_cell(col.description)} |"
            )
    return "\n".join(lines) + "\n"
