"""How precise written results are, and how two runs' results are compared.

Floating-point results are not byte-identical across machines: the BLAS kernel chosen
for the CPU and the number of threads change the order of summation, which moves the
last bits of every sum.  The bundle's solvers converge to their optimum within rounding
(about 1e-12 relative), so a machine changes a result only at that level.  Two rules
follow, and this module holds both:

* **Writing.**  Every float in a results file (JSON and CSV) and in ``truth.json`` is
  written with :data:`SIGNIFICANT_DIGITS` significant digits.  On one machine a rerun
  therefore writes the same bytes, and across machines at most the last written digit
  moves (when the exact value happens to lie next to a rounding boundary).
* **Comparing.**  What comes from random streams and integer or date arithmetic (the
  simulated tables, counts, dates, labels) must be identical.  Floats are equal when
  ``|a - b| <= RTOL * max(|a|, |b|) + ATOL``: :data:`RTOL` is two units of the last
  written digit, :data:`ATOL` absorbs quantities that are zero in exact arithmetic
  (a mean of residuals, a difference of equal numbers) and is far below any standard
  error in the bundle.

:func:`compare_values` compares two JSON-like objects, :func:`compare_frames` two tables
and :func:`compare_folders` two folders of results; each difference beyond tolerance is
reported with where it is and by how much.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Significant digits of every float written to a results file or truth.json.
SIGNIFICANT_DIGITS = 8
#: Relative tolerance of a float comparison: two units in the last written digit.
RTOL = 2 * 10.0 ** (1 - SIGNIFICANT_DIGITS)
#: Absolute tolerance of a float comparison, for values that are zero in exact arithmetic.
ATOL = 1e-9
#: printf-style format of floats in results CSV files.
CSV_FLOAT_FORMAT = f"%.{SIGNIFICANT_DIGITS}g"
#: File types :func:`compare_folders` compares by content; others are listed as not compared.
COMPARED_SUFFIXES = (".json", ".csv", ".parquet")


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """Round a float to ``digits`` significant digits (NaN and infinities unchanged).

    The result is the float nearest to the decimal ``f"{value:.{digits}g}"``, so its
    ``repr`` (which JSON writes) has at most ``digits`` significant digits.
    """
    value = float(value)
    if not math.isfinite(value) or value == 0.0:
        return value + 0.0  # also turns -0.0 into 0.0
    return float(f"{value:.{digits}g}") + 0.0


def round_floats(obj: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """Return ``obj`` with every float (also numpy floats, inside dicts, lists and tuples) rounded.

    Parameters
    ----------
    obj : object
        A JSON-like structure.
    digits : int
        Significant digits kept (see :func:`round_significant`).

    Returns
    -------
    object
        A copy with rounded floats; other values unchanged.
    """
    if isinstance(obj, bool | np.bool_):
        return obj
    if isinstance(obj, float | np.floating):
        return round_significant(float(obj), digits)
    if isinstance(obj, Mapping):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [round_floats(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return round_floats(obj.tolist(), digits)
    return obj


def floats_close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """True when two floats agree within the tolerance (NaN equals NaN, infinities must match)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + atol


@dataclass(frozen=True)
class Difference:
    """One value that differs between two results.

    Attributes
    ----------
    where : str
        File and location (JSON path, or row and column).
    expected, actual : object
        The committed and the fresh value.
    """

    where: str
    expected: Any
    actual: Any

    @property
    def abs_diff(self) -> float | None:
        """``|actual - expected|`` for two numbers, else None."""
        if _is_number(self.expected) and _is_number(self.actual):
            return abs(float(self.actual) - float(self.expected))
        return None

    def __str__(self) -> str:
        diff = self.abs_diff
        if diff is None:
            return f"{self.where}: expected {self.expected!r}, got {self.actual!r}"
        scale = max(abs(float(self.expected)), abs(float(self.actual)))
        rel = f", relative {diff / scale:.2g}" if scale > 0 else ""
        return f"{self.where}: expected {self.expected!r}, got {self.actual!r} (difference {diff:.3g}{rel})"


