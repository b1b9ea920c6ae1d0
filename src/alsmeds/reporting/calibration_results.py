"""Empirical calibration's results files: column schemas, the panel's truth as frames, and the writer.

The analysis :func:`alsmeds.analyses.calibration.empirical_calibration` writes four files:

``calibration_controls.{csv,json}``
    One row per control of the panel (35 negative controls, 3 synthetic positive controls), comparison and
    exposure term: the study's main model (one class, adjusted) fitted to each control
    (:data:`CALIBRATION_CONTROL_COLUMNS`), with its true log odds ratio, its leave-one-out calibrated p-value
    and, on synthetic data, the implied (numerical) estimand and systematic error.
``empirical_calibration.{csv,json}``
    One row per main estimate of the study (:data:`alsmeds.models.risk.MAIN_MODEL` in each comparison: the
    three classes' lagged and window terms), uncalibrated and calibrated (:data:`EMPIRICAL_CALIBRATION_COLUMNS`);
    the JSON file adds ``diagnostics``, one record per comparison and exposure term
    (:data:`CALIBRATION_DIAGNOSTIC_COLUMNS`: the empirical null with its standard errors, EASE, the leave-one-out
    false-positive rate, the systematic error model), and the assumptions.

**The assumption of every calibrated number**: the controls' systematic errors are exchangeable with the study
estimates' (same design, data, confounding and measurement error).  Calibration corrects for the bias the
controls share with the study classes, nothing else.

This module reads the planted truth through :class:`alsmeds.truth.Truth`'s panel accessors (``panel_planted_null``,
``panel_planted_log_or``, ``panel_implied``, ``panel_implied_null``) and writes with :mod:`alsmeds.data.write`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.data.write import write_csv_atomic, write_json_atomic
from alsmeds.precision import CSV_FLOAT_FORMAT
from alsmeds.reporting.results import RISK_MODEL_COLUMNS, _records
from alsmeds.truth import Truth, as_truth

#: What every calibrated number assumes (written in ``empirical_calibration.json``).
ASSUMPTIONS = (
    "Empirical calibration (Schuemie et al. 2014, 2018) assumes that the systematic errors of the controls' "
    "estimates are exchangeable with those of the study's estimates: the same design, data, confounding and "
    "measurement error, one distribution of errors. The controls share the study classes' confounding paths in "
    "the synthetic data by construction (familial factor, psychiatric liability, prescribing propensity); in "
    "real data that is a judgement (derive/codelists/negative_control_panel.csv gives one per class). The "
    "calibrated p-value tests the estimate against the empirical null N(mu, tau^2); the calibrated interval "
    "inverts the systematic error model fitted to negative and synthetic positive controls (or, without "
    "positive controls, the null with the same error at every true effect). Positive controls' true effect is "
    "on lagged use: in the 0-1 year window they are true nulls. The null's standard errors treat the controls as "
    "independent; fitted to the same cases, they share a chance error (e.g. the sample's familial factor) that "
    "the standard error of mu does not count."
)

#: Columns of ``calibration_controls.{csv,json}``.
CALIBRATION_CONTROL_COLUMNS = {
    **RISK_MODEL_COLUMNS,
    "drug_class": "the control: a class of derive/codelists/negative_control_panel.csv (the PPIs first; "
    "synthetic_positive_or_* are synthetic positive controls)",
    "window": "gt1 (lagged: first qualifying use more than the lag before the index date), 0_1, 1_5 or gt5",
    "control_type": "negative_control (judged unrelated to ALS) or positive_control (synthetic, planted effect)",
    "atc_prefix": "the control's ATC prefix (Z99.. for the synthetic positive controls)",
    "true_log_or": "the control's true log odds ratio: 0 for a negative control; log of the planted odds ratio "
    "for a positive control's lagged use and its 1-5 and >5 year windows (0 in the 0-1 year window)",
    "in_null": "true when the estimate enters the empirical null (an estimable negative control, |log_or| <= log 100)",
    "loo_calibrated_p": "calibrated p-value of a negative control against the null fitted to the others "
    "(leave-one-out); empty otherwise",
    "implied_log_or": "synthetic data: the estimand of this model for this control (truth.json "
    "estimands.panel_implied, a large-sample fit); empty for a real extract",
    "implied_mc_se": "its Monte Carlo standard error",
    "implied_systematic_error": "implied_log_or - true_log_or: the control's systematic error in this comparison",
}

#: Columns of the per-comparison diagnostics (``empirical_calibration.json``, ``diagnostics``).
CALIBRATION_DIAGNOSTIC_COLUMNS = {
    "comparison": "population, sibling or spouse controls",
    "window": "the exposure term calibrated: gt1 (lagged, the main analysis), 0_1, 1_5 or gt5",
    "n_negative_controls": "negative controls in the null (estimable, |log_or| <= log 100)",
    "n_positive_controls": "estimable positive controls in the systematic error model",
    "null_mu": "mean of the empirical null N(mu, tau^2) of the systematic error (log odds ratio), maximum likelihood",
    "null_mu_se": "its standard error (inverse observed information)",
    "null_mu_lower": "lower 95% profile-likelihood limit of mu",
    "null_mu_upper": "upper 95% profile-likelihood limit of mu",
    "null_tau": "SD of the empirical null",
    "null_tau_se": "its standard error (empty at tau = 0)",
    "null_tau_lower": "lower 95% profile-likelihood limit of tau",
    "null_tau_upper": "upper 95% profile-likelihood limit of tau",
    "null_at_boundary": "true when the maximum is at tau = 0",
    "ease": "expected absolute systematic error E|e|, e ~ N(mu, tau^2)",
    "ease_threshold": "the specification's threshold (OHDSI: 0.25)",
    "ease_pass": "ease <= ease_threshold",
    "uncalibrated_false_positive_rate": "share of the null's negative controls with a Wald p < 0.05",
    "loo_false_positive_rate": "share of the null's negative controls with a leave-one-out calibrated p < 0.05 "
    "(near 0.05 when the null model holds)",
    "error_model": "negative_and_positive_controls (fit_systematic_error_model) or negative_controls_only "
    "(the null with the same error at every true effect)",
    "error_mean_intercept": "systematic error model: mean of an estimate at true log effect x is a + b x (a)",
    "error_mean_slope": "(b)",
    "error_sd_intercept": "SD of the systematic error c + d |x| (c)",
    "error_sd_slope": "(d)",
    "error_model_at_boundary": "true when the fitted SD is 0 at some control's true effect",
    "min_detectable_or": "median over the comparison's main estimates of exp(2.8016 SE): the odds ratio a "
    "Wald test detects with 80% power",
    "min_detectable_or_calibrated": "median of exp(2.8016 sqrt(tau^2 + SE^2)): the same for the calibrated test",
    "balance_max_smd": "largest absolute standardized mean difference between the cases and this comparison's "
    "controls over the variables of Table 1 (table1.csv)",
    "balance_variable": "the variable with that SMD",
    "balance_threshold": "the specification's balance threshold (OHDSI: 0.1)",
    "balance_pass": "balance_max_smd <= balance_threshold",
    "balance_handled": "how the model deals with the least balanced variable: matched (a matching factor of the "
    "comparison's sets), adjusted (in the model's adjustment set) or neither",
    "implied_null_mean": "synthetic data: mean of the negative controls' implied systematic errors (the realised "
    "null); empty for a real extract",
    "implied_null_sd": "their SD (ddof 0)",
    "null_mu_z": "(null_mu - implied_null_mean) / null_mu_se",
    "null_tau_z": "(null_tau - implied_null_sd) / null_tau_se",
    "reason": "why the null or the error model could not be fitted (empty when they were)",
}

#: Columns of ``empirical_calibration.{csv,json}`` (``estimates``).
EMPIRICAL_CALIBRATION_COLUMNS = {
    **{k: RISK_MODEL_COLUMNS[k] for k in ("comparison", "exposure", "model", "adjustment", "drug_class")},
    "window": "gt1 (lagged), 0_1, 1_5 or gt5",
    "term": "model term",
    "published_target": "the published target this row reproduces (published_values.csv), empty otherwise",
    **{
        k: RISK_MODEL_COLUMNS[k]
        for k in ("log_or", "se", "odds_ratio", "ci_lower", "ci_upper", "p_value", "estimable", "reason")
    },
    "calibrated_p": "calibrated p-value: 2 Phi(-|log_or - mu| / sqrt(tau^2 + se^2)) against the comparison's "
    "empirical null of the same term",
    "calibrated_p_lower": "lower end of the calibrated p-value's 95% interval for the null's uncertainty "
    "(delta method)",
    "calibrated_p_upper": "upper end",
    "calibrated_log_or": "calibrated estimate: the true log effect whose expected estimate is log_or (error model)",
    "calibrated_se": "width of the calibrated 95% interval over 2 x 1.96",
    "calibrated_odds_ratio": "exp(calibrated_log_or)",
    "calibrated_ci_lower": "lower limit of the calibrated 95% interval of the odds ratio",
    "calibrated_ci_upper": "upper limit",
    "min_detectable_or": "exp(2.8016 se): detected with 80% power by the Wald test",
    "min_detectable_or_calibrated": "exp(2.8016 sqrt(tau^2 + se^2)): detected with 80% power by the calibrated test",
    **{
        k: CALIBRATION_DIAGNOSTIC_COLUMNS[k]
        for k in (
            "n_negative_controls",
            "n_positive_controls",
            "null_mu",
            "null_tau",
            "ease",
            "ease_pass",
            "error_model",
        )
    },
}


def panel_implied_frame(truth: Truth | Mapping[str, Any] | None) -> pd.DataFrame:
    """The panel's implied estimands of ``truth.json`` (``estimands.panel_implied``), one row per control and term.

    Parameters
    ----------
    truth : Truth, dict or None
        None (a real extract) or a truth without the panel gives an empty frame.

    Returns
    -------
    DataFrame
        ``comparison``, ``drug_class``, ``window`` (gt1, 0_1, 1_5, gt5), ``implied_log_or``, ``implied_mc_se``,
        ``planted_log_or`` (NaN where the term could not be estimated in the truth sample).
    """
    columns = ["comparison", "drug_class", "window", "implied_log_or", "implied_mc_se", "planted_log_or"]
    truth = as_truth(truth)
    if truth is None:
        return pd.DataFrame(columns=columns)
    planted = truth.panel_planted_log_or
    rows = []
    for comparison in truth.panel_comparisons:
        for group, terms in truth.panel_implied(comparison).items():
            for term, value in terms.items():
                rows.append(
                    {
                        "comparison": comparison,
                        "drug_class": group,
                        "window": term[len(group) + 1 :],
                        "implied_log_or": np.nan if value is None else value.value,
                        "implied_mc_se": np.nan if value is None else value.mc_se,
                        "planted_log_or": planted[group],
                    }
                )
    return pd.DataFrame(rows, columns=columns)


def implied_null_frame(truth: Truth | Mapping[str, Any] | None) -> pd.DataFrame:
    """The realised null of the panel's negative controls per comparison and term (``panel_implied.null``).

    Returns
    -------
    DataFrame
        ``comparison``, ``window``, ``implied_null_mean``, ``implied_null_sd``; empty without the panel's truth.
    """
    columns = ["comparison", "window", "implied_null_mean", "implied_null_sd"]
    truth = as_truth(truth)
    comparisons = truth.panel_comparisons if truth is not None else []
    rows = [
        {
            "comparison": comparison,
            "window": window,
            "implied_null_mean": np.nan if value["mean"] is None else float(value["mean"]),
            "implied_null_sd": np.nan if value["sd"] is None else float(value["sd"]),
        }
        for comparison in comparisons
        for window, value in truth.panel_implied_null(comparison).items()
    ]
    return pd.DataFrame(rows, columns=columns)


def planted_null(truth: Truth | Mapping[str, Any] | None) -> dict[str, Any]:
    """The distribution the panel's systematic errors were drawn from (``estimands.panel.planted_null``); {} if none."""
    truth = as_truth(truth)
    return {} if truth is None else truth.panel_planted_null


