"""Kaplan-Meier curves, follow-up, log-rank tests and restricted mean survival by prediagnostic use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case
from alsmeds.models.base import wald_frame
from alsmeds.published import PUBLISHED_FOLLOWUP_YEARS


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
        Kaplan-Meier median/q1/q3 of potential follow-up, the published values, and the
        ALSFRS-R at diagnosis (cases with a score, mean, SD).
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
        "alsfrs_at_diagnosis": _alsfrs_at_diagnosis(data),
    }


def _alsfrs_at_diagnosis(data: pd.DataFrame) -> dict[str, Any]:
    """Mean and SD of the ALSFRS-R at diagnosis over the cases that have one (``alsfrs_baseline``)."""
    scores = data["alsfrs_baseline"].dropna().to_numpy(dtype=float) if "alsfrs_baseline" in data else np.array([])
    return {
        "cases_with_score": int(scores.size),
        "mean": float(scores.mean()) if scores.size else None,
        "sd": float(scores.std(ddof=1)) if scores.size > 1 else None,
    }


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
        wald = wald_frame([diff], [se]).iloc[0]
        rows.append(
            {
                "drug_class": k,
                "tau": float(tau),
                "rmst_non_users": est["non-users"][0],
                "se_non_users": est["non-users"][1],
                "rmst_users": est["users"][0],
                "se_users": est["users"][1],
                "difference": float(diff),
                "ci_lower": float(wald["ci_lower"]),
                "ci_upper": float(wald["ci_upper"]),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class KaplanMeierByUse:
    """Kaplan-Meier fits and log-rank tests of users against non-users, one entry per class: what a figure draws.

    Attributes
    ----------
    classes : tuple of str
        The classes, in drawing order.
    fits : dict of str to dict of str to lifelines.KaplanMeierFitter
        class -> ``{"non-users": kmf, "users": kmf}`` (:func:`km_by_use`; a group with no cases is left out).
    n : dict of str to dict of str to int
        class -> group -> number of cases in the group.
    logrank : DataFrame
        :func:`logrank_by_use`, one row per class.
    """

    classes: tuple[str, ...]
    fits: dict[str, dict[str, Any]]
    n: dict[str, dict[str, int]]
    logrank: pd.DataFrame


def kaplan_meier_by_use(data: pd.DataFrame, classes: Sequence[str] = CLASSES, alpha: float = 0.05) -> KaplanMeierByUse:
    """Kaplan-Meier curves (:func:`km_by_use`) and log-rank tests (:func:`logrank_by_use`) of every class.

    Parameters
    ----------
    data : DataFrame
        Survival data (:func:`alsmeds.derive.survival_data.build_survival_data`): ``time``,
        ``event`` and ``use_<class>``.
    classes : sequence of str
        The classes.
    alpha : float
        1 - confidence level of the bands (log(-log) Greenwood).

    Returns
    -------
    KaplanMeierByUse
        What :func:`alsmeds.plots.survival.plot_km_by_use` draws.
    """
    classes = tuple(classes)
    fits = {k: km_by_use(data, k, alpha=alpha) for k in classes}
    n = {k: {g: int((data[f"use_{k}"] == v).sum()) for v, g in USE_GROUPS.items()} for k in classes}
    return KaplanMeierByUse(classes=classes, fits=fits, n=n, logrank=logrank_by_use(data, classes))
