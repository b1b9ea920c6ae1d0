"""Machine-readable results of the survival analysis (notebook 05) and their documented schemas.

* ``results/survival_cox.csv`` and ``.json``: Cox model estimates, written by
  :func:`alsmeds.reporting.results.write_estimates` with :data:`SURVIVAL_COX_COLUMNS` as the schema
  (``{"schema": ..., "estimates": [...]}``).
* ``results/followup.json``: follow-up after diagnosis (:func:`write_followup`), with
  :data:`FOLLOWUP_FIELDS` as its ``schema`` key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.data.write import write_json_atomic

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


def add_implied(cox: pd.DataFrame, implied: dict | None) -> pd.DataFrame:
    """Add the implied (numerical truth) and direct log hazard ratios to a Cox table (empty without a truth).

    Parameters
    ----------
    cox : DataFrame
        :func:`alsmeds.models.cox.cox_table`.
    implied : dict or None
        :func:`alsmeds.simulate.prognosis_truth.implied_cox_estimands`.
    """
    out = cox.copy()
    out["implied_log_hr"] = np.nan
    out["implied_mc_se"] = np.nan
    out["direct_log_hr"] = np.nan
    if implied:
        for i, row in out[out["is_exposure"]].iterrows():
            est = implied.get(row["model"], {}).get(row["drug_class"])
            if est is not None:
                out.loc[i, ["implied_log_hr", "implied_mc_se"]] = [est["log_hr"], est["mc_se"]]
            out.loc[i, "direct_log_hr"] = implied["direct"].get(row["drug_class"], np.nan)
    return out[list(SURVIVAL_COX_COLUMNS)]


__all__ = [
    "FOLLOWUP_FIELDS",
    "FOLLOWUP_FILE",
    "SURVIVAL_COX_COLUMNS",
    "SURVIVAL_COX_FILE",
    "add_implied",
    "read_followup",
    "write_followup",
]


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
    shown["z"] = (shown["log_hr"] - shown["implied_log_hr"]) / np.hypot(shown["se"], shown["implied_mc_se"])
    shown["planted direct"] = np.exp(shown["direct_log_hr"])
    shown["published joint model"] = shown["drug_class"].map(lambda k: PUBLISHED_PROGNOSIS[k][0])
    columns = ["model", "drug_class", "estimate", "implied total", "z", "planted direct", "published joint model"]
    return shown[columns].reset_index(drop=True)
