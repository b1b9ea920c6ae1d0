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
from scipy import stats


class ClogitError(ValueError):
    """The data do not fit the one-case-per-set conditional logistic model."""


@dataclass(frozen=True)
class ClogitResult:
    """A fitted conditional logistic regression.

    Attributes
    ----------
    params, bse : pandas.Series
        Log odds ratios and their model-based standard errors (inverse observed
        information).
    cov : pandas.DataFrame
        Covariance matrix of ``params``.
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

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficients with odds ratios, Wald CIs and p-values, one row per term."""
        z = stats.norm.ppf(1 - alpha / 2)
        out = pd.DataFrame({"coef": self.params, "se": self.bse})
        out["z"] = out["coef"] / out["se"]
        out["p"] = 2 * stats.norm.sf(np.abs(out["z"]))
        out["or"] = np.exp(out["coef"])
        out["or_lower"] = np.exp(out["coef"] - z * out["se"])
        out["or_upper"] = np.exp(out["coef"] + z * out["se"])
        return out

    def summary(self, alpha: float = 0.05) -> str:
        """A plain-text table of odds ratios (stable text: no dates or timings)."""
        frame = self.to_frame(alpha).round(3)
        head = (
            f"Conditional logistic regression: {self.n_obs} rows, {self.n_sets} matched sets "
            f"({self.n_informative_sets} informative), log-likelihood {self.loglik:.3f}"
        )
        return head + "\n" + frame.to_string()


def _sorted_groups(strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(strata, kind="stable")
    s = strata[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return order, starts


def fit_clogit(
    X: np.ndarray | pd.DataFrame,
    case: np.ndarray | pd.Series,
    strata: np.ndarray | pd.Series,
    names: Sequence[str] | None = None,
    *,
    tol: float = 1e-10,
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
        Convergence when the Newton decrement falls below ``tol``.
    max_iter : int

    Returns
    -------
    ClogitResult

    Raises
    ------
    ClogitError
        When a set does not have exactly one case, or the information matrix is
        singular (a covariate constant within every set, or perfect separation).

    Notes
    -----
    Estimand: the log odds ratio conditional on the matched set, i.e. under
    incidence-density sampling the log hazard ratio of the covariate, assuming the
    covariates act multiplicatively and identically across sets.
    """
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
        X = X.to_numpy(dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, p = X.shape
    names = list(names) if names is not None else [f"x{i}" for i in range(p)]
    y = np.asarray(case).astype(bool)
    strata = np.asarray(strata)
    if y.shape[0] != n or strata.shape[0] != n:
        raise ClogitError("X, case and strata must have the same number of rows")
    if not np.isfinite(X).all():
        raise ClogitError("covariates contain missing or infinite values")

    order, starts = _sorted_groups(strata)
    Xs, ys = X[order], y[order]
    cases_per_set = np.add.reduceat(ys.astype(np.int64), starts)
    if (cases_per_set != 1).any():
        bad = int((cases_per_set != 1).sum())
        raise ClogitError(f"{bad} matched set(s) do not have exactly one case")
    sizes = np.diff(np.r_[starts, n])
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

    beta = np.zeros(p)
    loglik, grad, info = evaluate(beta)
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as exc:
            raise ClogitError("information matrix is singular (a covariate may not vary within any set)") from exc
        decrement = float(grad @ step)
        t = 1.0
        while True:
            new_beta = beta + t * step
            new_loglik, new_grad, new_info = evaluate(new_beta)
            if new_loglik >= loglik - 1e-12 or t < 1e-8:
                break
            t /= 2
        beta, loglik, grad, info = new_beta, new_loglik, new_grad, new_info
        if decrement < tol:
            converged = True
            break
    if np.linalg.matrix_rank(info) < p:
        raise ClogitError("information matrix is singular (a covariate may not vary within any set)")
    cov = np.linalg.inv(info)
    if not converged or np.abs(beta).max() > 25:
        # Divergent coefficients are the signature of separation.
        raise ClogitError("did not converge: a covariate may perfectly separate cases from controls")
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
