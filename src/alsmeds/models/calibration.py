"""Empirical calibration of observational estimates with negative and positive controls.

After Schuemie et al. (2014), *Interpreting observational studies: why empirical calibration is needed to
correct p-values*, Stat Med 33:209-218, and Schuemie et al. (2018), *Empirical confidence interval
calibration for population-level effect estimation studies in observational healthcare data*, PNAS
115:2571-2577, as OHDSI's R package EmpiricalCalibration (version 3.1.4) implements them; this is our own
implementation of the same estimators, checked against the package in ``tests/test_calibration.py``.

**Estimands.**  A control's estimate ``log_rr_i`` (with standard error ``se_i``) of a true log relative risk
``x_i`` is taken as ``x_i`` plus a systematic error plus sampling error ``N(0, se_i^2)``.

* The *empirical null* (:func:`fit_null`) is the distribution of the systematic error at no effect,
  ``N(mu, tau^2)``, estimated from negative controls (``x_i = 0``) by maximum likelihood under
  ``log_rr_i ~ N(mu, tau^2 + se_i^2)``.
* A *calibrated p-value* (:func:`calibrate_p`) is the probability, under that null, of an estimate at least
  as far from ``mu`` as the one observed: ``2 Phi(-|log_rr - mu| / sqrt(tau^2 + se^2))``.
* The *systematic error model* (:func:`fit_systematic_error_model`) lets the error depend on the true
  effect: the estimate of a control with true log effect ``x`` has mean ``a + b x`` and systematic-error SD
  ``c + d |x|`` (the package's default) or ``exp(c + d x)`` (the 2018 paper's form, the package's
  ``legacy = TRUE``), fitted by maximum likelihood on negative *and* positive controls.  The *calibrated
  confidence interval* (:func:`calibrate_ci`) is the set of true log effects ``x`` at which the observed
  estimate is not rejected at level ``alpha``: ``|log_rr - (a + b x)| / sqrt(sd(x)^2 + se^2) <= z``; the
  calibrated estimate solves ``a + b x = log_rr``.
* The *expected absolute systematic error* (:func:`expected_absolute_systematic_error`, EASE) is
  ``E|e|`` for ``e ~ N(mu, tau^2)``, one summary of a null; OHDSI takes EASE <= 0.25 as acceptable
  (:data:`EASE_THRESHOLD`).

**The assumption.**  Calibration is only as good as the controls: the systematic errors of the controls'
estimates must be exchangeable with the (unknown) systematic error of the study's estimate, i.e. the study's
estimate draws its error from the same distribution (the same design, data, confounding and measurement
error).  A calibrated p-value or interval says nothing about biases the controls do not share.

**How the package computes them, and where we differ.**

* ``fitNull`` maximises the likelihood over ``(mu, precision = 1 / tau^2)`` with R's Nelder-Mead from
  ``(0, 1)`` at optim's default tolerance (``reltol = 1e-8``), with no prior or penalty; below
  ``tau = 1e-6`` its likelihood drops ``tau`` (``N(mu, se_i^2)``).  It first removes estimates with a
  missing or infinite log RR or SE and those with ``|log RR| > log(100)``.  Nelder-Mead stops about 1e-4
  (relative) short of the maximum, and at a null without systematic error (maximum at ``tau = 0``) it stops
  at some small ``tau`` (the precision cannot reach infinity).  :func:`fit_null` maximises the same
  likelihood exactly over ``tau >= 0`` (a one-dimensional profile likelihood, ``mu`` in closed form), so
  ``tau = 0`` is a possible answer, reported with :attr:`EmpiricalNull.at_boundary`.  It removes the same
  estimates.  The package gives no standard errors for ``fitNull``; we add the observed-information
  covariance of ``(mu, tau)`` and profile-likelihood intervals (:meth:`EmpiricalNull.profile_ci`).
* ``fitMcmcNull`` puts a gamma(shape 1e-4, rate 1e-4) prior on the precision, starts a random-walk
  Metropolis chain at the posterior mode, and reports the median and 2.5% and 97.5% quantiles of the
  calibrated p-value over the chain.  We implement no MCMC: ``fit_null(..., precision_prior=(1e-4, 1e-4))``
  gives the posterior mode (the deterministic start of the package's chain), and
  :func:`calibrate_p_interval` the analytical counterpart of the p-value's interval (the delta method on
  the calibrated z statistic, with the covariance of ``(mu, tau)``).
* ``fitSystematicErrorModel`` uses BFGS with finite-difference gradients (optim's defaults) and
  ``calibrateConfidenceInterval`` uses ``uniroot`` at its default tolerance (1.2e-4); we maximise the
  likelihood exactly (the mean parameters in closed form by weighted least squares, a Nelder-Mead search
  over the two SD parameters, then Newton steps with the analytical Hessian) and find the interval limits to
  machine precision with Brent's method in the package's brackets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alsmeds.models.base import EstimationResults, z_quantile

#: The package removes control estimates with |log RR| above log(100) before fitting a null.
MAX_ABS_LOG_RR = math.log(100.0)
#: OHDSI's threshold of an acceptable expected absolute systematic error (a study passes at EASE <= 0.25).
EASE_THRESHOLD = 0.25
#: The package's search interval of calibrated confidence limits (log scale).
CI_SEARCH_LIMIT = 100.0
#: The gamma(shape, rate) prior on the null's precision of the package's MCMC (``fitMcmcNull``).
MCMC_PRECISION_PRIOR = (1e-4, 1e-4)

SdForm = Literal["linear", "log_linear"]
ArrayLike = Sequence[float] | np.ndarray | pd.Series


#: Fewest estimable negative controls an empirical null is fitted to (the study and the lesson).
MIN_NEGATIVE_CONTROLS = 5


def _as_array(values: ArrayLike | float, name: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return array


def _usable_controls(
    log_rr: ArrayLike, se: ArrayLike, exclude_extreme: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The controls the package keeps: finite log RR and SE and, for a null, ``|log RR| <= log(100)``."""
    y, s = _as_array(log_rr, "log_rr"), _as_array(se, "se")
    if y.shape != s.shape:
        raise ValueError(f"log_rr and se differ in length ({y.size} and {s.size})")
    keep = np.isfinite(y) & np.isfinite(s)
    if exclude_extreme:
        keep &= np.abs(np.where(np.isfinite(y), y, 0.0)) <= MAX_ABS_LOG_RR
    if np.any(s[keep] <= 0):
        raise ValueError("standard errors must be positive")
    return y[keep], s[keep], keep


