"""The validator: checks a register extract against the input data contract.

The contract is :mod:`alsmeds.data.schema`.  :func:`validate_registry` checks a folder of
tables (CSV or Parquet) plus ``extract.json``; :func:`validate_tables` checks tables
that are already in memory, as raw strings (what a CSV holds) or as typed columns
(what Parquet or a simulation produces).  Both collect *every* problem before they
report, so one run lists everything that needs fixing.

Errors and warnings
-------------------
Every rule has a severity (:data:`WARNING_RULES`).  An *error* is what would make an
analysis wrong (a malformed code, a control who died before the index date, a file
whose quotes swallow records, a dispensing before the person's birth); any error makes
validation fail.  A *warning* is what real registers contain and the analysis handles
by a documented rule (a dispensing after the end of follow-up, an ICD-9 code from
before 1997, two ALSFRS-R assessments on one day, a case without controls): the rows
are kept, and the warning says how many there are.  Warnings never make
:func:`validate_registry` or :func:`alsmeds.data.registry.read_registry` raise.

How values are read
-------------------
Values are parsed by the column kind declared in the schema:

``id``
    a whole number written with digits only (``123``, not ``123.0``, ``-123`` or ``+123``;
    a negative integer in Parquet is not an id either).
``date``
    an ISO date ``YYYY-MM-DD``; a Parquet timestamp gives its calendar date in the
    time zone it is stored in (a time of day is dropped), never shifted to UTC.  A real
    date outside :data:`~alsmeds.data.schema.FIRST_SUPPORTED_DATE` to
    :data:`~alsmeds.data.schema.LAST_SUPPORTED_DATE` (the sentinel ``9999-12-31``) is
    reported as such (rule ``date_out_of_range``), not as a malformed date.
``int``
    a whole number; ``3.0`` is accepted as 3, ``3.5`` is not.
``float``
    a finite decimal number.
``category``
    one of the allowed values, after trimming surrounding whitespace (case matters).
``str``
    text, trimmed.  Coded columns (ATC, ICD) are normalised by ``strip()`` and
    ``upper()`` before they are matched, so ``n05ba01`` is accepted as ``N05BA01``
    while ``N05B1`` is malformed however it is written.

A missing value is an empty field (or a null in Parquet).  Markers such as ``NA`` or
``NULL`` are *not* read as missing: they are reported as unparseable values.

Row numbers
-----------
Each :class:`Problem` carries 0-based data row numbers (the first row after the
header is row 0).  For CSV files it also carries the file line on which each row
starts (line 1 is the header), found by the reader's byte scan
(:func:`alsmeds.data.read.read_csv_checked`), so empty lines and quoted values holding a
line break do not shift them.  Tables checked in memory have no file lines; given a
``.csv`` file name, their rows are assumed to be on line row + 2.

Speed
-----
Everything is vectorised.  Values are parsed once per *distinct* value (a column is
factorised first), which makes the long tables cheap: a dispensings table has few
distinct dates, codes and package counts however many rows it has.

Why hand-written, not pandera
----------------------------
The per-column layer (:func:`parse_column`) is our own, measured against pandera 0.35 with
schemas generated from :mod:`alsmeds.data.schema` (``benchmarks/bench_contract_pandera.py``):
pandera was 1.1-2.8x slower on the committed tables and 3.2x slower on 3.8 million
dispensings; one unparseable value in a column hides that column's other errors (a range
check then fails with a ``TypeError`` and reports no row); it accepts dates without zero
padding and rejects whole numbers written ``3.0``; and it would still need our text-first
reader (file lines, quoting), our parsers and our report layer (rule ids, requirements,
warnings), for about 17 MB of added dependencies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from alsmeds.data import schema
from alsmeds.data.problems import (
    MAX_ROWS_STORED,
    MAX_SHOWN,
    MAX_VALUE_CHARS,
    RULES,
    WARNING_RULES,
    Problem,
    RegistryValidationError,
    ValidationReport,
    _file_problem,
    _order,
    _severity,
)
from alsmeds.data.schema import Column, Table

_PARSE_RULES = {
    "id": ("not_an_id", "not a person id written with digits only"),
    "date": ("not_a_date", "not a valid date"),
    "int": ("not_an_integer", "not an integer"),
    "float": ("not_a_number", "not a number"),
}


#: Rule id and message for the coded-text patterns of the schema.
_PATTERN_RULES = {
    schema.ATC_PATTERN: ("atc_code", "malformed ATC code"),
    schema.ICD10_PATTERN: ("icd10_code", "malformed ICD-10 code"),
    schema.ICD_PATTERN: ("icd10_code", "malformed ICD code"),
}


#: An integer as text, with an optional sign (``int`` columns; a negative count is out of range).
_SIGNED_DIGITS = r"[+-]?[0-9]{1,18}"


#: A person id as text: digits only, no sign (``-101888`` and ``+102693`` are not ids).
_ID_DIGITS = r"[0-9]{1,18}"


_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


#: Message of rule ``date_out_of_range``.
_OUT_OF_RANGE_DATE = (
    f"date outside the supported range {schema.FIRST_SUPPORTED_DATE} to {schema.LAST_SUPPORTED_DATE}, "
    "probably a sentinel for an unknown or open date (write an empty field):"
)


@dataclass
class _Flag:
    rule: str
    message: str
    requirement: str
    mask: np.ndarray  # bool per row


@dataclass
class ParsedTable:
    """A table parsed by the schema: typed values, with invalid values set to missing."""

    name: str
    file: str
    raw: pd.DataFrame
    frame: pd.DataFrame
    missing: dict[str, np.ndarray]
    flags: dict[str, list[_Flag]]
    #: 1-based file line of each row (CSV files read with a byte scan), or None.
    record_lines: np.ndarray | None = None

    def has(self, *columns: str) -> bool:
        return all(c in self.frame.columns for c in columns)

    def __len__(self) -> int:
        return len(self.frame)


def _as_index(uniques: Any) -> pd.Index:
    return uniques if isinstance(uniques, pd.Index) else pd.Index(uniques)


def _text(u: pd.Index) -> pd.Index:
    if len(u) == 0:
        return pd.Index([], dtype=object)
    return pd.Index(u.astype(str), dtype=object).str.strip()


def _parse_integers(
    u: pd.Index, allow_float_text: bool, signed: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse distinct values as int64: (values, missing, bad).

    With ``signed=False`` (person ids) a sign or a negative number is bad: an id is
    written with digits only.
    """
    n = len(u)
    values = np.zeros(n, dtype=np.int64)
    missing = np.zeros(n, dtype=bool)
    if ptypes.is_bool_dtype(u.dtype):
        return values, missing, np.ones(n, dtype=bool)
    if ptypes.is_integer_dtype(u.dtype):
        values = np.asarray(u, dtype=np.int64)
        return values, missing, np.zeros(n, dtype=bool) if signed else values < 0
    if ptypes.is_float_dtype(u.dtype):
        x = np.asarray(u, dtype=np.float64)
        ok = np.isfinite(x) & (np.abs(x) < 2.0**53) & (signed | (x >= 0))
        ok[ok] = x[ok] == np.floor(x[ok])
        values[ok] = x[ok].astype(np.int64)
        return values, missing, ~ok
    text = _text(u)
    missing = np.asarray(text == "", dtype=bool)
    ok = np.asarray(text.str.fullmatch(_SIGNED_DIGITS if signed else _ID_DIGITS), dtype=bool)
    values[ok] = np.asarray(text[ok], dtype=np.int64) if ok.any() else values[ok]
    if allow_float_text:
        rest = ~ok & ~missing
        if rest.any():
            x = pd.to_numeric(pd.Series(np.asarray(text[rest], dtype=object)), errors="coerce").to_numpy(np.float64)
            good = np.isfinite(x) & (np.abs(x) < 2.0**53)
            good[good] = x[good] == np.floor(x[good])
            idx = np.flatnonzero(rest)[good]
            values[idx] = x[good].astype(np.int64)
            ok[idx] = True
    return values, missing, ~ok & ~missing


