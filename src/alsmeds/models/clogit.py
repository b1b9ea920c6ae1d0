"""Conditional logistic regression for matched sets with one case each.

With exactly one case per matched set the conditional likelihood of a set is a
softmax over its members,

    L_s(beta) = exp(x_case' beta) / sum_{j in s} exp(x_j' beta),

which is also the Cox partial likelihood of a stratified model with a common event
time (exact, Breslow and Efron coincide).  The estimator below maximises it by
Newton-Raphson with step halving, vectorised over sets with ``np.add.reduceat`` on
rows sorted by set.  statsmodels ``ConditionalLogit`` fits the same model (and
is the reference in the tests), but at paper scale it takes seconds per fit and
minutes at the simulation scales the truth computation needs; this solver takes
milliseconds to a second (see ``benchmarks/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import cho_solve, cholesky

from alsmeds.models.base import EstimationResults
from alsmeds.models.identifiability import non_identifiable_terms


class ClogitError(ValueError):
    """The data do not fit the one-case-per-set conditional logistic model."""


@dataclass(frozen=True)
class ClogitResult(EstimationResults):
    """A fitted conditional logistic regression, in the vocabulary of :mod:`alsmeds.models.base`.

    ``cov_params()``, ``conf_int()``, ``pvalues``, ``wald_table()`` (with
    ``odds_ratio``, ``odds_ratio_lower``, ``odds_ratio_upper``), ``to_frame()`` (the
    same table), ``linear_combination()`` and ``summary()`` come from
    :class:`~alsmeds.models.base.EstimationResults`.

    Attributes
    ----------
    params, bse : pandas.Series
        Log odds ratios and their model-based standard errors (inverse observed
        information).
    cov : pandas.DataFrame
        Covariance matrix of ``params`` (also ``cov_params()``).
    loglik : float
        Conditional log-likelihood at the estimate.
    n_obs, n_sets, n_informative_sets : int
        Rows, matched sets, and sets with at least one control.
    converged : bool
    iterations : int
    """

    params: pd.Series
    bse: pd.Series
    cov: pd.DataFrame
    loglik: float
    n_obs: int
    n_sets: int
    n_informative_sets: int
    converged: bool
    iterations: int

    ratio_name = "odds_ratio"

    def _describe(self) -> str:
        return (
            f"Conditional logistic regression: {self.n_obs} rows, {self.n_sets} matched sets "
            f"({self.n_informative_sets} informative), log-likelihood {self.loglik:.3f}"
        )


def _sorted_groups(strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(strata, kind="stable")
    s = strata[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return order, starts


#: Relative size below which a (scaled) squared residual or eigenvalue counts as zero.
#: The matrices involved are sums of 1e3-1e6 terms accurate to about 1e-13 relative, so
#: 1e-10 separates true rank loss from rounding noise with a wide margin.
RANK_RTOL = 1e-10
#: Newton iterations stop once the Newton decrement ``g' I^-1 g`` (the squared distance to
#: the optimum in standard-error units) is below this; one more full Newton step is then
#: taken, which by quadratic convergence lands at rounding level from the optimum.
DECREMENT_TOL = 1e-12
#: Divergence guard of the solver: a fit whose coefficient exceeds this in absolute value is refused
#: (:class:`ClogitError`).  Under separation the Newton iterates run to 30 and beyond before the
#: decrement tolerance stops them, so 25 catches every diverged fit.  It is deliberately looser
#: than the reporting rule :data:`alsmeds.models.base.MAX_ABS_LOG_RATIO` (10), for two reasons: the
#: solver serves any covariate in any unit (a coefficient per small unit may be large), and a fit
#: with one separated exposure between the two limits is returned so that the caller reports that
#: term alone as not estimable (:mod:`alsmeds.models.risk`) rather than every term of the model.
DIVERGED_ABS_COEF = 25.0


class NotIdentifiableError(ClogitError):
    """Some covariates carry no information about their coefficient in these matched sets.

    Attributes
    ----------
    reasons : dict of str to str
        Covariate -> why it cannot be estimated (see :func:`alsmeds.models.identifiability.non_identifiable_terms`).
    """

    def __init__(self, reasons: dict[str, str]) -> None:
        self.reasons = dict(reasons)
        listed = "; ".join(f"{name} ({why})" for name, why in self.reasons.items())
        super().__init__(f"information matrix is singular: not identifiable: {listed}")


def _as_matrix(X: np.ndarray | pd.DataFrame, names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
        X = X.to_numpy(dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    names = list(names) if names is not None else [f"x{i}" for i in range(X.shape[1])]
    return X, names


def fit_clogit(
    X: np.ndarray | pd.DataFrame,
    case: np.ndarray | pd.Series,
    strata: np.ndarray | pd.Series,
    names: Sequence[str] | None = None,
    *,
    tol: float = DECREMENT_TOL,
    max_iter: int = 100,
) -> ClogitResult:
    """Fit a conditional logistic regression with one case per matched set.

    Parameters
    ----------
    X : array-like, shape (n, p)
        Covariates.  No intercept: it cancels within sets.
    case : array-like of 0/1, shape (n,)
        1 for the case of each set.
    strata : array-like, shape (n,)
        Matched-set identifier.
    names : sequence of str, optional
        Covariate names (taken from ``X.columns`` for a DataFrame).
    tol : float
        Convergence when the Newton decrement (squared distance to the optimum in
        standard-error units) falls below ``tol``; a final full Newton step follows.
    max_iter : int

    Returns
    -------
    ClogitResult

    Raises
    ------
    NotIdentifiableError
        Before fitting, when a covariate does not vary within any informative set or is
        aliased with others
        (:func:`alsmeds.models.identifiability.non_identifiable_terms` names them).
    ClogitError
        When a set does not have exactly one case, the covariates are not finite, or the
        fit diverges (perfect or quasi-separation).

    Notes
    -----
    Estimand: the log odds ratio conditional on the matched set, i.e. under
    incidence-density sampling the log hazard ratio of the covariate, assuming the
    covariates act multiplicatively and identically across sets.

    Convergence does not depend on rounding: a step is accepted by an Armijo test whose
    allowance is relative to the size of the log-likelihood (its rounding noise), not an
    absolute constant, and iterations stop on the scale-free Newton decrement.  So the
    estimate lands within rounding of the optimum whatever the BLAS kernel or thread
    count; it is the same to about 1e-12 relative on any machine.
    """
    X, names = _as_matrix(X, names)
    n, p = X.shape
    y = np.asarray(case).astype(bool)
    strata = np.asarray(strata)
    if y.shape[0] != n or strata.shape[0] != n:
        raise ClogitError("X, case and strata must have the same number of rows")
    if not np.isfinite(X).all():
        raise ClogitError("covariates contain missing or infinite values")

    order, starts = _sorted_groups(strata)
    Xs, ys = X[order], y[order]
    cases_per_set = np.add.reduceat(ys.astype(np.int64), starts) if n else np.zeros(0, dtype=np.int64)
    if (cases_per_set != 1).any():
        bad = int((cases_per_set != 1).sum())
        raise ClogitError(f"{bad} matched set(s) do not have exactly one case")
    sizes = np.diff(np.r_[starts, n])
    if not (sizes > 1).any():
        raise ClogitError("no matched set has a control: nothing to compare")
    unidentified = non_identifiable_terms(X, strata, names=names, within="matched set")
    if unidentified:
        raise NotIdentifiableError(unidentified)
    group = np.repeat(np.arange(starts.size), sizes)
    x_case_sum = Xs[ys].sum(axis=0)

    def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = Xs @ beta
        m = np.maximum.reduceat(eta, starts)
        w = np.exp(eta - m[group])
        denom = np.add.reduceat(w, starts)
        loglik = float(eta[ys].sum() - (np.log(denom) + m).sum())
        prob = w / denom[group]
        xbar = np.add.reduceat(Xs * prob[:, None], starts)
        grad = x_case_sum - xbar.sum(axis=0)
        info = (Xs * prob[:, None]).T @ Xs - xbar.T @ xbar
        return loglik, grad, info

    def newton_step(grad: np.ndarray, info: np.ndarray) -> np.ndarray:
        try:
            factor = cholesky(info, lower=True, check_finite=False)
        except np.linalg.LinAlgError as exc:
            raise ClogitError("information matrix is not positive definite: a covariate may separate cases") from exc
        return cho_solve((factor, True), grad, check_finite=False)

    beta = np.zeros(p)
    loglik, grad, info = evaluate(beta)
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        step = newton_step(grad, info)
        decrement = float(grad @ step)
        if decrement < tol:
            # Quadratic convergence: one more full step lands at rounding level.
            beta = beta + step
            loglik, grad, info = evaluate(beta)
            converged = True
            break
        # Armijo backtracking.  The allowance for rounding is relative to the size of the
        # log-likelihood (sums of ~n terms), so it never decides between two good steps.
        noise = 1e3 * np.finfo(float).eps * max(1.0, abs(loglik))
        t = 1.0
        while True:
            new_beta = beta + t * step
            new_loglik, new_grad, new_info = evaluate(new_beta)
            if new_loglik >= loglik + 1e-4 * t * decrement - noise or t < 1e-10:
                break
            t /= 2
        beta, loglik, grad, info = new_beta, new_loglik, new_grad, new_info
    if not converged or np.abs(beta).max() > DIVERGED_ABS_COEF:
        # Divergent coefficients are the signature of separation.
        raise ClogitError("did not converge: a covariate may perfectly separate cases from controls")
    # Near-separation leaves an information matrix that is positive definite in name only.
    scale = np.sqrt(np.diag(info))
    eigen = np.linalg.eigvalsh(info / np.outer(scale, scale)) if np.all(scale > 0) else np.zeros(1)
    if eigen.min() <= RANK_RTOL * max(eigen.max(), 1.0):
        raise ClogitError("information matrix is numerically singular at the estimate (quasi-separation)")
    cov = cho_solve((cholesky(info, lower=True, check_finite=False), True), np.eye(p), check_finite=False)
    cov = (cov + cov.T) / 2
    params = pd.Series(beta, index=names)
    bse = pd.Series(np.sqrt(np.diag(cov)), index=names)
    return ClogitResult(
        params=params,
        bse=bse,
        cov=pd.DataFrame(cov, index=names, columns=names),
        loglik=loglik,
        n_obs=n,
        n_sets=int(starts.size),
        n_informative_sets=int((sizes > 1).sum()),
        converged=converged,
        iterations=iterations,
    )
