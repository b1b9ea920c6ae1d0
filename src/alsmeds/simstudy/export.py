"""The simulation study's replicates in the tidy layout of R's rsimsum and the INTEREST app.

rsimsum (Gasparini, *JOSS* 2018;3:739; ``rsimsum::simsum``) and the INTEREST Shiny app
(Gasparini, Morris & Crowther, *Int J Epidemiol* 2021;50:1769) read a simulation study in
"long" form: one row per replicate and estimator, with the replicate's estimate, its standard
error and the true value, and columns that say which estimator (``by`` factors, or a
``methodvar``).  :func:`tidy_estimates` turns the stored replicates
(:func:`alsmeds.reporting.simstudy.read_stored_replicates`, ``results/simstudy_estimates.csv.gz``)
into that layout, :func:`write_tidy_estimates` writes it as CSV::

    python -m alsmeds.simstudy export --format rsimsum OUT.csv [--estimates FILE]

Columns (:data:`TIDY_COLUMNS`, in this order):

* ``i``: the replicate (the bundle's ``rep``, 0-based) and ``seed``: its data's seed;
* ``family``, ``comparison``, ``model``, ``exposure``, ``stratum``, ``term``: the estimator
  (:data:`alsmeds.reporting.simstudy.ESTIMATOR_KEYS`; ``by`` in rsimsum: every combination that
  occurs is one estimator); ``comparison`` is empty where the estimator has none (Cox, mixed
  and joint models), as in the bundle's own files;
* ``b``, ``se``: the estimate and its model SE, on the estimator's scale (log OR, log HR,
  points per month, log HR per point);
* ``true``: the estimand the bundle judges the estimator against
  (:func:`alsmeds.reporting.simstudy.estimand_table`, the same table
  :func:`alsmeds.reporting.simstudy.performance_measures` uses for
  ``results/simstudy_performance.csv``);
* ``reason``: empty for a usable estimate, otherwise why ``b`` and ``se`` are missing.

Only the estimators with an estimand are exported (93 in the committed study): rsimsum needs a
true value, and the others (crude models, covariates, intercepts, variance components) are not
judged by the bundle either.

Missing estimates, as rsimsum expects them: every estimator has one row for every replicate
that was run, and ``b`` and ``se`` are both ``NA`` (written ``NA``) where the bundle leaves the
replicate out of that estimator's measures: the model was not estimable (``reason``: the
bundle's, e.g. ``no exposed control``), the estimate or SE is not finite (``reason``:
``estimate or SE not finite``), or the whole replicate failed (one row per estimator with
``reason`` ``replicate failed: <error>``, the first line of the stored error).  rsimsum
(``control = list(na.rm = TRUE)``, its default) then counts ``nsim`` as the rows with both, as
the bundle's ``n_estimable``; the bundle's ``n_reps`` is the number of distinct ``i`` less the
failed replicates.

The file is deterministic: rows in the order of the estimand table (that of
``results/simstudy_performance.csv``), then by ``i``; numbers with 17 significant digits
(``%.17g``), so R and pandas read back the doubles the bundle computed with; ``"\\n"`` line ends,
UTF-8.  ``src/alsmeds/reference/R/rsimsum.R`` runs rsimsum on it and
``tests/test_simstudy_export.py`` checks that rsimsum's measures are the bundle's.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds import paths
from alsmeds.data.write import write_text_atomic
from alsmeds.reporting.simstudy import ESTIMATOR_KEYS, estimand_table, read_stored_replicates, with_robust_estimators
from alsmeds.truth import Truth

#: Columns of :func:`tidy_estimates`, in order, with their meaning.
TIDY_COLUMNS = {
    "i": "replicate (the bundle's rep, 0-based)",
    "seed": "integer seed of the replicate's synthetic data",
    "family": "risk (conditional logistic), cox, mixed (ALSFRS-R mixed model) or joint (joint model)",
    "comparison": "population, sibling or spouse controls (risk models); empty otherwise",
    "model": "per_class / mutual (risk, Cox); the mixed or joint model",
    "exposure": "lagged or windows (risk); ever (prediagnostic use)",
    "stratum": "all, or the case's age stratum <65 / 65+",
    "term": "model term",
    "b": "estimate (NA when the replicate gave none)",
    "se": "its model standard error (NA when b is NA)",
    "true": "the estimand (alsmeds.reporting.simstudy.estimand_table)",
    "reason": "empty for a usable estimate; why b and se are NA otherwise",
}

#: The ``by`` factors of rsimsum that identify an estimator.
BY = list(ESTIMATOR_KEYS)

#: Format of the numbers in the CSV (17 significant digits: the exact double).
FLOAT_FORMAT = "%.17g"

#: Formats :func:`write_tidy_estimates` can write.
FORMATS = ("rsimsum",)

_NOT_FINITE = "estimate or SE not finite"


def _failure_reason(reason: Any) -> str:
    first = str(reason).strip().splitlines()[0] if str(reason).strip() else "no error recorded"
    return f"replicate failed: {first}"


def tidy_estimates(
    replicates: pd.DataFrame, estimands: pd.DataFrame | Truth | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The stored replicates in rsimsum's long layout: one row per replicate and estimator (module docstring).

    Parameters
    ----------
    replicates : pandas.DataFrame
        Stacked replicate rows as :func:`alsmeds.reporting.simstudy.read_compact` reads them
        (``rep``, ``seed``, the estimator keys, ``estimate``, ``se``, ``estimable``, ``reason``;
        ``failure`` rows for failed replicates; diagnostic and timing rows are ignored).
    estimands : pandas.DataFrame or Truth or dict, optional
        :func:`alsmeds.reporting.simstudy.estimand_table`, or the ``truth.json`` to build it from;
        default the committed one (as the bundle's performance tables).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIDY_COLUMNS`; ``len(estimands) x`` (replicates run) rows, in the order of
        ``estimands`` then ``i``.

    Raises
    ------
    ValueError
        When a replicate holds two rows for one estimator, or an estimator has more than one
        estimand.
    """
    table = estimands if isinstance(estimands, pd.DataFrame) else estimand_table(estimands)
    replicates = with_robust_estimators(replicates)  # the Cox robust-SE intervals, estimators of their own
    if table.duplicated(BY).any():
        raise ValueError("the estimand table has more than one row for an estimator")
    reps = replicates[["rep", "seed"]].drop_duplicates("rep").sort_values("rep", kind="stable")
    failed = replicates.loc[replicates["family"] == "failure", ["rep", "reason"]].drop_duplicates("rep")
    failed_reason = dict(zip(failed["rep"], failed["reason"].map(_failure_reason), strict=True))

    keys = table[BY].astype(str).reset_index(drop=True)
    keys["_order"] = np.arange(len(keys))
    keys["true"] = table["estimand"].to_numpy(float)
    grid = keys.merge(reps, how="cross")  # every estimator x every replicate run

    rows = replicates.loc[replicates["family"] != "failure", ["rep", *BY, "estimate", "se", "estimable", "reason"]]
    rows = rows.assign(**{k: rows[k].astype(str) for k in BY})
    if rows.duplicated(["rep", *BY]).any():
        raise ValueError("a replicate holds more than one row for an estimator")
    out = grid.merge(rows, on=["rep", *BY], how="left", validate="one_to_one")

    estimate = out["estimate"].to_numpy(float)
    se = out["se"].to_numpy(float)
    present = out["estimable"].notna().to_numpy()
    estimable = out["estimable"].astype("boolean").fillna(False).to_numpy(bool)
    finite = np.isfinite(estimate) & np.isfinite(se)
    usable = estimable & finite

    reason = np.where(usable, "", out["reason"].fillna("").astype(str).to_numpy(object))
    reason = np.where(estimable & ~finite, _NOT_FINITE, reason)
    is_failed = out["rep"].isin(failed_reason).to_numpy()
    reason = np.where(~present & is_failed, out["rep"].map(failed_reason).fillna("").to_numpy(object), reason)
    reason = np.where(~present & ~is_failed, "no row stored for this estimator", reason)
    reason = np.where(~usable & (reason == ""), "not estimable", reason)

    tidy = pd.DataFrame(
        {
            "i": out["rep"].astype("int64"),
            "seed": out["seed"].astype("int64"),
            **{k: out[k] for k in BY},
            "b": np.where(usable, estimate, np.nan),
            "se": np.where(usable, se, np.nan),
            "true": out["true"].to_numpy(float),
            "reason": reason.astype(str),
            "_order": out["_order"],
        }
    )
    tidy = tidy.sort_values(["_order", "i"], kind="stable").drop(columns="_order").reset_index(drop=True)
    return tidy[list(TIDY_COLUMNS)]