def _parse_floats(u: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(u)
    if ptypes.is_numeric_dtype(u.dtype) and not ptypes.is_bool_dtype(u.dtype):
        x = np.asarray(u, dtype=np.float64)
        return x, np.zeros(n, dtype=bool), ~np.isfinite(x)
    text = _text(u)
    missing = np.asarray(text == "", dtype=bool)
    x = pd.to_numeric(pd.Series(np.asarray(text, dtype=object)).where(~missing), errors="coerce")
    x = x.to_numpy(np.float64)
    bad = ~missing & ~np.isfinite(x)
    x[bad] = np.nan
    return x, missing, bad


def _wall_clock(value: Any) -> Any:
    """A timestamp's local date and time in its own time zone, without the zone."""
    tz = getattr(value, "tzinfo", None)
    return value.replace(tzinfo=None) if tz is not None else value


#: The supported dates as numpy days (see :data:`alsmeds.data.schema.FIRST_SUPPORTED_DATE`).
_FIRST_DAY = np.datetime64(schema.FIRST_SUPPORTED_DATE, "D")
_LAST_DAY = np.datetime64(schema.LAST_SUPPORTED_DATE, "D")


def _day(value: Any) -> np.datetime64:
    """The calendar day of a date-like object (wall-clock time in its own zone), NaT if it is none."""
    value = _wall_clock(value)
    if value is None or value is pd.NaT or (isinstance(value, np.datetime64) and np.isnat(value)):
        return np.datetime64("NaT", "D")
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date | np.datetime64):
        return np.datetime64(value, "D")
    return np.datetime64("NaT", "D")


def _supported_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days as datetime64[ns] (NaT outside the supported range) and which lie outside it."""
    days = days.astype("datetime64[D]")
    outside = ~np.isnat(days) & ((days < _FIRST_DAY) | (days > _LAST_DAY))
    days[outside] = np.datetime64("NaT", "D")
    return days.astype("datetime64[ns]"), outside


def _parse_dates(u: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse distinct values as dates: (values as datetime64[ns], missing, bad, outside).

    ``outside`` marks real calendar dates beyond the supported range (9999-12-31,
    0001-01-01), which ``bad`` (not a date at all) leaves out.  A timestamp stands for
    its calendar date in the time zone it is stored in: local midnight in
    Europe/Stockholm is that day, not the day before (as it would be in UTC).  A time
    of day is dropped.
    """
    n = len(u)
    missing = np.zeros(n, dtype=bool)
    if ptypes.is_datetime64_any_dtype(u.dtype):
        d = pd.DatetimeIndex(u)
        if d.tz is not None:
            d = d.tz_localize(None)  # wall-clock time in the stored zone
        x, outside = _supported_days(d.to_numpy())  # in the stored unit: 9999-12-31 fits in microseconds
        return x, missing, np.isnat(x) & ~outside, outside
    if n and ptypes.infer_dtype(u, skipna=True) in ("date", "datetime", "datetime64"):
        x, outside = _supported_days(np.array([_day(v) for v in u], dtype="datetime64[D]"))
        return x, missing, np.isnat(x) & ~outside, outside
    text = _text(u)
    missing = np.asarray(text == "", dtype=bool)
    shaped = np.asarray(text.str.fullmatch(_ISO_DATE), dtype=bool)
    s = pd.Series(np.asarray(text, dtype=object)).where(shaped)
    x = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").to_numpy("datetime64[ns]")
    bad = ~missing & np.isnat(x)
    outside = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(bad & shaped):  # a calendar date pandas cannot hold, or an impossible one
        try:
            date.fromisoformat(text[i])
        except ValueError:
            continue
        outside[i] = True
    return x, missing, bad & ~outside, outside


def _requirement_range(col: Column) -> str:
    if col.minimum is not None and col.maximum is not None:
        return f"between {col.minimum:g} and {col.maximum:g}"
    if col.minimum is not None:
        return f"at least {col.minimum:g}"
    return f"at most {col.maximum:g}"


def _arrow_strings(raw: pd.Series) -> Any:
    """The pyarrow array behind a column of Arrow-backed strings, or None."""
    dtype = raw.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return raw.array.__arrow_array__()
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        if pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype):
            return raw.array.__arrow_array__()
    return None


def _range_flags(values: np.ndarray, valid: np.ndarray, col: Column) -> list[tuple[str, str, str, np.ndarray]]:
    if col.minimum is None and col.maximum is None:
        return []
    out = np.zeros(len(values), dtype=bool)
    if col.minimum is not None:
        out |= valid & (values < col.minimum)
    if col.maximum is not None:
        out |= valid & (values > col.maximum)
    if not out.any():
        return []
    return [("out_of_range", f"{col.name} out of range", _requirement_range(col), out)]


def _fast_integers(raw: pd.Series, col: Column) -> tuple[pd.Series, np.ndarray, list] | None:
    """Parse a column of well-formed integers without factorising it (None: use the general path).

    Ids have many distinct values, so hashing them is the slow part of the general
    path; here integer columns (Parquet, memory) and Arrow-backed text columns (CSV)
    whose every value is plain digits are converted directly.  An id with a sign (or a
    negative integer id) goes to the general path, which reports it.
    """
    n = len(raw)
    if ptypes.is_integer_dtype(raw.dtype) and not isinstance(raw.dtype, pd.api.extensions.ExtensionDtype):
        values = raw.to_numpy(np.int64)
    else:
        arr = _arrow_strings(raw)
        if arr is None:
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        if arr.null_count:
            return None
        # Arrow's parser accepts a minus sign and digits, rejects overflow, and also reads
        # hexadecimal ("0x10"), which the contract does not allow.
        if n and pc.any(pc.match_substring(arr, "x", ignore_case=True)).as_py():
            return None
        if n and col.kind == "id" and pc.any(pc.match_substring(arr, "-")).as_py():  # "-0" too
            return None
        try:
            values = pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    if n and col.kind == "id" and values.min() < 0:
        return None
    valid = np.ones(n, dtype=bool)
    typed = pd.Series(values, index=raw.index, name=col.name, dtype="int64")
    if col.kind == "int" and col.nullable:
        typed = typed.astype("Int64")
    return typed, np.zeros(n, dtype=bool), _range_flags(values, valid, col)


