"""Machine-readable results of the survival analysis (notebook 05) and their documented schemas.

* ``results/survival_cox.csv`` and ``.json``: Cox model estimates, written by
  :func:`alsmeds.reporting.results.write_estimates` with :data:`SURVIVAL_COX_COLUMNS` as the schema
  (``{"schema": ..., "estimates": [...]}``).
* ``results/followup.json``: follow-up after diagnosis (:func:`write_followup`), with
  :data:`FOLLOWUP_FIELDS` as its ``schema`` key.

Two helpers put the Cox intervals in context (notebook 05): :func:`robust_standard_errors`
refits each model with lifelines' sandwich (Lin-Wei) variance, and :func:`cox_se_performance`
reads how the model-based SEs performed in the simulation study
(``results/simstudy_performance.csv``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.data.write import write_json_atomic
from alsmeds.truth import Truth, as_truth, distance_z

SURVIVAL_COX_FILE = "survival_cox"
FOLLOWUP_FILE = "followup.json"

#: Meaning of the columns of results/survival_cox.{csv,json}.
SURVIVAL_COX_COLUMNS = {
    "model": "per_class (one class with the adjustment set, as the paper) or mutual (the three classes together)",
    "drug_class": "anxiolytics, hypnotics or antidepressants for an exposure term; empty for a covariate",
    "term": "model term: use_<class> (any qualifying use before diagnosis), age_per_10y ((age - 65) / 10), male, "
    "bulbar, diagnostic_delay_months, alsfrs_baseline (ALSFRS-R total at diagnosis)",
    "term_label": "readable name of the term",
    "is_exposure": "true for the prediagnostic-use terms",
    "log_hr": "log hazard ratio of death or invasive ventilation (Cox, Efron ties), conditional on the other terms",
    "se": "standard error of log_hr (inverse observed information)",
    "hazard_ratio": "exp(log_hr)",
    "ci_lower": "lower 95% Wald limit of the hazard ratio",
    "ci_upper": "upper 95% Wald limit of the hazard ratio",
    "p_value": "two-sided Wald p-value",
    "n": "cases in the model (complete cases)",
    "events": "deaths or invasive ventilations in the model",
    "exposed": "users of the class in the model (exposure terms only)",
    "exposed_events": "events among those users (exposure terms only)",
    "ph_chisq": "Grambsch-Therneau test of proportional hazards for the term (scaled Schoenfeld residuals, "
    "Kaplan-Meier time transform; 1 df)",
    "ph_p_value": "its p-value",
    "estimable": "false when the term could not be estimated (left out of the model) or the model failed",
    "reason": "why a term is not estimable, e.g. no users of the class or no event among them (empty otherwise)",
    "implied_log_hr": "the log hazard ratio this model estimates under the planted joint model, computed numerically "
    "(alsmeds.simulate.prognosis_truth); empty without a planted truth or for covariates",
    "implied_mc_se": "Monte Carlo standard error of implied_log_hr",
    "direct_log_hr": "the planted direct (joint-model) log hazard ratio of the class; empty without a planted truth",
}

#: Keys of results/followup.json.
FOLLOWUP_FIELDS = {
    "n_cases": "ALS cases followed from diagnosis",
    "events": "deaths or invasive ventilations (the first of the two)",
    "deaths": "follow-up ended by death",
    "invasive_ventilations": "follow-up ended by invasive ventilation",
    "censored_end_of_follow_up": "event-free at the end of follow-up (extract.json end_of_follow_up)",
    "censored_emigration": "event-free at emigration",
    "person_years": "total observed follow-up, years",
    "events_per_100_person_years": "crude event rate",
    "observed_followup_years": "median, q1, q3 of observed follow-up (to the event or censoring), years; "
    "numpy.quantile with linear interpolation; the paper's measure",
    "potential_followup_years_reverse_km": "median, q1, q3 of potential follow-up by the reverse Kaplan-Meier method "
    "(censoring as the event), years; null when not reached",
    "published_followup_years": "the paper's median (IQR) follow-up, years (alsmeds.published)",
    "alsfrs_at_diagnosis": "ALSFRS-R at diagnosis (visit on the diagnosis date or first within 30 days): cases with a "
    "score, mean, SD",
    "planted_sample_followup_years": "quartiles of follow-up recorded by the generator in truth.json this_sample "
    "(q1, median, q3); null for a real extract",
    "data_dir": "the register extract analysed",
}


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_followup(summary: dict, results_dir: str | Path, extra: dict | None = None) -> Path:
    """Write ``results/followup.json``: ``{"schema": FOLLOWUP_FIELDS, "followup": {...}}``, atomically.

    Parameters
    ----------
    summary : dict
        :func:`alsmeds.models.km.followup_summary`.
    results_dir : path-like
    extra : dict, optional
        Further keys (``planted_sample_followup_years``, ``data_dir``).
    """
    payload = {"schema": FOLLOWUP_FIELDS, "followup": _clean({**summary, **(extra or {})})}
    return write_json_atomic(Path(results_dir) / FOLLOWUP_FILE, json.loads(json.dumps(payload, default=str)))


def read_followup(results_dir: str | Path) -> dict:
    """The ``followup`` object of ``results/followup.json``."""
    return json.loads((Path(results_dir) / FOLLOWUP_FILE).read_text())["followup"]


def add_implied(cox: pd.DataFrame, truth: Truth | Mapping[str, Any] | None) -> pd.DataFrame:
    """Add the implied (numerical truth) and direct log hazard ratios to a Cox table (empty without a truth).

    Parameters
    ----------
    cox : DataFrame
        :func:`alsmeds.models.cox.cox_table`.
    truth : Truth, dict or None
        The planted truth (:attr:`alsmeds.Study.planted_truth`, or ``Study.truth``); None (a real
        extract) or a truth without the Cox models' implied estimands
        (:func:`alsmeds.simulate.prognosis_truth.implied_cox_estimands`) leaves the columns empty.
        ``implied_log_hr``, ``implied_mc_se``: :meth:`alsmeds.truth.Truth.implied_cox`;
        ``direct_log_hr``: :meth:`alsmeds.truth.Truth.planted_log_hr_direct`.
    """
    truth = as_truth(truth)
    out = cox.copy()
    out["implied_log_hr"] = np.nan
    out["implied_mc_se"] = np.nan
    out["direct_log_hr"] = np.nan
    if truth is not None and truth.has_implied_cox:
        direct = truth.planted_log_hr_direct_by_class
        for i, row in out[out["is_exposure"]].iterrows():
            est = truth.implied_cox_terms(row["model"]).get(row["drug_class"])
            if est is not None:
                out.loc[i, ["implied_log_hr", "implied_mc_se"]] = [est.value, est.mc_se]
            out.loc[i, "direct_log_hr"] = direct.get(row["drug_class"], np.nan)
    return out[list(SURVIVAL_COX_COLUMNS)]


__all__ = [
    "FOLLOWUP_FIELDS",
    "FOLLOWUP_FILE",
    "ROBUST_SE_COLUMNS",
    "SURVIVAL_COX_COLUMNS",
    "SURVIVAL_COX_FILE",
    "add_implied",
    "compare_with_implied",
    "cox_se_performance",
    "read_followup",
    "robust_standard_errors",
    "write_followup",
]

#: Columns of :func:`robust_standard_errors`.
ROBUST_SE_COLUMNS = [
    "model", "drug_class", "term", "hazard_ratio", "se", "robust_se", "robust_over_model", "robust_ci_lower",
    "robust_ci_upper",
]  # fmt: skip


def robust_standard_errors(fits: Sequence[Any], strata: Sequence[str] = ()) -> pd.DataFrame:
    """Sandwich (Lin-Wei) standard errors of the exposure terms of fitted Cox models, beside the model-based ones.

    Each model is refitted by lifelines' ``CoxPHFitter`` with ``robust=True`` on the design it
    was fitted on (``CoxResult.design``; same Newton settings, Efron ties): the coefficients are
    those of the fit, only the variance changes.  The sandwich variance stays consistent when
    the model is misspecified (omitted heterogeneity, non-proportional hazards), where the
    inverse-information SE does not.  lifelines documents that its robust variance "does not
    handle ties" (the score residuals use no Efron correction), so with many tied event days it
    can differ from R's ``coxph(..., robust = TRUE)``.

    Parameters
    ----------
    fits : sequence of alsmeds.models.cox.CoxResult
        Fitted models (:func:`alsmeds.models.cox.fit_cox_models`); a model that was not fitted
        gives rows with missing SEs.
    strata : sequence of str
        The strata the models were fitted with (none for the per-class and mutual models).

    Returns
    -------
    DataFrame
        Columns :data:`ROBUST_SE_COLUMNS`, one row per exposure term: ``se`` model-based,
        ``robust_se`` sandwich, their ratio, and the hazard ratio's 95% CI with the sandwich SE.
    """
    from lifelines import CoxPHFitter

    from alsmeds.models.base import Z_975
    from alsmeds.models.cox import LIFELINES_FIT_OPTIONS

    rows = []
    for fit in fits:
        robust = pd.Series(dtype=float)
        if fit.estimable:
            cph = CoxPHFitter().fit(
                fit.design, duration_col="time", event_col="event", robust=True, strata=list(strata) or None,
                fit_options=dict(LIFELINES_FIT_OPTIONS), show_progress=False,
            )  # fmt: skip
            robust = cph.standard_errors_.astype(float)
        for term in fit.exposures:
            beta = float(fit.params.get(term, np.nan))
            se = float(fit.bse.get(term, np.nan))
            rse = float(robust.get(term, np.nan))
            rows.append({
                "model": fit.model, "drug_class": term.removeprefix("use_"), "term": term,
                "hazard_ratio": float(np.exp(beta)), "se": se, "robust_se": rse, "robust_over_model": rse / se,
                "robust_ci_lower": float(np.exp(beta - Z_975 * rse)),
                "robust_ci_upper": float(np.exp(beta + Z_975 * rse)),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=ROBUST_SE_COLUMNS)


def cox_se_performance(results_dir: str | Path) -> pd.DataFrame:
    """How the Cox models' model-based SEs performed in the simulation study (notebook 09).

    Parameters
    ----------
    results_dir : path-like
        A folder holding ``simstudy_performance.csv`` (``alsmeds simstudy``; the committed
        ``results/`` has the study of 250 replicates at the paper's size).

    Returns
    -------
    DataFrame
        Cox rows (``family == "cox"``): ``model``, ``drug_class``, ``n_reps``, ``relerr_modse``
        (percent: 100 (model SE / empirical SE - 1)) and its Monte Carlo SE, ``coverage`` of the
        95% Wald interval and its Monte Carlo SE; empty when the file is missing.
    """
    path = Path(results_dir) / "simstudy_performance.csv"
    columns = ["model", "drug_class", "n_reps", "relerr_modse", "relerr_modse_mcse", "coverage", "coverage_mcse"]
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    perf = pd.read_csv(path)
    cox = perf[perf["family"] == "cox"].copy()
    cox["drug_class"] = cox["term"].str.removeprefix("use_")
    return cox[columns].reset_index(drop=True)


def compare_with_implied(results: pd.DataFrame) -> pd.DataFrame:
    """Each exposure's Cox hazard ratio beside the total effect the generator implies, and the direct one.

    Parameters
    ----------
    results : DataFrame
        Cox estimates with the implied columns of :func:`add_implied`.

    Returns
    -------
    DataFrame
        ``model``, ``drug_class``, ``estimate`` (the hazard ratio), ``implied total``,
        ``z`` = (log HR - implied log HR) / sqrt(SE^2 + MC SE^2) (the implied value has
        its own Monte Carlo error), ``planted direct`` (the joint model's hazard ratio)
        and ``published joint model``.
    """
    from alsmeds.published import PUBLISHED_PROGNOSIS

    shown = results[results["is_exposure"]].copy()
    shown["estimate"] = shown["hazard_ratio"]
    shown["implied total"] = np.exp(shown["implied_log_hr"])
    shown["z"] = distance_z(shown["log_hr"], shown["se"], shown["implied_log_hr"], shown["implied_mc_se"])
    shown["planted direct"] = np.exp(shown["direct_log_hr"])
    shown["published joint model"] = shown["drug_class"].map(lambda k: PUBLISHED_PROGNOSIS[k][0])
    columns = ["model", "drug_class", "estimate", "implied total", "z", "planted direct", "published joint model"]
    return shown[columns].reset_index(drop=True)
