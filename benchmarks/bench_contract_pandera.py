"""Benchmark: the per-column input contract as pandera schemas, against alsmeds' own parser.

Evaluates an open suggestion (the per-column contract as pandera ``DataFrameSchema``\\ s).
The schemas are generated from the :class:`~alsmeds.data.schema.Column` definitions of
:mod:`alsmeds.data.schema`, not copied by hand:

* ``id`` -> int64, ``int`` -> Int64, ``float`` -> float64, ``date`` -> datetime64 parsed with
  ``format="%Y-%m-%d"``, all with ``coerce=True``; ``category`` -> ``Check.isin``; a pattern ->
  ``Check.str_matches``; minimum/maximum -> ``Check.in_range``; ``nullable``; ``required``; the
  table key -> ``unique=`` (the same per-table layer as ours: parse, value rules, missing values, key);
* one DataFrame-level ``Parser`` trims every value, turns empty fields into missing values and
  upper-cases coded (pattern) columns, which is what our parser does before it checks.

Both sides get the same frames: the CSV files read as text by
:func:`alsmeds.data.read.read_csv_checked` (``string[pyarrow]`` columns), untimed.  Timed:

* ours, per column: :func:`alsmeds.data.validate.parse_table` plus the column and key problems
  (the layer pandera would replace), and the whole :func:`~alsmeds.data.validate.validate_tables`
  (every table and every cross-table rule) for scale;
* pandera: ``schema.validate(frame, lazy=True)`` (a ``SchemaErrors`` is caught and counted).

Then copies of the committed tables with a few broken values show which failure information
each side gives (row index, and so file lines; messages), and single-value probes show where the
two contracts disagree.

Needs pandera, which is not a project dependency: the script prints a message and exits 0
without it (``make bench`` runs in the project venv).  Run it in a venv with pandera, e.g.
one beside the checkout
(``python3.11 -m venv ../pandera-venv``, ``../pandera-venv/bin/pip install -r requirements.txt pandera``,
``../pandera-venv/bin/pip install --no-deps -e .``), then
``../pandera-venv/bin/python benchmarks/bench_contract_pandera.py [--runs 7] [--large-runs 3]
[--large-scale 100]`` (``--large-scale 0`` skips the large table).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

try:
    import pandera
    import pandera.pandas as pa
    from pandera.engines import pandas_engine
except ImportError:
    print("bench_contract_pandera.py: skipped, pandera is not installed in this environment (it is not a")
    print("project dependency); run it with a venv that has pandera, see the module docstring.")
    sys.exit(0)

import numpy as np
import pandas as pd
from timing import timed  # benchmarks/timing.py

from alsmeds.data import schema
from alsmeds.data.read import read_csv_checked
from alsmeds.data.schema import Column, Table
from alsmeds.data.validate import _column_problems, _key_problems, parse_table, validate_tables
from alsmeds.data.write import write_csv_atomic

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
TABLES = ("dispensings", "persons", "study_population", "alsfrs", "als_cases", "diagnoses", "outcomes")
ARROW_TEXT = pd.StringDtype("pyarrow")
ISO_DATE = pandas_engine.DateTime(to_datetime_kwargs={"format": "%Y-%m-%d"})


# ----------------------------------------------------------------------------- schema generation
def _pandera_column(col: Column) -> pa.Column:
    checks = []
    if col.allowed is not None:
        checks.append(pa.Check.isin(list(col.allowed)))
    if col.pattern is not None:
        checks.append(pa.Check.str_matches(col.pattern))
    if col.minimum is not None or col.maximum is not None:
        lo = -np.inf if col.minimum is None else col.minimum
        hi = np.inf if col.maximum is None else col.maximum
        checks.append(pa.Check.in_range(lo, hi))
    dtype = {
        "id": "int64",
        "int": "Int64" if col.nullable else "int64",
        "float": "float64",
        "date": ISO_DATE,
        "category": ARROW_TEXT,
        "str": ARROW_TEXT,
    }[col.kind]
    coerce = col.kind in ("id", "int", "float", "date")
    return pa.Column(dtype, checks=checks, nullable=col.nullable, required=col.required, coerce=coerce)


def _prepare(table: Table):
    """The text clean-up our parser does first: trim, empty -> missing, coded columns upper-cased."""
    upper = {c.name for c in table.columns if c.pattern is not None}
    names = {c.name for c in table.columns}

    def parse(df: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for name in df.columns:
            s = df[name]
            if name in names and (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
                s = s.str.strip()
                s = s.mask(s == "")
                if name in upper:
                    s = s.str.upper()
            out[name] = s
        return pd.DataFrame(out, index=df.index)

    return parse


def pandera_schema(table: Table) -> pa.DataFrameSchema:
    """A pandera DataFrameSchema generated from the per-column contract of one table."""
    return pa.DataFrameSchema(
        {c.name: _pandera_column(c) for c in table.columns},
        unique=list(table.key) or None,
        report_duplicates="all",
        parsers=pa.Parser(_prepare(table)),
        name=table.name,
    )


# ----------------------------------------------------------------------------- the two validators
def run_pandera(sch: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame | None:
    """Failure cases of a lazy validation, or None when the frame passes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sch.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            return err.failure_cases
    return None


