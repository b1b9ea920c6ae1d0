"""How far to trust a printed interval: its coverage in the stored simulation study, said beside it.

A 95% interval is honest when, over repeated data sets of the same design, it contains the estimand 95% of the
time.  The simulation study (:mod:`alsmeds.simstudy`; notebook 09) measures that for every estimator of the
bundle at the paper's size and stores it in ``simstudy_performance.csv``
(:func:`alsmeds.reporting.simstudy.performance_measures`).  The notebooks print intervals of single draws; this
module reads the stored measures and says, next to the intervals a notebook prints, which of them cover 95% within
Monte Carlo error and which do not, with the measured coverage and its Monte Carlo SE, and the two reasons an
interval misses: a biased estimate (``bias / empirical SE``) or a standard error that is too small or too large
against the spread of the estimates (``SE error``, percent).

The judgement is the study's own (``coverage_ok``): the coverage lies within 2 Monte Carlo SEs of 95%, the SE
taken at the nominal 95% (``sqrt(0.95 x 0.05 / n)``: 0.7 points with 1,000 replicates).  Assumption: the
printed interval is the estimator the simulation study ran, on data of the design the study simulated; on another
extract the verdict is the synthetic design's, not the extract's.  Functions here read and never fit a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alsmeds import paths
from alsmeds.formatting import fixed, percent
from alsmeds.published import published_values
from alsmeds.reporting.display import Table, show_table
from alsmeds.reporting.reproduction import ratio_target_name
from alsmeds.reporting.simstudy import (
    COVERAGE_LIMIT,
    ESTIMATOR_KEYS,
    ROBUST_SUFFIX,
    coverage_distance,
    published_estimator_key,
)

#: The file of the stored study's performance measures (``alsmeds run --only simstudy_summary``).
PERFORMANCE_FILE = "simstudy_performance.csv"

#: Share of honest 95% intervals whose measured coverage falls outside 2 Monte Carlo SEs by chance (two-sided
#: normal tail beyond 2), and the number of intervals from which the caption says how many that makes.
CHANCE_OUTSIDE = 0.0455
CHANCE_NOTE_FROM = 10

#: Columns of :func:`interval_coverage`.
COVERAGE_COLUMNS = {
    "estimator": "the estimator: comparison, model, exposure, stratum and term, as the results files name them",
    "interval": "model-based Wald interval, or the robust (sandwich) Wald interval",
    "replicates": "replicates whose interval entered the coverage",
    "coverage": "share of the replicates' 95% intervals that contain the estimand",
    "mc_se": "Monte Carlo SE of the coverage",
    "verdict": "covers 95% (within 2 Monte Carlo SEs at the nominal 95%), or below or above 95% and by how many",
    "bias_over_empse": "bias in empirical SEs: a coverage below 95% with a large bias is the estimate's fault",
    "relerr_modse": "relative error of the interval's SE against the empirical SE, percent (negative: too small)",
}


def read_performance(results_dir: str | Path | None = None) -> pd.DataFrame:
    """The stored study's performance measures (default: the committed ``results/``); empty when missing."""
    path = Path(results_dir if results_dir is not None else paths.COMMITTED_RESULTS_DIR) / PERFORMANCE_FILE
    if not path.is_file():
        return pd.DataFrame()
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={k: str for k in ESTIMATOR_KEYS})
    return frame.fillna({k: "" for k in ESTIMATOR_KEYS})


def coverage_verdict(coverage: float, n: int) -> str:
    """``covers 95%``, or ``below`` / ``above 95%`` with the distance in Monte Carlo SEs (at the nominal 95%).

    Parameters
    ----------
    coverage : float
        Measured coverage (share).
    n : int
        Replicates behind it.
    """
    if not n or not np.isfinite(coverage):
        return "not measured"
    distance = float(coverage_distance(coverage, n))
    if abs(distance) <= COVERAGE_LIMIT:
        return "covers 95%"
    return f"{'below' if distance < 0 else 'above'} 95% by {fixed(abs(distance), 1)} MC SEs"


def interval_coverage(performance: pd.DataFrame, **selection: str | tuple[str, ...]) -> pd.DataFrame:
    """The simulation study's coverage of the intervals of the selected estimators, with a verdict on each.

    Parameters
    ----------
    performance : DataFrame
        ``simstudy_performance.csv`` (:func:`read_performance`); empty gives an empty table.
    **selection
        Estimator keys to keep (``family``, ``comparison``, ``model``, ``exposure``, ``stratum``, ``term``): a
        value or a tuple of values each.

    Returns
    -------
    DataFrame
        :data:`COVERAGE_COLUMNS`, one row per selected estimator in the file's order.
    """
    if performance.empty:
        return pd.DataFrame(columns=list(COVERAGE_COLUMNS))
    mask = np.ones(len(performance), dtype=bool)
    for key, value in selection.items():
        values = value if isinstance(value, tuple) else (value,)
        mask &= performance[key].astype(str).isin(values).to_numpy()
    rows = performance[mask]
    model = rows["model"].astype(str)
    robust = model.str.endswith(ROBUST_SUFFIX)
    label = rows["comparison"].fillna("").astype(str) + " " + model.str.removesuffix(ROBUST_SUFFIX)
    for column in ("exposure", "stratum", "term"):
        label = label + " " + rows[column].fillna("").astype(str).replace("all", "")
    n = rows["n_estimable"].fillna(0).astype(int)
    return pd.DataFrame(
        {
            "estimator": label.str.replace(r"\s+", " ", regex=True).str.strip().to_numpy(),
            "interval": np.where(robust, "robust (sandwich)", "model-based"),
            "replicates": n.to_numpy(),
            "coverage": rows["coverage"].to_numpy(float),
            "mc_se": rows["coverage_mcse"].to_numpy(float),
            "verdict": [coverage_verdict(c, k) for c, k in zip(rows["coverage"], n, strict=True)],
            "bias_over_empse": rows["bias_over_empse"].to_numpy(float),
            "relerr_modse": rows["relerr_modse"].to_numpy(float),
        }
    )