def parse_column(raw: pd.Series, col: Column) -> tuple[pd.Series, np.ndarray, list[tuple[str, str, str, np.ndarray]]]:
    """Parse one column by its schema kind and check its per-value rules.

    Parameters
    ----------
    raw : pandas.Series
        The column as read: strings (CSV) or typed values (Parquet, memory).
    col : alsmeds.data.schema.Column
        Its declaration.

    Returns
    -------
    typed : pandas.Series
        Parsed values, invalid values set to missing: int64 for ids and integers
        (nullable Int64 for a nullable integer column, or when values are missing or
        invalid), float64, datetime64[ns], or object strings (trimmed; coded columns
        upper-cased).
    missing : numpy.ndarray of bool
        Rows with no value.
    flags : list of (rule, message, requirement, row_mask)
        Per-value rule violations.
    """
    if col.kind in ("id", "int"):
        fast = _fast_integers(raw, col)
        if fast is not None:
            return fast
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    u = _as_index(uniques)
    n_u = len(u)
    idx = np.where(codes < 0, n_u, codes)  # missing -> the extra slot at the end

    def expand(mask_u: np.ndarray) -> np.ndarray:
        return np.append(np.asarray(mask_u, dtype=bool), False)[idx]

    flags: list[tuple[str, str, str, np.ndarray]] = []
    unique_flags: list[tuple[str, str, str, np.ndarray]] = []
    kind = col.kind
    if kind in ("id", "int"):
        values_u, missing_u, bad_u = _parse_integers(u, allow_float_text=kind == "int", signed=kind == "int")
        valid_u = ~missing_u & ~bad_u
        num_u = values_u.astype(np.float64)
    elif kind == "float":
        values_u, missing_u, bad_u = _parse_floats(u)
        valid_u = ~missing_u & ~bad_u
        num_u = values_u
    elif kind == "date":
        values_u, missing_u, bad_u, outside_u = _parse_dates(u)
        valid_u = ~missing_u & ~bad_u & ~outside_u
        num_u = None
        if outside_u.any():
            unique_flags.append(("date_out_of_range", _OUT_OF_RANGE_DATE, RULES["date_out_of_range"], outside_u))
    elif kind in ("category", "str"):
        text = _text(u)
        if col.pattern is not None:
            text = text.str.upper()
        values_u = np.asarray(text, dtype=object)
        missing_u = np.asarray(text == "", dtype=bool)
        bad_u = np.zeros(n_u, dtype=bool)
        valid_u = ~missing_u
        num_u = None
    else:  # pragma: no cover - a schema error
        raise ValueError(f"unknown column kind {kind!r} for column {col.name!r}")

    if bad_u.any():
        rule, message = _PARSE_RULES[kind]
        unique_flags.append((rule, message, RULES[rule], bad_u))
    if col.allowed is not None:
        out = valid_u & ~np.isin(values_u.astype(object), np.asarray(col.allowed, dtype=object))
        if out.any():
            unique_flags.append(("allowed_values", f"unknown {col.name}", "one of " + ", ".join(col.allowed), out))
    if col.pattern is not None:
        text_u = pd.Index(values_u.astype(object))
        matches = np.zeros(n_u, dtype=bool)
        if valid_u.any():
            matches[valid_u] = np.asarray(text_u[valid_u].str.match(col.pattern), dtype=bool)
        out = valid_u & ~matches
        if out.any():
            rule, message = _PATTERN_RULES.get(col.pattern, ("pattern", "malformed value"))
            requirement = RULES[rule] if rule != "pattern" else f"matches {col.pattern}"
            unique_flags.append((rule, message, requirement, out))
    if num_u is not None and (col.minimum is not None or col.maximum is not None):
        out = np.zeros(n_u, dtype=bool)
        if col.minimum is not None:
            out |= valid_u & (num_u < col.minimum)
        if col.maximum is not None:
            out |= valid_u & (num_u > col.maximum)
        if out.any():
            unique_flags.append(("out_of_range", f"{col.name} out of range", _requirement_range(col), out))

    missing_rows = np.append(missing_u, True)[idx]
    valid_rows = np.append(valid_u, False)[idx]
    for rule, message, requirement, mask_u in unique_flags:
        flags.append((rule, message, requirement, expand(mask_u)))

    index = raw.index
    if kind in ("id", "int"):
        values = np.append(values_u, 0)[idx]
        if valid_rows.all() and (kind == "id" or not col.nullable):
            typed = pd.Series(values, index=index, dtype="int64", name=col.name)
        else:
            typed = pd.Series(pd.arrays.IntegerArray(values, ~valid_rows), index=index, name=col.name)
    elif kind == "float":
        typed = pd.Series(np.append(values_u, np.nan)[idx], index=index, dtype="float64", name=col.name)
        typed[~valid_rows] = np.nan
    elif kind == "date":
        values = np.append(values_u, np.datetime64("NaT", "ns"))[idx]
        values[~valid_rows] = np.datetime64("NaT", "ns")
        typed = pd.Series(values, index=index, dtype="datetime64[ns]", name=col.name)
    else:
        values = np.append(values_u, np.nan).astype(object)[idx]
        values[~valid_rows] = np.nan
        typed = pd.Series(values, index=index, dtype=object, name=col.name)
    return typed, missing_rows, flags


def parse_table(
    raw: pd.DataFrame, table: Table, file: str | None = None, record_lines: np.ndarray | None = None
) -> ParsedTable:
    """Parse the schema columns of a raw table (other columns are kept as they are).

    Parameters
    ----------
    raw : pandas.DataFrame
        The table as read.
    table : alsmeds.data.schema.Table
        Its declaration.
    file : str, optional
        File name for reports; the table name by default.
    record_lines : numpy.ndarray, optional
        The file line on which each row starts (from :func:`alsmeds.data.read.read_csv_checked`),
        given in reports; None for row + 2.

    Returns
    -------
    ParsedTable
    """
    index = raw.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        raw = raw.reset_index(drop=True)
    if raw.columns.duplicated().any():
        raw = raw.loc[:, ~raw.columns.duplicated()]
    columns: dict[str, pd.Series] = {}
    missing: dict[str, np.ndarray] = {}
    flags: dict[str, list[_Flag]] = {}
    declared = {c.name for c in table.columns}
    for col in table.columns:
        if col.name not in raw.columns:
            continue
        try:
            typed, miss, col_flags = parse_column(raw[col.name], col)
        except (TypeError, ValueError):
            # Values of an unexpected type (lists or mappings in a Parquet column): check
            # their text, so that they are reported as invalid values, never as a traceback.
            raw = raw.assign(**{col.name: _as_text(raw[col.name])})
            typed, miss, col_flags = parse_column(raw[col.name], col)
        columns[col.name] = typed
        missing[col.name] = miss
        flags[col.name] = [_Flag(*f) for f in col_flags]
    for name in raw.columns:
        if name not in declared:
            extra = raw[name]
            columns[name] = extra.astype(object) if _arrow_strings(extra) is not None else extra
    frame = pd.DataFrame(columns, index=raw.index, copy=False) if columns else pd.DataFrame(index=raw.index)
    return ParsedTable(table.name, file or table.name, raw, frame, missing, flags, record_lines)


