"""Dynamic survival predictions from a fitted joint model (Rizopoulos 2011).

For a patient still event-free at the landmark time ``s`` with measurements ``y_i(s)`` up to ``s``,

``pi_i(u | s) = P(T_i > u | T_i > s, y_i(s)) = E[ exp(-int_s^u h_i(v | b) dv) | T_i > s, y_i(s) ]``,

the expectation over the posterior of the random effects,
``p(b | T_i > s, y_i(s)) ∝ p(y_i(s) | b) exp(-int_0^s h_i(v | b) dv) N(b; 0, D)``, where
``p(y_i(s) | b)`` is the fitted model's longitudinal likelihood (with the censored submodel,
visits at the bounds enter as censored) and the hazard has the fitted association (current value,
slope or both).

At the estimate ``theta_hat`` the expectation is computed by fully adaptive Gauss-Hermite quadrature
(centred at the posterior mode of ``b``, found by Newton's method, and scaled by the inverse curvature
there; 15 nodes per random effect by default), so no Monte Carlo error enters the point prediction.
With ``n_draws > 0`` the parameter uncertainty is propagated as in Rizopoulos (2011): draws
``theta^(m) ~ N(theta_hat, cov)``, the prediction recomputed for each, and the draws' median and
percentile interval reported (the random effects are still integrated by quadrature, not sampled).

Reference: Rizopoulos D. Dynamic predictions and prospective accuracy in joint models for
longitudinal and time-to-event data. Biometrics 2011;67:819-829.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from alsmeds.models.joint.data import JointData, censor_visits, prepare_joint_data, visit_sums
from alsmeds.models.joint.likelihood import Layout, lines_at_nodes, node_terms, random_effect_posterior, survival_terms
from alsmeds.models.joint.quadrature import random_effect_nodes
from alsmeds.models.joint.results import JointResult


def _patient_data(
    result: JointResult, long_rows: pd.DataFrame, covariates: Mapping[str, Any], landmark: float
) -> JointData:
    spec = result.layout.spec
    visits = long_rows[long_rows[spec.time] <= landmark]
    t = visits[spec.time].to_numpy(dtype=float)
    y = visits[spec.y].to_numpy(dtype=float)
    codes = np.zeros(len(t), dtype=int)
    sums = visit_sums(codes, 1, t, y)
    model = result.model
    censored = None
    if getattr(model, "outcome", "normal") == "censored":
        censored = censor_visits(codes, 1, t, y, model.bounds)

    def value(col: str) -> float:
        if col in covariates:
            return float(covariates[col])
        if col in long_rows and len(long_rows):
            return float(long_rows[col].iloc[0])
        raise ValueError(f"no value for covariate {col!r}: give it in `covariates` or in the patient's rows")

    X0 = np.array([[1.0, *(value(c) for c in spec.level)]])
    X1 = np.array([[1.0, *(value(c) for c in spec.slope)]])
    W = np.array([[value(c) for c in spec.surv]]).reshape(1, len(spec.surv))
    return JointData(
        ids=np.array([0]),
        X0=X0,
        X1=X1,
        W=W,
        T=np.array([float(landmark)]),
        delta=np.array([0.0]),
        **sums,
        n_obs=len(t),
        censored=censored,
    )


def _conditional_survival(
    theta: np.ndarray, layout: Layout, data: JointData, times: np.ndarray, n_nodes: int, start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``E[exp(-(H(u | b) - H(s | b))) | T > s, y(s)]`` for every ``u`` in ``times`` (one patient), and the mode."""
    baseline = layout.baseline
    theta = np.asarray(theta, dtype=float)
    arrays_s = baseline.prepare(data.T)
    start = np.zeros((1, 2)) if start is None else start
    mode, cov, _ = random_effect_posterior(theta, layout, data, arrays_s, start)
    nodes = random_effect_nodes(mode, cov, n_nodes, centring="random-effects")
    # Posterior weights of the nodes: p(y | b) N(b; 0, D) exp(-H(s | b)) times the quadrature weight.
    log_post = np.asarray(node_terms(theta, layout, data, nodes, arrays_s) + nodes.log_weight).reshape(-1)
    weights = np.exp(log_post - logsumexp(log_post))
    p = layout.split(theta)
    A, C, _, _ = lines_at_nodes(p, data, nodes)
    m = len(times)
    no_event = np.zeros(m)
    minus_H_u = survival_terms(
        p["gamma"],
        p["alpha"],
        p["baseline"],
        baseline,
        baseline.prepare(times),
        np.repeat(data.W, m, axis=0),
        no_event,
        times,
        np.repeat(A, m, axis=0),
        np.repeat(C, m, axis=0),
        alpha_slope=p["alpha_slope"],
    )
    minus_H_s = survival_terms(
        p["gamma"],
        p["alpha"],
        p["baseline"],
        baseline,
        arrays_s,
        data.W,
        np.zeros(1),
        data.T,
        A,
        C,
        alpha_slope=p["alpha_slope"],
    )
    # With the slope association alone the terms do not vary over the intercept nodes: broadcast.
    log_ratio = np.broadcast_to(np.asarray(minus_H_u) - np.asarray(minus_H_s), (m, *np.shape(A)[1:]))
    ratio = np.exp(log_ratio).reshape(m, -1)
    return ratio @ weights, mode


