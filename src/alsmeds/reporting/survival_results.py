"""Machine-readable results of the survival analysis (notebook 05) and their documented schemas.

* ``results/survival_cox.csv`` and ``.json``: Cox model estimates, written by
  :func:`alsmeds.reporting.results.write_estimates` with :data:`SURVIVAL_COX_COLUMNS` as the schema
  (``{"schema": ..., "estimates": [...]}``).
* ``results/followup.json``: follow-up after diagnosis (:func:`write_followup`), with
  :data:`FOLLOWUP_FIELDS` as its ``schema`` key.

Two helpers put the Cox intervals in context (notebook 05): :func:`robust_standard_errors`
gathers each model's sandwich (Lin-Wei) SEs (``CoxResult.robust_bse``, also the ``robust_*``
columns of ``survival_cox.csv``), and :func:`cox_se_performance`
reads how the model-based SEs performed in the simulation study
(``results/simstudy_performance.csv``).

The tables and sentences notebook 05 shows are built here, from the survival data, the
results files (``followup.json``, ``survival_cox.csv``) and the fitted models it is given,
so that each of its cells is one or two calls: the survival data described
(:func:`survival_data_summary`, :func:`end_of_followup_counts`, :func:`example_patients`,
:func:`followup_by_year`, :func:`censoring_sentence`, :func:`event_rate_sentence`,
:func:`followup_table`), Kaplan-Meier medians and log-rank tests
(:func:`median_survival_table`, :func:`logrank_table`), the Cox estimates
(:func:`cox_exposure_table`, :func:`cox_fit_notes`, :func:`covariates_sentence`,
:func:`model_terms_table`), their intervals and E-values (:func:`se_performance_sentence`,
:func:`tied_events_sentence`, :func:`robust_se_table`, :func:`cox_evalue_table`), the
proportional-hazards checks and their remedies (:func:`ph_test_sentence`, :func:`ph_test_table`,
:func:`age_handling_table`, :func:`rmst_months`), the comparison with the planted targets
(:func:`has_implied`, :func:`implied_sample_sentence`, :func:`implied_comparison_table`) and
the "try this" variants (:func:`baseline_score_by_use`, :func:`prediagnostic_use_differs`,
:func:`per_class_cox_variants`).  A table read back from ``survival_cox.csv`` has missing
text and counts where the fitted table has empty strings and integers; every function here
takes either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.data.write import write_json_atomic
from alsmeds.formatting import fixed, format_p, format_ratio, percent
from alsmeds.labels import MODEL_NAMES
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
    "se": "standard error of log_hr (inverse observed information: model-based)",
    "hazard_ratio": "exp(log_hr)",
    "ci_lower": "lower 95% Wald limit of the hazard ratio (model-based se)",
    "ci_upper": "upper 95% Wald limit of the hazard ratio (model-based se)",
    "p_value": "two-sided Wald p-value (model-based se)",
    "robust_se": "robust standard error of log_hr: Lin-Wei sandwich variance, each patient (one row) their own "
    "cluster, as R coxph(robust = TRUE); valid when the model is misspecified (omitted heterogeneity, non-proportional "
    "hazards), where the model-based se is not",
    "robust_ci_lower": "lower 95% Wald limit of the hazard ratio with robust_se: exp(log_hr - 1.96 robust_se)",
    "robust_ci_upper": "upper 95% Wald limit of the hazard ratio with robust_se: exp(log_hr + 1.96 robust_se)",
    "robust_p_value": "two-sided Wald p-value with robust_se",
    "n": "cases in the model (complete cases)",
    "events": "deaths or invasive ventilations in the model",
    "exposed": "users of the class in the model (exposure terms only)",
    "exposed_events": "events among those users (exposure terms only)",
    "ph_chisq": "test of proportional hazards for the term: R survival's cox.zph (>= 3.0) score test of adding "
    "g(t) x to the model, g one minus the Kaplan-Meier estimate (Grambsch-Therneau, scaled Schoenfeld residuals; "
    "1 df)",
    "ph_p_value": "its p-value",
    "estimable": "false when the term could not be estimated (left out of the model) or the model failed",
    "reason": "why a term is not estimable, e.g. no users of the class or no event among them (empty otherwise)",
    "implied_log_hr": "the log hazard ratio this model estimates under the planted joint model, computed numerically "
    "(alsmeds.estimands.cox); empty without a planted truth or for covariates",
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
        (:func:`alsmeds.estimands.cox.implied_cox_estimands`) leaves the columns empty.
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
    "age_handling_table",
    "baseline_score_by_use",
    "censoring_sentence",
    "compare_with_implied",
    "covariates_sentence",
    "cox_evalue_table",
    "cox_exposure_table",
    "cox_fit_notes",
    "cox_se_performance",
    "end_of_followup_counts",
    "event_rate_sentence",
    "example_patients",
    "followup_by_year",
    "followup_table",
    "has_implied",
    "implied_comparison_table",
    "implied_sample_sentence",
    "logrank_table",
    "median_survival_table",
    "model_terms_table",
    "per_class_cox_variants",
    "ph_test_sentence",
    "ph_test_table",
    "prediagnostic_use_differs",
    "read_followup",
    "rmst_months",
    "robust_se_table",
    "robust_standard_errors",
    "se_performance_sentence",
    "survival_data_summary",
    "tied_events_sentence",
    "write_followup",
]

#: Columns of :func:`robust_standard_errors`.
ROBUST_SE_COLUMNS = [
    "model", "drug_class", "term", "hazard_ratio", "se", "robust_se", "robust_over_model", "robust_ci_lower",
    "robust_ci_upper",
]  # fmt: skip


def robust_standard_errors(fits: Sequence[Any], strata: Sequence[str] = ()) -> pd.DataFrame:
    """Sandwich (Lin-Wei) standard errors of the exposure terms of fitted Cox models, beside the model-based ones.

    The robust SEs are those of the fits (``CoxResult.robust_bse``: the bundle's Cox engine
    with each patient their own cluster, R's ``coxph(..., robust = TRUE)`` with Efron ties,
    ``tests/test_survival.py``): the coefficients are those of the fit, only the variance
    changes.  The sandwich variance stays consistent when the model is misspecified (omitted
    heterogeneity, non-proportional hazards), where the inverse-information SE does not.

    Parameters
    ----------
    fits : sequence of alsmeds.models.cox.CoxResult
        Fitted models (:func:`alsmeds.models.cox.fit_cox_models`); a model that was not fitted
        gives rows with missing SEs.
    strata : sequence of str
        Not used: each fit's robust SEs come with the strata it was fitted with (kept for
        callers that passed them when the models were refitted here by lifelines).

    Returns
    -------
    DataFrame
        Columns :data:`ROBUST_SE_COLUMNS`, one row per exposure term: ``se`` model-based,
        ``robust_se`` sandwich, their ratio, and the hazard ratio's 95% CI with the sandwich SE.
    """
    from alsmeds.models.base import Z_975

    del strata  # the fits carry their robust SEs
    rows = []
    for fit in fits:
        robust = fit.robust_bse if fit.estimable else pd.Series(dtype=float)
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
        ``results/`` has the study of 1,000 replicates at the paper's size).

    Returns
    -------
    DataFrame
        Cox rows with the model-based SE (``family == "cox"``, not the ``*_robust`` estimators, whose SE is the
        sandwich): ``model``, ``drug_class``, ``n_reps``, ``relerr_modse``
        (percent: 100 (model SE / empirical SE - 1)) and its Monte Carlo SE, ``coverage`` of the
        95% Wald interval and its Monte Carlo SE; empty when the file is missing.
    """
    path = Path(results_dir) / "simstudy_performance.csv"
    columns = ["model", "drug_class", "n_reps", "relerr_modse", "relerr_modse_mcse", "coverage", "coverage_mcse"]
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    perf = pd.read_csv(path)
    cox = perf[(perf["family"] == "cox") & ~perf["model"].astype(str).str.endswith("_robust")].copy()  # model-based
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