def write_calibration(
    controls: pd.DataFrame,
    estimates: pd.DataFrame,
    diagnostics: pd.DataFrame,
    results_dir: str | Path,
    extra: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write ``calibration_controls.{csv,json}`` and ``empirical_calibration.{csv,json}`` atomically.

    Floats with 8 significant digits in both formats (as :func:`alsmeds.reporting.results.write_estimates`).

    Parameters
    ----------
    controls, estimates, diagnostics : DataFrame
        In the columns of :data:`CALIBRATION_CONTROL_COLUMNS`, :data:`EMPIRICAL_CALIBRATION_COLUMNS` and
        :data:`CALIBRATION_DIAGNOSTIC_COLUMNS`.
    results_dir : path-like
    extra : mapping, optional
        More keys of ``empirical_calibration.json`` (e.g. the planted null of synthetic data).

    Returns
    -------
    list of pathlib.Path
        The four files.
    """
    results_dir = Path(results_dir)
    written = []
    for name, frame, schema, more in (
        ("calibration_controls", controls, CALIBRATION_CONTROL_COLUMNS, {}),
        (
            "empirical_calibration",
            estimates,
            EMPIRICAL_CALIBRATION_COLUMNS,
            {
                "diagnostics": _records(diagnostics[list(CALIBRATION_DIAGNOSTIC_COLUMNS)]),
                "diagnostics_schema": CALIBRATION_DIAGNOSTIC_COLUMNS,
                "assumptions": ASSUMPTIONS,
                **dict(extra or {}),
            },
        ),
    ):
        frame = frame[list(schema)]
        written.append(write_csv_atomic(results_dir / f"{name}.csv", frame, float_format=CSV_FLOAT_FORMAT))
        payload = json.loads(json.dumps({"schema": schema, "estimates": _records(frame), **more}, default=str))
        written.append(write_json_atomic(results_dir / f"{name}.json", payload))
    return written


__all__ = [
    "ASSUMPTIONS",
    "CALIBRATION_CONTROL_COLUMNS",
    "CALIBRATION_DIAGNOSTIC_COLUMNS",
    "EMPIRICAL_CALIBRATION_COLUMNS",
    "implied_null_frame",
    "panel_implied_frame",
    "planted_null",
    "write_calibration",
]
