"""The robust (sandwich) covariance of a joint-model fit, each patient a cluster.

The inverse observed information ``I^-1`` is the covariance of the maximum-likelihood estimate when the model is
right.  When it is not (the simulation study's joint model reads rounded scores as exact, or leaves out a form of
the association), the estimate still converges to the parameter ``theta*`` that makes the expected score zero, and
its covariance is the sandwich (Huber 1967; White 1982)

    V = I^-1 (sum_i U_i U_i') I^-1,

with ``U_i = d l_i / d theta`` the score of patient ``i``'s log-likelihood (their visits and their event time
together: a patient is the independent unit, so within-patient dependence the model gets wrong is allowed for),
evaluated at the estimate with the quadrature nodes the fit ended with.  The scores are central differences of the
per-patient log-likelihood (:func:`alsmeds.models.joint.likelihood.joint_loglik_terms`, one vectorised evaluation
per side and parameter: ``2 p`` evaluations), with steps ``1e-4 (1 + |theta_j|)``: truncation error of order
``1e-8`` times the third derivative, rounding error of order ``1e-16 |l_i| / 1e-4``; the tests check them against
autograd's exact Jacobian.  No small-sample correction (``n / (n - p)``) is applied, as in R's ``coxph(robust =
TRUE)`` and the bundle's Cox engine.  Assumptions: patients independent; the estimate an interior maximum.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Relative step of the central differences of the per-patient log-likelihood.
SCORE_STEP = 1e-4


def patient_scores(
    terms: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, step: float = SCORE_STEP
) -> np.ndarray:
    """Score of each patient's log-likelihood at ``theta`` by central differences, shape (patients, parameters).

    Parameters
    ----------
    terms : callable
        ``theta -> (n,)`` per-patient log-likelihood.
    theta : ndarray
        The estimate.
    step : float
        Relative step: ``h_j = step (1 + |theta_j|)``.
    """
    theta = np.asarray(theta, dtype=float)
    columns = []
    for j in range(theta.size):
        h = step * (1.0 + abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        columns.append((np.asarray(terms(up), dtype=float) - np.asarray(terms(down), dtype=float)) / (2 * h))
    return np.column_stack(columns)


def sandwich_covariance(scores: np.ndarray, bread: np.ndarray) -> np.ndarray:
    """``bread @ (scores' scores) @ bread``: the robust covariance from per-cluster scores and ``I^-1``.

    Parameters
    ----------
    scores : ndarray
        (clusters, parameters) score contributions at the estimate.
    bread : ndarray
        The inverse observed information (parameters, parameters).
    """
    meat = scores.T @ scores
    cov = bread @ meat @ bread
    return (cov + cov.T) / 2