# ----------------------------------------------------------------------------------------------------------------
# What notebook 05 shows: tables and sentences from the survival data, the results files and fitted models
# ----------------------------------------------------------------------------------------------------------------

#: Statuses of the survival data in the order of the example patients (:func:`example_patients`).
EXAMPLE_STATUSES = ("death", "invasive_ventilation", "end_of_follow_up")
#: Columns of the example patients.
EXAMPLE_COLUMNS = [
    "person_id", "diagnosis_date", "end_date", "status", "time", "event", "age", "onset_site", "alsfrs_baseline",
    *(f"use_{k}" for k in CLASSES),
]  # fmt: skip


def _readable_status(status: Any) -> str:
    return str(status).replace("_", " ")


def _text(values: pd.Series) -> pd.Series:
    """Text read back from a CSV: missing -> empty string."""
    return values.astype(object).where(values.notna(), "")


def _count(value: Any) -> str:
    """A count as text (``205``), whether stored as an integer or read back as a float; ``n.a.`` when missing."""
    return "n.a." if value is None or pd.isna(value) else str(int(value))


def _cox_rows(cox: pd.DataFrame, model: str | None = None, exposures: bool | None = None) -> pd.DataFrame:
    """Rows of a Cox results table (fitted or read back), text as strings; optionally one model's, exposures only."""
    out = cox.copy()
    for column in ("drug_class", "reason"):
        if column in out:
            out[column] = _text(out[column])
    keep = pd.Series(True, index=out.index)
    if model is not None:
        keep &= out["model"] == model
    if exposures is not None:
        keep &= out["is_exposure"].astype(bool) == exposures
    return out[keep].reset_index(drop=True)


