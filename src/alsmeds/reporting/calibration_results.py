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
from alsmeds.formatting import fixed, format_p, format_ratio, percent, signed
from alsmeds.models.calibration import MIN_NEGATIVE_CONTROLS, expected_absolute_systematic_error, fit_null
from alsmeds.precision import CSV_FLOAT_FORMAT
from alsmeds.reporting.describe import Note
from alsmeds.reporting.display import Table, show_table
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


# --------------------------------------------------------------------------- tables and text for the lesson


#: Text columns of the diagnostics (every other column is a number or a flag).
_DIAGNOSTIC_TEXT = ("comparison", "window", "error_model", "reason", "balance_variable", "balance_handled")


def _diagnostics_frame(calibration_json: Mapping[str, Any] | pd.DataFrame) -> pd.DataFrame:
    """The diagnostics as a frame: missing numbers (JSON ``null``, e.g. no null fitted on a small extract) as NaN."""
    if isinstance(calibration_json, pd.DataFrame):
        frame = calibration_json.copy()
    else:
        frame = pd.DataFrame(calibration_json.get("diagnostics") or [], columns=list(CALIBRATION_DIAGNOSTIC_COLUMNS))
    for column in frame.columns:
        if column in _DIAGNOSTIC_TEXT:
            frame[column] = frame[column].fillna("").astype(str)
        elif column not in ("ease_pass", "balance_pass", "null_at_boundary", "error_model_at_boundary"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _interval_text(estimate: float, lower: float, upper: float, decimals: int = 2) -> str:
    return format_ratio(estimate, lower, upper, decimals=decimals) if np.isfinite(estimate) else "n.a."


def panel_text(controls: pd.DataFrame, comparison: str = "population", window: str = "gt1") -> str:
    """How many controls the panel has and how many could be fitted in one comparison and term.

    Parameters
    ----------
    controls : DataFrame
        ``calibration_controls.csv``.
    comparison, window : str

    Returns
    -------
    str
        Negative and positive controls in the file, those estimable here (the others with their reasons counted),
        and the positive controls' true odds ratios.
    """
    rows = controls[(controls["comparison"] == comparison) & (controls["window"] == window)]
    if rows.empty:
        return f"no controls were fitted in the {comparison} comparison"
    estimable = rows["estimable"].astype(bool)
    parts = []
    for level, name in (("negative_control", "negative controls"), ("positive_control", "positive controls")):
        mine = rows[rows["control_type"] == level]
        parts.append(f"{len(mine)} {name} ({int(estimable[mine.index].sum())} estimable)")
    positives = rows[rows["control_type"] == "positive_control"]
    true_ors = sorted({round(float(np.exp(x)), 2) for x in positives["true_log_or"]})
    text = f"The panel in the {comparison} comparison, term {window}: " + " and ".join(parts) + "."
    if true_ors:
        text += " True odds ratios of the positive controls: " + ", ".join(f"{x:g}" for x in true_ors) + "."
    reasons = rows.loc[~estimable, "reason"].dropna().astype(str)
    if len(reasons):
        text += " Not estimable: " + "; ".join(f"{n} ({r})" for r, n in reasons.value_counts().items()) + "."
    return text


def false_positive_text(calibration_json: Mapping[str, Any] | pd.DataFrame, window: str = "gt1") -> str:
    """Per comparison: the share of negative controls 'significant' at 5% before and after leave-one-out calibration."""
    diagnostics = _diagnostics_frame(calibration_json)
    rows = diagnostics[diagnostics["window"] == window]
    if rows.empty:
        return "no diagnostics"
    lines = []
    for r in rows.itertuples(index=False):
        if not np.isfinite(r.uncalibrated_false_positive_rate):
            lines.append(f"{r.comparison}: no empirical null ({r.reason})")
            continue
        lines.append(
            f"{r.comparison}: {percent(r.uncalibrated_false_positive_rate)} of {int(r.n_negative_controls)} negative "
            f"controls have p < 0.05 before calibration, {percent(r.loo_false_positive_rate)} after (leave-one-out)"
        )
    return "\n".join(lines)


def null_table(calibration_json: Mapping[str, Any] | pd.DataFrame, window: str = "gt1") -> pd.DataFrame:
    """The empirical null and the study diagnostics of each comparison, for people.

    Returns
    -------
    DataFrame
        One row per comparison: negative controls, ``mu`` and ``tau`` with 95% profile-likelihood intervals (log
        odds ratio scale), EASE with its verdict, the minimum detectable odds ratio before and after calibration, and
        the balance diagnostic (largest SMD of Table 1, its variable and how the model handles it).
    """
    diagnostics = _diagnostics_frame(calibration_json)
    rows = []
    for r in diagnostics[diagnostics["window"] == window].itertuples(index=False):
        ok = np.isfinite(r.null_mu)
        rows.append(
            {
                "comparison": r.comparison,
                "negative controls": int(r.n_negative_controls),
                "mu (95% CI)": f"{fixed(r.null_mu, 2)} ({fixed(r.null_mu_lower, 2)} to {fixed(r.null_mu_upper, 2)})"
                if ok
                else "n.a.",
                "tau (95% CI)": f"{fixed(r.null_tau, 2)} ({fixed(r.null_tau_lower, 2)} to {fixed(r.null_tau_upper, 2)})"
                if ok
                else "n.a.",
                "EASE": f"{fixed(r.ease, 2)} ({'passes' if r.ease_pass else 'fails'})" if ok else "n.a.",
                "min. detectable OR": f"{fixed(r.min_detectable_or, 2)} -> {fixed(r.min_detectable_or_calibrated, 2)}"
                if np.isfinite(r.min_detectable_or) and np.isfinite(r.min_detectable_or_calibrated)
                else "n.a.",
                "balance (largest SMD)": f"{fixed(r.balance_max_smd, 2)} {r.balance_variable} ({r.balance_handled})"
                if np.isfinite(r.balance_max_smd)
                else "n.a.",
            }
        )
    return pd.DataFrame(rows)


def null_against_truth_text(calibration_json: Mapping[str, Any] | pd.DataFrame, truth: Truth | None) -> str:
    """The fitted null beside the planted distribution and the realised null of this panel (synthetic data only)."""
    truth = as_truth(truth)
    planted = truth.panel_planted_null if truth is not None else {}
    if not planted:
        return "no planted truth: the null cannot be checked against one (a real extract)"
    diagnostics = _diagnostics_frame(calibration_json)
    lines = [
        "Planted: the panel's systematic errors (population, lagged, adjusted) were drawn from "
        f"N({fixed(planted['mean'], 2)}, {fixed(planted['sd'], 2)}^2); the {int(planted['n_drawn'])} draws have "
        f"mean {fixed(planted['drawn_mean'], 3)} and SD {fixed(planted['drawn_sd'], 3)}."
    ]
    for r in diagnostics[diagnostics["window"] == "gt1"].itertuples(index=False):
        if not (np.isfinite(r.null_mu) and np.isfinite(r.implied_null_mean)):
            continue
        lines.append(
            f"{r.comparison}: fitted mu {fixed(r.null_mu, 3)} (SE {fixed(r.null_mu_se, 3)}), "
            f"tau {fixed(r.null_tau, 3)}; "
            f"the controls' implied errors at large scale: mean {fixed(r.implied_null_mean, 3)}, SD "
            f"{fixed(r.implied_null_sd, 3)} (z of mu {signed(r.null_mu_z, 1)})"
        )
    return "\n".join(lines)


def calibrated_estimates_table(
    estimates: pd.DataFrame, calibration_json: Mapping[str, Any] | pd.DataFrame, comparison: str = "population"
) -> pd.DataFrame:
    """The main estimates of one comparison before and after calibration, with what the calibrated interval shows.

    Returns
    -------
    DataFrame
        One row per class and term: ``published`` (yes when a published target), the odds ratio and the calibrated
        odds ratio with 95% CIs, the calibrated p-value and the verdict of
        :func:`alsmeds.reporting.reproduction.after_calibration` (gated by EASE).
    """
    from alsmeds.reporting.reproduction import after_calibration

    diagnostics = _diagnostics_frame(calibration_json)
    rows = []
    for r in estimates[estimates["comparison"] == comparison].itertuples(index=False):
        found = diagnostics[(diagnostics["comparison"] == comparison) & (diagnostics["window"] == r.window)]
        rows.append(
            {
                "drug_class": r.drug_class,
                "window": r.window,
                "published": "yes" if isinstance(r.published_target, str) and r.published_target else "",
                "OR (95% CI)": _interval_text(r.odds_ratio, r.ci_lower, r.ci_upper),
                "calibrated OR (95% CI)": _interval_text(
                    r.calibrated_odds_ratio, r.calibrated_ci_lower, r.calibrated_ci_upper
                ),
                "calibrated p": format_p(r.calibrated_p),
                "after calibration": after_calibration(
                    r.calibrated_ci_lower, r.calibrated_ci_upper, found.iloc[0].to_dict() if len(found) else None
                ),
            }
        )
    return pd.DataFrame(rows)


def calibration_against_truth(estimates: pd.DataFrame, truth: Truth | None) -> pd.DataFrame | None:
    """The population comparison's lagged estimates, before and after calibration, beside two estimands.

    The *population* estimand (what the population comparison converges to, confounded by the familial factor,
    the psychiatric liability and the prescribing propensity) and the *sibling* estimand (the same model within
    families, which removes the familial factor): both computed at large scale (``truth.json``
    ``estimands.implied``).  If the controls' systematic errors are exchangeable with the study classes', the
    calibrated estimate moves from the first towards an estimand free of the shared biases; the sibling
    estimand is the nearest such quantity the truth holds (it still differs from the causal odds ratio by the
    within-family confounding and by non-collapsibility).  None without a truth.
    """
    truth = as_truth(truth)
    if truth is None or "population_per_class" not in truth.implied_models:
        return None
    rows = []
    for r in estimates[(estimates["comparison"] == "population") & (estimates["window"] == "gt1")].itertuples():
        term = f"{r.drug_class}_gt1"
        population = truth.implied_log_or("population_per_class", term).value
        sibling = (
            truth.implied_log_or("sibling_per_class", term).value
            if "sibling_per_class" in truth.implied_models
            else np.nan
        )
        rows.append(
            {
                "drug_class": r.drug_class,
                "OR (95% CI)": _interval_text(r.odds_ratio, r.ci_lower, r.ci_upper),
                "calibrated OR (95% CI)": _interval_text(
                    r.calibrated_odds_ratio, r.calibrated_ci_lower, r.calibrated_ci_upper
                ),
                "population estimand": float(np.exp(population)),
                "sibling estimand": float(np.exp(sibling)),
                "sibling estimand in calibrated CI": "yes"
                if r.calibrated_ci_lower <= np.exp(sibling) <= r.calibrated_ci_upper
                else "no",
                "population estimand in uncalibrated CI": "yes"
                if r.ci_lower <= np.exp(population) <= r.ci_upper
                else "no",
            }
        )
    return pd.DataFrame(rows)


def diagnostic_row(calibration_json: Mapping[str, Any] | pd.DataFrame, comparison: str, window: str) -> dict[str, Any]:
    """One comparison and term's diagnostics of ``empirical_calibration.json`` as a dict ({} when absent)."""
    diagnostics = _diagnostics_frame(calibration_json)
    found = diagnostics[(diagnostics["comparison"] == comparison) & (diagnostics["window"] == window)]
    return found.iloc[0].to_dict() if len(found) else {}


def null_by_panel_size(
    controls: pd.DataFrame, comparison: str = "population", window: str = "gt1", sizes: tuple[int, ...] = (5, 10, 20)
) -> pd.DataFrame:
    """The empirical null refitted to the first ``n`` negative controls of the panel's file, for each ``n``.

    How many controls a null needs: ``mu`` and ``tau`` with their 95% profile-likelihood intervals from the
    first 5, 10, 20 and all estimable negative controls, in the order of the code list (the PPIs first).
    Uses :func:`alsmeds.models.calibration.fit_null`.
    """
    rows = controls[
        (controls["comparison"] == comparison)
        & (controls["window"] == window)
        & (controls["control_type"] == "negative_control")
        & controls["estimable"].astype(bool)
    ]
    rows = rows[np.isfinite(rows["log_or"].astype(float)) & np.isfinite(rows["se"].astype(float))]
    if len(rows) < MIN_NEGATIVE_CONTROLS:
        reason = f"not estimable: {len(rows)} estimable negative controls (at least {MIN_NEGATIVE_CONTROLS} needed)"
        return pd.DataFrame([{"negative controls": len(rows), "mu (95% CI)": reason, "tau (95% CI)": "", "EASE": ""}])
    out = []
    for n in sorted({*(s for s in sizes if MIN_NEGATIVE_CONTROLS <= s < len(rows)), len(rows)}):
        null = fit_null(rows["log_or"].to_numpy()[:n], rows["se"].to_numpy()[:n])
        mu, tau = float(null.params["mu"]), float(null.params["tau"])
        profile = null.profile_ci()
        out.append(
            {
                "negative controls": n,
                "mu (95% CI)": f"{fixed(mu, 2)} ({fixed(profile.loc['mu', 'lower'], 2)} to "
                f"{fixed(profile.loc['mu', 'upper'], 2)})",
                "tau (95% CI)": f"{fixed(tau, 2)} ({fixed(profile.loc['tau', 'lower'], 2)} to "
                f"{fixed(profile.loc['tau', 'upper'], 2)})",
                "EASE": fixed(expected_absolute_systematic_error((mu, tau)), 2),
            }
        )
    return pd.DataFrame(out)


def coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """The calibration check for people: coverage of uncalibrated and calibrated intervals, per mechanism and group.

    Parameters
    ----------
    coverage : DataFrame
        ``calibration_coverage.csv`` (:data:`alsmeds.analyses.calibration_check.CALIBRATION_COVERAGE_COLUMNS`).

    Returns
    -------
    DataFrame
        One row per mechanism and group of controls: replicates, the coverage of the planted odds ratio by the
        uncalibrated, the calibrated and the null-calibrated 95% intervals and the width ratio, each with its Monte
        Carlo SE in brackets; empty when the check was not run.
    """

    def cell(value: float, mcse: float, share: bool = True) -> str:
        if not np.isfinite(value):
            return "n.a."
        if share:
            return f"{percent(value, 1)} ({fixed(100 * mcse, 1)})"
        return f"{fixed(value, 2)} ({fixed(mcse, 2)})"

    rows = []
    for r in coverage.itertuples(index=False):
        rows.append(
            {
                "mechanism": r.mechanism.replace("_", " "),
                "controls": "35 negative" if r.group == "negative_controls" else f"positive, OR {r.true_or:g}",
                "replicates": int(r.n_reps),
                "uncalibrated": cell(r.uncalibrated_coverage, r.uncalibrated_coverage_mcse),
                "calibrated": cell(r.calibrated_coverage, r.calibrated_coverage_mcse),
                "null-calibrated": cell(r.null_calibrated_coverage, r.null_calibrated_coverage_mcse),
                "width ratio": cell(r.width_ratio, r.width_ratio_mcse, share=False),
            }
        )
    return pd.DataFrame(rows)


def show_against_truth(estimates: pd.DataFrame, truth: Truth | None) -> Table | Note:
    """:func:`calibration_against_truth` as a captioned table, or a note saying there is no truth (a real extract)."""
    against = calibration_against_truth(estimates, truth)
    if against is None:
        return Note("no planted truth (a real extract): nothing to put the calibrated estimates beside")
    return show_table(against, index=False, caption="Population, >1 y: estimates beside the two estimands")