@dataclass
class Comparison:
    """The outcome of comparing fresh results with reference results.

    Attributes
    ----------
    differences : list of Difference
        Values beyond tolerance (or of different type or structure).
    n_values : int
        Values compared.
    n_within_tolerance : int
        Floats that differ, but within tolerance.
    max_relative : float
        Largest relative difference among the floats within tolerance.
    not_compared : list of str
        Files that were present but not compared (figures and other binary files).
    """

    differences: list[Difference] = field(default_factory=list)
    n_values: int = 0
    n_within_tolerance: int = 0
    max_relative: float = 0.0
    not_compared: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no value differs beyond tolerance."""
        return not self.differences

    def merge(self, other: Comparison) -> None:
        """Add another comparison's counts and differences to this one."""
        self.differences.extend(other.differences)
        self.n_values += other.n_values
        self.n_within_tolerance += other.n_within_tolerance
        self.max_relative = max(self.max_relative, other.max_relative)
        self.not_compared.extend(other.not_compared)

    def summary(self) -> str:
        """One line: how many values were compared and how close they are."""
        text = f"{self.n_values:,} values compared"
        if self.n_within_tolerance:
            text += (
                f"; {self.n_within_tolerance:,} float(s) differ within tolerance "
                f"(largest relative difference {self.max_relative:.1g}; tolerance {RTOL:.0e} relative + {ATOL:.0e})"
            )
        else:
            text += "; all identical"
        if self.differences:
            text += f"; {len(self.differences):,} beyond tolerance"
        return text

    def report(self, limit: int = 20) -> str:
        """The summary, then up to ``limit`` differences, one per line."""
        lines = [self.summary()]
        lines += [f"  - {d}" for d in self.differences[:limit]]
        if len(self.differences) > limit:
            lines.append(f"  ... and {len(self.differences) - limit:,} more")
        return "\n".join(lines)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool | np.bool_)


def _is_float(x: Any) -> bool:
    return isinstance(x, float | np.floating)


def _compare_scalar(where: str, expected: Any, actual: Any, out: Comparison, rtol: float, atol: float) -> None:
    out.n_values += 1
    if _is_number(expected) and _is_number(actual) and (_is_float(expected) or _is_float(actual)):
        a, b = float(expected), float(actual)
        if a == b or (math.isnan(a) and math.isnan(b)):
            return
        if floats_close(a, b, rtol, atol):
            out.n_within_tolerance += 1
            scale = max(abs(a), abs(b))
            out.max_relative = max(out.max_relative, abs(a - b) / scale if scale else 0.0)
            return
        out.differences.append(Difference(where, expected, actual))
        return
    if type(expected) is not type(actual) and not (_is_number(expected) and _is_number(actual)):
        out.differences.append(Difference(where, expected, actual))
    elif expected != actual:
        out.differences.append(Difference(where, expected, actual))


def compare_values(
    expected: Any, actual: Any, where: str = "", rtol: float = RTOL, atol: float = ATOL
) -> Comparison:
    """Compare two JSON-like objects: structure, strings, integers and booleans exactly, floats with tolerance.

    Parameters
    ----------
    expected, actual : object
        Reference and fresh values (dicts, lists, scalars).
    where : str
        Prefix of the locations reported (a file name).
    rtol, atol : float
        Float tolerance (see the module docstring).

    Returns
    -------
    Comparison
    """
    out = Comparison()

    def walk(path: str, a: Any, b: Any) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in sorted(set(a) | set(b), key=str):
                sub = f"{path}.{key}" if path else str(key)
                if key not in a or key not in b:
                    out.n_values += 1
                    missing = "<missing>"
                    out.differences.append(Difference(sub, a.get(key, missing), b.get(key, missing)))
                else:
                    walk(sub, a[key], b[key])
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
            if len(a) != len(b):
                out.n_values += 1
                out.differences.append(Difference(f"{path} (length)", len(a), len(b)))
                return
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(f"{path}[{i}]", x, y)
        else:
            _compare_scalar(path, a, b, out, rtol, atol)

    walk(where, expected, actual)
    return out