def _ratio_text(rows: pd.DataFrame) -> list[str]:
    """``"1.70 (1.43-2.01)"`` per row, or ``"not estimable: <reason>"``."""
    return [format_ratio(r.hazard_ratio, r.ci_lower, r.ci_upper, r.reason) for r in rows.itertuples()]


def survival_data_summary(data: pd.DataFrame, classes: Sequence[str] = CLASSES) -> str:
    """Two lines on the survival data: missing and same-day baseline ALSFRS-R scores, and users of each class.

    Parameters
    ----------
    data : DataFrame
        Survival data (:attr:`alsmeds.Study.survival_data`): ``alsfrs_baseline`` (the score
        at diagnosis, missing when no visit within 30 days), ``alsfrs_baseline_day`` (days
        from diagnosis to that visit) and ``use_<class>`` (prediagnostic use, 0/1).
    classes : sequence of str

    Returns
    -------
    str
    """
    missing = int(data["alsfrs_baseline"].isna().sum())
    same_day = int((data["alsfrs_baseline_day"] == 0).sum())
    users = ", ".join(f"{k} {int(data[f'use_{k}'].sum())}" for k in classes)
    return f"baseline ALSFRS-R missing: {missing} | taken on the diagnosis date: {same_day}\nusers: {users}"


def end_of_followup_counts(data: pd.DataFrame) -> pd.DataFrame:
    """How follow-up ended: cases per status (death, invasive ventilation, end of follow-up, emigration), most first.

    Returns
    -------
    DataFrame
        One column ``cases``, indexed by the readable status (index name ``end of follow-up``).
    """
    status = data["status"].value_counts().rename("cases").rename_axis("end of follow-up")
    return status.rename(index=_readable_status).to_frame()


def example_patients(data: pd.DataFrame, statuses: Sequence[str] = EXAMPLE_STATUSES) -> pd.DataFrame:
    """The first patient of each status, as the survival analysis sees them (dates as dates, time in years).

    Parameters
    ----------
    data : DataFrame
        Survival data.
    statuses : sequence of str
        Statuses to show, one patient each (a status nobody has is skipped).

    Returns
    -------
    DataFrame
        :data:`EXAMPLE_COLUMNS`, one row per status.
    """
    example = pd.concat([data[data["status"] == s].head(1) for s in statuses])[EXAMPLE_COLUMNS]
    return example.assign(
        diagnosis_date=example["diagnosis_date"].dt.date,
        end_date=example["end_date"].dt.date,
        status=example["status"].map(_readable_status),
    )


