"""The linear mixed model fitted alone, by maximum likelihood: the joint model's starting values.

``y_ij = a_i + c_i t_ij + b0_i + b1_i t_ij + e_ij``, ``(b0_i, b1_i) ~ N(0, D)``, ``e_ij ~ N(0, sigma^2)``,
with ``a_i = X0_i' beta_level`` and ``c_i = X1_i' beta_slope`` (see :mod:`.data`).

The fit is :func:`alsmeds.models.lmm.fit_lmm` (ML; the bundle's one implementation of the linear
mixed model): the per-patient sums of :class:`.data.JointData` are turned into the sums that
:class:`alsmeds.models.lmm.LmmSums` holds, without a loop over visits, since the design row of a
visit is ``(X0_i, X1_i t_ij)``.  The empirical-Bayes (posterior) distribution of ``b_i`` given ``y_i``
is normal with mean the BLUP and covariance ``(D^-1 + Z_i'Z_i / sigma^2)^-1``: the centres and
scales of the joint model's pseudo-adaptive quadrature.

The joint model parametrises ``D = L L'`` (``L`` lower triangular) by ``(log L11, L21, log L22)``
(log-Cholesky) and ``sigma`` by ``log sigma``; :attr:`MixedFit.theta` is in that parametrisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alsmeds.models.joint.data import JointData
from alsmeds.models.lmm import DEFAULT_TOL, LmmError, LmmResult, LmmSums, fit_lmm


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
        Empirical-Bayes means (= modes) of ``(b0_i, b1_i)``, patients in the order of the data.
    eb_cov : ndarray, shape (n, 2, 2)
        Their conditional covariances ``(D^-1 + Z_i'Z_i / sigma^2)^-1``.
    optimum : LmmResult
        The fit (``converged``, ``message``, ``iterations``, ``on_boundary``, ...).
    """

    theta: np.ndarray
    D: np.ndarray
    sigma: float
    llf: float
    eb_mean: np.ndarray
    eb_cov: np.ndarray
    optimum: LmmResult


def lmm_sums(data: JointData) -> LmmSums:
    """The sums of :mod:`alsmeds.models.lmm` from the per-patient sums of a :class:`.data.JointData`.

    The design row of visit ``j`` of patient ``i`` is ``(X0_i, X1_i t_ij)`` and ``Z_ij = (1, t_ij)``, so
    ``X_i'Z_i``, ``Z_i'Z_i`` and ``X'X`` need only ``n_i``, ``sum t`` and ``sum t^2``; the reference
    fixed effects are least squares from the same sums, and ``Z_i'r_i``, ``r_i'r_i`` come from the
    centred sums (``r = y - ybar_i``) without cancellation against the level of ``y``.
    """
    n, St, Stt = data.n_visits, data.S_t, data.S_tt
    X0, X1 = data.X0, data.X1
    p0 = X0.shape[1]
    XtX = np.block(
        [
            [(X0 * n[:, None]).T @ X0, (X0 * St[:, None]).T @ X1],
            [(X1 * St[:, None]).T @ X0, (X1 * Stt[:, None]).T @ X1],
        ]
    )
    sum_y = n * data.ybar + data.S_r
    sum_ty = data.S_rt + data.ybar * St
    beta0 = np.linalg.lstsq(XtX, np.concatenate([X0.T @ sum_y, X1.T @ sum_ty]), rcond=None)[0]
    # Residuals of the reference line a_i + c_i t: d = ybar_i - a_i, so r_ij = (y_ij - ybar_i) + d_i - c_i t_ij.
    d = data.ybar - X0 @ beta0[:p0]
    c = X1 @ beta0[p0:]
    zr0 = data.S_r + n * d - c * St
    zr1 = data.S_rt + d * St - c * Stt
    rr = data.S_rr + 2 * d * data.S_r - 2 * c * data.S_rt + n * d**2 - 2 * d * c * St + c**2 * Stt
    XZ = np.empty((data.n_groups, X0.shape[1] + X1.shape[1], 2))
    XZ[:, :p0, 0], XZ[:, :p0, 1] = X0 * n[:, None], X0 * St[:, None]
    XZ[:, p0:, 0], XZ[:, p0:, 1] = X1 * St[:, None], X1 * Stt[:, None]
    ZZ = np.empty((data.n_groups, 2, 2))
    ZZ[:, 0, 0], ZZ[:, 0, 1], ZZ[:, 1, 0], ZZ[:, 1, 1] = n, St, St, Stt
    return LmmSums(
        names=[f"x{j}" for j in range(XtX.shape[0])],
        re_names=["Intercept", "time"],
        groups=np.asarray(data.ids),
        beta0=beta0,
        XtX=XtX,
        Xtr=np.concatenate([X0.T @ zr0, X1.T @ zr1]),
        n=n,
        ZZ=ZZ,
        XZ=XZ,
        Zr=np.column_stack([zr0, zr1]),
        rr=rr,
    )


def fit_mixed(data: JointData, *, tol: float = DEFAULT_TOL, maxiter: int = 100) -> MixedFit:
    """Fit the linear mixed model alone by maximum likelihood (:func:`alsmeds.models.lmm.fit_lmm`).

    Parameters
    ----------
    data : JointData
    tol, maxiter
        See :func:`alsmeds.models.lmm.fit_lmm`.

    Returns
    -------
    MixedFit
        Not converged (``optimum.converged`` False, reason in ``optimum.message``) when the variance
        components are not identified; a singular ``D`` at the estimate (boundary) has no
        log-Cholesky parameters and raises.

    Raises
    ------
    alsmeds.models.lmm.LmmError
        Too few patients or visits; a random-effects covariance that is singular at the estimate.
    """
    fit = fit_lmm(lmm_sums(data), reml=False, tol=tol, maxiter=maxiter)
    if fit.on_boundary:
        raise LmmError(f"linear mixed model (starting values): {fit.warnings[0]}")
    D = fit.cov_re.to_numpy()
    sigma = float(np.sqrt(fit.scale))
    theta = np.concatenate([fit.params.to_numpy(), [np.log(sigma)], cov_to_chol(D)])
    return MixedFit(
        theta=theta,
        D=D,
        sigma=sigma,
        llf=fit.llf,
        eb_mean=fit.random_effects.to_numpy(),
        eb_cov=fit.random_effects_cov,
        optimum=fit,
    )
