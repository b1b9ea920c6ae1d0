"""The calibration check of issue 25: do calibrated 95% intervals cover the planted odds ratios?

The stored simulation study of empirical calibration (``results/calibration_coverage_estimates.csv.gz``, written by
``python -m alsmeds.simstudy calibration``, never by an analysis; :mod:`alsmeds.simstudy.calibration` draws it and
``docs/simstudy.md`` *Calibration check (issue 25)* gives its ADEMP) holds, per replicate and per control of the
panel, the uncalibrated and the leave-one-out calibrated 95% interval of the lagged exposure's odds ratio.  This
module defines the file's columns, reads it and turns it into performance measures
(:func:`calibration_performance`); the analysis ``calibration_coverage`` writes them.

Estimands and measures
----------------------
The estimand of a control is its *planted* log odds ratio (0 for the 35 negative controls, ``log 1.5``, ``log 2``
and ``log 4`` for the synthetic positive controls): what a calibrated interval claims to cover, whereas the
uncalibrated interval covers the planted value only if there is no systematic error.  Per mechanism, comparison and
group of controls (the negative controls together; each positive control alone):

* **coverage** of the uncalibrated and of the calibrated interval: the share of intervals containing the planted
  log odds ratio;
* **width ratio**: calibrated over uncalibrated interval width (log scale);
* the same coverage and width ratio for intervals calibrated with the *null* of the other negative controls as
  error model (``null_calibrated``: the systematic error taken as the same at every true effect, OHDSI's
  ``convertNullToErrorModel``), beside the study's error model fitted to negative and positive controls;
* **rejection rate** of the uncalibrated (Wald) and of the calibrated p-value at 5%: the type-I error for the
  negative controls, the power for a positive control;
* **mean error** of the uncalibrated and of the calibrated estimate (estimate minus planted log odds ratio).

Monte Carlo standard errors respect the clustering of the controls within a replicate (every control of a replicate
is fitted to the same cases, so their errors are correlated): each measure is first computed per replicate (e.g. the
share of the replicate's negative controls covered), then averaged over replicates, with Monte Carlo SE the SD of
the per-replicate values (``ddof=1``) over ``sqrt(n_reps)``.  For a positive control, one per replicate, this is the
usual binomial SE (with ``n - 1`` in place of ``n``).  Controls that could not be estimated in a replicate are left
out of its proportion (counted in ``n_not_estimable``); failed replicates are counted in ``n_failed`` and left out.

Assumption: the stored replicates were drawn by :mod:`alsmeds.simstudy.calibration` (its mechanisms, its
leave-one-out calibration); the summary recomputes nothing but these averages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alsmeds import paths
from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.reporting.results import write_estimates

#: The stored replicates of the calibration check (``python -m alsmeds.simstudy calibration``).
COVERAGE_ESTIMATES_FILE = "calibration_coverage_estimates.csv.gz"
#: Nominal coverage of the intervals, and the level of the p-values' tests.
NOMINAL = 0.95
ALPHA = 0.05

#: Columns of the stored replicates (one row per replicate, comparison and control; one ``failure`` row per failed
#: replicate), with their meaning.
CALIBRATION_REPLICATE_COLUMNS = {
    "mechanism": "systematic_error (the committed generator) or no_systematic_error (the panel's and the PPIs' "
    "confounding paths switched off)",
    "rep": "replicate number, 0-based",
    "seed": "integer seed of the replicate's synthetic data (runner.replicate_seed of the mechanism's base seed)",
    "scale": "sample size as a multiple of the paper's 1,057 cases",
    "comparison": "population or sibling controls",
    "window": "exposure term: gt1, lagged use (first qualifying use more than a year before the index date)",
    "control": "the control (a group of the panel's code list)",
    "control_type": "negative_control or positive_control",
    "true_or": "planted odds ratio of the control (1 for a negative control)",
    "true_log_or": "planted log odds ratio in this term (the estimand of every interval here)",
    "status": "ok; not_estimable (the model gave no estimate: see reason); failure (the replicate failed)",
    "reason": "why not estimable, why the error model fell back to the null, or the error of a failed replicate",
    "estimate": "uncalibrated log odds ratio (the study's main model: one class, adjusted, conditional logistic)",
    "se": "its model-based standard error",
    "discordant_sets": "matched sets with discordant exposure",
    "uncalibrated_lower": "lower limit of the uncalibrated 95% Wald interval (log scale)",
    "uncalibrated_upper": "upper limit of the uncalibrated 95% Wald interval (log scale)",
    "uncalibrated_p": "two-sided Wald p-value against log OR 0",
    "calibrated_estimate": "calibrated log odds ratio (error model fitted without this control)",
    "calibrated_lower": "lower limit of the calibrated 95% interval (log scale)",
    "calibrated_upper": "upper limit of the calibrated 95% interval (log scale)",
    "calibrated_p": "calibrated p-value against the empirical null of the negative controls other than this one",
    "null_mu": "mean of the empirical null fitted without this control",
    "null_tau": "SD of the empirical null fitted without this control",
    "error_model": "negative_and_positive_controls, or negative_controls_only (the null as error model)",
    "n_negative_controls": "negative controls in this control's calibration fit (it is never one of them)",
    "n_positive_controls": "positive controls in this control's calibration fit (it is never one of them)",
    "uncalibrated_covered": "1 when the uncalibrated interval contains true_log_or, 0 when not, empty if not ok",
    "calibrated_covered": "1 when the calibrated interval contains true_log_or, 0 when not, empty if not ok",
    "uncalibrated_width": "width of the uncalibrated interval (log scale)",
    "calibrated_width": "width of the calibrated interval (log scale)",
    "width_ratio": "calibrated_width / uncalibrated_width",
    "null_calibrated_lower": "lower limit of the 95% interval calibrated with the null of the other negative "
    "controls as error model (error independent of the true effect; log scale)",
    "null_calibrated_upper": "upper limit of that interval (log scale)",
    "null_calibrated_covered": "1 when that interval contains true_log_or, 0 when not, empty if not ok",
    "null_width_ratio": "its width / uncalibrated_width",
    "replicate_seconds": "wall time of the whole replicate (simulate, classify, fit, calibrate), seconds",
}

#: Text columns of the stored file (missing read as "").
_TEXT_COLUMNS = ("mechanism", "comparison", "window", "control", "control_type", "status", "reason", "error_model")

#: Columns of :func:`calibration_performance` (``results/calibration_coverage.*``), with their meaning.
CALIBRATION_COVERAGE_COLUMNS = {
    "mechanism": "systematic_error (committed generator) or no_systematic_error (panel confounding switched off)",
    "comparison": "population or sibling controls",
    "window": "exposure term (gt1: lagged use)",
    "group": "negative_controls (the 35 together), or one positive control (synthetic_positive_or_1_5, _2, _4)",
    "true_or": "planted odds ratio of the group (1 for the negative controls)",
    "n_reps": "replicates that ran and estimated at least one control of the group (the measures average these)",
    "n_failed": "failed replicates of the mechanism (left out)",
    "n_controls": "control estimates used, summed over replicates",
    "n_not_estimable": "control estimates of the group that could not be estimated (left out)",
    "uncalibrated_coverage": "mean over replicates of the share of uncalibrated 95% intervals containing the "
    "planted log OR",
    "uncalibrated_coverage_mcse": "its Monte Carlo SE: SD of the per-replicate shares / sqrt(n_reps)",
    "calibrated_coverage": "mean over replicates of the share of calibrated 95% intervals (leave-one-out) containing "
    "the planted log OR",
    "calibrated_coverage_mcse": "its Monte Carlo SE",
    "coverage_difference": "calibrated_coverage - uncalibrated_coverage",
    "coverage_difference_mcse": "its Monte Carlo SE (paired over replicates)",
    "width_ratio": "mean over replicates of the mean calibrated / uncalibrated interval width",
    "width_ratio_mcse": "its Monte Carlo SE",
    "null_calibrated_coverage": "as calibrated_coverage, for the intervals calibrated with the null of the "
    "negative controls (without this control) as error model",
    "null_calibrated_coverage_mcse": "its Monte Carlo SE",
    "null_width_ratio": "as width_ratio, for the null-calibrated intervals",
    "null_width_ratio_mcse": "its Monte Carlo SE",
    "uncalibrated_rejection": "share of uncalibrated p-values below 0.05 (type-I error for negative controls, "
    "power for a positive control)",
    "uncalibrated_rejection_mcse": "its Monte Carlo SE",
    "calibrated_rejection": "share of calibrated p-values below 0.05 (type-I error for negative controls, power "
    "for a positive control)",
    "calibrated_rejection_mcse": "its Monte Carlo SE",
    "uncalibrated_mean_error": "mean of estimate - planted log OR",
    "uncalibrated_mean_error_mcse": "its Monte Carlo SE",
    "calibrated_mean_error": "mean of calibrated estimate - planted log OR",
    "calibrated_mean_error_mcse": "its Monte Carlo SE",
    "uncalibrated_coverage_z": "(uncalibrated_coverage - 0.95) / uncalibrated_coverage_mcse",
    "calibrated_coverage_z": "(calibrated_coverage - 0.95) / calibrated_coverage_mcse",
    "null_calibrated_coverage_z": "(null_calibrated_coverage - 0.95) / null_calibrated_coverage_mcse",
}

#: Group name of the negative controls in :func:`calibration_performance`.
NEGATIVE_GROUP = "negative_controls"


def stored_coverage_file() -> Path:
    """The stored calibration check: the committed ``results/calibration_coverage_estimates.csv.gz``."""
    return paths.COMMITTED_RESULTS_DIR / COVERAGE_ESTIMATES_FILE


def read_coverage_estimates(path: str | Path | None = None) -> pd.DataFrame:
    """Read stored calibration-check replicates (default :func:`stored_coverage_file`).

    Text columns are read as text (missing as ``""``), the covered flags as floats (1, 0, NaN).

    Raises
    ------
    FileNotFoundError
        When the file is missing (``python -m alsmeds.simstudy calibration`` writes it).
    """
    path = Path(path) if path is not None else stored_coverage_file()
    if not path.is_file():
        raise FileNotFoundError(
            f"no stored calibration check {paths.display_path(path)}: run `python -m alsmeds.simstudy calibration`"
        )
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in _TEXT_COLUMNS})
    for c in _TEXT_COLUMNS:
        frame[c] = frame[c].fillna("")
    return frame


def replicate_mean(values: pd.Series, reps: pd.Series) -> tuple[float, float, int]:
    """Mean over replicates of a per-replicate mean, with its Monte Carlo SE.

    Parameters
    ----------
    values : Series
        One value per control estimate (a 0/1 flag, a ratio, an error); NaN values are left out.
    reps : Series
        The replicate of each value (same index).

    Returns
    -------
    (mean, mcse, n_reps) : tuple
        ``mean`` of the per-replicate means over the ``n_reps`` replicates with at least one value, and
        ``SD(per-replicate means, ddof=1) / sqrt(n_reps)`` (NaN with fewer than two replicates).
    """
    ok = values.notna()
    per_rep = values[ok].astype(float).groupby(reps[ok]).mean()
    n = len(per_rep)
    if n == 0:
        return np.nan, np.nan, 0
    mcse = float(per_rep.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    return float(per_rep.mean()), mcse, n


def _group_measures(rows: pd.DataFrame) -> dict[str, float]:
    ok = rows[rows["status"] == "ok"]
    reps = ok["rep"]
    out: dict[str, float] = {}
    unc, unc_se, n_reps = replicate_mean(ok["uncalibrated_covered"], reps)
    cal, cal_se, _ = replicate_mean(ok["calibrated_covered"], reps)
    diff, diff_se, _ = replicate_mean(ok["calibrated_covered"] - ok["uncalibrated_covered"], reps)
    out.update(
        n_reps=n_reps,
        n_controls=len(ok),
        n_not_estimable=int((rows["status"] == "not_estimable").sum()),
        uncalibrated_coverage=unc,
        uncalibrated_coverage_mcse=unc_se,
        calibrated_coverage=cal,
        calibrated_coverage_mcse=cal_se,
        coverage_difference=diff,
        coverage_difference_mcse=diff_se,
    )
    out["null_calibrated_coverage"], out["null_calibrated_coverage_mcse"], _ = replicate_mean(
        ok["null_calibrated_covered"], reps
    )
    out["width_ratio"], out["width_ratio_mcse"], _ = replicate_mean(ok["width_ratio"], reps)
    out["null_width_ratio"], out["null_width_ratio_mcse"], _ = replicate_mean(ok["null_width_ratio"], reps)
    for kind in ("uncalibrated", "calibrated"):
        p = ok[f"{kind}_p"]
        rejected = (p < ALPHA).astype(float).where(p.notna())
        out[f"{kind}_rejection"], out[f"{kind}_rejection_mcse"], _ = replicate_mean(rejected, reps)
    out["uncalibrated_mean_error"], out["uncalibrated_mean_error_mcse"], _ = replicate_mean(
        ok["estimate"] - ok["true_log_or"], reps
    )
    out["calibrated_mean_error"], out["calibrated_mean_error_mcse"], _ = replicate_mean(
        ok["calibrated_estimate"] - ok["true_log_or"], reps
    )
    for kind in ("uncalibrated", "calibrated", "null_calibrated"):
        se = out[f"{kind}_coverage_mcse"]
        out[f"{kind}_coverage_z"] = (out[f"{kind}_coverage"] - NOMINAL) / se if se and se > 0 else np.nan
    return out


def calibration_performance(replicates: pd.DataFrame) -> pd.DataFrame:
    """Coverage, width ratio, rejection rates and mean errors with clustered Monte Carlo SEs (module docstring).

    Parameters
    ----------
    replicates : DataFrame
        Stored replicates (:data:`CALIBRATION_REPLICATE_COLUMNS`; :func:`read_coverage_estimates`).

    Returns
    -------
    DataFrame
        :data:`CALIBRATION_COVERAGE_COLUMNS`: one row per mechanism, comparison, window and group (the negative
        controls; each positive control), in that order (negative controls first, positives by planted OR).
    """
    rows = []
    failed = replicates[replicates["status"] == "failure"]
    controls = replicates[replicates["status"] != "failure"]
    for mechanism in dict.fromkeys(replicates["mechanism"]):
        n_failed = int(failed.loc[failed["mechanism"] == mechanism, "rep"].nunique())
        mine = controls[controls["mechanism"] == mechanism]
        for (comparison, window), frame in mine.groupby(["comparison", "window"], sort=False):
            groups: list[tuple[str, float, pd.DataFrame]] = [
                (NEGATIVE_GROUP, 1.0, frame[frame["control_type"] == "negative_control"])
            ]
            positives = frame[frame["control_type"] == "positive_control"]
            for control, sub in sorted(positives.groupby("control"), key=lambda kv: float(kv[1]["true_or"].iloc[0])):
                groups.append((str(control), float(sub["true_or"].iloc[0]), sub))
            for group, true_or, sub in groups:
                rows.append(
                    {
                        "mechanism": mechanism,
                        "comparison": comparison,
                        "window": window,
                        "group": group,
                        "true_or": true_or,
                        "n_failed": n_failed,
                        **_group_measures(sub),
                    }
                )
    return pd.DataFrame(rows, columns=list(CALIBRATION_COVERAGE_COLUMNS))


def _coverage_inputs(ctx: AnalysisContext) -> Sequence[Path]:
    """The stored replicates (their content keys the analysis's cache)."""
    return [stored_coverage_file()]


@analysis(
    "calibration_coverage", outputs=("calibration_coverage.csv", "calibration_coverage.json"), inputs=_coverage_inputs
)
def calibration_coverage(ctx: AnalysisContext) -> list[Path]:
    """The calibration check (issue 25): coverage of calibrated and uncalibrated 95% intervals of the controls.

    Reads the stored replicates (the committed ``results/calibration_coverage_estimates.csv.gz``, whatever the
    results folder: :func:`read_coverage_estimates`) and writes ``calibration_coverage.{csv,json}``
    (:data:`CALIBRATION_COVERAGE_COLUMNS`: per mechanism and group of controls, the coverage of the uncalibrated
    and the leave-one-out calibrated intervals of the planted odds ratios, the width ratio, the rejection rates
    and mean errors, each with a Monte Carlo SE over replicates; :func:`calibration_performance`).  Fits nothing.
    """
    performance = calibration_performance(read_coverage_estimates())
    return write_estimates(performance, ctx.results_dir, "calibration_coverage", CALIBRATION_COVERAGE_COLUMNS)