def followup_by_year(data: pd.DataFrame, end_of_follow_up: Any) -> pd.DataFrame:
    """Cases, events and censored cases by year of diagnosis, with the longest follow-up the extract allowed.

    Administrative censoring shows here: a case diagnosed in the extract's last year can be
    followed for at most a year, whatever happens to it.

    Parameters
    ----------
    data : DataFrame
        Survival data (``diagnosis_date``, ``event``).
    end_of_follow_up : date-like
        The extract's end of follow-up (``extract.json``, ``Study.metadata["end_of_follow_up"]``).

    Returns
    -------
    DataFrame
        Indexed by ``year``: ``cases``, ``events``, ``censored`` and ``longest possible
        follow-up, years`` (from the year's first diagnosis to the end of follow-up, in days /
        :data:`alsmeds.constants.DAYS_PER_YEAR`, as every time scale of the analysis).
    """
    from alsmeds.constants import DAYS_PER_YEAR

    end = pd.Timestamp(end_of_follow_up)
    by_year = (
        data.assign(year=data["diagnosis_date"].dt.year)
        .groupby("year")
        .agg(
            cases=("event", "size"),
            events=("event", "sum"),
            censored=("event", lambda e: int((e == 0).sum())),
            longest=("diagnosis_date", lambda d: (end - d.min()).days / DAYS_PER_YEAR),
        )
    )
    return by_year.rename(columns={"longest": "longest possible follow-up, years"})


def censoring_sentence(followup: Mapping[str, Any]) -> str:
    """How many cases were censored, at the end of follow-up and at emigration.

    Parameters
    ----------
    followup : dict
        The ``followup`` object of ``followup.json`` (or :func:`alsmeds.models.km.followup_summary`).
    """
    censored = int(followup["n_cases"]) - int(followup["events"])
    return (
        f"censored: {censored:,}, of whom at the end of follow-up {int(followup['censored_end_of_follow_up']):,}"
        f" and at emigration {int(followup['censored_emigration']):,}"
    )


def event_rate_sentence(followup: Mapping[str, Any]) -> str:
    """Events, person-years and the crude event rate per 100 person-years (``followup.json``)."""
    rate = followup.get("events_per_100_person_years")
    per_100 = "n.a." if rate is None else f"{rate:.1f}"
    person_years = f"{followup['person_years']:.0f} person-years"
    return f"{followup['events']} events in {person_years} ({per_100} per 100 person-years)"


def followup_table(followup: Mapping[str, Any]) -> pd.DataFrame:
    """Observed follow-up of this data and of the paper, and potential follow-up (reverse Kaplan-Meier), in years.

    Parameters
    ----------
    followup : dict
        The ``followup`` object of ``followup.json``.

    Returns
    -------
    DataFrame
        Rows ``observed (this data)``, ``observed (published)``, ``potential, reverse
        Kaplan-Meier``; columns ``median``, ``lower quartile``, ``upper quartile`` (missing
        where the reverse Kaplan-Meier curve does not reach the quantile).
    """
    rows = {
        "observed (this data)": followup["observed_followup_years"],
        "observed (published)": followup["published_followup_years"],
        "potential, reverse Kaplan-Meier": followup["potential_followup_years_reverse_km"],
    }
    table = pd.DataFrame(rows).T[["median", "q1", "q3"]]
    return table.rename(columns={"q1": "lower quartile", "q3": "upper quartile"})


def median_survival_table(medians: pd.DataFrame) -> pd.DataFrame:
    """Median event-free survival of users and non-users of each class, with its 95% CI, as text.

    Parameters
    ----------
    medians : DataFrame
        :func:`alsmeds.models.km.median_survival`.

    Returns
    -------
    DataFrame
        ``drug_class``, ``group``, ``n``, ``events`` and ``median (95% CI), years``
        (``not reached`` for a median or a limit the curve does not reach).
    """
    text = [
        "not reached"
        if not np.isfinite(r.median_years)
        else f"{r.median_years:.2f} ({r.median_lower:.2f}-{r.median_upper:.2f})".replace("nan", "not reached")
        for r in medians.itertuples()
    ]
    return medians[["drug_class", "group", "n", "events"]].assign(**{"median (95% CI), years": text})