def compare_frames(
    expected: pd.DataFrame, actual: pd.DataFrame, where: str = "", rtol: float = RTOL, atol: float = ATOL
) -> Comparison:
    """Compare two tables cell by cell: same columns and rows, floats with tolerance, the rest exactly.

    Parameters
    ----------
    expected, actual : pandas.DataFrame
    where : str
        Prefix of the locations reported (a file name).
    rtol, atol : float

    Returns
    -------
    Comparison
        Locations are ``<where> row <i>, column <name>`` (rows counted from 0 after the header).
    """
    out = Comparison()
    if list(expected.columns) != list(actual.columns):
        out.n_values += 1
        out.differences.append(Difference(f"{where} (columns)", list(expected.columns), list(actual.columns)))
        return out
    if len(expected) != len(actual):
        out.n_values += 1
        out.differences.append(Difference(f"{where} (rows)", len(expected), len(actual)))
        return out
    for column in expected.columns:
        a = expected[column].reset_index(drop=True)
        b = actual[column].reset_index(drop=True)
        for i, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
            x = None if _missing(x) else x
            y = None if _missing(y) else y
            _compare_scalar(f"{where} row {i}, column {column}", x, y, out, rtol, atol)
    return out


def _missing(x: Any) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _read_csv_for_comparison(path: Path) -> pd.DataFrame:
    # Everything as text first, so that integer columns stay integers and labels stay labels;
    # a column is numeric only where every non-empty value parses.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in frame.columns:
        values = frame[column]
        non_empty = values[values != ""]
        numbers = pd.to_numeric(non_empty, errors="coerce")
        if len(non_empty) and numbers.notna().all():
            is_int = non_empty.str.fullmatch(r"[+-]?\d+").all()
            converted = pd.to_numeric(values.replace("", np.nan), errors="coerce")
            frame[column] = converted.astype("Int64") if is_int else converted.astype(float)
    return frame


def compare_files(expected: Path, actual: Path, rtol: float = RTOL, atol: float = ATOL) -> Comparison:
    """Compare two results files of the same type (JSON, CSV or Parquet) by content.

    Parameters
    ----------
    expected, actual : pathlib.Path
    rtol, atol : float

    Returns
    -------
    Comparison
    """
    expected, actual = Path(expected), Path(actual)
    name = expected.name
    suffix = expected.suffix
    if suffix == ".json":
        return compare_values(json.loads(expected.read_text()), json.loads(actual.read_text()), name, rtol, atol)
    if suffix == ".csv":
        return compare_frames(_read_csv_for_comparison(expected), _read_csv_for_comparison(actual), name, rtol, atol)
    if suffix == ".parquet":
        return compare_frames(pd.read_parquet(expected), pd.read_parquet(actual), name, rtol, atol)
    out = Comparison()
    out.not_compared.append(name)
    return out


def compare_folders(
    expected_dir: Path | str,
    actual_dir: Path | str,
    names: Iterable[str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> Comparison:
    """Compare every results file of a reference folder with its counterpart in a fresh folder.

    Parameters
    ----------
    expected_dir : path-like
        The reference results (e.g. the committed ``results/``).
    actual_dir : path-like
        The fresh results of a rerun.
    names : iterable of str, optional
        File names to compare; default every visible ``.json``, ``.csv`` and ``.parquet``
        file of ``expected_dir``.
    rtol, atol : float

    Returns
    -------
    Comparison
        A file missing from ``actual_dir`` is a difference; other file types are listed in
        ``not_compared``.
    """
    expected_dir, actual_dir = Path(expected_dir), Path(actual_dir)
    if names is None:
        names = sorted(
            p.name
            for p in expected_dir.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix in COMPARED_SUFFIXES
        )
    out = Comparison()
    for name in names:
        fresh = actual_dir / name
        if not fresh.is_file():
            out.n_values += 1
            out.differences.append(Difference(name, "present", "<missing>"))
            continue
        out.merge(compare_files(expected_dir / name, fresh, rtol, atol))
    return out