# ----------------------------------------------------------------------------------------------------- the null


def _profile(y: np.ndarray, s2: np.ndarray, v: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mu(v), loglik(v), dloglik/dv)`` at ``tau^2 = v`` (one value or an array) with ``mu`` at its maximum.

    At a given ``v`` the maximum over ``mu`` is the mean weighted by ``1 / (v + se_i^2)``; by the envelope
    theorem the profile's derivative is the partial derivative there.
    """
    w = 1.0 / (np.atleast_1d(np.asarray(v, dtype=float))[:, None] + s2[None, :])
    mu = (w @ y) / w.sum(axis=1)
    r2 = (y[None, :] - mu[:, None]) ** 2
    loglik = -0.5 * np.sum(np.log(2.0 * np.pi / w) + w * r2, axis=1)
    score = 0.5 * np.sum(w * w * r2 - w, axis=1)
    return mu, loglik, score


def _loglik_at(y: np.ndarray, s2: np.ndarray, mu: float, v: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """``(loglik, dloglik/dv)`` at ``(mu, tau^2 = v)`` (``v`` one value or an array)."""
    w = 1.0 / (np.atleast_1d(np.asarray(v, dtype=float))[:, None] + s2[None, :])
    r2 = (y - mu)[None, :] ** 2
    return -0.5 * np.sum(np.log(2.0 * np.pi / w) + w * r2, axis=1), 0.5 * np.sum(w * w * r2 - w, axis=1)


def _maximise_over_v(
    objective: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    scale: float,
    allow_zero: bool,
    hint: float | None = None,
) -> tuple[float, float]:
    """Maximise a smooth function of ``v = tau^2 >= 0`` given as ``v -> (value, derivative)`` (vectorised).

    A grid over ``tau`` (0, then 400 points geometric from 1e-7 to ``scale``) finds the highest point; Brent's
    method solves ``derivative = 0`` between its neighbours, to machine precision.  Returns ``(v, value)``.
    With a ``hint`` (the maximum of a nearly identical function, as in leave-one-out fits) the derivative is
    first tried in ``[hint / 4, 4 hint]`` (at 0 for a hint of 0), the grid used only when that fails.
    """
    if hint is not None:
        if hint == 0.0 and allow_zero:
            if objective(np.array([0.0]))[1][0] <= 0:
                return 0.0, float(objective(np.array([0.0]))[0][0])
        elif hint > 0:
            d_low, d_high = objective(np.array([hint / 4.0, hint * 4.0]))[1]
            if d_low > 0 and d_high < 0:
                v = optimize.brentq(
                    lambda t: objective(t)[1][0], hint / 4.0, hint * 4.0, xtol=1e-300, rtol=4 * np.finfo(float).eps
                )
                return float(v), float(objective(v)[0][0])
    taus = np.geomspace(1e-7, scale, 400)
    grid = np.concatenate([[0.0], taus**2]) if allow_zero else taus**2
    values = objective(grid)[0]
    j = int(np.nanargmax(values))
    left, right = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    d_left, d_right = objective(np.array([left, right]))[1]
    if j == 0 and allow_zero and d_left <= 0:
        return 0.0, float(values[0])
    if d_left > 0 and d_right < 0:
        v = optimize.brentq(lambda t: objective(t)[1][0], left, right, xtol=1e-300, rtol=4 * np.finfo(float).eps)
        value = float(objective(v)[0][0])
        if value >= values[j]:
            return float(v), value
    return float(grid[j]), float(values[j])


@dataclass(frozen=True)
class EmpiricalNull(EstimationResults):
    """An empirical null distribution ``N(mu, tau^2)`` of the systematic error (:func:`fit_null`).

    ``params`` and ``bse`` name ``mu`` and ``tau``; ``cov_params()`` is the inverse observed information of
    ``(mu, tau)`` (at ``tau = 0`` only ``mu``'s variance, ``1 / sum(1 / se_i^2)``, is given, ``tau``'s row is
    missing: the maximum is on the boundary).  ``conf_int()`` is the Wald interval of the vocabulary; for
    ``tau`` prefer :meth:`profile_ci`.

    Attributes
    ----------
    params, bse : pandas.Series
        ``mu`` and ``tau`` and their standard errors.
    cov : pandas.DataFrame
    log_likelihood : float
        At the estimate; with a precision prior, the log-likelihood plus the log prior density (the
        package's ``-logLikelihoodNullMcmc``).
    n_controls, n_excluded : int
        Negative controls used, and removed (missing or infinite, or ``|log RR| > log(100)``).
    at_boundary : bool
        The maximum is at ``tau = 0`` (no systematic error beyond ``mu``).
    precision_prior : tuple of float or None
        The gamma(shape, rate) prior on ``1 / tau^2`` of a posterior mode, None for maximum likelihood.
    log_rr, se : numpy.ndarray
        The controls used (for :meth:`profile_ci`; empty for :func:`null_distribution`).
    """

    params: pd.Series
    bse: pd.Series
    cov: pd.DataFrame
    log_likelihood: float
    n_controls: int
    n_excluded: int
    at_boundary: bool
    precision_prior: tuple[float, float] | None = None
    log_rr: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    se: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def mu(self) -> float:
        """Mean of the systematic error at no effect (log scale)."""
        return float(self.params["mu"])

    @property
    def tau(self) -> float:
        """Standard deviation of the systematic error at no effect."""
        return float(self.params["tau"])

    @property
    def precision(self) -> float:
        """``1 / tau^2``, the package's parameter (infinite at ``tau = 0``)."""
        return math.inf if self.tau == 0 else 1.0 / self.tau**2

    @property
    def ease(self) -> float:
        """The expected absolute systematic error of this null (:func:`expected_absolute_systematic_error`)."""
        return expected_absolute_systematic_error(self)

    def profile_ci(self, alpha: float = 0.05) -> pd.DataFrame:
        """Profile-likelihood confidence intervals of ``mu`` and ``tau``.

        The limits where the profile log-likelihood falls ``chi2_1(1 - alpha) / 2`` below its maximum; the
        lower limit of ``tau`` is 0 when the profile at ``tau = 0`` is within that distance.  Maximum
        likelihood fits only.

        Returns
        -------
        pandas.DataFrame
            Index ``mu``, ``tau``; columns ``lower``, ``upper``.
        """
        if self.precision_prior is not None:
            raise ValueError("profile intervals are for the maximum-likelihood null (precision_prior=None)")
        if self.log_rr.size == 0:
            raise ValueError("this null was not fitted to controls: it has no profile likelihood")
        y, s2 = self.log_rr, self.se**2
        drop = 0.5 * float(stats.chi2.ppf(1 - alpha, 1))
        target = self.log_likelihood - drop
        scale = _tau_scale(y, self.se)

        def profile_mu(mu: float) -> float:
            return _maximise_over_v(lambda v: _loglik_at(y, s2, mu, v), scale, allow_zero=True)[1] - target

        step = max(float(np.sqrt(1.0 / np.sum(1.0 / (self.tau**2 + s2)))), 1e-8)
        limits = []
        for sign in (-1.0, 1.0):
            k = 1.0
            while profile_mu(self.mu + sign * k * step) > 0:
                k *= 2.0
            a, b = sorted((self.mu + sign * k * step / 2 if k > 1 else self.mu, self.mu + sign * k * step))
            limits.append(optimize.brentq(profile_mu, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps))
        v_hat = self.tau**2

        def profile_v(v: float) -> float:
            return float(_profile(y, s2, v)[1][0]) - target

        lower_v = 0.0 if profile_v(0.0) >= 0 else optimize.brentq(profile_v, 0.0, v_hat, xtol=1e-300)
        high = max(v_hat, 1e-4) * 2.0
        while profile_v(high) > 0:
            high *= 2.0
        upper_v = optimize.brentq(profile_v, v_hat, high, xtol=1e-300, rtol=4 * np.finfo(float).eps)
        return pd.DataFrame(
            {"lower": [limits[0], math.sqrt(lower_v)], "upper": [limits[1], math.sqrt(upper_v)]},
            index=pd.Index(["mu", "tau"]),
        )

    def _describe(self) -> str:
        kind = "maximum likelihood" if self.precision_prior is None else f"posterior mode, prior {self.precision_prior}"
        return (
            f"Empirical null ({kind}): {self.n_controls} negative controls ({self.n_excluded} excluded), "
            f"mu {self.mu:.4f}, tau {self.tau:.4f}{' (boundary)' if self.at_boundary else ''}, EASE {self.ease:.4f}"
        )


def _tau_scale(y: np.ndarray, se: np.ndarray) -> float:
    """An upper end of the search for ``tau``: well beyond any spread of the estimates."""
    return 10.0 * (float(np.ptp(y)) + float(np.max(se))) + 1.0


def fit_null(
    log_rr: ArrayLike,
    se: ArrayLike,
    *,
    precision_prior: tuple[float, float] | None = None,
) -> EmpiricalNull:
    """Fit the empirical null distribution of the systematic error to negative controls.

    The estimand: the distribution ``N(mu, tau^2)`` of the systematic error of an estimate of a true null
    effect, from negative controls (exposure-outcome pairs believed to have no causal effect), under
    ``log_rr_i ~ N(mu, tau^2 + se_i^2)`` independently.  Assumes the controls' systematic errors are
    exchangeable with the study estimates' (see the module docstring).

    Parameters
    ----------
    log_rr, se : array-like
        The negative controls' log relative risks (odds or hazard ratios) and standard errors.  Estimates
        with a missing or infinite value or with ``|log_rr| > log(100)`` are removed, as the package does.
    precision_prior : (shape, rate), optional
        Maximise the posterior density with a gamma(shape, rate) prior on the precision ``1 / tau^2``
        instead (``MCMC_PRECISION_PRIOR`` gives the mode that starts the package's ``fitMcmcNull`` chain).

    Returns
    -------
    EmpiricalNull

    Raises
    ------
    ValueError
        When no control is left, or a standard error is not positive.

    Notes
    -----
    ``mu`` has a closed form at a given ``tau^2 = v`` (the mean weighted by ``1 / (v + se_i^2)``); the
    profile likelihood in ``v`` is maximised on a grid, then exactly by Brent's method on its derivative.
    The maximum is at ``tau = 0`` when the estimates vary no more than their standard errors allow
    (``sum_i (r_i^2 / se_i^4 - 1 / se_i^2) <= 0`` at the weighted mean): no systematic error beyond ``mu``.
    """
    return _fit_null(log_rr, se, precision_prior)


def _fit_null(
    log_rr: ArrayLike, se: ArrayLike, precision_prior: tuple[float, float] | None, tau_hint: float | None = None
) -> EmpiricalNull:
    """:func:`fit_null`, with the ``tau`` of a nearly identical fit to start from (leave-one-out)."""
    raw = _as_array(log_rr, "log_rr")
    y, s, _ = _usable_controls(log_rr, se, exclude_extreme=True)
    if y.size == 0:
        raise ValueError("no usable negative control estimates")
    s2 = s**2
    if precision_prior is None:

        def objective(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            _, value, score = _profile(y, s2, v)
            return value, score

        hint = None if tau_hint is None else tau_hint**2
        v, _ = _maximise_over_v(objective, _tau_scale(y, s), allow_zero=True, hint=hint)
    else:
        shape, rate = precision_prior

        def objective(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            _, value, score = _profile(y, s2, v)
            v = np.atleast_1d(v)
            return value - (shape - 1.0) * np.log(v) - rate / v, score - (shape - 1.0) / v + rate / v**2

        v, _ = _maximise_over_v(objective, _tau_scale(y, s), allow_zero=False)
    mu_v, loglik_v, _ = _profile(y, s2, v)
    mu, loglik = float(mu_v[0]), float(loglik_v[0])
    tau = math.sqrt(v)
    if precision_prior is not None:  # + the log prior density of the precision 1 / v
        loglik += float(stats.gamma.logpdf(1.0 / v, precision_prior[0], scale=1.0 / precision_prior[1]))
    cov = _null_covariance(y, s2, mu, tau, at_boundary=(v == 0.0))
    names = pd.Index(["mu", "tau"])
    return EmpiricalNull(
        params=pd.Series([mu, tau], index=names),
        bse=pd.Series(np.sqrt(np.diag(cov)), index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        log_likelihood=float(loglik),
        n_controls=int(y.size),
        n_excluded=int(raw.size - y.size),
        at_boundary=bool(v == 0.0),
        precision_prior=None if precision_prior is None else (float(precision_prior[0]), float(precision_prior[1])),
        log_rr=y,
        se=s,
    )


def _null_covariance(y: np.ndarray, s2: np.ndarray, mu: float, tau: float, at_boundary: bool) -> np.ndarray:
    """Inverse observed information of ``(mu, tau)`` (likelihood only; ``tau``'s row missing at the boundary)."""
    V = tau**2 + s2
    r = y - mu
    h_mm = -np.sum(1.0 / V)
    if at_boundary:
        return np.array([[-1.0 / h_mm, np.nan], [np.nan, np.nan]])
    h_mt = -np.sum(2.0 * tau * r / V**2)
    h_tt = np.sum(r**2 / V**2 - 1.0 / V) + 2.0 * tau**2 * np.sum(1.0 / V**2 - 2.0 * r**2 / V**3)
    return np.linalg.inv(-np.array([[h_mm, h_mt], [h_mt, h_tt]]))


def null_distribution(mu: float, tau: float) -> EmpiricalNull:
    """A null ``N(mu, tau^2)`` given by its parameters (no fit, no covariance): for calibrating at known values."""
    names = pd.Index(["mu", "tau"])
    nan2 = np.full((2, 2), np.nan)
    return EmpiricalNull(
        params=pd.Series([float(mu), float(tau)], index=names),
        bse=pd.Series([np.nan, np.nan], index=names),
        cov=pd.DataFrame(nan2, index=names, columns=names),
        log_likelihood=math.nan,
        n_controls=0,
        n_excluded=0,
        at_boundary=bool(tau == 0),
    )


# ------------------------------------------------------------------------------------------------- p-values


def traditional_p(log_rr: ArrayLike | float, se: ArrayLike | float) -> np.ndarray:
    """Two-sided Wald p-values ``2 Phi(-|log_rr / se|)`` (the package's ``computeTraditionalP``)."""
    y, s = _as_array(log_rr, "log_rr"), _as_array(se, "se")
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * stats.norm.sf(np.abs(y / s))


def _null_z(null: EmpiricalNull, log_rr: ArrayLike | float, se: ArrayLike | float) -> tuple[np.ndarray, np.ndarray]:
    y, s = _as_array(log_rr, "log_rr"), _as_array(se, "se")
    if y.shape != s.shape:
        raise ValueError(f"log_rr and se differ in length ({y.size} and {s.size})")
    finite = np.isfinite(y) & np.isfinite(s)
    with np.errstate(invalid="ignore"):
        z = np.where(finite, (y - null.mu) / np.sqrt(null.tau**2 + s**2), np.nan)
    return z, finite


def calibrate_p(
    null: EmpiricalNull,
    log_rr: ArrayLike | float,
    se: ArrayLike | float,
    *,
    two_sided: bool = True,
    upper: bool = True,
) -> np.ndarray:
    """Calibrated p-values of estimates against an empirical null (the package's ``calibrateP``).

    The estimand: the probability that an estimate of a true null effect, with the study's standard error
    and a systematic error drawn from the null, lies at least as far from ``mu`` as ``log_rr`` (two-sided:
    ``2 Phi(-|log_rr - mu| / sqrt(tau^2 + se^2))``).  Assumes the study estimate's systematic error is
    exchangeable with the negative controls' (see the module docstring).

    Parameters
    ----------
    null : EmpiricalNull
        From :func:`fit_null` (or :func:`null_distribution`).
    log_rr, se : array-like or float
        The estimates to calibrate.
    two_sided : bool
        Two-sided (default) or one-sided p-values.
    upper : bool
        One-sided: against larger estimates (``Phi((mu - log_rr) / D)``, the default) or smaller ones.

    Returns
    -------
    numpy.ndarray
        One p-value per estimate (missing where the estimate or SE is missing or infinite).
    """
    z, _ = _null_z(null, log_rr, se)
    if two_sided:
        return 2.0 * stats.norm.sf(np.abs(z))
    return stats.norm.sf(z) if upper else stats.norm.cdf(z)


def calibrate_p_interval(
    null: EmpiricalNull, log_rr: ArrayLike | float, se: ArrayLike | float, alpha: float = 0.05
) -> pd.DataFrame:
    """Calibrated two-sided p-values with an interval for the null's estimation uncertainty.

    The analytical counterpart of the package's MCMC (``calibrateP`` of a ``fitMcmcNull`` null, which gives
    the median and 2.5% and 97.5% quantiles of the p-value over the posterior of the null): the calibrated
    statistic ``z = (log_rr - mu) / sqrt(tau^2 + se^2)`` gets a delta-method standard error from the
    covariance of ``(mu, tau)``; the p-values at the ends of ``z -/+ z_{1-alpha/2} SE(z)`` bound the p-value
    (the upper end is 1 when that interval contains 0).  Assumes ``(mu, tau)`` approximately normal, which
    fails near ``tau = 0``: at the boundary only the uncertainty of ``mu`` is counted.

    Parameters
    ----------
    null : EmpiricalNull
        A maximum-likelihood null from :func:`fit_null` (its covariance is used).
    log_rr, se : array-like or float
    alpha : float

    Returns
    -------
    pandas.DataFrame
        Columns ``p`` (at the estimate of the null, :func:`calibrate_p`), ``p_lower``, ``p_upper``, ``z``,
        ``z_se``.
    """
    z, finite = _null_z(null, log_rr, se)
    s = _as_array(se, "se")
    d = np.sqrt(null.tau**2 + s**2)
    grad_mu = -1.0 / d
    grad_tau = -z * null.tau / d**2
    cov = null.cov.to_numpy()
    var = grad_mu**2 * cov[0, 0]
    if not null.at_boundary:
        var = var + 2.0 * grad_mu * grad_tau * cov[0, 1] + grad_tau**2 * cov[1, 1]
    z_se = np.where(finite, np.sqrt(var), np.nan)
    q = z_quantile(alpha)
    lo, hi = z - q * z_se, z + q * z_se
    far = np.maximum(np.abs(lo), np.abs(hi))
    near = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    return pd.DataFrame(
        {
            "p": 2.0 * stats.norm.sf(np.abs(z)),
            "p_lower": 2.0 * stats.norm.sf(far),
            "p_upper": 2.0 * stats.norm.sf(near),
            "z": z,
            "z_se": z_se,
        }
    )


def expected_absolute_systematic_error(null: EmpiricalNull | tuple[float, float]) -> float:
    """The expected absolute systematic error (EASE) of a null: ``E|e|``, ``e ~ N(mu, tau^2)``.

    The mean of the folded normal, ``mu (1 - 2 Phi(-mu / tau)) + 2 tau phi(mu / tau)`` (``|mu|`` at
    ``tau = 0``), as the package's ``computeExpectedAbsoluteSystematicError``: one number that grows with
    both the mean and the spread of the systematic error.  OHDSI passes a study at EASE <= 0.25
    (:data:`EASE_THRESHOLD`).

    Parameters
    ----------
    null : EmpiricalNull or (mu, tau)

    Returns
    -------
    float
    """
    mu, tau = (null.mu, null.tau) if isinstance(null, EmpiricalNull) else (float(null[0]), float(null[1]))
    if tau == 0:
        return abs(mu)
    return float(mu * (1.0 - 2.0 * stats.norm.cdf(-mu / tau)) + 2.0 * tau * stats.norm.pdf(mu / tau))


def leave_one_out_p(log_rr: ArrayLike, se: ArrayLike) -> np.ndarray:
    """Calibrated p-value of each negative control against the null fitted to the others.

    As the package's ``plotCalibration``: estimates with a missing or infinite value get a missing p-value
    and are left out of every fit; each other control is calibrated against :func:`fit_null` of the rest
    (which, like the package, also leaves out estimates with ``|log RR| > log(100)``).  On controls that
    follow one null, about ``alpha`` of them should have ``p < alpha``
    (:func:`leave_one_out_false_positive_rate`).

    Parameters
    ----------
    log_rr, se : array-like

    Returns
    -------
    numpy.ndarray
        One p-value per control, in the order given.
    """
    y, s = _as_array(log_rr, "log_rr"), _as_array(se, "se")
    finite = np.flatnonzero(np.isfinite(y) & np.isfinite(s))
    out = np.full(y.size, np.nan)
    hint = fit_null(y[finite], s[finite]).tau  # each fit without one control starts near the fit of all
    for i in finite:
        others = finite[finite != i]
        null = _fit_null(y[others], s[others], None, tau_hint=hint)
        out[i] = calibrate_p(null, y[i], s[i])[0]
    return out


def leave_one_out_false_positive_rate(log_rr: ArrayLike, se: ArrayLike, alpha: float = 0.05) -> float:
    """Fraction of negative controls with leave-one-out calibrated ``p < alpha`` (:func:`leave_one_out_p`).

    Should be close to ``alpha`` when the controls share one null and the normal model holds.
    """
    p = leave_one_out_p(log_rr, se)
    p = p[np.isfinite(p)]
    return float(np.mean(p < alpha))


# ------------------------------------------------------------------------------------- systematic error model

_MEAN_NAMES = ("mean_intercept", "mean_slope")
_SD_NAMES: dict[str, tuple[str, str]] = {
    "linear": ("sd_intercept", "sd_slope"),
    "log_linear": ("log_sd_intercept", "log_sd_slope"),
}
#: The package's starting values of the SD parameters.
_SD_START = {"linear": (0.1, 0.0), "log_linear": (-2.0, 0.0)}


def _sd_terms(c: float, d: float, x: np.ndarray, form: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The SD at true log effects ``x`` and its first and second derivatives in ``(c, d)``.

    Returns ``sd``, ``dsd`` (shape (2, n)), ``d2sd`` (shape (2, 2, n)), and the covariate of the SD slope.
    """
    if form == "linear":
        u = np.abs(x)
        sd = c + d * u
        dsd = np.vstack([np.ones_like(u), u])
        d2sd = np.zeros((2, 2, u.size))
        return sd, dsd, d2sd, u
    sd = np.exp(c + d * x)
    dsd = np.vstack([sd, sd * x])
    d2sd = np.array([[sd, sd * x], [sd * x, sd * x * x]])
    return sd, dsd, d2sd, x


def _error_model_nll(
    theta: np.ndarray, y: np.ndarray, s2: np.ndarray, x: np.ndarray, form: str
) -> tuple[float, np.ndarray, np.ndarray]:
    """Negative log-likelihood of the systematic error model, its gradient and Hessian in ``(a, b, c, d)``."""
    a, b, c, d = theta
    sd, dsd, d2sd, _ = _sd_terms(c, d, x, form)
    V = sd**2 + s2
    r = y - a - b * x
    nll = 0.5 * float(np.sum(np.log(2.0 * np.pi * V) + r**2 / V))
    dr = -np.vstack([np.ones_like(x), x])  # dr / d(a, b)
    dV = 2.0 * sd * dsd  # dV / d(c, d)
    d2V = 2.0 * (dsd[:, None, :] * dsd[None, :, :] + sd * d2sd)
    n_v = 0.5 * (1.0 / V - r**2 / V**2)  # dnll / dV
    n_vv = 0.5 * (-1.0 / V**2 + 2.0 * r**2 / V**3)
    grad = np.concatenate([dr @ (r / V), dV @ n_v])
    hess = np.empty((4, 4))
    hess[:2, :2] = (dr / V) @ dr.T
    hess[:2, 2:] = (dr * (-r / V**2)) @ dV.T
    hess[2:, :2] = hess[:2, 2:].T
    hess[2:, 2:] = (dV * n_vv) @ dV.T + np.einsum("ijn,n->ij", d2V, n_v)
    return nll, grad, hess


def _weighted_mean_line(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least squares of ``y`` on ``(1, x)``."""
    X = np.column_stack([np.ones_like(x), x])
    a, b = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    return float(a), float(b)


@dataclass(frozen=True)
class SystematicErrorModel(EstimationResults):
    """A systematic error model (:func:`fit_systematic_error_model`, :func:`null_to_error_model`).

    The estimate of a control with true log effect ``x`` has mean ``mean_intercept + mean_slope * x`` and
    systematic-error SD ``sd_intercept + sd_slope * |x|`` (``sd_form="linear"``) or
    ``exp(log_sd_intercept + log_sd_slope * x)`` (``"log_linear"``).

    Attributes
    ----------
    params, bse : pandas.Series
        The four coefficients and their standard errors (inverse observed information; missing for a model
        made from a null).
    cov : pandas.DataFrame
    sd_form : {"linear", "log_linear"}
    log_likelihood : float
    n_controls : int
    at_boundary : bool
        A linear SD is 0 at some control's true effect (the constraint ``sd >= 0`` is active).
    """

    params: pd.Series
    bse: pd.Series
    cov: pd.DataFrame
    sd_form: SdForm
    log_likelihood: float
    n_controls: int
    at_boundary: bool = False

    def mean(self, true_log_rr: ArrayLike | float) -> np.ndarray:
        """Expected estimate at a true log effect."""
        a, b = self.params.iloc[0], self.params.iloc[1]
        return a + b * _as_array(true_log_rr, "true_log_rr")

    def sd(self, true_log_rr: ArrayLike | float) -> np.ndarray:
        """Standard deviation of the systematic error at a true log effect."""
        c, d = self.params.iloc[2], self.params.iloc[3]
        return _sd_terms(float(c), float(d), _as_array(true_log_rr, "true_log_rr"), self.sd_form)[0]

    def _describe(self) -> str:
        return (
            f"Systematic error model ({self.sd_form} SD): {self.n_controls} controls, "
            f"log-likelihood {self.log_likelihood:.4f}"
        )


def fit_systematic_error_model(
    log_rr: ArrayLike, se: ArrayLike, true_log_rr: ArrayLike, *, sd_form: SdForm = "linear"
) -> SystematicErrorModel:
    """Fit the systematic error model to negative and positive controls (the package's ``fitSystematicErrorModel``).

    The estimand: how the distribution of the systematic error changes with the true effect size.  An
    estimate of true log effect ``x`` is ``N(a + b x, sd(x)^2 + se^2)``, with ``sd(x) = c + d |x|``
    (``sd_form="linear"``, the package's default since version 2; ``sd >= 0`` at every control) or
    ``exp(c + d x)`` (``"log_linear"``: the 2018 paper's "mean and log SD linear in the true effect", the
    package's ``legacy = TRUE``).  Negative controls fix the error at ``x = 0``; positive controls (true
    effects known, often synthesised by injecting outcomes) fix its slope.  Assumes the controls' systematic
    errors are exchangeable with the study estimates' (see the module docstring).

    Parameters
    ----------
    log_rr, se, true_log_rr : array-like
        The controls' estimates, standard errors and true log effects (0 for negative controls).  Estimates
        with a missing or infinite value are removed (no ``log(100)`` limit here, as in the package).
    sd_form : {"linear", "log_linear"}

    Returns
    -------
    SystematicErrorModel

    Notes
    -----
    For given SD parameters the mean line is weighted least squares; the profile likelihood of the SD
    parameters is maximised by Nelder-Mead from the package's start (0.1, 0) or (-2, 0), then all four
    parameters by Newton steps with the analytical Hessian, whose inverse is the covariance.
    """
    if sd_form not in _SD_NAMES:
        raise ValueError(f"sd_form must be 'linear' or 'log_linear', not {sd_form!r}")
    y, s, keep = _usable_controls(log_rr, se, exclude_extreme=False)
    x_all = _as_array(true_log_rr, "true_log_rr")
    if x_all.shape != keep.shape:
        raise ValueError("true_log_rr differs in length from log_rr")
    x = x_all[keep]
    if not np.all(np.isfinite(x)):
        raise ValueError("true_log_rr must be finite")
    if y.size < 4 or np.ptp(x) == 0:
        raise ValueError("the systematic error model needs at least 4 controls at two or more true effects")
    s2 = s**2

    def feasible(c: float, d: float) -> bool:
        return sd_form != "linear" or bool(np.all(c + d * np.abs(x) >= 0))

    u = np.abs(x)
    ones = np.ones_like(x)

    def profile(cd: np.ndarray) -> float:
        c, d = cd
        if not feasible(c, d):
            return math.inf
        sd = c + d * u if sd_form == "linear" else np.exp(c + d * x)
        V = sd * sd + s2
        w = 1.0 / V
        sw, swx, swxx, swy, swxy = w.sum(), w @ x, w @ (x * x), w @ y, w @ (x * y)
        det = sw * swxx - swx * swx
        a, b = (swxx * swy - swx * swxy) / det, (sw * swxy - swx * swy) / det
        r = y - a * ones - b * x
        return 0.5 * float(np.sum(np.log(2.0 * np.pi * V) + r * r * w))

    # Nelder-Mead on the profile of the two SD parameters, restarted from its optimum a few times (a start far
    # from the optimum can stall); the Newton steps below finish the job.
    start = np.array(_SD_START[sd_form])
    best = None
    for _ in range(5):
        fit = optimize.minimize(
            profile, start, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 5000}
        )
        if best is not None and not fit.fun < best.fun - 1e-10:
            break
        best, start = fit, fit.x
    c, d = best.x
    sd = _sd_terms(c, d, x, sd_form)[0]
    theta = np.array([*_weighted_mean_line(y, x, 1.0 / (sd**2 + s2)), c, d])
    value, grad, hess = _error_model_nll(theta, y, s2, x, sd_form)
    for _ in range(50):
        # Newton on all four, halving steps that leave the feasible set or improve neither the objective nor the
        # gradient (at the optimum the objective's differences are rounding, the gradient's are not).
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-10:
            trial = theta - t * step
            if feasible(trial[2], trial[3]):
                trial_value, trial_grad, trial_hess = _error_model_nll(trial, y, s2, x, sd_form)
                if trial_value < value or (
                    trial_value <= value + 1e-12 * abs(value) and np.linalg.norm(trial_grad) < np.linalg.norm(grad)
                ):
                    break
            t /= 2.0
        else:
            break
        converged = np.max(np.abs(trial - theta)) <= 1e-14 * (1.0 + np.max(np.abs(theta)))
        theta, value, grad, hess = trial, trial_value, trial_grad, trial_hess
        if converged:
            break
    at_boundary = sd_form == "linear" and bool(np.min(theta[2] + theta[3] * np.abs(x)) <= 1e-10)
    names = pd.Index([*_MEAN_NAMES, *_SD_NAMES[sd_form]])
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        cov = np.full((4, 4), np.nan)
    if at_boundary:
        cov = np.full((4, 4), np.nan)
    with np.errstate(invalid="ignore"):
        bse = np.sqrt(np.diag(cov))
    return SystematicErrorModel(
        params=pd.Series(theta, index=names),
        bse=pd.Series(bse, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        sd_form=sd_form,
        log_likelihood=-float(value),
        n_controls=int(y.size),
        at_boundary=at_boundary,
    )


def null_to_error_model(null: EmpiricalNull, mean_slope: float = 1.0, sd_slope: float = 0.0) -> SystematicErrorModel:
    """A systematic error model from a null alone (the package's ``convertNullToErrorModel``).

    Mean ``mu + mean_slope * x`` and SD ``tau + sd_slope * |x|``: with the defaults, the error is assumed the
    same at every true effect (an estimator biased towards the null breaks that and undercovers).
    """
    names = pd.Index([*_MEAN_NAMES, *_SD_NAMES["linear"]])
    nan = np.full((4, 4), np.nan)
    return SystematicErrorModel(
        params=pd.Series([null.mu, float(mean_slope), null.tau, float(sd_slope)], index=names),
        bse=pd.Series(np.full(4, np.nan), index=names),
        cov=pd.DataFrame(nan, index=names, columns=names),
        sd_form="linear",
        log_likelihood=math.nan,
        n_controls=null.n_controls,
    )


def error_model_or_null(
    null: EmpiricalNull,
    log_rr: ArrayLike,
    se: ArrayLike,
    true_log_rr: ArrayLike,
    sd_form: str = "linear",
) -> tuple[SystematicErrorModel, str, str]:
    """The systematic error model of the controls, or the null's when it cannot be fitted.

    :func:`fit_systematic_error_model` of the negative and positive controls; when it needs controls at more true
    effects than there are (a real extract without positive controls, or a term where they are true nulls),
    :func:`null_to_error_model` of ``null`` (the same error at every true effect).

    Returns
    -------
    (SystematicErrorModel, str, str)
        The model, its source (``negative_and_positive_controls`` or ``negative_controls_only``) and why the null
        was used ("" otherwise).
    """
    try:
        model = fit_systematic_error_model(log_rr, se, true_log_rr, sd_form=sd_form)
    except ValueError as exc:
        return null_to_error_model(null), "negative_controls_only", f"error model from the null alone: {exc}"
    return model, "negative_and_positive_controls", ""


def _ci_root(model: SystematicErrorModel, y: float, s: float, z: float) -> float:
    """The true log effect ``x`` where ``z + (mean(x) - y) / sqrt(sd(x)^2 + s^2) = 0``, in the package's brackets."""
    a, b, c, d = (float(v) for v in model.params)
    log_linear = model.sd_form == "log_linear"

    def f(x: float) -> float:
        sd = math.exp(c + d * x) if log_linear else c + d * abs(x)
        denominator = math.sqrt(sd * sd + s * s)
        if math.isinf(denominator):
            return z + 1e-10 if (a + b * x - y) > 0 else z - 1e-10
        return z + (a + b * x - y) / denominator

    limit = CI_SEARCH_LIMIT
    if log_linear:
        # The package steps by 1 from one end to the first sign change (an SD growing exponentially can turn
        # the function back at the far end), then finds the root in that bracket.
        if d > 0:
            k = -limit
            while f(k) < 0 and k < limit:
                k += 1.0
            if k == -limit or k == limit:
                return math.nan
            lo, hi = k - 1.0, k
        else:
            k = limit
            while f(k) > 0 and k > -limit:
                k -= 1.0
            if k == limit or k == -limit:
                return math.nan
            lo, hi = k, k + 1.0
    else:
        lo, hi = -limit, limit
        if (f(lo) < 0 and f(hi) < 0) or (f(lo) > 0 and f(hi) > 0):
            return math.nan
    return float(optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=1000))


def calibrate_ci(
    model: SystematicErrorModel,
    log_rr: ArrayLike | float,
    se: ArrayLike | float,
    alpha: float = 0.05,
    exp: bool = False,
) -> pd.DataFrame:
    """Calibrated estimates and confidence intervals (the package's ``calibrateConfidenceInterval``).

    The estimand: the true log effect consistent with the observed estimate once the systematic error is
    modelled.  The calibrated interval holds the true log effects ``x`` at which the estimate is not
    rejected: ``|log_rr - mean(x)| / sqrt(sd(x)^2 + se^2) <= z_{1-alpha/2}``; the calibrated estimate
    solves ``mean(x) = log_rr``; the calibrated SE is the interval's width over ``2 z_{1-alpha/2}``.
    Assumes the study estimate's systematic error is exchangeable with the controls' (module docstring).

    Parameters
    ----------
    model : SystematicErrorModel
    log_rr, se : array-like or float
    alpha : float
        1 - confidence level.
    exp : bool
        Add ``ratio``, ``ratio_lower``, ``ratio_upper`` (the exponentiated estimate and limits).

    Returns
    -------
    pandas.DataFrame
        Columns ``estimate``, ``se``, ``ci_lower``, ``ci_upper`` (log scale; missing where the estimate
        or SE is missing or infinite, or no root lies in ``[-100, 100]``, as in the package).
    """
    y, s = _as_array(log_rr, "log_rr"), _as_array(se, "se")
    if y.shape != s.shape:
        raise ValueError(f"log_rr and se differ in length ({y.size} and {s.size})")
    q = z_quantile(alpha)
    rows = []
    for yi, si in zip(y, s, strict=True):
        if not (math.isfinite(yi) and math.isfinite(si)):
            rows.append((math.nan, math.nan, math.nan))
            continue
        rows.append((_ci_root(model, yi, si, 0.0), _ci_root(model, yi, si, q), _ci_root(model, yi, si, -q)))
    estimate, lower, upper = (np.array(v, dtype=float) for v in zip(*rows, strict=True)) if rows else ([], [], [])
    out = pd.DataFrame(
        {
            "estimate": estimate,
            "se": (np.asarray(upper) - np.asarray(lower)) / (2.0 * q),
            "ci_lower": lower,
            "ci_upper": upper,
        }
    )
    if exp:
        out["ratio"] = np.exp(out["estimate"])
        out["ratio_lower"] = np.exp(out["ci_lower"])
        out["ratio_upper"] = np.exp(out["ci_upper"])
    return out
