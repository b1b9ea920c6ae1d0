"""Prognosis of the cases: ALSFRS-R trajectories, visits, and death or invasive ventilation.

A shared-parameter joint model (see :class:`~.parameters.PrognosisParameters`):
the true ALSFRS-R ``m_i(t) = b0_i + b1_i t`` is linear in months since diagnosis,
and the hazard ``h_i(t) = exp(c_i + a m_i(t) + a_s m_i'(t))`` depends on its current
value (association ``a``) and its current slope ``m_i'(t) = b1_i`` (association
``a_s``, 0 by default), a constant of the patient's that joins ``c_i``.  With a
constant baseline the log hazard is linear in ``t``, so the cumulative hazard
``H(t) = exp(c_i + a_s b1_i + a b0_i) (exp(k t) - 1) / k`` with ``k = a b1_i``
inverts in closed form (a Gompertz law): ``T = log(1 + k E exp(-c_i - a_s b1_i - a
b0_i)) / k`` for a unit exponential ``E`` (Bender et al. 2005).  When ``k < 0`` and
the bracket is not positive, the event never happens; when ``a = 0`` (a slope-only
or zero association) ``k = 0`` and ``T`` is exponential.

:func:`simulate_joint_recovery_data` simulates a data set of any size with a chosen
association structure and cuts the joint model's frames from it, with the observed
(register) scores and with latent ones, for checking that an estimator recovers the
planted values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from alsmeds.constants import CATEGORY_CODES, DAYS_PER_MONTH
from alsmeds.derive.alsfrs import build_alsfrs_data
from alsmeds.derive.exposure import ever_used
from alsmeds.derive.joint_data import build_joint_frames
from alsmeds.simulate.parameters import CLASSES, SimulationParameters
from alsmeds.simulate.population import rng_for

if TYPE_CHECKING:
    from alsmeds.simulate import SyntheticRegistry

#: Random stream of the latent scores' fresh measurement noise (:func:`simulate_joint_recovery_data`).
LATENT_NOISE_STEP = "joint_recovery/latent_noise"


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
    if pr.association_slope != 0:  # the current slope b1 is constant: one more term of the log hazard
        lp = lp + pr.association_slope * (b1 - pr.slope_mean)
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
    latent = b0[:, None] + b1[:, None] * months + noise
    score = latent if pr.record_latent_scores else np.clip(np.round(latent), 0, 48).astype(np.int64)
    rows, cols = np.nonzero(keep)
    return pd.DataFrame(
        {
            "case_row": rows,
            "visit_date": index[rows] + day[rows, cols].astype("timedelta64[D]"),
            "months": months[rows, cols],
            "alsfrs_r_total": score[rows, cols],
        }
    )


@dataclass(frozen=True)
class JointRecoveryData:
    """A simulated data set cut into the joint model's frames, for checks that an estimator recovers the truth.

    Attributes
    ----------
    registry : SyntheticRegistry
        The generator's output (tables, answer key ``people``, ``truth``).
    long : DataFrame
        The longitudinal frame (:data:`alsmeds.derive.joint_data.JOINT_LONG_COLUMNS`) with the
        observed scores, as the register records them: rounded, clipped to 0-48 (a same-day
        average may be a half point).
    latent : DataFrame
        The same rows with latent scores: the true trajectory ``b0 + b1 months`` plus fresh
        normal noise of SD ``residual_sd``, neither rounded nor clipped.  With ``surv`` an exact
        draw from the planted joint model (the event times depend on the true trajectory only).
    surv : DataFrame
        The survival frame (:data:`alsmeds.derive.joint_data.JOINT_SURV_COLUMNS`), one row per
        patient of ``long``.
    """

    registry: SyntheticRegistry
    long: pd.DataFrame
    latent: pd.DataFrame
    surv: pd.DataFrame


def _answer_key_exposures(registry: SyntheticRegistry) -> pd.DataFrame:
    """One row per ALS case, ``cat_<class>`` = 1 for true prediagnostic use (the generator's indicator), else 0."""
    cases = registry.tables["als_cases"][["person_id"]].copy()
    people = registry.people.set_index("person_id")
    for k in CLASSES:
        codes = cases["person_id"].map(people[f"window_{k}"].map(CATEGORY_CODES))  # window name -> code
        cases[f"cat_{k}"] = ever_used(codes.to_numpy()).astype(np.int64)
    return cases.reset_index(drop=True)


def simulate_joint_recovery_data(
    params: SimulationParameters | None = None,
    seed: int | None = None,
    scale: float = 1.0,
    noise_rng: np.random.Generator | None = None,
) -> JointRecoveryData:
    """Simulate a data set with the given planted association and cut the joint model's frames from it.

    The path of the planted-truth checks of the joint model (``tests/test_joint_model.py``):
    :func:`alsmeds.simulate.generate` (no implied estimands), then the study's own rules
    (:func:`alsmeds.derive.alsfrs.build_alsfrs_data`, :func:`alsmeds.derive.joint_data.build_joint_frames`)
    with the exposures of the answer key (as
    :func:`alsmeds.models.joint.synthetic.synthetic_joint_frames`, so the check isolates the joint
    model from exposure classification), and latent scores beside the observed ones.  Choose the
    association structure with ``params.prognosis.association`` (current value) and
    ``params.prognosis.association_slope`` (current slope).

    Parameters
    ----------
    params : SimulationParameters, optional
        Planted parameters (default: the documented defaults, a current-value association).
    seed : int, optional
        Master seed (default :data:`alsmeds.simulate.DEFAULT_SEED`).
    scale : float
        Number of cases in multiples of the paper's 1,057.
    noise_rng : numpy.random.Generator, optional
        Stream of the latent scores' fresh noise (default: the seed's named stream
        :data:`LATENT_NOISE_STEP`, independent of the data's).

    Returns
    -------
    JointRecoveryData
        The registry and the ``long`` (observed scores), ``latent`` and ``surv`` frames.
    """
    from alsmeds.simulate import DEFAULT_SEED, generate  # the package imports this module

    params = params or SimulationParameters()
    seed = DEFAULT_SEED if seed is None else int(seed)
    registry = generate(seed=seed, scale=scale, params=params)
    frames = build_joint_frames(build_alsfrs_data(registry, _answer_key_exposures(registry)))
    long, surv = frames.long, frames.surv
    people = registry.people.set_index("person_id")
    b0 = long["person_id"].map(people["alsfrs_intercept"]).to_numpy()
    b1 = long["person_id"].map(people["alsfrs_slope_per_month"]).to_numpy()
    rng = noise_rng if noise_rng is not None else rng_for(seed, LATENT_NOISE_STEP)
    latent = long.copy()
    noise = params.prognosis.residual_sd * rng.standard_normal(len(long))
    latent["score"] = b0 + b1 * long["months"].to_numpy() + noise
    return JointRecoveryData(registry=registry, long=long, latent=latent, surv=surv)


__all__ = [
    "LATENT_NOISE_STEP",
    "JointRecoveryData",
    "event_times_months",
    "simulate_joint_recovery_data",
    "simulate_prognosis",
]