def logrank_table(logrank: pd.DataFrame) -> pd.DataFrame:
    """Log-rank tests of users against non-users, with readable headers and p-values as text.

    Parameters
    ----------
    logrank : DataFrame
        :func:`alsmeds.models.km.logrank_by_use`.

    Returns
    -------
    DataFrame
        The counts, chi-square and p-value of each class; the ``reason`` column only when a
        test could not be computed.
    """
    out = logrank.assign(p_value=logrank["p_value"].map(format_p))
    if not out["reason"].astype(bool).any():  # every test could be computed
        out = out.drop(columns="reason")
    names = {
        "n_users": "users", "n_non_users": "non-users", "events_users": "events, users",
        "events_non_users": "events, non-users", "chisq": "chi-square",
    }  # fmt: skip
    return out.rename(columns=names)


def cox_exposure_table(cox: pd.DataFrame) -> pd.DataFrame:
    """The exposure terms of the Cox models: hazard ratio with its sandwich and model-based 95% CIs, and counts.

    The sandwich (robust, Lin-Wei) interval comes first: under the synthetic data's generator the Cox model
    leaves out each patient's ALSFRS-R trajectory, and its model-based SEs were too small in the simulation study
    (notebook 09), where the sandwich SEs of the model with the three classes were close to right.

    Parameters
    ----------
    cox : DataFrame
        ``survival_cox.csv`` (or :func:`alsmeds.models.cox.cox_table`).

    Returns
    -------
    DataFrame
        ``Model`` (readable), ``drug_class``, ``HR (95% CI, sandwich SE)`` (``not estimable: <reason>``
        when missing; absent from a file written before the sandwich columns), ``HR (95% CI, model SE)``,
        ``users (events)``, ``patients``, ``events``; one row per exposure term, per-class models first.
    """
    rows = _cox_rows(cox, exposures=True)
    table = {"Model": rows["model"].map(MODEL_NAMES), "drug_class": rows["drug_class"]}
    if "robust_ci_lower" in rows:
        table["HR (95% CI, sandwich SE)"] = [
            format_ratio(r.hazard_ratio, r.robust_ci_lower, r.robust_ci_upper, r.reason) for r in rows.itertuples()
        ]
    table["HR (95% CI, model SE)"] = _ratio_text(rows)
    table["users (events)"] = [f"{_count(r.exposed)} ({_count(r.exposed_events)})" for r in rows.itertuples()]
    table["patients"] = rows["n"]
    table["events"] = rows["events"]
    return pd.DataFrame(table)


def cox_fit_notes(fits: Sequence[Any] | Mapping[str, Any], not_fitted: bool = False) -> list[str]:
    """Warnings raised while fitting Cox models (first sentence of each) and, optionally, why a model was not fitted.

    Parameters
    ----------
    fits : sequence of CoxResult, or dict of name to CoxResult
        Fitted models (:func:`alsmeds.models.cox.fit_cox_models`, :func:`~alsmeds.models.cox.fit_cox`);
        a sequence names each by its ``label``.
    not_fitted : bool
        Add ``"<name> model not estimable: <reason>"`` for a model that could not be fitted.

    Returns
    -------
    list of str
        Empty when every model was fitted cleanly (the committed data).
    """
    named = dict(fits) if isinstance(fits, Mapping) else {fit.label: fit for fit in fits}
    notes = []
    for name, fit in named.items():
        notes += [f"warning ({name}): {w.splitlines()[0].split('. ')[0]}" for w in fit.warnings]
        if not_fitted and not fit.estimable:
            notes.append(f"{name} model not estimable: {fit.reason}")
    return notes


def se_performance_sentence(performance: pd.DataFrame) -> str:
    """How the Cox models' model-based SEs did in the simulation study: how much too small, and the coverage.

    Parameters
    ----------
    performance : DataFrame
        :func:`cox_se_performance` (empty when the simulation study was not run).
    """
    if not len(performance):
        return "no simulation study in results/ (run `alsmeds simstudy`)"
    relerr, coverage = performance["relerr_modse"], performance["coverage"]
    return (
        f"simulation study, {performance['n_reps'].min()} replicates at the paper's size: model SEs "
        f"{percent(-relerr.max() / 100)}-{percent(-relerr.min() / 100)} smaller than the empirical SE "
        f"(Monte Carlo SE about {fixed(performance['relerr_modse_mcse'].mean(), 0)} points), coverage of the 95% "
        f"intervals {percent(coverage.min(), 1)}-{percent(coverage.max(), 1)}"
    )