def tidy_csv_text(tidy: pd.DataFrame) -> str:
    """:func:`tidy_estimates` as CSV text: 17 significant digits, ``NA`` for a missing number, ``"\\n"`` line ends."""
    text = io.StringIO()
    tidy[list(TIDY_COLUMNS)].to_csv(text, index=False, lineterminator="\n", na_rep="NA", float_format=FLOAT_FORMAT)
    return text.getvalue()


def read_tidy_estimates(path: str | Path) -> pd.DataFrame:
    """Read a file of :func:`write_tidy_estimates` back (text columns as text, ``NA`` as missing)."""
    text_columns = {c: str for c in ("family", "comparison", "model", "exposure", "stratum", "term", "reason")}
    frame = pd.read_csv(
        path, keep_default_na=False, na_values={"b": ["NA"], "se": ["NA"], "true": ["NA"]}, dtype=text_columns
    )
    return frame


def write_tidy_estimates(
    path: str | Path,
    replicates: pd.DataFrame | None = None,
    estimands: pd.DataFrame | Truth | Mapping[str, Any] | None = None,
    fmt: str = "rsimsum",
) -> Path:
    """Write the tidy layout of :func:`tidy_estimates` as CSV, atomically and deterministically.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file to write (its folder is created).
    replicates : pandas.DataFrame, optional
        Stacked replicates; default the stored study
        (:func:`alsmeds.reporting.simstudy.read_stored_replicates`).
    estimands : pandas.DataFrame or Truth or dict, optional
        As for :func:`tidy_estimates`.
    fmt : str
        ``"rsimsum"`` (the only one, :data:`FORMATS`; also the INTEREST app's layout).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    replicates = read_stored_replicates() if replicates is None else replicates
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, tidy_csv_text(tidy_estimates(replicates, estimands)))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m alsmeds.simstudy export --format rsimsum OUT.csv [--estimates FILE]``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after ``export`` (default ``sys.argv[2:]``).

    Returns
    -------
    int
        0 when written; 2 for a usage error or a missing replicate file.
    """
    parser = argparse.ArgumentParser(
        prog="alsmeds simstudy export",
        description="Write the simulation study's replicates in the tidy layout of R's rsimsum and the "
        "INTEREST app: one row per replicate and estimator (i, the estimator's keys, b, se, true).",
    )
    parser.add_argument("out", metavar="OUT.csv", help="the CSV file to write")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="rsimsum", help="layout (default: rsimsum)")
    parser.add_argument(
        "--estimates",
        default=None,
        metavar="FILE",
        help="compacted replicates (default: the committed results/simstudy_estimates.csv.gz)",
    )
    args = parser.parse_args(list(sys.argv[2:] if argv is None else argv))
    try:
        replicates = read_stored_replicates(args.estimates)
    except FileNotFoundError as exc:
        print(f"alsmeds simstudy export: {exc}", file=sys.stderr)
        return 2
    path = write_tidy_estimates(args.out, replicates, fmt=args.fmt)
    print(f"written: {paths.display_path(path)} ({args.fmt} layout)")
    return 0
