"""Prospective accuracy of predicted risks of a right-censored event: time-dependent AUC, Brier score, calibration.

Model-agnostic: every function takes the observed times, the event indicators and the predicted
risks of one set of patients, whatever model made the risks.  In the dynamic-prediction setting
(:mod:`alsmeds.models.joint.landmark`) the patients are those still at risk at a landmark time
``s``, ``time`` is measured from ``s`` and the risk of patient ``i`` at horizon ``w`` is
``r_i = P(T_i <= s + w | T_i > s, history up to s)``; here ``tau`` stands for ``w``.

Estimands
---------
With ``T`` the event time and ``r`` the predicted risk of the event by ``tau`` (both from the
origin of the given times):

* **Time-dependent AUC** (cumulative cases, dynamic controls; Heagerty, Lumley and Pepe 2000,
  Blanche, Dartigues and Jacqmin-Gadda 2013):
  ``AUC(tau) = P(r_i > r_j | T_i <= tau, T_j > tau)`` for two independent patients, ties in the
  risk counted one half.
* **Brier score**: ``BS(tau) = E[(I(T <= tau) - r)^2]``, the mean squared error of the risk as a
  prediction of the event status at ``tau`` (lower is better; 0.25 for a coin toss at a
  prevalence of one half).
* **Calibration**: the observed risk ``P(T <= tau)`` against the mean predicted risk, overall
  (calibration in the large) and within groups of patients with similar predicted risks.

Estimators and assumptions
--------------------------
Both scores are the inverse-probability-of-censoring weighted (IPCW) estimators of
``riskRegression::Score`` (Gerds and Schumacher 2006; Blanche et al. 2013) with Kaplan-Meier
censoring weights (``cens.model = "km"``), which assume **censoring independent of the event
time and of the predicted risk** (given nothing): ``G(t) = P(C > t)`` is the Kaplan-Meier
estimate of the censoring distribution (the *reverse* Kaplan-Meier, censorings as events, at
risk at ``t`` every patient with a time ``>= t``).  A *case* (``time <= tau``, ``event = 1``) is
weighted ``1 / G(time-)``, a *control* (``time > tau``) ``1 / G(tau)``, and a patient censored by
``tau`` gets weight 0:

* ``AUC = sum_i sum_j W_i W_j [I(r_i > r_j) + I(r_i = r_j) / 2] / (sum_i W_i sum_j W_j)``, ``i``
  over the cases and ``j`` over the controls (the controls' weights are equal, so they cancel);
* ``Brier = (1/n) [sum_cases (1 - r_i)^2 / G(time_i-) + sum_controls r_j^2 / G(tau)]``, ``n``
  every patient (the censored ones included).

**Standard errors** are influence-function standard errors, as ``riskRegression::Score`` with
``se.fit = TRUE, conservative = FALSE``: ``se = sd(IF_i) / sqrt(n)`` where ``IF_i`` is the
influence function of the estimator at patient ``i``, including the term from the estimated
censoring distribution (:func:`_censoring_term`: the Kaplan-Meier influence function with
Nelson-Aalen increments ``n dN_C(u) / Y(u)^2``, ``Y(u)`` every patient with a time ``>= u``
whether or not an event is tied with the censoring at ``u``: riskRegression's choice, kept).  The risks are
taken as fixed (not estimated): the standard errors ignore the uncertainty of the model that
made them, which is what ``Score`` does for risks given as numbers.  ``conservative=True``
drops the censoring term (riskRegression's conservative option).

Ties: tied risks count one half in the AUC.  An event and a censoring at the same time: the
censoring is taken to follow the event, so ``G`` steps at ``u`` by ``dN_C(u) / (Y(u) - dN(u))``
(prodlim's reverse Kaplan-Meier, which ``Score`` uses; a case at ``u`` keeps the weight
``1 / G(u-)``).  A patient whose time equals ``tau`` is a case (event) or censored by ``tau``, never
a control.  The tests require agreement with riskRegression to 1e-6 (relative) on heavily tied,
censored data; the differences measured are below 1e-14.

References
----------
Gerds TA, Schumacher M. Consistent estimation of the expected Brier score in general survival
models with right-censored event times. Biom J 2006;48:1029-1040.
Blanche P, Dartigues JF, Jacqmin-Gadda H. Review and comparison of ROC curve estimators for a
time-dependent outcome with marker-dependent censoring. Biom J 2013;55:687-704.
Gerds TA, Kattan MW. Medical Risk Prediction Models: With Ties to Machine Learning. CRC Press, 2021.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Columns of :func:`score_risks`.
SCORE_COLUMNS: dict[str, str] = {
    "model": "the model whose risks are scored",
    "horizon": "tau: the risk is of an event by this time (from the origin of the times)",
    "n": "patients scored (at risk at the origin)",
    "events": "events by the horizon (cases)",
    "controls": "patients followed event-free beyond the horizon",
    "censored": "patients censored by the horizon (weight 0)",
    "auc": "IPCW time-dependent AUC (cumulative cases, dynamic controls; Kaplan-Meier censoring weights)",
    "auc_se": "influence-function standard error of auc (censoring term included unless conservative)",
    "brier": "IPCW Brier score at the horizon (Kaplan-Meier censoring weights)",
    "brier_se": "influence-function standard error of brier",
    "brier_null": "IPCW Brier score of the null model: everyone given the Kaplan-Meier risk by the horizon",
    "ipa": "index of prediction accuracy, 1 - brier / brier_null",
    "observed_risk": "Kaplan-Meier risk by the horizon of every patient scored",
    "mean_risk": "mean predicted risk; observed_risk - mean_risk is the calibration in the large",
}

#: Columns of :func:`contrast_risks`.
CONTRAST_COLUMNS: dict[str, str] = {
    "model": "the model compared",
    "reference": "the model it is compared with",
    "horizon": SCORE_COLUMNS["horizon"],
    "auc_difference": "auc of model - auc of reference (same patients)",
    "auc_difference_se": "influence-function standard error of the difference (paired: the patients are the same)",
    "auc_difference_p": "two-sided Wald p-value of no difference",
    "brier_difference": "brier of model - brier of reference (negative: model more accurate)",
    "brier_difference_se": "influence-function standard error of the difference",
    "brier_difference_p": "two-sided Wald p-value of no difference",
}

#: Columns of :func:`calibration_table`.
CALIBRATION_COLUMNS: dict[str, str] = {
    "group": "risk group, 1 (lowest predicted risks) to the number of groups",
    "n": "patients in the group",
    "events": "events by the horizon in the group",
    "risk_min": "smallest predicted risk in the group",
    "risk_max": "largest predicted risk in the group",
    "mean_risk": "mean predicted risk in the group",
    "observed_risk": "Kaplan-Meier risk by the horizon in the group (missing when nobody is followed to it)",
    "observed_se": "Greenwood standard error of observed_risk",
}


@dataclass(frozen=True)
class CensoringWeights:
    """The reverse Kaplan-Meier estimate of the censoring distribution and the IPCW weights at a horizon.

    Attributes
    ----------
    horizon : float
        ``tau``.
    unique_times : ndarray
        The distinct observed times, ascending.
    at_risk, censored : ndarray
        ``Y(u)``, the patients with a time ``>= u``, and ``dN_C(u)``, those censored at ``u``, per
        unique time.
    survival : ndarray
        ``G(u) = prod_{v <= u} (1 - dN_C(v) / Y(v))`` per unique time.
    g_before : ndarray, shape (n,)
        ``G(time_i-)`` per patient (1 before the first censoring).
    g_horizon : float
        ``G(tau)``.
    case, control : ndarray of bool, shape (n,)
        ``time <= tau`` with an event; ``time > tau``.
    weight : ndarray, shape (n,)
        ``1 / G(time-)`` for a case, ``1 / G(tau)`` for a control, 0 otherwise.
    """

    horizon: float
    unique_times: np.ndarray
    at_risk: np.ndarray
    censored: np.ndarray
    survival: np.ndarray
    g_before: np.ndarray
    g_horizon: float
    case: np.ndarray
    control: np.ndarray
    weight: np.ndarray


def _check(time: np.ndarray, event: np.ndarray, risk: np.ndarray | None = None) -> None:
    if time.ndim != 1 or event.shape != time.shape:
        raise ValueError("time and event must be one-dimensional and of the same length")
    if risk is not None and risk.shape != time.shape:
        raise ValueError(f"{risk.shape[0] if risk.ndim else 1} risks for {time.shape[0]} patients")
    if time.size == 0:
        raise ValueError("no patients")
    if not np.all(np.isfinite(time)) or np.any(time < 0):
        raise ValueError("times must be finite and not negative")
    if not np.all(np.isin(event, (0, 1))):
        raise ValueError("event must be 0 (censored) or 1 (event)")
    if risk is not None and not np.all(np.isfinite(risk)):
        raise ValueError("risks must be finite")


def censoring_weights(time: np.ndarray, event: np.ndarray, horizon: float) -> CensoringWeights:
    """Kaplan-Meier censoring weights at ``horizon`` (see the module docstring).

    Parameters
    ----------
    time : array of float, shape (n,)
        Observed times (event or censoring).
    event : array of 0/1, shape (n,)
        1 for an event, 0 for censoring.
    horizon : float
        ``tau``.

    Returns
    -------
    CensoringWeights
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    _check(time, event)
    unique, index = np.unique(time, return_inverse=True)
    n_at = np.bincount(index, minlength=unique.size)
    at_risk = (time.size - np.concatenate([[0], np.cumsum(n_at)[:-1]])).astype(float)
    censored = np.bincount(index, weights=1.0 - event, minlength=unique.size)
    # Censorings tied with events happen after them: at risk of censoring at u, Y(u) - dN(u).
    at_risk_censoring = at_risk - (n_at - censored)
    survival = np.cumprod(1.0 - np.divide(censored, at_risk_censoring, out=np.zeros_like(censored), where=censored > 0))
    before = np.concatenate([[1.0], survival[:-1]])
    k = np.searchsorted(unique, horizon, side="right") - 1
    g_horizon = float(survival[k]) if k >= 0 else 1.0
    case = (time <= horizon) & (event == 1)
    control = time > horizon
    g_before = before[index]
    # G(tau) = 0 (everyone left censored by tau) leaves no control; a case always has G(time-) > 0.
    with np.errstate(divide="ignore"):
        weight = np.where(case, 1.0 / g_before, np.where(control, 1.0 / max(g_horizon, np.finfo(float).tiny), 0.0))
    return CensoringWeights(
        horizon=float(horizon),
        unique_times=unique,
        at_risk=at_risk,
        censored=censored,
        survival=survival,
        g_before=g_before,
        g_horizon=g_horizon,
        case=case,
        control=control,
        weight=weight,
    )