def tied_events_sentence(data: pd.DataFrame) -> str:
    """How many events share their day with another event (tied event times, handled by Efron's approximation)."""
    event_days = data.loc[data["event"] == 1, "time"]
    return (
        f"events sharing their day with another event: {int(event_days.duplicated(keep=False).sum()):,} of "
        f"{len(event_days):,}"
    )


def robust_se_table(robust: pd.DataFrame, performance: pd.DataFrame) -> pd.DataFrame:
    """Model-based and sandwich SEs of each exposure term, the sandwich CI, and the simulation study's verdict.

    Parameters
    ----------
    robust : DataFrame
        :func:`robust_standard_errors`.
    performance : DataFrame
        :func:`cox_se_performance` (empty: the simulation columns are empty).

    Returns
    -------
    DataFrame
        ``Model``, ``drug_class``, ``model SE``, ``sandwich SE``, ``sandwich / model``,
        ``HR (95% CI, sandwich SE)``, ``simulation: model SE vs empirical SE`` (percent)
        and ``simulation: coverage`` of the 95% Wald interval.
    """
    merged = robust.merge(performance, on=["model", "drug_class"], how="left")
    return pd.DataFrame(
        {
            "Model": merged["model"].map(MODEL_NAMES),
            "drug_class": merged["drug_class"],
            "model SE": merged["se"],
            "sandwich SE": merged["robust_se"],
            "sandwich / model": merged["robust_over_model"],
            "HR (95% CI, sandwich SE)": [
                format_ratio(r.hazard_ratio, r.robust_ci_lower, r.robust_ci_upper) for r in merged.itertuples()
            ],
            "simulation: model SE vs empirical SE": [percent(v / 100) for v in merged["relerr_modse"]],
            "simulation: coverage": [percent(v, 1) for v in merged["coverage"]],
        }
    )


def covariates_sentence(cox: pd.DataFrame, model: str = "mutual") -> str:
    """The covariates of a Cox model whose 95% CI excludes 1, and whether each raises or lowers the hazard.

    Parameters
    ----------
    cox : DataFrame
        ``survival_cox.csv``.
    model : str
        ``mutual`` (the three classes together) or ``per_class``.
    """
    rows = _cox_rows(cox, model=model, exposures=False)
    clear = rows[rows["estimable"].astype(bool) & ((rows["ci_lower"] > 1) | (rows["ci_upper"] < 1))]
    lines = [
        f"  {r.term_label} {'raises' if r.hazard_ratio > 1 else 'lowers'} the hazard ({r.hazard_ratio:.2f})"
        for r in clear.itertuples()
    ]
    return "\n".join(["covariates whose 95% CI excludes 1:", *(lines or ["  none"])])


def model_terms_table(cox: pd.DataFrame, model: str = "mutual") -> pd.DataFrame:
    """Every term of one Cox model with its hazard ratio (95% CI): ``term`` (readable) and ``HR (95% CI)``."""
    rows = _cox_rows(cox, model=model)
    return pd.DataFrame({"term": rows["term_label"], "HR (95% CI)": _ratio_text(rows)})


def cox_evalue_table(cox: pd.DataFrame, robust: pd.DataFrame) -> pd.DataFrame:
    """E-values of the per-class hazard ratios, for a common outcome, with the CI limit's E-value under the sandwich SE.

    The hazard ratio is converted to an approximate risk ratio with VanderWeele and Ding's
    common-outcome formula (:func:`alsmeds.reporting.evalue.evalues`, ``rare_outcome=False``):
    death or invasive ventilation after diagnosis is common.

    Parameters
    ----------
    cox : DataFrame
        ``survival_cox.csv``.
    robust : DataFrame
        :func:`robust_standard_errors` of the models (its per-class rows are used).

    Returns
    -------
    DataFrame
        ``drug_class``, ``hazard_ratio``, ``ci_lower``, ``ci_upper``, ``approximate RR``,
        ``evalue_estimate``, ``evalue_ci`` (the CI limit nearer 1) and ``E-value (CI
        limit, sandwich SE)``; one row per class.
    """
    from alsmeds.reporting.evalue import evalue_frame

    options = {"measure": "hazard_ratio", "rare_outcome": False}
    per_class = _cox_rows(cox, model="per_class", exposures=True)
    evalues = evalue_frame(per_class, columns=("hazard_ratio", "ci_lower", "ci_upper"), **options)
    sandwich = evalue_frame(
        robust[robust["model"] == "per_class"],
        columns=("hazard_ratio", "robust_ci_lower", "robust_ci_upper"),
        **options,
    ).set_index("drug_class")["evalue_ci"]
    evalues["E-value (CI limit, sandwich SE)"] = evalues["drug_class"].map(sandwich)
    columns = ["drug_class", "hazard_ratio", "ci_lower", "ci_upper", "rr", "evalue_estimate", "evalue_ci"]
    return evalues[[*columns, "E-value (CI limit, sandwich SE)"]].rename(columns={"rr": "approximate RR"})