def run_ours(frame: pd.DataFrame, table: Table, file: str, lines: np.ndarray | None):
    """Our per-table layer: parse, value rules, missing values, key."""
    pt = parse_table(frame, table, file, lines)
    return _column_problems(pt, table) + _key_problems(pt, table)


def read_committed() -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray | None]]:
    frames, lines = {}, {}
    for name in TABLES:
        frames[name], lines[name] = read_csv_checked(DATA / f"{name}.csv", name)
    return frames, lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def bench_tables(frames, lines, runs: int, label: str) -> list[tuple]:
    rows = []
    for name, frame in frames.items():
        table = schema.TABLES[name]
        sch = pandera_schema(table)
        t_ours, problems = timed(lambda f=frame, t=table, n=name: run_ours(f, t, f"{n}.csv", lines.get(n)), runs)
        t_pa, failures = timed(lambda f=frame, s=sch: run_pandera(s, f), runs)
        n_fail = 0 if failures is None else len(failures)
        rows.append((label, name, len(frame), _ms(t_ours), _ms(t_pa), f"{t_pa / t_ours:.1f}x", len(problems), n_fail))
    return rows


def print_table(header: tuple, rows: list[tuple]) -> None:
    text = [tuple(str(v) for v in r) for r in [header, *rows]]
    widths = [max(len(r[i]) for r in text) for i in range(len(header))]
    for k, r in enumerate(text):
        print("  ".join(v.rjust(w) if i >= 2 else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))))
        if k == 0:
            print("  ".join("-" * w for w in widths))


# ----------------------------------------------------------------------------- failure information
BROKEN = (  # (table, row, column, value, what)
    ("dispensings", 10, "atc", "N05B1", "malformed ATC code"),
    ("alsfrs", 5, "alsfrs_r_total", "49", "ALSFRS-R total out of range"),
    ("persons", 7, "birth_date", "1950-02-30", "impossible date"),
    ("study_population", 3, "person_id", "", "missing id"),
)

#: One changed value per probe, on a fresh copy of the committed table.
PROBES = (
    ("study_population", "person_id", "  100001", "id with surrounding spaces"),
    ("study_population", "person_id", "100001.0", "id written as 100001.0"),
    ("persons", "birth_date", "1950-1-5", "date not zero-padded"),
    ("persons", "birth_date", "1950/01/05", "date with slashes"),
    ("persons", "death_date", "NA", "NA marker in a nullable date"),
    ("alsfrs", "alsfrs_r_total", "30.0", "integer written as 30.0"),
    ("alsfrs", "alsfrs_r_total", "x", "unparseable integer"),
    ("dispensings", "atc", " n05ba01 ", "lower-case ATC code with spaces"),
    ("diagnoses", "icd10", "296B", "ICD-9 code with Swedish letter"),
    ("persons", "sex", "Male", "category in another case"),
)


def _line(row: int, lines: np.ndarray | None) -> int:
    return int(lines[row]) if lines is not None else row + 2