def _censoring_term(
    time: np.ndarray, event: np.ndarray, cw: CensoringWeights, case_values: np.ndarray, control_total: float
) -> np.ndarray:
    """``sum_k a_k f_l(s_k)`` for every patient ``l``: how ``sum_k a_k / G(s_k)`` moves with the estimated ``G``.

    ``sum_k a_k / G_hat(s_k)`` has influence function ``sum_k a_k f_l(s_k) / G(s_k)``, with
    ``f_l(s) = I(time_l <= s, event_l = 0) n / Y(time_l) - H(min(time_l, s))`` and
    ``H(t) = sum_{u <= t} n dN_C(u) / Y(u)^2`` (``-G(s) f_l(s)`` is the influence function of the
    Kaplan-Meier ``G_hat(s)``, with Nelson-Aalen increments).  Here ``a_k / G(s_k)`` is given:
    ``case_values`` per patient (zero but at cases, evaluated at ``s_k = time_k-``) and
    ``control_total`` for the controls, all evaluated at ``s = tau``.

    Returns
    -------
    ndarray, shape (n,)
        ``sum_cases case_values_k f_l(time_k-) + control_total f_l(tau)`` for each ``l``.
    """
    n = time.size
    u = cw.unique_times
    H = np.cumsum(n * cw.censored / cw.at_risk**2)
    index = np.searchsorted(u, time)  # position of each patient's time among the unique times
    jump = np.where(event == 0, n / cw.at_risk[index], 0.0) - H[index]  # f_l(s) for s at or after time_l
    H_before = np.concatenate([[0.0], H[:-1]])

    # Cases, evaluated at s_k = time_k-: patient l is "before" case k when time_l < time_k.
    case = cw.case
    case_times = time[case]
    a = case_values[case]
    order = np.argsort(case_times, kind="stable")
    case_times, a = case_times[order], a[order]
    a_Hs = a * H_before[np.searchsorted(u, case_times)]
    # sum of a over cases with time_k > time_l, and of a H(time_k-) over cases with time_k <= time_l
    after = np.searchsorted(case_times, time, side="right")
    tail = np.concatenate([np.cumsum(a[::-1])[::-1], [0.0]])
    head = np.concatenate([[0.0], np.cumsum(a_Hs)])
    cases_part = jump * tail[after] - head[after]

    # Controls, all evaluated at tau: patient l is "before" when time_l <= tau.
    k = np.searchsorted(u, cw.horizon, side="right") - 1
    H_tau = H[k] if k >= 0 else 0.0
    f_tau = np.where(time <= cw.horizon, jump, -H_tau)
    return cases_part + control_total * f_tau


