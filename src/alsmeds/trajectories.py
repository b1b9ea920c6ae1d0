"""ALSFRS-R trajectories after diagnosis: visit data, descriptives and linear mixed models.

The question: do patients who used a psychiatric drug class before diagnosis lose
ALSFRS-R points faster afterwards?  The estimand is the difference in the mean
rate of decline (points per month) between users and non-users of a class, from a
linear mixed model with a random intercept and a random slope in time per patient
(Laird and Ware 1982):

``score_ij = x_ij' beta + b0_i + b1_i t_ij + e_ij``,  ``(b0_i, b1_i) ~ N(0, D)``,  ``e_ij ~ N(0, sigma^2)``

with ``t`` in months since diagnosis and ``x_ij`` holding time, prediagnostic use
of each class, use x time (the slope differences) and covariates (age, sex, onset
site).  The model assumes a linear decline, normal random effects and errors, and
visits missing at random: whether a visit happens may depend on the *observed*
scores, not on the patient's unobserved rate of decline.  Death and invasive
ventilation end the visits, and they are more likely in fast decliners (the
simulated hazard depends on the current true score), so dropout is informative and
the mixed model alone is biased; :func:`latent_complete_trajectories` and
:func:`latent_at_observed_visits` measure that bias on synthetic data, and notebook
07 fits the joint model the paper used.

Rules for register data
-----------------------
* **Two assessments on the same day** (the validator accepts them with a counted
  warning) are averaged into one visit: :func:`alsfrs_visits` is the one place this
  happens, used both here and by the baseline ALSFRS-R of :mod:`alsmeds.survival`.  The
  averaged total may be a half point; the number merged is counted in the visit
  selection (``same_day_assessments_merged``).
* **Every ALS case belongs to the prognosis cohort**, including a case with no control
  at all (uninformative for the risk models, see :mod:`alsmeds.analysis_table`) and a
  case whose only controls are siblings or a spouse.
* **Case exposures** come from :func:`alsmeds.analysis_table.case_exposures` (also
  :func:`case_exposures` here and in :mod:`alsmeds.survival`: the same function), one
  row per case classified at its diagnosis date, never from the rows of one comparison.
* **Terms that cannot be estimated** are dropped from the model and reported with the
  reason (``AlsfrsMixedResult.not_estimable``; ``estimable=False`` rows in
  :meth:`AlsfrsMixedResult.group_slopes` and :meth:`AlsfrsMixedResult.to_frame`): an
  exposure nobody (or everybody) used, a slope difference whose users have no visit
  after diagnosis, a covariate that is the same for everyone, a column aliased with
  others.  When the model as a whole cannot be fitted (too few patients or visits, no
  visit after diagnosis, a failing optimiser), :class:`MixedModelError` says why.

Main entry points
-----------------
* :func:`alsfrs_visits` -- one ALSFRS-R total per person and visit day.
* :func:`build_alsfrs_data` -- one row per kept visit, with exposures and covariates.
* :func:`describe_visits` -- visits per patient, time between visits, score at diagnosis.
* :class:`AlsfrsMixedModel` -- ``AlsfrsMixedModel().fit(data)`` returns an
  :class:`AlsfrsMixedResult` with ``summary()``, ``to_frame()``, ``group_slopes()``,
  ``predict_mean()``, ``residuals()``.
* :func:`compare_random_effects` -- random intercept and slope against random intercept only.
* :func:`r_lme` -- the same model fitted by R ``nlme::lme`` (the reference).

Examples
--------
>>> from alsmeds.datasets import load_study_data
>>> study = load_study_data()                                                  # doctest: +SKIP
>>> data = build_alsfrs_data(study.registry, case_exposures(study.registry))    # doctest: +SKIP
>>> result = AlsfrsMixedModel().fit(data)                                      # doctest: +SKIP
>>> print(result.summary())                                                    # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .analysis_table import case_exposures as case_exposures  # re-exported: one function for every case
from .constants import CLASSES

#: Days per month (365.25 / 12), the unit of time of every model here.
DAYS_PER_MONTH = 365.25 / 12
#: Published mean ALSFRS-R at diagnosis (Chourpiliadis et al. 2025; P).
PUBLISHED_SCORE_AT_DIAGNOSIS = 36.1
#: Age the age covariate is centred at (years).
REFERENCE_AGE = 65.0
#: A visit within this many days of diagnosis gives the "score at diagnosis".
DIAGNOSIS_VISIT_WINDOW_DAYS = 31
#: Default covariates of the mixed model (columns of :func:`build_alsfrs_data`).
DEFAULT_COVARIATES = ("age_per_decade", "male", "bulbar")
#: Two-sided 95% normal quantile used for every confidence interval here.
Z95 = float(stats.norm.ppf(0.975))

#: Columns of :func:`build_alsfrs_data`: column -> meaning.
ALSFRS_DATA_COLUMNS: dict[str, str] = {
    "person_id": "the ALS case",
    "visit_date": "date of the registry visit",
    "diagnosis_date": "date of ALS diagnosis (the index date)",
    "months": "months since diagnosis at the visit (days / 30.4375)",
    "score": "ALSFRS-R total score, 0-48 (higher is better)",
    "visit": "0-based number of the visit among the patient's kept visits",
    "n_visits": "number of kept visits of the patient",
    **{k: f"1 if prediagnostic use of {k} (any qualifying use before diagnosis: cat_{k} != 0)" for k in CLASSES},
    "age": "age at diagnosis, years",
    "age_per_decade": "(age - 65) / 10",
    "male": "1 for men",
    "onset_site": "bulbar or spinal",
    "bulbar": "1 for bulbar onset",
    "event": "first of death or invasive_ventilation during follow-up, else none",
    "event_months": "months from diagnosis to that event (missing without an event)",
    "followup_months": "months from diagnosis to the end of follow-up (event, death, emigration or end of study)",
}

#: Columns of the mixed-model results (``results/alsfrs_mixed_model.csv`` and ``.json``).
MIXED_MODEL_RESULT_COLUMNS: dict[str, str] = {
    "model": "random_intercept_slope (the main model) or random_intercept (the comparison model)",
    "method": "REML or ML (maximum likelihood, used for the model comparison)",
    "kind": "fixed_effect, slope (points/month per group), variance_component, fit_statistic or model_comparison",
    "term": "fixed-effect name (months = slope of the reference group; <class>:months = slope difference), "
    "slope group, variance component or statistic",
    "drug_class": "anxiolytics, hypnotics or antidepressants for exposure terms and slopes; empty otherwise",
    "group": "for slopes: reference (non-users of every class), users (of this class, non-users of the others) "
    "or difference (users minus reference); empty otherwise",
    "estimate": "estimate in the unit of the row",
    "se": "standard error: (X'V^-1 X)^-1 at the estimated variance components for fixed effects and slopes; "
    "empty for variance components and statistics",
    "ci_lower": "lower 95% Wald limit (normal quantile)",
    "ci_upper": "upper 95% Wald limit",
    "p_value": "two-sided Wald p-value; for model_comparison rows the likelihood-ratio p-value",
    "unit": "points, points/month, or empty",
    "n_obs": "visits in the model",
    "n_patients": "patients in the model",
    "estimable": "false for a term the data cannot estimate (left out of the model) or a model that failed",
    "reason": "why a row is not estimable (empty otherwise)",
}


# --------------------------------------------------------------------------- visit data


def _tables(registry: Any) -> Mapping[str, pd.DataFrame]:
    return registry.tables if hasattr(registry, "tables") else registry


def alsfrs_visits(alsfrs: pd.DataFrame) -> pd.DataFrame:
    """One ALSFRS-R total per person and visit day: assessments on the same day are averaged.

    Real registry extracts can hold two assessments of one patient on one day (a
    re-assessment, a second clinic).  They measure the same state, so they are averaged
    into one visit rather than counted as two independent visits (which would give that
    day double weight in a mixed model) or resolved by an arbitrary choice.  Used by
    :func:`build_alsfrs_data` and by the baseline score of
    :func:`alsmeds.survival.baseline_alsfrs`.

    Parameters
    ----------
    alsfrs : DataFrame
        The ``alsfrs`` table: ``person_id``, ``visit_date``, ``alsfrs_r_total``.

    Returns
    -------
    DataFrame
        ``person_id``, ``visit_date``, ``alsfrs_r_total`` (float: the mean of the day's
        non-missing totals, missing when all are) and ``assessments`` (rows merged),
        sorted by person and date.
    """
    rows = alsfrs[["person_id", "visit_date", "alsfrs_r_total"]].copy()
    rows["visit_date"] = pd.to_datetime(rows["visit_date"])
    rows["alsfrs_r_total"] = rows["alsfrs_r_total"].astype(float)
    grouped = rows.groupby(["person_id", "visit_date"], sort=True)
    out = grouped.agg(alsfrs_r_total=("alsfrs_r_total", "mean"), assessments=("alsfrs_r_total", "size"))
    return out.reset_index()


def _first_event(outcomes: pd.DataFrame) -> pd.DataFrame:
    """First prognostic event per case (death or invasive ventilation, whichever is first)."""
    if outcomes.empty:
        return pd.DataFrame(columns=["person_id", "event", "event_date"])
    ordered = outcomes.assign(event_date=pd.to_datetime(outcomes["event_date"]))
    ordered = ordered.sort_values(["person_id", "event_date", "event"], kind="stable")
    return ordered.drop_duplicates("person_id", keep="first")[["person_id", "event", "event_date"]]


def build_alsfrs_data(registry: Any, exposures: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """One row per kept ALSFRS-R visit, with exposures, covariates and follow-up of the case.

    Visits kept
    -----------
    0. Assessments of one patient on the same day are averaged into one visit
       (:func:`alsfrs_visits`; counted as ``same_day_assessments_merged``).
    1. Visits of ALS cases (``als_cases``) that have a row in ``exposures``; visits of
       other cases are dropped (counted as ``no_exposure_row``; none with
       :func:`case_exposures`, which covers every case).
    2. Visits on or after the diagnosis date (``before_diagnosis``; the input
       contract already forbids earlier visits).
    3. Visits on or before the end of follow-up: the earliest of the first prognostic
       event (death or invasive ventilation, ``outcomes``), death or emigration
       (``persons``) and ``end_of_follow_up`` (``extract.json``) (``after_end_of_follow_up``).
       A visit on that day is kept: its score is taken as measured before the event.
    4. Visits with a missing total score are dropped (``missing_score``).

    The counts of dropped visits are in ``frame.attrs["selection"]``.

    Parameters
    ----------
    registry : alsmeds.io.Registry or mapping
        A register extract (``tables`` with ``als_cases``, ``alsfrs``, ``outcomes`` and
        ``persons``; ``metadata`` with ``end_of_follow_up``).
    exposures : DataFrame
        One row per case with ``person_id`` and ``cat_<class>``: :func:`case_exposures`
        of the registry (every case, whatever its controls).
        Prediagnostic use of a class is ``cat_<class> != 0``: at least two dispensings
        before diagnosis, the last year included (the paper's prognosis exposure).
    classes : sequence of str
        Drug classes to carry.

    Returns
    -------
    DataFrame
        Columns :data:`ALSFRS_DATA_COLUMNS`, sorted by ``person_id`` and ``months``.
    """
    tables = _tables(registry)
    metadata = getattr(registry, "metadata", {}) or {}
    if exposures["person_id"].duplicated().any():
        raise ValueError("exposures must have one row per person_id")
    missing = [f"cat_{k}" for k in classes if f"cat_{k}" not in exposures]
    if missing:
        raise ValueError(f"exposures lacks column(s) {missing}")

    cases = tables["als_cases"][["person_id", "diagnosis_date", "onset_site"]].copy()
    cases["diagnosis_date"] = pd.to_datetime(cases["diagnosis_date"])
    persons = tables["persons"].set_index("person_id")
    birth = pd.to_datetime(cases["person_id"].map(persons["birth_date"]))
    cases["age"] = (cases["diagnosis_date"] - birth).dt.days / 365.25
    cases["male"] = (cases["person_id"].map(persons["sex"]) == "male").astype(np.int8)
    cases["bulbar"] = (cases["onset_site"] == "bulbar").astype(np.int8)
    cases["age_per_decade"] = (cases["age"] - REFERENCE_AGE) / 10

    first = _first_event(tables["outcomes"]).set_index("person_id")
    cases["event"] = cases["person_id"].map(first["event"])
    cases["event_date"] = pd.to_datetime(cases["person_id"].map(first["event_date"]))
    death = pd.to_datetime(cases["person_id"].map(persons["death_date"]))
    emigration = pd.to_datetime(cases["person_id"].map(persons["emigration_date"]))
    # A death in the persons table with no earlier outcome row is a death event too.
    death_first = death.notna() & (cases["event_date"].isna() | (death < cases["event_date"]))
    cases.loc[death_first, "event"] = "death"
    cases.loc[death_first, "event_date"] = death[death_first]
    end_of_study = pd.Timestamp(metadata["end_of_follow_up"]) if "end_of_follow_up" in metadata else pd.NaT
    ends = pd.concat([cases["event_date"], emigration, pd.Series(end_of_study, index=cases.index)], axis=1)
    cases["followup_end"] = ends.min(axis=1)
    # An event after emigration or after the end of the study is not observed.
    seen = cases["event_date"].notna() & (cases["event_date"] <= cases["followup_end"])
    cases["event"] = cases["event"].where(seen, "none")
    cases["event_date"] = cases["event_date"].where(seen)
    cases["event_months"] = (cases["event_date"] - cases["diagnosis_date"]).dt.days / DAYS_PER_MONTH
    cases["followup_months"] = (cases["followup_end"] - cases["diagnosis_date"]).dt.days / DAYS_PER_MONTH

    exp = exposures[["person_id"] + [f"cat_{k}" for k in classes]].copy()
    for k in classes:
        exp[k] = (exp.pop(f"cat_{k}").to_numpy() != 0).astype(np.int8)

    counts = {"visits_in_register": len(tables["alsfrs"])}
    visits = alsfrs_visits(tables["alsfrs"]).drop(columns="assessments")
    counts["same_day_assessments_merged"] = counts["visits_in_register"] - len(visits)
    visits = visits[visits["person_id"].isin(cases["person_id"])]
    counts["not_an_als_case"] = counts["visits_in_register"] - counts["same_day_assessments_merged"] - len(visits)
    has_exposure = visits["person_id"].isin(exp["person_id"])
    counts["no_exposure_row"] = int((~has_exposure).sum())
    visits = visits[has_exposure].merge(cases, on="person_id", how="left").merge(exp, on="person_id", how="left")
    before = visits["visit_date"] < visits["diagnosis_date"]
    after = visits["followup_end"].notna() & (visits["visit_date"] > visits["followup_end"])
    no_score = visits["alsfrs_r_total"].isna()
    counts["before_diagnosis"] = int(before.sum())
    counts["after_end_of_follow_up"] = int((after & ~before).sum())
    counts["missing_score"] = int((no_score & ~before & ~after).sum())
    visits = visits[~before & ~after & ~no_score].copy()
    counts["visits_kept"] = len(visits)
    counts["patients_kept"] = int(visits["person_id"].nunique())
    counts["cases_without_kept_visits"] = int(exp["person_id"].isin(cases["person_id"]).sum()) - counts["patients_kept"]

    visits["months"] = (visits["visit_date"] - visits["diagnosis_date"]).dt.days / DAYS_PER_MONTH
    visits["score"] = visits["alsfrs_r_total"].astype(float)
    visits = visits.sort_values(["person_id", "visit_date"], kind="stable").reset_index(drop=True)
    visits["visit"] = visits.groupby("person_id").cumcount()
    visits["n_visits"] = visits.groupby("person_id")["visit"].transform("size")
    columns = [c for c in ALSFRS_DATA_COLUMNS if c not in CLASSES or c in classes]
    out = visits[columns].reset_index(drop=True)
    out.attrs["selection"] = counts
    return out


# --------------------------------------------------------------------------- descriptives


def score_at_diagnosis(data: pd.DataFrame, window_days: int = DIAGNOSIS_VISIT_WINDOW_DAYS) -> pd.Series:
    """Score of each patient's first visit, if it lies within ``window_days`` of diagnosis.

    Returns
    -------
    Series
        Indexed by ``person_id``.
    """
    first = data[data["visit"] == 0]
    first = first[first["months"] * DAYS_PER_MONTH <= window_days + 1e-9]
    return first.set_index("person_id")["score"]


def _between_visits_days(data: pd.DataFrame) -> pd.Series:
    gaps = data.groupby("person_id")["months"].diff().dropna()
    return gaps * DAYS_PER_MONTH


def describe_visits(data: pd.DataFrame, by: str | None = "antidepressants") -> pd.DataFrame:
    """Visits per patient, time between visits, follow-up and the score at diagnosis.

    Parameters
    ----------
    data : DataFrame
        From :func:`build_alsfrs_data`.
    by : str, optional
        A 0/1 exposure column: adds columns for non-users and users.

    Returns
    -------
    DataFrame
        One row per measure, one column per group (``all``, and ``non-users`` /
        ``users`` with ``by``).  The score at diagnosis is the first visit's score when
        it lies within :data:`DIAGNOSIS_VISIT_WINDOW_DAYS` days of diagnosis; the
        published mean is :data:`PUBLISHED_SCORE_AT_DIAGNOSIS`.
    """
    groups = {"all": data}
    if by is not None:
        groups["non-users"] = data[data[by] == 0]
        groups["users"] = data[data[by] == 1]
    out = {}
    for name, d in groups.items():
        per_patient = d.groupby("person_id").agg(
            n=("visit", "size"), last=("months", "max"), event=("event", "first"), followup=("followup_months", "first")
        )
        gaps = _between_visits_days(d)
        at_dx = score_at_diagnosis(d)
        q = per_patient["n"].quantile([0.25, 0.5, 0.75]) if len(per_patient) else pd.Series([np.nan] * 3)
        g = gaps.quantile([0.25, 0.5, 0.75]) if len(gaps) else pd.Series([np.nan] * 3)
        out[name] = {
            "patients": len(per_patient),
            "visits": len(d),
            "visits per patient, mean": per_patient["n"].mean(),
            "visits per patient, median": q.iloc[1],
            "visits per patient, Q1": q.iloc[0],
            "visits per patient, Q3": q.iloc[2],
            "patients with one visit, %": 100 * (per_patient["n"] == 1).mean(),
            "days between visits, median": g.iloc[1],
            "days between visits, Q1": g.iloc[0],
            "days between visits, Q3": g.iloc[2],
            "months from diagnosis to last visit, median": per_patient["last"].median(),
            "months of follow-up, median": per_patient["followup"].median(),
            "death or invasive ventilation, %": 100 * (per_patient["event"] != "none").mean(),
            "patients with a visit at diagnosis": len(at_dx),
            "score at diagnosis, mean": at_dx.mean(),
            "score at diagnosis, SD": at_dx.std(),
            "score at diagnosis, published mean": PUBLISHED_SCORE_AT_DIAGNOSIS,
        }
    return pd.DataFrame(out)


def person_ols_slopes(data: pd.DataFrame, min_visits: int = 3) -> pd.DataFrame:
    """Each patient's own least-squares slope (points/month), for patients with ``min_visits`` visits or more.

    A descriptive of informative dropout: no pooling, no model for who leaves.

    Returns
    -------
    DataFrame
        ``person_id``, ``n_visits``, ``slope``, ``event``, ``followup_months`` and the
        exposure columns present in ``data``.
    """
    d = data[data["n_visits"] >= min_visits]
    t = d["months"] - d.groupby("person_id")["months"].transform("mean")
    y = d["score"] - d.groupby("person_id")["score"].transform("mean")
    parts = pd.DataFrame({"person_id": d["person_id"], "txy": t * y, "txx": t * t})
    sums = parts.groupby("person_id")[["txy", "txx"]].sum()
    keep = [c for c in ("n_visits", "event", "followup_months", *CLASSES) if c in d]
    first = d.groupby("person_id")[keep].first()
    out = first.assign(slope=sums["txy"] / sums["txx"]).reset_index()
    return out[["person_id", "n_visits", "slope"] + [c for c in keep if c != "n_visits"]]


def followup_groups(slopes: pd.DataFrame) -> dict[str, pd.Series]:
    """Patients of :func:`person_ols_slopes` grouped by how and when their follow-up ended.

    Returns
    -------
    dict of str to boolean Series
        ``event within 12 months``, ``event at 12-24 months``, ``event after 24 months``
        (death or invasive ventilation) and ``no event (censored)``.
    """
    event = slopes["event"] != "none"
    months = slopes["followup_months"]
    return {
        "event within 12 months": event & (months <= 12),
        "event at 12-24 months": event & (months > 12) & (months <= 24),
        "event after 24 months": event & (months > 24),
        "no event (censored)": ~event,
    }


def slopes_by_followup(slopes: pd.DataFrame) -> pd.DataFrame:
    """Number, mean and median of the patients' own slopes in each :func:`followup_groups` group.

    Returns
    -------
    DataFrame
        Index: the group; columns ``patients``, ``mean_slope``, ``median_slope`` (points/month).
    """
    rows = {
        name: {
            "patients": int(mask.sum()),
            "mean_slope": float(slopes.loc[mask, "slope"].mean()) if mask.any() else np.nan,
            "median_slope": float(slopes.loc[mask, "slope"].median()) if mask.any() else np.nan,
        }
        for name, mask in followup_groups(slopes).items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("follow-up")


# --------------------------------------------------------------------------- mixed model


class MixedModelError(ValueError):
    """The mixed model cannot be fitted to these data; the message says why."""


def _short_reason(exc: BaseException) -> str:
    """The first sentence of an exception message, with its type when the message is empty."""
    text = str(exc).strip().split("\n")[0]
    text = text.split(". ")[0].rstrip(".")
    return text or type(exc).__name__


@dataclass(frozen=True)
class AlsfrsMixedModel:
    """A linear mixed model of the ALSFRS-R total score over months since diagnosis.

    ``score_ij = b_0 + b_t t_ij + sum_k (g_k E_ik + d_k E_ik t_ij) + c' w_i + u0_i + u1_i t_ij + e_ij``

    with ``E_ik`` prediagnostic use of class ``k``, ``w_i`` the covariates (age per
    decade above 65, male sex, bulbar onset by default; they shift the level, not
    the slope), ``(u0_i, u1_i)`` normal random effects with an unstructured 2 x 2
    covariance (``random_slope=False``: a random intercept only) and independent
    normal errors.  ``b_t`` is the mean slope (points per month) of patients who used
    none of the classes; ``d_k`` the slope difference of users of class ``k``.

    Parameters
    ----------
    exposures : sequence of str
        0/1 exposure columns (level terms).  All are fitted together (mutually adjusted).
    slope_exposures : sequence of str, optional
        Exposures interacted with time (slope differences); default: all ``exposures``.
    covariates : sequence of str
        Further level terms.
    random_slope : bool
        Random intercept and slope (default) or random intercept only.
    reml : bool
        Restricted maximum likelihood (default) or maximum likelihood.
    gtol : float
        Gradient tolerance of the optimiser (see Notes).
    maxiter : int
        Iteration limit of the optimiser.
    time_unit_months : float
        Months per unit of time inside the optimiser (see Notes).

    Notes
    -----
    The fit is statsmodels :class:`~statsmodels.regression.mixed_linear_model.MixedLM`.
    statsmodels profiles the fixed effects and the residual variance out of the
    likelihood and optimises over the Cholesky factor of ``D / sigma^2``.  Settings:

    * **Optimiser**: BFGS (``method=["bfgs"]``) with ``gtol`` = 1e-6 on the gradient of
      the profiled log-likelihood: L-BFGS-B (statsmodels' usual first choice) stops at
      its function-value tolerance with standard deviations about 1e-4 from nlme's,
      and its tolerances cannot be passed through ``MixedLM.fit``.
    * **Start**: statsmodels' default, ``D / sigma^2`` = identity in the optimiser's units
      (fixed effects and ``sigma^2`` are profiled, so they need no start).
    * **Scaling**: time enters the optimiser in years (``time_unit_months`` = 12), so
      that the intercept and slope variances are of similar size; with months the
      slope variance is about 100 times smaller and the optimiser stalls.  The model
      is equivariant under this change of units: estimates, standard errors and
      random effects are transformed back to months exactly.  The REML
      log-likelihood depends on the units of the fixed-effect columns (through
      ``log det X'V^-1 X``); it is reported for months (the REML value in years minus
      ``k log 12``, k = number of time columns), as R ``nlme::lme`` reports it.
    * **Determinism**: no randomness is involved; rows are sorted by patient and time
      before fitting, so the same data give the same numbers on the same stack.

    Standard errors of the fixed effects are the usual model-based ``(X'V^-1 X)^-1``
    at the estimated variance components (as nlme, lme4 and SAS PROC MIXED report);
    statsmodels' own ``bse_fe`` comes from the joint observed information and is
    0.1-0.5% different.  Confidence intervals are Wald intervals with the normal
    quantile.

    References
    ----------
    Laird NM, Ware JH. Random-effects models for longitudinal data. Biometrics 1982;38:963-974.
    Verbeke G, Molenberghs G. Linear Mixed Models for Longitudinal Data. Springer, 2000.
    """

    exposures: tuple[str, ...] = CLASSES
    slope_exposures: tuple[str, ...] | None = None
    covariates: tuple[str, ...] = DEFAULT_COVARIATES
    random_slope: bool = True
    reml: bool = True
    gtol: float = 1e-6
    maxiter: int = 500
    time_unit_months: float = 12.0

    @property
    def slope_terms(self) -> tuple[str, ...]:
        """Exposures with a slope difference."""
        return tuple(self.exposures if self.slope_exposures is None else self.slope_exposures)

    @property
    def name(self) -> str:
        return "random_intercept_slope" if self.random_slope else "random_intercept"

    def design(self, data: pd.DataFrame) -> pd.DataFrame:
        """Fixed-effect design in months: Intercept, months, exposures, ``<k>:months``, covariates."""
        X = pd.DataFrame({"Intercept": 1.0, "months": data["months"].astype(float)}, index=data.index)
        for k in self.exposures:
            X[k] = data[k].astype(float)
        for k in self.slope_terms:
            X[f"{k}:months"] = data[k].astype(float) * X["months"]
        for c in self.covariates:
            X[c] = data[c].astype(float)
        return X

    def time_columns(self, columns: Sequence[str]) -> list[str]:
        """Fixed-effect columns that carry time (rescaled inside the optimiser)."""
        return [c for c in columns if c == "months" or c.endswith(":months")]

    def estimable_model(self, data: pd.DataFrame) -> tuple[AlsfrsMixedModel, dict[str, str]]:
        """The model reduced to the terms these data can estimate, and the reason for each term left out.

        Checked in this order: an exposure nobody or everybody used (its level and slope
        terms), a slope difference whose users have no visit after diagnosis, a covariate
        that is the same for every patient, then any column that is a linear combination
        of the columns before it (time, covariates, exposures, slope terms:
        :func:`alsmeds.models.design.non_identifiable_terms`), so an exposure aliased with
        a covariate is reported rather than the covariate silently dropped.

        Returns
        -------
        (AlsfrsMixedModel, dict of str to str)
            The reduced model (``self`` when nothing is dropped) and term -> reason.

        Raises
        ------
        MixedModelError
            When the model as a whole cannot be fitted: no visits, fewer than two
            patients, no visit after diagnosis, no patient with two visits (random
            slope), or fewer visits than parameters.
        """
        from .models.design import non_identifiable_terms

        if len(data) == 0:
            raise MixedModelError("no ALSFRS-R visits")
        patients = data.groupby("person_id", sort=True)
        if patients.ngroups < 2:
            raise MixedModelError(f"{patients.ngroups} patient with visits: a mixed model needs several")
        if not (data["months"] > 0).any():
            raise MixedModelError("no visit after diagnosis: no decline to estimate")
        if self.random_slope and not (patients.size() >= 2).any():
            raise MixedModelError("no patient has two visits: a random slope cannot be estimated")

        reasons: dict[str, str] = {}
        first = patients.first()
        for k in self.exposures:
            users = int(first[k].sum())
            if users == 0 or users == len(first):
                why = f"no {'users' if users == 0 else 'non-users'} of {k} among the patients with visits"
                reasons[k] = why
                reasons[f"{k}:months"] = why
        for k in self.slope_terms:
            term = f"{k}:months"
            if term not in reasons and not ((data[k] == 1) & (data["months"] > 0)).any():
                reasons[term] = f"no visit after diagnosis among users of {k}"
        for c in self.covariates:
            if first[c].nunique(dropna=False) < 2:
                reasons[c] = f"{c} is the same for every patient"

        X = self.design(data)
        slope_cols = [f"{k}:months" for k in self.slope_terms]
        order = ["months", *self.covariates, *self.exposures, *slope_cols]
        candidates = [c for c in order if c not in reasons]
        aliased = non_identifiable_terms(X[candidates])
        if "months" in aliased:
            raise MixedModelError(f"time since diagnosis is not identifiable ({aliased['months']})")
        reasons.update(aliased)
        for k in self.exposures:  # a level term that cannot be estimated takes its slope term with it
            if k in reasons and f"{k}:months" not in reasons and k in self.slope_terms:
                reasons[f"{k}:months"] = f"{k}: {reasons[k]}"
        if not reasons:
            n_params = X.shape[1] + (4 if self.random_slope else 2)
            if len(data) <= n_params:
                raise MixedModelError(f"{len(data)} visits for {n_params} parameters")
            return self, {}
        reduced = replace(
            self,
            exposures=tuple(k for k in self.exposures if k not in reasons),
            slope_exposures=tuple(k for k in self.slope_terms if f"{k}:months" not in reasons),
            covariates=tuple(c for c in self.covariates if c not in reasons),
        )
        n_params = reduced.design(data).shape[1] + (4 if self.random_slope else 2)
        if len(data) <= n_params:
            raise MixedModelError(f"{len(data)} visits for {n_params} parameters")
        return reduced, {t: reasons[t] for t in X.columns if t in reasons}

    def fit(self, data: pd.DataFrame) -> AlsfrsMixedResult:
        """Fit the model to visit data from :func:`build_alsfrs_data`.

        Terms these data cannot estimate are left out first (:meth:`estimable_model`)
        and reported in ``not_estimable``; warnings of the optimiser are recorded in
        ``warnings``, not shown.

        Returns
        -------
        AlsfrsMixedResult

        Raises
        ------
        MixedModelError
            When the model as a whole cannot be fitted, with the reason.
        """
        d = data.sort_values(["person_id", "months"], kind="stable").reset_index(drop=True)
        model, reasons = self.estimable_model(d)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = model._fit_sorted(d)
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError) as exc:
                raise MixedModelError(f"the optimiser failed: {_short_reason(exc)}") from exc
        if not np.all(np.isfinite(result.params)) or not np.all(np.isfinite(result.cov_params.to_numpy())):
            raise MixedModelError("the fit produced non-finite estimates")
        result.requested = self
        result.not_estimable = reasons
        result.warnings = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
        return result

    def _fit_sorted(self, d: pd.DataFrame) -> AlsfrsMixedResult:
        """Fit on rows sorted by patient and time, every term estimable (see :meth:`fit`)."""
        from statsmodels.regression.mixed_linear_model import MixedLM

        X = self.design(d)
        names = list(X.columns)
        time_cols = self.time_columns(names)
        unit = np.where(np.isin(names, time_cols), self.time_unit_months, 1.0)
        Xs = X.to_numpy() / unit
        t = d["months"].to_numpy(dtype=float) / self.time_unit_months
        Z = np.column_stack([np.ones(len(d)), t]) if self.random_slope else np.ones((len(d), 1))
        y = d["score"].to_numpy(dtype=float)
        groups = d["person_id"].to_numpy()

        model = MixedLM(y, Xs, groups=groups, exog_re=Z)
        fitted = model.fit(
            reml=self.reml,
            method=["bfgs"],
            gtol=self.gtol,
            maxiter=self.maxiter,
            full_output=True,
        )

        fe_scaled = np.asarray(fitted.fe_params)
        D_scaled = np.asarray(fitted.cov_re)
        sigma2 = float(fitted.scale)
        re_unit = np.array([1.0, self.time_unit_months]) if self.random_slope else np.array([1.0])
        params = pd.Series(fe_scaled / unit, index=names)
        re_names = ["Intercept", "months"] if self.random_slope else ["Intercept"]
        D = pd.DataFrame(D_scaled / np.outer(re_unit, re_unit), index=re_names, columns=re_names)
        llf = float(fitted.llf)
        if self.reml:
            llf -= len(time_cols) * np.log(self.time_unit_months)
        history = getattr(fitted, "hist", None) or [{}]
        retvals = dict(history[-1] or {})
        post = _gls_quantities(
            y,
            X.to_numpy(),
            np.column_stack([np.ones(len(d)), d["months"].to_numpy()])[:, : len(re_names)],
            groups,
            params.to_numpy(),
            D.to_numpy(),
            sigma2,
        )
        cov = pd.DataFrame(post["cov_fe"], index=names, columns=names)
        sm_bse = pd.Series(np.asarray(fitted.bse_fe) / unit, index=names)
        return AlsfrsMixedResult(
            model=self,
            params=params,
            cov_params=cov,
            cov_re=D,
            scale=sigma2,
            llf=llf,
            n_obs=len(d),
            n_groups=int(pd.unique(groups).size),
            converged=bool(fitted.converged),
            optimizer={
                "method": "bfgs",
                "gtol": self.gtol,
                "function_calls": retvals.get("fcalls"),
                "gradient_calls": retvals.get("gcalls"),
                "time_unit_months": self.time_unit_months,
            },
            bse_statsmodels=sm_bse,
            random_effects=pd.DataFrame(
                post["blup"], index=pd.Index(post["groups"], name="person_id"), columns=re_names
            ),
            _data=d[["person_id", "months", "score"] + [c for c in self._carry() if c in d]].copy(),
            _X=X,
        )

    def _carry(self) -> list[str]:
        return list(dict.fromkeys([*self.exposures, *self.slope_terms, *self.covariates, "event", "visit"]))


def _gls_quantities(y, X, Z, groups, beta, D, sigma2) -> dict:
    """Model-based covariance of the fixed effects and the BLUPs, vectorised over patients.

    With ``V_i = Z_i D Z_i' + sigma2 I`` and ``A_i = (sigma2 I + D Z_i'Z_i)^-1 D``
    (Woodbury; valid for a singular ``D``): ``X'V^-1X = (X'X - sum_i X_i'Z_i A_i Z_i'X_i) / sigma2``
    and the BLUP is ``b_i = A_i Z_i' (y_i - X_i beta)``.
    """
    codes, uniques = pd.factorize(groups, sort=False)
    G, p, k = len(uniques), X.shape[1], Z.shape[1]
    ZZ = np.zeros((G, k, k))
    XZ = np.zeros((G, p, k))
    r = y - X @ beta
    Zr = np.zeros((G, k))

    def group_sum(values: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=values, minlength=G)

    for a in range(k):
        Zr[:, a] = group_sum(Z[:, a] * r)
        for b in range(k):
            ZZ[:, a, b] = group_sum(Z[:, a] * Z[:, b])
        for j in range(p):
            XZ[:, j, a] = group_sum(X[:, j] * Z[:, a])
    M = sigma2 * np.eye(k)[None] + np.einsum("ab,gbc->gac", D, ZZ)
    A = np.linalg.solve(M, np.broadcast_to(D, (G, k, k)))
    info = (X.T @ X - np.einsum("gpa,gab,gqb->pq", XZ, A, XZ)) / sigma2
    blup = np.einsum("gab,gb->ga", A, Zr)
    return {"cov_fe": np.linalg.inv(info), "blup": blup, "groups": uniques}


@dataclass
class AlsfrsMixedResult:
    """A fitted :class:`AlsfrsMixedModel` (time in months, scores in points).

    Attributes
    ----------
    model : AlsfrsMixedModel
    params : Series
        Fixed effects.  ``months`` is the mean slope (points/month) of non-users of
        every class; ``<class>:months`` the slope difference of users of that class.
    cov_params : DataFrame
        ``(X'V^-1 X)^-1``.
    cov_re : DataFrame
        Covariance of the random intercept and slope (points^2, points^2/month, ...).
    scale : float
        Residual variance ``sigma^2``.
    llf : float
        REML (or ML) log-likelihood in the months parametrisation (as nlme reports it).
    n_obs, n_groups : int
    converged : bool
    optimizer : dict
        Method, tolerance, iterations and calls.
    bse_statsmodels : Series
        statsmodels' standard errors (joint observed information), for comparison.
    random_effects : DataFrame
        BLUPs of each patient's deviation from the mean intercept and slope.
    requested : AlsfrsMixedModel or None
        The model asked for; ``model`` is the one fitted, without the terms of
        ``not_estimable``.
    not_estimable : dict of str to str
        Fixed-effect terms of the requested model left out, with the reason.
    warnings : list of str
        Warnings raised while fitting (none expected on the committed data).
    """

    model: AlsfrsMixedModel
    params: pd.Series
    cov_params: pd.DataFrame
    cov_re: pd.DataFrame
    scale: float
    llf: float
    n_obs: int
    n_groups: int
    converged: bool
    optimizer: dict
    bse_statsmodels: pd.Series
    random_effects: pd.DataFrame
    _data: pd.DataFrame = field(repr=False)
    _X: pd.DataFrame = field(repr=False)
    requested: AlsfrsMixedModel | None = None
    not_estimable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def bse(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self.cov_params)), index=self.params.index)

    @property
    def method(self) -> str:
        return "REML" if self.model.reml else "ML"

    @property
    def n_params(self) -> int:
        """Fixed effects + random-effect (co)variances + residual variance."""
        k = self.cov_re.shape[0]
        return len(self.params) + k * (k + 1) // 2 + 1

    @property
    def aic(self) -> float:
        """``-2 llf + 2 n_params``.  With REML, compare only models with the same fixed effects."""
        return -2 * self.llf + 2 * self.n_params

    @property
    def bic(self) -> float:
        """``-2 llf + log(n_patients) n_params`` (patients as the sample size)."""
        return -2 * self.llf + np.log(self.n_groups) * self.n_params

    def variance_components(self) -> pd.Series:
        """Intercept SD (points), slope SD (points/month), their correlation, residual SD (points)."""
        D = self.cov_re.to_numpy()
        out = {"intercept_sd": float(np.sqrt(D[0, 0]))}
        if D.shape[0] == 2:
            out["slope_sd"] = float(np.sqrt(D[1, 1]))
            out["correlation"] = float(D[0, 1] / np.sqrt(D[0, 0] * D[1, 1])) if D[0, 0] * D[1, 1] > 0 else np.nan
        out["residual_sd"] = float(np.sqrt(self.scale))
        return pd.Series(out)

    def linear_combination(self, weights: Mapping[str, float]) -> pd.Series:
        """Estimate, SE, 95% CI and p-value of ``sum_j w_j beta_j``.

        Parameters
        ----------
        weights : mapping of fixed-effect name to weight
        """
        w = pd.Series(0.0, index=self.params.index)
        for name, value in weights.items():
            if name not in w.index:
                raise KeyError(f"no fixed effect {name!r}")
            w[name] = value
        est = float(w @ self.params)
        se = float(np.sqrt(w @ self.cov_params @ w))
        z = est / se if se > 0 else np.nan
        return pd.Series(
            {
                "estimate": est,
                "se": se,
                "ci_lower": est - Z95 * se,
                "ci_upper": est + Z95 * se,
                "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
            }
        )

    def group_slopes(self) -> pd.DataFrame:
        """Mean slopes (points/month) by prediagnostic use, with 95% CIs.

        For each class with a slope difference: the slope of the reference group
        (non-users of every class: ``months``), of users of the class who used no other
        class (``months + <class>:months``) and the difference (``<class>:months``).  The
        slope does not depend on the covariates (they shift the level only).

        Returns
        -------
        DataFrame
            ``drug_class``, ``group`` (reference, users, difference), ``estimate``, ``se``,
            ``ci_lower``, ``ci_upper``, ``p_value``, ``estimable`` and ``reason`` (a class
            whose slope difference is not estimable has missing users and difference rows).
        """
        rows = []
        requested = self.requested.slope_terms if self.requested is not None else self.model.slope_terms
        for k in requested:
            term = f"{k}:months"
            for group, weights in (
                ("reference", {"months": 1.0}),
                ("users", {"months": 1.0, term: 1.0}),
                ("difference", {term: 1.0}),
            ):
                if term in self.params.index or group == "reference":
                    est = {**self.linear_combination(weights).to_dict(), "estimable": True, "reason": ""}
                else:
                    est = {c: np.nan for c in ("estimate", "se", "ci_lower", "ci_upper", "p_value")}
                    est.update(estimable=False, reason=self.not_estimable.get(term, "not in the model"))
                rows.append({"drug_class": k, "group": group, **est})
        columns = ["drug_class", "group", "estimate", "se", "ci_lower", "ci_upper", "p_value", "estimable", "reason"]
        return pd.DataFrame(rows, columns=columns)

    def typical_covariates(self) -> dict[str, float]:
        """Mean of each covariate over patients (one value per patient)."""
        per_patient = self._data.groupby("person_id")[list(self.model.covariates)].first()
        return {c: float(per_patient[c].mean()) for c in self.model.covariates}

    def predict_mean(
        self,
        months: Sequence[float] | np.ndarray,
        exposures: Mapping[str, float] | None = None,
        covariates: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Mean trajectory (fixed effects only) for one exposure profile, with a 95% band.

        Parameters
        ----------
        months : array-like
            Times since diagnosis.
        exposures : mapping, optional
            Exposure values (default 0 for every class).
        covariates : mapping, optional
            Covariate values (default :meth:`typical_covariates`).

        Returns
        -------
        DataFrame
            ``months``, ``mean``, ``se``, ``ci_lower``, ``ci_upper``.  The band covers the
            mean line, not individual patients.
        """
        months = np.asarray(months, dtype=float)
        exposures = {k: 0.0 for k in self.model.exposures} | dict(exposures or {})
        covariates = self.typical_covariates() | dict(covariates or {})
        frame = pd.DataFrame({"months": months, **exposures, **covariates})
        X = self.model.design(frame)[self.params.index].to_numpy()
        mean = X @ self.params.to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, self.cov_params.to_numpy(), X))
        return pd.DataFrame(
            {"months": months, "mean": mean, "se": se, "ci_lower": mean - Z95 * se, "ci_upper": mean + Z95 * se}
        )

    def residuals(self) -> pd.DataFrame:
        """Per visit: fitted values and residuals.

        Returns
        -------
        DataFrame
            ``person_id``, ``months``, ``score``, ``fitted_marginal`` (x'beta),
            ``fitted`` (x'beta + z'b_i, with the BLUPs), ``residual`` (score - fitted,
            the conditional residual), ``standardized`` (residual / residual SD) and
            ``marginal_residual`` (score - fitted_marginal).
        """
        d = self._data
        marginal = self._X[self.params.index].to_numpy() @ self.params.to_numpy()
        re = self.random_effects.reindex(d["person_id"].to_numpy()).to_numpy()
        Z = np.column_stack([np.ones(len(d)), d["months"].to_numpy()])[:, : re.shape[1]]
        fitted = marginal + np.sum(Z * re, axis=1)
        out = d[["person_id", "months", "score"]].copy()
        out["fitted_marginal"] = marginal
        out["fitted"] = fitted
        out["residual"] = out["score"] - fitted
        out["standardized"] = out["residual"] / np.sqrt(self.scale)
        out["marginal_residual"] = out["score"] - marginal
        return out

    def residual_diagnostics(self) -> pd.Series:
        """Summaries of the conditional residuals and of the score's floor and ceiling.

        Returns
        -------
        Series
            Mean and SD of the residuals, skewness and excess kurtosis of the
            standardized residuals, share beyond +-2 and +-3 (normal: 4.6% and 0.27%),
            correlation of residuals with fitted values, share of visits at the
            ceiling (48) and floor (0), and the within-patient lag-1 correlation of the
            residuals.
        """
        r = self.residuals()
        z = r["standardized"]
        lag = r.groupby("person_id")["residual"].shift(1)
        both = lag.notna()
        return pd.Series(
            {
                "residual mean": float(r["residual"].mean()),
                "residual SD": float(r["residual"].std()),
                "skewness": float(stats.skew(z)),
                "excess kurtosis": float(stats.kurtosis(z)),
                "share |z| > 2": float((z.abs() > 2).mean()),
                "share |z| > 3": float((z.abs() > 3).mean()),
                "corr(residual, fitted)": float(np.corrcoef(r["residual"], r["fitted"])[0, 1]),
                "share of visits at 48": float((r["score"] >= 48).mean()),
                "share of visits at 0": float((r["score"] <= 0).mean()),
                "lag-1 correlation within patient": float(np.corrcoef(r.loc[both, "residual"], lag[both])[0, 1])
                if both.sum() > 2
                else np.nan,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """Every estimate as a tidy table (columns :data:`MIXED_MODEL_RESULT_COLUMNS`)."""
        rows = []
        base = {"model": self.model.name, "method": self.method, "n_obs": self.n_obs, "n_patients": self.n_groups}
        for term in self.params.index:
            lc = self.linear_combination({term: 1.0})
            drug = next((k for k in self.model.exposures if term in (k, f"{k}:months")), "")
            unit = "points/month" if term in self.model.time_columns([term]) else "points"
            rows.append(
                {
                    **base,
                    "kind": "fixed_effect",
                    "term": term,
                    "drug_class": drug,
                    "group": "",
                    **lc.to_dict(),
                    "unit": unit,
                    "estimable": True,
                    "reason": "",
                }
            )
        exposures = self.requested.exposures if self.requested is not None else self.model.exposures
        for term, why in self.not_estimable.items():
            drug = next((k for k in exposures if term in (k, f"{k}:months")), "")
            unit = "points/month" if term.endswith(":months") else "points"
            rows.append(
                {
                    **base,
                    "kind": "fixed_effect",
                    "term": term,
                    "drug_class": drug,
                    "group": "",
                    "unit": unit,
                    "estimable": False,
                    "reason": why,
                }
            )
        for rec in self.group_slopes().to_dict(orient="records"):
            rows.append({**base, "kind": "slope", "term": f"slope_{rec['group']}", "unit": "points/month", **rec})
        units = {"intercept_sd": "points", "slope_sd": "points/month", "correlation": "", "residual_sd": "points"}
        for name, value in self.variance_components().items():
            rows.append(
                {
                    **base,
                    "kind": "variance_component",
                    "term": name,
                    "drug_class": "",
                    "group": "",
                    "estimate": value,
                    "unit": units[name],
                    "estimable": True,
                    "reason": "",
                }
            )
        for name, value in (("log_likelihood", self.llf), ("aic", self.aic), ("bic", self.bic)):
            rows.append(
                {
                    **base,
                    "kind": "fit_statistic",
                    "term": name,
                    "drug_class": "",
                    "group": "",
                    "estimate": value,
                    "unit": "",
                    "estimable": True,
                    "reason": "",
                }
            )
        return pd.DataFrame(rows, columns=list(MIXED_MODEL_RESULT_COLUMNS))

    def summary(self) -> str:
        """A plain-text summary (no dates or timings, so it is stable across runs)."""
        vc = self.variance_components()
        fe = pd.DataFrame({"estimate": self.params, "SE": self.bse})
        fe["95% CI"] = [
            f"{e - Z95 * s:.3f} to {e + Z95 * s:.3f}" for e, s in zip(fe["estimate"], fe["SE"], strict=True)
        ]
        fe["p"] = [f"{2 * stats.norm.sf(abs(e / s)):.3g}" for e, s in zip(fe["estimate"], fe["SE"], strict=True)]
        slopes = self.group_slopes()
        slopes["95% CI"] = [
            f"{lo:.3f} to {hi:.3f}" for lo, hi in zip(slopes["ci_lower"], slopes["ci_upper"], strict=True)
        ]
        re_text = "random intercept and slope in months" if self.model.random_slope else "random intercept"
        lines = [
            f"ALSFRS-R linear mixed model ({self.method}; statsmodels MixedLM, {re_text}, by patient)",
            f"visits: {self.n_obs:,}   patients: {self.n_groups:,}   log-likelihood: {self.llf:.3f}   "
            f"converged: {'yes' if self.converged else 'NO'}",
            "",
            "Fixed effects (points; slopes in points/month)",
            fe.round(4).to_string(),
            "",
            "Slopes by prediagnostic use (points/month)",
            slopes[["drug_class", "group", "estimate", "se", "95% CI"]].round(4).to_string(index=False),
            "",
            "Variance components",
            "  " + "   ".join(f"{k} {v:.4f}" for k, v in vc.items()),
        ]
        if self.not_estimable:
            lines += ["", "Not estimable (left out of the model)"]
            lines += [f"  {term}: {why}" for term, why in self.not_estimable.items()]
        if self.warnings:
            lines += ["", "Warnings while fitting"] + [f"  {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- model comparison


def boundary_lr_pvalue(lr: float) -> float:
    """p-value of a likelihood-ratio test that a random slope (variance and covariance) is zero.

    Under the null the variance sits on the boundary of its range, and the statistic is
    distributed as the 50:50 mixture of chi-square(1) and chi-square(2) (Self and Liang
    1987; Stram and Lee 1994, for one random intercept plus one random slope).
    """
    lr = max(float(lr), 0.0)
    return float(0.5 * stats.chi2.sf(lr, 1) + 0.5 * stats.chi2.sf(lr, 2))


def compare_random_effects(data: pd.DataFrame, model: AlsfrsMixedModel | None = None) -> pd.DataFrame:
    """Random intercept and slope against random intercept only, by maximum likelihood.

    Both models have the same fixed effects, so REML likelihoods would be comparable
    too; ML is used so that the AIC values are also comparable with models whose
    fixed effects differ.  The likelihood-ratio test of "no random slope" (slope
    variance and covariance zero) sits on the boundary of the parameter space: its
    null distribution is the 50:50 mixture of chi-square(1) and chi-square(2) (Self
    and Liang 1987; Stram and Lee 1994), reported as ``p_mixture``; ``p_chi2`` is the
    naive chi-square(2) p-value, which is conservative.

    Returns
    -------
    DataFrame
        One row per model: ``model``, ``log_likelihood``, ``n_params``, ``aic``, ``bic``,
        ``residual_sd``, ``converged``, and, on the random-slope row, ``lr_statistic``,
        ``lr_df``, ``p_chi2``, ``p_mixture``; ``estimable`` and ``reason`` say when a
        model could not be fitted (its numbers and the test are then missing).
    """
    model = model or AlsfrsMixedModel()
    fits: dict[str, AlsfrsMixedResult | MixedModelError] = {}
    for random_slope in (False, True):
        variant = replace(model, reml=False, random_slope=random_slope)
        try:
            fits[variant.name] = variant.fit(data)
        except MixedModelError as exc:
            fits[variant.name] = exc
    rows = []
    for name, fit in fits.items():
        if isinstance(fit, MixedModelError):
            rows.append({"model": name, "estimable": False, "reason": str(fit)})
            continue
        rows.append(
            {
                "model": name,
                "log_likelihood": fit.llf,
                "n_params": fit.n_params,
                "aic": fit.aic,
                "bic": fit.bic,
                "residual_sd": float(np.sqrt(fit.scale)),
                "converged": fit.converged,
                "estimable": True,
                "reason": "",
            }
        )
    columns = ["model", "log_likelihood", "n_params", "aic", "bic", "residual_sd", "converged", "estimable", "reason"]
    out = pd.DataFrame(rows, columns=columns)
    reduced, full = fits["random_intercept"], fits["random_intercept_slope"]
    lr = np.nan
    if isinstance(reduced, AlsfrsMixedResult) and isinstance(full, AlsfrsMixedResult):
        lr = max(2 * (full.llf - reduced.llf), 0.0)
    out["lr_statistic"] = [np.nan, lr]
    out["lr_df"] = [np.nan, 2.0]
    out["p_chi2"] = [np.nan, float(stats.chi2.sf(lr, 2)) if np.isfinite(lr) else np.nan]
    out["p_mixture"] = [np.nan, boundary_lr_pvalue(lr) if np.isfinite(lr) else np.nan]
    return out


def not_estimable_rows(reason: str, n_obs: int, n_patients: int) -> pd.DataFrame:
    """The results rows of a mixed model that could not be fitted (:class:`MixedModelError`), with the reason.

    One ``fixed_effect`` row per term of the default model, ``estimable=False``, in the
    layout of :data:`MIXED_MODEL_RESULT_COLUMNS`, so the results file exists and says why
    it holds no estimates.
    """
    model = AlsfrsMixedModel()
    terms = ["Intercept", "months", *model.exposures, *[f"{k}:months" for k in model.slope_terms], *model.covariates]
    rows = [
        {
            "model": model.name,
            "method": "REML",
            "kind": "fixed_effect",
            "term": term,
            "drug_class": next((k for k in model.exposures if term in (k, f"{k}:months")), ""),
            "group": "",
            "unit": "points/month" if term.endswith("months") else "points",
            "n_obs": n_obs,
            "n_patients": n_patients,
            "estimable": False,
            "reason": reason,
        }
        for term in terms
    ]
    return pd.DataFrame(rows, columns=list(MIXED_MODEL_RESULT_COLUMNS))


def comparison_rows(comparison: pd.DataFrame, n_obs: int, n_patients: int) -> pd.DataFrame:
    """:func:`compare_random_effects` as rows of :data:`MIXED_MODEL_RESULT_COLUMNS` (kind ``model_comparison``)."""
    rows = []
    for rec in comparison.to_dict(orient="records"):
        base = {
            "model": rec["model"],
            "method": "ML",
            "kind": "model_comparison",
            "drug_class": "",
            "group": "",
            "unit": "",
            "n_obs": n_obs,
            "n_patients": n_patients,
            "estimable": bool(rec.get("estimable", True)),
            "reason": rec.get("reason", "") or "",
        }
        for term in ("log_likelihood", "aic", "bic"):
            rows.append({**base, "term": term, "estimate": rec[term]})
        if np.isfinite(rec["lr_statistic"]):
            rows.append(
                {
                    **base,
                    "term": "lr_statistic_vs_random_intercept",
                    "estimate": rec["lr_statistic"],
                    "p_value": rec["p_mixture"],
                }
            )
    return pd.DataFrame(rows, columns=list(MIXED_MODEL_RESULT_COLUMNS))


# --------------------------------------------------------------------------- planted-truth checks


def true_person_effects(people: pd.DataFrame) -> pd.DataFrame:
    """True ALSFRS-R intercept and slope of each case from ``truth_people.csv`` / ``SyntheticRegistry.people``.

    Returns
    -------
    DataFrame
        Indexed by ``person_id``: ``b0`` (points at diagnosis), ``b1`` (points/month).
    """
    cases = people[people["role"] == "case"]
    return pd.DataFrame(
        {"b0": cases["alsfrs_intercept"].to_numpy(), "b1": cases["alsfrs_slope_per_month"].to_numpy()},
        index=pd.Index(cases["person_id"].to_numpy(), name="person_id"),
    )


def _patients(data: pd.DataFrame) -> pd.DataFrame:
    keep = [
        c for c in ALSFRS_DATA_COLUMNS if c in data and c not in {"visit_date", "months", "score", "visit", "n_visits"}
    ]
    return data.groupby("person_id", sort=True)[[c for c in keep if c != "person_id"]].first().reset_index()


def latent_complete_trajectories(
    data: pd.DataFrame,
    effects: pd.DataFrame,
    *,
    horizon_months: float = 36.0,
    every_months: float = 3.0,
    residual_sd: float = 2.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Every patient of ``data`` seen to a fixed horizon, with no dropout and no floor or ceiling.

    Score = true intercept + true slope x months + normal noise (``residual_sd``), not
    rounded or clipped, at months 0, ``every_months``, ..., ``horizon_months``.  The
    mixed model is correctly specified for these data, so it must recover the
    planted slopes: the check of the estimator.  :func:`cut_at_follow_up` removes the
    visits after each patient's real end of follow-up from the same rows.

    Returns
    -------
    DataFrame
        In the format of :func:`build_alsfrs_data` (patients' covariates and follow-up copied).
    """
    patients = _patients(data)
    times = np.arange(0.0, horizon_months + 1e-9, every_months)
    out = patients.loc[np.repeat(patients.index.to_numpy(), len(times))].reset_index(drop=True)
    out["months"] = np.tile(times, len(patients))
    out["visit"] = np.tile(np.arange(len(times)), len(patients))
    out["n_visits"] = len(times)
    eff = effects.reindex(out["person_id"].to_numpy())
    rng = np.random.default_rng(seed)
    noise = residual_sd * rng.standard_normal(len(out))
    out["score"] = eff["b0"].to_numpy() + eff["b1"].to_numpy() * out["months"].to_numpy() + noise
    return out


def cut_at_follow_up(complete: pd.DataFrame) -> pd.DataFrame:
    """The visits of :func:`latent_complete_trajectories` up to each patient's end of follow-up.

    Same patients, same times, same scores and noise; only the visits after death,
    invasive ventilation or censoring are gone.  Fitting both isolates what
    informative dropout does to the mixed model (common random numbers: the two fits
    differ in nothing else).
    """
    out = complete[complete["months"] <= complete["followup_months"] + 1e-9].copy()
    out["n_visits"] = out.groupby("person_id")["visit"].transform("size")
    return out.reset_index(drop=True)


def latent_at_observed_visits(
    data: pd.DataFrame, effects: pd.DataFrame, *, residual_sd: float = 2.0, seed: int = 0
) -> pd.DataFrame:
    """The observed visits (same patients, same times, same dropout) with latent scores.

    Score = true intercept + true slope x months + normal noise, not rounded or
    clipped: only the 0-48 floor and ceiling and the rounding separate them from the
    observed scores (the noise is drawn afresh).
    """
    out = data.copy()
    eff = effects.reindex(out["person_id"].to_numpy())
    rng = np.random.default_rng(seed)
    noise = residual_sd * rng.standard_normal(len(out))
    out["score"] = eff["b0"].to_numpy() + eff["b1"].to_numpy() * out["months"].to_numpy() + noise
    return out


def latent_slope_regression(data: pd.DataFrame, effects: pd.DataFrame, slope_exposures: Sequence[str] = CLASSES):
    """The sample's own slope estimand: least squares of the true slopes on the slope terms.

    Regressing each patient's true slope ``b1_i`` on an intercept and the exposures
    gives, for *these* patients, the reference-group slope and the slope differences a
    perfect longitudinal study would estimate.  It differs from the planted population
    values only by sampling (the true slopes' spread, 0.6 points/month, over the
    sample); comparing estimates with it removes that sampling error.

    Returns
    -------
    Series
        ``months`` and ``<class>:months``, in points/month.
    """
    patients = _patients(data).set_index("person_id")
    X = np.column_stack([np.ones(len(patients))] + [patients[k].to_numpy(float) for k in slope_exposures])
    b1 = effects["b1"].reindex(patients.index).to_numpy()
    coef, *_ = np.linalg.lstsq(X, b1, rcond=None)
    return pd.Series(coef, index=["months"] + [f"{k}:months" for k in slope_exposures])


# --------------------------------------------------------------------------- R reference


@dataclass(frozen=True)
class RLmeResult:
    """An ``nlme::lme`` fit read back from R (names as in :class:`AlsfrsMixedResult`)."""

    params: pd.Series
    bse: pd.Series
    variance_components: pd.Series
    llf: float
    n_obs: int
    n_groups: int
    warnings: list[str]
    median_seconds: float | None
    r_version: str
    nlme_version: str


def r_lme(
    data: pd.DataFrame,
    model: AlsfrsMixedModel | None = None,
    *,
    timing_runs: int = 0,
    tolerance: float = 1e-10,
    timeout: float = 600.0,
) -> RLmeResult:
    """Fit the same model with R ``nlme::lme`` (``src/alsmeds/reference/R/lme.R``).

    ``lme(score ~ <design>, random = ~ months | person_id, method = "REML")`` on the
    design of ``model`` in months; needs R with nlme and jsonlite
    (:func:`alsmeds.reference.r_available` checks R itself).

    Parameters
    ----------
    timing_runs : int
        Fit that many more times inside R and report the median seconds.
    tolerance : float
        ``lmeControl(tolerance =, msTol =)``.
    """
    from .reference import run_r_script

    model = model or AlsfrsMixedModel()
    d = data.sort_values(["person_id", "months"], kind="stable").reset_index(drop=True)
    X = model.design(d).drop(columns="Intercept")
    frame = pd.concat([d[["person_id"]], d[["score"]].astype(float), X], axis=1)
    args = {
        "response": "score",
        "fixed": list(X.columns),
        "time": "months",
        "group": "person_id",
        "random_slope": model.random_slope,
        "method": "REML" if model.reml else "ML",
        "tolerance": tolerance,
        "timing_runs": int(timing_runs),
    }
    out = run_r_script("lme", {"data": frame}, args, timeout=timeout)

    def series(values: Mapping[str, Any]) -> pd.Series:
        s = pd.Series({("Intercept" if k == "(Intercept)" else k): v for k, v in values.items()}, dtype=float)
        return s

    vc = pd.Series({k: (np.nan if v is None else float(v)) for k, v in out["variance_components"].items()})
    if not model.random_slope:
        vc = vc.drop(["slope_sd", "correlation"])
    timing = out.get("timing")
    return RLmeResult(
        params=series(out["fixed"]),
        bse=series(out["se"]),
        variance_components=vc[
            ["intercept_sd", *(["slope_sd", "correlation"] if model.random_slope else []), "residual_sd"]
        ],
        llf=float(out["loglik"]),
        n_obs=int(out["n_obs"]),
        n_groups=int(out["n_groups"]),
        warnings=list(out.get("warnings") or []),
        median_seconds=None if not timing else float(timing["median_seconds"]),
        r_version=str(out["r_version"]),
        nlme_version=str(out["nlme_version"]),
    )