def _metadata_date(text: str) -> date | None:
    """A study date written ``YYYY-MM-DD``, or None.

    Only that form: :meth:`datetime.date.fromisoformat` also reads other ISO 8601 forms
    (the week date ``2023-W52-7``, the basic form ``20231231``), which the contract does not
    allow.
    """
    if not re.fullmatch(_ISO_DATE, text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_metadata(metadata: Mapping[str, Any] | None) -> tuple[dict[str, date], list[Problem]]:
    """Parse the study dates of ``extract.json`` and check them.

    Parameters
    ----------
    metadata : mapping or None
        The JSON object as loaded (ISO date strings, or ``date`` objects).  None means
        the file is missing, which the caller reports.

    Returns
    -------
    dates : dict of str to datetime.date
        The study dates that could be parsed.
    problems : list of Problem
    """
    file = schema.EXTRACT_METADATA_FILE
    problems: list[Problem] = []
    dates: dict[str, date] = {}
    if metadata is None:
        return dates, problems
    for key in schema.EXTRACT_METADATA_KEYS:
        if key not in metadata:
            problems.append(_file_problem("extract", file, "missing_metadata_key", f"missing key '{key}'", column=key))
            continue
        value = metadata[key]
        if isinstance(value, datetime):
            found: date | None = value.date()
        elif isinstance(value, date):
            found = value
        else:
            found = _metadata_date(str(value).strip())
        if found is None:
            why = "not a date written YYYY-MM-DD"
        elif not schema.FIRST_SUPPORTED_DATE <= found <= schema.LAST_SUPPORTED_DATE:
            why = (
                f"a date outside the supported range {schema.FIRST_SUPPORTED_DATE} to "
                f"{schema.LAST_SUPPORTED_DATE} (a sentinel?)"
            )
        else:
            dates[key] = found
            continue
        shown = repr(value.isoformat() if isinstance(value, date) else value)
        problems.append(_file_problem("extract", file, "bad_metadata_date", f"{why}: {shown}", column=key))
    ordered = [(k, dates[k]) for k in schema.EXTRACT_METADATA_KEYS if k in dates]
    for (k1, d1), (k2, d2) in zip(ordered, ordered[1:], strict=False):
        if d1 > d2:
            problems.append(
                _file_problem(
                    "extract",
                    file,
                    "metadata_order",
                    f"{k1} {d1.isoformat()} is after {k2} {d2.isoformat()}",
                    column=f"{k1}, {k2}",
                )
            )
    return dates, problems


def _column_problems(pt: ParsedTable, table: Table) -> list[Problem]:
    problems: list[Problem] = []
    present = list(pt.raw.columns)
    for col in table.columns:
        if col.name not in present:
            if col.required:
                found = ", ".join(repr(str(c)) for c in present) or "none"
                problems.append(
                    _file_problem(
                        table.name,
                        pt.file,
                        "missing_column",
                        f"missing required column '{col.name}' (columns found: {found})",
                        column=col.name,
                    )
                )
            continue
        raw = pt.raw[col.name]
        for flag in pt.flags[col.name]:
            values, n_values = _examples(raw, flag.mask)
            problems.append(
                _row_problem(pt, col.name, flag.rule, flag.message, flag.mask, values, n_values, flag.requirement)
            )
        if not col.nullable:
            mask = pt.missing[col.name]
            if mask.any():
                problems.append(_row_problem(pt, col.name, "missing_value", "missing value", mask))
    return problems


def _key_problems(pt: ParsedTable, table: Table) -> list[Problem]:
    key = list(table.key)
    if not key or not pt.has(*key) or len(pt) == 0:
        return []
    frame = pt.frame[key]
    complete = frame.notna().all(axis=1).to_numpy()
    mask = frame.duplicated(keep=False).to_numpy() & complete
    if not mask.any():
        return []
    values, n_values = _examples(frame, mask)
    requirement = f"({', '.join(key)}) identifies one row" if len(key) > 1 else f"{key[0]} identifies one row"
    return [
        _row_problem(
            pt, ", ".join(key), "duplicate_key", "duplicate key", mask, values, n_values, requirement=requirement
        )
    ]


def _dates(s: pd.Series) -> np.ndarray:
    return s.to_numpy("datetime64[ns]")


def _lookup(keys: pd.Series, ref_keys: pd.Series, ref_values: pd.Series) -> pd.Series:
    """Map keys to the value of their first row in a reference table (NaN/NaT if absent)."""
    ok = ref_keys.notna().to_numpy()
    ref = pd.Series(ref_values.to_numpy()[ok], index=pd.Index(ref_keys.to_numpy()[ok]))
    ref = ref[~ref.index.duplicated(keep="first")]
    return keys.map(ref)


def _positions(keys: pd.Series, ref_keys: pd.Series) -> np.ndarray:
    """Row of each key's first match among ``ref_keys`` (-1 if absent), for several lookups at once."""
    ok = ref_keys.notna().to_numpy()
    rows = np.flatnonzero(ok)
    ref = pd.Index(ref_keys.to_numpy()[ok] if not ok.all() else ref_keys.to_numpy())
    if not ref.is_unique:
        first = ~ref.duplicated(keep="first")
        ref, rows = ref[first], rows[first]
    found = ref.get_indexer(keys.to_numpy())
    return np.where(found >= 0, rows[np.maximum(found, 0)] if len(rows) else -1, -1)


def _take_dates(values: pd.Series, positions: np.ndarray) -> np.ndarray:
    """Dates at ``positions`` (NaT where the position is -1)."""
    dates = _dates(values)
    if len(dates) == 0:
        return np.full(len(positions), np.datetime64("NaT", "ns"))
    return np.where(positions >= 0, dates[np.maximum(positions, 0)], np.datetime64("NaT", "ns"))


#: Date order rules: (table, column, reference table, reference column, rule, message).
#: Rows are joined on person_id; a value strictly before the reference is a problem.
DATE_ORDER_RULES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("persons", "death_date", "persons", "birth_date", "death_before_birth", "death before birth:"),
    ("persons", "emigration_date", "persons", "birth_date", "emigration_before_birth", "emigration before birth:"),
    ("als_cases", "diagnosis_date", "persons", "birth_date", "diagnosis_before_birth", "ALS diagnosis before birth:"),
    # a dispensing or a diagnosis before birth would count as exposure or psychiatric history
    (
        "dispensings",
        "dispensing_date",
        "persons",
        "birth_date",
        "dispensing_before_birth",
        "dispensings dated before the person's birth:",
    ),
    (
        "diagnoses",
        "diagnosis_date",
        "persons",
        "birth_date",
        "diagnosis_record_before_birth",
        "diagnoses dated before the person's birth:",
    ),
    # a case cannot die before being diagnosed (persons rows; non-cases have no diagnosis date)
    (
        "persons",
        "death_date",
        "als_cases",
        "diagnosis_date",
        "death_before_diagnosis",
        "case died before the ALS diagnosis:",
    ),
    (
        "alsfrs",
        "visit_date",
        "als_cases",
        "diagnosis_date",
        "visit_before_diagnosis",
        "ALSFRS-R visit before the ALS diagnosis:",
    ),
    (
        "outcomes",
        "event_date",
        "als_cases",
        "diagnosis_date",
        "event_before_diagnosis",
        "outcome event before the ALS diagnosis:",
    ),
)