def show_broken(frames, lines) -> None:
    broken = {name: frames[name].copy() for name in {b[0] for b in BROKEN}}
    for name, row, column, value, _ in BROKEN:
        broken[name].loc[row, column] = value
    # A second bad value in the same column as an out-of-range one: does pandera still see the range?
    broken["alsfrs"].loc[6, "alsfrs_r_total"] = "x"
    print("\nBroken copies: ", "; ".join(f"{n} row {r} {c}={v!r} ({w})" for n, r, c, v, w in BROKEN))
    print("plus alsfrs row 6 alsfrs_r_total='x' (unparseable next to the out-of-range 49 of row 5)\n")
    for name, frame in broken.items():
        table = schema.TABLES[name]
        print(f"== {name}.csv")
        print("ours:")
        for p in run_ours(frame, table, f"{name}.csv", lines.get(name)):
            print("   ", p)
        sch = pandera_schema(table)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                sch.validate(frame, lazy=True)
                print("pandera: passed")
                continue
            except pa.errors.SchemaErrors as err:
                fc, message = err.failure_cases, str(err)
        print(f"pandera failure_cases ({len(fc)} rows; 'index' is the 0-based row, file line = our mapping):")
        for r in fc.itertuples(index=False):
            idx = r.index
            where = f"row {int(idx)} (file line {_line(int(idx), lines.get(name))})" if pd.notna(idx) else "no row"
            case = str(r.failure_case)
            case = case if len(case) < 60 else case[:57] + "..."
            print(f"    {r.schema_context:<15} {str(r.column):<15} {str(r.check)[:55]:<55} {case!r:<20} {where}")
        first = [ln for ln in message.splitlines() if '"error"' in ln][:3]
        print("pandera str(SchemaErrors), first 'error' entries:")
        for ln in first:
            ln = ln.strip()
            print("   ", ln if len(ln) < 220 else ln[:217] + "...")
        print()


def show_probes(frames, lines) -> None:
    rows = []
    for name, column, value, what in PROBES:
        frame = frames[name].copy()
        frame.loc[2, column] = value
        table = schema.TABLES[name]
        ours = sorted({p.rule for p in run_ours(frame, table, f"{name}.csv", lines.get(name)) if 2 in p.rows})
        fc = run_pandera(pandera_schema(table), frame)
        theirs = [] if fc is None else sorted({str(c) for c in fc.loc[fc["index"] == 2, "check"]})
        rows.append(
            (what, f"{name}.{column}", repr(value), ", ".join(ours) or "accepted", ", ".join(theirs) or "accepted")
        )
    print("Single-value probes (row 2 changed): what each side reports for that row")
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in [("probe", "column", "value", "ours", "pandera"), *rows]:
        print(f"  {r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:<{w[3]}}  {r[4]}")


# ----------------------------------------------------------------------------- main
def large_dispensings(scale: float) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The dispensings of a generated registry, written as CSV and read back as text (untimed)."""
    from alsmeds.simulate import generate

    disp = generate(seed=1, scale=scale, truth_scale=0).tables["dispensings"]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv_atomic(Path(tmp) / "dispensings.csv", disp)
        del disp
        return read_csv_checked(path, "dispensings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--large-runs", type=int, default=3)
    parser.add_argument("--large-scale", type=float, default=100)
    args = parser.parse_args()

    python = sys.version.split()[0]
    print(f"pandera {pandera.__version__}, pandas {pd.__version__}, numpy {np.__version__}, Python {python}")
    frames, lines = read_committed()
    rows = bench_tables(frames, lines, args.runs, "1x")
    metadata = {k: v.isoformat() for k, v in schema.EXTRACT_METADATA_DEFAULTS.items()}
    files = {n: f"{n}.csv" for n in frames}
    t_all, problems = timed(lambda: validate_tables(frames, metadata, files), args.runs)
    n_rows = sum(len(f) for f in frames.values())
    rows.append(("1x", "all 7, validate_tables (every rule)", n_rows, _ms(t_all), "", "", len(problems), ""))
    if args.large_scale > 0:
        frame, large_lines = large_dispensings(args.large_scale)
        rows += bench_tables(
            {"dispensings": frame}, {"dispensings": large_lines}, args.large_runs, f"{args.large_scale:g}x"
        )
        del frame
    print(f"\nPer-table validation of text frames, median of {args.runs} runs (large: {args.large_runs}), ms")
    print_table(
        ("scale", "table", "rows", "ours ms", "pandera ms", "pandera/ours", "our problems", "pandera fails"), rows
    )
    show_broken(frames, lines)
    show_probes(frames, lines)


if __name__ == "__main__":
    main()