@dataclass(frozen=True)
class Score:
    """An accuracy score, its standard error and the influence function behind it.

    Attributes
    ----------
    estimate : float
    se : float
        ``sd(influence) / sqrt(n)`` (``sd`` with ``n - 1``, as riskRegression).
    influence : ndarray, shape (n,)
        Influence function per patient, in the order given.
    """

    estimate: float
    se: float
    influence: np.ndarray


def _se(influence: np.ndarray) -> float:
    n = influence.size
    return float(np.std(influence, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def time_dependent_auc(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, *, conservative: bool = False
) -> Score:
    """IPCW time-dependent AUC at ``horizon`` (cumulative cases, dynamic controls), with its standard error.

    Estimand ``P(r_i > r_j | T_i <= tau, T_j > tau)`` (ties one half), estimator and assumptions in
    the module docstring: ``riskRegression::Score(metrics = "auc", cens.model = "km")``.

    Parameters
    ----------
    time, event : arrays, shape (n,)
        Observed time and event indicator (0/1) of every patient scored.
    risk : array, shape (n,)
        Predicted risk of an event by ``horizon`` (any increasing transformation gives the same AUC).
    horizon : float
        ``tau``.
    conservative : bool
        Leave out the censoring term of the influence function (riskRegression's ``conservative``).

    Returns
    -------
    Score
        NaN estimate and standard error without a case or a control.
    """
    time, event, risk = (np.asarray(x, dtype=float) for x in (time, event, risk))
    _check(time, event, risk)
    n = time.size
    cw = censoring_weights(time, event, horizon)
    W, case, control = cw.weight, cw.case, cw.control
    if not case.any() or not control.any():
        return Score(float("nan"), float("nan"), np.full(n, np.nan))
    levels, level = np.unique(risk, return_inverse=True)
    w_case = np.bincount(level, weights=np.where(case, W, 0.0), minlength=levels.size)
    w_control = np.bincount(level, weights=np.where(control, W, 0.0), minlength=levels.size)
    below_control = np.concatenate([[0.0], np.cumsum(w_control)[:-1]])
    above_case = np.cumsum(w_case[::-1])[::-1] - w_case
    # Per case: weighted controls with a lower risk (ties one half); per control: cases with a higher risk.
    beats = np.where(case, below_control[level] + 0.5 * w_control[level], 0.0)
    beaten = np.where(control, above_case[level] + 0.5 * w_case[level], 0.0)
    mu_case, mu_control = float(W[case].sum()), float(W[control].sum())
    nu = float((W * beats).sum())
    auc = nu / (mu_case * mu_control)
    mu = mu_case * mu_control / n**2
    # Influence of nu = (1/n^2) sum W_i W_j Theta_ij and mu = (1/n^2) sum W_i W_j, given G
    # (the constants -2 nu and -2 mu cancel in the ratio).
    if_nu = W / n * (beats + beaten)
    if_mu = W / n * np.where(case, mu_control, np.where(control, mu_case, 0.0))
    influence = (if_nu - auc * if_mu) / mu
    if not conservative:
        # The weights' dependence on G_hat: W_k -> W_k f_l(s_k).
        nu_c = _censoring_term(time, event, cw, W * beats, float((W * beaten).sum())) / n**2
        mu_c = _censoring_term(time, event, cw, W * mu_control, mu_case * mu_control) / n**2
        influence = influence + (nu_c - auc * mu_c) / mu
    return Score(float(auc), _se(influence), influence)


def brier_score(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, *, conservative: bool = False
) -> Score:
    """IPCW Brier score at ``horizon``, with its standard error.

    Estimand ``E[(I(T <= tau) - r)^2]``, estimator and assumptions in the module docstring:
    ``riskRegression::Score(metrics = "brier", cens.model = "km")``.  For a constant risk ``p``
    the estimate is ``F (1 - F) + (p - F)^2`` with ``F`` the Kaplan-Meier risk by ``tau``
    (:func:`constant_risk_brier`).

    Parameters
    ----------
    time, event, risk : arrays, shape (n,)
    horizon : float
    conservative : bool
        Leave out the censoring term of the influence function.

    Returns
    -------
    Score
    """
    time, event, risk = (np.asarray(x, dtype=float) for x in (time, event, risk))
    _check(time, event, risk)
    n = time.size
    cw = censoring_weights(time, event, horizon)
    residual = np.where(cw.case, (1.0 - risk) ** 2, np.where(cw.control, risk**2, 0.0)) * cw.weight
    brier = float(residual.sum() / n)
    influence = residual - brier
    if not conservative:
        influence = (
            influence
            + _censoring_term(time, event, cw, np.where(cw.case, residual, 0.0), float(residual[cw.control].sum())) / n
        )
    return Score(brier, _se(influence), influence)


def constant_risk_brier(time: np.ndarray, event: np.ndarray, risk: float, horizon: float) -> float:
    """The IPCW Brier score of a constant risk ``p``, in closed form: ``F (1 - p)^2 + (1 - F) p^2``.

    Derivation: with every risk equal to ``p`` the estimator is ``F (1 - p)^2 + S p^2`` where
    ``F = (1/n) sum_cases 1 / G(time_i-)`` and ``S = (1/n) n_controls / G(tau)`` are the IPCW
    estimates of ``P(T <= tau)`` and ``P(T > tau)``.  With the reverse Kaplan-Meier ``G`` (censorings
    tied with events counted after them), ``S(t-) G(t-) = Y(t) / n`` at every time, so the Kaplan-Meier
    jump ``S(t-) dN(t) / Y(t)`` equals ``dN(t) / (n G(t-))``: ``F = 1 - KM(tau)`` and ``S = KM(tau)``
    exactly, ties or not, and ``F + S = 1``.  The score is therefore
    ``F (1 - F) + (p - F)^2``: minimal at ``p = F`` (the null model, everyone given the Kaplan-Meier
    risk), where it is the variance ``F (1 - F)`` of the event status at ``tau``.

    Returns
    -------
    float
    """
    cw = censoring_weights(np.asarray(time, dtype=float), np.asarray(event, dtype=float), horizon)
    F = float(cw.weight[cw.case].sum() / cw.weight.size)
    return F * (1.0 - risk) ** 2 + (1.0 - F) * risk**2


def _km(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float]:
    """Kaplan-Meier ``S(tau)`` (the last value at or before ``tau``) and the Greenwood sum at ``tau``."""
    unique, index = np.unique(time, return_inverse=True)
    n_at = np.bincount(index, minlength=unique.size)
    at_risk = (time.size - np.concatenate([[0], np.cumsum(n_at)[:-1]])).astype(float)
    deaths = np.bincount(index, weights=event, minlength=unique.size)
    keep = unique <= horizon
    d, y = deaths[keep], at_risk[keep]
    survival = float(np.prod(1.0 - d / y))
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = float(np.sum(np.where(d > 0, d / (y * (y - d)), 0.0)))
    return survival, greenwood


def kaplan_meier_risk(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float]:
    """``1 - S(tau)`` by Kaplan-Meier and its Greenwood standard error.

    Returns
    -------
    (float, float)
        Missing when there is nobody, or nobody is followed to ``tau`` (the last time is a
        censoring before it).
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    if time.size == 0 or (time.max() < horizon and event[time == time.max()].max() == 0):
        return float("nan"), float("nan")
    survival, greenwood = _km(time, event, horizon)
    se = survival * np.sqrt(greenwood) if survival > 0 else 0.0
    return 1.0 - survival, float(se)


def calibration_table(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, groups: int = 10
) -> pd.DataFrame:
    """Observed against predicted risk by ``horizon`` in groups of patients of similar predicted risk.

    The patients are sorted by predicted risk (ties in the order given) and cut into ``groups``
    groups of equal size (deciles by default; fewer when there are fewer patients); the
    observed risk of a group is its Kaplan-Meier risk ``1 - S(tau)`` (censoring independent of
    the event time within the group), beside the group's mean predicted risk.

    Returns
    -------
    DataFrame
        Columns :data:`CALIBRATION_COLUMNS`, one row per group.
    """
    time, event, risk = (np.asarray(x, dtype=float) for x in (time, event, risk))
    _check(time, event, risk)
    n = time.size
    g = max(1, min(int(groups), n))
    rank = np.empty(n, dtype=int)
    rank[np.argsort(risk, kind="stable")] = np.arange(n)
    group = rank * g // n
    rows = []
    for k in range(g):
        m = group == k
        observed, se = kaplan_meier_risk(time[m], event[m], horizon)
        rows.append(
            {
                "group": k + 1,
                "n": int(m.sum()),
                "events": int(((time[m] <= horizon) & (event[m] == 1)).sum()),
                "risk_min": float(risk[m].min()),
                "risk_max": float(risk[m].max()),
                "mean_risk": float(risk[m].mean()),
                "observed_risk": observed,
                "observed_se": se,
            }
        )
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))


def score_risks(
    time: np.ndarray,
    event: np.ndarray,
    risks: Mapping[str, np.ndarray],
    horizon: float,
    *,
    conservative: bool = False,
) -> pd.DataFrame:
    """AUC, Brier score (with standard errors) and calibration in the large of several models' risks.

    Parameters
    ----------
    time, event : arrays, shape (n,)
        Observed time and event indicator of every patient scored.
    risks : mapping of str to array, shape (n,)
        Model name -> predicted risk of an event by ``horizon``, for the same patients.
    horizon : float
    conservative : bool
        Standard errors without the censoring term.

    Returns
    -------
    DataFrame
        One row per model, columns :data:`SCORE_COLUMNS`.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    cw = censoring_weights(time, event, horizon)
    observed, _ = kaplan_meier_risk(time, event, horizon)
    brier_null = brier_score(time, event, np.full(time.size, 1.0 - _km(time, event, horizon)[0]), horizon)
    rows = []
    for name, r in risks.items():
        r = np.asarray(r, dtype=float)
        auc = time_dependent_auc(time, event, r, horizon, conservative=conservative)
        brier = brier_score(time, event, r, horizon, conservative=conservative)
        rows.append(
            {
                "model": name,
                "horizon": float(horizon),
                "n": int(time.size),
                "events": int(cw.case.sum()),
                "controls": int(cw.control.sum()),
                "censored": int(time.size - cw.case.sum() - cw.control.sum()),
                "auc": auc.estimate,
                "auc_se": auc.se,
                "brier": brier.estimate,
                "brier_se": brier.se,
                "brier_null": brier_null.estimate,
                "ipa": 1.0 - brier.estimate / brier_null.estimate if brier_null.estimate > 0 else float("nan"),
                "observed_risk": observed,
                "mean_risk": float(r.mean()),
            }
        )
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def _difference(a: Score, b: Score) -> tuple[float, float, float]:
    from scipy.stats import norm

    influence = a.influence - b.influence
    estimate, se = a.estimate - b.estimate, _se(influence)
    p = float(2 * norm.sf(abs(estimate) / se)) if se > 0 else float("nan")
    return estimate, se, p


def contrast_risks(
    time: np.ndarray,
    event: np.ndarray,
    risks: Mapping[str, np.ndarray],
    horizon: float,
    *,
    conservative: bool = False,
) -> pd.DataFrame:
    """Paired differences of AUC and Brier score between models scored on the same patients.

    Every pair of models (a later one against an earlier one in ``risks``, as riskRegression's
    contrasts), the difference ``model - reference`` with the standard error of the difference of
    the two influence functions (``sd(IF_model - IF_reference) / sqrt(n)``) and a Wald p-value.

    Returns
    -------
    DataFrame
        Columns :data:`CONTRAST_COLUMNS`, one row per pair.
    """
    names = list(risks)
    aucs = {m: time_dependent_auc(time, event, risks[m], horizon, conservative=conservative) for m in names}
    briers = {m: brier_score(time, event, risks[m], horizon, conservative=conservative) for m in names}
    rows = []
    for i, reference in enumerate(names):
        for model in names[i + 1 :]:
            auc = _difference(aucs[model], aucs[reference])
            brier = _difference(briers[model], briers[reference])
            rows.append(
                {
                    "model": model,
                    "reference": reference,
                    "horizon": float(horizon),
                    "auc_difference": auc[0],
                    "auc_difference_se": auc[1],
                    "auc_difference_p": auc[2],
                    "brier_difference": brier[0],
                    "brier_difference_se": brier[1],
                    "brier_difference_p": brier[2],
                }
            )
    return pd.DataFrame(rows, columns=list(CONTRAST_COLUMNS))
