"""Empirical calibration of the study's main estimates with a panel of negative and positive controls (issue 25).

Estimands
---------
Every control of the panel (``derive/codelists/negative_control_panel.csv``: 35 drug classes judged unrelated to
ALS, the PPIs first, and three synthetic positive controls with planted odds ratios 1.5, 2 and 4) is classified by
the study's rules (:func:`alsmeds.derive.analysis_table.build_panel_table`) and fitted with the study's main model
(:func:`alsmeds.models.risk.fit_risk_model`: one class, adjusted, lagged exposure and windows) in each comparison.
The estimate of a control whose true log odds ratio is ``x`` is ``x`` plus a *systematic error* plus sampling
error.  Per comparison and exposure term (``gt1``, the lagged main exposure; ``0_1``, ``1_5``, ``gt5``):

* the **empirical null** ``N(mu, tau^2)`` of the systematic error, fitted to the negative controls
  (:func:`alsmeds.models.calibration.fit_null`: exact maximum likelihood, standard errors from the observed
  information, profile-likelihood intervals);
* **EASE**, the expected absolute systematic error ``E|e|``
  (:func:`~alsmeds.models.calibration.expected_absolute_systematic_error`), which passes at the
  specification's threshold (OHDSI's 0.25);
* the **leave-one-out false-positive rate**: each negative control calibrated against the null of the others;
* the **systematic error model** from negative and positive controls
  (:func:`~alsmeds.models.calibration.fit_systematic_error_model`; without two distinct true effects, e.g. in a real
  extract without the synthetic positive controls or in the 0-1 year window where they are true nulls, the null
  with the same error at every true effect, :func:`~alsmeds.models.calibration.null_to_error_model`);
* for each main estimate of the study (:data:`alsmeds.models.risk.MAIN_MODEL` in the comparison: the three
  classes' lagged and window terms, read from ``risk_models.csv``; six of them are the published odds ratios),
  the **calibrated p-value** (against the null of the same term, with an interval for the null's uncertainty)
  and the **calibrated estimate and 95% interval** (inverting the error model);
* **covariate balance** between the cases and each comparison's controls (:func:`balance_diagnostics`): the
  largest absolute SMD of Table 1, passing at the specification's ``balance_threshold`` (OHDSI's 0.1), with how
  the model deals with that variable (matched, adjusted or neither);
* the **minimum detectable odds ratio** at 80% power, ``exp(2.8016 SE)`` for the Wald test and
  ``exp(2.8016 sqrt(tau^2 + SE^2))`` for the calibrated test, whose null absorbs ``mu``.

Assumptions
-----------
Calibration assumes that the controls' systematic errors are exchangeable with the study estimates': drawn from
the same distribution because the design, the data, the confounding and the measurement error are the same.  In the
synthetic data the panel shares the study classes' confounding paths (the familial factor, the psychiatric
liability, the prescribing propensity: :class:`alsmeds.simulate.parameters.PanelParameters`) by construction, with
a planted null; in a register the choice of controls is a judgement a reader may dispute.  The null is normal and
the controls independent given it; in one data set they are not quite: every control is fitted to the same cases, so
a chance excess of the familial factor among this sample's cases shifts every confounded control's estimate
together, an error common to the panel that the standard error of ``mu`` does not count (small against it at 20
times the paper's size, of its order at the paper's).  The hazard ratios of the prognosis analyses (the other three
published ratios) are not calibrated: the panel's controls are exposures of the risk models, not of survival.

On synthetic data the diagnostics are put beside the panel's realised null (``truth.json``
``estimands.panel_implied.null``: the mean and SD of the negative controls' implied systematic errors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.analyses.risk import covariate_sets
from alsmeds.constants import WINDOWS, Z_DETECTABLE_80
from alsmeds.derive.analysis_table import build_panel_table
from alsmeds.derive.codelists import panel_codelist
from alsmeds.models.calibration import (
    MAX_ABS_LOG_RR,
    MIN_NEGATIVE_CONTROLS,
    calibrate_ci,
    calibrate_p_interval,
    error_model_or_null,
    fit_null,
    leave_one_out_p,
    traditional_p,
)
from alsmeds.models.risk import RESULT_COLUMNS, RiskModelSpec, fit_risk_model, main_estimates
from alsmeds.published import PUBLISHED_RISK
from alsmeds.reporting.calibration_results import (
    CALIBRATION_CONTROL_COLUMNS,
    CALIBRATION_DIAGNOSTIC_COLUMNS,
    EMPIRICAL_CALIBRATION_COLUMNS,
    implied_null_frame,
    panel_implied_frame,
    planted_null,
    write_calibration,
)
from alsmeds.reporting.describe import ROLE_LABELS
from alsmeds.reporting.table1 import baseline_table
from alsmeds.truth import Truth

#: The exposure terms of a coding: the lagged exposure's one, the windows' three.
CODING_WINDOWS = {"lagged": ("gt1",), "windows": WINDOWS}
#: Two-sided level of every p-value threshold and interval here.
ALPHA = 0.05


#: Table 1 variables the population comparison's sets are matched on (birth year and sex: the risk set of a case).
MATCHED_VARIABLES = {"population": ("age", "sex")}
#: Table 1 variable -> the risk models' covariate that adjusts for it.
BALANCE_COVARIATES = {
    "age": "age_decades",
    "sex": "male",
    "education": "education",
    "country": "country",
    "civil": "civil",
    "psych_history": "psych_history",
}
#: Table 1's column of each comparison's controls.
COMPARISON_ROLES = {"population": "population_control", "sibling": "sibling", "spouse": "spouse"}


def balance_diagnostics(
    smd: pd.DataFrame, comparisons: Sequence[str], threshold: float, **covariates: tuple[str, ...]
) -> pd.DataFrame:
    """Covariate balance between the cases and each comparison's controls, from Table 1's SMDs.

    The diagnostic OHDSI reports beside EASE: a design whose groups differ by more than ``threshold``
    standardized mean differences on a variable leans on the model to remove that difference.  Here the
    groups are the cases and their controls; for each comparison the least balanced variable of Table 1
    is named with how the model deals with it (``matched``: a matching factor of the comparison's sets;
    ``adjusted``: in its adjustment set; ``neither``).

    Parameters
    ----------
    smd : DataFrame
        :attr:`alsmeds.reporting.table1.BaselineTable.smd` (absolute SMDs, one column per control role,
        labelled as in Table 1).
    comparisons : sequence of str
    threshold : float
        Balance passes at ``max |SMD| <= threshold``.
    **covariates
        ``population_covariates``, ``relative_covariates`` (the specification's adjustment sets).

    Returns
    -------
    DataFrame
        ``comparison`` and the ``balance_*`` columns of
        :data:`~alsmeds.reporting.calibration_results.CALIBRATION_DIAGNOSTIC_COLUMNS`; NaN where Table 1 has no
        such controls.
    """
    rows = []
    for comparison in comparisons:
        column = ROLE_LABELS[COMPARISON_ROLES[comparison]]
        values = smd[column].dropna() if column in smd else pd.Series(dtype=float)
        if values.empty:
            rows.append({"comparison": comparison, "balance_threshold": threshold, "balance_handled": ""})
            continue
        variable = str(values.idxmax())
        adjusted = covariates.get("population_covariates" if comparison == "population" else "relative_covariates", ())
        handled = (
            "matched"
            if variable in MATCHED_VARIABLES.get(comparison, ())
            else ("adjusted" if BALANCE_COVARIATES.get(variable) in adjusted else "neither")
        )
        rows.append(
            {
                "comparison": comparison,
                "balance_max_smd": float(values.max()),
                "balance_variable": variable,
                "balance_threshold": threshold,
                "balance_pass": bool(values.max() <= threshold),
                "balance_handled": handled,
            }
        )
    return pd.DataFrame(rows)


def true_log_or(level: str, true_or: float, window: str) -> float:
    """A control's true log odds ratio in one exposure term.

    A negative control's is 0.  A synthetic positive control's planted effect is on lagged use (first use more
    than a year before the index date, :class:`alsmeds.simulate.parameters.PanelParameters`), so its true log
    odds ratio is ``log(true_or)`` for ``gt1``, ``1_5`` and ``gt5`` and 0 for ``0_1``.
    """
    if level == "negative_control" or window == "0_1":
        return 0.0
    return float(math.log(true_or))


def fit_panel_controls(
    panel_table: pd.DataFrame,
    codes: pd.DataFrame,
    comparisons: Sequence[str],
    exposures: Sequence[str] = ("lagged", "windows"),
    **covariates: tuple[str, ...],
) -> pd.DataFrame:
    """Fit the study's main model to every control of the panel (see the module docstring).

    Parameters
    ----------
    panel_table : DataFrame
        :func:`alsmeds.derive.analysis_table.build_panel_table`.
    codes : DataFrame
        The panel's code list (:func:`alsmeds.derive.codelists.panel_codelist`).
    comparisons, exposures : sequence of str
    **covariates
        ``population_covariates``, ``relative_covariates`` (the specification's adjustment sets).

    Returns
    -------
    DataFrame
        :data:`alsmeds.models.risk.RESULT_COLUMNS` (``drug_class`` = the control) with ``control_type``,
        ``atc_prefix`` and ``true_log_or``; one row per control, comparison and term.
    """
    frames = []
    for comparison in comparisons:
        for exposure in exposures:
            for row in codes.itertuples(index=False):
                spec = RiskModelSpec(comparison, exposure, (row.group,), "adjusted", **covariates)
                fitted = fit_risk_model(panel_table, spec).to_frame()[RESULT_COLUMNS]
                frames.append(
                    fitted.assign(
                        control_type=row.level,
                        atc_prefix=row.atc_prefix,
                        true_log_or=[true_log_or(row.level, row.true_or, w) for w in fitted["window"]],
                    )
                )
    return pd.concat(frames, ignore_index=True)


def _finite(frame: pd.DataFrame) -> pd.Series:
    return frame["estimable"].astype(bool) & np.isfinite(frame["log_or"]) & np.isfinite(frame["se"])


def _empty_diagnostic(comparison: str, window: str, reason: str, threshold: float) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(CALIBRATION_DIAGNOSTIC_COLUMNS, np.nan)
    out.update(
        comparison=comparison,
        window=window,
        n_negative_controls=0,
        n_positive_controls=0,
        null_at_boundary=None,
        ease_threshold=threshold,
        ease_pass=None,
        error_model="",
        error_model_at_boundary=None,
        reason=reason,
    )
    return out


def calibrate_term(
    controls: pd.DataFrame,
    estimates: pd.DataFrame,
    comparison: str,
    window: str,
    ease_threshold: float = 0.25,
    sd_form: str = "linear",
) -> tuple[dict[str, Any], pd.DataFrame, pd.Series]:
    """Calibrate one comparison's estimates of one exposure term against the controls of the same term.

    Parameters
    ----------
    controls : DataFrame
        :func:`fit_panel_controls` rows of this comparison and window.
    estimates : DataFrame
        The study's main estimates of this comparison and window (the risk models' columns).
    comparison, window : str
    ease_threshold : float
        EASE at or below which the null passes.
    sd_form : {"linear", "log_linear"}
        The systematic error model's SD (:func:`alsmeds.models.calibration.fit_systematic_error_model`).

    Returns
    -------
    tuple
        The diagnostics (:data:`~alsmeds.reporting.calibration_results.CALIBRATION_DIAGNOSTIC_COLUMNS` but
        the truth's), the estimates with the calibrated columns, and the negative controls' leave-one-out
        calibrated p-values (indexed as ``controls``).
    """
    usable = _finite(controls)
    negatives = controls[usable & (controls["control_type"] == "negative_control")]
    negatives = negatives[negatives["log_or"].abs() <= MAX_ABS_LOG_RR]
    positives = controls[usable & (controls["control_type"] == "positive_control")]
    loo = pd.Series(np.nan, index=controls.index)
    out = estimates.copy()
    for column in (
        "calibrated_p",
        "calibrated_p_lower",
        "calibrated_p_upper",
        "calibrated_log_or",
        "calibrated_se",
        "calibrated_odds_ratio",
        "calibrated_ci_lower",
        "calibrated_ci_upper",
        "min_detectable_or_calibrated",
        "null_mu",
        "null_tau",
        "ease",
    ):
        out[column] = np.nan
    out["min_detectable_or"] = np.exp(Z_DETECTABLE_80 * out["se"])
    out["n_negative_controls"] = len(negatives)
    out["n_positive_controls"] = len(positives)
    out["ease_pass"] = None
    out["error_model"] = ""
    if len(negatives) < MIN_NEGATIVE_CONTROLS:
        reason = f"{len(negatives)} estimable negative controls (at least {MIN_NEGATIVE_CONTROLS} needed)"
        diagnostic = _empty_diagnostic(comparison, window, reason, ease_threshold)
        diagnostic["n_positive_controls"] = len(positives)
        diagnostic["n_negative_controls"] = len(negatives)
        detectable = out["min_detectable_or"].to_numpy(dtype=float)
        finite = detectable[np.isfinite(detectable)]
        diagnostic["min_detectable_or"] = float(np.median(finite)) if finite.size else np.nan
        return diagnostic, out, loo

    y, s = negatives["log_or"].to_numpy(), negatives["se"].to_numpy()
    null = fit_null(y, s)
    profile = null.profile_ci(ALPHA)
    loo.loc[negatives.index] = leave_one_out_p(y, s)
    ease = null.ease
    both = pd.concat([negatives, positives])
    model, source, reason = error_model_or_null(
        null, both["log_or"].to_numpy(), both["se"].to_numpy(), both["true_log_or"].to_numpy(), sd_form
    )
    ok = _finite(out)
    if ok.any():
        p = calibrate_p_interval(null, out.loc[ok, "log_or"].to_numpy(), out.loc[ok, "se"].to_numpy(), ALPHA)
        out.loc[ok, "calibrated_p"] = p["p"].to_numpy()
        out.loc[ok, "calibrated_p_lower"] = p["p_lower"].to_numpy()
        out.loc[ok, "calibrated_p_upper"] = p["p_upper"].to_numpy()
        ci = calibrate_ci(model, out.loc[ok, "log_or"].to_numpy(), out.loc[ok, "se"].to_numpy(), ALPHA, exp=True)
        out.loc[ok, "calibrated_log_or"] = ci["estimate"].to_numpy()
        out.loc[ok, "calibrated_se"] = ci["se"].to_numpy()
        out.loc[ok, "calibrated_odds_ratio"] = ci["ratio"].to_numpy()
        out.loc[ok, "calibrated_ci_lower"] = ci["ratio_lower"].to_numpy()
        out.loc[ok, "calibrated_ci_upper"] = ci["ratio_upper"].to_numpy()
        out.loc[ok, "min_detectable_or_calibrated"] = np.exp(
            Z_DETECTABLE_80 * np.sqrt(null.tau**2 + out.loc[ok, "se"].to_numpy() ** 2)
        )
    out["null_mu"], out["null_tau"], out["ease"] = null.mu, null.tau, ease
    out["ease_pass"] = bool(ease <= ease_threshold)
    out["error_model"] = source
    a, b, c, d = (float(v) for v in model.params)
    diagnostic = {
        "comparison": comparison,
        "window": window,
        "n_negative_controls": len(negatives),
        "n_positive_controls": len(positives),
        "null_mu": null.mu,
        "null_mu_se": float(null.bse["mu"]),
        "null_mu_lower": float(profile.loc["mu", "lower"]),
        "null_mu_upper": float(profile.loc["mu", "upper"]),
        "null_tau": null.tau,
        "null_tau_se": float(null.bse["tau"]),
        "null_tau_lower": float(profile.loc["tau", "lower"]),
        "null_tau_upper": float(profile.loc["tau", "upper"]),
        "null_at_boundary": bool(null.at_boundary),
        "ease": ease,
        "ease_threshold": ease_threshold,
        "ease_pass": bool(ease <= ease_threshold),
        "uncalibrated_false_positive_rate": float(np.mean(traditional_p(y, s) < ALPHA)),
        "loo_false_positive_rate": float(np.mean(loo.loc[negatives.index].to_numpy() < ALPHA)),
        "error_model": source,
        "error_mean_intercept": a,
        "error_mean_slope": b,
        "error_sd_intercept": c,
        "error_sd_slope": d,
        "error_model_at_boundary": bool(model.at_boundary),
        "min_detectable_or": float(np.nanmedian(out["min_detectable_or"])) if len(out) else np.nan,
        "min_detectable_or_calibrated": float(np.nanmedian(out["min_detectable_or_calibrated"]))
        if ok.any()
        else np.nan,
        "implied_null_mean": np.nan,
        "implied_null_sd": np.nan,
        "null_mu_z": np.nan,
        "null_tau_z": np.nan,
        "reason": reason,
    }
    return diagnostic, out, loo


def _with_truth(
    controls: pd.DataFrame, diagnostics: pd.DataFrame, truth: Truth | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add the panel's implied estimands and realised null of synthetic data (NaN for a real extract)."""
    implied = panel_implied_frame(truth).drop(columns="planted_log_or")
    controls = controls.merge(implied, on=["comparison", "drug_class", "window"], how="left")
    controls["implied_systematic_error"] = controls["implied_log_or"] - controls["true_log_or"]
    nulls = implied_null_frame(truth)
    diagnostics = diagnostics.drop(columns=["implied_null_mean", "implied_null_sd"]).merge(
        nulls, on=["comparison", "window"], how="left"
    )
    diagnostics["null_mu_z"] = (diagnostics["null_mu"] - diagnostics["implied_null_mean"]) / diagnostics["null_mu_se"]
    diagnostics["null_tau_z"] = (diagnostics["null_tau"] - diagnostics["implied_null_sd"]) / diagnostics["null_tau_se"]
    return controls, diagnostics


def _published_target(comparison: str, drug_class: str, window: str) -> str:
    return (
        f"risk:{drug_class}:{window}" if comparison == "population" and (drug_class, window) in PUBLISHED_RISK else ""
    )


def run_calibration(
    panel_table: pd.DataFrame,
    risk_estimates: pd.DataFrame,
    codes: pd.DataFrame,
    comparisons: Sequence[str],
    exposures: Sequence[str] = ("lagged", "windows"),
    ease_threshold: float = 0.25,
    sd_form: str = "linear",
    truth: Truth | None = None,
    **covariates: tuple[str, ...],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The whole calibration: fit the controls, calibrate each comparison and term (module docstring).

    Parameters
    ----------
    panel_table : DataFrame
        :func:`alsmeds.derive.analysis_table.build_panel_table`.
    risk_estimates : DataFrame
        ``risk_models.csv`` (the main estimates are its :data:`~alsmeds.models.risk.MAIN_MODEL` rows).
    codes : DataFrame
        The panel's code list.
    comparisons, exposures : sequence of str
    ease_threshold : float
    sd_form : {"linear", "log_linear"}
    truth : Truth, optional
        The planted truth of synthetic data (adds the implied columns); None for a real extract.
    **covariates
        The adjustment sets.

    Returns
    -------
    tuple of DataFrame
        The controls (:data:`~alsmeds.reporting.calibration_results.CALIBRATION_CONTROL_COLUMNS`), the calibrated
        main estimates (:data:`~alsmeds.reporting.calibration_results.EMPIRICAL_CALIBRATION_COLUMNS`) and the
        diagnostics (:data:`~alsmeds.reporting.calibration_results.CALIBRATION_DIAGNOSTIC_COLUMNS`).
    """
    controls = fit_panel_controls(panel_table, codes, comparisons, exposures, **covariates)
    controls["loo_calibrated_p"] = np.nan
    controls["in_null"] = False
    diagnostics, calibrated = [], []
    for comparison in comparisons:
        main = main_estimates(risk_estimates, comparison=comparison, exposure=list(exposures))
        for exposure in exposures:
            for window in CODING_WINDOWS[exposure]:
                mask = (controls["comparison"] == comparison) & (controls["window"] == window)
                estimates = main[main["window"] == window]
                diagnostic, out, loo = calibrate_term(
                    controls[mask], estimates, comparison, window, ease_threshold, sd_form
                )
                controls.loc[loo.index, "loo_calibrated_p"] = loo.to_numpy()
                controls.loc[loo.index, "in_null"] = np.isfinite(loo.to_numpy())
                diagnostics.append(diagnostic)
                calibrated.append(out)
    estimates = pd.concat(calibrated, ignore_index=True) if calibrated else pd.DataFrame()
    estimates = estimates.reindex(columns=[c for c in EMPIRICAL_CALIBRATION_COLUMNS if c != "published_target"])
    estimates.insert(
        list(EMPIRICAL_CALIBRATION_COLUMNS).index("published_target"),
        "published_target",
        [_published_target(r.comparison, r.drug_class, r.window) for r in estimates.itertuples()],
    )
    diagnostics_frame = pd.DataFrame(diagnostics, columns=list(CALIBRATION_DIAGNOSTIC_COLUMNS))
    controls, diagnostics_frame = _with_truth(controls, diagnostics_frame, truth)
    return (
        controls[list(CALIBRATION_CONTROL_COLUMNS)],
        estimates,
        diagnostics_frame[list(CALIBRATION_DIAGNOSTIC_COLUMNS)],
    )


@analysis(
    "empirical_calibration",
    outputs=(
        "calibration_controls.csv",
        "calibration_controls.json",
        "empirical_calibration.csv",
        "empirical_calibration.json",
    ),
    needs=("risk_models",),
)
def empirical_calibration(ctx: AnalysisContext) -> list[Path]:
    """Empirical calibration: the panel of controls fitted, the empirical null, EASE, calibrated p-values and CIs.

    See the module docstring for the estimands and the assumption (the controls' systematic errors are
    exchangeable with the study estimates').  Reads ``risk_models.csv`` for the main estimates.
    """
    spec, study = ctx.spec, ctx.study
    settings = spec.calibration
    codes = panel_codelist()
    panel_table = build_panel_table(study.registry, study.rules, study.analysis_table, codes)
    truth = study.planted_truth
    controls, estimates, diagnostics = run_calibration(
        panel_table,
        ctx.read("risk_models.csv"),
        codes,
        tuple(settings.comparisons),
        tuple(settings.exposures),
        settings.ease_threshold,
        settings.sd_form,
        truth,
        **covariate_sets(spec),
    )
    balance = balance_diagnostics(
        baseline_table(study.analysis_table).smd,
        tuple(settings.comparisons),
        settings.balance_threshold,
        **covariate_sets(spec),
    ).set_index("comparison")
    for column in balance.columns:
        diagnostics[column] = diagnostics["comparison"].map(balance[column])
    planted = planted_null(truth)
    extra = {"planted_null": planted} if planted else {}
    return write_calibration(controls, estimates, diagnostics, ctx.results_dir, extra)