#: Study-period rules: (table, column, metadata key, "min" or "max", rule, message).
PERIOD_RULES: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "dispensings",
        "dispensing_date",
        "register_start",
        "min",
        "before_register_start",
        "dispensing before the start of the Prescribed Drug Register:",
    ),
    (
        "dispensings",
        "dispensing_date",
        "end_of_follow_up",
        "max",
        "after_end_of_follow_up",
        "dispensings after the end of follow-up, kept (the drug register may cover more):",
    ),
    (
        "study_population",
        "index_date",
        "recruitment_start",
        "min",
        "index_date_outside_recruitment",
        "index date before the start of recruitment:",
    ),
    (
        "study_population",
        "index_date",
        "recruitment_end",
        "max",
        "index_date_outside_recruitment",
        "index date after the end of recruitment:",
    ),
)


#: Membership rules: (table, column, reference table, reference column, rule, message).
MEMBERSHIP_RULES: tuple[tuple[str, str, str, str, str, str], ...] = tuple(
    (name, "person_id", "persons", "person_id", "unknown_person", "person_id not found in persons:")
    for name in schema.TABLES
    if name != "persons"
) + (
    (
        "alsfrs",
        "person_id",
        "als_cases",
        "person_id",
        "not_an_als_case",
        "ALSFRS-R visit of a person not in als_cases: person_id",
    ),
    (
        "outcomes",
        "person_id",
        "als_cases",
        "person_id",
        "not_an_als_case",
        "outcome of a person not in als_cases: person_id",
    ),
)