def ph_test_table(cox: pd.DataFrame, model: str = "mutual") -> pd.DataFrame:
    """The test of a constant hazard ratio of every fitted term of a Cox model (scaled Schoenfeld residuals).

    Parameters
    ----------
    cox : DataFrame
        ``survival_cox.csv`` (``ph_chisq``, ``ph_p_value``: Grambsch-Therneau, Kaplan-Meier
        time transform, 1 df).
    model : str

    Returns
    -------
    DataFrame
        ``term`` (readable), ``chi-square (1 df)``, ``p_value`` (as text); empty when the
        model was not fitted.
    """
    rows = _cox_rows(cox, model=model)
    rows = rows[np.isfinite(rows["ph_chisq"].astype(float))]
    return pd.DataFrame(
        {
            "term": rows["term_label"],
            "chi-square (1 df)": rows["ph_chisq"].astype(float),
            "p_value": rows["ph_p_value"].map(format_p),
        }
    ).reset_index(drop=True)


def ph_test_sentence(cox: pd.DataFrame, model: str = "mutual", level: float = 0.05) -> str:
    """The terms for which proportional hazards is rejected at ``level``, or why there is no test.

    Without a test: the reason the results give every term of the model when it is one
    reason (e.g. no case with the ALSFRS-R at diagnosis), else that no term could be
    estimated (each term's reason is in the table of the model's terms,
    :func:`model_terms_table`), or that the test itself failed.
    """
    rows = _cox_rows(cox, model=model)
    tested = rows[np.isfinite(rows["ph_chisq"].astype(float))]
    if tested.empty:
        reasons = set(rows["reason"]) - {""}
        if len(reasons) == 1:
            why = reasons.pop()
        else:
            why = "no term of the model could be estimated" if reasons else "the test could not be computed"
        return f"no proportional-hazards test: {why}"
    flagged = tested.loc[tested["ph_p_value"] < level, "term_label"]
    return f"proportional hazards rejected at {level:.0%} for: " + (", ".join(flagged) or "no term")


def age_handling_table(cox: pd.DataFrame, stratified: Any, model: str = "mutual") -> pd.DataFrame:
    """Hazard ratios of prediagnostic use with age adjusted linearly (the results) and stratified by age band.

    Parameters
    ----------
    cox : DataFrame
        ``survival_cox.csv``: the model with age per 10 years as a covariate.
    stratified : CoxResult
        The same exposures fitted with ``strata=["age_band"]`` and without age as a covariate
        (:func:`alsmeds.models.cox.fit_cox`): each age band has its own baseline hazard.
    model : str
        The model of ``cox`` to compare with (default the three classes together).

    Returns
    -------
    DataFrame
        Indexed by the exposure term (readable; index name ``term``): ``adjusted for age
        (linear)``, ``stratified by age band`` (missing where a term was not estimated).
    """
    rows = _cox_rows(cox, model=model, exposures=True).set_index("term")
    other = stratified.to_frame().set_index("term")["hazard_ratio"]
    table = pd.DataFrame(
        {
            "adjusted for age (linear)": rows["hazard_ratio"].astype(float),
            "stratified by age band": other.reindex(rows.index).astype(float),
        }
    )
    return table.rename(index=rows["term_label"].to_dict())


