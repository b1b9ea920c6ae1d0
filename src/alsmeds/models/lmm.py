"""Gaussian linear mixed models with a random intercept (and slope) per group, fitted from per-group sums.

The model (Laird and Ware 1982), for group ``i`` with ``n_i`` rows:

``y_i = X_i beta + Z_i b_i + e_i``,  ``b_i ~ N(0, D)``,  ``e_i ~ N(0, sigma^2 I)``,  independent,

with ``X_i`` any fixed-effect design (one row per observation, time-varying columns allowed) and
``Z_i = 1`` (random intercept, ``k = 1``) or ``Z_i = (1, t)`` (random intercept and slope in ``t``,
``k = 2``; ``D`` unstructured).  Estimands: ``beta``, ``D`` and ``sigma^2`` by restricted (REML) or
full maximum likelihood (ML); the best linear unbiased predictors (BLUPs) of the ``b_i`` and their
conditional variances.  Assumptions: normal random effects and errors, errors independent of the
random effects and of each other, rows missing at random.

How it is computed
------------------
As in R ``nlme::lme`` (Pinheiro and Bates 2000, ch. 2) ``beta`` and ``sigma^2`` are profiled out and
the optimiser sees only the relative covariance ``Delta = D / sigma^2 = L L'`` through the
entries of its Cholesky factor, ``theta = (L11, L21, L22)`` (``(L11)`` for ``k = 1``): unconstrained,
``Delta`` positive semi-definite for every value, and a singular ``Delta`` (``L22 = 0``) an ordinary
point where Newton's method converges as anywhere else (``l`` depends on ``L22`` through ``L22^2``, so
its derivative there is zero; nlme's log-Cholesky parameters would run to minus infinity instead).  With
``M_i = I + L' Z_i'Z_i L`` (k x k) and ``W_i = L M_i^-1 L'`` the Woodbury identity and the matrix
determinant lemma give, for ``V_i = sigma^2 (I + Z_i Delta Z_i')``,

``sigma^2 X'V^-1 X = X'X - sum_i X_i'Z_i W_i Z_i'X_i``,   ``log|V_i| = n_i log sigma^2 + log|M_i|``,

and the same for ``X'V^-1 r`` and ``r'V^-1 r``, so one evaluation needs only the per-group sums
``X_i'Z_i``, ``Z_i'Z_i``, ``Z_i'r_i``, ``r_i'r_i`` and the totals ``X'X``, ``X'r`` (:class:`LmmSums`)
and k x k algebra written out in closed form, vectorised over groups: nothing loops over groups or
rows.  ``r = y - X beta0`` are the residuals of a reference ``beta0`` (ordinary least squares), so
that the sums do not lose digits to the level of ``y``; the GLS estimate is ``beta0`` plus the GLS
fit to ``r``, exactly.  With ``A = sigma^2 X'V^-1 X``, ``RSS(theta) = sigma^2 r'V^-1 r - ...`` the
generalised residual sum of squares at the profiled ``beta`` and ``m = N`` (ML) or ``N - p`` (REML):

``l_ML(theta)   = -N/2 (log 2 pi + 1 + log(RSS/N)) - 1/2 sum_i log|M_i|``,
``l_REML(theta) = -(N-p)/2 (log 2 pi + 1 + log(RSS/(N-p))) - 1/2 sum_i log|M_i| - 1/2 log|A|``,

``sigma^2 = RSS / m``.  ``l_REML`` is the restricted log-likelihood in the convention of nlme (and
statsmodels): ``-1/2 log|X'V^-1 X|`` without a ``+1/2 log|X'X|`` term, so it depends on the units of
the fixed-effect columns, as nlme's does.

Gradient and Hessian of ``l(theta)`` are exact (autograd).  The optimiser is Newton's method with
a backtracking line search (eigenvalues of the Hessian made negative where they are not), from
method-of-moments starting values (per-group least-squares lines).
It stops on the **Newton decrement** ``lambda^2 = g'(-H)^-1 g`` (half of it is the gain one more
Newton step would bring; invariant to the parametrisation and to the units of ``y`` and ``t``):
``lambda^2 / 2 <= tol * max(1, |l|)``, the rule of :mod:`alsmeds.models.joint.optimise`; then one
final full Newton step.  ``converged`` also requires the observed information of ``theta`` to be
positive definite beyond rounding.

Boundary
--------
When the maximum lies on the boundary (a random slope whose variance given the intercept is zero:
``D`` singular), Newton's method converges to ``L_jj = 0`` up to the solver's precision.  A diagonal
entry that is zero within the convergence tolerance (``|L_jj| <= sqrt(2 tol max(1, |l|))`` standard
errors, the distance to the maximum that the stopping rule allows) is set to exactly zero, the
other parameters are maximised with it fixed, and the result carries ``on_boundary=True`` and a
warning (:class:`BoundaryWarning`): the estimates are the maximum, ``D`` is singular, and a model
without that random effect is the one to report.

Standard errors of ``beta`` are ``(X'V^-1 X)^-1`` at the estimated variance components (what nlme,
lme4 and SAS PROC MIXED report; they ignore the uncertainty of the variance components).

References
----------
Laird NM, Ware JH. Random-effects models for longitudinal data. Biometrics 1982;38:963-974.
Pinheiro JC, Bates DM. Mixed-Effects Models in S and S-PLUS. Springer, 2000 (ch. 2).
Verbeke G, Molenberghs G. Linear Mixed Models for Longitudinal Data. Springer, 2000.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pandas as pd

from alsmeds.models.base import EstimationResults

LOG_2PI = float(np.log(2 * np.pi))
#: Default tolerance on half the Newton decrement, relative to ``max(1, |loglik|)``.
DEFAULT_TOL = 1e-12
#: The observed information counts as positive definite when its smallest eigenvalue exceeds this
#: multiple of its largest (as in :mod:`alsmeds.models.joint.optimise`).
PD_RTOL = 1e-12


class LmmError(ValueError):
    """The mixed model cannot be fitted to these data; the message says why."""


class BoundaryWarning(UserWarning):
    """The estimated random-effects covariance is singular (the maximum lies on the boundary)."""


@dataclass(frozen=True)
class LmmSums:
    """Per-group sums that the likelihood of a linear mixed model needs (see the module notes).

    Attributes
    ----------
    names : list of str
        Fixed-effect names (columns of ``X``).
    re_names : list of str
        Random-effect names: ``["Intercept"]`` or ``["Intercept", <time>]``.
    groups : ndarray, shape (G,)
        Group labels, in the order of the per-group arrays.
    beta0 : ndarray, shape (p,)
        Reference fixed effects (ordinary least squares); ``r = y - X beta0``.
    XtX : ndarray, shape (p, p)
    Xtr : ndarray, shape (p,)
        ``X'r`` (zero up to rounding for least squares; kept as computed).
    n : ndarray, shape (G,)
        Rows per group.
    ZZ : ndarray, shape (G, k, k)
    XZ : ndarray, shape (G, p, k)
    Zr : ndarray, shape (G, k)
    rr : ndarray, shape (G,)
    """

    names: list[str]
    re_names: list[str]
    groups: np.ndarray
    beta0: np.ndarray
    XtX: np.ndarray
    Xtr: np.ndarray
    n: np.ndarray
    ZZ: np.ndarray
    XZ: np.ndarray
    Zr: np.ndarray
    rr: np.ndarray

    @property
    def n_obs(self) -> int:
        return int(round(float(self.n.sum())))

    @property
    def n_groups(self) -> int:
        return int(self.n.shape[0])

    @property
    def k(self) -> int:
        return int(self.ZZ.shape[1])

    @property
    def p(self) -> int:
        return int(self.XtX.shape[0])

    @classmethod
    def from_visits(
        cls,
        y: np.ndarray | Sequence[float],
        X: np.ndarray | pd.DataFrame,
        groups: np.ndarray | Sequence[Any],
        time: np.ndarray | Sequence[float] | None = None,
        *,
        names: Sequence[str] | None = None,
        time_name: str = "time",
    ) -> LmmSums:
        """Sums from one row per observation.

        Parameters
        ----------
        y : array, shape (N,)
        X : array or DataFrame, shape (N, p)
            Fixed-effect design (an intercept is not added).
        groups : array, shape (N,)
            Group label of each row (any order; groups are sorted by label).
        time : array, shape (N,), optional
            The random slope's variable; None for a random intercept only.
        names : sequence of str, optional
            Fixed-effect names (default: the DataFrame's columns, else ``x0, x1, ...``).
        time_name : str
            Name of the random slope.

        Raises
        ------
        LmmError
            Non-finite values, mismatched lengths, fewer than two groups, no more rows than fixed
            effects, or a rank-deficient ``X``.
        """
        if names is None:
            names = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{j}" for j in range(np.shape(X)[1])]
        Xa = np.asarray(X, dtype=float)
        ya = np.asarray(y, dtype=float)
        if Xa.ndim != 2 or Xa.shape[0] != ya.shape[0] or len(names) != Xa.shape[1]:
            raise LmmError(f"X has shape {Xa.shape}, y {ya.shape}, names {len(names)}: they do not match")
        labels, codes = np.unique(np.asarray(groups), return_inverse=True)
        Z = np.ones((ya.shape[0], 1))
        re_names = ["Intercept"]
        if time is not None:
            Z = np.column_stack([Z, np.asarray(time, dtype=float)])
            re_names.append(time_name)
        if not (np.all(np.isfinite(Xa)) and np.all(np.isfinite(ya)) and np.all(np.isfinite(Z))):
            raise LmmError("missing or non-finite values in y, X or time")
        _check_design(ya.shape[0], labels.shape[0], Xa, names)
        beta0 = np.linalg.lstsq(Xa, ya, rcond=None)[0]
        r = ya - Xa @ beta0
        G, p, k = labels.shape[0], Xa.shape[1], Z.shape[1]

        def gsum(values: np.ndarray) -> np.ndarray:
            return np.bincount(codes, weights=values, minlength=G)

        ZZ = np.empty((G, k, k))
        XZ = np.empty((G, p, k))
        for a in range(k):
            for b in range(a, k):
                ZZ[:, a, b] = ZZ[:, b, a] = gsum(Z[:, a] * Z[:, b])
            for j in range(p):
                XZ[:, j, a] = gsum(Xa[:, j] * Z[:, a])
        return cls(
            names=list(names),
            re_names=re_names,
            groups=labels,
            beta0=beta0,
            XtX=Xa.T @ Xa,
            Xtr=Xa.T @ r,
            n=np.bincount(codes, minlength=G).astype(float),
            ZZ=ZZ,
            XZ=XZ,
            Zr=np.column_stack([gsum(Z[:, a] * r) for a in range(k)]),
            rr=gsum(r * r),
        )


def _check_design(n_obs: int, n_groups: int, X: np.ndarray, names: Sequence[str]) -> None:
    """Raise :class:`LmmError` for data no mixed model can be fitted to (see :meth:`LmmSums.from_visits`)."""
    if n_groups < 2:
        raise LmmError(f"{n_groups} group(s): a mixed model needs at least two")
    if n_obs <= X.shape[1]:
        raise LmmError(f"{n_obs} rows for {X.shape[1]} fixed effects")
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        raise LmmError(f"the fixed-effect design is rank deficient (rank {rank} of {X.shape[1]} columns {list(names)})")


# --------------------------------------------------------------------------- the profiled likelihood


def _cholesky_entries(theta: Any, k: int, zero: tuple[bool, ...]) -> tuple[Any, ...]:
    """Entries of ``L`` (lower triangular) from ``theta``; a diagonal flagged in ``zero`` is exactly 0."""
    l00 = 0.0 if zero[0] else theta[0]
    if k == 1:
        return (l00,)
    return l00, theta[1], 0.0 if zero[1] else theta[2]


def _woodbury(theta: Any, s: LmmSums, zero: tuple[bool, ...]) -> tuple[Any, Any]:
    """``log|M_i|`` and the entries of ``W_i = L M_i^-1 L'`` of every group (closed form, k <= 2)."""
    ZZ = s.ZZ
    if s.k == 1:
        (l00,) = _cholesky_entries(theta, 1, zero)
        m = 1.0 + ZZ[:, 0, 0] * l00**2
        return anp.log(m), (l00**2 / m,)
    l00, l10, l11 = _cholesky_entries(theta, 2, zero)
    a, b, c = ZZ[:, 0, 0], ZZ[:, 0, 1], ZZ[:, 1, 1]
    # B = L' ZZ L; M = I + B; M^-1 = adj(M) / det.
    b00 = a * l00**2 + 2 * b * l00 * l10 + c * l10**2
    b01 = l11 * (b * l00 + c * l10)
    b11 = c * l11**2
    det = (1.0 + b00) * (1.0 + b11) - b01**2
    m00, m01, m11 = (1.0 + b11) / det, -b01 / det, (1.0 + b00) / det
    u = l10 * m00 + l11 * m01
    w00 = l00**2 * m00
    w01 = l00 * u
    w11 = l10 * u + l11 * (l10 * m01 + l11 * m11)
    return anp.log(det), (w00, w01, w11)


def _gls(theta: Any, s: LmmSums, zero: tuple[bool, ...]) -> tuple[Any, Any, Any, Any, tuple[Any, ...]]:
    """``A = sigma^2 X'V^-1 X``, ``c = sigma^2 X'V^-1 r``, ``q = sigma^2 r'V^-1 r``, ``sum log|M_i|``, W."""
    logdet, w = _woodbury(theta, s, zero)
    XZ, Zr = s.XZ, s.Zr
    if s.k == 1:
        (w00,) = w
        x0, z0 = XZ[:, :, 0], Zr[:, 0]
        A = s.XtX - anp.dot((x0 * w00[:, None]).T, x0)
        c = s.Xtr - anp.dot(x0.T, w00 * z0)
        q = anp.sum(s.rr - w00 * z0**2)
    else:
        w00, w01, w11 = w
        x0, x1, z0, z1 = XZ[:, :, 0], XZ[:, :, 1], Zr[:, 0], Zr[:, 1]
        xw0 = x0 * w00[:, None] + x1 * w01[:, None]
        xw1 = x0 * w01[:, None] + x1 * w11[:, None]
        A = s.XtX - anp.dot(xw0.T, x0) - anp.dot(xw1.T, x1)
        c = s.Xtr - anp.dot(x0.T, w00 * z0 + w01 * z1) - anp.dot(x1.T, w01 * z0 + w11 * z1)
        q = anp.sum(s.rr - (w00 * z0**2 + 2 * w01 * z0 * z1 + w11 * z1**2))
    return A, c, q, anp.sum(logdet), w


def profiled_loglik(theta: Any, s: LmmSums, reml: bool, zero: tuple[bool, ...] | None = None) -> Any:
    """Profiled REML or ML log-likelihood of the relative log-Cholesky parameters (module notes).

    Parameters
    ----------
    theta : array
        ``(L11, L21, L22)`` or ``(L11)``: Cholesky factor of ``D / sigma^2 = L L'``.
    s : LmmSums
    reml : bool
    zero : tuple of bool, optional
        Diagonal entries of ``L`` fixed at exactly 0 (boundary); their ``theta`` is ignored.
    """
    zero = zero or (False,) * s.k
    A, c, q, logdet, _ = _gls(theta, s, zero)
    delta = anp.linalg.solve(A, c)
    rss = q - anp.dot(c, delta)
    N = s.n_obs
    if reml:
        m = N - s.p
        _, logdet_a = anp.linalg.slogdet(A)
        return -0.5 * m * (LOG_2PI + 1.0 + anp.log(rss / m)) - 0.5 * logdet - 0.5 * logdet_a
    return -0.5 * N * (LOG_2PI + 1.0 + anp.log(rss / N)) - 0.5 * logdet


# --------------------------------------------------------------------------- starting values


def start_theta(s: LmmSums) -> np.ndarray:
    """Method-of-moments start: per-group least-squares lines of the reference residuals.

    For groups with more rows than random effects and a well-conditioned ``Z_i'Z_i``, the
    per-group coefficients ``u_i = (Z_i'Z_i)^-1 Z_i'r_i`` have covariance ``D + sigma^2 mean (Z_i'Z_i)^-1``
    and the within-group residual variance estimates ``sigma^2``; ``D`` is their difference, made
    positive definite.  Without such groups: ``D / sigma^2`` = identity scaled to the data.
    """
    k, n = s.k, s.n
    scale_t = np.ones(k)
    if k == 2:
        scale_t[1] = max(float(s.ZZ[:, 1, 1].sum() / n.sum()), 1e-300)  # mean t^2
    det = np.linalg.det(s.ZZ)
    trace = np.einsum("gii->g", s.ZZ)
    ok = (n > k) & (det > 1e-8 * trace**k)
    if ok.sum() > k + 1:
        ZZi = np.linalg.inv(s.ZZ[ok])
        u = np.einsum("gab,gb->ga", ZZi, s.Zr[ok])
        within = s.rr[ok] - np.einsum("ga,ga->g", u, s.Zr[ok])
        sigma2 = float(within.sum() / (n[ok] - k).sum())
        total = float(s.rr.sum() / n.sum())
        if not sigma2 > 1e-6 * total:
            sigma2 = 0.5 * total
        D = np.atleast_2d(np.cov(u.T)) - sigma2 * ZZi.mean(axis=0)
        floor = 1e-2 * sigma2 / scale_t
        D = D if np.linalg.eigvalsh(D).min() > 0 else np.diag(np.maximum(np.diag(D), floor))
        D = D + np.diag(floor)
        delta = D / sigma2
    else:
        delta = np.diag(1.0 / scale_t)
    return relative_theta(delta, 1.0)


# --------------------------------------------------------------------------- the optimiser


@dataclass(frozen=True)
class LmmOptimum:
    """Outcome of :func:`maximise_profiled` (``converged`` and ``message`` as in the joint model's optimiser)."""

    theta: np.ndarray
    llf: float
    gradient: np.ndarray
    hessian: np.ndarray
    decrement: float
    min_eigenvalue: float
    iterations: int
    zero: tuple[bool, ...]
    converged: bool
    message: str


def _diag_index(k: int) -> list[int]:
    """Positions in ``theta`` of the diagonal of ``L``."""
    return [0] if k == 1 else [0, 2]


def _free(k: int, zero: tuple[bool, ...]) -> np.ndarray:
    """Positions of ``theta`` still estimated (a zero intercept diagonal also fixes ``L21``: unidentified)."""
    fixed = {i for i, z in zip(_diag_index(k), zero, strict=True) if z}
    if k == 2 and zero[0]:
        fixed.add(1)
    return np.array([j for j in range(1 if k == 1 else 3) if j not in fixed], dtype=int)


def maximise_profiled(s: LmmSums, reml: bool, *, tol: float = DEFAULT_TOL, maxiter: int = 100) -> LmmOptimum:
    """Newton's method on :func:`profiled_loglik` (see the module notes for the rules)."""
    theta = start_theta(s)
    zero = (False,) * s.k
    fun = profiled_loglik
    grad = autograd.grad(fun)
    hess = autograd.hessian(fun)

    def value(th: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            v = float(fun(th, s, reml, zero))
        return v if np.isfinite(v) else -np.inf

    f = value(theta)
    if not np.isfinite(f):
        raise LmmError("the log-likelihood is not finite at the starting values")
    iterations, final = 0, False
    g_free = H_free = np.zeros(0)
    dec, min_eig = np.nan, np.nan
    while True:
        free = _free(s.k, zero)
        g = np.asarray(grad(theta, s, reml, zero), dtype=float)
        H = np.asarray(hess(theta, s, reml, zero), dtype=float)
        H = (H + H.T) / 2
        g_free, H_free = g[free], H[np.ix_(free, free)]
        info = -H_free
        eig, vec = np.linalg.eigh(info) if free.size else (np.zeros(0), np.zeros((0, 0)))
        pd_ok = bool(free.size == 0 or eig.min() > PD_RTOL * max(float(np.abs(eig).max()), 1e-300))
        min_eig = float(eig.min()) if free.size else np.inf
        dec = float(g_free @ np.linalg.solve(info, g_free)) if pd_ok and free.size else (0.0 if pd_ok else np.nan)
        small = pd_ok and dec / 2 <= tol * max(1.0, abs(f))
        if final or iterations >= maxiter:
            break
        # A diagonal entry of L that is zero within the convergence tolerance: the boundary.
        if small and free.size:
            se = np.sqrt(np.diag(np.linalg.inv(info)))
            reach = np.sqrt(2 * tol * max(1.0, abs(f)))
            hit = False
            for pos, (i, z) in enumerate(zip(_diag_index(s.k), zero, strict=True)):
                j = np.flatnonzero(free == i)
                if not z and j.size and abs(theta[i]) <= reach * se[j[0]]:
                    zero, hit = tuple(True if q == pos else zz for q, zz in enumerate(zero)), True
                    theta[i] = 0.0
                    if s.k == 2 and i == 0:  # no intercept variance: the slope's variance is L21^2 + L22^2
                        theta[1:] = [0.0, np.hypot(theta[1], 0.0 if zero[1] else theta[2])]
            if hit:
                f = value(theta)
                continue
        if free.size == 0:
            break
        if small:
            final = True  # one last full Newton step, kept unless the log-likelihood falls beyond rounding
            step = np.linalg.solve(info, g_free)
            trial = theta.copy()
            trial[free] += step
            ft = value(trial)
            if ft >= f - 1e-12 * max(1.0, abs(f)):
                theta, f = trial, ft
            iterations += 1
            continue
        # Eigenvalue-modified Newton direction with backtracking (Armijo).
        floor = max(float(np.abs(eig).max()) * 1e-8, 1e-300)
        step = vec @ ((vec.T @ g_free) / np.maximum(np.abs(eig), floor))
        slope = float(g_free @ step)
        t = 1.0
        while t > 1e-10:
            trial = theta.copy()
            trial[free] += t * step
            ft = value(trial)
            if ft >= f + 1e-4 * t * slope or (ft >= f and t < 1e-3):
                break
            t /= 2
        else:
            break  # no ascent possible along the Newton direction: rounding level
        theta, f = trial, ft
        iterations += 1
    converged = bool(np.isfinite(dec) and dec / 2 <= tol * max(1.0, abs(f)))
    limit = f" after {iterations} iterations (maxiter)" if iterations >= maxiter else ""
    if converged:
        message = "converged: Newton decrement within tolerance, observed information positive definite"
    elif not np.isfinite(dec):
        message = (
            f"NOT converged{limit}: the observed information of the variance parameters is not positive definite "
            f"(smallest eigenvalue {min_eig:.3g}): the variance components may not be identified by these data"
        )
    else:
        message = (
            f"NOT converged{limit}: half the Newton decrement is {dec / 2:.3g} (tolerance {tol:g} x max(1, |llf|))"
        )
    theta = theta.copy()  # the sign of a column of L is arbitrary: diagonal made non-negative
    if theta[0] < 0:
        theta[:2] = -theta[:2]
    if s.k == 2 and theta[2] < 0:
        theta[2] = -theta[2]
    full_g = np.zeros_like(theta)
    full_g[_free(s.k, zero)] = g_free
    return LmmOptimum(
        theta=theta,
        llf=f,
        gradient=full_g,
        hessian=H_free,
        decrement=dec,
        min_eigenvalue=min_eig,
        iterations=iterations,
        zero=zero,
        converged=converged,
        message=message,
    )


# --------------------------------------------------------------------------- results


class LinearMixedResults(EstimationResults):
    """Statistics every fitted linear mixed model shares (this module's :class:`LmmResult` and the study's
    :class:`alsmeds.models.mixed.AlsfrsMixedResult`).

    Subclasses provide ``params``, ``cov`` (``(X'V^-1 X)^-1``), ``cov_re`` (``D``), ``scale``
    (``sigma^2``), ``llf``, ``n_groups`` and ``reml``.
    """

    @property
    def bse(self) -> pd.Series:
        """Model-based standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(np.asarray(self.cov))), index=self.params.index)

    @property
    def method(self) -> str:
        return "REML" if self.reml else "ML"

    @property
    def n_params(self) -> int:
        """Fixed effects + random-effect (co)variances + residual variance."""
        k = self.cov_re.shape[0]
        return len(self.params) + k * (k + 1) // 2 + 1

    @property
    def aic(self) -> float:
        """``-2 llf + 2 n_params`` (with REML, compare only models with the same fixed effects)."""
        return -2 * self.llf + 2 * self.n_params

    @property
    def bic(self) -> float:
        """``-2 llf + log(n_groups) n_params`` (groups, here patients, as the sample size)."""
        return -2 * self.llf + np.log(self.n_groups) * self.n_params

    def variance_components(self) -> pd.Series:
        """Random-effect SDs, their correlation (k = 2; NaN when an SD is zero) and the residual SD."""
        D = self.cov_re.to_numpy()
        out = {"intercept_sd": float(np.sqrt(D[0, 0]))}
        if D.shape[0] == 2:
            out["slope_sd"] = float(np.sqrt(D[1, 1]))
            out["correlation"] = float(D[0, 1] / np.sqrt(D[0, 0] * D[1, 1])) if D[0, 0] * D[1, 1] > 0 else np.nan
        out["residual_sd"] = float(np.sqrt(self.scale))
        return pd.Series(out)


@dataclass
class LmmResult(LinearMixedResults):
    """A fitted linear mixed model (:func:`fit_lmm`), in the vocabulary of :mod:`alsmeds.models.base`.

    Attributes
    ----------
    params : Series
        Fixed effects ``beta``.
    cov : DataFrame
        ``(X'V^-1 X)^-1`` at the estimated variance components (also ``cov_params()``).
    cov_re : DataFrame
        ``D``, the covariance of the random effects.
    scale : float
        ``sigma^2`` (REML: ``RSS / (N - p)``; ML: ``RSS / N``).
    llf : float
        REML or ML log-likelihood (nlme's convention).
    reml : bool
    n_obs, n_groups : int
    theta : ndarray
        Cholesky entries of ``D / sigma^2`` at the estimate (``(L11, L21, L22)`` or ``(L11)``; diagonal >= 0).
    random_effects : DataFrame
        BLUPs of ``b_i`` (index: group labels, sorted; columns: random-effect names).
    random_effects_cov : ndarray, shape (G, k, k)
        Conditional covariances ``Var(b_i | y_i) = (D^-1 + Z_i'Z_i / sigma^2)^-1 = sigma^2 W_i`` at the
        estimates (``beta`` taken as known).
    converged : bool
    on_boundary : bool
        ``D`` is singular at the estimate (see the module notes).
    message : str
    iterations : int
    warnings : list of str
    """

    params: pd.Series
    cov: pd.DataFrame
    cov_re: pd.DataFrame
    scale: float
    llf: float
    reml: bool
    n_obs: int
    n_groups: int
    theta: np.ndarray
    random_effects: pd.DataFrame
    random_effects_cov: np.ndarray = field(repr=False)
    converged: bool
    on_boundary: bool
    message: str
    iterations: int
    warnings: list[str] = field(default_factory=list)

    def _describe(self) -> str:
        re_text = "random intercept and slope" if self.cov_re.shape[0] == 2 else "random intercept"
        state = "converged" if self.converged else "NOT converged"
        edge = ", D singular (boundary)" if self.on_boundary else ""
        return (
            f"Linear mixed model ({self.method}, {re_text}; {self.n_obs} rows, {self.n_groups} groups; "
            f"log-likelihood {self.llf:.3f}; {state}{edge})"
        )


def relative_theta(D: np.ndarray, sigma2: float) -> np.ndarray:
    """The parameters ``theta`` (Cholesky entries of ``D / sigma^2``) of a positive-definite ``D`` and ``sigma^2``."""
    L = np.linalg.cholesky(np.atleast_2d(np.asarray(D, dtype=float)) / float(sigma2))
    if L.shape[0] == 1:
        return np.array([L[0, 0]])
    return np.array([L[0, 0], L[1, 0], L[1, 1]])


def fit_lmm(sums: LmmSums, *, reml: bool = True, tol: float = DEFAULT_TOL, maxiter: int = 100) -> LmmResult:
    """Fit a linear mixed model by REML or ML from its per-group sums.

    Parameters
    ----------
    sums : LmmSums
        From :meth:`LmmSums.from_visits` (or built directly from per-group sums).
    reml : bool
        Restricted maximum likelihood (default) or maximum likelihood.
    tol : float
        Stop when half the Newton decrement is at most ``tol * max(1, |loglik|)``.
    maxiter : int
        Newton iterations.

    Returns
    -------
    LmmResult
        A fit that did not converge (variance components not identified, iteration limit) is
        returned with ``converged=False`` and the reason in ``message`` and ``warnings``; a maximum on
        the boundary with ``on_boundary=True``, the reason in ``warnings`` and a :class:`BoundaryWarning`.

    Raises
    ------
    LmmError
        Too few groups or rows; every group with no more rows than random effects, all at the same
        times (variances not identified); a log-likelihood that is not finite at the start.
    """
    s = sums
    if s.n_groups < 2:
        raise LmmError(f"{s.n_groups} group(s): a mixed model needs at least two")
    n_var = s.k * (s.k + 1) // 2 + 1
    if s.n_obs <= s.p + n_var - 1:
        raise LmmError(f"{s.n_obs} rows for {s.p} fixed effects and {n_var} variance parameters")
    if np.all(s.n <= s.k) and np.allclose(s.ZZ, s.ZZ[:1], rtol=1e-12, atol=0):
        raise LmmError(
            f"every group has at most {s.k} rows, at the same {' and '.join(s.re_names)}: the residual and the "
            "random-effect variances are not separately identified"
        )
    opt = maximise_profiled(s, reml, tol=tol, maxiter=maxiter)
    notes = []
    if any(opt.zero):
        which = "intercept" if opt.zero[0] else f"{s.re_names[1]} slope given the intercept"
        text = (
            f"the random-effects covariance is singular at the estimate (variance of the {which} is zero): "
            "the maximum lies on the boundary; consider a model without that random effect"
        )
        warnings.warn(text, BoundaryWarning, stacklevel=2)
        notes.append(text)
    if not opt.converged:
        notes.append(opt.message)
    return lmm_at(
        s,
        opt.theta,
        reml=reml,
        zero=opt.zero,
        converged=opt.converged,
        message=opt.message,
        iterations=opt.iterations,
        notes=notes,
    )


def lmm_at(
    sums: LmmSums,
    theta: np.ndarray,
    *,
    reml: bool = True,
    zero: tuple[bool, ...] | None = None,
    converged: bool = False,
    message: str = "evaluated at the given variance parameters (not maximised)",
    iterations: int = 0,
    notes: Sequence[str] = (),
) -> LmmResult:
    """The model's estimates at given relative variance parameters ``theta`` (``beta``, ``sigma^2`` profiled).

    :func:`fit_lmm` calls it at the maximum; at another program's ``theta`` (:func:`relative_theta`)
    it gives the fixed effects, standard errors, ``sigma^2``, log-likelihood and BLUPs that program
    should report there.
    """
    s = sums
    zero = zero or (False,) * s.k
    theta = np.asarray(theta, dtype=float)
    A, c, q, _, w = _gls(theta, s, zero)
    delta = np.linalg.solve(A, c)
    rss = float(q - c @ delta)
    sigma2 = rss / (s.n_obs - s.p if reml else s.n_obs)
    entries = [float(e) for e in _cholesky_entries(theta, s.k, zero)]
    L = np.array([[entries[0]]]) if s.k == 1 else np.array([[entries[0], 0.0], [entries[1], entries[2]]])
    W = np.empty((s.n_groups, s.k, s.k))
    if s.k == 1:
        W[:, 0, 0] = w[0]
    else:
        W[:, 0, 0], W[:, 0, 1], W[:, 1, 0], W[:, 1, 1] = w[0], w[1], w[1], w[2]
    resid = s.Zr - np.einsum("gpa,p->ga", s.XZ, delta)  # Z_i'(y_i - X_i beta)
    blup = np.einsum("gab,gb->ga", W, resid)
    return LmmResult(
        params=pd.Series(s.beta0 + delta, index=s.names),
        cov=pd.DataFrame(sigma2 * np.linalg.inv(A), index=s.names, columns=s.names),
        cov_re=pd.DataFrame(sigma2 * (L @ L.T), index=s.re_names, columns=s.re_names),
        scale=sigma2,
        llf=float(profiled_loglik(theta, s, reml, zero)),
        reml=reml,
        n_obs=s.n_obs,
        n_groups=s.n_groups,
        theta=theta,
        random_effects=pd.DataFrame(blup, index=pd.Index(s.groups, name="group"), columns=s.re_names),
        random_effects_cov=sigma2 * W,
        converged=converged,
        on_boundary=any(zero),
        message=message,
        iterations=iterations,
        warnings=list(notes),
    )