def dynamic_survival(
    result: JointResult,
    long_rows: pd.DataFrame,
    landmark: float,
    times: Sequence[float],
    *,
    covariates: Mapping[str, Any] | None = None,
    n_nodes: int = 15,
    n_draws: int = 0,
    seed: int | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Conditional survival ``P(T > u | T > s, y(s))`` of one patient on a grid of times ``u >= s``.

    Parameters
    ----------
    result : JointResult
        A fitted joint model.
    long_rows : DataFrame
        The patient's measurements (columns of the model's longitudinal frame); those after
        ``landmark`` are ignored.  May be empty (then ``covariates`` must give every covariate).
    landmark : float
        ``s``: the patient is known to be event-free at ``s``.
    times : sequence of float
        Prediction times ``u >= s``.
    covariates : mapping, optional
        Values of the level, slope and survival covariates (taken from ``long_rows`` when absent).
    n_nodes : int
        Gauss-Hermite nodes per random effect of the posterior quadrature.
    n_draws : int
        Draws of the parameters from ``N(theta_hat, cov)`` for an interval (0: point prediction only).
    seed : int, optional
        Seed of the draws.
    level : float
        Coverage of the percentile interval.

    Returns
    -------
    DataFrame
        ``time`` and ``survival`` (at ``theta_hat``); with draws also ``median``, ``lower``, ``upper``.
    """
    times = np.asarray(times, dtype=float)
    if np.any(times < landmark):
        raise ValueError("prediction times must not precede the landmark time")
    out = pd.DataFrame({"time": times})
    # At s = 0 (prediction from diagnosis) the integrals start at a tiny positive time instead.
    tiny = 1e-12 * max(1.0, float(np.max(times, initial=0.0)))
    landmark = max(float(landmark), tiny)
    times = np.maximum(times, landmark)
    data = _patient_data(result, long_rows, covariates or {}, landmark)
    out["survival"], mode = _conditional_survival(result.theta, result.layout, data, times, n_nodes)
    if n_draws > 0:
        if result.cov is None:
            raise ValueError("no covariance matrix (the observed information is not positive definite)")
        rng = np.random.default_rng(seed)
        L = np.linalg.cholesky(result.cov)
        draws = np.empty((n_draws, len(times)))
        for m in range(n_draws):
            theta = result.theta + L @ rng.standard_normal(len(result.theta))
            draws[m] = _conditional_survival(theta, result.layout, data, times, n_nodes, start=mode)[0]
        tail = (1 - level) / 2
        out["median"] = np.median(draws, axis=0)
        out["lower"] = np.quantile(draws, tail, axis=0)
        out["upper"] = np.quantile(draws, 1 - tail, axis=0)
    return out


def dynamic_risks(
    result: JointResult,
    long: pd.DataFrame,
    surv: pd.DataFrame,
    landmark: float,
    horizons: Sequence[float],
    *,
    n_nodes: int = 15,
) -> pd.DataFrame:
    """Risk of an event in ``(s, s + w]`` given the visits up to ``s``, for many patients at once.

    The same quantity as ``1 - dynamic_survival(...)`` at the estimate, patient by patient
    (posterior mode by vectorised Newton steps, fully adaptive Gauss-Hermite quadrature with
    ``n_nodes`` per random effect), computed for every patient in one pass over arrays
    ``patients x nodes`` instead of one call per patient (about 100 times faster at the
    paper's size).

    Parameters
    ----------
    result : JointResult
        A fitted joint model.
    long : DataFrame
        The patients' measurements (the model's longitudinal columns); those after ``landmark``
        are ignored.  Every patient of ``surv`` needs at least one measurement by ``landmark``.
    surv : DataFrame
        One row per patient (the model's id and survival covariates); the patients to predict for,
        all event-free at ``landmark``.
    landmark : float
        ``s``.
    horizons : sequence of float
        ``w`` values (> 0).

    Returns
    -------
    DataFrame
        ``<id>``, ``horizon``, ``risk``, patients in the order of ``surv``.
    """
    spec = result.layout.spec
    s = max(float(landmark), 1e-12)
    ids = surv[spec.id].to_numpy()
    visits = long[(long[spec.time] <= landmark) & long[spec.id].isin(ids)]
    missing = set(ids) - set(visits[spec.id])
    if missing:
        raise ValueError(f"{len(missing)} patients have no measurement by the landmark {landmark}")
    at_landmark = surv.assign(**{spec.surv_time: s, spec.event: 0})
    bounds = getattr(result.model, "bounds", None) if getattr(result.model, "outcome", "normal") == "censored" else None
    data = prepare_joint_data(visits, at_landmark, spec, bounds)  # patients sorted by id
    layout, theta, baseline = result.layout, np.asarray(result.theta, dtype=float), result.layout.baseline
    arrays_s = baseline.prepare(data.T)
    mode, cov, _ = random_effect_posterior(theta, layout, data, arrays_s, np.zeros((data.n_groups, 2)))
    nodes = random_effect_nodes(mode, cov, n_nodes, centring="random-effects")
    log_post = np.asarray(node_terms(theta, layout, data, nodes, arrays_s) + nodes.log_weight)
    log_post = log_post.reshape(data.n_groups, -1)
    weights = np.exp(log_post - logsumexp(log_post, axis=1, keepdims=True))
    p = layout.split(theta)
    A, C, _, _ = lines_at_nodes(p, data, nodes)
    no_event = np.zeros(data.n_groups)

    def minus_H(upper: np.ndarray, arrays: dict) -> np.ndarray:
        terms = survival_terms(
            p["gamma"], p["alpha"], p["baseline"], baseline, arrays, data.W, no_event, upper, A, C,
            alpha_slope=p["alpha_slope"],
        )  # fmt: skip
        return np.broadcast_to(np.asarray(terms), np.broadcast_shapes(np.shape(A), np.shape(C)))

    at_s = minus_H(data.T, arrays_s)
    rows = []
    for w in horizons:
        upper = np.full(data.n_groups, s + float(w))
        ratio = np.exp(minus_H(upper, baseline.prepare(upper)) - at_s).reshape(data.n_groups, -1)
        rows.append(
            pd.DataFrame({spec.id: data.ids, "horizon": float(w), "risk": 1.0 - np.sum(ratio * weights, axis=1)})
        )
    out = pd.concat(rows, ignore_index=True)
    order = pd.DataFrame({spec.id: ids, "_position": np.arange(len(ids))})
    return out.merge(order, on=spec.id).sort_values(["horizon", "_position"], kind="stable").drop(columns="_position")