def _date_order_problems(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    problems: list[Problem] = []
    flagged: dict[tuple[str, str], np.ndarray] = {}  # a date already reported is not reported again
    for name, column, ref_name, ref_column, rule, message in DATE_ORDER_RULES:
        pt, ref = parsed.get(name), parsed.get(ref_name)
        if pt is None or ref is None or not pt.has("person_id", column) or not ref.has("person_id", ref_column):
            continue
        if ref is pt:
            reference = pt.frame[ref_column]
        else:
            reference = _lookup(pt.frame["person_id"], ref.frame["person_id"], ref.frame[ref_column])
        value = _dates(pt.frame[column])
        refv = _dates(reference)
        mask = ~np.isnat(value) & ~np.isnat(refv) & (value < refv)
        if (name, column) in flagged:
            mask &= ~flagged[(name, column)]
            flagged[(name, column)] |= mask
        else:
            flagged[(name, column)] = mask.copy()
        if mask.any():
            values, n_values = _distinct(
                f"{column} {_format_value(a)}, {ref_column} {_format_value(b)}"
                for a, b in zip(value[mask], refv[mask], strict=True)
            )
            problems.append(_row_problem(pt, column, rule, message, mask, values, n_values))
    return problems


def _period_problems(parsed: Mapping[str, ParsedTable], dates: Mapping[str, date]) -> list[Problem]:
    problems: list[Problem] = []
    for name, column, key, side, rule, message in PERIOD_RULES:
        pt = parsed.get(name)
        if pt is None or not pt.has(column) or key not in dates:
            continue
        value = _dates(pt.frame[column])
        bound = np.datetime64(dates[key], "ns")
        mask = ~np.isnat(value) & ((value < bound) if side == "min" else (value > bound))
        if mask.any():
            values, n_values = _examples(pt.frame[column], mask)
            if rule in WARNING_RULES:  # the rows are kept: say so, and give the date
                requirement = f"{RULES[rule]}; {key} is {dates[key].isoformat()}"
            else:
                requirement = f"{'on or after' if side == 'min' else 'on or before'} {key} {dates[key].isoformat()}"
            problems.append(_row_problem(pt, column, rule, message, mask, values, n_values, requirement=requirement))
    return problems


def _membership_problems(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    problems: list[Problem] = []
    for name, column, ref_name, ref_column, rule, message in MEMBERSHIP_RULES:
        pt, ref = parsed.get(name), parsed.get(ref_name)
        if pt is None or ref is None or not pt.has(column) or not ref.has(ref_column):
            continue
        keys = pt.frame[column]
        mask = keys.notna().to_numpy() & ~keys.isin(ref.frame[ref_column].dropna()).to_numpy()
        if mask.any():
            values, n_values = _examples(keys, mask)
            problems.append(_row_problem(pt, column, rule, message, mask, values, n_values))
    return problems


def _study_population_problems(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    sp = parsed.get("study_population")
    if sp is None or not sp.has("person_id", "case_id", "role"):
        return []
    problems: list[Problem] = []
    f = sp.frame
    person = f["person_id"]
    case_id = f["case_id"]
    is_case = (f["role"] == "case").to_numpy()
    has_ids = (person.notna() & case_id.notna()).to_numpy()
    role_known = f["role"].notna().to_numpy()

    # a case's row must have case_id == person_id
    mask = is_case & has_ids & (person.to_numpy() != case_id.to_numpy())
    if mask.any():
        shown = f.loc[mask, ["person_id", "case_id"]]
        values, n_values = _examples(shown, np.ones(len(shown), dtype=bool))
        problems.append(
            _row_problem(
                sp, "case_id", "case_id_mismatch", "case row with case_id != person_id", mask, values, n_values
            )
        )

    # every set must have a case row
    case_sets = case_id[is_case].dropna()
    mask = ~is_case & role_known & case_id.notna().to_numpy() & ~case_id.isin(case_sets).to_numpy()
    if mask.any():
        values, n_values = _examples(case_id, mask)
        problems.append(
            _row_problem(
                sp, "case_id", "set_without_case", "matched set has no case row: case_id", mask, values, n_values
            )
        )

    # every case needs at least one control
    control_sets = case_id[~is_case & role_known].dropna()
    mask = is_case & case_id.notna().to_numpy() & ~case_id.isin(control_sets).to_numpy()
    if mask.any():
        values, n_values = _examples(case_id, mask)
        problems.append(
            _row_problem(
                sp,
                "case_id",
                "case_without_controls",
                "cases with no controls, kept for the prognosis analyses: case_id",
                mask,
                values,
                n_values,
            )
        )

    als = parsed.get("als_cases")
    if als is None or not als.has("person_id"):
        return problems
    # cases of study_population <-> als_cases
    als_ids = als.frame["person_id"].dropna()
    mask = is_case & person.notna().to_numpy() & ~person.isin(als_ids).to_numpy()
    if mask.any():
        values, n_values = _examples(person, mask)
        problems.append(
            _row_problem(
                sp,
                "person_id",
                "case_not_in_als_cases",
                "case not found in als_cases: person_id",
                mask,
                values,
                n_values,
            )
        )
    case_persons = person[is_case].dropna()
    als_person = als.frame["person_id"]
    mask = als_person.notna().to_numpy() & ~als_person.isin(case_persons).to_numpy()
    if mask.any():
        values, n_values = _examples(als_person, mask)
        problems.append(
            _row_problem(
                als,
                "person_id",
                "als_case_not_in_study_population",
                "ALS case not found as a case in study_population: person_id",
                mask,
                values,
                n_values,
            )
        )

    # every member's index date is the case's diagnosis date
    if sp.has("index_date") and als.has("diagnosis_date"):
        diag = _dates(_lookup(case_id, als_person, als.frame["diagnosis_date"]))
        index = _dates(f["index_date"])
        mask = ~np.isnat(diag) & ~np.isnat(index) & (index != diag)
        if mask.any():
            values, n_values = _distinct(
                f"{_format_value(a)} (case_id {_format_value(c)} diagnosed {_format_value(b)})"
                for a, b, c in zip(index[mask], diag[mask], case_id[mask], strict=True)
            )
            problems.append(
                _row_problem(
                    sp,
                    "index_date",
                    "index_date_mismatch",
                    "index_date differs from the case's diagnosis_date:",
                    mask,
                    values,
                    n_values,
                )
            )
    return problems


def _same_day_alsfrs(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    """Several ALSFRS-R assessments of one case on one day: real register content, a warning."""
    pt = parsed.get("alsfrs")
    if pt is None or not pt.has("person_id", "visit_date") or len(pt) == 0:
        return []
    frame = pt.frame[["person_id", "visit_date"]]
    mask = frame.duplicated(keep=False).to_numpy() & frame.notna().all(axis=1).to_numpy()
    if not mask.any():
        return []
    values, n_values = _examples(frame, mask)
    message = "several assessments of one case on the same day, kept (the analysis combines them):"
    return [_row_problem(pt, "person_id, visit_date", "same_day_alsfrs", message, mask, values, n_values)]


def _sentinel_birth_problems(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    """Birth dates that are a placeholder for an unknown date (:data:`alsmeds.data.schema.SENTINEL_BIRTH_DATES`).

    An error: the analysis would take 1900-01-01 for a real birth date, and a control
    over 115 years old at the index date would move to the oldest age stratum.
    """
    pt = parsed.get("persons")
    if pt is None or not pt.has("birth_date") or len(pt) == 0:
        return []
    sentinels = np.array([np.datetime64(d, "D") for d in schema.SENTINEL_BIRTH_DATES]).astype("datetime64[ns]")
    mask = np.isin(_dates(pt.frame["birth_date"]), sentinels)
    if not mask.any():
        return []
    values, n_values = _examples(pt.frame["birth_date"], mask)
    message = "birth dates that are a placeholder for an unknown date, not a date of birth:"
    return [_row_problem(pt, "birth_date", "sentinel_birth_date", message, mask, values, n_values)]


def _alsfrs_total_problems(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    """ALSFRS-R visits whose twelve item scores are all given and do not sum to the total.

    An error: the analysis reads ``alsfrs_r_total``, and when it contradicts the items
    one of them was mis-keyed, which the data cannot tell.  A visit with an item missing
    is not checked (the items are optional), nor one with a score that is itself invalid
    (reported as such).
    """
    pt = parsed.get("alsfrs")
    columns = [*schema.ALSFRS_ITEMS, "alsfrs_r_total"]
    if pt is None or not pt.has("person_id", "visit_date", *columns) or len(pt) == 0:
        return []
    scores = np.column_stack([pt.frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in columns])
    usable = ~np.isnan(scores).any(axis=1)
    for c in columns:
        for flag in pt.flags.get(c, []):
            usable &= ~flag.mask
    items, total = scores[:, :-1].sum(axis=1), scores[:, -1]
    mask = usable & (items != total)
    if not mask.any():
        return []
    f = pt.frame
    values, n_values = _distinct(
        f"person_id {_format_value(pid)} on {_format_value(day)}: total {t:.0f}, items sum to {i:.0f}"
        for pid, day, t, i in zip(f["person_id"][mask], f["visit_date"][mask], total[mask], items[mask], strict=True)
    )
    message = "ALSFRS-R totals that differ from the sum of their twelve item scores:"
    return [_row_problem(pt, "alsfrs_r_total", "alsfrs_total_mismatch", message, mask, values, n_values)]


def _diagnosis_code_problems(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    """ICD-9 codes: accepted up to 1997 with a counted warning, an error when dated later.

    The code version is read from its shape (no ICD-version column): ICD-10 codes
    start with a letter, ICD-9 (and ICD-8) codes with a digit.  ICD-9's supplementary
    E and V codes start with a letter; they pass as ICD-10-shaped codes and are not
    psychiatric in either version.
    """
    pt = parsed.get("diagnoses")
    if pt is None or not pt.has("icd10"):
        return []
    codes = pt.frame["icd10"]
    valid = codes.notna().to_numpy()
    for flag in pt.flags.get("icd10", []):
        valid &= ~flag.mask
    if not valid.any():
        return []
    index, distinct = pd.factorize(codes)  # few distinct codes: test each once
    starts_with_digit = np.array([str(c)[:1].isdigit() for c in distinct] + [False], dtype=bool)
    icd9 = valid & starts_with_digit[index]
    if not icd9.any():
        return []
    problems: list[Problem] = []
    late = np.zeros(len(pt), dtype=bool)
    if pt.has("diagnosis_date"):
        when = _dates(pt.frame["diagnosis_date"])
        late = icd9 & ~np.isnat(when) & (when > np.datetime64(schema.ICD9_LAST_DATE, "ns"))
    if late.any():
        values, n_values = _distinct(
            f"{c!r} on {_format_value(d)}" for c, d in zip(codes[late], pt.frame["diagnosis_date"][late], strict=True)
        )
        message = "ICD-9 codes dated after ICD-9 went out of use in Sweden (1997):"
        problems.append(_row_problem(pt, "icd10", "icd9_code_after_1997", message, late, values, n_values))
    kept = icd9 & ~late
    if kept.any():
        values, n_values = _examples(codes, kept)
        message = "ICD-9 codes (before 1997), read as ICD-9:"
        problems.append(_row_problem(pt, "icd10", "icd9_code", message, kept, values, n_values))
    return problems


def _trusted_person_dates(persons: ParsedTable) -> pd.DataFrame:
    """The person dates, with a death or emigration date before the birth date set to missing.

    Such a date is reported once (``death_before_birth``, ``emigration_before_birth``) and
    not used by the checks that depend on it.
    """
    columns = [c for c in ("person_id", "birth_date", "death_date", "emigration_date") if persons.has(c)]
    frame = persons.frame[columns].copy()
    if "birth_date" in frame:
        birth = _dates(frame["birth_date"])
        for column in ("death_date", "emigration_date"):
            if column in frame:
                value = _dates(frame[column])
                frame[column] = frame[column].mask(~np.isnat(value) & ~np.isnat(birth) & (value < birth))
    return frame


#: Roles of the controls of a matched set.
_CONTROL_ROLES = tuple(r for r in schema.ROLES if r != "case")


def _cohort_problems(parsed: Mapping[str, ParsedTable]) -> list[Problem]:
    """Who may be a control at the index date, and dates that contradict each other across tables.

    Incidence-density sampling: a control of any role (population control, sibling,
    spouse) must be alive, free of ALS and born at the case's index date.  Errors: a
    control with an ALS diagnosis before the index date, a control who died before it,
    a control born after it.  A control who emigrated before the index date is a
    warning only: ``persons`` holds one emigration date and no return, and
    :mod:`alsmeds.models.cox` also reads an emigration before the diagnosis as followed
    by a return.  Dying on the index date, or being diagnosed with ALS on or after it,
    is allowed (a control may later become a case).

    Also errors: a dispensing dated after the person's death, and an outcome ``death``
    whose date differs from ``persons.death_date`` (or without one).
    """
    problems: list[Problem] = []
    persons = parsed.get("persons")
    sp = parsed.get("study_population")
    als = parsed.get("als_cases")
    have_persons = persons is not None and persons.has("person_id")
    if have_persons:
        pf = _trusted_person_dates(persons)

    if sp is not None and sp.has("person_id", "case_id", "role", "index_date"):
        f = sp.frame
        control = f["role"].isin(_CONTROL_ROLES).to_numpy()
        index = _dates(f["index_date"])
        known = control & ~np.isnat(index)

        def check(ref: np.ndarray, rule: str, message: str, label: str, before: bool = True) -> None:
            mask = known & ~np.isnat(ref) & ((ref < index) if before else (ref > index))
            if mask.any():
                values, n_values = _distinct(
                    f"person_id {_format_value(pid)} ({role} of case {_format_value(cid)}: {label} {_format_value(r)}, "
                    f"index date {_format_value(i)})"
                    for pid, role, cid, r, i in zip(
                        f["person_id"][mask], f["role"][mask], f["case_id"][mask], ref[mask], index[mask], strict=True
                    )
                )
                problems.append(_row_problem(sp, "person_id", rule, message, mask, values, n_values))

        if als is not None and als.has("person_id", "diagnosis_date"):
            diagnosed = _take_dates(als.frame["diagnosis_date"], _positions(f["person_id"], als.frame["person_id"]))
            check(
                diagnosed,
                "control_with_als_before_index",
                "controls already diagnosed with ALS before the index date:",
                "ALS diagnosed",
            )
        if have_persons:
            at = _positions(f["person_id"], pf["person_id"])
            for column, rule, message, label, before in (
                ("death_date", "control_dead_before_index", "controls who died before the index date:", "died", True),
                ("birth_date", "born_after_index_date", "controls born after the index date:", "born", False),
                (
                    "emigration_date",
                    "control_emigrated_before_index",
                    "controls who emigrated before the index date, kept:",
                    "emigrated",
                    True,
                ),
            ):
                if column in pf:
                    check(_take_dates(pf[column], at), rule, message, label, before)

    disp = parsed.get("dispensings")
    if have_persons and "death_date" in pf and disp is not None and disp.has("person_id", "dispensing_date"):
        death = _take_dates(pf["death_date"], _positions(disp.frame["person_id"], pf["person_id"]))
        when = _dates(disp.frame["dispensing_date"])
        mask = ~np.isnat(death) & ~np.isnat(when) & (when > death)
        if mask.any():
            values, n_values = _distinct(
                f"person_id {_format_value(pid)}: dispensed {_format_value(a)}, died {_format_value(b)}"
                for pid, a, b in zip(disp.frame["person_id"][mask], when[mask], death[mask], strict=True)
            )
            message = "dispensings dated after the person's death:"
            problems.append(
                _row_problem(disp, "dispensing_date", "dispensing_after_death", message, mask, values, n_values)
            )

    out = parsed.get("outcomes")
    if have_persons and "death_date" in pf and out is not None and out.has("person_id", "event", "event_date"):
        of = out.frame
        at = _positions(of["person_id"], pf["person_id"])
        death = _take_dates(pf["death_date"], at)
        # an invalid death_date is reported as such (not_a_date, death_before_birth), not again as a conflict;
        # an unknown person as unknown_person
        invalid = pf["death_date"].isna().to_numpy() & ~persons.missing["death_date"]
        skip = (at < 0) | invalid[np.maximum(at, 0)] if len(invalid) else np.ones(len(at), dtype=bool)
        when = _dates(of["event_date"])
        mask = (of["event"] == "death").to_numpy() & ~skip & ~np.isnat(when) & (np.isnat(death) | (when != death))
        if mask.any():
            values, n_values = _distinct(
                f"person_id {_format_value(pid)}: outcome death {_format_value(a)}, "
                f"persons death_date {_format_value(b)}"
                for pid, a, b in zip(of["person_id"][mask], when[mask], death[mask], strict=True)
            )
            message = "outcome deaths that disagree with persons.death_date:"
            problems.append(_row_problem(out, "event_date", "death_date_conflict", message, mask, values, n_values))
    return problems


def check_tables(
    tables: Mapping[str, pd.DataFrame],
    metadata: Mapping[str, Any] | None,
    files: Mapping[str, str] | None = None,
    rules: bool = True,
    already_reported: Iterable[str] = (),
    lines: Mapping[str, np.ndarray | None] | None = None,
) -> tuple[list[Problem], dict[str, ParsedTable], dict[str, date]]:
    """Parse the tables and (optionally) check every rule; the engine behind the public functions.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Raw tables by name; tables not in the schema are ignored.
    metadata : mapping or None
        The ``extract.json`` object (None: not available; no metadata problems raised).
    files : mapping of str to str, optional
        File name of each table for reports (default: the table name, without file
        line numbers).
    rules : bool
        False parses only (for :func:`alsmeds.data.registry.read_registry` with ``validate=False``).
    already_reported : iterable of str
        Tables absent from ``tables`` whose file problem is already reported
        (doubled or unreadable files), so that they are not reported missing.
    lines : mapping of str to numpy.ndarray or None, optional
        The file line of each row, by table (:attr:`alsmeds.data.read.RawRegistry.lines`).

    Returns
    -------
    problems : list of Problem
        Errors and warnings (:attr:`Problem.severity`).
    parsed : dict of str to ParsedTable
    dates : dict of str to datetime.date
    """
    files = dict(files or {})
    lines = dict(lines or {})
    already_reported = set(already_reported)
    dates, problems = parse_metadata(metadata)
    parsed: dict[str, ParsedTable] = {}
    for name, table in schema.TABLES.items():
        file = files.get(name, name)
        if name not in tables:
            if name not in already_reported:
                problems.append(
                    _file_problem(
                        name,
                        file,
                        "missing_table",
                        f"table file is missing (looked for {name}.csv and {name}.parquet)",
                    )
                )
            continue
        raw = tables[name]
        pt = parse_table(raw, table, file, lines.get(name))
        parsed[name] = pt
        if not rules:
            continue
        dup = pd.Index(raw.columns)[pd.Index(raw.columns).duplicated()].unique()
        for c in dup:
            problems.append(
                _file_problem(name, file, "duplicate_column", f"column '{c}' appears more than once", column=str(c))
            )
        problems += _column_problems(pt, table)
        problems += _key_problems(pt, table)
    if rules:
        problems += _period_problems(parsed, dates)
        problems += _membership_problems(parsed)
        problems += _study_population_problems(parsed)
        problems += _date_order_problems(parsed)
        problems += _cohort_problems(parsed)
        problems += _same_day_alsfrs(parsed)
        problems += _diagnosis_code_problems(parsed)
        problems += _sentinel_birth_problems(parsed)
        problems += _alsfrs_total_problems(parsed)
    return problems, parsed, dates


def validate_tables(
    tables: Mapping[str, pd.DataFrame],
    metadata: Mapping[str, Any] | None,
    files: Mapping[str, str] | None = None,
    include_warnings: bool = False,
) -> list[Problem]:
    """Check in-memory tables against the data contract.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Tables by name, as raw strings (what a CSV holds) or typed columns.
    metadata : mapping
        The ``extract.json`` object: the study dates as ISO strings or dates.
    files : mapping of str to str, optional
        File name of each table, used in the reports (default: the table name).  A
        name ending in ``.csv`` makes reports give file line numbers too (row + 2).
    include_warnings : bool, default False
        Also return the warnings (:attr:`Problem.severity` ``"warning"``), after the
        errors.

    Returns
    -------
    list of Problem
        Every error found, grouped by table; empty if the tables are valid.
    """
    problems, _, _ = check_tables(tables, metadata if metadata is not None else {}, files)
    errors = _order(p for p in problems if not p.is_warning)
    if include_warnings:
        return errors + _order(p for p in problems if p.is_warning)
    return errors


def validate_registry(data_dir: str | Path) -> ValidationReport:
    """Check a register extract folder against the data contract.

    Parameters
    ----------
    data_dir : str or pathlib.Path
        Folder with one ``<name>.csv`` or ``<name>.parquet`` per table of
        :data:`alsmeds.data.schema.TABLES` and ``extract.json``.

    Returns
    -------
    ValidationReport
        Files read, row counts, study dates and warnings.

    Raises
    ------
    RegistryValidationError
        With every error found, if there is any (and the warnings).
    """
    from alsmeds.data.read import load_raw  # io imports this module

    raw = load_raw(data_dir)
    problems, parsed, dates = check_tables(
        raw.tables, raw.metadata, raw.display_files(), already_reported=raw.files, lines=raw.lines
    )
    problems = _order(raw.problems + problems)
    errors = [p for p in problems if not p.is_warning]
    warnings_found = [p for p in problems if p.is_warning]
    if errors:
        raise RegistryValidationError(errors, raw.data_dir, warnings=warnings_found)
    return ValidationReport(
        data_dir=raw.data_dir,
        files={name: raw.files[name] for name in parsed},
        row_counts={name: len(pt) for name, pt in parsed.items()},
        metadata=dates,
        warnings=warnings_found,
    )


def _as_text(raw: pd.Series) -> pd.Series:
    """Every non-missing value as its text (for values that cannot be parsed as they are)."""
    values = raw.to_numpy(dtype=object)
    text = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]
    return pd.Series(text, index=raw.index, dtype=object, name=raw.name)


def _format_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return "(empty)"
    if isinstance(v, pd.Timestamp | datetime | np.datetime64):
        return "(empty)" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")
    if isinstance(v, str):
        if len(v) > MAX_VALUE_CHARS:  # a runaway field (megabytes of text) is shown cut
            return repr(v[:MAX_VALUE_CHARS]) + f"... ({len(v):,} characters)"
        return repr(v)
    if isinstance(v, np.generic):
        v = v.item()
    return str(v)


def _examples(values: pd.Series | pd.DataFrame, mask: np.ndarray) -> tuple[list[str], int]:
    """Distinct offending values (formatted, first MAX_SHOWN + 1) and how many there are."""
    sub = values[mask]
    if isinstance(sub, pd.DataFrame):
        uniq = sub.drop_duplicates()
        shown = [
            ", ".join(f"{c}={_format_value(v)}" for c, v in zip(uniq.columns, row, strict=True))
            for row in uniq.head(MAX_SHOWN + 1).itertuples(index=False)
        ]
        return [f"({s})" for s in shown], len(uniq)
    if isinstance(sub.dtype, pd.DatetimeTZDtype):
        # wall-clock time in the stored zone: pandas cannot turn a far date such as 9999-12-31 in a
        # time zone into Timestamp objects (it crashes), and the date shown is the one checked
        sub = sub.dt.tz_localize(None)
    uniq = pd.unique(sub.to_numpy(dtype=object) if sub.dtype == object else sub.to_numpy())
    return [_format_value(v) for v in uniq[: MAX_SHOWN + 1]], len(uniq)


def _distinct(texts: Iterable[str]) -> tuple[list[str], int]:
    """Distinct preformatted values in order (first MAX_SHOWN + 1) and how many there are."""
    uniq = list(dict.fromkeys(texts))
    return uniq[: MAX_SHOWN + 1], len(uniq)


def _row_problem(
    pt: ParsedTable,  # noqa: F821 - alsmeds.data.validate.ParsedTable (annotation only)
    column: str | None,
    rule: str,
    message: str,
    mask: np.ndarray,
    values: list[str] | None = None,
    n_values: int | None = None,
    requirement: str | None = None,
) -> Problem:
    rows = np.flatnonzero(mask)
    if values is None:
        values, n_values = [], 0
    stored = rows[:MAX_ROWS_STORED]
    return Problem(
        table=pt.name,
        column=column,
        rule=rule,
        rows=stored.tolist(),
        message=message,
        values=values,
        n_rows=len(rows),
        n_values=n_values if n_values is not None else len(values),
        file=pt.file,
        requirement=requirement if requirement is not None else RULES[rule],
        lines=pt.record_lines[stored].tolist() if pt.record_lines is not None else [],
        severity=_severity(rule),
    )