def show_interval_coverage(
    what: str, results_dir: str | Path | None = None, only_outside: bool = False, **selection: str | tuple[str, ...]
) -> Table | str:
    """:func:`interval_coverage` of the stored study as a table for people, captioned with how many cover 95%.

    Parameters
    ----------
    what : str
        What the intervals are, for the caption (e.g. ``"the Cox hazard ratios printed above"``).
    results_dir : path-like, optional
        Where ``simstudy_performance.csv`` is (default: the committed ``results/``, the stored study).
    only_outside : bool
        Show only the estimators whose intervals do not cover 95% within Monte Carlo error (the caption still
        counts all); for long lists such as the 72 odds ratios.
    **selection
        As :func:`interval_coverage`.

    Returns
    -------
    Table or str
        The table; a sentence saying why when the study or the selected estimators are missing.
    """
    table = interval_coverage(read_performance(results_dir), **selection)
    if table.empty:
        return f"{what}: no stored simulation study measures these intervals (run `alsmeds simstudy`)"
    shown = table[table["verdict"] != "covers 95%"] if only_outside else table
    caption = _caption(what, table)
    if len(table) >= CHANCE_NOTE_FROM:
        caption += f" (by chance alone about {fixed(CHANCE_OUTSIDE * len(table), 0)} would fall outside)"
    if only_outside and shown.empty:
        return caption + "; none outside"
    return _show(shown, caption + ("; those outside:" if only_outside else ""))


def _caption(what: str, table: pd.DataFrame) -> str:
    covered = int((table["verdict"] == "covers 95%").sum())
    return (
        f"Coverage of {what} in the simulation study ({int(table['replicates'].max()):,} replicates at the paper's "
        f"size): {covered} of {len(table)} cover 95% within 2 Monte Carlo SEs"
    )


def _show(shown: pd.DataFrame, caption: str) -> Table:
    shown = shown.assign(
        coverage=[
            f"{percent(c, 1)} ({fixed(100 * s, 1)})" for c, s in zip(shown["coverage"], shown["mc_se"], strict=True)
        ]
    ).drop(columns="mc_se")
    return show_table(
        shown,
        caption=caption,
        index=False,
        digits=2,
        columns={
            "coverage": "coverage (MC SE, points)",
            "bias_over_empse": "bias / empirical SE",
            "relerr_modse": "SE error (%)",
        },
    )


def scorecard_coverage(performance: pd.DataFrame) -> pd.DataFrame:
    """:func:`interval_coverage` of the nine published ratios' estimators, in the scorecard's order.

    Each published odds ratio's estimator (:func:`alsmeds.reporting.simstudy.published_estimator_key`) with its
    model-based interval, which the scorecard prints; each hazard ratio's joint-model estimator with its robust
    (sandwich) interval, which the scorecard prints, then its model-based one, printed beside it.  Column
    ``target`` (the readable published target) first.
    """
    frames = []
    published = published_values()
    for p in published[published["kind"].isin(["odds_ratio", "hazard_ratio"])].itertuples(index=False):
        key = published_estimator_key(p.kind, p.comparison, p.drug_class, p.window)
        models = (key["model"],) if p.kind == "odds_ratio" else (key["model"] + ROBUST_SUFFIX, key["model"])
        selection = {k: key[k] for k in ESTIMATOR_KEYS if k != "model"}
        for model in models:
            rows = interval_coverage(performance, model=model, **selection)
            frames.append(rows.assign(target=ratio_target_name(p.target)))
    if not frames:
        return pd.DataFrame(columns=["target", *COVERAGE_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    return out[["target", *COVERAGE_COLUMNS]]


def show_scorecard_coverage(results_dir: str | Path | None = None) -> Table | str:
    """:func:`scorecard_coverage` of the stored study as a table for people, captioned with how many cover 95%."""
    table = scorecard_coverage(read_performance(results_dir))
    if table.empty or table["replicates"].max() == 0:
        return "the published ratios' intervals: no stored simulation study measures them (run `alsmeds simstudy`)"
    return _show(table.drop(columns="estimator"), _caption("the scorecard's intervals", table))
