"""The linear mixed model fitted alone, by maximum likelihood: the joint model's starting values.

``y_ij = a_i + c_i t_ij + b0_i + b1_i t_ij + e_ij``, ``(b0_i, b1_i) ~ N(0, D)``, ``e_ij ~ N(0, sigma^2)``,
with ``a_i = X0_i' beta_level`` and ``c_i = X1_i' beta_slope`` (see :mod:`.data`).

The marginal likelihood of patient ``i`` is Gaussian with covariance ``V_i = sigma^2 I + Z_i D Z_i'``
(``Z_i`` the rows ``(1, t_ij)``).  With ``M_i = D^-1 + Z_i'Z_i / sigma^2`` (2 x 2), the matrix
determinant lemma and the Woodbury identity give

``log|V_i| = 2 n_i log sigma + log|D| + log|M_i|``,
``r_i' V_i^-1 r_i = r_i'r_i / sigma^2 - (Z_i'r_i)' M_i^-1 (Z_i'r_i) / sigma^4``,

so the log-likelihood needs only 2 x 2 algebra on the per-patient sums of :class:`.data.JointData`,
vectorised over patients.  The empirical-Bayes (posterior) distribution of ``b_i`` given ``y_i`` is
normal with mean ``M_i^-1 Z_i'r_i / sigma^2`` and covariance ``M_i^-1``: the centres and scales of
the joint model's pseudo-adaptive quadrature.

``D = L L'`` with ``L`` lower triangular, parametrised by ``(log L11, L21, log L22)`` (log-Cholesky):
unconstrained, and ``D`` is positive definite for every value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd.numpy as anp
import numpy as np

from alsmeds.models.joint.data import JointData
from alsmeds.models.joint.optimise import MaximiseResult, maximise

LOG_2PI = float(np.log(2 * np.pi))


def _inverse_d(l00: Any, l10: Any, l11: Any) -> tuple[Any, Any, Any]:
    """Entries of ``D^-1`` for ``D = L L'``, ``L = [[exp(l00), 0], [l10, exp(l11)]]``."""
    i00 = anp.exp(-2 * l00)
    i11 = anp.exp(-2 * l11)
    return i00 + l10**2 * i00 * i11, -l10 * anp.exp(-l00) * i11, i11


def residual_moments(data: JointData, a: Any, c: Any) -> tuple[Any, Any, Any]:
    """``r'r``, ``Z'r`` (two entries) of every patient for the fixed-effect line ``a_i + c_i t``."""
    dA = a - data.ybar
    n = data.n_visits
    rr = data.S_rr - 2 * dA * data.S_r - 2 * c * data.S_rt + n * dA**2 + 2 * dA * c * data.S_t + c**2 * data.S_tt
    zr0 = data.S_r - n * dA - c * data.S_t
    zr1 = data.S_rt - dA * data.S_t - c * data.S_tt
    return rr, zr0, zr1


def lmm_loglik_terms(theta: Any, data: JointData) -> Any:
    """Per-patient marginal log-likelihood of the linear mixed model (full Gaussian constants).

    Parameters
    ----------
    theta : array
        ``beta_level (p0), beta_slope (p1), log_sigma, log_chol_D11, chol_D21, log_chol_D22``.
    data : JointData

    Returns
    -------
    array, shape (n,)
    """
    p0, p1 = data.X0.shape[1], data.X1.shape[1]
    a = anp.dot(data.X0, theta[:p0])
    c = anp.dot(data.X1, theta[p0 : p0 + p1])
    log_sigma, l00, l10, l11 = theta[p0 + p1], theta[p0 + p1 + 1], theta[p0 + p1 + 2], theta[p0 + p1 + 3]
    inv_s2 = anp.exp(-2 * log_sigma)
    d00, d01, d11 = _inverse_d(l00, l10, l11)
    n = data.n_visits
    m00 = d00 + n * inv_s2
    m01 = d01 + data.S_t * inv_s2
    m11 = d11 + data.S_tt * inv_s2
    det = m00 * m11 - m01**2
    rr, zr0, zr1 = residual_moments(data, a, c)
    quad = (m11 * zr0**2 - 2 * m01 * zr0 * zr1 + m00 * zr1**2) / det
    return (
        -0.5 * n * LOG_2PI - n * log_sigma - (l00 + l11) - 0.5 * anp.log(det) - 0.5 * (rr * inv_s2 - quad * inv_s2**2)
    )


def lmm_loglik(theta: Any, data: JointData) -> Any:
    """Marginal log-likelihood of the linear mixed model, summed over patients."""
    return anp.sum(lmm_loglik_terms(theta, data))


def chol_to_cov(l00: float, l10: float, l11: float) -> np.ndarray:
    """``D = L L'`` from the log-Cholesky parameters."""
    L = np.array([[np.exp(l00), 0.0], [l10, np.exp(l11)]])
    return L @ L.T


def cov_to_chol(D: np.ndarray) -> tuple[float, float, float]:
    """Log-Cholesky parameters of a 2 x 2 positive-definite ``D``."""
    L = np.linalg.cholesky(np.asarray(D, dtype=float))
    return float(np.log(L[0, 0])), float(L[1, 0]), float(np.log(L[1, 1]))


