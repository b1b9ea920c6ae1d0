"""Prognosis of the cases: ALSFRS-R trajectories, visits, and death or invasive ventilation.

A shared-parameter joint model (see :class:`~.parameters.PrognosisParameters`):
the true ALSFRS-R ``m_i(t) = b0_i + b1_i t`` is linear in months since diagnosis,
and the hazard ``h_i(t) = exp(c_i + a m_i(t))`` depends on its current value.  With
a constant baseline the log hazard is linear in ``t``, so the cumulative hazard
``H(t) = exp(c_i + a b0_i) (exp(k t) - 1) / k`` with ``k = a b1_i`` inverts in
closed form (a Gompertz law): ``T = log(1 + k E exp(-c_i - a b0_i)) / k`` for a
unit exponential ``E`` (Bender et al. 2005).  When ``k < 0`` and the bracket is not
positive, the event never happens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsmeds.constants import DAYS_PER_MONTH
from alsmeds.derive.exposure import ever_used
from alsmeds.simulate.parameters import CLASSES, SimulationParameters


def event_times_months(
    rng: np.random.Generator, linear_predictor: np.ndarray, log_hazard_slope: np.ndarray
) -> np.ndarray:
    """Invert the Gompertz-type cumulative hazard ``exp(lp) (exp(k t) - 1) / k``.

    Parameters
    ----------
    linear_predictor : array
        Log hazard at ``t = 0``.
    log_hazard_slope : array
        ``k``: change of the log hazard per month.

    Returns
    -------
    numpy.ndarray
        Event times in months (``inf`` when the event never occurs).
    """
    e = rng.exponential(size=linear_predictor.shape[0])
    scaled = e * np.exp(-linear_predictor)
    k = log_hazard_slope
    small = np.abs(k) < 1e-10
    safe_k = np.where(small, 1.0, k)
    inner = 1 + safe_k * scaled
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(inner > 0, np.log(np.where(inner > 0, inner, 1.0)) / safe_k, np.inf)
    return np.where(small, scaled, t)


def simulate_prognosis(rng: np.random.Generator, params: SimulationParameters, cases: pd.DataFrame) -> dict:
    """Simulate onset site, diagnostic delay, ALSFRS-R visits and events for the cases.

    Parameters
    ----------
    cases : DataFrame
        One row per case with ``index_date``, ``age``, ``male`` and ``cat_<class>``.

    Returns
    -------
    dict
        ``cases`` (per case: onset_site, diagnostic_delay_months, b0, b1,
        event_months, event, event_date, followup_end, death_date) and ``visits``
        (set_id, visit_date, alsfrs_r_total, months).
    """
    pr = params.prognosis
    n = len(cases)
    use = {k: ever_used(cases[f"cat_{k}"].to_numpy()).astype(bool) for k in CLASSES}  # the study's definition
    bulbar = rng.random(n) < pr.bulbar_share
    delay = np.exp(np.log(pr.diagnostic_delay_median_months) + pr.diagnostic_delay_log_sd * rng.standard_normal(n))

    # Random intercept and slope: L @ standard normals (LAPACK-free, reproducible).
    rho = pr.intercept_slope_correlation
    z = rng.standard_normal((2, n))
    b0 = pr.intercept_mean + pr.intercept_sd * z[0]
    b1 = (
        pr.slope_mean
        + pr.slope_antidepressants * use["antidepressants"]
        + pr.slope_sd * (rho * z[0] + np.sqrt(1 - rho**2) * z[1])
    )

    age = cases["age"].to_numpy()
    male = cases["male"].to_numpy()
    lp = (
        pr.log_baseline_hazard
        + sum(pr.log_hr_use[k] * use[k] for k in CLASSES)
        + pr.log_hr_per_decade_of_age * (age - 65) / 10
        + pr.log_hr_male * male
        + pr.log_hr_bulbar * bulbar
        + pr.association * (b0 - pr.intercept_mean)
    )
    event_months = event_times_months(rng, lp, pr.association * b1)

    index = cases["index_date"].to_numpy().astype("datetime64[D]")
    end = np.datetime64(params.design.end_of_follow_up, "D")
    admin_months = (end - index).astype(np.int64) / DAYS_PER_MONTH
    has_event = event_months <= admin_months
    event_days = np.where(has_event, np.ceil(event_months * DAYS_PER_MONTH), 0).astype(np.int64)
    event_days = np.maximum(event_days, 1)
    event_date = np.where(has_event, index + event_days.astype("timedelta64[D]"), np.datetime64("NaT"))
    ventilation = has_event & (rng.random(n) < pr.invasive_ventilation_share)
    # After invasive ventilation, death follows after an exponential time (mean 12 months).
    death_after = np.ceil(rng.exponential(12 * DAYS_PER_MONTH, n)).astype(np.int64) + 1
    later_death = np.where(ventilation, event_date + death_after.astype("timedelta64[D]"), np.datetime64("NaT"))
    later_death = np.where(ventilation & (later_death <= end), later_death, np.datetime64("NaT"))
    death_date = np.where(has_event & ~ventilation, event_date, later_death)
    followup_end = np.where(has_event, event_date, end)

    visits = _visits(rng, params, index, followup_end, b0, b1)
    per_case = pd.DataFrame(
        {
            "set_id": cases["set_id"].to_numpy(),
            "onset_site": np.where(bulbar, "bulbar", "spinal"),
            "diagnostic_delay_months": np.round(delay, 1),
            "b0": b0,
            "b1": b1,
            "event_months": event_months,
            "event": np.where(has_event, np.where(ventilation, "invasive_ventilation", "death"), ""),
            "event_date": event_date,
            "death_date": death_date,
            "followup_end": followup_end,
        }
    )
    return {"cases": per_case, "visits": visits}


def _visits(rng, params, index, followup_end, b0, b1) -> pd.DataFrame:
    """Registry visits about every 12 weeks from diagnosis until the event or censoring."""
    pr = params.prognosis
    n = index.shape[0]
    span = (followup_end - index).astype(np.int64)
    max_visits = int(np.ceil(span.max() / (pr.visit_interval_days - 3 * pr.visit_jitter_days))) + 2
    offsets = np.arange(max_visits) * pr.visit_interval_days
    jitter = pr.visit_jitter_days * rng.standard_normal((n, max_visits))
    jitter[:, 0] = 0.0  # the first visit is at diagnosis
    day = np.round(offsets[None, :] + jitter).astype(np.int64)
    day = np.maximum.accumulate(np.maximum(day, 0), axis=1)
    keep = (day < span[:, None]) | (np.arange(max_visits)[None, :] == 0)
    missed = rng.random((n, max_visits)) < pr.missed_visit_probability
    missed[:, 0] = False
    keep &= ~missed
    # Drop repeated days (jitter can make two visits coincide).
    repeated = np.zeros_like(keep)
    repeated[:, 1:] = day[:, 1:] == day[:, :-1]
    keep &= ~repeated
    noise = pr.residual_sd * rng.standard_normal((n, max_visits))
    months = day / DAYS_PER_MONTH
    score = np.clip(np.round(b0[:, None] + b1[:, None] * months + noise), 0, 48).astype(np.int64)
    rows, cols = np.nonzero(keep)
    return pd.DataFrame(
        {
            "case_row": rows,
            "visit_date": index[rows] + day[rows, cols].astype("timedelta64[D]"),
            "months": months[rows, cols],
            "alsfrs_r_total": score[rows, cols],
        }
    )