def rmst_months(rmst: pd.DataFrame) -> pd.DataFrame:
    """Restricted mean event-free time of users and non-users, and its difference with its 95% CI, in months.

    Parameters
    ----------
    rmst : DataFrame
        :func:`alsmeds.models.km.rmst_by_use` (years).

    Returns
    -------
    DataFrame
        ``drug_class``, ``non-users``, ``users``, ``users minus non-users``, ``ci_lower``,
        ``ci_upper`` (12 times the years).
    """
    return rmst[["drug_class"]].assign(
        **{
            "non-users": 12 * rmst["rmst_non_users"],
            "users": 12 * rmst["rmst_users"],
            "users minus non-users": 12 * rmst["difference"],
            "ci_lower": 12 * rmst["ci_lower"],
            "ci_upper": 12 * rmst["ci_upper"],
        }
    )


def has_implied(cox: pd.DataFrame) -> bool:
    """True when a Cox results table holds the implied (planted total-effect) estimands: synthetic data only."""
    return bool(cox["implied_log_hr"].notna().any())


def implied_sample_sentence(cox: pd.DataFrame, truth: Truth | Mapping[str, Any] | None) -> str:
    """Where the implied estimands come from (the size of the generator's sample) and their Monte Carlo error.

    Parameters
    ----------
    cox : DataFrame
        ``survival_cox.csv`` with the implied columns (:func:`add_implied`).
    truth : Truth, dict or None
        The planted truth (:attr:`alsmeds.Study.planted_truth`); None for a real extract.
    """
    truth = as_truth(truth)
    if truth is None or not truth.has_implied_cox or not has_implied(cox):
        return "no planted truth: no implied estimands to compare with (a real extract has no truth.json)"
    mc_se = cox.loc[cox["is_exposure"].astype(bool), "implied_mc_se"].mean()
    return (
        f"implied estimand from {truth.implied_cox_sample['n_cases']:,} simulated cases "
        f"(MC SE of log HR about {mc_se:.2f})"
    )


def implied_comparison_table(cox: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare_with_implied` with readable model names and the Cox estimate headed ``Cox HR``."""
    beside = compare_with_implied(_cox_rows(cox))
    return beside.assign(model=beside["model"].map(MODEL_NAMES)).rename(
        columns={"model": "Model", "estimate": "Cox HR"}
    )


def baseline_score_by_use(data: pd.DataFrame, classes: Sequence[str] = CLASSES) -> str:
    """Mean ALSFRS-R at diagnosis of users and non-users of each class, one line per class."""
    lines = []
    for k in classes:
        score = data.groupby(f"use_{k}")["alsfrs_baseline"].mean()
        lines.append(
            f"mean ALSFRS-R at diagnosis, {k}: users {fixed(score.get(1, np.nan), 1)}, "
            f"non-users {fixed(score.get(0, np.nan), 1)}"
        )
    return "\n".join(lines)


def prediagnostic_use_differs(data: pd.DataFrame, other: pd.DataFrame, classes: Sequence[str] = CLASSES) -> bool:
    """Whether two survival data sets (e.g. under two exposure rules) differ in prediagnostic use of any class."""
    return not all(other[f"use_{k}"].equals(data[f"use_{k}"]) for k in classes)


def per_class_cox_variants(variants: Mapping[str, tuple[pd.DataFrame, Sequence[str]]]) -> pd.DataFrame:
    """Per-class Cox hazard ratios (95% CI) and users under variants of the data or of the adjustment set.

    Parameters
    ----------
    variants : dict of str to (DataFrame, sequence of str)
        Name -> (survival data, adjustment set); each is fitted with
        :func:`alsmeds.models.cox.fit_cox_models` (no proportional-hazards test).

    Returns
    -------
    DataFrame
        Indexed by ``drug_class``, one column per variant: ``"<HR (95% CI)>; <n> users"``.
    """
    from alsmeds.models.cox import cox_table, fit_cox_models

    side = {}
    for name, (data, adjustment) in variants.items():
        rows = cox_table(fit_cox_models(data, adjustment=list(adjustment), run_ph_test=False))
        rows = _cox_rows(rows, model="per_class", exposures=True)
        side[name] = pd.Series(
            [f"{r}; {_count(n)} users" for r, n in zip(_ratio_text(rows), rows["exposed"], strict=True)],
            index=rows["drug_class"],
        )
    return pd.DataFrame(side).rename_axis("drug_class")
