"""Survival after ALS diagnosis: follow-up, Kaplan-Meier curves, log-rank tests and Cox models.

The prognosis half of Chourpiliadis et al. (2025) asks whether people who used
anxiolytics, hypnotics or antidepressants *before* their ALS diagnosis reach death or
invasive ventilation sooner after it.  This module builds the one-row-per-case
survival data from a register extract and fits the classical models; the joint
longitudinal-survival model of the paper lives elsewhere (notebook 07).

Survival data rules (:func:`build_survival_data`)
-------------------------------------------------
* **Time origin**: the ALS diagnosis date (``als_cases.diagnosis_date``, the index date).
* **Event**: the first of death or invasive ventilation.  The event date is the earliest
  of the ``outcomes`` rows (``death``, ``invasive_ventilation``) and
  ``persons.death_date`` (the Cause of Death Register, in case the outcomes table lacks a
  death).  Invasive ventilation followed by death therefore counts at the ventilation
  date; death is part of the composite event, not a competing risk.
* **Censoring**: at ``end_of_follow_up`` of ``extract.json`` (administrative), or at
  emigration (``persons.emigration_date``), whichever comes first, when no event
  happened on or before it.  An event *on* the emigration date counts; an event after
  emigration or after the end of follow-up does not (the registers cannot be trusted to
  see it).  An emigration date *before* the diagnosis is ignored: a person diagnosed in
  the Swedish registry has returned.
* **Time scale**: years, ``days / 365.25``.  A case with an event or censoring on the
  diagnosis day has time 0 (kept; it contributes to the risk set at time 0 only).
* **Covariates at diagnosis**: age (years, from ``persons.birth_date``), male sex, bulbar
  onset, diagnostic delay (months from first symptom), and the **baseline ALSFRS-R**:
  the total score of the visit on the diagnosis date, or else of the first visit within
  :data:`BASELINE_WINDOW_DAYS` (30) days after it; missing when there is none (the Cox
  models then drop the case: a complete-case analysis, reported as ``n_dropped``).
* **Exposure**: *prediagnostic use* of each class, ``use_<class>`` = any qualifying use
  (at least two dispensings on distinct dates) before the diagnosis date, whatever the
  window, i.e. ``cat_<class> != 0``.  This is the exposure of the paper's prognosis
  analysis and of the generator's planted hazard.

Rules for register data
-----------------------
* **Every ALS case is in the prognosis cohort**, including a case with no control at
  all (uninformative for the risk models and absent from the analysis table, see
  :mod:`alsmeds.analysis_table`) and a case whose only controls are siblings or a spouse.
* **Case exposures** come from :func:`case_exposures`
  (:func:`alsmeds.analysis_table.case_exposures`, the same function
  :mod:`alsmeds.trajectories` uses): every case classified from its dispensings at its
  diagnosis date, never from the rows of one comparison of the analysis table.
* **Two ALSFRS-R assessments on the same day** are averaged into one visit
  (:func:`alsmeds.trajectories.alsfrs_visits`) before the baseline score is taken, so
  the baseline may be a half point.
* **A term that cannot be estimated** is left out of its Cox model and reported with
  ``estimable=False`` and the reason (:meth:`CoxResult.to_frame`): an exposure with no
  users, no non-users or no event in one of the two groups (the likelihood is then
  monotone and the hazard ratio infinite or zero), or one aliased with the covariates.
  A covariate that does not vary, or has no event at one of its two levels, is dropped
  from the adjustment set and reported the same way.  A model that cannot be fitted at
  all (no events, no estimable exposure, lifelines failing to converge, a covariate whose
  coefficient runs off to infinity: separation) has
  ``CoxResult.reason`` set and every exposure row not estimable.  Kaplan-Meier curves,
  log-rank tests and restricted mean survival times leave out (or mark missing) a
  group without patients.

Estimands
---------
* Kaplan-Meier curves estimate the marginal survival function ``S(t) = P(T > t)`` of
  event-free survival in users and non-users, assuming censoring independent of the
  event time (within group); log-rank tests compare them without adjustment.
* The Cox model ``h(t | x) = h0(t) exp(b'x)`` with exposure, age, sex, onset site,
  diagnostic delay and baseline ALSFRS-R estimates a **total** conditional hazard ratio
  of prediagnostic use given those baseline covariates, under proportional hazards and
  independent censoring.  It includes every pathway from use to the event after
  diagnosis, notably a faster ALSFRS-R decline; the joint model's hazard ratio, given the
  current ALSFRS-R value, is a **direct** effect.  The total effect implied by the
  generator is computed numerically by :mod:`alsmeds.simulate.prognosis_truth`.
* The Cox estimates use Efron's approximation for tied event days and the inverse
  observed information for standard errors, as R's ``survival::coxph``; Kaplan-Meier
  95% bands use Greenwood's variance on the log(-log) scale
  (R's ``conf.type = "log-log"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .analysis_table import case_exposures as case_exposures  # re-exported: one function for every case
from .constants import CATEGORY_CODES, CLASSES
from .published import PUBLISHED_FOLLOWUP_YEARS

#: Days per year of the time scale.
DAYS_PER_YEAR = 365.25
#: A visit up to this many days after the diagnosis date can give the baseline ALSFRS-R.
BASELINE_WINDOW_DAYS = 30
#: Adjustment set of the Cox models (columns made by :func:`cox_design`).
ADJUSTMENT = ("age_per_10y", "male", "bulbar", "diagnostic_delay_months", "alsfrs_baseline")
#: Readable names of the model terms.
TERM_LABELS = {
    **{f"use_{k}": f"prediagnostic use of {k}" for k in CLASSES},
    "age_per_10y": "age at diagnosis, per 10 years",
    "age_65_plus": "age at diagnosis 65 or more",
    "age_band": "age band at diagnosis (<55, 55-64, 65-74, 75+)",
    "male": "male sex",
    "bulbar": "bulbar onset",
    "diagnostic_delay_months": "diagnostic delay, per month",
    "alsfrs_baseline": "ALSFRS-R at diagnosis, per point",
}
#: Tight Newton-Raphson settings for lifelines' CoxPHFitter.  Its defaults (precision 1e-7 on the step and on the
#: Newton decrement, or a relative change of the log-likelihood below 1e-9) left coefficients 3e-7 to 2e-6 from R's
#: coxph on paper-scale data; with these (no log-likelihood rule, 1e-12 on the step and the decrement) the largest
#: difference is 2e-10 from R's default fit and 3e-14 from R with eps = 1e-12, at the cost of one or two more
#: iterations.  With precision 1e-10 the decrement rule still stopped one iteration early (3e-7).
LIFELINES_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 0.0, "step_size": 0.95, "max_steps": 200}
Z_95 = 1.959963984540054
#: Largest |log hazard ratio| of an exposure reported as estimable: beyond it the partial likelihood is flat.
MAX_ABS_LOG_HR = 10.0


def _short_reason(exc: BaseException) -> str:
    """The first sentence of an exception message (lifelines' messages go on with tips and links)."""
    text = str(exc).strip().split("\n")[0].split(". ")[0].rstrip(".")
    return text or type(exc).__name__


#: Columns of :func:`build_survival_data`, with their meaning.
SURVIVAL_DATA_COLUMNS = {
    "person_id": "the ALS case",
    "diagnosis_date": "date of ALS diagnosis (time origin)",
    "end_date": "date follow-up ended: the event, emigration or the end of follow-up",
    "time": "years from diagnosis to end_date (days / 365.25)",
    "event": "1 when follow-up ended with death or invasive ventilation, else 0",
    "status": "death, invasive_ventilation, emigration or end_of_follow_up: how follow-up ended",
    "age": "age at diagnosis, years",
    "male": "1 for men",
    "onset_site": "bulbar or spinal",
    "bulbar": "1 for bulbar onset",
    "diagnostic_delay_months": "months from first symptom to diagnosis",
    "alsfrs_baseline": "ALSFRS-R total at diagnosis (visit on the diagnosis date or first within 30 days)",
    "alsfrs_baseline_day": "days from diagnosis to the baseline visit",
    **{f"cat_{k}": f"{k}: window code of first qualifying use (0 never, 1 0-1 y, 2 1-5 y, 3 >5 y)" for k in CLASSES},
    **{f"use_{k}": f"1 for any qualifying use of {k} before diagnosis (prediagnostic use)" for k in CLASSES},
}


# --------------------------------------------------------------------------------------------------------------
# Survival data
# --------------------------------------------------------------------------------------------------------------


def _first_event(outcomes: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Per person, the date and kind of the first of death or invasive ventilation."""
    rows = [outcomes[["person_id", "event", "event_date"]]]
    deaths = persons.loc[persons["death_date"].notna(), ["person_id", "death_date"]]
    rows.append(deaths.rename(columns={"death_date": "event_date"}).assign(event="death"))
    events = pd.concat(rows, ignore_index=True)
    # On a tie the ventilation is listed first: it is the event that ended invasive-ventilation-free survival.
    events["_order"] = (events["event"] != "invasive_ventilation").astype(int)
    events = events.sort_values(["person_id", "event_date", "_order"], kind="stable")
    return events.drop_duplicates("person_id").drop(columns="_order").set_index("person_id")


def baseline_alsfrs(
    alsfrs: pd.DataFrame, diagnosis: pd.Series, window_days: int = BASELINE_WINDOW_DAYS
) -> pd.DataFrame:
    """The ALSFRS-R at diagnosis: the visit on the diagnosis date, else the first within ``window_days`` after it.

    Assessments on the same day are averaged first (:func:`alsmeds.trajectories.alsfrs_visits`).

    Parameters
    ----------
    alsfrs : DataFrame
        person_id, visit_date, alsfrs_r_total.
    diagnosis : Series
        Diagnosis date indexed by person_id.
    window_days : int
        Latest visit day after diagnosis that still counts as baseline.

    Returns
    -------
    DataFrame
        Indexed by person_id: ``alsfrs_baseline`` and ``alsfrs_baseline_day`` (days after
        diagnosis); persons without such a visit are absent.
    """
    from .trajectories import alsfrs_visits

    visits = alsfrs_visits(alsfrs[alsfrs["person_id"].isin(diagnosis.index)])
    day = (visits["visit_date"] - visits["person_id"].map(diagnosis)).dt.days
    visits = visits.assign(day=day)[(day >= 0) & (day <= window_days)]
    first = visits.sort_values(["person_id", "day"], kind="stable").drop_duplicates("person_id")
    return pd.DataFrame(
        {
            "alsfrs_baseline": first["alsfrs_r_total"].astype(float).to_numpy(),
            "alsfrs_baseline_day": first["day"].to_numpy(),
        },
        index=pd.Index(first["person_id"].to_numpy(), name="person_id"),
    )


def build_survival_data(
    registry: Any,
    exposures: pd.DataFrame,
    *,
    classes: Sequence[str] = CLASSES,
    baseline_window_days: int = BASELINE_WINDOW_DAYS,
) -> pd.DataFrame:
    """One row per ALS case: time from diagnosis to death or invasive ventilation, with covariates and exposure.

    The rules (event, censoring at the end of follow-up or emigration, baseline
    ALSFRS-R, prediagnostic use) are given in the module docstring;
    :data:`SURVIVAL_DATA_COLUMNS` lists the columns.

    Parameters
    ----------
    registry : Registry
        A register extract with ``als_cases``, ``persons``, ``outcomes`` and ``alsfrs``
        tables and ``metadata["end_of_follow_up"]`` (anything indexable by table name
        with a ``metadata`` mapping will do).
    exposures : DataFrame
        ``person_id`` and ``cat_<class>`` for every case: :func:`case_exposures` of the
        registry.
    classes : sequence of str
        Drug classes to carry.
    baseline_window_days : int
        Latest day after diagnosis whose visit may give the baseline ALSFRS-R.

    Returns
    -------
    DataFrame
        Sorted by person_id.

    Raises
    ------
    ValueError
        When a case has no exposure row, or ``exposures`` is an analysis table (whose
        case rows depend on the comparisons a case has controls in).
    """
    if "comparison" in exposures.columns:
        raise ValueError(
            "exposures must be one row per case from case_exposures(registry), not the analysis table: "
            "a case with no control is not in the analysis table"
        )
    cases = registry["als_cases"][["person_id", "diagnosis_date", "onset_site", "diagnostic_delay_months"]]
    cases = cases.sort_values("person_id", kind="stable").reset_index(drop=True)
    persons = registry["persons"].set_index("person_id")
    missing = sorted(set(cases["person_id"]) - set(exposures["person_id"]))
    if missing:
        raise ValueError(f"{len(missing)} case(s) without exposure data, e.g. person_id {missing[:5]}")

    diagnosis = pd.to_datetime(cases["diagnosis_date"])
    end_of_follow_up = pd.Timestamp(registry.metadata["end_of_follow_up"])
    first = _first_event(registry["outcomes"], registry["persons"][["person_id", "death_date"]])
    event_date = cases["person_id"].map(first["event_date"])
    event_kind = cases["person_id"].map(first["event"])
    emigration = pd.to_datetime(cases["person_id"].map(persons["emigration_date"]))
    emigration = emigration.where(emigration >= diagnosis)  # emigration before diagnosis: returned, ignored

    censor_date = emigration.where(emigration < end_of_follow_up, end_of_follow_up)
    censor_reason = np.where(emigration < end_of_follow_up, "emigration", "end_of_follow_up")
    has_event = event_date.notna() & (event_date <= censor_date)
    end_date = event_date.where(has_event, censor_date)
    status = np.where(has_event, event_kind.fillna(""), censor_reason)

    birth = cases["person_id"].map(persons["birth_date"])
    baseline = baseline_alsfrs(registry["alsfrs"], diagnosis.set_axis(cases["person_id"]), baseline_window_days)
    out = pd.DataFrame(
        {
            "person_id": cases["person_id"].to_numpy(),
            "diagnosis_date": diagnosis.to_numpy(),
            "end_date": pd.to_datetime(end_date).to_numpy(),
            "time": (pd.to_datetime(end_date) - diagnosis).dt.days.to_numpy() / DAYS_PER_YEAR,
            "event": has_event.astype(np.int64).to_numpy(),
            "status": status,
            "age": (diagnosis - pd.to_datetime(birth)).dt.days.to_numpy() / DAYS_PER_YEAR,
            "male": (cases["person_id"].map(persons["sex"]) == "male").astype(np.int64).to_numpy(),
            "onset_site": cases["onset_site"].to_numpy(),
            "bulbar": (cases["onset_site"] == "bulbar").astype(np.int64).to_numpy(),
            "diagnostic_delay_months": cases["diagnostic_delay_months"].astype(float).to_numpy(),
            "alsfrs_baseline": cases["person_id"].map(baseline["alsfrs_baseline"]).to_numpy(dtype=float),
            "alsfrs_baseline_day": cases["person_id"].map(baseline["alsfrs_baseline_day"]).astype("Int64").to_numpy(),
        }
    )
    exp = exposures.set_index("person_id")
    for k in classes:
        cat = out["person_id"].map(exp[f"cat_{k}"]).astype(np.int64)
        out[f"cat_{k}"] = cat.to_numpy()
        out[f"use_{k}"] = (cat != CATEGORY_CODES["never"]).astype(np.int64).to_numpy()
    return out[[c for c in SURVIVAL_DATA_COLUMNS if c in out.columns]]


# --------------------------------------------------------------------------------------------------------------
# Follow-up
# --------------------------------------------------------------------------------------------------------------


def _kmf():
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter()


def km_quantile(kmf: Any, p: float) -> float:
    """The first time the Kaplan-Meier curve of a fitted ``KaplanMeierFitter`` is at or below ``p``.

    ``p = 0.5`` gives the median (lifelines' ``median_survival_time_``); ``inf`` when the
    curve never gets that low.  Read off the step function directly: lifelines'
    ``percentile()`` interpolates and warns (``ApproximationWarning``).  R's ``survfit``
    takes the midpoint instead when the curve equals ``p`` exactly on a flat stretch.
    """
    sf = kmf.survival_function_.iloc[:, 0]
    # lifelines multiplies in log space, so a curve that is exactly p can come out as p + 1e-16.
    below = sf.index[sf.to_numpy() <= p + 1e-12]
    return float(below[0]) if len(below) else float("inf")


def followup_summary(data: pd.DataFrame) -> dict[str, Any]:
    """Observed and potential follow-up after diagnosis.

    * **Observed follow-up** is the time each case was followed, to the event or to
      censoring: median and quartiles (``numpy.quantile``, linear interpolation).  This
      is what the paper reports: median 1.33 (IQR 0.64-2.37) years.  With a lethal
      disease it mostly measures survival.
    * **Potential follow-up** is estimated by the reverse Kaplan-Meier method (Schemper &
      Smith 1996): the Kaplan-Meier estimator with censoring as the "event" and events
      as censored, i.e. how long cases *would* have been followed had they not had the
      event.  Its median describes the study's follow-up window, not survival.

    Parameters
    ----------
    data : DataFrame
        Survival data (:func:`build_survival_data`): ``time``, ``event``, ``status``.

    Returns
    -------
    dict
        JSON-ready: counts (cases, events by kind, censored by reason), person-years,
        event rate per 100 person-years, observed follow-up median/q1/q3, reverse
        Kaplan-Meier median/q1/q3 of potential follow-up, and the published values.
    """
    time = data["time"].to_numpy(dtype=float)
    event = data["event"].to_numpy(dtype=int)
    q1, median, q3 = (float(x) for x in np.quantile(time, [0.25, 0.5, 0.75]))
    reverse = _kmf().fit(time, 1 - event)
    status = data["status"].value_counts()
    person_years = float(time.sum())

    def pct(p: float) -> float | None:
        value = km_quantile(reverse, p)
        return value if np.isfinite(value) else None

    return {
        "n_cases": int(len(data)),
        "events": int(event.sum()),
        "deaths": int(status.get("death", 0)),
        "invasive_ventilations": int(status.get("invasive_ventilation", 0)),
        "censored_end_of_follow_up": int(status.get("end_of_follow_up", 0)),
        "censored_emigration": int(status.get("emigration", 0)),
        "person_years": person_years,
        "events_per_100_person_years": 100 * float(event.sum()) / person_years if person_years > 0 else None,
        "observed_followup_years": {"median": median, "q1": q1, "q3": q3},
        "potential_followup_years_reverse_km": {"median": pct(0.5), "q1": pct(0.75), "q3": pct(0.25)},
        "published_followup_years": dict(PUBLISHED_FOLLOWUP_YEARS),
    }


# --------------------------------------------------------------------------------------------------------------
# Kaplan-Meier and log-rank
# --------------------------------------------------------------------------------------------------------------

#: Group labels of the Kaplan-Meier curves, by value of ``use_<class>``.
USE_GROUPS = {0: "non-users", 1: "users"}


def km_by_use(data: pd.DataFrame, drug_class: str, alpha: float = 0.05) -> dict[str, Any]:
    """Kaplan-Meier fits of event-free survival for non-users and users of one class.

    Parameters
    ----------
    data : DataFrame
        Survival data.
    drug_class : str
        One of the classes (``use_<drug_class>`` must be a column).
    alpha : float
        1 - confidence level of the bands (log(-log) Greenwood).

    Returns
    -------
    dict of str to lifelines.KaplanMeierFitter
        ``{"non-users": kmf, "users": kmf}`` (a group with no cases is left out).
    """
    fits = {}
    for value, label in USE_GROUPS.items():
        sub = data[data[f"use_{drug_class}"] == value]
        if len(sub):
            fits[label] = _kmf().fit(sub["time"], sub["event"], label=label, alpha=alpha)
    return fits


def km_survival_at_event_times(kmf: Any) -> pd.DataFrame:
    """The Kaplan-Meier estimate at the distinct event times (for comparison with R's ``survfit``).

    Returns
    -------
    DataFrame
        time, n_risk, n_event, surv, lower, upper.
    """
    table = kmf.event_table
    times = table.index[table["observed"] > 0]
    ci = kmf.confidence_interval_survival_function_
    return pd.DataFrame(
        {
            "time": np.asarray(times, dtype=float),
            "n_risk": table.loc[times, "at_risk"].to_numpy(),
            "n_event": table.loc[times, "observed"].to_numpy(),
            "surv": kmf.survival_function_.loc[times].iloc[:, 0].to_numpy(),
            "lower": ci.loc[times].iloc[:, 0].to_numpy(),
            "upper": ci.loc[times].iloc[:, 1].to_numpy(),
        }
    )


def median_survival(data: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """Median event-free survival with 95% CI, by prediagnostic use of each class.

    The median is the first time the Kaplan-Meier curve reaches 0.5 or below; its CI is
    where the log(-log) 95% band crosses 0.5 (Brookmeyer-Crowley type); ``NaN`` when a
    limit is not reached during follow-up.

    Returns
    -------
    DataFrame
        drug_class, group, n, events, median_years, median_lower, median_upper.
    """
    from lifelines.utils import median_survival_times

    rows = []
    for k in classes:
        for label, kmf in km_by_use(data, k).items():
            ci = median_survival_times(kmf.confidence_interval_).iloc[0]
            value = float(kmf.median_survival_time_)
            sub = data[data[f"use_{k}"] == (label == "users")]
            rows.append(
                {
                    "drug_class": k,
                    "group": label,
                    "n": int(len(sub)),
                    "events": int(sub["event"].sum()),
                    "median_years": value if np.isfinite(value) else np.nan,
                    "median_lower": float(ci.iloc[0]) if np.isfinite(ci.iloc[0]) else np.nan,
                    "median_upper": float(ci.iloc[1]) if np.isfinite(ci.iloc[1]) else np.nan,
                }
            )
    return pd.DataFrame(rows)


def logrank_by_use(data: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """Log-rank tests of users against non-users of each class (unadjusted).

    Returns
    -------
    DataFrame
        drug_class, n_users, n_non_users, events_users, events_non_users, chisq (1 df), p_value,
        and ``reason`` (why the test is missing: no users, no non-users or no events; else empty).
    """
    from lifelines.statistics import logrank_test

    rows = []
    for k in classes:
        users = data[data[f"use_{k}"] == 1]
        others = data[data[f"use_{k}"] == 0]
        reason = _two_group_reason(k, users, others)
        chisq = p_value = np.nan
        if not reason:
            res = logrank_test(users["time"], others["time"], users["event"], others["event"])
            chisq, p_value = float(res.test_statistic), float(res.p_value)
        rows.append(
            {
                "drug_class": k,
                "n_users": int(len(users)),
                "n_non_users": int(len(others)),
                "events_users": int(users["event"].sum()),
                "events_non_users": int(others["event"].sum()),
                "chisq": chisq,
                "p_value": p_value,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows)


def _two_group_reason(drug_class: str, users: pd.DataFrame, others: pd.DataFrame) -> str:
    """Why users and non-users of a class cannot be compared (empty when they can)."""
    if len(users) == 0:
        return f"no users of {drug_class}"
    if len(others) == 0:
        return f"no non-users of {drug_class}"
    if users["event"].sum() + others["event"].sum() == 0:
        return "no events"
    return ""


def rmst(time: np.ndarray, event: np.ndarray, tau: float) -> tuple[float, float]:
    """Restricted mean survival time up to ``tau`` from the Kaplan-Meier curve, with its standard error.

    ``RMST = integral_0^tau S(u) du`` (the mean event-free time within ``tau``).  The
    variance is the delta-method (Greenwood-type) estimate
    ``sum_{t_i <= tau} A_i^2 d_i / (n_i (n_i - d_i))`` with ``A_i = integral_{t_i}^tau S(u) du``
    (Klein & Moeschberger 2003, section 4.5; R's survRM2).  A step with ``n_i = d_i`` (the
    curve drops to 0) contributes no variance.

    Returns
    -------
    (float, float)
        RMST and its standard error, in the units of ``time``; both NaN without patients.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    if time.size == 0:
        return float("nan"), float("nan")
    times = np.unique(time[(event == 1) & (time <= tau)])
    n_risk = np.array([(time >= t).sum() for t in times], dtype=float)
    d = np.array([((time == t) & (event == 1)).sum() for t in times], dtype=float)
    surv = np.cumprod(1 - d / n_risk)
    # S is 1 on [0, t_1), surv[j] on [t_j, t_{j+1}), the last step up to tau.
    edges = np.concatenate([[0.0], times, [tau]])
    heights = np.concatenate([[1.0], surv])
    areas = heights * np.diff(edges)
    value = float(areas.sum())
    tail = np.cumsum(areas[::-1])[::-1][1:]  # A_j: area from t_j to tau
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n_risk > d, tail**2 * d / (n_risk * (n_risk - d)), 0.0)
    return value, float(np.sqrt(terms.sum()))


def rmst_by_use(data: pd.DataFrame, tau: float, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """Restricted mean survival time up to ``tau`` years, by use of each class, and its difference.

    The RMST is the area under the Kaplan-Meier curve from 0 to ``tau``: the mean
    event-free time within the first ``tau`` years (:func:`rmst`).  It needs no
    proportional-hazards assumption, which makes it the usual fallback when that
    assumption fails.  The difference (users minus non-users) gets a Wald CI from the
    two independent variances.  Unadjusted, like the curves.

    Returns
    -------
    DataFrame
        drug_class, tau, rmst_non_users, se_non_users, rmst_users, se_users, difference,
        ci_lower, ci_upper (years).
    """
    rows = []
    for k in classes:
        est = {
            g: rmst(data.loc[data[f"use_{k}"] == v, "time"], data.loc[data[f"use_{k}"] == v, "event"], tau)
            for v, g in USE_GROUPS.items()
        }
        diff = est["users"][0] - est["non-users"][0]
        se = float(np.hypot(est["users"][1], est["non-users"][1]))
        rows.append(
            {
                "drug_class": k,
                "tau": float(tau),
                "rmst_non_users": est["non-users"][0],
                "se_non_users": est["non-users"][1],
                "rmst_users": est["users"][0],
                "se_users": est["users"][1],
                "difference": float(diff),
                "ci_lower": float(diff - Z_95 * se),
                "ci_upper": float(diff + Z_95 * se),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------------------
# Cox proportional hazards
# --------------------------------------------------------------------------------------------------------------


def cox_design(
    data: pd.DataFrame,
    exposures: Sequence[str],
    adjustment: Sequence[str] = ADJUSTMENT,
    strata: Sequence[str] = (),
) -> tuple[pd.DataFrame, int]:
    """Columns ``time``, ``event``, the model terms and any strata columns, complete cases only.

    Derived columns: ``age_per_10y`` = ``(age - 65) / 10``; ``age_65_plus`` = 1 from age
    65; ``age_band`` = 0 (<55), 1 (55-64), 2 (65-74), 3 (75+) years.  Other terms are
    columns of ``data`` as they are.

    Returns
    -------
    (DataFrame, int)
        The design and the number of cases dropped for a missing term.
    """
    age = data["age"].astype(float)
    derived = {
        "age_per_10y": (age - 65) / 10,
        "age_65_plus": (age >= 65).astype(float),
        "age_band": pd.Series(np.searchsorted([55.0, 65.0, 75.0], age.to_numpy(), side="right"), index=data.index)
        .astype(float)
        .where(age.notna()),
    }
    names = [*exposures, *adjustment, *strata]
    cols = {t: derived[t] if t in derived else data[t] for t in names}
    design = pd.DataFrame({"time": data["time"], "event": data["event"], **cols}).astype(float)
    complete = design.notna().all(axis=1)
    return design[complete].reset_index(drop=True), int((~complete).sum())


@dataclass
class CoxResult:
    """A fitted Cox model of death or invasive ventilation.

    Attributes
    ----------
    model : str
        ``per_class`` (one class with the adjustment set) or ``mutual`` (all classes).
    exposures : list of str
        The exposure terms (``use_<class>``).
    params, bse : Series
        Log hazard ratios and standard errors (inverse observed information), by term.
    loglik : float
        Partial log-likelihood (Efron) at the estimate.
    n, events, n_dropped : int
        Cases and events in the fit; cases dropped for a missing covariate.
    exposed, exposed_events : dict
        Users and events among users, per exposure term.
    ph_test : DataFrame
        Scaled Schoenfeld residual test per term (``term``, ``chisq``, ``p_value``), time
        transform ``ph_transform``.
    fitter : lifelines.CoxPHFitter
        The fitted lifelines object.
    design : DataFrame
        The complete-case design the model was fitted on (terms left out removed).
    warnings : list of str
        Warnings raised while fitting (none expected).
    not_estimable : dict of str to str
        Terms asked for but left out of the model (exposures and covariates), with the
        reason (see the module docstring).
    reason : str
        Why the model as a whole could not be fitted (empty when it was); ``fitter`` is
        then None and ``params`` empty.
    """

    model: str
    exposures: list[str]
    params: pd.Series
    bse: pd.Series
    loglik: float
    n: int
    events: int
    n_dropped: int
    exposed: dict[str, int]
    exposed_events: dict[str, int]
    ph_test: pd.DataFrame
    ph_transform: str
    fitter: Any = field(repr=False)
    design: pd.DataFrame = field(repr=False)
    warnings: list[str] = field(default_factory=list)
    not_estimable: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def label(self) -> str:
        """``per_class:<class>`` or ``mutual``."""
        return self.model if self.model == "mutual" else f"{self.model}:{self.exposures[0].removeprefix('use_')}"

    @property
    def estimable(self) -> bool:
        """True when the model was fitted (some of its terms may still be in :attr:`not_estimable`)."""
        return self.fitter is not None

    def to_frame(self) -> pd.DataFrame:
        """One row per term, with the columns documented in :data:`alsmeds.survival_results.SURVIVAL_COX_COLUMNS`.

        Exposures come first, in the order asked for, then the covariates; a term left
        out of the model has ``estimable=False``, its ``reason`` and missing estimates.
        """
        from scipy.stats import norm

        ph = self.ph_test.set_index("term")
        terms = [*self.exposures, *[t for t in self.params.index if t not in self.exposures]]
        terms += [t for t in self.not_estimable if t not in terms]
        rows = []
        for t in terms:
            is_exposure = t in self.exposures
            row = {
                "model": self.model,
                "drug_class": t.removeprefix("use_") if is_exposure else "",
                "term": t,
                "term_label": TERM_LABELS.get(t, t),
                "is_exposure": bool(is_exposure),
                "n": self.n,
                "events": self.events,
                "exposed": self.exposed.get(t),
                "exposed_events": self.exposed_events.get(t),
            }
            if t in self.params.index:
                b, se = float(self.params[t]), float(self.bse[t])
                with np.errstate(over="ignore"):  # a huge SE of a small extract gives an infinite upper limit
                    upper = float(np.exp(b + Z_95 * se))
                row.update(
                    log_hr=b,
                    se=se,
                    hazard_ratio=float(np.exp(b)),
                    ci_lower=float(np.exp(b - Z_95 * se)),
                    ci_upper=upper,
                    p_value=float(2 * norm.sf(abs(b / se))),
                    ph_chisq=float(ph.loc[t, "chisq"]) if t in ph.index else np.nan,
                    ph_p_value=float(ph.loc[t, "p_value"]) if t in ph.index else np.nan,
                    estimable=True,
                    reason="",
                )
            else:
                row.update(estimable=False, reason=self.not_estimable.get(t) or self.reason or "not in the model")
            rows.append(row)
        columns = [
            "model", "drug_class", "term", "term_label", "is_exposure", "log_hr", "se", "hazard_ratio", "ci_lower",
            "ci_upper", "p_value", "n", "events", "exposed", "exposed_events", "ph_chisq", "ph_p_value", "estimable",
            "reason",
        ]  # fmt: skip
        out = pd.DataFrame(rows, columns=columns)
        for col in ("exposed", "exposed_events"):
            out[col] = out[col].astype("Int64")
        for col in ("log_hr", "se", "hazard_ratio", "ci_lower", "ci_upper", "p_value", "ph_chisq", "ph_p_value"):
            out[col] = out[col].astype(float)
        out["estimable"] = out["estimable"].astype(bool)
        return out


def fit_lifelines_cox(
    design: pd.DataFrame, fit_options: Mapping[str, Any] | None = None, strata: Sequence[str] = ()
) -> tuple[Any, list[str]]:
    """Fit ``lifelines.CoxPHFitter`` (Efron ties, no penalty) on a design from :func:`cox_design`.

    Every warning raised while fitting (lifelines' ``ConvergenceWarning`` on a failed or
    doubtful Newton-Raphson, numpy's on overflow) is recorded, not shown: the caller gets
    the messages and decides (``CoxResult.warnings``; the tests require none).

    Returns
    -------
    (lifelines.CoxPHFitter, list of str)
        The fitted model and the warning messages.
    """
    from lifelines import CoxPHFitter

    cph = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cph.fit(
            design,
            duration_col="time",
            event_col="event",
            show_progress=False,
            strata=list(strata) or None,
            fit_options=dict(LIFELINES_FIT_OPTIONS if fit_options is None else fit_options),
        )
    return cph, [f"{w.category.__name__}: {w.message}" for w in caught]


def ph_test(cph: Any, design: pd.DataFrame, time_transform: str = "km") -> pd.DataFrame:
    """Grambsch-Therneau test of proportional hazards from scaled Schoenfeld residuals, per term.

    Regresses each term's scaled Schoenfeld residual on a transform of event time
    (``"km"``: 1 - Kaplan-Meier, as R's ``cox.zph`` default; ``"rank"``, ``"identity"``,
    ``"log"``); a slope means the log hazard ratio changes with time.  lifelines uses
    the approximation R's ``cox.zph`` used before survival 3.0, so its statistics differ
    slightly from current R.

    Returns
    -------
    DataFrame
        term, chisq (1 df), p_value.
    """
    from lifelines.statistics import proportional_hazard_test

    res = proportional_hazard_test(cph, design, time_transform=time_transform)
    summary = res.summary.reindex([t for t in cph.params_.index if t in res.summary.index])  # model order
    return pd.DataFrame(
        {
            "term": list(summary.index),
            "chisq": summary["test_statistic"].to_numpy(dtype=float),
            "p_value": summary["p"].to_numpy(dtype=float),
        }
    )


def fit_cox(
    data: pd.DataFrame,
    exposures: Sequence[str],
    adjustment: Sequence[str] = ADJUSTMENT,
    *,
    model: str | None = None,
    strata: Sequence[str] = (),
    ph_transform: str = "km",
    run_ph_test: bool = True,
    fit_options: Mapping[str, Any] | None = None,
) -> CoxResult:
    """Fit an adjusted Cox model of death or invasive ventilation after diagnosis.

    Estimand: the conditional hazard ratio of prediagnostic use given the adjustment
    set, a *total* effect of use through every pathway after diagnosis (see the
    module docstring), assuming proportional hazards and independent censoring.

    Parameters
    ----------
    data : DataFrame
        Survival data (:func:`build_survival_data`).
    exposures : sequence of str
        Exposure terms, e.g. ``["use_antidepressants"]``.
    adjustment : sequence of str
        Adjustment terms (default :data:`ADJUSTMENT`: age per 10 years, male sex,
        bulbar onset, diagnostic delay in months, baseline ALSFRS-R).
    model : str, optional
        Label (default ``per_class`` for one exposure, ``mutual`` for several).
    strata : sequence of str
        Stratify the baseline hazard by these columns (e.g. ``["age_65_plus"]``), a
        remedy when a covariate breaks proportional hazards: each stratum gets its own
        baseline hazard and the covariate no longer needs a hazard ratio.
    ph_transform : str
        Time transform of the proportional-hazards test.
    run_ph_test : bool
        Compute the scaled Schoenfeld test (skip for speed).
    fit_options : mapping, optional
        lifelines Newton-Raphson options (default :data:`LIFELINES_FIT_OPTIONS`).

    Returns
    -------
    CoxResult
        Terms the data cannot estimate are left out and listed in ``not_estimable``
        with the reason; when the model cannot be fitted at all, ``reason`` says why
        (see the module docstring).
    """
    exposures = list(exposures)
    design, dropped = cox_design(data, exposures, adjustment, strata)
    events = design["event"].to_numpy() == 1
    exposed = {t: int((design[t] == 1).sum()) for t in exposures}
    exposed_events = {t: int(((design[t] == 1) & events).sum()) for t in exposures}
    not_estimable = estimability_of_cox_terms(design, exposures, adjustment, strata)
    kept = [t for t in [*exposures, *adjustment] if t not in not_estimable]
    design = design.drop(columns=[t for t in not_estimable if t in design.columns])
    empty_ph = pd.DataFrame(columns=["term", "chisq", "p_value"])
    result = CoxResult(
        model=model or ("per_class" if len(exposures) == 1 else "mutual"),
        exposures=exposures,
        params=pd.Series(dtype=float),
        bse=pd.Series(dtype=float),
        loglik=float("nan"),
        n=int(len(design)),
        events=int(events.sum()),
        n_dropped=dropped,
        exposed=exposed,
        exposed_events=exposed_events,
        ph_test=empty_ph,
        ph_transform=ph_transform,
        fitter=None,
        design=design,
        not_estimable=not_estimable,
    )
    if len(design) == 0:
        result.reason = "no case with complete data"
    elif not events.any():
        result.reason = "no events"
    elif not any(t in kept for t in exposures):
        result.reason = "no exposure term can be estimated"
    if result.reason:
        return result
    try:
        cph, caught = fit_lifelines_cox(design, fit_options, strata)
    except Exception as exc:  # lifelines' ConvergenceError, LinAlgError, ... on degenerate data
        result.reason = f"the Cox model did not converge: {_short_reason(exc)}"
        return result
    params = cph.params_.astype(float).rename(None)
    bse = cph.standard_errors_.astype(float).rename(None)
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse))):
        result.reason = "the Cox model gave non-finite estimates"
        return result
    result.warnings = caught
    if any("failed to converge" in w for w in caught):
        result.reason = "the Cox model did not converge (Newton-Raphson failed; separation?)"
        return result
    separated = [t for t in params.index if t not in exposures and abs(params[t]) > MAX_ABS_LOG_HR]
    if separated:
        result.reason = f"separation: the coefficient of {', '.join(separated)} is not finite"
        return result
    for t in exposures:
        if t in params.index and abs(params[t]) > MAX_ABS_LOG_HR:
            result.not_estimable[t] = "monotone likelihood: the hazard ratio is not finite"
    keep = [t for t in params.index if t not in result.not_estimable]
    result.params, result.bse = params[keep], bse[keep]
    result.loglik = float(cph.log_likelihood_)
    result.fitter = cph
    if run_ph_test:
        try:
            result.ph_test = ph_test(cph, design, ph_transform)
        except Exception as exc:  # too few events for the residual regression
            result.warnings.append(f"proportional-hazards test failed: {_short_reason(exc)}")
    return result


def estimability_of_cox_terms(
    design: pd.DataFrame, exposures: Sequence[str], adjustment: Sequence[str], strata: Sequence[str] = ()
) -> dict[str, str]:
    """The terms of a Cox design that cannot be estimated, with the reason (module docstring, rules).

    A 0/1 term needs patients at both values and an event at both (else the partial
    likelihood is monotone); then no term may be a linear combination of the others
    within the strata (:func:`alsmeds.models.design.non_identifiable_terms`, covariates
    checked before exposures, so that an exposure aliased with a covariate is reported).

    Returns
    -------
    dict of str to str
        Term -> reason, exposures and covariates alike.
    """
    from .models.design import non_identifiable_terms

    reasons: dict[str, str] = {}
    events = design["event"].to_numpy() == 1
    for t in [*exposures, *adjustment]:
        values = design[t].to_numpy()
        label = t.removeprefix("use_")
        if np.unique(values).size < 2:
            reasons[t] = (
                f"no users of {label}"
                if t in exposures and not values.any()
                else (f"no non-users of {label}" if t in exposures else f"{t} is the same for every case")
            )
        elif np.isin(values, (0.0, 1.0)).all():
            group = "users" if t in exposures else f"{t} = 1"
            other = "non-users" if t in exposures else f"{t} = 0"
            if not events[values == 1].any():
                reasons[t] = f"no event among {group}: the hazard ratio is not finite"
            elif not events[values == 0].any():
                reasons[t] = f"no event among {other}: the hazard ratio is not finite"
    candidates = [t for t in [*adjustment, *exposures] if t not in reasons]
    if candidates and len(design):
        groups = design[list(strata)].astype(str).agg("|".join, axis=1).to_numpy() if strata else None
        reasons.update(non_identifiable_terms(design[candidates], groups))
    return {t: reasons[t] for t in [*exposures, *adjustment] if t in reasons}


def fit_cox_models(data: pd.DataFrame, classes: Sequence[str] = CLASSES, **kwargs: Any) -> list[CoxResult]:
    """The per-class models (one class at a time, as the paper) and the mutually adjusted model.

    Keyword arguments go to :func:`fit_cox`.
    """
    results = [fit_cox(data, [f"use_{k}"], model="per_class", **kwargs) for k in classes]
    results.append(fit_cox(data, [f"use_{k}" for k in classes], model="mutual", **kwargs))
    return results


def cox_table(results: Sequence[CoxResult]) -> pd.DataFrame:
    """Stack :meth:`CoxResult.to_frame` of several models."""
    return pd.concat([r.to_frame() for r in results], ignore_index=True)


def scaled_schoenfeld(result: CoxResult) -> pd.DataFrame:
    """Scaled Schoenfeld residuals plus the coefficient: pointwise estimates of ``beta(t)`` at each event time.

    Under proportional hazards they scatter around the constant ``beta`` (Grambsch &
    Therneau 1994).  lifelines omits the ``+ beta`` that R's ``residuals(fit,
    "scaledsch")`` adds; it is added here.

    Returns
    -------
    DataFrame
        ``time`` and one column per term, one row per event.

    Raises
    ------
    ValueError
        When the model could not be fitted (``result.reason``).
    """
    if result.fitter is None:
        raise ValueError(f"no fitted model: {result.reason}")
    resid = result.fitter.compute_residuals(result.design, kind="scaled_schoenfeld")
    out = resid + result.params[resid.columns].to_numpy()[None, :]
    out.insert(0, "time", result.design.loc[resid.index, "time"].to_numpy())
    return out.sort_values("time", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------
# Reference fits in R (survival::coxph and survfit)
# --------------------------------------------------------------------------------------------------------------


def r_coxph(
    designs: Mapping[str, pd.DataFrame],
    *,
    eps: float | None = None,
    timing_runs: int = 0,
    survfit: Mapping[str, tuple[pd.DataFrame, str]] | None = None,
    conf_type: str = "log-log",
    rmean_tau: float | None = None,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Fit Cox models with R's ``survival::coxph(ties = "efron")`` and Kaplan-Meier curves with ``survfit``.

    One R session serves every model (R start-up with survival takes about 2 s).  See
    ``alsmeds/reference/R/coxph.R`` for the output format.

    Parameters
    ----------
    designs : mapping of str to DataFrame
        Model name -> frame with ``time``, ``event`` and the covariates (every other column).
    eps : float, optional
        ``coxph.control(eps=)`` (R's default 1e-9 when omitted).
    timing_runs : int
        Extra fits per model timed inside R (median seconds in ``timing``).
    survfit : mapping of str to (DataFrame, str), optional
        Curve name -> (frame with ``time``, ``event`` and the grouping column, its name).
    conf_type : str
        ``survfit(conf.type=)``.
    rmean_tau : float, optional
        Also report the restricted mean survival time up to ``rmean_tau`` and its SE.

    Returns
    -------
    dict
        ``models`` (name -> coefficients, se, loglik, n, nevent, iterations, timing),
        ``survfit`` (name -> group -> time, n_risk, n_event, surv, std_err, lower,
        upper at the event times; rmean and rmean_se with ``rmean_tau``),
        ``r_version``, ``survival_version``.
    """
    from .reference.r import run_r_script

    inputs: dict[str, pd.DataFrame] = {}
    models = []
    for i, (name, design) in enumerate(designs.items()):
        stem = f"model{i}"
        covariates = [c for c in design.columns if c not in ("time", "event")]
        frame = design[["time", "event", *covariates]].copy()
        frame.columns = ["time", "event", *[f"x{j + 1}" for j in range(len(covariates))]]
        inputs[stem] = frame
        spec: dict[str, Any] = {
            "name": name,
            "data": stem,
            "covariates": list(frame.columns[2:]),
            "labels": covariates,
            "timing_runs": int(timing_runs),
        }
        if eps is not None:
            spec["eps"] = float(eps)
        models.append(spec)
    curves = []
    for i, (name, (frame, group)) in enumerate((survfit or {}).items()):
        stem = f"curve{i}"
        inputs[stem] = pd.DataFrame({"time": frame["time"], "event": frame["event"], "group": frame[group]})
        curve: dict[str, Any] = {"name": name, "data": stem, "conf_type": conf_type}
        if rmean_tau is not None:
            curve["rmean_tau"] = float(rmean_tau)
        curves.append(curve)
    out = run_r_script("coxph", inputs, {"models": models, "survfit": curves}, timeout=timeout)
    for spec in models:
        fit = out["models"][spec["name"]]
        rename = dict(zip(spec["covariates"], spec["labels"], strict=True))
        for key in ("coefficients", "se"):
            fit[key] = pd.Series({rename[k]: (np.nan if v is None else float(v)) for k, v in fit[key].items()})
    return out


__all__ = [
    "ADJUSTMENT",
    "BASELINE_WINDOW_DAYS",
    "CoxResult",
    "DAYS_PER_YEAR",
    "LIFELINES_FIT_OPTIONS",
    "PUBLISHED_FOLLOWUP_YEARS",
    "SURVIVAL_DATA_COLUMNS",
    "TERM_LABELS",
    "baseline_alsfrs",
    "build_survival_data",
    "case_exposures",
    "estimability_of_cox_terms",
    "cox_design",
    "cox_table",
    "fit_cox",
    "fit_cox_models",
    "fit_lifelines_cox",
    "followup_summary",
    "km_by_use",
    "km_survival_at_event_times",
    "logrank_by_use",
    "median_survival",
    "ph_test",
    "r_coxph",
    "km_quantile",
    "rmst",
    "rmst_by_use",
    "scaled_schoenfeld",
]