@dataclass(frozen=True)
class MixedFit:
    """The linear mixed model fitted alone (ML).

    Attributes
    ----------
    theta : ndarray
        ``beta_level, beta_slope, log_sigma, log_chol_D11, chol_D21, log_chol_D22``.
    D : ndarray, shape (2, 2)
    sigma : float
    llf : float
    eb_mean : ndarray, shape (n, 2)
        Empirical-Bayes means (= modes) of ``(b0_i, b1_i)``.
    eb_cov : ndarray, shape (n, 2, 2)
        Their conditional covariances ``M_i^-1``.
    optimum : MaximiseResult
    """

    theta: np.ndarray
    D: np.ndarray
    sigma: float
    llf: float
    eb_mean: np.ndarray
    eb_cov: np.ndarray
    optimum: MaximiseResult


def _start(data: JointData) -> np.ndarray:
    """OLS fixed effects from the per-patient sums; D and sigma from per-patient least-squares lines."""
    n = data.n_visits
    X0, X1 = data.X0, data.X1
    xtx = np.block(
        [
            [(X0 * n[:, None]).T @ X0, (X0 * data.S_t[:, None]).T @ X1],
            [(X1 * data.S_t[:, None]).T @ X0, (X1 * data.S_tt[:, None]).T @ X1],
        ]
    )
    sum_y = n * data.ybar + data.S_r
    sum_ty = data.S_rt + data.ybar * data.S_t
    xty = np.concatenate([X0.T @ sum_y, X1.T @ sum_ty])
    beta = np.linalg.lstsq(xtx, xty, rcond=None)[0]
    p0 = X0.shape[1]
    a, c = X0 @ beta[:p0], X1 @ beta[p0:]
    rr, zr0, zr1 = residual_moments(data, a, c)
    det = n * data.S_tt - data.S_t**2
    ok = (n >= 3) & (det > 1e-8 * np.maximum(n * data.S_tt, 1e-300))
    total_var = max(float(rr.sum() / max(n.sum() - len(beta), 1.0)), 1e-8)
    if ok.sum() >= 3:
        u0 = (data.S_tt[ok] * zr0[ok] - data.S_t[ok] * zr1[ok]) / det[ok]
        u1 = (n[ok] * zr1[ok] - data.S_t[ok] * zr0[ok]) / det[ok]
        within = rr[ok] - (u0 * zr0[ok] + u1 * zr1[ok])
        sigma2 = max(float(within.sum() / (n[ok] - 2).sum()), 1e-3 * total_var)
        D = np.cov(np.vstack([u0, u1])) / 2
        D = D + np.diag([1e-3 * total_var, 1e-6 * total_var / max(float(np.mean(data.S_tt / n)), 1e-8)])
        if np.linalg.eigvalsh(D).min() <= 0:
            D = np.diag(np.diag(D))
    else:
        sigma2 = total_var / 2
        mean_tt = max(float(np.mean(data.S_tt / n)), 1e-8)
        D = np.diag([total_var / 2, total_var / 20 / mean_tt])
    return np.concatenate([beta, [0.5 * np.log(sigma2)], cov_to_chol(D)])


def posterior_b(theta: np.ndarray, data: JointData) -> tuple[np.ndarray, np.ndarray]:
    """Empirical-Bayes means and covariances of ``b_i`` given ``y_i`` under the mixed model ``theta``."""
    p0, p1 = data.X0.shape[1], data.X1.shape[1]
    a, c = data.X0 @ theta[:p0], data.X1 @ theta[p0 : p0 + p1]
    log_sigma, l00, l10, l11 = theta[p0 + p1 : p0 + p1 + 4]
    inv_s2 = np.exp(-2 * log_sigma)
    d00, d01, d11 = _inverse_d(l00, l10, l11)
    m00 = d00 + data.n_visits * inv_s2
    m01 = d01 + data.S_t * inv_s2
    m11 = d11 + data.S_tt * inv_s2
    det = m00 * m11 - m01**2
    cov = np.empty((data.n_groups, 2, 2))
    cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 0], cov[:, 1, 1] = m11 / det, -m01 / det, -m01 / det, m00 / det
    _, zr0, zr1 = residual_moments(data, a, c)
    mean = np.einsum("nij,nj->ni", cov, np.column_stack([zr0, zr1])) * inv_s2
    return mean, cov


def fit_mixed(data: JointData, *, tol: float = 1e-10, maxiter: int = 200) -> MixedFit:
    """Fit the linear mixed model alone by maximum likelihood (closed-form 2 x 2 likelihood, exact derivatives).

    Parameters
    ----------
    data : JointData
    tol, maxiter
        See :func:`.optimise.maximise`.

    Returns
    -------
    MixedFit
    """
    x0 = _start(data)
    optimum = maximise(lambda th: lmm_loglik(th, data), x0, tol=tol, maxiter=maxiter)
    theta = optimum.x
    p = data.X0.shape[1] + data.X1.shape[1]
    mean, cov = posterior_b(theta, data)
    return MixedFit(
        theta=theta,
        D=chol_to_cov(*theta[p + 1 : p + 4]),
        sigma=float(np.exp(theta[p])),
        llf=optimum.llf,
        eb_mean=mean,
        eb_cov=cov,
        optimum=optimum,
    )
